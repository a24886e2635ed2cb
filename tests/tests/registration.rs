//! Registration against abuse, on the embedded store and on DynamoDB + SES
//! in moto: attempts are limited per client IP (taken addresses included),
//! confirmation emails count toward the address's sending limit, and with
//! `REGISTRATION_REVEALS_EXISTING=false` a taken address gets exactly the
//! answer a new registration gets while its owner is told by email.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey_tests::{TestApp, on_both_stores, within_one_window};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn unique_email() -> String {
    format!("reg.{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn registrations_from_one_ip_are_limited_taken_addresses_included(app: TestApp) {
    within_one_window(3600, Duration::from_secs(60)).await;
    let email = unique_email();
    assert_eq!(register(&app, &email).await.status(), 201);
    assert_eq!(register(&app, &email).await.status(), 409, "counted too");
    assert_eq!(register(&app, &unique_email()).await.status(), 201);
    let refused = register(&app, &unique_email()).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

async fn confirmation_emails_count_toward_the_address_limit(app: TestApp) {
    within_one_window(900, Duration::from_secs(60)).await;
    let email = unique_email();
    let response = app
        .post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 201);
    for _ in 0..3 {
        let response = app
            .post_json("/v1/users/confirm/resend", &json!({"email": email}))
            .await;
        assert_eq!(response.status(), 202);
    }
    // EMAIL_LIMIT_PER_ADDRESS=2/900: the registration's email and one more.
    assert_eq!(app.messages_to(&email).await.len(), 2);
}

async fn register(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_register(&json!({"email": email, "password": PASSWORD}))
        .await
}

/// A registration by someone who is not the address's owner.
async fn attempt(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_register(&json!({
        "email": email, "password": "another horse battery staple", "first_name": "Mallory",
    }))
    .await
}

/// The answer's shape with what must differ between any two registrations
/// (the id, timestamps) blanked out.
fn shape(mut body: Value) -> Value {
    for field in ["id", "created_at", "updated_at"] {
        body["user"][field] = Value::Null;
    }
    body
}

async fn a_taken_address_answers_as_a_new_one_and_tells_its_owner(app: TestApp) {
    let taken = unique_email();
    app.register_confirmed(&taken, PASSWORD).await;
    let fresh = unique_email();
    let (new_one, taken_one) = (attempt(&app, &fresh).await, attempt(&app, &taken).await);
    assert_eq!(new_one.status(), 201);
    assert_eq!(taken_one.status(), 201);
    let location =
        |response: &reqwest::Response| response.headers()["location"].to_str().unwrap().to_owned();
    let (new_location, taken_location) = (location(&new_one), location(&taken_one));
    let new_body: Value = new_one.json().await.unwrap();
    let mut taken_body: Value = taken_one.json().await.unwrap();
    taken_body["user"]["email"] = Value::from(fresh.as_str());
    assert_eq!(shape(new_body), shape(taken_body));
    assert_ne!(new_location, taken_location);
    // Neither made-up nor unconfirmed accounts can be looked up by others.
    assert_eq!(app.get(&new_location).await.status(), 404);
    assert_eq!(app.get(&taken_location).await.status(), 404);

    // Nothing changed for the owner, who is told of the attempt.
    let messages = app.messages_to(&taken).await;
    let last = messages.last().unwrap();
    assert_eq!(last.subject, "Someone tried to register with your address");
    assert!(!last.body.contains("Mallory"));
    app.login(&taken, PASSWORD).await;
    let response = app
        .post_login(&json!({"login": taken, "password": "another horse battery staple"}))
        .await;
    assert_eq!(response.status(), 401);
}

/// How long an unconfirmed account holds its address in the test below:
/// long enough that the "not yet" check made right after registering cannot
/// fall past it on a slow machine, short enough to wait out.
const UNCONFIRMED_TTL_SECONDS: &str = "5";

/// A squatter cannot hold someone else's address: an account nobody
/// confirmed within UNCONFIRMED_ACCOUNT_TTL_SECONDS gives it up to the next
/// registration, which starts clean; a confirmed one never does.
async fn an_unconfirmed_account_gives_its_address_up_after_its_time(app: TestApp) {
    let squatted = unique_email();
    let confirmed = unique_email();
    app.register_confirmed(&confirmed, PASSWORD).await;
    let response = app
        .post_json(
            "/v1/users",
            &json!({"email": squatted, "password": "squatter horse battery", "login": "squatter"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    // The clock starts at the first answer: the account was stored before it.
    let squatted_at = std::time::Instant::now();
    assert_eq!(register(&app, &squatted).await.status(), 409, "not yet");
    let squatter_link = app.confirmation_link(&squatted).await;
    let ttl = Duration::from_secs(UNCONFIRMED_TTL_SECONDS.parse().unwrap());
    tokio::time::sleep((ttl + Duration::from_millis(200)).saturating_sub(squatted_at.elapsed()))
        .await;

    assert_eq!(
        register(&app, &confirmed).await.status(),
        409,
        "confirmed: kept"
    );
    let response = register(&app, &squatted).await;
    assert_eq!(response.status(), 201);
    let owner: Value = response.json().await.unwrap();
    // The squatter's link and login went with their account.
    let response = app.client.get(&squatter_link).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let link = app.confirmation_link(&squatted).await;
    assert_ne!(link, squatter_link);
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), 200);
    let pair = app.login(&squatted, PASSWORD).await;
    assert_eq!(pair["user_id"], owner["user"]["id"]);
    let response = app
        .post_login(&json!({"login": "squatter", "password": "squatter horse battery"}))
        .await;
    assert_eq!(response.status(), 401);
    let response = app
        .post_json(
            "/v1/users",
            &json!({"email": unique_email(), "password": PASSWORD, "login": "squatter"}),
        )
        .await;
    assert_eq!(response.status(), 201, "the login is free again");
}

on_both_stores! {
    an_unconfirmed_account_gives_its_address_up_after_its_time
        with ("UNCONFIRMED_ACCOUNT_TTL_SECONDS", UNCONFIRMED_TTL_SECONDS);
    registrations_from_one_ip_are_limited_taken_addresses_included
        with ("REGISTRATION_LIMIT_PER_IP", "3/3600");
    confirmation_emails_count_toward_the_address_limit
        with ("EMAIL_LIMIT_PER_ADDRESS", "2/900");
    a_taken_address_answers_as_a_new_one_and_tells_its_owner
        with ("REGISTRATION_REVEALS_EXISTING", "false");
}
