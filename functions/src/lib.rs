//! Latchkey's HTTP edge. Each endpoint module parses a request into domain
//! types, calls one service, and maps the outcome to a response; business
//! rules stay in `latchkey::services`. Each endpoint is its own Lambda binary
//! (`src/bin/<name>.rs`) and a route of `local-api`, through [`handle`].

use std::convert::Infallible;

use lambda_http::{Body, Request, Response, service_fn};
use latchkey::App;
use latchkey::http::{RequestMeta, finish};
use tracing::Instrument;

pub mod endpoints;
pub mod routes;
pub mod stream;

pub use routes::{Endpoint, ROUTES, Route, RouteMatch, Uses, match_route};

/// Serves one request: the same path for Lambda and for `local-api`.
/// Always a response: errors become problem documents here.
pub async fn handle(app: &App, endpoint: Endpoint, request: Request) -> Response<Body> {
    let meta = RequestMeta::of(&request);
    let span = tracing::info_span!("request", request_id = %meta.request_id, route = %meta.route);
    async {
        let outcome = endpoint.call(app, &meta, request).await;
        finish(&app.config, &meta, outcome)
    }
    .instrument(span)
    .await
}

/// A Lambda binary's whole `main`. It builds the Tokio runtime here, in
/// this crate, so the async machinery is compiled once into the library
/// rather than again into each of the endpoint binaries (which made every
/// release binary a minutes-long compile).
pub fn run_lambda(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve_lambda(endpoint))
}

/// JSON logs, the adapters built once per cold start, the connections the
/// endpoint uses opened, then the runtime loop. A start-up failure is the
/// only `Err` (API Gateway answers 502).
async fn serve_lambda(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    latchkey::telemetry::init_json();
    let app = App::from_env().await.inspect_err(|error| {
        tracing::error!(endpoint = endpoint.name(), error = %error, "start-up failed");
    })?;
    let uses = endpoint.uses();
    app.open_connections(uses.store, uses.mail).await;
    lambda_http::run(service_fn(|request| {
        let app = &app;
        async move { Ok::<_, Infallible>(handle(app, endpoint, request).await) }
    }))
    .await
}
