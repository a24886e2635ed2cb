//! `ClientStore` on the embedded store: service clients.

use super::*;

#[async_trait]
impl ClientStore for EmbeddedStore {
    async fn create_client(&self, client: &ServiceClient) -> Result<(), StoreError> {
        let (pk, item) = (records::client_pk(client.id), ClientItem::new(client));
        self.write(move |table| {
            if exists(table, &pk, records::CLIENT)? {
                return Err(StoreError::Backend("client id already exists".into()));
            }
            put(table, &pk, records::CLIENT, &item)
        })
        .await
    }

    async fn get_client(&self, id: ClientId) -> Result<Option<ServiceClient>, StoreError> {
        let item: Option<ClientItem> = self.read(&records::client_pk(id), records::CLIENT)?;
        item.map(ClientItem::into_client).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<ServiceClient>, StoreError> {
        self.blocking(|db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let mut clients = Vec::new();
            for entry in table
                .range((records::CLIENT_PREFIX, "")..)
                .map_err(backend)?
            {
                let (key, value) = entry.map_err(backend)?;
                let (pk, sk) = key.value();
                if !pk.starts_with(records::CLIENT_PREFIX) {
                    break;
                }
                if sk == records::CLIENT {
                    let item: ClientItem = serde_json::from_slice(value.value())
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                    clients.push(item.into_client()?);
                }
            }
            Ok(clients)
        })
        .await
    }

    async fn replace_client_secret(
        &self,
        id: ClientId,
        secret_hash: &SecretHash,
    ) -> Result<bool, StoreError> {
        let (pk, hash) = (records::client_pk(id), secret_hash.as_str().to_owned());
        self.write(move |table| {
            let Some(mut item) = get::<ClientItem>(table, &pk, records::CLIENT)? else {
                return Ok(false);
            };
            item.secret_hash = hash;
            put(table, &pk, records::CLIENT, &item)?;
            Ok(true)
        })
        .await
    }

    async fn delete_client(&self, id: ClientId) -> Result<bool, StoreError> {
        let pk = records::client_pk(id);
        self.write(move |table| {
            Ok(table
                .remove((pk.as_str(), records::CLIENT))
                .map_err(backend)?
                .is_some())
        })
        .await
    }
}
