//! Every sample event in `events/` goes through its endpoint's handler, the
//! way the Lambda runtime would hand it over (`lambda_http::request::from_str`),
//! and gets the answer it documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lambda_http::{Body, RequestExt};
use latchkey::adapters::embedded::EmbeddedStore;
use latchkey::adapters::local_key::LocalKeySigner;
use latchkey::adapters::local_mac::LocalMac;
use latchkey::adapters::local_sealer::LocalSealer;
use latchkey::adapters::local_secrets::LocalSecrets;
use latchkey::adapters::outbox::OutboxMailer;
use latchkey::domain::{Email, Password, User, UserId};
use latchkey::ports::{Account, CodeKind, SigningAlgorithm, StoredCode};
use latchkey::secrets::SecretHash;
use latchkey::services::passwords;
use latchkey::{Adapters, App, Config};
use latchkey_functions::{Endpoint, RouteMatch, handle, match_route};
use latchkey_tests::oidc::TestProvider;
use serde_json::Value;

/// The code in `events/confirm-*.json`.
const SAMPLE_CODE: &str = "Zt0sWk0k7vRr2m9Qy3vX1bN6cJ8hP4aL5eD2fG7hK9s";
/// Grace's id, in `events/get-user.json`.
const GRACE_ID: &str = "0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70";
/// The token in `events/reset-password*.json`.
const SAMPLE_RESET_TOKEN: &str = "Qm7xR2kV9pL4sT8wY1zA6bC3dE5fG0hJ2kN4mP6rS8u";

/// Each event, in the order they run against one app, with the status and
/// problem code (if any) it must produce.
const EXPECTED: &[(&str, u16, Option<&str>)] = &[
    ("status", 200, None),
    ("list-factors", 401, Some("invalid_token")),
    ("enrol-totp", 401, Some("invalid_token")),
    ("verify-totp", 401, Some("invalid_token")),
    ("delete-factor", 401, Some("invalid_token")),
    ("renew-recovery-codes", 401, Some("invalid_token")),
    ("admin-reset-factors", 401, Some("invalid_token")),
    ("passkey-registration-options", 401, Some("invalid_token")),
    ("add-passkey", 401, Some("invalid_token")),
    ("list-passkeys", 401, Some("invalid_token")),
    ("rename-passkey", 401, Some("invalid_token")),
    ("delete-passkey", 401, Some("invalid_token")),
    // Creation options need no account: an unknown login gets the
    // discoverable ceremony.
    ("passkey-sign-in-options", 200, None),
    // A ceremony no options request started.
    ("passkey-sign-in", 401, Some("invalid_credential")),
    ("mfa", 401, Some("invalid_token")),
    ("mfa-unknown-method", 400, Some("validation_failed")),
    ("email-code", 202, None),
    ("email-code-verify", 401, Some("invalid_code")),
    ("email-sign-in-page", 200, None),
    // To the provider ("example", the test's OpenID Provider).
    ("oidc-authorize", 302, None),
    // A state no flight kept: back to the app with `?error=invalid_state`.
    ("oidc-callback", 302, None),
    // The same as a `form_post` answer (Apple's).
    ("oidc-callback-form-post", 302, None),
    ("oidc-token", 400, Some("invalid_grant")),
    ("link-identity", 401, Some("invalid_token")),
    ("list-identities", 401, Some("invalid_token")),
    ("unlink-identity", 401, Some("invalid_token")),
    ("passkeys-page", 200, None),
    ("register", 201, None),
    ("register-form", 201, None),
    ("register-invalid-fields", 400, Some("validation_failed")),
    ("register-malformed-json", 400, Some("malformed_body")),
    ("register-array-body", 400, Some("malformed_body")),
    (
        "register-wrong-content-type",
        415,
        Some("unsupported_media_type"),
    ),
    ("confirm-get", 200, None),
    ("confirm-get-browser", 303, None),
    ("confirm-post", 200, None),
    (
        "confirm-unknown-code",
        400,
        Some("invalid_confirmation_code"),
    ),
    ("resend-confirmation", 202, None),
    ("email-exists", 200, None),
    ("email-exists-missing-email", 400, Some("validation_failed")),
    ("login", 200, None),
    // A form body base64-encoded, cookies and comma-joined headers: what
    // API Gateway makes of a browser's form post.
    ("login-form", 200, None),
    ("login-wrong-password", 401, Some("invalid_credentials")),
    ("login-unconfirmed", 403, Some("email_not_confirmed")),
    // Static samples cannot hold live tokens: these show the refusals.
    ("refresh", 401, Some("invalid_token")),
    ("refresh-missing-token", 400, Some("validation_failed")),
    ("logout", 401, Some("invalid_token")),
    ("token-info", 401, Some("invalid_token")),
    ("token-info-query", 401, Some("invalid_token")),
    ("client-token", 401, Some("invalid_client")),
    (
        "client-token-wrong-grant",
        400,
        Some("unsupported_grant_type"),
    ),
    ("public-key", 200, None),
    ("jwks", 200, None),
    ("openid-configuration", 200, None),
    ("me", 401, Some("invalid_token")),
    ("update-me", 401, Some("invalid_token")),
    ("change-password", 401, Some("invalid_token")),
    ("export-account", 401, Some("invalid_token")),
    ("delete-account", 401, Some("invalid_token")),
    ("security-log", 401, Some("invalid_token")),
    ("admin-security-log", 401, Some("invalid_token")),
    ("admin-delete-user", 401, Some("invalid_token")),
    ("admin-get-user", 401, Some("invalid_token")),
    ("change-email", 401, Some("invalid_token")),
    // A code nobody asked for.
    (
        "confirm-email-change",
        400,
        Some("invalid_confirmation_code"),
    ),
    ("email-change-page", 200, None),
    ("list-sessions", 401, Some("invalid_token")),
    ("end-session", 401, Some("invalid_token")),
    ("admin-end-sessions", 401, Some("invalid_token")),
    ("add-address", 401, Some("invalid_token")),
    ("delete-address", 401, Some("invalid_token")),
    ("admin-update-user", 401, Some("invalid_token")),
    ("admin-search-users", 401, Some("invalid_token")),
    // Grace's profile is private: anyone else sees `{id}` alone.
    ("get-user", 200, None),
    ("get-user-unknown", 404, Some("user_not_found")),
    ("confirmation-page", 200, None),
    ("confirmation-page-resend", 200, None),
    ("reset-password-page", 200, None),
    // An unknown code: the page says the link is invalid.
    ("reset-password-page-submit", 400, None),
    ("page-assets", 200, None),
    // Last: after `forgot-password` has replaced any earlier reset code, the
    // sample token is seeded as grace's current one, and the reset events
    // use it (the last one changes grace's password).
    ("forgot-password", 202, None),
    ("reset-password-mismatch", 400, Some("validation_failed")),
    (
        "reset-password-unknown-token",
        400,
        Some("invalid_reset_token"),
    ),
    ("reset-password", 200, None),
];

// `cargo test` sets CARGO_MANIFEST_DIR when it runs a test too; reading it then,
// rather than baking it in at compile time, keeps a build cache that outlives
// the checkout (CI keeps one) from pointing at a folder that no longer exists.
fn events_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../events")
}

/// The app the events run against; its provider `example` is `provider`.
async fn app(folder: &Path, provider: &TestProvider) -> App {
    let providers = serde_json::json!([provider.entry("example", "")]).to_string();
    let config = Config::from_lookup(|name| {
        match name {
            "OIDC_PROVIDERS" => Some(providers.as_str()),
            "OIDC_REDIRECT_ALLOWLIST" => Some("https://app.example.com/signed-in"),
            "TABLE_NAME" => Some("t"),
            "KMS_KEY_ID" => Some("local"),
            "MAIL_FROM" => Some("no-reply@example.com"),
            "PUBLIC_BASE_URL" => Some("https://auth.example.com"),
            "SIGNING_ALGORITHM" => Some("ES256"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap();
    let store = EmbeddedStore::open(&folder.join("db.redb")).unwrap();
    let mailer = OutboxMailer::new(&folder.join("outbox"), &config.mail_from).unwrap();
    let signer =
        LocalKeySigner::load_or_create(&folder.join("key.pem"), SigningAlgorithm::ES256).unwrap();
    let sealer = LocalSealer::load_or_create(&folder.join("secrets.key")).unwrap();
    let adapters = Adapters {
        store: Arc::new(store),
        mailer: Arc::new(mailer),
        signer: Arc::new(signer),
        sealer: Arc::new(sealer),
        code_mac: Arc::new(LocalMac::load_or_create(&folder.join("mac.key")).unwrap()),
        secrets: Arc::new(LocalSecrets::new(folder.join("secrets.json"))),
    };
    App::new(config, adapters, Vec::new()).unwrap()
}

/// The account the confirm, login and reset events are about: waiting, with
/// the sample code as its confirmation code.
async fn seed_grace(app: &App) -> UserId {
    let now = time::OffsetDateTime::now_utc();
    let user = User {
        id: UserId::parse(GRACE_ID).unwrap(),
        ..User::new(Email::parse("grace@example.com").unwrap(), now)
    };
    let user_id = user.id;
    let password = Password::candidate("correct horse battery staple").unwrap();
    let password_hash = passwords::hash(password, app.config.argon2).await.unwrap();
    let code = StoredCode {
        hash: SecretHash::of(SAMPLE_CODE),
        kind: CodeKind::Confirm,
        user_id: user.id,
        expires_at: now + std::time::Duration::from_secs(3600),
    };
    app.store
        .create_user(
            &Account {
                user,
                password_hash,
            },
            Some(&code),
        )
        .await
        .unwrap();
    user_id
}

/// Makes the sample reset token grace's current reset code.
async fn seed_reset_token(app: &App, user_id: UserId) {
    let code = StoredCode {
        hash: SecretHash::of(SAMPLE_RESET_TOKEN),
        kind: CodeKind::Reset,
        user_id,
        expires_at: time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(3600),
    };
    app.store.replace_reset_code(&code).await.unwrap();
}

#[tokio::test]
async fn every_sample_event_gets_its_documented_answer_through_its_handler() {
    let folder = tempfile::tempdir().unwrap();
    let provider = TestProvider::start().await;
    let app = app(folder.path(), &provider).await;
    let grace = seed_grace(&app).await;
    for (name, status, code) in EXPECTED {
        if *name == "reset-password-mismatch" {
            seed_reset_token(&app, grace).await;
        }
        let text = std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap();
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
        let path = request.raw_http_path().to_owned();
        let RouteMatch::Found { route, .. } = match_route(request.method().as_str(), &path) else {
            panic!("{name}: no route for {} {path}", request.method());
        };
        let response = handle(&app, route.endpoint, request).await;
        assert_eq!(
            response.status().as_u16(),
            *status,
            "{name}: {:?}",
            response.body()
        );
        assert!(response.headers().contains_key("x-request-id"), "{name}");
        if let Some(code) = code {
            let Body::Text(body) = response.body() else {
                panic!("{name}: no body")
            };
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["code"], *code, "{name}");
        }
        if name.starts_with("oidc-authorize") || name.starts_with("oidc-callback") {
            let location = response.headers()["location"].to_str().unwrap();
            if *name == "oidc-authorize" {
                let expected = format!("{}/authorize?", provider.issuer);
                assert!(location.starts_with(&expected), "{name}: {location}");
            } else {
                assert_eq!(
                    location, "https://app.example.com/signed-in?error=invalid_state",
                    "{name}"
                );
            }
        }
        if *name == "get-user" {
            let Body::Text(body) = response.body() else {
                panic!("{name}: no body")
            };
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body, serde_json::json!({"user": {"id": GRACE_ID}}));
        }
        if route.endpoint == Endpoint::Status {
            // The request id of a Lambda response is API Gateway's.
            let event: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                response.headers()["x-request-id"],
                event["requestContext"]["requestId"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn every_event_file_is_exercised() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        // events/stream/ holds the stream consumer's (tests/stream.rs).
        .filter(|path| path.is_file())
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXPECTED
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .collect();
    listed.sort();
    assert_eq!(files, listed);
}
