//! The published keys: `GET /v1/auth/public-key` (PEM of the current
//! signing key), `GET /.well-known/jwks.json` (current and retiring keys),
//! `GET /.well-known/openid-configuration`. Public data, cacheable.

use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::Request;
use lambda_http::{Body, Response};
use latchkey::App;
use latchkey::http::ApiError;
use latchkey::http::RequestMeta;
use serde_json::json;

/// Keys change only with a deployment; a few minutes of caching keeps
/// verifiers off this endpoint without delaying a rotation by much.
const CACHE: &str = "public, max-age=300";

fn public(content_type: &str, body: String) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, CACHE)
        .body(Body::Text(body))
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

pub async fn public_key(
    app: &App,
    _meta: &RequestMeta,
    _request: Request,
) -> Result<Response<Body>, ApiError> {
    public(
        "application/x-pem-file",
        app.signer.public_key_pem().to_owned(),
    )
}

pub async fn jwks(
    app: &App,
    _meta: &RequestMeta,
    _request: Request,
) -> Result<Response<Body>, ApiError> {
    let keys = app
        .public_keys
        .iter()
        .map(|key| key.to_jwk())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    public("application/json", json!({ "keys": keys }).to_string())
}

pub async fn openid_configuration(
    app: &App,
    _meta: &RequestMeta,
    _request: Request,
) -> Result<Response<Body>, ApiError> {
    let base = app.config.public_base_url.as_str().trim_end_matches('/');
    let document = json!({
        "issuer": app.config.token_issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/v1/auth/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [app.signer.algorithm().as_str()],
        "access_token_signing_alg_values_supported": [app.signer.algorithm().as_str()],
    });
    public("application/json", document.to_string())
}
