//! `POST /v1/auth/logout`: ends the session of the bearer token and/or of
//! `refresh_token`; `all: true` ends every session of the user.

use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::RequestMeta;
use latchkey::http::auth::{TokenSource, optional_user};
use latchkey::http::body::FieldValue;
use latchkey::http::no_content;
use latchkey::http::{ApiError, Validator, parse_fields};
use latchkey::services::sessions::{Logout, logout};

pub async fn handle(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let all = check
        .check(fields.boolean("all"))
        .flatten()
        .unwrap_or(false);
    check.finish()?;
    let refresh_token = match fields.text("refresh_token") {
        FieldValue::Text(text) => Some(text.trim().to_owned()),
        FieldValue::Absent => None,
        FieldValue::WrongType => return Err(ApiError::InvalidToken),
    };
    // A bearer token, when sent, must be valid: a logout that silently did
    // nothing would leave the client believing it had signed out.
    let principal = optional_user(app, &request, TokenSource::Header).await?;
    logout(
        app,
        Logout {
            principal,
            refresh_token,
            all,
        },
    )
    .await?;
    no_content()
}
