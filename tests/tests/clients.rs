//! Service clients end to end: the operator program creates, rotates and
//! deletes them; the token endpoint grants exactly the allowed scopes. On
//! the embedded store and on DynamoDB in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use latchkey_tests::TestApp;
use serde_json::Value;

/// Runs `latchkey-admin <args>` against the app's own store.
async fn admin(app: &TestApp, args: &[&str]) -> anyhow::Result<String> {
    app.admin(args, "").await
}

fn field(output: &str, name: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {output}"))
        .to_owned()
}

async fn token(
    app: &TestApp,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> (u16, Value, Option<String>) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), challenge)
}

async fn the_client_lifecycle(app: TestApp) {
    let created = admin(
        &app,
        &[
            "clients",
            "create",
            "--name",
            "billing",
            "--scope",
            "reports:read",
            "--scope",
            "invoices:write",
        ],
    )
    .await
    .unwrap();
    let (id, secret) = (
        field(&created, "client_id"),
        field(&created, "client_secret"),
    );
    assert_eq!(secret.len(), 43, "256 random bits");
    let listed = admin(&app, &["clients", "list"]).await.unwrap();
    assert!(
        listed.contains(&id) && listed.contains("billing"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "list never shows a secret");

    // All allowed scopes by default, exactly the asked ones otherwise.
    let (status, body, _) = token(&app, &id, &secret, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "reports:read invoices:write");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for clients"
    );
    let (status, body, _) = token(&app, &id, &secret, Some("reports:read")).await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("reports:read"))
    );
    let access = body["access_token"].as_str().unwrap().to_owned();
    let info: Value = app.token_info(&access).await.json().await.unwrap();
    assert_eq!(info["kind"], "client");
    assert_eq!(info["uid"], id.as_str());
    assert_eq!(info["scope"], "reports:read");

    let (status, body, _) = token(&app, &id, &secret, Some("reports:read admin")).await;
    assert_eq!(
        (status, body["code"].as_str(), body["error"].as_str()),
        (400, Some("invalid_scope"), Some("invalid_scope"))
    );

    // A wrong secret and an unknown client look the same.
    let (status, wrong, challenge) = token(&app, &id, "not-the-secret", None).await;
    assert_eq!(
        (status, wrong["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(challenge.unwrap().starts_with("Basic"));
    let (_, unknown, _) = token(&app, "01a2015c-4000-7000-8000-00000000c1e7", &secret, None).await;
    assert_eq!(wrong, unknown);

    // Credentials in the form body work too; other grants do not.
    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    // A client token is no user's: user-only endpoints refuse it.
    let response = app
        .client
        .post(app.url("/v1/auth/logout"))
        .bearer_auth(&access)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Rotation: the old secret dies, the new one works.
    let rotated = admin(&app, &["clients", "rotate", &id]).await.unwrap();
    let new_secret = field(&rotated, "client_secret");
    assert_ne!(new_secret, secret);
    assert_eq!(token(&app, &id, &secret, None).await.0, 401);
    assert_eq!(token(&app, &id, &new_secret, None).await.0, 200);

    // Deletion: no new tokens, and the outstanding ones stop working.
    assert!(
        admin(&app, &["clients", "delete", &id])
            .await
            .unwrap()
            .contains("deleted")
    );
    assert_eq!(token(&app, &id, &new_secret, None).await.0, 401);
    assert_eq!(app.token_info(&access).await.status(), 401);
    assert!(
        admin(&app, &["clients", "delete", &id]).await.is_err(),
        "deleting twice is an error"
    );
    assert!(
        admin(&app, &["clients", "rotate", "not-an-id"])
            .await
            .is_err()
    );
    assert!(
        admin(
            &app,
            &["clients", "create", "--name", "x", "--scope", "bad scope"]
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn the_client_lifecycle_works_on_the_embedded_store() {
    the_client_lifecycle(TestApp::embedded().await).await;
}

#[tokio::test]
async fn the_client_lifecycle_works_on_dynamodb_in_moto() {
    the_client_lifecycle(TestApp::on_moto().await).await;
}
