//! `EventStore` on DynamoDB: the security log under each account.

use super::*;

impl DynamoStore {
    /// The write of a log entry, for a transaction.
    pub(super) fn put_event(
        &self,
        event: &crate::domain::SecurityEvent,
    ) -> Result<TransactWriteItem, StoreError> {
        self.put_new(Self::item(
            records::user_pk(event.user_id),
            &records::event_sk(event.id),
            &EventItem::new(event, self.audit_retention),
        )?)
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn append_event(&self, event: &crate::domain::SecurityEvent) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(event.user_id),
                &records::event_sk(event.id),
                &EventItem::new(event, self.audit_retention),
            )?))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn events(
        &self,
        user_id: UserId,
        before: Option<crate::domain::EventId>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<EventPage, StoreError> {
        // Newest first, below the cursor; expired entries DynamoDB has not
        // removed yet are skipped, so a page may come out short.
        let upper = match before {
            Some(id) => records::event_sk(id),
            None => format!("{}~", records::EVENT_PREFIX),
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lower AND :upper")
            .expression_attribute_values(":pk", AttributeValue::S(records::user_pk(user_id)))
            .expression_attribute_values(
                ":lower",
                AttributeValue::S(records::EVENT_PREFIX.to_owned()),
            )
            .expression_attribute_values(":upper", AttributeValue::S(upper.clone()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 2).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let rows = output
            .items()
            .iter()
            .map(|item| from_item::<EventItem>(item.clone()).map_err(boxed))
            .collect::<Result<Vec<_>, _>>()?;
        // BETWEEN includes the cursor's own entry.
        let rows = rows.into_iter().filter(|row| before != Some(row.event_id));
        records::event_page(rows, user_id, limit, now)
    }
}
