//! `local-api`: every route of the route table in one process, through the
//! same handlers as the Lambda binaries, on local adapters (embedded store,
//! outbox, local key) or, with `--aws`, on the production adapters.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use latchkey::adapters::embedded::{EmbeddedStore, EventLog};
use latchkey::adapters::local_key::{LocalKeySigner, public_key_from_file};
use latchkey::adapters::local_mac::LocalMac;
use latchkey::adapters::local_sealer::LocalSealer;
use latchkey::adapters::local_secrets::LocalSecrets;
use latchkey::adapters::outbox::OutboxMailer;
use latchkey::http::{ApiError, MAX_BODY_BYTES, RequestMeta, finish};
use latchkey::ports::{EmailMessage, MailError, Mailer, SigningAlgorithm};
use latchkey::{Adapters, App, Config};
use latchkey_functions::{RouteMatch, match_route};
use tokio::net::TcpListener;

pub mod admin;
pub mod bootstrap;

/// Where the adapters of a local server come from.
pub enum Backend {
    /// Embedded store, `.eml` outbox and a key file, all under `data_dir`.
    Local { data_dir: PathBuf },
    /// DynamoDB, SES v2 and KMS through this AWS configuration. With
    /// `bootstrap`, the table, signing key and sender identity are created
    /// first when missing (for an emulator such as `moto_server`).
    Aws {
        sdk: Box<aws_config::SdkConfig>,
        bootstrap: bool,
        /// Log each email's link and where the emulator keeps the message,
        /// as local mode does (`local-api --aws --bootstrap`; never on AWS,
        /// since links carry codes).
        log_links: bool,
    },
}

pub struct Options {
    pub address: SocketAddr,
    pub backend: Backend,
    /// Settings that win over the local defaults (and over the environment
    /// when `read_env` is set).
    pub settings: HashMap<String, String>,
    /// Whether process environment variables override the local defaults.
    pub read_env: bool,
}

/// A server that is accepting connections.
pub struct RunningServer {
    pub address: SocketAddr,
    pub app: Arc<App>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Local defaults under the given settings: every variable `Config` needs,
/// with links and the issuer pointing at this server.
fn local_config(options: &Options, address: SocketAddr) -> anyhow::Result<Config> {
    let base_url = format!("http://{address}");
    let mut defaults: HashMap<&str, String> = HashMap::from([
        ("TABLE_NAME", "latchkey".to_owned()),
        ("KMS_KEY_ID", bootstrap::LOCAL_KEY_ALIAS.to_owned()),
        ("MAIL_FROM", "no-reply@latchkey.example".to_owned()),
        // The issuer follows PUBLIC_BASE_URL, as deployed.
        ("PUBLIC_BASE_URL", base_url),
    ]);
    if let Backend::Aws {
        bootstrap: true, ..
    } = options.backend
    {
        // Bootstrapping means an emulator, and moto does not implement
        // KMS `MessageType=DIGEST`.
        defaults.insert("KMS_MESSAGE_TYPE", "RAW".to_owned());
    }
    let lookup = |name: &str| {
        options
            .settings
            .get(name)
            .cloned()
            .or_else(|| {
                if options.read_env {
                    std::env::var(name).ok()
                } else {
                    None
                }
            })
            .or_else(|| defaults.get(name).cloned())
    };
    Config::from_lookup(lookup).context("invalid configuration")
}

/// Mail through an emulator's SES, each link then logged with where the
/// emulator keeps the message, so working with `--aws` needs no mailbox.
struct LinkLoggingMailer {
    inner: Arc<dyn Mailer>,
    inbox: String,
}

#[async_trait::async_trait]
impl Mailer for LinkLoggingMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        self.inner.send(message).await?;
        match &message.link {
            Some(link) => {
                tracing::info!(inbox = %self.inbox, %link, "email sent through the emulator")
            }
            None => tracing::info!(inbox = %self.inbox, "email sent through the emulator"),
        }
        Ok(())
    }

    async fn open_connection(&self) {
        self.inner.open_connection().await;
    }
}

/// Binds, builds the adapters and starts serving in the background.
pub async fn start(options: Options) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(options.address)
        .await
        .with_context(|| format!("cannot listen on {}", options.address))?;
    let address = listener.local_addr()?;
    let mut config = local_config(&options, address)?;
    let app = match &options.backend {
        Backend::Local { data_dir } => local_app(config, data_dir)?,
        Backend::Aws {
            sdk,
            bootstrap,
            log_links,
        } => {
            if *bootstrap {
                bootstrap::provision(sdk, &mut config).await?;
            }
            let mut app = App::on_aws_with(config, sdk).await?;
            if *log_links {
                let inbox = sdk.endpoint_url().map_or_else(
                    || "SES".to_owned(),
                    |endpoint| format!("{endpoint}/moto-api/data.json (ses.Message)"),
                );
                app.mailer = Arc::new(LinkLoggingMailer {
                    inner: app.mailer,
                    inbox,
                });
            }
            app
        }
    };
    let app = Arc::new(app);
    let task = tokio::spawn(serve(listener, Arc::clone(&app)));
    Ok(RunningServer { address, app, task })
}

/// The key file that stands in for the KMS secrets key in local mode.
pub const SECRETS_KEY_FILE: &str = "secrets-key.bin";

/// The key file that stands in for the KMS HMAC key in local mode.
pub const CODE_MAC_KEY_FILE: &str = "code-mac-key.bin";

fn local_app(config: Config, data_dir: &Path) -> anyhow::Result<App> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let store = open_embedded_store(data_dir)?.with_audit_retention(config.audit_retention);
    let mailer = OutboxMailer::new(&data_dir.join("outbox"), &config.mail_from)
        .context("cannot set up the outbox")?;
    // One key file per algorithm, so switching SIGNING_ALGORITHM just works.
    let key_file = match config.signing_algorithm {
        SigningAlgorithm::RS256 => "signing-key-rs256.pem",
        SigningAlgorithm::ES256 => "signing-key-es256.pem",
    };
    let signer =
        LocalKeySigner::load_or_create(&data_dir.join(key_file), config.signing_algorithm)?;
    let previous_keys = config
        .previous_signing_keys
        .iter()
        .map(|path| public_key_from_file(Path::new(path), config.signing_algorithm))
        .collect::<Result<Vec<_>, _>>()?;
    let sealer = LocalSealer::load_or_create(&data_dir.join(SECRETS_KEY_FILE))
        .with_context(|| format!("cannot load {}", data_dir.join(SECRETS_KEY_FILE).display()))?;
    let code_mac = LocalMac::load_or_create(&data_dir.join(CODE_MAC_KEY_FILE))
        .with_context(|| format!("cannot load {}", data_dir.join(CODE_MAC_KEY_FILE).display()))?;
    let adapters = Adapters {
        store: Arc::new(store),
        mailer: Arc::new(mailer),
        signer: Arc::new(signer),
        sealer: Arc::new(sealer),
        code_mac: Arc::new(code_mac),
        secrets: Arc::new(LocalSecrets::new(data_dir.join(PROVIDER_SECRETS_FILE))),
    };
    Ok(App::new(config, adapters, previous_keys)?)
}

/// The file of a data folder that stands in for Secrets Manager: the
/// client secrets of `OIDC_PROVIDERS`, `{"<client_secret_arn>": "<secret>"}`.
pub const PROVIDER_SECRETS_FILE: &str = "secrets.json";

/// The file the lifecycle events of a data folder go to.
pub const EVENTS_FILE: &str = "events.jsonl";

/// The embedded database of a data folder, appending the lifecycle events
/// of its committed writes to `events.jsonl` there.
pub fn open_embedded_store(data_dir: &Path) -> anyhow::Result<EmbeddedStore> {
    let path = data_dir.join("latchkey.redb");
    let store =
        EmbeddedStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(store.with_event_log(EventLog::new(data_dir.join(EVENTS_FILE))))
}

async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(dispatch(&app, request, peer).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

/// Turns a hyper request into the request API Gateway would hand a Lambda
/// (request context, path and query parameters), routes it, and converts the
/// handler's response back.
async fn dispatch(
    app: &App,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let routed = match_route(&method, &path);

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(uuid::Uuid::now_v7().to_string());
    context.stage = Some("$default".to_owned());
    context.route_key = Some(match &routed {
        RouteMatch::Found { route, .. } => route.key(),
        _ => "$default".to_owned(),
    });
    let mut description = ApiGatewayV2httpRequestContextHttpDescription::default();
    description.method = parts.method.clone();
    description.path = Some(path);
    description.source_ip = Some(peer.ip().to_string());
    context.http = description;

    // API Gateway refuses bodies over 10 MB; anything over our own limit is
    // answered 413 by the handler, so reading a little past it is enough.
    let body = Limited::new(body, MAX_BODY_BYTES + 1)
        .collect()
        .await
        .map(|collected| collected.to_bytes());
    let too_large = body.is_err();
    let bytes = body.unwrap_or_default();
    let request = http::Request::from_parts(parts, Body::from(bytes.to_vec()))
        .with_request_context(RequestContext::ApiGatewayV2(context))
        .with_query_string_parameters(query.parse::<QueryMap>().unwrap_or_default());

    let response = match routed {
        RouteMatch::Found {
            route,
            path_parameters,
        } if !too_large => {
            latchkey_functions::handle(
                app,
                route.endpoint,
                request.with_path_parameters(path_parameters),
            )
            .await
        }
        found => {
            let error = match found {
                RouteMatch::Found { .. } => ApiError::PayloadTooLarge,
                RouteMatch::MethodNotAllowed => ApiError::MethodNotAllowed,
                RouteMatch::NotFound => ApiError::NotFound,
            };
            finish(&app.config, &RequestMeta::of(&request), Err(error))
        }
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
