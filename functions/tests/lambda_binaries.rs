//! The deployed path: the per-endpoint Lambda binaries themselves, started
//! and wired as `template.yaml` deploys them (routes, environment), behind
//! a stand-in for API Gateway and the Lambda runtime API
//! (`tests/lambda_gateway.py`) that turns real HTTP requests into the
//! events API Gateway sends (form bodies base64-encoded, cookies split out,
//! repeated headers comma-joined, the peer as `sourceIp`). Their AWS calls
//! go to moto through `tests/fault_proxy.py`, which records the IAM actions
//! each function's calls need, init calls included.
//!
//! One journey drives every route, then least privilege is checked by use:
//! every action a function needed is granted to it in `template.yaml`, and
//! every action granted to it was needed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use latchkey::domain::TotpSecret;
use latchkey::test_support::SoftPasskey;
use latchkey_tests::oidc::{Person, TestProvider};
use latchkey_tests::{FaultProxy, TestApp, jwt_part, policy_actions, template};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// Where cargo put this package's binaries (it builds them all for its
/// integration tests).
fn binaries() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_status"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The actions each function's inline policy grants, by logical id.
fn granted_actions() -> BTreeMap<String, BTreeSet<String>> {
    let template = template();
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(logical_id, resource)| {
            (
                logical_id.as_str().unwrap().to_owned(),
                policy_actions(&template, resource),
            )
        })
        .collect()
}

struct Client<'a> {
    app: &'a TestApp,
}

impl Client<'_> {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app.client.request(method, self.app.url(path))
    }

    async fn json(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut request = self.request(method, path).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A form body, which API Gateway hands over base64-encoded.
    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap())
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.request(Method::GET, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

async fn expect(response: Response, status: u16, what: &str, app: &TestApp) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(
        got,
        status,
        "{what}: {text}\nLambda logs:\n{}",
        app.lambda_logs()
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every route at least once, and the paths that need each granted action:
/// a failed then a correct sign-in (the streak ends), a login change (the
/// old name's guard goes), a refresh replayed after the grace window (the
/// session ends), sign-outs of all sessions, an admin disabling an account.
async fn every_route(app: &TestApp) {
    let client = Client { app };
    let email = format!("ada.{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple";

    let body = expect(client.get("/status", None).await, 200, "status", app).await;
    assert_eq!(body["status"], "ok");

    let body = expect(
        client
            .form(
                "/v1/users",
                &[
                    ("email", &email),
                    ("password", password),
                    ("first_name", "Ada"),
                ],
            )
            .await,
        201,
        "register with a form body",
        app,
    )
    .await;
    let user_id = body["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["user"]["first_name"], "Ada",
        "the base64 body was read"
    );

    let body = expect(
        client
            .get(&format!("/v1/users/exists?email={email}"), None)
            .await,
        200,
        "exists",
        app,
    )
    .await;
    assert_eq!(body["exists"], true);
    expect(
        client
            .json(
                Method::POST,
                "/v1/users/confirm/resend",
                None,
                json!({"email": email}),
            )
            .await,
        202,
        "resend",
        app,
    )
    .await;
    let link = app.confirmation_link(&email).await;
    assert!(link.starts_with(&app.base_url), "{link}");
    expect(
        client.app.client.get(&link).send().await.unwrap(),
        200,
        "confirm link",
        app,
    )
    .await;
    let code = link.rsplit('/').next().unwrap();
    expect(
        client
            .json(
                Method::POST,
                "/v1/users/confirm",
                None,
                json!({"code": code}),
            )
            .await,
        200,
        "confirm by code",
        app,
    )
    .await;

    // A wrong password, then the right one: the streak ends. Repeated
    // Accept-Language headers arrive comma-joined and still choose Russian.
    let english = client
        .form(
            "/v1/auth/login",
            &[("login", &email), ("password", "wrong password")],
        )
        .await;
    let english = expect(english, 401, "wrong password", app).await;
    let russian = client
        .request(Method::POST, "/v1/auth/login")
        .header("accept-language", "fr")
        .header("accept-language", "ru")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([("login", &email), ("password", &"wrong".to_owned())])
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let russian = expect(russian, 401, "wrong password, in Russian", app).await;
    assert_eq!(russian["code"], english["code"]);
    assert_ne!(russian["title"], english["title"], "fr,ru picks ru");
    let pair = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", &email), ("password", password)],
            )
            .await,
        200,
        "sign in after failures",
        app,
    )
    .await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    // The issuer is PublicBaseUrl as deployed, exactly.
    assert_eq!(jwt_part(&access, 1)["iss"], app.base_url.as_str());

    let me = client
        .request(Method::GET, "/v1/users/me")
        .bearer_auth(&access)
        .header("cookie", "theme=dark; lang=en")
        .send()
        .await
        .unwrap();
    let me = expect(me, 200, "me, with cookies", app).await;
    assert_eq!(me["user"]["id"], user_id.as_str());
    for login in ["ada_first", "ada_second"] {
        expect(
            client
                .json(
                    Method::PATCH,
                    "/v1/users/me",
                    Some(&access),
                    json!({"login": login}),
                )
                .await,
            200,
            "update me",
            app,
        )
        .await;
    }
    let body = expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/addresses",
                Some(&access),
                json!({"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}),
            )
            .await,
        201,
        "add address",
        app,
    )
    .await;
    let address = body["address_id"].as_str().unwrap();
    let response = client
        .request(Method::DELETE, &format!("/v1/users/me/addresses/{address}"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    expect(response, 204, "delete address", app).await;
    let body = expect(
        client.get(&format!("/v1/users/{user_id}"), None).await,
        200,
        "get user",
        app,
    )
    .await;
    assert_eq!(body["user"]["id"], user_id.as_str());
    let body = expect(
        client
            .get(&format!("/v1/auth/token-info?access_token={access}"), None)
            .await,
        200,
        "token info",
        app,
    )
    .await;
    assert_eq!(body["uid"], user_id.as_str());

    // Refresh rotates; the old token replayed after the grace window ends
    // the session.
    let rotated = expect(
        client
            .json(
                Method::POST,
                "/v1/auth/refresh",
                None,
                json!({"refresh_token": refresh}),
            )
            .await,
        200,
        "refresh",
        app,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    expect(
        client
            .json(
                Method::POST,
                "/v1/auth/refresh",
                None,
                json!({"refresh_token": refresh}),
            )
            .await,
        401,
        "replayed refresh token",
        app,
    )
    .await;
    expect(
        client
            .json(
                Method::POST,
                "/v1/auth/refresh",
                None,
                json!({"refresh_token": rotated["refresh_token"]}),
            )
            .await,
        401,
        "the session ended with the replay",
        app,
    )
    .await;

    // Two sessions; changing the password ends the other one.
    let first = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", &email), ("password", password)],
            )
            .await,
        200,
        "sign in",
        app,
    )
    .await;
    expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", &email), ("password", password)],
            )
            .await,
        200,
        "sign in again",
        app,
    )
    .await;
    let new_password = "another horse battery staple";
    expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/password",
                first["access_token"].as_str(),
                json!({"current_password": password, "new_password": new_password}),
            )
            .await,
        204,
        "change password",
        app,
    )
    .await;

    // Reset through the API, then through the page (a form body).
    expect(
        client
            .json(
                Method::POST,
                "/v1/password/forgot",
                None,
                json!({"email": email}),
            )
            .await,
        202,
        "forgot",
        app,
    )
    .await;
    let token = app.reset_token(&email).await;
    let password = "third horse battery staple";
    expect(
        client
            .json(
                Method::POST,
                "/v1/password/reset",
                None,
                json!({"token": token, "password": password}),
            )
            .await,
        200,
        "reset",
        app,
    )
    .await;
    // Asked twice: the second code replaces the first.
    for _ in 0..2 {
        expect(
            client
                .form("/v1/password/forgot", &[("email", &email)])
                .await,
            202,
            "forgot, as a form",
            app,
        )
        .await;
    }
    let token = app.reset_token(&email).await;
    let password = "fourth horse battery staple";
    let page = client
        .form(
            "/pages/reset-password",
            &[
                ("token", &token),
                ("password", password),
                ("password_confirmation", password),
            ],
        )
        .await;
    assert_eq!(page.status(), 200, "{}", app.lambda_logs());
    for path in [
        "/pages/reset-password",
        "/pages/confirmation?confirmed=true",
        "/pages/assets/pages.css",
    ] {
        let response = client.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}: {}", app.lambda_logs());
    }
    // The confirmation page sends a new link to an account still waiting.
    let waiting = format!("bob.{}@example.com", uuid::Uuid::new_v4().simple());
    expect(
        client
            .json(
                Method::POST,
                "/v1/users",
                None,
                json!({"email": waiting, "password": password}),
            )
            .await,
        201,
        "register",
        app,
    )
    .await;
    let page = client
        .form("/pages/confirmation", &[("email", &waiting)])
        .await;
    assert_eq!(page.status(), 200, "{}", app.lambda_logs());
    assert_eq!(
        app.emails_to(&waiting).await.len(),
        2,
        "a second confirmation email"
    );

    // An admin disables the account (its sessions end) and enables it.
    let admin_email = format!("root.{}@example.com", uuid::Uuid::new_v4().simple());
    let admin_password = "admin horse battery staple";
    app.admin(
        &[
            "users",
            "create",
            "--email",
            &admin_email,
            "--role",
            "admin",
        ],
        &format!("{admin_password}\n"),
    )
    .await
    .unwrap();
    let admin = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", &admin_email), ("password", admin_password)],
            )
            .await,
        200,
        "admin sign-in",
        app,
    )
    .await;
    let mine = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", &email), ("password", password)],
            )
            .await,
        200,
        "sign in before being disabled",
        app,
    )
    .await;
    for status in ["disabled", "active"] {
        expect(
            client
                .json(
                    Method::PATCH,
                    &format!("/v1/admin/users/{user_id}"),
                    admin["access_token"].as_str(),
                    json!({"status": status}),
                )
                .await,
            200,
            "admin update",
            app,
        )
        .await;
    }
    expect(
        client
            .get("/v1/users/me", mine["access_token"].as_str())
            .await,
        401,
        "disabling ended the session",
        app,
    )
    .await;
    // The admin finds the account by its address, among the active ones.
    let prefix = email.split('@').next().unwrap().to_lowercase();
    let found = expect(
        client
            .get(
                &format!("/v1/admin/users?email={prefix}&status=active&limit=5"),
                admin["access_token"].as_str(),
            )
            .await,
        200,
        "admin search",
        app,
    )
    .await;
    assert_eq!(
        found["users"][0]["id"],
        json!(user_id.to_string()),
        "{found}"
    );

    passkeys(&client, app, &email, password).await;
    second_factors(&client, app, &email, password, &user_id, &admin).await;

    // Sign-in by a code sent by email, and the page its link opens.
    expect(
        client
            .json(
                Method::POST,
                "/v1/auth/email-code",
                None,
                json!({"email": email}),
            )
            .await,
        202,
        "ask for a sign-in code",
        app,
    )
    .await;
    let code = app
        .messages_to(&email)
        .await
        .into_iter()
        .rev()
        .find_map(|message| {
            message
                .subject
                .strip_prefix("Your sign-in code: ")
                .map(str::to_owned)
        })
        .expect("a sign-in code by email");
    expect(
        client
            .form(
                "/v1/auth/email-code/verify",
                &[("email", &email), ("code", &code)],
            )
            .await,
        200,
        "sign in with the code",
        app,
    )
    .await;
    let page = client.get("/pages/email-sign-in?lang=ru", None).await;
    assert_eq!(page.status(), 200, "{}", app.lambda_logs());
    let page = client.get("/pages/passkeys", None).await;
    assert_eq!(page.status(), 200, "{}", app.lambda_logs());

    // A service client.
    let created = app
        .admin(
            &[
                "clients",
                "create",
                "--name",
                "billing",
                "--scope",
                "reports:read",
            ],
            "",
        )
        .await
        .unwrap();
    let field = |name: &str| {
        created
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_owned()
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        field("client_id"),
        field("client_secret")
    ));
    let response = client
        .request(Method::POST, "/v1/auth/token")
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=reports%3Aread")
        .send()
        .await
        .unwrap();
    expect(response, 200, "client token", app).await;

    for path in [
        "/v1/auth/public-key",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        let response = client.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}: {}", app.lambda_logs());
    }

    // Sign out of everything.
    let last = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", &email), ("password", password)],
            )
            .await,
        200,
        "sign in",
        app,
    )
    .await;
    expect(
        client
            .json(
                Method::POST,
                "/v1/auth/logout",
                last["access_token"].as_str(),
                json!({"all": true}),
            )
            .await,
        204,
        "logout all",
        app,
    )
    .await;
    expect(
        client
            .get("/v1/users/me", last["access_token"].as_str())
            .await,
        401,
        "signed out",
        app,
    )
    .await;

    // An account nobody confirmed in time (UnconfirmedAccountTtlSeconds, 2
    // here) gives its address up to the next registration.
    let squatted = format!("carol.{}@example.com", uuid::Uuid::new_v4().simple());
    let register = || {
        client.json(
            Method::POST,
            "/v1/users",
            None,
            json!({"email": squatted, "password": "squatted horse battery staple"}),
        )
    };
    expect(register().await, 201, "register", app).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    expect(
        register().await,
        201,
        "register over the expired account",
        app,
    )
    .await;

    sessions(&client, app, &email, password, &user_id, &admin).await;
    email_change(&client, app, &email, password).await;
    account_deletion(&client, app, password, &admin).await;

    // No route: API Gateway's own 404, no function involved.
    let response = client.get("/v1/nowhere", None).await;
    assert_eq!(response.status(), 404);
}

/// A change of email asked for with a sign-in older than
/// `ReauthMaxAgeSeconds` (so with `current_password`), confirmed with the
/// link's code, and the page the link opens. Leaves the account with a new
/// address and no sessions.
async fn email_change(client: &Client<'_>, app: &TestApp, email: &str, password: &str) {
    let pair = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", email), ("password", password)],
            )
            .await,
        200,
        "sign in",
        app,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let new_email = format!("ada.moved.{}@example.com", uuid::Uuid::new_v4().simple());
    expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/email",
                pair["access_token"].as_str(),
                json!({"new_email": new_email, "current_password": password}),
            )
            .await,
        202,
        "ask to change the email",
        app,
    )
    .await;
    let message = app
        .messages_to(&new_email)
        .await
        .into_iter()
        .last()
        .expect("a link to the new address");
    let start = message.body.find("#code=").expect("the code") + "#code=".len();
    let code: String = message.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let page = client.get("/pages/email-change", None).await;
    assert_eq!(page.status(), 200, "{}", app.lambda_logs());
    let changed = expect(
        client
            .form("/v1/users/me/email/confirm", &[("code", &code)])
            .await,
        200,
        "confirm the new address",
        app,
    )
    .await;
    assert_eq!(changed["user"]["email"], new_email.as_str());
}

/// The stream consumer fed the sample stream batch, as the event source
/// mapping would: it publishes to the account's default bus.
async fn publish_events(app: &TestApp) {
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/stream/publish-events.json"),
    )
    .unwrap();
    let response = app
        .client
        .post(format!("{}/__invoke/PublishEventsFunction", app.base_url))
        .header("content-type", "application/json")
        .body(sample)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", app.lambda_logs());
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
}

/// Sign-in with another provider through its functions: a new person
/// through authorize, the provider, the callback (which reads the client
/// secret from Secrets Manager) and the token exchange; then an owner with
/// a sign-in older than `ReauthMaxAgeSeconds` links an identity (so with
/// `current_password`), lists it and unlinks it.
async fn provider_sign_in(app: &TestApp, provider: &TestProvider, password: &str) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let hop = |url: String| {
        let browser = browser.clone();
        async move {
            let response = browser.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 302, "{url}: {}", app.lambda_logs());
            response.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    let verifier = "a-verifier-the-app-made-for-this-sign-in-only";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    provider.sign_in_as(Person::verified(
        "journey-subject",
        &format!("fed.{}@example.com", uuid::Uuid::new_v4().simple()),
    ));
    let at_provider = hop(app.url(&format!(
        "/v1/auth/oidc/journey/authorize?redirect_uri={PROVIDER_RETURN}&code_challenge={challenge}"
    )))
    .await;
    let callback = hop(at_provider).await;
    let back = url::Url::parse(&hop(callback).await).unwrap();
    let code = back
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap_or_else(|| panic!("{back}"))
        .1
        .into_owned();
    let client = Client { app };
    let pair = expect(
        client
            .json(
                Method::POST,
                "/v1/auth/oidc/token",
                None,
                json!({"code": code, "code_verifier": verifier}),
            )
            .await,
        200,
        "provider sign-in",
        app,
    )
    .await;
    assert_eq!(
        jwt_part(pair["access_token"].as_str().unwrap(), 1)["amr"],
        json!(["fed"])
    );

    let email = format!("linking.{}@example.com", uuid::Uuid::new_v4().simple());
    app.register_confirmed(&email, password).await;
    let stale = app.login(&email, password).await;
    let stale = stale["access_token"].as_str();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    provider.sign_in_as(Person::verified("journey-linked", &email));
    let started = expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/identities/journey/link",
                stale,
                json!({"redirect_uri": PROVIDER_RETURN, "current_password": password}),
            )
            .await,
        200,
        "link an identity",
        app,
    )
    .await;
    let callback = hop(started["authorization_url"].as_str().unwrap().to_owned()).await;
    let back = hop(callback).await;
    assert!(back.ends_with("linked=journey"), "{back}");
    let listed = expect(
        client.get("/v1/users/me/identities", stale).await,
        200,
        "list identities",
        app,
    )
    .await;
    let id = listed["identities"][0]["id"].as_str().unwrap();
    expect(
        client
            .json(
                Method::DELETE,
                &format!("/v1/users/me/identities/{id}"),
                stale,
                json!({}),
            )
            .await,
        204,
        "unlink an identity",
        app,
    )
    .await;
}

/// Where the journey's provider sign-ins return to.
const PROVIDER_RETURN: &str = "https://app.example.com/signed-in";

/// Two new accounts deleted: one by its owner with a sign-in older than
/// `ReauthMaxAgeSeconds` (so with `current_password`), one by an admin.
async fn account_deletion(client: &Client<'_>, app: &TestApp, password: &str, admin: &Value) {
    let mut pairs = Vec::new();
    for name in ["leaving", "removed"] {
        let email = format!("{name}.{}@example.com", uuid::Uuid::new_v4().simple());
        app.register_confirmed(&email, password).await;
        pairs.push(app.login(&email, password).await);
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    expect(
        client
            .json(
                Method::DELETE,
                "/v1/users/me",
                pairs[0]["access_token"].as_str(),
                json!({"current_password": password}),
            )
            .await,
        204,
        "delete one's account",
        app,
    )
    .await;
    expect(
        client
            .json(
                Method::DELETE,
                &format!("/v1/admin/users/{}", pairs[1]["user_id"].as_str().unwrap()),
                admin["access_token"].as_str(),
                json!({}),
            )
            .await,
        204,
        "an admin deletes an account",
        app,
    )
    .await;
}

/// The account's export right after a sign-in; the session list and
/// ending sessions: the owner lists and ends one, then an admin ends the
/// rest.
async fn sessions(
    client: &Client<'_>,
    app: &TestApp,
    email: &str,
    password: &str,
    user_id: &str,
    admin: &Value,
) {
    let sign_in = || async {
        expect(
            client
                .form(
                    "/v1/auth/login",
                    &[("login", email), ("password", password)],
                )
                .await,
            200,
            "sign in",
            app,
        )
        .await
    };
    let (one, two) = (sign_in().await, sign_in().await);
    expect(
        client
            .get("/v1/users/me/export", one["access_token"].as_str())
            .await,
        200,
        "export the account",
        app,
    )
    .await;
    let listed = expect(
        client
            .get("/v1/users/me/sessions", one["access_token"].as_str())
            .await,
        200,
        "list sessions",
        app,
    )
    .await;
    assert!(
        listed["sessions"].as_array().unwrap().len() >= 2,
        "{listed}"
    );
    let log = expect(
        client
            .get("/v1/users/me/events?limit=5", one["access_token"].as_str())
            .await,
        200,
        "read the security log",
        app,
    )
    .await;
    assert_eq!(log["events"][0]["type"], "sign_in", "{log}");
    expect(
        client
            .get(
                &format!("/v1/admin/users/{user_id}/events"),
                admin["access_token"].as_str(),
            )
            .await,
        200,
        "an admin reads the security log",
        app,
    )
    .await;
    expect(
        client
            .get(
                &format!("/v1/admin/users/{user_id}"),
                admin["access_token"].as_str(),
            )
            .await,
        200,
        "an admin reads an account",
        app,
    )
    .await;
    let sid = jwt_part(two["access_token"].as_str().unwrap(), 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    expect(
        client
            .json(
                Method::DELETE,
                &format!("/v1/users/me/sessions/{sid}"),
                one["access_token"].as_str(),
                json!({}),
            )
            .await,
        204,
        "end a session",
        app,
    )
    .await;
    expect(
        client
            .json(
                Method::DELETE,
                &format!("/v1/admin/users/{user_id}/sessions"),
                admin["access_token"].as_str(),
                json!({}),
            )
            .await,
        204,
        "an admin ends every session",
        app,
    )
    .await;
    expect(
        client
            .get("/v1/users/me", one["access_token"].as_str())
            .await,
        401,
        "signed out everywhere",
        app,
    )
    .await;
}

/// Passkeys through their functions, with a software authenticator:
/// adding one with a sign-in older than `ReauthMaxAgeSeconds` (so with
/// `current_password`), listing, renaming, a failed then a good sign-in
/// for the named account (the streak is written, then cleared), removal.
async fn passkeys(client: &Client<'_>, app: &TestApp, email: &str, password: &str) {
    let pair = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", email), ("password", password)],
            )
            .await,
        200,
        "sign in",
        app,
    )
    .await;
    let stale = pair["access_token"].as_str();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let with_password = json!({"current_password": password});
    // Passkeys are bound to `localhost` on a loopback base.
    let origin = app.base_url.replace("127.0.0.1", "localhost");
    let ceremony = expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/passkeys/options",
                stale,
                with_password.clone(),
            )
            .await,
        200,
        "passkey creation options",
        app,
    )
    .await;
    let mut authenticator = SoftPasskey::new("localhost");
    let credential = authenticator.register(&ceremony["public_key"], &origin);
    let added = expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/passkeys",
                stale,
                json!({"challenge_id": ceremony["challenge_id"], "credential": credential}),
            )
            .await,
        201,
        "add a passkey",
        app,
    )
    .await;
    let path = format!(
        "/v1/users/me/passkeys/{}",
        added["passkey_id"].as_str().unwrap()
    );
    expect(
        client.get("/v1/users/me/passkeys", stale).await,
        200,
        "list passkeys",
        app,
    )
    .await;
    expect(
        client
            .json(Method::PATCH, &path, stale, json!({"name": "Laptop"}))
            .await,
        200,
        "rename a passkey",
        app,
    )
    .await;
    for (answer_origin, status) in [("https://evil.example", 401), (origin.as_str(), 200)] {
        let ceremony = expect(
            client
                .json(
                    Method::POST,
                    "/v1/auth/passkey/options",
                    None,
                    json!({"login": email}),
                )
                .await,
            200,
            "passkey sign-in options",
            app,
        )
        .await;
        let credential = authenticator.sign_in(&ceremony["public_key"], answer_origin);
        expect(
            client
                .json(
                    Method::POST,
                    "/v1/auth/passkey",
                    None,
                    json!({"challenge_id": ceremony["challenge_id"], "credential": credential}),
                )
                .await,
            status,
            "sign in with a passkey",
            app,
        )
        .await;
    }
    expect(
        client
            .json(Method::DELETE, &path, stale, with_password)
            .await,
        204,
        "remove a passkey",
        app,
    )
    .await;
}

/// The code an authenticator app shows for `secret` now.
fn totp_code(secret: &TotpSecret) -> String {
    secret.code_at(time::OffsetDateTime::now_utc()).unwrap()
}

/// Second factors through their functions: enrolment, new recovery codes
/// and removal with a sign-in older than `ReauthMaxAgeSeconds` (so with
/// `current_password`, checked under the sign-in throttle), proof, the
/// two-step sign-in with a wrong code first (the factors are read and
/// their seeds opened) and then a recovery code, and the admin's reset.
/// Leaves the account without factors.
async fn second_factors(
    client: &Client<'_>,
    app: &TestApp,
    email: &str,
    password: &str,
    user_id: &str,
    admin: &Value,
) {
    let stale = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", email), ("password", password)],
            )
            .await,
        200,
        "sign in",
        app,
    )
    .await;
    let stale = stale["access_token"].as_str();
    // `auth_time` has whole seconds: three make the sign-in older than two.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let with_password = json!({"current_password": password});
    let enrol = || async {
        let body = expect(
            client
                .json(
                    Method::POST,
                    "/v1/users/me/factors/totp",
                    stale,
                    with_password.clone(),
                )
                .await,
            201,
            "enrol a factor",
            app,
        )
        .await;
        let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
        (body["factor_id"].as_str().unwrap().to_owned(), secret)
    };
    let verify = |factor: String, secret: TotpSecret| async move {
        expect(
            client
                .json(
                    Method::POST,
                    &format!("/v1/users/me/factors/totp/{factor}/verify"),
                    stale,
                    json!({"code": totp_code(&secret)}),
                )
                .await,
            200,
            "verify a factor",
            app,
        )
        .await
    };
    let (first, first_secret) = enrol().await;
    let proven = verify(first.clone(), first_secret.clone()).await;
    let recovery = proven["recovery_codes"][0].as_str().unwrap().to_owned();
    let listed = expect(
        client.get("/v1/users/me/factors", stale).await,
        200,
        "factors",
        app,
    )
    .await;
    assert_eq!(listed["recovery_codes_left"], 10, "{listed}");

    let step = expect(
        client
            .form(
                "/v1/auth/login",
                &[("login", email), ("password", password)],
            )
            .await,
        403,
        "a password is the first step",
        app,
    )
    .await;
    let mfa_token = step["mfa_token"].as_str().unwrap();
    let wrong = if totp_code(&first_secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    expect(
        client
            .form(
                "/v1/auth/mfa",
                &[
                    ("mfa_token", mfa_token),
                    ("method", "totp"),
                    ("code", wrong),
                ],
            )
            .await,
        401,
        "a wrong code",
        app,
    )
    .await;
    let pair = expect(
        client
            .form(
                "/v1/auth/mfa",
                &[
                    ("mfa_token", mfa_token),
                    ("method", "recovery_code"),
                    ("code", &recovery),
                ],
            )
            .await,
        200,
        "a recovery code",
        app,
    )
    .await;
    assert_eq!(
        jwt_part(pair["access_token"].as_str().unwrap(), 1)["aal"],
        2
    );

    expect(
        client
            .json(
                Method::POST,
                "/v1/users/me/recovery-codes",
                stale,
                with_password.clone(),
            )
            .await,
        200,
        "new recovery codes",
        app,
    )
    .await;
    let (second, second_secret) = enrol().await;
    verify(second, second_secret).await;
    expect(
        client
            .json(
                Method::DELETE,
                &format!("/v1/users/me/factors/{first}"),
                stale,
                with_password.clone(),
            )
            .await,
        204,
        "remove a factor",
        app,
    )
    .await;
    expect(
        client
            .json(
                Method::DELETE,
                &format!("/v1/admin/users/{user_id}/factors"),
                admin["access_token"].as_str(),
                json!({}),
            )
            .await,
        204,
        "an admin removes the rest",
        app,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_through_the_lambda_binaries_needs_exactly_the_actions_its_function_is_granted()
{
    let proxy = FaultProxy::start();
    let provider = TestProvider::start().await;
    let secret_arn = provider.client_secret_in_moto().await;
    let providers = json!([provider.entry("journey", &secret_arn)]).to_string();
    let app = TestApp::through_lambda_binaries(
        &binaries(),
        &proxy,
        &[
            ("RefreshGraceSeconds", "1"),
            ("EmailLimitPerAddress", "20/900"),
            ("UnconfirmedAccountTtlSeconds", "2"),
            ("ReauthMaxAgeSeconds", "2"),
            ("OidcProviders", &providers),
            ("OidcClientSecretArns", &secret_arn),
            ("OidcRedirectAllowlist", PROVIDER_RETURN),
        ],
    )
    .await;
    every_route(&app).await;
    provider_sign_in(&app, &provider, "correct horse battery staple").await;
    publish_events(&app).await;

    let used = proxy.actions().await;
    let mut granted = granted_actions();
    // What the table stream's event source mapping does with the consumer's
    // role, not the consumer: read the stream, hand what still fails to the
    // queue. Exactly these are granted besides what the consumer calls.
    let mapping: BTreeSet<String> = [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let consumer = granted.get_mut("PublishEventsFunction").unwrap();
    assert!(consumer.is_superset(&mapping), "{consumer:?}");
    consumer.retain(|action| !mapping.contains(action));
    let mut problems = Vec::new();
    for caller in used.keys() {
        if !granted.contains_key(caller) {
            problems.push(format!(
                "{caller} called AWS but is no function of the template"
            ));
        }
    }
    let none = BTreeSet::new();
    for (function, allowed) in &granted {
        let needed = used.get(function).unwrap_or(&none);
        let missing: Vec<_> = needed.difference(allowed).collect();
        let unused: Vec<_> = allowed.difference(needed).collect();
        if !missing.is_empty() {
            problems.push(format!("{function} needs {missing:?}, not granted"));
        }
        if !unused.is_empty() {
            problems.push(format!("{function} is granted {unused:?}, never used"));
        }
    }
    assert!(
        problems.is_empty(),
        "least privilege by use:\n{}\n\nused: {used:#?}",
        problems.join("\n")
    );
}

/// Key rotation as an operator does it with the template: deploy with the
/// new key as `SigningKeyArn` and the old one in `PreviousSigningKeyArns`
/// (tokens of the old key keep verifying, new ones are signed by the new
/// key, the JWKS lists both), then again without the old key (its tokens
/// stop verifying, the JWKS lists the new key alone). The issuer is fixed
/// by `TokenIssuer`, as a custom domain would keep it across deployments.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_rotation_through_the_template_keeps_old_tokens_until_the_old_key_goes() {
    let proxy = FaultProxy::start();
    let issuer = ("TokenIssuer", "https://auth.example.com");
    let mut app = TestApp::through_lambda_binaries(&binaries(), &proxy, &[issuer]).await;
    let email = format!("rotate.{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple";
    app.register_confirmed(&email, password).await;
    let before = app.login(&email, password).await;
    let old_token = before["access_token"].as_str().unwrap().to_owned();
    let old_key = latchkey_tests::key_arn(&app.app.config.kms_key_id).await;
    let new_key = latchkey_tests::new_signing_key_arn().await;
    let kid = |arn: &str| arn.rsplit('/').next().unwrap().to_owned();

    let client = app.client.clone();
    let token_info = |base: &str, token: &str| {
        client
            .get(format!("{base}/v1/auth/token-info"))
            .bearer_auth(token)
            .send()
    };
    let kids = |base: String| {
        let client = client.clone();
        async move {
            let jwks: Value = client
                .get(format!("{base}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|key| key["kid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };

    let during = app.deploy(
        &binaries(),
        &proxy,
        &[
            issuer,
            ("SigningKeyArn", &new_key),
            ("PreviousSigningKeyArns", &old_key),
        ],
    );
    assert_eq!(token_info(&during, &old_token).await.unwrap().status(), 200);
    let response = client
        .post(format!("{during}/v1/auth/login"))
        .json(&json!({"login": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", app.lambda_logs());
    let pair: Value = response.json().await.unwrap();
    let new_token = pair["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        jwt_part(&new_token, 0)["kid"],
        kid(&new_key).as_str(),
        "signed by the new key"
    );
    assert_eq!(kids(during.clone()).await, [kid(&new_key), kid(&old_key)]);

    let after = app.deploy(&binaries(), &proxy, &[issuer, ("SigningKeyArn", &new_key)]);
    assert_eq!(token_info(&after, &old_token).await.unwrap().status(), 401);
    assert_eq!(token_info(&after, &new_token).await.unwrap().status(), 200);
    assert_eq!(kids(after).await, [kid(&new_key)]);
}
