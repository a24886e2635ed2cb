//! Forged and misused tokens are refused with `401 invalid_token` and a
//! Bearer challenge, never a 5xx. Each forgery is built here, on the claims
//! of a live session, so nothing but the forgery can be the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::adapters::local_key::LocalKeySigner;
use latchkey::ports::{SigningAlgorithm, TokenSigner};
use latchkey_tests::TestApp;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// One more header member, for forgeries that need two.
trait TapExtra {
    fn tap_extra(self, name: &str, value: Value) -> Value;
}

impl TapExtra for Value {
    fn tap_extra(mut self, name: &str, value: Value) -> Value {
        self[name] = value;
        self
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A compact JWS with any header and claims, signed by `signer`.
async fn signed(signer: &dyn TokenSigner, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = signer.sign(input.as_bytes()).await.unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn forgeries_are_refused(algorithm: &str) {
    let app = TestApp::embedded_with(&[("SIGNING_ALGORITHM", algorithm)]).await;
    app.register_confirmed("target@example.com", PASSWORD).await;
    let pair = app.login("target@example.com", PASSWORD).await;
    let genuine = pair["access_token"].as_str().unwrap().to_owned();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(genuine.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let signer = app.app.signer.as_ref();
    let header = json!({"alg": algorithm, "typ": "at+jwt", "kid": signer.key_id()});
    assert_eq!(
        app.token_info(&signed(signer, &header, &claims).await)
            .await
            .status(),
        200,
        "the baseline verifies"
    );

    let with_claim = |name: &str, value: Value| {
        let mut changed = claims.clone();
        changed[name] = value;
        changed
    };
    let with_header = |name: &str, value: Value| {
        let mut changed = header.clone();
        changed[name] = value;
        changed
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let other_algorithm = if algorithm == "RS256" {
        SigningAlgorithm::ES256
    } else {
        SigningAlgorithm::RS256
    };
    let folder = tempfile::tempdir().unwrap();
    let swapped =
        LocalKeySigner::load_or_create(&folder.path().join("other.pem"), other_algorithm).unwrap();
    let stranger = LocalKeySigner::load_or_create(
        &folder.path().join("stranger.pem"),
        if algorithm == "RS256" {
            SigningAlgorithm::RS256
        } else {
            SigningAlgorithm::ES256
        },
    )
    .unwrap();
    let hmac_with_public_key = {
        let key = jsonwebtoken::EncodingKey::from_secret(signer.public_key_pem().as_bytes());
        let mut hmac_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hmac_header.typ = Some("at+jwt".to_owned());
        hmac_header.kid = Some(signer.key_id().to_owned());
        jsonwebtoken::encode(&hmac_header, &claims, &key).unwrap()
    };
    let jwk = json!({"kty": "oct", "k": "c2VjcmV0"});

    let forgeries: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&with_header("alg", json!("none"))),
                b64(&claims)
            ),
        ),
        ("alg none, genuine signature kept", {
            let parts: Vec<&str> = genuine.split('.').collect();
            format!(
                "{}.{}.{}",
                b64(&with_header("alg", json!("none"))),
                parts[1],
                parts[2]
            )
        }),
        ("HMAC keyed with the public key", hmac_with_public_key),
        (
            "algorithm swap",
            signed(
                &swapped,
                &with_header("alg", json!(swapped.algorithm().as_str())),
                &claims,
            )
            .await,
        ),
        (
            "embedded jwk",
            signed(signer, &with_header("jwk", jwk.clone()), &claims).await,
        ),
        (
            "jku",
            signed(
                signer,
                &with_header("jku", json!("https://evil.example/jwks.json")),
                &claims,
            )
            .await,
        ),
        (
            "x5u",
            signed(
                signer,
                &with_header("x5u", json!("https://evil.example/cert.pem")),
                &claims,
            )
            .await,
        ),
        (
            "x5c",
            signed(signer, &with_header("x5c", json!(["MIIB"])), &claims).await,
        ),
        (
            // RFC 7515 §4.1.11: an extension we do not implement is critical.
            "crit naming an unknown extension",
            signed(
                signer,
                &with_header("crit", json!(["exp-v2"])).tap_extra("exp-v2", json!(1)),
                &claims,
            )
            .await,
        ),
        (
            "a lifetime longer than ACCESS_TOKEN_TTL_SECONDS allows",
            signed(
                signer,
                &header,
                &with_claim("exp", json!(claims["iat"].as_i64().unwrap() + 900 + 3600)),
            )
            .await,
        ),
        (
            "unknown kid",
            signed(signer, &with_header("kid", json!("someone-else")), &claims).await,
        ),
        (
            "no kid",
            signed(signer, &json!({"alg": algorithm, "typ": "at+jwt"}), &claims).await,
        ),
        (
            "another key under our kid",
            signed(&stranger, &header, &claims).await,
        ),
        (
            "typ JWT",
            signed(signer, &with_header("typ", json!("JWT")), &claims).await,
        ),
        (
            "wrong issuer",
            signed(
                signer,
                &header,
                &with_claim("iss", json!("https://evil.example")),
            )
            .await,
        ),
        (
            "wrong audience",
            signed(signer, &header, &with_claim("aud", json!("someone-else"))).await,
        ),
        (
            "expired",
            signed(signer, &header, &with_claim("exp", json!(now - 120))).await,
        ),
        (
            "not yet valid",
            signed(signer, &header, &with_claim("nbf", json!(now + 600))).await,
        ),
        ("no exp", {
            let mut changed = claims.clone();
            changed.as_object_mut().unwrap().remove("exp");
            signed(signer, &header, &changed).await
        }),
        ("trailing garbage", format!("{genuine}x")),
        ("extra segment", format!("{genuine}.e30")),
        ("tampered claims", {
            let parts: Vec<&str> = genuine.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&with_claim(
                    "sub",
                    json!("01a2015c-0000-7000-8000-000000000000")
                )),
                parts[2]
            )
        }),
        (
            "refresh token as bearer",
            pair["refresh_token"].as_str().unwrap().to_owned(),
        ),
        (
            "confirmation code as bearer",
            latchkey::secrets::OneTimeCode::generate()
                .as_str()
                .to_owned(),
        ),
        ("empty", String::new()),
        ("not base64", "%%%.%%%.%%%".to_owned()),
    ];
    for (what, token) in forgeries {
        let response = app
            .client
            .get(app.url("/v1/auth/token-info"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            401,
            "{algorithm}: {what} was not refused"
        );
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
            "{what}: {challenge}"
        );
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "invalid_token",
            "{what}"
        );
    }
}

#[tokio::test]
async fn rs256_forgeries_are_refused() {
    forgeries_are_refused("RS256").await;
}

#[tokio::test]
async fn es256_forgeries_are_refused() {
    forgeries_are_refused("ES256").await;
}
