//! The stream consumer (`publish-events`): publishes the lifecycle events
//! of the table's stream to EventBridge. Not an HTTP endpoint: an event
//! source mapping feeds it the inserted security-log items (its filter lets
//! no other record through) and retries from the record it reports.

use std::convert::Infallible;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::{LambdaEvent, lambda_runtime, service_fn};
use latchkey::adapters::eventbridge::EventBridgePublisher;
use latchkey::adapters::stream::logged_entry;
use latchkey::lifecycle::{self, StreamRecord};
use latchkey::ports::EventPublisher;

/// The binary's name, and the template function's (`PublishEventsFunction`).
pub const NAME: &str = "publish-events";

/// One batch of stream records: their events published in order; the
/// first record not published is reported, so the stream is read again
/// from it.
pub async fn handle(publisher: &dyn EventPublisher, event: Event) -> DynamoDbEventResponse {
    let records: Vec<StreamRecord> = event
        .records
        .into_iter()
        .map(|record| {
            let change = record.change;
            let entry = if record.event_name == "INSERT" {
                logged_entry(&change.keys, change.new_image)
            } else {
                Ok(None)
            };
            let event = match entry {
                Ok(entry) => entry.as_ref().and_then(lifecycle::of),
                // Retrying would not make it readable: logged and passed.
                Err(error) => {
                    tracing::error!(%error, "a stream record is not a readable log entry");
                    None
                }
            };
            StreamRecord {
                sequence_number: change.sequence_number.unwrap_or_default(),
                event,
            }
        })
        .collect();
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence_number) = lifecycle::publish(publisher, &records).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number);
        response.batch_item_failures.push(failure);
    }
    response
}

/// The binary's whole `main`: JSON logs, the EventBridge client once per
/// cold start (`EVENT_BUS_NAME`, default the account's default bus), then
/// the runtime loop.
pub fn run() -> Result<(), lambda_http::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            latchkey::telemetry::init_json();
            let sdk = latchkey::adapters::aws::load_from_env().await;
            let bus = std::env::var("EVENT_BUS_NAME").unwrap_or_else(|_| "default".to_owned());
            let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), bus);
            lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
                let publisher = &publisher;
                async move { Ok::<_, Infallible>(handle(publisher, event.payload).await) }
            }))
            .await
        })
}
