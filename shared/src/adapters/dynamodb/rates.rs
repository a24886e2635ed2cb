//! `RateStore` on DynamoDB: fixed-window counters and failure streaks.

use super::*;

#[async_trait]
impl RateStore for DynamoStore {
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::rate_pk(key), records::RATE)))
            .update_expression(
                "ADD #count :one SET expires_at = if_not_exists(expires_at, :expires)",
            )
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":expires", number(expires_at.unix_timestamp()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let counter: CounterItem = from_item(output.attributes.unwrap_or_default())
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(counter.count)
    }

    async fn decrement_counter(&self, key: &str) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::rate_pk(key), records::RATE)))
            .update_expression("ADD #count :minus_one")
            .condition_expression("attribute_exists(pk) AND #count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus_one", number(-1))
            .expression_attribute_values(":zero", number(0))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }

    async fn replace_failure_streak(
        &self,
        key: &str,
        expected: Option<&FailureStreak>,
        next: &FailureStreak,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = Self::item(
            records::streak_pk(key),
            records::STREAK,
            &StreakItem::new(next, expires_at),
        )?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(expected) => {
                let expected = StreakItem::new(expected, expires_at);
                put.condition_expression("failures = :failures AND last_failure_ms = :at")
                    .expression_attribute_values(
                        ":failures",
                        number(i64::try_from(expected.failures).unwrap_or(i64::MAX)),
                    )
                    .expression_attribute_values(":at", number(expected.last_failure_ms))
            }
        };
        applied(put.send().await)
    }

    async fn failure_streak(&self, key: &str) -> Result<Option<FailureStreak>, StoreError> {
        let item: Option<StreakItem> = self.get(records::streak_pk(key), records::STREAK).await?;
        item.map(|item| item.streak()).transpose()
    }

    async fn end_failure_streak(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::streak_pk(key), records::STREAK)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
