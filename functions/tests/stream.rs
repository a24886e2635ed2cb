//! The stream consumer (`publish-events`): a batch of stream records
//! becomes its lifecycle events on EventBridge, in order, the log-only
//! entries left out; when the bus refuses, the first record not published
//! is reported so the stream is read again from it, and nothing is lost.
//! EventBridge is moto's, read back through a rule to an SQS queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use aws_lambda_events::event::dynamodb::Event;
use latchkey::adapters::eventbridge::EventBridgePublisher;
use latchkey_functions::stream;
use latchkey_tests::{FaultProxy, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

fn sample() -> Event {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/stream/publish-events.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A bus of its own on moto with a rule sending every `latchkey` event to
/// a queue; the bus's name and the queue's URL.
async fn bus_and_queue() -> (String, String) {
    let sdk = latchkey_tests::moto().sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("latchkey-{}", uuid::Uuid::new_v4().simple());
    events.create_event_bus().name(&name).send().await.unwrap();
    let queue = sqs.create_queue().queue_name(&name).send().await.unwrap();
    let queue_url = queue.queue_url().unwrap().to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("all-of-latchkey")
        .event_bus_name(&name)
        .event_pattern(r#"{"source": ["latchkey"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("all-of-latchkey")
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (name, queue_url)
}

/// Everything the queue holds, as the events EventBridge delivered.
async fn delivered(queue_url: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&latchkey_tests::moto().sdk_config().await);
    let mut events = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if received.messages().is_empty() {
            return events;
        }
        for message in received.messages() {
            events.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn detail_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["detail-type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_batch_becomes_its_events_in_order_and_log_only_entries_stay_out() {
    let (bus, queue) = bus_and_queue().await;
    let sdk = latchkey_tests::moto().sdk_config().await;
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), bus);
    let response = stream::handle(&publisher, sample()).await;
    assert!(response.batch_item_failures.is_empty());
    let events = delivered(&queue).await;
    assert_eq!(detail_types(&events), ["user.registered", "user.signed_in"]);
    let signed_in = &events[1];
    assert_eq!(signed_in["source"], "latchkey");
    let detail = &signed_in["detail"];
    assert_eq!(detail["id"], "0193a7c2-7000-7d4a-9c3f-2e8b6d1f4a72");
    assert_eq!(detail["user_id"], "0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70");
    assert_eq!(detail["session_id"], "0193a7c2-7000-7d4a-9c3f-2e8b6d1f4a7f");
    assert_eq!(detail["actor"], "self");
    // Where the sign-in came from stays in the person's own log.
    assert!(!signed_in.to_string().contains("203.0.113"));
}

/// The bus throttles: the whole batch is reported from its first record,
/// nothing is delivered; read again once the bus is back, every event is.
#[tokio::test]
async fn a_refusing_bus_loses_nothing_the_batch_is_read_again() {
    let (bus, queue) = bus_and_queue().await;
    let proxy = FaultProxy::start();
    let publisher = EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&proxy.sdk_config().await),
        bus,
    );
    for kind in ["throttle", "fail"] {
        proxy.arm("events", kind, 0).await;
        let response = stream::handle(&publisher, sample()).await;
        assert!(proxy.disarm().await > 0, "{kind}: the bus was not called");
        let failures: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.clone().unwrap())
            .collect();
        assert_eq!(failures, ["100"], "{kind}");
        assert!(delivered(&queue).await.is_empty(), "{kind}");
    }
    let response = stream::handle(&publisher, sample()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        detail_types(&delivered(&queue).await),
        ["user.registered", "user.signed_in"]
    );
}

/// The table's stream as the event source mapping would hand it over: all
/// its records so far, read from moto by `tests/stream_records.py`.
fn table_stream(app: &TestApp) -> Event {
    let python = latchkey_tests::moto_python().unwrap_or_else(|message| panic!("{message}"));
    let output = std::process::Command::new(python)
        .arg(latchkey_tests::workspace().join("tests/stream_records.py"))
        .arg(&latchkey_tests::moto().endpoint)
        .arg(&app.app.config.table_name)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A journey on DynamoDB in moto, the table's own stream fed to the
/// consumer after each step: each step yields exactly its events on
/// EventBridge, in order; steps that commit nothing (a second registration
/// of the address, a wrong password) yield none. Records already published
/// come again with each read here, as after a retry: the events carry the
/// same ids, which is what a consumer de-duplicates on.
#[tokio::test]
async fn each_step_of_a_journey_on_dynamodb_yields_exactly_its_events_in_order() {
    const PASSWORD: &str = "correct horse battery staple";
    let app = TestApp::on_moto().await;
    let (bus, queue) = bus_and_queue().await;
    let sdk = latchkey_tests::moto().sdk_config().await;
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), bus);
    let mut seen = std::collections::HashSet::new();
    let mut step = async |app: &TestApp| -> Vec<String> {
        let response = stream::handle(&publisher, table_stream(app)).await;
        assert!(response.batch_item_failures.is_empty());
        delivered(&queue)
            .await
            .into_iter()
            .filter(|event| seen.insert(event["detail"]["id"].as_str().unwrap().to_owned()))
            .map(|event| event["detail-type"].as_str().unwrap().to_owned())
            .collect()
    };

    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    assert_eq!(step(&app).await, ["user.registered", "user.confirmed"]);
    let pair = app.login(&ada, PASSWORD).await;
    assert_eq!(step(&app).await, ["user.signed_in"]);
    let again = app
        .post_register(&json!({"email": ada, "password": PASSWORD}))
        .await;
    assert!(again.status().is_success() || again.status() == 409);
    let wrong = app
        .post_login(&json!({"login": ada, "password": "not the password"}))
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(step(&app).await, Vec::<String>::new());
    let token = pair["access_token"].as_str();
    let (status, _) = app
        .call(Method::POST, "/v1/auth/logout", token, json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(step(&app).await, ["session.revoked"]);
    let fresh = app.login(&ada, PASSWORD).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/users/me",
            fresh["access_token"].as_str(),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(step(&app).await, ["user.signed_in", "user.deleted"]);
}
