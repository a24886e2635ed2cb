//! The account export: everything kept about the person, after a recent
//! sign-in only, and no secret, hash or code in it whatever the account
//! holds. On the embedded store and on DynamoDB, SES and KMS in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey::domain::TotpSecret;
use latchkey::secrets::SecretHash;
use latchkey::test_support::SoftPasskey;
use latchkey_tests::{TestApp, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery staple";

/// An account with an address, two sessions, an active TOTP factor and a
/// passkey; everything it was handed that must never come back.
async fn a_full_account(app: &TestApp) -> (Value, Vec<String>) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let first = app.login(&ada, PASSWORD).await;
    let token = first["access_token"].as_str().unwrap().to_owned();
    let call = |method: Method, path: &'static str, body: Value| {
        let token = token.clone();
        async move { app.call(method, path, Some(&token), body).await }
    };
    let (status, _) = call(
        Method::POST,
        "/v1/users/me/addresses",
        json!({"address": "acct:ada@example.org", "name": "Fediverse"}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, enrolment) = call(
        Method::POST,
        "/v1/users/me/factors/totp",
        json!({"name": "Phone"}),
    )
    .await;
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let factor = enrolment["factor_id"].as_str().unwrap().to_owned();
    let code = TotpSecret::from_base32(&secret)
        .unwrap()
        .code_at(OffsetDateTime::now_utc())
        .unwrap();
    let (status, proven) = app
        .call(
            Method::POST,
            &format!("/v1/users/me/factors/totp/{factor}/verify"),
            Some(&token),
            json!({"code": code}),
        )
        .await;
    assert_eq!(status, 200, "{proven}");
    let (_, ceremony) = call(Method::POST, "/v1/users/me/passkeys/options", json!({})).await;
    let origin = app.base_url.replace("127.0.0.1", "localhost");
    let credential = SoftPasskey::new("localhost").register(&ceremony["public_key"], &origin);
    let (status, _) = call(
        Method::POST,
        "/v1/users/me/passkeys",
        json!({"challenge_id": ceremony["challenge_id"], "credential": credential, "name": "Laptop"}),
    )
    .await;
    assert_eq!(status, 201);

    let mut secrets = vec![
        secret,
        token.clone(),
        first["refresh_token"].as_str().unwrap().to_owned(),
        SecretHash::of(first["refresh_token"].as_str().unwrap())
            .as_str()
            .to_owned(),
        "$argon2".to_owned(),
    ];
    secrets.extend(
        proven["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|code| code.as_str().unwrap().to_owned()),
    );
    (first, secrets)
}

async fn the_export_holds_everything_kept_and_no_secret(app: TestApp) {
    let (signed_in, secrets) = a_full_account(&app).await;
    let token = signed_in["access_token"].as_str().unwrap();
    let response = app
        .client
        .get(app.url("/v1/users/me/export"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"account-"),
        "{disposition}"
    );
    let text = response.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["user"]["email"], app.address("ada").as_str());
    assert_eq!(export["user"]["addresses"][0]["name"], "Fediverse");
    assert_eq!(export["user"]["mfa_enabled"], true);
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["sessions"][0]["current"], true);
    assert_eq!(export["factors"][0]["name"], "Phone");
    assert_eq!(export["recovery_codes_left"], 10);
    assert_eq!(export["passkeys"][0]["name"], "Laptop");
    let logged: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        logged,
        [
            "passkey_added",
            "factor_added",
            "sign_in",
            "email_confirmed",
            "registered"
        ]
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{secret} in the export: {text}"
        );
    }
}

async fn the_export_needs_a_recent_sign_in(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    let token = pair["access_token"].as_str().unwrap();
    // `auth_time` has whole seconds: three make the sign-in older than two.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = app
        .call(Method::GET, "/v1/users/me/export", Some(token), json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("reauthentication_required"))
    );
    // A refreshed token keeps the old `auth_time`: no way around it.
    let refreshed: Value = app
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let (status, _) = app
        .call(
            Method::GET,
            "/v1/users/me/export",
            refreshed["access_token"].as_str(),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let fresh = app.login(&ada, PASSWORD).await;
    let (status, _) = app
        .call(
            Method::GET,
            "/v1/users/me/export",
            fresh["access_token"].as_str(),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
}

on_both_stores! {
    the_export_holds_everything_kept_and_no_secret;
    the_export_needs_a_recent_sign_in with ("REAUTH_MAX_AGE_SECONDS", "2");
}
