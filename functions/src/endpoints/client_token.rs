//! `POST /v1/auth/token`: the OAuth 2.0 client-credentials grant for
//! service clients. Credentials by HTTP Basic or in the form body.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::RequestMeta;
use latchkey::http::auth::basic_credentials;
use latchkey::http::body::FieldValue;
use latchkey::http::{ApiError, json_response, parse_fields};
use latchkey::services::clients::client_token;
use serde_json::json;

pub async fn handle(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let text = |name: &str| match fields.text(name) {
        FieldValue::Text(text) => Some(text.trim().to_owned()),
        _ => None,
    };
    if text("grant_type").as_deref() != Some("client_credentials") {
        return Err(ApiError::UnsupportedGrantType);
    }
    let (client_id, secret) = match basic_credentials(&request)? {
        Some(credentials) => credentials,
        None => match (text("client_id"), text("client_secret")) {
            (Some(id), Some(secret)) => (id, secret),
            _ => return Err(ApiError::InvalidClient),
        },
    };
    let token = client_token(app, &client_id, &secret, text("scope").as_deref()).await?;
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": token.expires_in,
            "scope": token.scope,
        }),
    )
}
