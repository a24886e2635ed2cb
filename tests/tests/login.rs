//! Sign-in answers that must not reveal which accounts exist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::TestApp;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn body_of(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, challenge, response.json().await.unwrap())
}

#[tokio::test]
async fn an_unknown_account_and_a_wrong_password_get_identical_401s() {
    let app = TestApp::embedded().await;
    app.register_confirmed("known@example.com", PASSWORD).await;
    let unknown = body_of(
        app.post_login(&json!({"login": "unknown@example.com", "password": PASSWORD}))
            .await,
    )
    .await;
    let wrong = body_of(
        app.post_login(&json!({"login": "known@example.com", "password": "wrong password"}))
            .await,
    )
    .await;
    let not_a_login = body_of(
        app.post_login(&json!({"login": "!!", "password": PASSWORD}))
            .await,
    )
    .await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown.2["code"], "invalid_credentials");
    assert!(
        unknown
            .1
            .as_deref()
            .is_some_and(|challenge| challenge.starts_with("Bearer"))
    );
    assert_eq!(unknown, wrong);
    assert_eq!(unknown, not_a_login);
}

#[tokio::test]
async fn an_unconfirmed_account_with_the_right_password_gets_403_email_not_confirmed() {
    let app = TestApp::embedded().await;
    let response = app
        .post_register(&json!({"email": "new@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 201);
    let (status, _, body) = body_of(
        app.post_login(&json!({"login": "new@example.com", "password": PASSWORD}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("email_not_confirmed"))
    );
    // With a wrong password the account's state is not revealed.
    let (status, _, body) = body_of(
        app.post_login(&json!({"login": "new@example.com", "password": "nope nope"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
}

#[tokio::test]
async fn confirmation_can_be_made_optional_by_configuration() {
    let app = TestApp::embedded_with(&[("REQUIRE_EMAIL_CONFIRMATION", "false")]).await;
    let response = app
        .post_register(&json!({"email": "open@example.com", "password": PASSWORD}))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["status"], "active");
    assert_eq!(body["user"]["email_confirmed"], false);
    let response = app
        .post_login(&json!({"email": "open@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_form_login_works_like_json() {
    let app = TestApp::embedded().await;
    app.register_confirmed("form@example.com", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/v1/auth/login"))
        .form(&[
            ("email", "form@example.com"),
            ("password", PASSWORD),
            ("remember_me", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["refresh_expires_in"],
        30 * 24 * 3600
    );
}
