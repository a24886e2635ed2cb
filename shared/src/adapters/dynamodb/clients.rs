//! `ClientStore` on DynamoDB: service clients.

use super::*;

#[async_trait]
impl ClientStore for DynamoStore {
    async fn create_client(&self, client: &ServiceClient) -> Result<(), StoreError> {
        let item = Self::item(
            records::client_pk(client.id),
            records::CLIENT,
            &ClientItem::new(client),
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get_client(&self, id: ClientId) -> Result<Option<ServiceClient>, StoreError> {
        match self
            .get::<ClientItem>(records::client_pk(id), records::CLIENT)
            .await?
        {
            Some(item) => item.into_client().map(Some),
            None => Ok(None),
        }
    }

    async fn list_clients(&self) -> Result<Vec<ServiceClient>, StoreError> {
        // An operator command over a handful of items: a filtered scan is
        // simpler than an index that every write would pay for.
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :client AND begins_with(pk, :prefix)")
            .expression_attribute_values(":client", AttributeValue::S(records::CLIENT.to_owned()))
            .expression_attribute_values(
                ":prefix",
                AttributeValue::S(records::CLIENT_PREFIX.to_owned()),
            )
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(classify)?;
        items
            .into_iter()
            .map(|item| {
                from_item::<ClientItem>(item)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?
                    .into_client()
            })
            .collect()
    }

    async fn replace_client_secret(
        &self,
        id: ClientId,
        secret_hash: &SecretHash,
    ) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::client_pk(id), records::CLIENT)))
            .update_expression("SET secret_hash = :hash")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":hash",
                AttributeValue::S(secret_hash.as_str().to_owned()),
            )
            .send()
            .await;
        applied(updated)
    }

    async fn delete_client(&self, id: ClientId) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::client_pk(id), records::CLIENT)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?;
        Ok(deleted
            .attributes
            .is_some_and(|attributes| !attributes.is_empty()))
    }
}
