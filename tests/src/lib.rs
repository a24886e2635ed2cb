//! Test support for the end-to-end suites: [`TestApp`] runs `local-api` on a
//! free port (on the embedded store, or on `moto_server` with the AWS
//! adapters) and reads back the emails it sent; [`moto`] starts the emulator
//! once per test binary.
// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod oidc;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use latchkey::App;
use latchkey_local::{Backend, Options, RunningServer, start};
use serde_json::Value;
use tempfile::TempDir;

/// Waits, if need be, until `needed` fits before the current fixed
/// rate-limit window of `window_seconds` ends (windows start at multiples
/// of their length since the epoch), so a test counting up to a limit is
/// not reset half-way by a window that rolls over on a slow machine.
pub async fn within_one_window(window_seconds: u64, needed: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let window = Duration::from_secs(window_seconds);
    let into_window =
        Duration::from_millis(u64::try_from(now.as_millis() % window.as_millis()).unwrap());
    let left = window - into_window;
    if left < needed {
        tokio::time::sleep(left + Duration::from_millis(100)).await;
    }
}

/// Part `index` of a compact JWS (0 header, 1 claims), decoded as JSON,
/// without verifying anything: for tests that look inside tokens.
pub fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// `template.yaml`, parsed (CloudFormation's short tags stay as tagged values).
pub fn template() -> serde_norway::Value {
    let text = std::fs::read_to_string(workspace().join("template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Every action a function resource's policies allow: its inline
/// statements and the managed policies of `template` it names (`!Ref`).
pub fn policy_actions(
    template: &serde_norway::Value,
    function: &serde_norway::Value,
) -> BTreeSet<String> {
    use serde_norway::Value;
    let mut actions = BTreeSet::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        let statements = match policy {
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let name = tagged.value.as_str().unwrap();
                &template["Resources"][name]["Properties"]["PolicyDocument"]["Statement"]
            }
            inline => &inline["Statement"],
        };
        for statement in statements.as_sequence().unwrap() {
            match &statement["Action"] {
                Value::String(action) => {
                    actions.insert(action.clone());
                }
                Value::Sequence(list) => actions.extend(
                    list.iter()
                        .map(|action| action.as_str().unwrap().to_owned()),
                ),
                other => panic!("unexpected Action {other:?}"),
            }
        }
    }
    actions
}

/// `local-api` on a free port, torn down when dropped.
pub struct TestApp {
    pub base_url: String,
    pub app: Arc<App>,
    pub client: reqwest::Client,
    mail: MailSource,
    server: tokio::task::JoinHandle<()>,
    _data_dir: TempDir,
    lambda_logs: Option<PathBuf>,
    /// Tells this app's addresses from other tests': moto keeps every
    /// test's emails in one place.
    tag: String,
}

enum MailSource {
    Outbox(PathBuf),
    Moto(String),
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The algorithm the suites sign with unless a test names its own:
/// `LATCHKEY_TEST_SIGNING_ALGORITHM` (`RS256` or `ES256`), RS256 when unset.
/// Said once per test binary on standard error, so a run shows which ran.
pub fn test_signing_algorithm() -> &'static str {
    static ALGORITHM: OnceLock<&'static str> = OnceLock::new();
    ALGORITHM.get_or_init(|| {
        let algorithm = match std::env::var("LATCHKEY_TEST_SIGNING_ALGORITHM").as_deref() {
            Err(_) | Ok("" | "RS256") => "RS256",
            Ok("ES256") => "ES256",
            Ok(other) => panic!("LATCHKEY_TEST_SIGNING_ALGORITHM={other}: RS256 or ES256"),
        };
        // Straight to standard error, which the test harness does not
        // capture, so the run's output shows it.
        let _ = writeln!(
            std::io::stderr(),
            "latchkey-tests: tokens signed with {algorithm} (LATCHKEY_TEST_SIGNING_ALGORITHM)"
        );
        algorithm
    })
}

/// The test's settings over the suite's signing algorithm.
fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    std::iter::once(("SIGNING_ALGORITHM", test_signing_algorithm()))
        .chain(pairs.iter().copied())
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

impl TestApp {
    /// On the embedded store, outbox and a local key in a fresh folder.
    pub async fn embedded() -> Self {
        Self::embedded_with(&[]).await
    }

    pub async fn embedded_with(pairs: &[(&str, &str)]) -> Self {
        Self::embedded_in(tempfile::tempdir().unwrap(), pairs).await
    }

    /// In a given data folder (so a test can put key files there first).
    pub async fn embedded_in(data_dir: TempDir, pairs: &[(&str, &str)]) -> Self {
        let options = Options {
            address: any_port(),
            backend: Backend::Local {
                data_dir: data_dir.path().to_owned(),
            },
            settings: settings(pairs),
            read_env: false,
        };
        let server = start(options).await.expect("local-api did not start");
        let outbox = data_dir.path().join("outbox");
        Self::new(server, MailSource::Outbox(outbox), data_dir)
    }

    /// On DynamoDB, SES and KMS emulated by `moto_server`, with a table and a
    /// key of its own so tests do not share state.
    pub async fn on_moto() -> Self {
        Self::on_moto_with(&[]).await
    }

    pub async fn on_moto_with(pairs: &[(&str, &str)]) -> Self {
        Self::on_aws(moto().sdk_config().await, pairs).await
    }

    /// Like [`TestApp::on_moto_with`], with every AWS call going through
    /// `proxy`, which can make a service throttle or fail. The SDK does not
    /// retry, so one injected fault is one failed call.
    pub async fn through(proxy: &FaultProxy, pairs: &[(&str, &str)]) -> Self {
        let sdk = proxy
            .sdk_config()
            .await
            .into_builder()
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        Self::on_aws(sdk, pairs).await
    }

    /// On the AWS adapters with `sdk` (moto, or a proxy in front of it),
    /// with a table and a key of its own so tests do not share state.
    async fn on_aws(sdk: SdkConfig, pairs: &[(&str, &str)]) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let table = format!("latchkey-{unique}");
        let alias = format!("alias/latchkey-{unique}");
        let secrets_alias = format!("alias/latchkey-secrets-{unique}");
        let mac_alias = format!("alias/latchkey-code-mac-{unique}");
        let mut settings = settings(&[
            ("TABLE_NAME", &table),
            ("KMS_KEY_ID", &alias),
            ("SECRETS_KEY_ID", &secrets_alias),
            ("CODE_MAC_KEY_ID", &mac_alias),
        ]);
        settings.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let options = Options {
            address: any_port(),
            backend: Backend::Aws {
                sdk: Box::new(sdk),
                bootstrap: true,
                // As deployed: links are never logged.
                log_links: false,
            },
            settings,
            read_env: false,
        };
        let server = start(options)
            .await
            .expect("local-api --aws did not start on moto_server");
        Self::new(
            server,
            MailSource::Moto(moto().endpoint.clone()),
            tempfile::tempdir().unwrap(),
        )
    }

    /// The per-endpoint Lambda binaries in `binaries`, wired as
    /// `template.yaml` deploys them, behind an API Gateway stand-in
    /// (`tests/lambda_gateway.py`): `base_url` is the gateway. Their AWS
    /// calls go through `proxy` to moto, each function signing with its
    /// logical id as access key, so the proxy can say who called what.
    /// `parameters` are template parameters (name, value) over the defaults.
    /// The table, key and sender are made by a `local-api --aws`, whose
    /// store `app` is (for the admin commands and store checks).
    pub async fn through_lambda_binaries(
        binaries: &Path,
        proxy: &FaultProxy,
        parameters: &[(&str, &str)],
    ) -> Self {
        let mut test_app = Self::on_aws(moto().sdk_config().await, &[]).await;
        test_app.base_url = test_app.deploy(binaries, proxy, parameters);
        test_app
    }

    /// Starts another deployment of the Lambda binaries (as after
    /// [`TestApp::through_lambda_binaries`]) on this app's table, key and
    /// sender, with `parameters` over the template's defaults; returns its
    /// base URL. `SigningKeyArn`, `PreviousSigningKeyArns` and `TokenIssuer`
    /// among them make a key rotation.
    pub fn deploy(
        &mut self,
        binaries: &Path,
        proxy: &FaultProxy,
        parameters: &[(&str, &str)],
    ) -> String {
        let port = on_a_free_port(|port| self.deploy_on(port, binaries, proxy, parameters))
            .unwrap_or_else(|message| panic!("{message}"));
        format!("http://127.0.0.1:{port}")
    }

    fn deploy_on(
        &mut self,
        port: u16,
        binaries: &Path,
        proxy: &FaultProxy,
        parameters: &[(&str, &str)],
    ) -> Result<u16, String> {
        let base_url = format!("http://127.0.0.1:{port}");
        let config = &self.app.config;
        let mut resolve = serde_json::json!({
            "Table": config.table_name,
            "SigningKey.Arn": config.kms_key_id,
            "SecretsKey.Arn": config.secrets_key_id,
            "CodeMacKey.Arn": config.code_mac_key_id,
            "MailFrom": config.mail_from,
            "PublicBaseUrl": base_url,
            "SigningAlgorithm": test_signing_algorithm(),
        });
        for (name, value) in parameters {
            resolve[*name] = Value::from(*value);
        }
        let logs = self._data_dir.path().join(format!("lambda-logs-{port}"));
        std::fs::create_dir_all(&logs).unwrap();
        let gateway = serde_json::json!({
            "template": workspace().join("template.yaml"),
            "binaries": binaries,
            "logs": logs,
            "resolve": resolve,
            "environment": {
                "AWS_ENDPOINT_URL": proxy.endpoint,
                "AWS_REGION": "us-east-1",
                // moto does not implement MessageType=DIGEST (tests/tests/kms_digest.rs covers it).
                "KMS_MESSAGE_TYPE": "RAW",
                "RUST_LOG": "info",
            },
        });
        let config_file = self._data_dir.path().join(format!("gateway-{port}.json"));
        std::fs::write(&config_file, gateway.to_string()).unwrap();
        let config_file = config_file.display().to_string();
        let python = moto_python()?;
        spawn_watched_on(
            &python,
            &workspace().join("tests/lambda_gateway.py"),
            &[&config_file],
            "lambda-gateway",
            port,
        )?;
        self.lambda_logs = Some(logs);
        Ok(port)
    }

    /// What the Lambda binaries logged, function by function (after
    /// [`TestApp::through_lambda_binaries`]), for a failing test to show.
    pub fn lambda_logs(&self) -> String {
        let Some(folder) = &self.lambda_logs else {
            return String::new();
        };
        sorted_files(folder)
            .iter()
            .map(|file| {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                format!("--- {}\n{text}", file.display())
            })
            .collect()
    }

    fn new(server: RunningServer, mail: MailSource, data_dir: TempDir) -> Self {
        Self {
            base_url: format!("http://{}", server.address),
            app: server.app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            mail,
            server: server.task,
            _data_dir: data_dir,
            lambda_logs: None,
            tag: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// An address of `name`'s that no other test uses (`name.<tag>@example.com`).
    pub fn address(&self, name: &str) -> String {
        format!("{name}.{}@example.com", self.tag)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `method path` with a JSON body and, if given, a bearer token: the
    /// status and the JSON answer (`null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_register(&self, body: &Value) -> reqwest::Response {
        self.post_json("/v1/users", body).await
    }

    pub async fn post_login(&self, body: &Value) -> reqwest::Response {
        self.post_json("/v1/auth/login", body).await
    }

    /// Registers an account and opens its confirmation link.
    pub async fn register_confirmed(&self, email: &str, password: &str) {
        let response = self
            .post_register(&serde_json::json!({"email": email, "password": password}))
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let link = self.confirmation_link(email).await;
        let response = self.client.get(&link).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }

    /// Signs in (the account must be confirmed) and returns the token pair.
    pub async fn login(&self, login: &str, password: &str) -> Value {
        let response = self
            .post_login(&serde_json::json!({"login": login, "password": password}))
            .await;
        assert_eq!(response.status(), 200, "sign-in failed");
        response.json().await.unwrap()
    }

    /// An admin made by the operator program at `email`, signed in: the
    /// token pair.
    pub async fn signed_in_admin(&self, email: &str, password: &str) -> Value {
        self.admin(
            &["users", "create", "--email", email, "--role", "admin"],
            &format!("{password}\n"),
        )
        .await
        .unwrap();
        self.login(email, password).await
    }

    /// A TOTP factor enrolled and proven on the account of `token`: its id
    /// and the code that proved it.
    pub async fn proven_totp(&self, token: &str) -> (String, String) {
        let (status, enrolment) = self
            .call(
                reqwest::Method::POST,
                "/v1/users/me/factors/totp",
                Some(token),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 201, "{enrolment}");
        let code = latchkey::domain::TotpSecret::from_base32(enrolment["secret"].as_str().unwrap())
            .unwrap()
            .code_at(time::OffsetDateTime::now_utc())
            .unwrap();
        let factor = enrolment["factor_id"].as_str().unwrap().to_owned();
        let (status, proven) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/users/me/factors/totp/{factor}/verify"),
                Some(token),
                serde_json::json!({ "code": code }),
            )
            .await;
        assert_eq!(status, 200, "{proven}");
        (factor, code)
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            "/v1/auth/refresh",
            &serde_json::json!({"refresh_token": refresh_token}),
        )
        .await
    }

    pub async fn token_info(&self, access_token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/v1/auth/token-info"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// The link of the latest confirmation email sent to `address`.
    pub async fn confirmation_link(&self, address: &str) -> String {
        self.latest_link(address, "/v1/users/confirm/").await
    }

    /// The link of the latest password-reset email sent to `address`.
    pub async fn reset_link(&self, address: &str) -> String {
        self.latest_link(address, "#token=").await
    }

    async fn latest_link(&self, address: &str, marker: &str) -> String {
        let bodies = self.emails_to(address).await;
        bodies
            .iter()
            .rev()
            .find_map(|body| find_link(body, marker))
            .unwrap_or_else(|| panic!("no email with {marker} was sent to {address}: {bodies:?}"))
    }

    /// Bodies of the emails sent to `address`, oldest first: the text part
    /// from the outbox, the stored (HTML) body from the emulator.
    pub async fn emails_to(&self, address: &str) -> Vec<String> {
        self.messages_to(address)
            .await
            .into_iter()
            .map(|message| message.body)
            .collect()
    }

    /// The emails sent to `address`, oldest first.
    pub async fn messages_to(&self, address: &str) -> Vec<SentEmail> {
        match &self.mail {
            MailSource::Outbox(folder) => outbox_emails(folder, address),
            MailSource::Moto(endpoint) => moto_emails(endpoint, address).await,
        }
    }

    /// The code of the latest password-reset email sent to `address`.
    pub async fn reset_token(&self, address: &str) -> String {
        let link = self.reset_link(address).await;
        let (_, token) = link.split_once("#token=").unwrap();
        token.to_owned()
    }

    /// Runs `latchkey-admin <args>` against this app's own store, with
    /// `input` as its standard input; returns what it printed.
    pub async fn admin(&self, args: &[&str], input: &str) -> anyhow::Result<String> {
        use clap::Parser;
        let parsed = latchkey_local::admin::AdminArgs::try_parse_from(
            std::iter::once("latchkey-admin").chain(args.iter().copied()),
        )?;
        let mut out = Vec::new();
        latchkey_local::admin::execute(
            &parsed.command,
            self.app.store.as_ref(),
            self.app.mailer.as_ref(),
            latchkey::config::PasswordSettings {
                policy: self.app.config.password_policy,
                argon2: self.app.config.argon2,
            },
            &self.app.config.user_types,
            &mut input.as_bytes(),
            &mut out,
        )
        .await?;
        Ok(String::from_utf8(out)?)
    }

    /// Everything the store holds, as bytes a test can search for a secret
    /// in: the embedded database's file, or every item of the DynamoDB
    /// table (a scan, each item's attributes as the SDK reads them).
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match &self.mail {
            MailSource::Outbox(folder) => {
                std::fs::read(folder.parent().unwrap().join("latchkey.redb")).unwrap()
            }
            MailSource::Moto(_) => {
                let client = aws_sdk_dynamodb::Client::new(&moto().sdk_config().await);
                let items: Vec<_> = client
                    .scan()
                    .table_name(&self.app.config.table_name)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .unwrap();
                format!("{items:?}").into_bytes()
            }
        }
    }

    /// The outbox folder (embedded mode only), for tests that break it.
    pub fn outbox_folder(&self) -> Option<&Path> {
        match &self.mail {
            MailSource::Outbox(folder) => Some(folder),
            MailSource::Moto(_) => None,
        }
    }

    /// Full parsed messages from the outbox (embedded mode only).
    pub fn outbox_files(&self) -> Vec<PathBuf> {
        match &self.mail {
            MailSource::Outbox(folder) => outbox_messages(folder),
            MailSource::Moto(_) => Vec::new(),
        }
    }
}

fn sorted_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One sent email as a test sees it.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub subject: String,
    /// The text part (outbox) or the stored body (the emulator keeps HTML).
    pub body: String,
}

/// The `.eml` files of an outbox, oldest first (beside them: `.link` files).
fn outbox_messages(folder: &Path) -> Vec<PathBuf> {
    sorted_files(folder)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect()
}

fn outbox_emails(folder: &Path, address: &str) -> Vec<SentEmail> {
    outbox_messages(folder)
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            let message = mail_parser::MessageParser::default().parse(&bytes)?;
            let to = message.to()?.first()?.address()?.to_owned();
            (to.eq_ignore_ascii_case(address)).then(|| SentEmail {
                subject: message.subject().unwrap_or_default().to_owned(),
                body: message.body_text(0).unwrap_or_default().into_owned(),
            })
        })
        .collect()
}

async fn moto_emails(endpoint: &str, address: &str) -> Vec<SentEmail> {
    let state: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|message| {
            message["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|to| to.iter().any(|entry| entry.as_str() == Some(address)))
        })
        .filter_map(|message| {
            Some(SentEmail {
                subject: message["subject"].as_str()?.to_owned(),
                body: message["body"].as_str()?.to_owned(),
            })
        })
        .collect()
}

/// The first URL in `text` containing `marker`.
pub fn find_link(text: &str, marker: &str) -> Option<String> {
    let at = text.find(marker)?;
    let start = text[..at].rfind("http")?;
    let end = text[start..]
        .find(|c: char| {
            !(c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c))
                || c == '"'
                || c == '\''
        })
        .map_or(text.len(), |offset| start + offset);
    Some(text[start..end].to_owned())
}

/// A `moto_server` shared by the tests of one binary.
pub struct Moto {
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// Starts `moto_server` on a free port the first time it is asked for. A
/// watchdog shell stops it when this test process ends.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| match start_moto() {
        Ok(moto) => moto,
        Err(message) => panic!("{message}"),
    })
}

impl Moto {
    pub async fn sdk_config(&self) -> SdkConfig {
        emulator_sdk_config(&self.endpoint).await
    }
}

async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    latchkey::adapters::aws::config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "latchkey-tests",
        ))
        .load()
        .await
}

/// A new asymmetric KMS key in moto for the suite's signing algorithm, as
/// an operator would create one to rotate to; its ARN.
pub async fn new_signing_key_arn() -> String {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let kms = aws_sdk_kms::Client::new(&moto().sdk_config().await);
    let spec = match test_signing_algorithm() {
        "ES256" => KeySpec::EccNistP256,
        _ => KeySpec::Rsa2048,
    };
    let created = kms
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    created.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// The ARN of a KMS key in moto, from its id or alias.
pub async fn key_arn(key_id: &str) -> String {
    let kms = aws_sdk_kms::Client::new(&moto().sdk_config().await);
    let described = kms.describe_key().key_id(key_id).send().await.unwrap();
    described.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// `tests/fault_proxy.py` between the AWS adapters and moto: it forwards
/// every call, except that a test can make one service throttle or fail.
pub struct FaultProxy {
    pub endpoint: String,
    client: reqwest::Client,
}

impl FaultProxy {
    /// Starts a proxy of this test's own in front of the shared moto.
    pub fn start() -> Self {
        let moto = moto();
        let python = match moto_python() {
            Ok(python) => python,
            Err(message) => panic!("{message}"),
        };
        let port = match spawn_watched(
            &python,
            &workspace().join("tests/fault_proxy.py"),
            &[&moto.endpoint],
            "fault-proxy",
        ) {
            Ok(port) => port,
            Err(message) => panic!("{message}"),
        };
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    pub async fn sdk_config(&self) -> SdkConfig {
        emulator_sdk_config(&self.endpoint).await
    }

    /// From now, `service` (`dynamodb`, `kms`, `ses`) answers its calls
    /// after the first `after` with a throttling error (`kind` = `throttle`)
    /// or an internal error (`fail`).
    pub async fn arm(&self, service: &str, kind: &str, after: u64) {
        let response = self
            .client
            .post(format!("{}/__fault", self.endpoint))
            .json(&serde_json::json!({"service": service, "kind": kind, "after": after}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// The IAM actions each caller's calls needed since the last
    /// [`FaultProxy::clear_actions`], by access key id.
    pub async fn actions(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.client
            .get(format!("{}/__actions", self.endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn clear_actions(&self) {
        let response = self
            .client
            .delete(format!("{}/__actions", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// Stops failing calls; returns how many it failed since armed.
    pub async fn disarm(&self) -> u64 {
        let answer: Value = self
            .client
            .delete(format!("{}/__fault", self.endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["failed"].as_u64().unwrap()
    }
}

/// `tests/kms_digest.py`: KMS `GetPublicKey` and `Sign` with
/// `MessageType=DIGEST` as AWS implements them (moto does not), over two
/// keys, `KmsDigest::RSA_KEY` and `KmsDigest::EC_KEY`.
pub struct KmsDigest {
    pub endpoint: String,
}

impl KmsDigest {
    pub const RSA_KEY: &'static str = "arn:aws:kms:us-east-1:111122223333:key/rsa";
    pub const EC_KEY: &'static str = "arn:aws:kms:us-east-1:111122223333:key/ec";

    pub fn start() -> Self {
        let python = moto_python().unwrap_or_else(|message| panic!("{message}"));
        let port = spawn_watched(
            &python,
            &workspace().join("tests/kms_digest.py"),
            &[],
            "kms-digest",
        )
        .unwrap_or_else(|message| panic!("{message}"));
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn sdk_config(&self) -> SdkConfig {
        emulator_sdk_config(&self.endpoint).await
    }

    /// Every `Sign` request it received, as sent (JSON).
    pub async fn sign_requests(&self) -> Vec<Value> {
        reqwest::get(&self.endpoint)
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The Python that has moto installed: beside `$MOTO_SERVER` if set, else
/// the project's tools venv, else `python3` on the `PATH`.
pub fn moto_python() -> Result<PathBuf, String> {
    let beside = |moto_server: &Path| {
        let bin = moto_server.parent()?;
        ["python3", "python"]
            .into_iter()
            .map(|name| bin.join(name))
            .find(|candidate| candidate.exists())
    };
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return beside(Path::new(&path))
            .ok_or_else(|| format!("no python beside MOTO_SERVER={path}"));
    }
    let workspace = workspace();
    if let Some(python) = beside(&workspace.join(".tools/venv/bin/moto_server")) {
        return Ok(python);
    }
    let has_moto = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if has_moto {
        return Ok(PathBuf::from("python3"));
    }
    Err(
        "moto is not installed. Run ./scripts/test.sh (it installs the pinned tools into \
         .tools/), or `pip install 'moto[server]==5.2.1'`, or set MOTO_SERVER to the \
         moto_server of a venv that has it."
            .to_owned(),
    )
}

/// The workspace's root folder. `cargo test` sets CARGO_MANIFEST_DIR (of
/// the package under test, one level below the root) when it runs a test
/// too; reading it then, rather than baking it in at compile time, keeps a
/// build cache that outlives the checkout (CI keeps one) from pointing at a
/// folder that no longer exists.
pub fn workspace() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

fn start_moto() -> Result<Moto, String> {
    let python = moto_python()?;
    // moto_server, but serving one request at a time: see the script.
    let port = spawn_watched(
        &python,
        &workspace().join("tests/moto_serial.py"),
        &["-H", "127.0.0.1", "-p"],
        "moto",
    )?;
    Ok(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
    })
}

/// Runs `python script ARGS… PORT` on a free port and waits until it
/// listens; a watchdog ends it when this process (the test binary) is gone.
fn spawn_watched(python: &Path, script: &Path, args: &[&str], name: &str) -> Result<u16, String> {
    on_a_free_port(|port| spawn_watched_on(python, script, args, name, port))
}

/// Runs `start` on a port that was free a moment ago. Another process (a
/// parallel test's server, an outgoing connection) can take it before
/// `start`'s program binds it; then it tries again on another.
fn on_a_free_port(mut start: impl FnMut(u16) -> Result<u16, String>) -> Result<u16, String> {
    let mut tries = 0;
    loop {
        match start(free_port()?) {
            Err(message) if message.contains("Address already in use") && tries < 3 => {
                tries += 1;
            }
            outcome => return outcome,
        }
    }
}

fn free_port() -> Result<u16, String> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port())
}

/// [`spawn_watched`] on a port chosen beforehand.
fn spawn_watched_on(
    python: &Path,
    script: &Path,
    args: &[&str],
    name: &str,
    port: u16,
) -> Result<u16, String> {
    let log = std::env::temp_dir().join(format!("latchkey-{name}-{port}.log"));
    let watchdog = r#"python=$1 watched=$2 log=$3; shift 3
"$python" "$@" >"$log" 2>&1 & child=$!
while kill -0 "$watched" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill "$child" 2>/dev/null"#;
    Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .arg("sh")
        .arg(python)
        .arg(std::process::id().to_string())
        .arg(&log)
        .arg(script)
        .args(args)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", python.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    Err(format!(
        "{} did not open port {port} within 60 s; its log:\n{output}",
        script.display()
    ))
}

/// Runs each scenario `async fn name(app: TestApp)` twice, as tests in the
/// modules `embedded_store` and `dynamodb_and_ses_in_moto`, each on a fresh
/// app with the scenario's settings (`name with ("VAR", "value"), …;`).
#[macro_export]
macro_rules! on_both_stores {
    ($($scenario:ident $(with $($setting:expr),+)?;)*) => {
        mod embedded_store {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $scenario() {
                    let settings: &[(&str, &str)] = &[$($($setting),+)?];
                    super::$scenario($crate::TestApp::embedded_with(settings).await).await;
                }
            )*
        }
        mod dynamodb_and_ses_in_moto {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $scenario() {
                    let settings: &[(&str, &str)] = &[$($($setting),+)?];
                    super::$scenario($crate::TestApp::on_moto_with(settings).await).await;
                }
            )*
        }
    };
}
