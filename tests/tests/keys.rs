//! Published keys and what verifies against them: the JWKS and PEM agree,
//! hold nothing private, and keys being retired keep verifying while
//! unknown keys do not. For RS256 and ES256 alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use latchkey::adapters::local_key::LocalKeySigner;
use latchkey::ports::{SigningAlgorithm, TokenSigner};
use latchkey::tokens::{AccessClaims, issue_access_token};
use latchkey_tests::TestApp;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

fn algorithm_of(name: &str) -> (SigningAlgorithm, jsonwebtoken::Algorithm) {
    match name {
        "RS256" => (SigningAlgorithm::RS256, jsonwebtoken::Algorithm::RS256),
        _ => (SigningAlgorithm::ES256, jsonwebtoken::Algorithm::ES256),
    }
}

/// The claims of a live session, so a token re-signed with them passes the
/// session check and only the key decides.
async fn live_claims(app: &TestApp) -> AccessClaims {
    app.register_confirmed("keys@example.com", PASSWORD).await;
    let pair = app.login("keys@example.com", PASSWORD).await;
    serde_json::from_value(latchkey_tests::jwt_part(
        pair["access_token"].as_str().unwrap(),
        1,
    ))
    .unwrap()
}

async fn the_published_keys_agree_and_retiring_keys_still_verify(name: &str) {
    let (algorithm, jwt_algorithm) = algorithm_of(name);
    let data_dir = tempfile::tempdir().unwrap();
    let retiring_path = data_dir.path().join("retiring.pem");
    let retiring = LocalKeySigner::load_or_create(&retiring_path, algorithm).unwrap();
    let unknown =
        LocalKeySigner::load_or_create(&data_dir.path().join("unknown.pem"), algorithm).unwrap();
    let app = TestApp::embedded_in(
        data_dir,
        &[
            ("SIGNING_ALGORITHM", name),
            ("PREVIOUS_SIGNING_KEYS", retiring_path.to_str().unwrap()),
        ],
    )
    .await;

    // The PEM is the current key.
    let response = app.get("/v1/auth/public-key").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-pem-file");
    let pem = response.text().await.unwrap();
    assert_eq!(pem, app.app.signer.public_key_pem());
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));

    // The JWKS: current first, then the retiring key, public members only.
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], app.app.signer.key_id());
    assert_eq!(keys[1]["kid"], retiring.key_id());
    for key in keys {
        assert_eq!(key["alg"], name);
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();

    // A token signed by the current key verifies with the JWK and the PEM alike.
    let claims = live_claims(&app).await;
    let current = issue_access_token(app.app.signer.as_ref(), &claims)
        .await
        .unwrap();
    let mut validation = Validation::new(jwt_algorithm);
    validation.set_audience(&[claims.aud.as_str()]);
    let from_jwk = DecodingKey::from_jwk(set.find(app.app.signer.key_id()).unwrap()).unwrap();
    let from_pem = match algorithm {
        SigningAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        SigningAlgorithm::ES256 => DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    };
    assert!(jsonwebtoken::decode::<Value>(&current, &from_jwk, &validation).is_ok());
    assert!(jsonwebtoken::decode::<Value>(&current, &from_pem, &validation).is_ok());

    // The retiring key still verifies at the API; an unknown key does not.
    let old = issue_access_token(&retiring, &claims).await.unwrap();
    assert_eq!(app.token_info(&old).await.status(), 200);
    let foreign = issue_access_token(&unknown, &claims).await.unwrap();
    assert_eq!(app.token_info(&foreign).await.status(), 401);
    assert_eq!(app.token_info(&current).await.status(), 200);

    let discovery: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], app.app.config.token_issuer.as_str());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base_url)
    );
    assert_eq!(
        discovery["token_endpoint"],
        format!("{}/v1/auth/token", app.base_url)
    );
}

#[tokio::test]
async fn rs256_published_keys_agree_and_retiring_keys_still_verify() {
    the_published_keys_agree_and_retiring_keys_still_verify("RS256").await;
}

#[tokio::test]
async fn es256_published_keys_agree_and_retiring_keys_still_verify() {
    the_published_keys_agree_and_retiring_keys_still_verify("ES256").await;
}

#[tokio::test]
async fn the_jwks_of_a_kms_key_in_moto_verifies_its_tokens() {
    let app = TestApp::on_moto().await;
    let claims = live_claims(&app).await;
    let token = issue_access_token(app.app.signer.as_ref(), &claims)
        .await
        .unwrap();
    let set: JwkSet = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let key = DecodingKey::from_jwk(set.find(app.app.signer.key_id()).unwrap()).unwrap();
    let (_, algorithm) = algorithm_of(app.app.signer.algorithm().as_str());
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[claims.aud.as_str()]);
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_ok());
}

/// Verified tokens are remembered, but only their signature check is: a
/// token accepted a moment ago is refused once it expires, and a token
/// that differs from an accepted one in any byte is checked afresh.
#[tokio::test]
async fn a_remembered_token_still_expires_and_a_changed_one_is_checked_afresh() {
    let app = TestApp::embedded().await;
    let mut claims = live_claims(&app).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Inside the 30 s leeway for about two seconds more.
    claims.exp = now - 28;
    claims.iat = claims.exp - 60;
    claims.nbf = claims.iat;
    let token = issue_access_token(app.app.signer.as_ref(), &claims)
        .await
        .unwrap();
    assert!(app.app.verifier.verify(&token).is_ok());
    assert_eq!(app.token_info(&token).await.status(), 200);

    // The same claims under a flipped signature bit: not the remembered token.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert!(app.app.verifier.verify(&forged).is_err());
    assert_eq!(app.token_info(&forged).await.status(), 401);

    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert!(app.app.verifier.verify(&token).is_err());
    assert_eq!(app.token_info(&token).await.status(), 401);
}
