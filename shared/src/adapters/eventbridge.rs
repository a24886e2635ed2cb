//! Lifecycle events to EventBridge: one `PutEvents` per batch, each entry
//! with `source` `latchkey`, the event's name as `detail-type` and its
//! detail as JSON, on the configured bus.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::aws::SdkFailure;
use crate::lifecycle::{LifecycleEvent, SOURCE};
use crate::ports::{EventPublisher, PublishError};

#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    /// The bus's name or ARN (`default` for the account's default bus).
    bus: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<Vec<bool>, PublishError> {
        let mut entries = Vec::with_capacity(events.len());
        for event in events {
            let detail = serde_json::to_string(event)
                .map_err(|error| PublishError::Failed(Box::new(error)))?;
            entries.push(
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(event.name)
                    .detail(detail)
                    .event_bus_name(&self.bus)
                    .build(),
            );
        }
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| match super::aws::classify(error) {
                SdkFailure::Throttled(error) => PublishError::Throttled(error),
                SdkFailure::Failed(error) => PublishError::Failed(error),
            })?;
        // The answer's entries are in the order of the request's; a failed
        // one carries an error code instead of an event id.
        let accepted: Vec<bool> = output
            .entries()
            .iter()
            .map(|entry| entry.error_code().is_none() && entry.event_id().is_some())
            .collect();
        if accepted.len() != events.len() {
            return Err(PublishError::Failed(
                format!(
                    "PutEvents answered {} entries for {}",
                    accepted.len(),
                    events.len()
                )
                .into(),
            ));
        }
        Ok(accepted)
    }
}
