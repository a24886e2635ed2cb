//! `RateStore` on the embedded store: fixed-window counters and failure streaks.

use super::*;

#[async_trait]
impl RateStore for EmbeddedStore {
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let pk = records::rate_pk(key);
        self.write(move |table| {
            let item = match get::<CounterItem>(table, &pk, records::RATE)? {
                Some(counter) => CounterItem {
                    count: counter.count + 1,
                    ..counter
                },
                None => CounterItem {
                    count: 1,
                    expires_at: expires_at.unix_timestamp(),
                },
            };
            put(table, &pk, records::RATE, &item)?;
            Ok(item.count)
        })
        .await
    }

    async fn decrement_counter(&self, key: &str) -> Result<(), StoreError> {
        let pk = records::rate_pk(key);
        self.write(move |table| {
            if let Some(counter) = get::<CounterItem>(table, &pk, records::RATE)? {
                let item = CounterItem {
                    count: counter.count.saturating_sub(1),
                    ..counter
                };
                put(table, &pk, records::RATE, &item)?;
            }
            Ok(())
        })
        .await
    }

    async fn replace_failure_streak(
        &self,
        key: &str,
        expected: Option<&FailureStreak>,
        next: &FailureStreak,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pk = records::streak_pk(key);
        let expected = expected.copied();
        let item = StreakItem::new(next, expires_at);
        self.write(move |table| {
            let stored = get::<StreakItem>(table, &pk, records::STREAK)?;
            let unchanged = match (&stored, &expected) {
                (None, None) => true,
                // `failures` and the millisecond of the last attempt
                // identify a version, as in the DynamoDB condition.
                (Some(stored), Some(expected)) => {
                    stored.failures == expected.failures
                        && stored.last_failure_ms == StreakItem::epoch_ms(expected.last_failure_at)
                }
                _ => false,
            };
            if unchanged {
                put(table, &pk, records::STREAK, &item)?;
            }
            Ok(unchanged)
        })
        .await
    }

    async fn failure_streak(&self, key: &str) -> Result<Option<FailureStreak>, StoreError> {
        let item: Option<StreakItem> = self.read(&records::streak_pk(key), records::STREAK)?;
        item.map(|item| item.streak()).transpose()
    }

    async fn end_failure_streak(&self, key: &str) -> Result<(), StoreError> {
        let pk = records::streak_pk(key);
        self.write(move |table| {
            table
                .remove((pk.as_str(), records::STREAK))
                .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
