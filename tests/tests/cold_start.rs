//! What a Lambda does once per cold start stays there: building the AWS SDK
//! clients and fetching the signing key. Requests, however many, repeat
//! neither. On DynamoDB, SES and KMS in moto, through the same `handle` the
//! Lambda binaries call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey::test_support::{aws_client_sets_built, public_key_fetches};
use latchkey_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn sdk_clients_and_keys_are_built_once_not_per_request() {
    let app = TestApp::on_moto().await;
    let (clients, keys) = (aws_client_sets_built(), public_key_fetches());
    assert_eq!(clients, 1, "one App in this process, one set of clients");
    assert_eq!(
        keys, 1,
        "the signing key's public half, fetched at start-up"
    );

    let email = "cold.start@example.com";
    let password = "correct horse battery staple";
    app.register_confirmed(email, password).await;
    for _ in 0..5 {
        let pair = app.login(email, password).await;
        let access = pair["access_token"].as_str().unwrap();
        assert_eq!(app.token_info(access).await.status(), 200);
        let me = app
            .client
            .get(app.url("/v1/users/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        let refreshed = app.refresh(pair["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refreshed.status(), 200);
    }
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    app.post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;

    assert_eq!(
        aws_client_sets_built(),
        clients,
        "clients rebuilt per request"
    );
    assert_eq!(public_key_fetches(), keys, "the key fetched per request");
}
