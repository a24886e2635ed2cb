//! `GET /v1/auth/token-info`: what an access token says, if it is still good.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::RequestMeta;
use latchkey::http::auth::{Caller, TokenSource, require_caller};
use latchkey::http::{ApiError, json_response};
use serde_json::json;

pub async fn handle(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let now = app.clock.now().unix_timestamp();
    let body = match require_caller(app, &request, TokenSource::HeaderOrQuery).await? {
        Caller::User(user) => json!({
            "uid": user.user_id.to_string(),
            "ttl": (user.claims.exp - now).max(0),
            "sid": user.session_id.to_string(),
            "scope": user.claims.scope,
            "kind": "user",
            "user_type": user.claims.user_type,
            "amr": user.claims.amr,
            "aal": user.claims.aal,
            "auth_time": user.claims.auth_time,
        }),
        Caller::Client(client) => json!({
            "uid": client.client_id.to_string(),
            "ttl": (client.claims.exp - now).max(0),
            "sid": null,
            "scope": client.claims.scope,
            "kind": "client",
        }),
    };
    json_response(StatusCode::OK, &body)
}
