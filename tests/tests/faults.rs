//! Dependency faults, injected by a proxy between the AWS adapters and moto
//! (`tests/fault_proxy.py`): for every route, each service it uses is made
//! to throttle and to fail. Throttling answers `503` with `Retry-After`, a
//! failure an opaque `500`, except where the contract makes the email best effort
//! (the answer is then the usual one). A failure after any number of
//! successful DynamoDB calls leaves the table as it was: no multi-item
//! change is ever half-written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use latchkey_tests::{FaultProxy, TestApp};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Store,
    Keys,
    Mail,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Store => "dynamodb",
            Self::Keys => "kms",
            Self::Mail => "ses",
        }
    }
}

use Service::{Keys, Mail, Store};

/// Every route: its usual status, the services it calls, and whether its
/// email is best effort (a mail fault leaves the usual answer).
const ROUTES: &[Route] = &[
    ("GET /status", 200, &[], false),
    ("POST /v1/users", 201, &[Store, Mail], true),
    ("GET /v1/users/confirm/{code}", 200, &[Store], false),
    ("POST /v1/users/confirm", 200, &[Store], false),
    ("POST /v1/users/confirm/resend", 202, &[Store, Mail], true),
    ("GET /v1/users/exists", 200, &[Store], false),
    ("POST /v1/password/forgot", 202, &[Store, Mail], true),
    ("POST /v1/password/reset", 200, &[Store, Mail], true),
    ("GET /v1/users/me", 200, &[Store], false),
    ("PATCH /v1/users/me", 200, &[Store], false),
    ("POST /v1/users/me/password", 204, &[Store, Mail], true),
    ("POST /v1/users/me/addresses", 201, &[Store], false),
    (
        "DELETE /v1/users/me/addresses/{address_id}",
        204,
        &[Store],
        false,
    ),
    ("GET /v1/users/{id}", 200, &[Store], false),
    ("PATCH /v1/admin/users/{id}", 200, &[Store], false),
    ("GET /pages/confirmation", 200, &[], false),
    ("POST /pages/confirmation", 200, &[Store, Mail], true),
    ("GET /pages/reset-password", 200, &[], false),
    ("POST /pages/reset-password", 200, &[Store, Mail], true),
    ("GET /pages/assets/{file}", 200, &[], false),
    ("POST /v1/auth/login", 200, &[Store, Keys], false),
    ("POST /v1/auth/refresh", 200, &[Store, Keys], false),
    ("POST /v1/auth/logout", 204, &[Store], false),
    ("GET /v1/auth/token-info", 200, &[Store], false),
    ("POST /v1/auth/token", 200, &[Store, Keys], false),
    ("GET /v1/auth/public-key", 200, &[], false),
    ("GET /.well-known/jwks.json", 200, &[], false),
    ("GET /.well-known/openid-configuration", 200, &[], false),
];

/// An account in every state a route needs, on an app whose AWS calls go
/// through the proxy.
struct Fixture {
    app: TestApp,
    /// Straight to moto, past the proxy, for reading the table.
    dynamodb: aws_sdk_dynamodb::Client,
    user_id: String,
    email: String,
    access: String,
    refresh: String,
    admin_access: String,
    client: (String, String),
    address_id: String,
    waiting_email: String,
    confirmation_code: String,
    reset_token: String,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}@example.com", uuid::Uuid::new_v4().simple())
}

fn line<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

async fn fixture(proxy: &FaultProxy) -> Fixture {
    let app = TestApp::through(proxy, &[]).await;
    let email = unique("faults");
    app.register_confirmed(&email, PASSWORD).await;
    let pair = app.login(&email, PASSWORD).await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let added = app
        .client
        .post(app.url("/v1/users/me/addresses"))
        .bearer_auth(&access)
        .json(&json!({"address": "0x52908400098527886E0F7030069857D2E4169EE7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let address_id = added.json::<Value>().await.unwrap()["address_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let admin_email = unique("admin");
    app.admin(
        &[
            "users",
            "create",
            "--email",
            &admin_email,
            "--role",
            "admin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .await
    .unwrap();
    let admin = app.login(&admin_email, PASSWORD).await;
    let created = app
        .admin(
            &["clients", "create", "--name", "faults", "--scope", "read"],
            "",
        )
        .await
        .unwrap();
    let client = (
        line(&created, "client_id").to_owned(),
        line(&created, "client_secret").to_owned(),
    );

    let waiting_email = unique("waiting");
    let registered = app
        .post_register(&json!({"email": waiting_email, "password": PASSWORD}))
        .await;
    assert_eq!(registered.status(), 201);
    let link = app.confirmation_link(&waiting_email).await;
    let confirmation_code = link.rsplit('/').next().unwrap().to_owned();

    let forgot = app
        .post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status(), 202);
    let reset_token = app.reset_token(&email).await;

    Fixture {
        user_id: pair["user_id"].as_str().unwrap().to_owned(),
        refresh: pair["refresh_token"].as_str().unwrap().to_owned(),
        access,
        admin_access: admin["access_token"].as_str().unwrap().to_owned(),
        client,
        address_id,
        waiting_email,
        confirmation_code,
        reset_token,
        email,
        dynamodb: aws_sdk_dynamodb::Client::new(&latchkey_tests::moto().sdk_config().await),
        app,
    }
}

/// The route's request, made to succeed on a healthy fixture.
fn request(f: &Fixture, route: &str) -> RequestBuilder {
    let (method, path) = route.split_once(' ').unwrap();
    let path = path
        .replace("{code}", &f.confirmation_code)
        .replace("{address_id}", &f.address_id)
        .replace("{id}", &f.user_id)
        .replace("{file}", "pages.css");
    let path = if route == "GET /v1/users/exists" {
        format!("{path}?email={}", f.email)
    } else {
        path
    };
    let builder = f.app.client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        f.app.url(&path),
    );
    match route {
        "POST /v1/users" => builder.json(&json!({"email": unique("new"), "password": PASSWORD})),
        "POST /v1/users/confirm" => builder.json(&json!({"code": f.confirmation_code})),
        "POST /v1/users/confirm/resend" => builder.json(&json!({"email": f.waiting_email})),
        "POST /v1/password/forgot" => builder.json(&json!({"email": f.email})),
        "POST /v1/password/reset" => {
            builder.json(&json!({"token": f.reset_token, "password": NEW_PASSWORD}))
        }
        "GET /v1/users/me"
        | "GET /v1/auth/token-info"
        | "GET /v1/users/{id}"
        | "DELETE /v1/users/me/addresses/{address_id}" => builder.bearer_auth(&f.access),
        "PATCH /v1/users/me" => builder
            .bearer_auth(&f.access)
            .json(&json!({"first_name": "Grace"})),
        "POST /v1/users/me/password" => builder
            .bearer_auth(&f.access)
            .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        "POST /v1/users/me/addresses" => builder
            .bearer_auth(&f.access)
            .json(&json!({"address": "0x8617E340B3D01FA5F11F306F4090FD50E238070D"})),
        "PATCH /v1/admin/users/{id}" => builder
            .bearer_auth(&f.admin_access)
            .json(&json!({"roles": ["editor"]})),
        "POST /pages/confirmation" => builder.form(&[("email", f.waiting_email.as_str())]),
        "POST /pages/reset-password" => builder.form(&[
            ("token", f.reset_token.as_str()),
            ("password", NEW_PASSWORD),
            ("password_confirmation", NEW_PASSWORD),
        ]),
        "POST /v1/auth/login" => builder.json(&json!({"login": f.email, "password": PASSWORD})),
        "POST /v1/auth/refresh" => builder.json(&json!({"refresh_token": f.refresh})),
        "POST /v1/auth/logout" => builder.bearer_auth(&f.access).json(&json!({})),
        "POST /v1/auth/token" => builder
            .basic_auth(&f.client.0, Some(&f.client.1))
            .form(&[("grant_type", "client_credentials")]),
        _ => builder,
    }
}

/// The table's items, but for rate counters and failure streaks, which
/// count attempts whatever their outcome.
async fn table(f: &Fixture) -> BTreeMap<String, String> {
    let table = f.app.app.config.table_name.clone();
    let mut items = BTreeMap::new();
    let mut start = None;
    loop {
        let page = f
            .dynamodb
            .scan()
            .table_name(&table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(value)) => value.clone(),
                other => panic!("{name} is {other:?}"),
            };
            let pk = text("pk");
            if pk.starts_with("RATE#") || pk.starts_with("STREAK#") {
                continue;
            }
            let value = canonical(&AttributeValue::M(item.clone()));
            items.insert(format!("{pk} {}", text("sk")), value);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    items
}

/// An attribute value as text with map keys in order, so equal items print
/// alike.
fn canonical(value: &AttributeValue) -> String {
    match value {
        AttributeValue::M(map) => {
            let sorted: BTreeMap<&String, String> = map
                .iter()
                .map(|(name, value)| (name, canonical(value)))
                .collect();
            format!("{sorted:?}")
        }
        AttributeValue::L(list) => format!("{:?}", list.iter().map(canonical).collect::<Vec<_>>()),
        other => format!("{other:?}"),
    }
}

/// The keys of the items that differ between two scans.
fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect()
}

struct Answer {
    status: u16,
    retry_after: bool,
    body: String,
    failed_calls: u64,
}

async fn call_with_fault(
    f: &Fixture,
    proxy: &FaultProxy,
    route: &str,
    service: Service,
    kind: &str,
    after: u64,
) -> Answer {
    proxy.arm(service.name(), kind, after).await;
    let response = request(f, route).send().await.unwrap();
    let failed_calls = proxy.disarm().await;
    Answer {
        status: response.status().as_u16(),
        retry_after: response.headers().contains_key("retry-after"),
        body: response.text().await.unwrap(),
        failed_calls,
    }
}

type Route = (&'static str, u16, &'static [Service], bool);

/// Runs `check` on every route, spread over a few workers, each with a
/// proxy of its own (a fault armed for one request must not hit another's).
/// A worker's panic fails the test.
async fn on_every_route<F, Fut>(check: F)
where
    F: Fn(std::sync::Arc<FaultProxy>, Route) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let queue = std::sync::Arc::new(std::sync::Mutex::new(ROUTES.to_vec()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (queue, check) = (queue.clone(), check.clone());
        workers.spawn(async move {
            let proxy = std::sync::Arc::new(FaultProxy::start());
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(route) = next else { break };
                check(proxy.clone(), route).await;
            }
        });
    }
    while let Some(finished) = workers.join_next().await {
        if let Err(error) = finished {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_throttling_or_failing_gets_the_documented_answer_on_every_route() {
    on_every_route(documented_answers).await;
}

async fn documented_answers(
    proxy: std::sync::Arc<FaultProxy>,
    (route, ok, uses, mail_best_effort): Route,
) {
    let proxy = proxy.as_ref();
    // A service the route does not use is checked once, to prove it is
    // not called; one it uses, throttling and failing.
    let mut faults: Vec<(Service, &'static str)> = Vec::new();
    for service in [Store, Keys, Mail] {
        faults.push((service, "fail"));
        if uses.contains(&service) {
            faults.push((service, "throttle"));
        }
    }
    let mut fresh = None;
    for (service, kind) in faults {
        // A request that succeeded may have spent what the next one
        // needs (a code, a session): start again from a fresh fixture.
        let f = match fresh.take() {
            Some(f) => f,
            None => fixture(proxy).await,
        };
        let before = table(&f).await;
        let answer = call_with_fault(&f, proxy, route, service, kind, 0).await;
        let what = format!("{route} with {} {kind}", service.name());
        assert_eq!(
            answer.failed_calls > 0,
            uses.contains(&service),
            "{what}: the route's use of the service is not as listed"
        );
        let expected = match (uses.contains(&service), kind) {
            (false, _) => ok,
            (true, _) if service == Mail && mail_best_effort => ok,
            (true, "throttle") => 503,
            (true, _) => 500,
        };
        assert_eq!(answer.status, expected, "{what}: {}", answer.body);
        if expected == 503 {
            assert!(answer.retry_after, "{what}: no Retry-After");
        }
        if expected < 500 {
            if uses.is_empty() {
                fresh = Some(f);
            }
            continue;
        }
        let changed = changed(&before, &table(&f).await);
        assert!(changed.is_empty(), "{what} changed {changed:?}");
        // Opaque: a code, never the cause.
        assert!(
            !answer.body.contains("Exception"),
            "{what}: {}",
            answer.body
        );
        if !route.contains(" /pages/") {
            let problem: Value = serde_json::from_str(&answer.body).unwrap();
            let code = if expected == 503 {
                "service_unavailable"
            } else {
                "internal_error"
            };
            assert_eq!(problem["code"], code, "{what}");
        }
        fresh = Some(f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_after_any_number_of_calls_leaves_no_partial_change() {
    on_every_route(no_partial_change).await;
}

async fn no_partial_change(proxy: std::sync::Arc<FaultProxy>, (route, ok, uses, _): Route) {
    let proxy = proxy.as_ref();
    if !uses.contains(&Store) {
        return;
    }
    let f = fixture(proxy).await;
    let before = table(&f).await;
    for after in 0.. {
        let answer = call_with_fault(&f, proxy, route, Store, "fail", after).await;
        if answer.status == ok {
            // Done, or the failure hit a best-effort step after the change.
            break;
        }
        assert!(answer.failed_calls > 0, "{route}: {}", answer.body);
        assert_eq!(answer.status, 500, "{route}, call {after}: {}", answer.body);
        let changed = changed(&before, &table(&f).await);
        assert!(
            changed.is_empty(),
            "{route}: a failure after {after} DynamoDB calls left {changed:?} changed"
        );
    }
}
