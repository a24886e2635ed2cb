//! The first journey a client makes, over real HTTP against `local-api`:
//! register → email → open the link → sign in → the access token verifies
//! against the signer's public key. On the embedded store and on moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use latchkey_tests::TestApp;
use serde_json::{Value, json};

async fn the_first_journey(app: TestApp) {
    let email = format!("Ada.{}@Example.com", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple";

    let response = app
        .post_register(&json!({
            "email": format!("  {email} "), "password": password, "password_confirmation": password,
            "login": "ada_l", "first_name": "Ada", "last_name": "Lovelace", "locale": "en",
        }))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let user = &body["user"];
    let user_id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/users/{user_id}"));
    assert_eq!(user["email"], email.as_str(), "stored as typed, trimmed");
    assert_eq!(user["status"], "waiting");
    assert_eq!(user["email_confirmed"], false);
    assert_eq!(user["full_name"], "Ada Lovelace");
    assert_eq!(body["confirmation_email_sent"], true);

    // Not confirmed yet: the right password is answered 403.
    let response = app
        .post_login(&json!({"login": email, "password": password}))
        .await;
    assert_eq!(response.status(), 403);

    let link = app.confirmation_link(&email).await;
    assert!(
        link.starts_with(&format!("{}/v1/users/confirm/", app.base_url)),
        "{link}"
    );
    for _ in 0..2 {
        // Twice: mail scanners open links before people do.
        let response = app.client.get(&link).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"user_id": user_id, "status": "active"}));
    }

    let response = app
        .post_login(&json!({"email": email.to_uppercase(), "password": password}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pair: Value = response.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 24 * 3600);
    assert_eq!(pair["user_id"], user_id.as_str());
    assert!(pair["refresh_token"].as_str().unwrap().len() > 43);

    // The access token verifies with the published key and nothing else.
    let token = pair["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let algorithm = match app.app.signer.algorithm() {
        latchkey::ports::SigningAlgorithm::RS256 => Algorithm::RS256,
        latchkey::ports::SigningAlgorithm::ES256 => Algorithm::ES256,
    };
    assert_eq!(header.alg, algorithm);
    // The suite's algorithm (LATCHKEY_TEST_SIGNING_ALGORITHM) is the one used.
    assert_eq!(
        format!("{:?}", header.alg),
        latchkey_tests::test_signing_algorithm()
    );
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some(app.app.signer.key_id()));
    let pem = app.app.signer.public_key_pem().as_bytes();
    let key = match algorithm {
        Algorithm::ES256 => DecodingKey::from_ec_pem(pem).unwrap(),
        _ => DecodingKey::from_rsa_pem(pem).unwrap(),
    };
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[app.app.config.token_issuer.as_str()]);
    validation.set_audience(&["latchkey"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert!(claims["sid"].is_string() && claims["jti"].is_string() && claims["scope"].is_string());
    let session_id = latchkey::domain::SessionId::parse(claims["sid"].as_str().unwrap()).unwrap();
    let user = latchkey::domain::UserId::parse(&user_id).unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(
        app.app
            .store
            .get_session(user, session_id, now)
            .await
            .unwrap()
            .is_some(),
        "the session is stored"
    );

    // The login name works too, and remember_me gives the long session.
    let response = app
        .post_login(&json!({"username": "ADA_L", "password": password, "remember_me": true}))
        .await;
    assert_eq!(response.status(), 200);
    let pair: Value = response.json().await.unwrap();
    assert_eq!(pair["refresh_expires_in"], 30 * 24 * 3600);
    let stored = app.app.store.get_user(user).await.unwrap().unwrap();
    assert_eq!(stored.sign_in_count, 2);
    assert!(stored.last_sign_in_at.is_some());

    // Refresh rotates; then logout ends the session for both tokens.
    let old_refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let response = app.refresh(&old_refresh).await;
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    assert_ne!(rotated["refresh_token"], old_refresh.as_str());
    assert_eq!(app.refresh(&old_refresh).await.status(), 401);
    let access = rotated["access_token"].as_str().unwrap();
    assert_eq!(app.token_info(access).await.status(), 200);

    // The profile: read it, change it, see the change.
    let me = |method: reqwest::Method, body: Option<Value>| {
        let mut request = app
            .client
            .request(method, app.url("/v1/users/me"))
            .bearer_auth(access);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let profile = me(reqwest::Method::GET, None).await;
    assert_eq!(profile["user"]["id"], user_id.as_str());
    assert_eq!(profile["user"]["status"], "active");
    assert_eq!(profile["user"]["email_confirmed"], true);
    // Two sign-ins so far: by email, then by login.
    assert_eq!(profile["user"]["sign_in_count"], 2);
    let changed = me(
        reqwest::Method::PATCH,
        Some(json!({"first_name": "Augusta", "profile_is_public": true})),
    )
    .await;
    assert_eq!(changed["user"]["full_name"], "Augusta Lovelace");
    let public: Value = app
        .get(&format!("/v1/users/{user_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["user"]["full_name"], "Augusta Lovelace");
    assert_eq!(public["user"].get("email"), None);

    let response = app
        .client
        .post(app.url("/v1/auth/logout"))
        .bearer_auth(access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.token_info(access).await.status(), 401);
    assert_eq!(
        app.refresh(rotated["refresh_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn the_first_journey_works_on_the_embedded_store() {
    the_first_journey(TestApp::embedded().await).await;
}

#[tokio::test]
async fn the_first_journey_works_on_dynamodb_ses_and_kms_in_moto() {
    the_first_journey(TestApp::on_moto().await).await;
}

#[tokio::test]
async fn es256_tokens_carry_a_64_byte_signature_and_verify() {
    let app = TestApp::embedded_with(&[("SIGNING_ALGORITHM", "ES256")]).await;
    app.register_confirmed("es@example.com", "correct horse battery staple")
        .await;
    let pair: Value = app
        .post_login(&json!({"login": "es@example.com", "password": "correct horse battery staple"}))
        .await
        .json()
        .await
        .unwrap();
    let token = pair["access_token"].as_str().unwrap();
    let signature = token.rsplit('.').next().unwrap();
    assert_eq!(signature.len(), 86, "64 bytes of r||s in base64url");
    let key = DecodingKey::from_ec_pem(app.app.signer.public_key_pem().as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["latchkey"]);
    assert!(jsonwebtoken::decode::<Value>(token, &key, &validation).is_ok());
}

#[tokio::test]
async fn es256_tokens_signed_by_kms_in_moto_verify() {
    let moto = latchkey_tests::moto();
    let sdk = moto.sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id();
    // moto does not implement MessageType=DIGEST, so the raw input is sent.
    let signer = latchkey::adapters::kms::KmsSigner::connect_with(
        kms.clone(),
        key_id,
        latchkey::ports::SigningAlgorithm::ES256,
        true,
    )
    .await
    .unwrap();
    use latchkey::ports::TokenSigner;
    let claims = latchkey::tokens::AccessClaims::for_user(
        "iss",
        "aud",
        latchkey::domain::UserId::new(),
        latchkey::domain::SessionId::new(),
        time::OffsetDateTime::now_utc(),
        std::time::Duration::from_secs(60),
    );
    let token = latchkey::tokens::issue_access_token(&signer, &claims)
        .await
        .unwrap();
    let verifier = latchkey::tokens::TokenVerifier::new(
        &[signer.public_key()],
        "iss",
        "aud",
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).unwrap(), claims);
    // An RSA algorithm on an EC key is refused at start-up, not at signing.
    let wrong = latchkey::adapters::kms::KmsSigner::connect(
        kms,
        key_id,
        latchkey::ports::SigningAlgorithm::RS256,
    )
    .await;
    assert!(wrong.is_err());
}

#[tokio::test]
async fn browsers_opening_the_link_are_redirected_and_api_clients_get_json() {
    let app = TestApp::embedded_with(&[(
        "CONFIRMATION_REDIRECT_URL",
        "https://app.example.com/welcome",
    )])
    .await;
    let response = app
        .post_register(&json!({"email": "b@example.com", "password": "correct horse battery"}))
        .await;
    assert_eq!(response.status(), 201);
    let link = app.confirmation_link("b@example.com").await;

    let browser = |url: String| {
        app.client
            .get(url)
            .header("accept", "text/html,application/xhtml+xml")
    };
    let response = browser(link.clone()).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://app.example.com/welcome?confirmed=true&lang=en"
    );
    assert!(response.headers().contains_key("x-request-id"));
    // Opened again (a mail scanner was first): the same success, said so.
    let response = browser(link.clone()).send().await.unwrap();
    assert_eq!(
        response.headers()["location"],
        "https://app.example.com/welcome?confirmed=already&lang=en"
    );

    let response = browser(format!(
        "{}/v1/users/confirm/{}",
        app.base_url,
        "x".repeat(43)
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://app.example.com/welcome?error=invalid_confirmation_code"
    );

    let xhr = browser(link.clone())
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(xhr.status(), 200);
    assert_eq!(xhr.json::<Value>().await.unwrap()["status"], "active");
}

#[tokio::test]
async fn the_code_can_be_posted_as_json_or_as_a_form() {
    let app = TestApp::embedded().await;
    app.post_register(&json!({"email": "c@example.com", "password": "correct horse battery"}))
        .await;
    let link = app.confirmation_link("c@example.com").await;
    let code = link.rsplit('/').next().unwrap();

    let response = app
        .post_json("/v1/users/confirm", &json!({"code": code}))
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .post(app.url("/v1/users/confirm"))
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app
        .post_json("/v1/users/confirm", &json!({"code": "nope"}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "invalid_confirmation_code"
    );
    let response = app.post_json("/v1/users/confirm", &json!({})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "code");
    assert_eq!(body["errors"][0]["code"], "required");
}

#[tokio::test]
async fn the_outbox_holds_one_rfc_5322_message_with_text_and_html() {
    let app = TestApp::embedded().await;
    app.post_register(
        &json!({"email": "Ru@Example.com", "password": "correct horse battery", "locale": "ru"}),
    )
    .await;
    let files = app.outbox_files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let bytes = std::fs::read(&files[0]).unwrap();
    let message = mail_parser::MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(
        message.to().unwrap().first().unwrap().address().unwrap(),
        "Ru@Example.com"
    );
    assert_eq!(
        message.subject().unwrap(),
        "Подтвердите адрес электронной почты"
    );
    assert!(message.body_text(0).unwrap().contains("/v1/users/confirm/"));
    assert!(message.body_html(0).unwrap().contains("<a href=\""));
    assert!(message.date().is_some() && message.from().is_some());
    // Beside it, the link as it is, to copy out (the .eml's own lines are
    // quoted-printable).
    let link = app.confirmation_link("Ru@Example.com").await;
    let beside = std::fs::read_to_string(files[0].with_extension("link")).unwrap();
    assert_eq!(beside, format!("{link}\n"));
}

#[tokio::test]
async fn state_survives_a_restart_of_local_api() {
    let data_dir = tempfile::tempdir().unwrap();
    let options = || latchkey_local::Options {
        address: "127.0.0.1:0".parse().unwrap(),
        backend: latchkey_local::Backend::Local {
            data_dir: data_dir.path().to_owned(),
        },
        settings: Default::default(),
        read_env: false,
    };
    let first = latchkey_local::start(options()).await.unwrap();
    // No kept-alive connections: they would hold the first server's database open.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = client
        .post(format!("http://{}/v1/users", first.address))
        .json(&json!({"email": "keep@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let kid = first.app.signer.key_id().to_owned();
    first.task.abort();
    let _ = first.task.await;
    drop(first.app);

    // The old server's last connection task may still hold the database for
    // a moment after the abort.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let second = loop {
        match latchkey_local::start(options()).await {
            Ok(server) => break server,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(error) => panic!("{error:#}"),
        }
    };
    assert_eq!(second.app.signer.key_id(), kid, "the signing key is kept");
    let response = client
        .post(format!("http://{}/v1/users", second.address))
        .json(&json!({"email": "KEEP@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        409,
        "the account from before the restart is still there"
    );
}

/// A base URL with a path keeps it in every link and redirect, and the
/// issuer is that base as configured (trailing slash removed once).
#[tokio::test]
async fn a_base_url_with_a_path_keeps_it_in_links_redirects_and_the_issuer() {
    let base = "https://example.com/auth";
    let app = TestApp::embedded_with(&[("PUBLIC_BASE_URL", "https://example.com/auth/")]).await;
    let email = "path@example.com";
    let password = "correct horse battery staple";
    let response = app
        .post_register(&json!({"email": email, "password": password}))
        .await;
    assert_eq!(response.status(), 201);
    let link = app.confirmation_link(email).await;
    assert!(
        link.starts_with(&format!("{base}/v1/users/confirm/")),
        "{link}"
    );
    let code = link.rsplit('/').next().unwrap();
    let response = app
        .client
        .get(app.url(&format!("/v1/users/confirm/{code}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{base}/pages/confirmation?")),
        "{location}"
    );
    app.post_json("/v1/password/forgot", &json!({"email": email}))
        .await;
    let reset = app.reset_link(email).await;
    assert!(
        reset.starts_with(&format!("{base}/pages/reset-password?")),
        "{reset}"
    );

    let pair = app.login(email, password).await;
    let token = pair["access_token"].as_str().unwrap();
    assert_eq!(latchkey_tests::jwt_part(token, 1)["iss"], base);
    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], base);
}
