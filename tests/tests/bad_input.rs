//! Bad input is answered per the contract (README, "Endpoints"), as problem documents, never with a 5xx.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::TestApp;
use serde_json::{Value, json};

async fn problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{code}"))
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|message| !message.is_empty())
            );
            (
                error["field"].as_str().unwrap().to_owned(),
                error["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(field, code)| (field.to_string(), code.to_string()))
        .collect()
}

async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_400_malformed_body() {
    let app = TestApp::embedded().await;
    for path in ["/v1/users", "/v1/auth/login", "/v1/users/confirm"] {
        problem(
            raw_post(&app, path, "application/json", "{\"email\": ").await,
            400,
            "malformed_body",
        )
        .await;
    }
}

#[tokio::test]
async fn a_json_array_or_string_body_is_400_malformed_body() {
    let app = TestApp::embedded().await;
    problem(
        raw_post(
            &app,
            "/v1/users",
            "application/json",
            "[{\"email\":\"a@b.co\"}]",
        )
        .await,
        400,
        "malformed_body",
    )
    .await;
    problem(
        raw_post(&app, "/v1/users", "application/json", "\"a@b.co\"").await,
        400,
        "malformed_body",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = TestApp::embedded().await;
    let response = raw_post(&app, "/v1/users", "text/plain", "email=a@b.co&password=x").await;
    problem(response, 415, "unsupported_media_type").await;
    let response = raw_post(&app, "/v1/auth/login", "application/xml", "<login/>").await;
    problem(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_100_kb_body_is_413() {
    let app = TestApp::embedded().await;
    let big = json!({"email": "a@b.co", "password": "x".repeat(100 * 1024)}).to_string();
    problem(
        raw_post(&app, "/v1/users", "application/json", big).await,
        413,
        "payload_too_large",
    )
    .await;
    let form = format!("email=a%40b.co&first_name={}", "y".repeat(100 * 1024));
    problem(
        raw_post(&app, "/v1/users", "application/x-www-form-urlencoded", form).await,
        413,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn missing_fields_are_all_reported_at_once() {
    let app = TestApp::embedded().await;
    let body = problem(
        app.post_register(&json!({})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&body),
        pairs(&[("email", "required"), ("password", "required")])
    );
    let body = problem(
        app.post_login(&json!({"remember_me": true})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&body),
        pairs(&[("login", "required"), ("password", "required")])
    );
}

#[tokio::test]
async fn invalid_fields_are_all_reported_at_once() {
    let app = TestApp::embedded().await;
    let response = app
        .post_register(&json!({
            "email": "not-an-email",
            "password": "short",
            "password_confirmation": "different",
            "login": "a b",
            "first_name": "",
            "last_name": "x".repeat(101),
            "locale": "xx",
            "profile_is_public": "sometimes",
            "attributes": {"shoe_size": 44},
        }))
        .await;
    let body = problem(response, 400, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        pairs(&[
            ("email", "invalid_email"),
            ("login", "invalid_login"),
            ("last_name", "invalid_last_name"),
            ("locale", "invalid_locale"),
            ("profile_is_public", "invalid_value"),
            ("attributes.shoe_size", "invalid_attribute"),
            ("password", "password_too_short"),
            ("password_confirmation", "password_mismatch"),
        ])
    );
    let message = body["errors"][6]["message"].as_str().unwrap();
    assert!(
        message.contains('8'),
        "the minimum is in the message: {message}"
    );
}

#[tokio::test]
async fn fields_of_the_wrong_json_type_are_reported_not_crashed_on() {
    let app = TestApp::embedded().await;
    let response = app
        .post_register(&json!({"email": 42, "password": ["x"], "login": {"a": 1}}))
        .await;
    let body = problem(response, 400, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        pairs(&[
            ("email", "invalid_email"),
            ("login", "invalid_login"),
            ("password", "password_too_short")
        ])
    );
}

#[tokio::test]
async fn a_common_password_or_one_equal_to_the_email_is_refused() {
    let app = TestApp::embedded().await;
    for password in ["password123", "Qwerty123", "iloveyou", "me@example.com"] {
        let response = app
            .post_register(&json!({"email": "me@example.com", "password": password}))
            .await;
        let body = problem(response, 400, "validation_failed").await;
        assert_eq!(
            field_codes(&body),
            pairs(&[("password", "password_too_common")]),
            "{password}"
        );
    }
    let response = app
        .post_register(&json!({"email": "me@example.com", "password": "x".repeat(257)}))
        .await;
    let body = problem(response, 400, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        pairs(&[("password", "password_too_long")])
    );
}

#[tokio::test]
async fn a_password_confirmation_that_differs_is_refused() {
    let app = TestApp::embedded().await;
    let response = app
        .post_register(&json!({
            "email": "me@example.com", "password": "correct horse battery", "password_confirmation": "correct horse batter"
        }))
        .await;
    let body = problem(response, 400, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        pairs(&[("password_confirmation", "password_mismatch")])
    );
}

#[tokio::test]
async fn duplicate_email_and_login_are_409() {
    let app = TestApp::embedded().await;
    let first = json!({"email": "taken@example.com", "password": "correct horse battery", "login": "taken"});
    assert_eq!(app.post_register(&first).await.status(), 201);
    let response = app
        .post_register(&json!({"email": "TAKEN@example.com", "password": "correct horse battery"}))
        .await;
    problem(response, 409, "email_taken").await;
    let response =
        app.post_register(&json!({"email": "free@example.com", "password": "correct horse battery", "login": "TAKEN"})).await;
    problem(response, 409, "login_taken").await;
}

#[tokio::test]
async fn a_form_body_registers_like_json() {
    let app = TestApp::embedded().await;
    let response = app
        .client
        .post(app.url("/v1/users"))
        .form(&[
            ("email", "form@example.com"),
            ("password", "correct horse battery"),
            ("profile_is_public", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["profile_is_public"], true);
}

#[tokio::test]
async fn problems_are_localized_by_accept_language() {
    let app = TestApp::embedded().await;
    let response = app
        .client
        .post(app.url("/v1/users"))
        .header("accept-language", "de;q=1, ru;q=0.8, en;q=0.5")
        .json(&json!({"email": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-language"], "ru");
    let body = problem(response, 400, "validation_failed").await;
    assert_eq!(body["title"], "Ошибка проверки данных");
    assert_eq!(
        body["errors"][0]["message"],
        "Введите корректный адрес электронной почты."
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = TestApp::embedded().await;
    problem(app.get("/v1/nothing-here").await, 404, "not_found").await;
    problem(
        app.client
            .delete(app.url("/v1/users"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
}
