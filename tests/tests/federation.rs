//! Sign-in with another provider, against the test OpenID Provider
//! (latchkey_tests::oidc), on the embedded store and on DynamoDB in moto
//! (where the client secret comes from moto's Secrets Manager): the whole
//! flow, account linking rules, and every way the flow can be abused
//! (tampered or replayed state, wrong nonce or audience, expired ID token,
//! a replayed one-time code, a wrong PKCE verifier, a foreign redirect).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_tests::oidc::{Person, Tamper, TestProvider};
use latchkey_tests::{TestApp, jwt_part};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

const PROVIDER: &str = "test";
const APP_RETURN: &str = "https://app.example/signed-in";
const PASSWORD: &str = "correct horse battery staple";

struct Setup {
    app: TestApp,
    provider: TestProvider,
    /// Follows no redirect: each hop is looked at.
    browser: reqwest::Client,
}

fn settings(provider: &TestProvider, arn: &str) -> (String, String) {
    (
        json!([provider.entry(PROVIDER, arn)]).to_string(),
        APP_RETURN.to_owned(),
    )
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The embedded store, the client secret in the data folder's
/// `secrets.json` (Secrets Manager's stand-in).
async fn embedded() -> Setup {
    embedded_with(&[]).await
}

async fn embedded_with(extra: &[(&str, &str)]) -> Setup {
    let provider = TestProvider::start().await;
    let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:oidc-test";
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join(latchkey_local::PROVIDER_SECRETS_FILE),
        json!({ arn: provider.client_secret }).to_string(),
    )
    .unwrap();
    let (providers, allowlist) = settings(&provider, arn);
    let mut pairs = vec![
        ("OIDC_PROVIDERS", providers.as_str()),
        ("OIDC_REDIRECT_ALLOWLIST", allowlist.as_str()),
    ];
    pairs.extend_from_slice(extra);
    let app = TestApp::embedded_in(folder, &pairs).await;
    Setup {
        app,
        provider,
        browser: browser(),
    }
}

/// DynamoDB in moto, the client secret in moto's Secrets Manager.
async fn on_moto() -> Setup {
    on_moto_with(&[]).await
}

async fn on_moto_with(extra: &[(&str, &str)]) -> Setup {
    let provider = TestProvider::start().await;
    let arn = provider.client_secret_in_moto().await;
    let (providers, allowlist) = settings(&provider, &arn);
    let mut pairs = vec![
        ("OIDC_PROVIDERS", providers.as_str()),
        ("OIDC_REDIRECT_ALLOWLIST", allowlist.as_str()),
    ];
    pairs.extend_from_slice(extra);
    let app = TestApp::on_moto_with(&pairs).await;
    Setup {
        app,
        provider,
        browser: browser(),
    }
}

/// An app's PKCE pair: the verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!("verifier-{}", uuid::Uuid::new_v4().simple());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn location(response: &reqwest::Response) -> Url {
    assert_eq!(
        response.status(),
        302,
        "not a redirect: {}",
        response.status()
    );
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

impl Setup {
    fn authorize_path(&self, challenge: &str) -> String {
        format!(
            "/v1/auth/oidc/{PROVIDER}/authorize?redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=app-state",
            urlencode(APP_RETURN)
        )
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.browser.get(url).send().await.unwrap()
    }

    /// From our authorize to the provider and back to our callback: the
    /// callback URL the provider sent the browser to.
    async fn to_callback(&self, challenge: &str) -> Url {
        let at_provider = location(
            &self
                .get(&self.app.url(&self.authorize_path(challenge)))
                .await,
        );
        location(&self.get(at_provider.as_str()).await)
    }

    /// The whole browser part: where the app is sent back to.
    async fn back_at_app(&self, challenge: &str) -> Url {
        let callback = self.to_callback(challenge).await;
        location(&self.get(callback.as_str()).await)
    }

    async fn redeem(&self, code: &str, verifier: &str) -> (u16, Value) {
        self.app
            .call(
                Method::POST,
                "/v1/auth/oidc/token",
                None,
                json!({"code": code, "code_verifier": verifier}),
            )
            .await
    }

    /// Signs in through the provider as whoever it signs in now: the token
    /// pair.
    async fn sign_in(&self) -> Value {
        let (verifier, challenge) = pkce();
        let back = self.back_at_app(&challenge).await;
        let answer = query(&back);
        let code = answer
            .get("code")
            .unwrap_or_else(|| panic!("no code: {back}"));
        let (status, pair) = self.redeem(code, &verifier).await;
        assert_eq!(status, 200, "{pair}");
        pair
    }

    /// The `error` the app is sent back with.
    async fn refusal(&self) -> String {
        let (_, challenge) = pkce();
        let back = self.back_at_app(&challenge).await;
        assert_eq!(back.as_str().split('?').next(), Some(APP_RETURN));
        let answer = query(&back);
        assert_eq!(answer.get("state").map(String::as_str), Some("app-state"));
        assert!(!answer.contains_key("code"), "{back}");
        answer
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("no error: {back}"))
    }

    async fn me(&self, pair: &Value) -> Value {
        let (status, me) = self
            .app
            .call(
                Method::GET,
                "/v1/users/me",
                Some(pair["access_token"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(status, 200);
        me
    }

    async fn identities(&self, token: &str) -> Vec<Value> {
        let (status, body) = self
            .app
            .call(
                Method::GET,
                "/v1/users/me/identities",
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["identities"].as_array().unwrap().clone()
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

fn email() -> String {
    format!("fed.{}@example.com", uuid::Uuid::new_v4().simple())
}

fn subject() -> String {
    format!("sub-{}", uuid::Uuid::new_v4().simple())
}

/// A person new here gets an active account with the provider's confirmed
/// address and no password; the token says `fed`; the code is good once;
/// the next sign-in finds the same account.
async fn a_new_person_gets_an_account_and_a_federated_token(s: Setup) {
    let address = email();
    s.provider
        .sign_in_as(Person::verified(&subject(), &address));
    let (verifier, challenge) = pkce();
    let back = s.back_at_app(&challenge).await;
    let answer = query(&back);
    assert_eq!(answer["state"], "app-state");
    let code = &answer["code"];
    let (status, pair) = s.redeem(code, &verifier).await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(access(&pair), 1);
    assert_eq!(claims["amr"], json!(["fed"]));
    assert_eq!(claims["aal"], 1);
    assert!(claims["auth_time"].is_i64());
    // The code is spent.
    let (status, body) = s.redeem(code, &verifier).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_grant"))
    );

    // What the provider was asked: our own state, nonce and S256 PKCE, not
    // the app's.
    let asked = s.provider.authorizations().pop().unwrap();
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_ne!(asked["code_challenge"], challenge);
    assert_ne!(asked["state"], "app-state");
    assert!(asked["nonce"].len() >= 43);
    assert!(asked["scope"].split(' ').any(|scope| scope == "openid"));

    let me = s.me(&pair).await;
    let user = &me["user"];
    assert_eq!(user["email"], address);
    assert_eq!(user["email_confirmed"], true);
    assert_eq!(user["status"], "active");
    assert_eq!(user["first_name"], "Ada");
    let identities = s.identities(access(&pair)).await;
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["provider"], PROVIDER);
    assert_eq!(identities[0]["email"], format!("f***@example.com"));

    let (status, export) = s
        .app
        .call(
            Method::GET,
            "/v1/users/me/export",
            Some(access(&pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(export["identities"], json!(identities));

    // No password opens it: the same answer as a wrong one.
    let response = s
        .app
        .post_login(&json!({"login": address, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 401);

    let again = s.sign_in().await;
    assert_eq!(again["user_id"], pair["user_id"]);
    let (_, log) = s
        .app
        .call(
            Method::GET,
            "/v1/users/me/events",
            Some(access(&again)),
            json!({}),
        )
        .await;
    let kinds: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    // The password try is logged as the failure it was.
    assert_eq!(
        kinds,
        [
            "sign_in",
            "sign_in_failed",
            "sign_in",
            "identity_linked",
            "registered"
        ]
    );
    let first_sign_in = &log["events"][2];
    assert_eq!(first_sign_in["detail"]["amr"], "fed");
}

/// An account whose address is confirmed here joins the identity when the
/// provider vouches for the same address; an unverified address links
/// nothing and makes nothing.
async fn a_confirmed_account_is_linked_by_a_verified_address_only(s: Setup) {
    let address = email();
    s.app.register_confirmed(&address, PASSWORD).await;
    let owner = s.app.login(&address, PASSWORD).await;

    s.provider.sign_in_as(Person {
        email_verified: false,
        ..Person::verified(&subject(), &address)
    });
    assert_eq!(s.refusal().await, "email_not_verified");
    assert!(s.identities(access(&owner)).await.is_empty());

    s.provider
        .sign_in_as(Person::verified(&subject(), &address));
    let pair = s.sign_in().await;
    assert_eq!(pair["user_id"], owner["user_id"]);
    assert_eq!(s.identities(access(&owner)).await.len(), 1);
    // The password still works.
    s.app.login(&address, PASSWORD).await;
}

/// A password change between the provider's return and the app's trade of
/// the code ends every other session, and the one the code would open:
/// the code is refused. A code issued after the change works.
async fn a_password_change_before_the_trade_kills_the_code(s: Setup) {
    let address = email();
    s.app.register_confirmed(&address, PASSWORD).await;
    let owner = s.app.login(&address, PASSWORD).await;
    s.provider
        .sign_in_as(Person::verified(&subject(), &address));
    let (verifier, challenge) = pkce();
    let code = query(&s.back_at_app(&challenge).await)["code"].clone();

    let new_password = "a brand new passphrase";
    let (status, body) = s
        .app
        .call(
            Method::POST,
            "/v1/users/me/password",
            Some(access(&owner)),
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let (status, body) = s.redeem(&code, &verifier).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_grant"))
    );
    let pair = s.sign_in().await;
    assert_eq!(pair["user_id"], owner["user_id"]);
}

/// A waiting account nobody confirmed does not get the identity (whoever
/// made it knows its password): the provider's proof of the address wins
/// and the squatter's account goes.
async fn an_unconfirmed_account_is_not_linked_but_replaced(s: Setup) {
    let address = email();
    let response = s
        .app
        .post_register(&json!({"email": address, "password": "squatter horse battery"}))
        .await;
    assert_eq!(response.status(), 201);
    let squatter: Value = response.json().await.unwrap();
    s.provider
        .sign_in_as(Person::verified(&subject(), &address));
    let pair = s.sign_in().await;
    assert_ne!(pair["user_id"], squatter["user"]["id"]);
    let response = s
        .app
        .post_login(&json!({"login": address, "password": "squatter horse battery"}))
        .await;
    assert_eq!(response.status(), 401);
}

/// A state changed on the way, replayed, or for another provider sends the
/// browser back with `invalid_state`; one that names no allowed app is a
/// 400, with nowhere to be sent.
async fn tampered_and_replayed_states_are_refused(s: Setup) {
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let (_, challenge) = pkce();
    let callback = s.to_callback(&challenge).await;
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .map(|(name, value)| {
            let value = if name == "state" {
                format!("{value}x")
            } else {
                value
            };
            (name, value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let back = location(&s.get(tampered.as_str()).await);
    assert_eq!(query(&back)["error"], "invalid_state");
    assert!(!query(&back).contains_key("code"));

    // The real answer still works once, then not again.
    let back = location(&s.get(callback.as_str()).await);
    assert!(query(&back).contains_key("code"), "{back}");
    let replayed = location(&s.get(callback.as_str()).await);
    assert_eq!(query(&replayed)["error"], "invalid_state");

    // A state whose app is not on the list: nowhere to go.
    let response = s
        .get(&s.app.url(&format!(
            "/v1/auth/oidc/{PROVIDER}/callback?state=7.abc&code=x"
        )))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_state");
    let response = s
        .get(&s.app.url("/v1/auth/oidc/other/callback?state=0.abc&code=x"))
        .await;
    assert_eq!(response.status(), 404);
}

/// An ID token with another nonce, for another audience (or issued to
/// another client that lists ours too), or expired is refused with `invalid_id_token`, and no account or identity is made.
async fn id_tokens_with_a_wrong_nonce_audience_party_or_expiry_are_refused(s: Setup) {
    let person = Person::verified(&subject(), &email());
    s.provider.sign_in_as(person.clone());
    for tamper in [
        Tamper {
            nonce: Some("another-nonce".to_owned()),
            ..Tamper::default()
        },
        Tamper {
            audience: Some("another-client".to_owned()),
            ..Tamper::default()
        },
        Tamper {
            authorized_party: Some("another-client".to_owned()),
            ..Tamper::default()
        },
        Tamper {
            expired: true,
            ..Tamper::default()
        },
    ] {
        s.provider.tamper(tamper.clone());
        assert_eq!(s.refusal().await, "invalid_id_token", "{tamper:?}");
    }
    let response = s
        .app
        .get(&format!(
            "/v1/users/exists?email={}",
            urlencode(person.email.as_deref().unwrap())
        ))
        .await;
    let exists: Value = response.json().await.unwrap();
    assert_eq!(exists["exists"], false, "no account was made");

    s.provider.tamper(Tamper {
        error: Some("access_denied".to_owned()),
        ..Tamper::default()
    });
    assert_eq!(s.refusal().await, "access_denied");
    s.provider.tamper(Tamper {
        error: Some("temporarily_unavailable".to_owned()),
        ..Tamper::default()
    });
    assert_eq!(s.refusal().await, "provider_error");
}

/// Our code is worth nothing without the app's verifier, and is spent by
/// the first try; two apps racing with one code: one wins.
async fn the_code_needs_the_apps_verifier_and_is_good_once(s: Setup) {
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let (verifier, challenge) = pkce();
    let code = query(&s.back_at_app(&challenge).await)["code"].clone();
    let (status, body) = s.redeem(&code, "another-verifier").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = s.redeem(&code, &verifier).await;
    assert_eq!(status, 400, "a wrong try spends the code");

    let (verifier, challenge) = pkce();
    let code = query(&s.back_at_app(&challenge).await)["code"].clone();
    let (first, second) = tokio::join!(s.redeem(&code, &verifier), s.redeem(&code, &verifier));
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
}

/// The flow cannot start toward an address off the list, without an S256
/// challenge, or for a provider that is not configured.
async fn authorize_refuses_what_it_cannot_honour(s: Setup) {
    let (_, challenge) = pkce();
    let cases = [
        (
            format!(
                "/v1/auth/oidc/{PROVIDER}/authorize?redirect_uri={}&code_challenge={challenge}",
                urlencode("https://evil.example/signed-in")
            ),
            400,
            "invalid_request",
            Some("redirect_uri"),
        ),
        (
            format!(
                "/v1/auth/oidc/{PROVIDER}/authorize?redirect_uri={}",
                urlencode(APP_RETURN)
            ),
            400,
            "invalid_request",
            Some("code_challenge"),
        ),
        (
            format!(
                "/v1/auth/oidc/{PROVIDER}/authorize?redirect_uri={}&code_challenge={challenge}&code_challenge_method=plain",
                urlencode(APP_RETURN)
            ),
            400,
            "invalid_request",
            Some("code_challenge_method"),
        ),
        (
            format!(
                "/v1/auth/oidc/{PROVIDER}/authorize?redirect_uri={}&code_challenge=short",
                urlencode(APP_RETURN)
            ),
            400,
            "invalid_request",
            Some("code_challenge"),
        ),
        (
            format!(
                "/v1/auth/oidc/nobody/authorize?redirect_uri={}&code_challenge={challenge}",
                urlencode(APP_RETURN)
            ),
            404,
            "provider_not_found",
            None,
        ),
    ];
    for (path, status, code, field) in cases {
        let response = s.get(&s.app.url(&path)).await;
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{path}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["field"], field, "{path}");
        }
    }
}

/// Starts from one client IP are counted (each keeps a flight item for ten
/// minutes): past `OIDC_START_LIMIT_PER_IP` the answer is `429` with
/// `Retry-After`, and no redirect to the provider.
async fn sign_in_starts_from_one_ip_are_limited(s: Setup) {
    latchkey_tests::within_one_window(300, std::time::Duration::from_secs(60)).await;
    let (_, challenge) = pkce();
    let path = s.app.url(&s.authorize_path(&challenge));
    let allowed: usize = START_LIMIT.1.split('/').next().unwrap().parse().unwrap();
    for _ in 0..allowed {
        let response = s.get(&path).await;
        assert_eq!(response.status(), 302);
    }
    let refused = s.get(&path).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("location").is_none());
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

/// The provider rotates its signing key: the next ID token names a key the
/// cached set lacks, which is fetched again.
async fn a_rotated_provider_key_is_fetched_again(s: Setup) {
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let first = s.sign_in().await;
    s.provider.rotate_key();
    let second = s.sign_in().await;
    assert_eq!(first["user_id"], second["user_id"]);
}

/// The owner links an identity explicitly (after a recent sign-in); another
/// account cannot take it; unlinking is refused for the last way in.
async fn owners_link_and_unlink_identities(s: Setup) {
    let address = email();
    s.app.register_confirmed(&address, PASSWORD).await;
    let owner = s.app.login(&address, PASSWORD).await;
    // The provider's address differs and is not even verified: an explicit
    // link needs neither.
    let person = Person {
        email_verified: false,
        ..Person::verified(&subject(), &email())
    };
    s.provider.sign_in_as(person.clone());
    let path = format!("/v1/users/me/identities/{PROVIDER}/link");
    let (status, body) = s
        .app
        .call(
            Method::POST,
            &path,
            Some(access(&owner)),
            json!({"redirect_uri": "https://evil.example/"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = s
        .app
        .call(
            Method::POST,
            &path,
            Some(access(&owner)),
            json!({"redirect_uri": APP_RETURN, "state": "linking"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let at_provider = body["authorization_url"].as_str().unwrap();
    let callback = location(&s.get(at_provider).await);
    let back = location(&s.get(callback.as_str()).await);
    let answer = query(&back);
    assert_eq!(answer.get("linked").map(String::as_str), Some(PROVIDER));
    assert_eq!(answer["state"], "linking");
    let identities = s.identities(access(&owner)).await;
    assert_eq!(identities.len(), 1);
    // The identity now signs in to the owner's account.
    let pair = s.sign_in().await;
    assert_eq!(pair["user_id"], owner["user_id"]);

    // Someone else cannot link the same identity.
    let other = email();
    s.app.register_confirmed(&other, PASSWORD).await;
    let intruder = s.app.login(&other, PASSWORD).await;
    let (_, body) = s
        .app
        .call(
            Method::POST,
            &path,
            Some(access(&intruder)),
            json!({"redirect_uri": APP_RETURN}),
        )
        .await;
    let callback = location(&s.get(body["authorization_url"].as_str().unwrap()).await);
    let back = location(&s.get(callback.as_str()).await);
    assert_eq!(query(&back)["error"], "identity_in_use");

    // The owner has a password: the identity may go.
    let id = identities[0]["id"].as_str().unwrap();
    let (status, _) = s
        .app
        .call(
            Method::DELETE,
            &format!("/v1/users/me/identities/{id}"),
            Some(access(&owner)),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = s
        .app
        .call(
            Method::DELETE,
            &format!("/v1/users/me/identities/{id}"),
            Some(access(&owner)),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("identity_not_found"))
    );

    // An account made by the provider has nothing else.
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let only = s.sign_in().await;
    let id = s.identities(access(&only)).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = s
        .app
        .call(
            Method::DELETE,
            &format!("/v1/users/me/identities/{id}"),
            Some(access(&only)),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("last_sign_in_method"))
    );
}

/// Two unlinks racing on an account with two identities and no password:
/// each alone would leave one way in, both together none; the account's
/// version lets exactly one through.
async fn racing_unlinks_leave_a_way_in(s: Setup) {
    let address = email();
    let first = subject();
    s.provider.sign_in_as(Person::verified(&first, &address));
    let pair = s.sign_in().await;
    let token = access(&pair).to_owned();
    // A second identity, linked explicitly.
    s.provider
        .sign_in_as(Person::verified(&subject(), &address));
    let (_, body) = s
        .app
        .call(
            Method::POST,
            &format!("/v1/users/me/identities/{PROVIDER}/link"),
            Some(&token),
            json!({"redirect_uri": APP_RETURN}),
        )
        .await;
    let callback = location(&s.get(body["authorization_url"].as_str().unwrap()).await);
    location(&s.get(callback.as_str()).await);
    let ids: Vec<String> = s
        .identities(&token)
        .await
        .iter()
        .map(|identity| identity["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let unlink = |id: String| {
        let (app, token) = (&s.app, token.clone());
        async move {
            app.call(
                Method::DELETE,
                &format!("/v1/users/me/identities/{id}"),
                Some(&token),
                json!({}),
            )
            .await
            .0
        }
    };
    let (a, b) = tokio::join!(unlink(ids[0].clone()), unlink(ids[1].clone()));
    let mut statuses = [a, b];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 409]);
    assert_eq!(s.identities(&token).await.len(), 1);
}

/// An account with a second factor is not signed in by the provider alone.
async fn a_second_factor_still_follows(s: Setup) {
    let address = email();
    s.app.register_confirmed(&address, PASSWORD).await;
    let owner = s.app.login(&address, PASSWORD).await;
    s.app.proven_totp(access(&owner)).await;
    s.provider
        .sign_in_as(Person::verified(&subject(), &address));
    let (verifier, challenge) = pkce();
    let code = query(&s.back_at_app(&challenge).await)["code"].clone();
    let (status, body) = s.redeem(&code, &verifier).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("mfa_required")));
    assert!(body["mfa_token"].is_string());
}

/// A provider that answers with a form post (Apple's `form_post`) reaches
/// the same callback by POST.
async fn a_form_post_answer_is_taken(s: Setup) {
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let (verifier, challenge) = pkce();
    let callback = s.to_callback(&challenge).await;
    let form: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let mut target = callback.clone();
    target.set_query(None);
    let response = s.browser.post(target).form(&form).send().await.unwrap();
    let code = query(&location(&response))["code"].clone();
    let (status, _) = s.redeem(&code, &verifier).await;
    assert_eq!(status, 200);
}

/// Deleting the account frees the identity: the next sign-in with it makes
/// a new account.
async fn a_deleted_account_lets_its_identity_go(s: Setup) {
    let person = Person::verified(&subject(), &email());
    s.provider.sign_in_as(person);
    let pair = s.sign_in().await;
    let (status, _) = s
        .app
        .call(
            Method::DELETE,
            "/v1/users/me",
            Some(access(&pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let keys = s.app.app.store.all_items().await.unwrap();
    let user_id = pair["user_id"].as_str().unwrap();
    assert!(
        !keys
            .iter()
            .any(|(pk, sk, _)| pk.contains(user_id)
                || (pk.starts_with("IDENTITY#") && sk == "IDENTITY")),
        "left behind: {keys:?}"
    );
    let again = s.sign_in().await;
    assert_ne!(again["user_id"], pair["user_id"]);
}

/// Two first sign-ins of one new person at once (two tabs): one account
/// is made, and both land in it. (moto answers one request at a time, so
/// there the two interleave between requests; on the embedded store the
/// writes race in earnest.)
async fn two_first_sign_ins_at_once_make_one_account(s: Setup) {
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let (first_verifier, first_challenge) = pkce();
    let (second_verifier, second_challenge) = pkce();
    let first = s.to_callback(&first_challenge).await;
    let second = s.to_callback(&second_challenge).await;
    let (first, second) = tokio::join!(s.get(first.as_str()), s.get(second.as_str()));
    let first = query(&location(&first))["code"].clone();
    let second = query(&location(&second))["code"].clone();
    let (status, first) = s.redeem(&first, &first_verifier).await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = s.redeem(&second, &second_verifier).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(first["user_id"], second["user_id"]);
    assert_eq!(s.identities(access(&first)).await.len(), 1);
}

/// A disabled account is not signed in by its provider either, and the
/// one-time code of a sign-in that began before it was disabled is refused.
async fn a_disabled_account_is_not_signed_in(s: Setup) {
    s.provider
        .sign_in_as(Person::verified(&subject(), &email()));
    let pair = s.sign_in().await;
    let (verifier, challenge) = pkce();
    let code = query(&s.back_at_app(&challenge).await)["code"].clone();
    let admin = s.app.signed_in_admin(&email(), PASSWORD).await;
    let (status, body) = s
        .app
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{}", pair["user_id"].as_str().unwrap()),
            Some(access(&admin)),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.redeem(&code, &verifier).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("account_disabled"))
    );
    assert_eq!(s.refusal().await, "account_disabled");
}

/// Three starts per five minutes, for the limit's own scenario.
const START_LIMIT: (&str, &str) = ("OIDC_START_LIMIT_PER_IP", "3/300");

mod start_limit {
    use super::START_LIMIT;

    #[tokio::test]
    async fn embedded_store() {
        super::sign_in_starts_from_one_ip_are_limited(super::embedded_with(&[START_LIMIT]).await)
            .await;
    }

    #[tokio::test]
    async fn dynamodb_in_moto() {
        super::sign_in_starts_from_one_ip_are_limited(super::on_moto_with(&[START_LIMIT]).await)
            .await;
    }
}

macro_rules! on_both_stores_with_a_provider {
    ($($scenario:ident;)*) => {
        mod embedded_store {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::embedded().await).await;
                }
            )*
        }
        mod dynamodb_in_moto {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::on_moto().await).await;
                }
            )*
        }
    };
}

on_both_stores_with_a_provider! {
    a_new_person_gets_an_account_and_a_federated_token;
    a_confirmed_account_is_linked_by_a_verified_address_only;
    a_password_change_before_the_trade_kills_the_code;
    an_unconfirmed_account_is_not_linked_but_replaced;
    tampered_and_replayed_states_are_refused;
    id_tokens_with_a_wrong_nonce_audience_party_or_expiry_are_refused;
    the_code_needs_the_apps_verifier_and_is_good_once;
    authorize_refuses_what_it_cannot_honour;
    a_rotated_provider_key_is_fetched_again;
    owners_link_and_unlink_identities;
    racing_unlinks_leave_a_way_in;
    a_second_factor_still_follows;
    a_form_post_answer_is_taken;
    a_deleted_account_lets_its_identity_go;
    two_first_sign_ins_at_once_make_one_account;
    a_disabled_account_is_not_signed_in;
}
