//! The logs of a whole journey, in the Lambda (JSON) format, on the
//! production adapters (DynamoDB, SES and KMS in moto): one line per request
//! with its id, route, status and latency, and not one of the passwords,
//! tokens, codes or addresses the journey used.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use latchkey_tests::TestApp;
use latchkey_tests::oidc::{Person, Tamper, TestProvider};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the journey must never see logged, with a name for the failure.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, name: &str, value: &str) {
        assert!(value.len() >= 8, "{name} is too short to search for");
        self.0.push((name.to_owned(), value.to_owned()));
    }

    fn add_pair(&mut self, name: &str, pair: &Value) {
        let access = pair["access_token"].as_str().unwrap();
        self.add(&format!("{name} access token"), access);
        // The signature alone would be a leak too.
        self.add(
            &format!("{name} access token signature"),
            access.rsplit('.').next().unwrap(),
        );
        self.add(
            &format!("{name} refresh token"),
            pair["refresh_token"].as_str().unwrap(),
        );
    }
}

async fn send(requests: &mut usize, request: reqwest::RequestBuilder) -> Value {
    *requests += 1;
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{} {}",
        response.status(),
        response.url()
    );
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_journey_logs_one_line_per_request_and_none_of_its_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    latchkey::telemetry::init_json_to(move || writer.clone());

    // A provider to sign in with too (its client secret in moto).
    let provider = TestProvider::start().await;
    let secret_arn = provider.client_secret_in_moto().await;
    let providers = json!([provider.entry("op", &secret_arn)]).to_string();
    let app_return = "https://app.example.com/signed-in";
    let app = TestApp::on_moto_with(&[
        ("OIDC_PROVIDERS", &providers),
        ("OIDC_REDIRECT_ALLOWLIST", app_return),
    ])
    .await;
    let client = &app.client;
    let mut secrets = Secrets::default();
    let mut requests = 0;
    let email = format!("logs.{}@example.com", uuid::Uuid::new_v4().simple());
    let first = "correct horse battery staple";
    let second = "a brand new battery staple";
    let third = "yet another battery staple";
    let wrong = "not my password at all";
    secrets.add("email", &email);
    for (name, password) in [
        ("password", first),
        ("reset password", second),
        ("changed password", third),
        ("wrong password", wrong),
    ] {
        secrets.add(name, password);
    }

    let url = |path: &str| app.url(path);
    send(
        &mut requests,
        client
            .post(url("/v1/users"))
            .json(&json!({"email": email, "password": first})),
    )
    .await;
    let link = app.confirmation_link(&email).await;
    secrets.add("confirmation code", link.rsplit('/').next().unwrap());
    send(&mut requests, client.get(&link)).await;

    let login = |password: &str| {
        client
            .post(url("/v1/auth/login"))
            .json(&json!({"login": email, "password": password}))
    };
    let pair = send(&mut requests, login(first)).await;
    secrets.add_pair("first", &pair);
    send(
        &mut requests,
        client
            .get(url("/v1/users/me"))
            .bearer_auth(pair["access_token"].as_str().unwrap()),
    )
    .await;
    let refreshed = send(
        &mut requests,
        client
            .post(url("/v1/auth/refresh"))
            .json(&json!({"refresh_token": pair["refresh_token"]})),
    )
    .await;
    secrets.add_pair("refreshed", &refreshed);

    send(
        &mut requests,
        client
            .post(url("/v1/password/forgot"))
            .json(&json!({ "email": email })),
    )
    .await;
    let reset_token = app.reset_token(&email).await;
    secrets.add("reset code", &reset_token);
    send(
        &mut requests,
        client
            .post(url("/v1/password/reset"))
            .json(&json!({"token": reset_token, "password": second})),
    )
    .await;

    // A failure is logged too, and must not carry what was tried.
    requests += 1;
    assert_eq!(login(wrong).send().await.unwrap().status(), 401);

    let pair = send(&mut requests, login(second)).await;
    secrets.add_pair("after reset", &pair);
    let bearer = pair["access_token"].as_str().unwrap().to_owned();
    requests += 1;
    let changed = client
        .post(url("/v1/users/me/password"))
        .bearer_auth(&bearer)
        .json(&json!({"current_password": second, "new_password": third}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    requests += 1;
    let logout = client
        .post(url("/v1/auth/logout"))
        .bearer_auth(&bearer)
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);

    // A sign-in with the provider, then one whose ID token carries another
    // nonce (a refusal, logged with its reason): none of the codes, states,
    // verifiers, nonces or tokens on the way is logged.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    secrets.add("client secret", &provider.client_secret);
    let federated = email.replace("logs.", "logs.fed.");
    provider.sign_in_as(Person::verified("logs-subject", &federated));
    for tampered in [false, true] {
        if tampered {
            provider.tamper(Tamper {
                nonce: Some("a-nonce-nobody-sent".to_owned()),
                ..Tamper::default()
            });
        }
        let verifier = format!("verifier-{}", uuid::Uuid::new_v4().simple());
        secrets.add("code verifier", &verifier);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let hop = |response: reqwest::Response| {
            assert_eq!(response.status(), 302);
            url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
        };
        requests += 1;
        let at_provider = hop(browser
            .get(url(&format!(
                "/v1/auth/oidc/op/authorize?redirect_uri={app_return}&code_challenge={challenge}"
            )))
            .send()
            .await
            .unwrap());
        let callback = hop(browser.get(at_provider).send().await.unwrap());
        for (name, value) in callback.query_pairs() {
            secrets.add(&format!("provider's {name}"), &value);
        }
        let asked = provider.authorizations().pop().unwrap();
        secrets.add("nonce", &asked["nonce"]);
        secrets.add("our PKCE challenge", &asked["code_challenge"]);
        requests += 1;
        let back = hop(browser.get(callback).send().await.unwrap());
        if tampered {
            assert!(back.as_str().contains("error=invalid_id_token"), "{back}");
            continue;
        }
        let code = back
            .query_pairs()
            .find(|(name, _)| name == "code")
            .unwrap()
            .1
            .into_owned();
        secrets.add("one-time code", &code);
        let pair = send(
            &mut requests,
            client
                .post(url("/v1/auth/oidc/token"))
                .json(&json!({"code": code, "code_verifier": verifier})),
        )
        .await;
        secrets.add_pair("provider sign-in", &pair);
    }
    for token in provider.issued_tokens() {
        secrets.add("provider's token", &token);
    }
    secrets.add("provider's address", &federated);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for (name, secret) in &secrets.0 {
        assert!(
            !logs.contains(secret.as_str()),
            "the logs hold the {name}:\n{logs}"
        );
    }

    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let request_lines: Vec<&Value> = lines
        .iter()
        .map(|line| &line["fields"])
        .filter(|fields| fields["message"] == "request")
        .collect();
    assert_eq!(
        request_lines.len(),
        requests,
        "one line per request:\n{logs}"
    );
    for fields in &request_lines {
        assert!(
            fields["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
        assert!(
            fields["route"]
                .as_str()
                .is_some_and(|route| route.contains(' '))
        );
        assert!(fields["status"].as_u64().is_some());
        assert!(fields["latency_ms"].as_f64().is_some());
    }
    // Routes are logged as templates, so path parameters stay out.
    assert!(
        request_lines
            .iter()
            .any(|fields| fields["route"] == "GET /v1/users/confirm/{code}")
    );

    // Every line logged while serving a request, the services' own lines
    // included, carries that request's id and route in its span, so the
    // lines of concurrent requests can be told apart.
    let request_ids: std::collections::HashSet<&str> = request_lines
        .iter()
        .map(|fields| fields["request_id"].as_str().unwrap())
        .collect();
    let in_requests: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("span").is_some())
        .collect();
    for message in ["request", "email confirmed"] {
        assert!(
            in_requests
                .iter()
                .any(|line| line["fields"]["message"] == message),
            "no {message:?} line inside a request span:\n{logs}"
        );
    }
    for line in &in_requests {
        let span = &line["span"];
        assert_eq!(span["name"], "request", "{line}");
        assert!(
            span["request_id"]
                .as_str()
                .is_some_and(|id| request_ids.contains(id)),
            "{line}"
        );
        assert!(
            span["route"]
                .as_str()
                .is_some_and(|route| route.contains(' '))
        );
        if line["fields"]["message"] == "request" {
            assert_eq!(span["request_id"], line["fields"]["request_id"]);
        }
    }
}
