//! `GET /status`: liveness, version and the commit it was built from.

use http::StatusCode;
use lambda_http::Request;
use lambda_http::{Body, Response};
use latchkey::App;
use latchkey::http::RequestMeta;
use latchkey::http::{ApiError, json_response};
use serde_json::json;

/// Set at build time by the deploy script (`LATCHKEY_COMMIT=$(git rev-parse HEAD)`).
const COMMIT: &str = match option_env!("LATCHKEY_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

pub async fn handle(
    _app: &App,
    _meta: &RequestMeta,
    _request: Request,
) -> Result<Response<Body>, ApiError> {
    json_response(
        StatusCode::OK,
        &json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "commit": COMMIT }),
    )
}
