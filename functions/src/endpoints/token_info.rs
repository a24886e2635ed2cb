//! `GET /v1/auth/token-info`: what an access token says, if it is still good.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::auth::{TokenSource, require_user};
use latchkey::http::{ApiError, json_response};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, ApiError> {
    let principal = require_user(app, &request, TokenSource::HeaderOrQuery).await?;
    let ttl = (principal.claims.exp - app.clock.now().unix_timestamp()).max(0);
    json_response(
        StatusCode::OK,
        &json!({
            "uid": principal.user_id.to_string(),
            "ttl": ttl,
            "sid": principal.session_id.to_string(),
            "scope": principal.claims.scope,
            "kind": "user",
        }),
    )
}
