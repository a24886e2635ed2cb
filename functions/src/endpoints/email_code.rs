//! `POST /v1/auth/email-code` (`email`, `source`) and
//! `POST /v1/auth/email-code/verify` (`email`, `code`, `remember_me`,
//! `source`): sign-in with a code sent by email.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::forms;
use latchkey::http::views::TokenPairView;
use latchkey::http::{ApiError, FieldCode, RequestMeta, Validator, json_response, parse_fields};
use latchkey::services::email_code::{CodeSignIn, request, verify};
use serde_json::json;

/// Always `202 {email}` (the address as sent), whether or not an account
/// has it.
pub async fn send(
    app: &App,
    meta: &RequestMeta,
    http_request: Request,
) -> Result<Response<Body>, ApiError> {
    if !app.config.email_sign_in_enabled {
        return Err(ApiError::NotFound);
    }
    let fields = parse_fields(&http_request)?;
    let mut check = Validator::default();
    let email = check.required(
        "email",
        fields.text("email"),
        FieldCode::InvalidEmail,
        forms::email,
    );
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let (email, user_type) = check.finish_with(|| Some((email?, user_type?)))?;
    request(app, &meta.client_ip, &email, &user_type).await?;
    json_response(StatusCode::ACCEPTED, &json!({ "email": email.as_str() }))
}

pub async fn sign_in(
    app: &App,
    meta: &RequestMeta,
    http_request: Request,
) -> Result<Response<Body>, ApiError> {
    if !app.config.email_sign_in_enabled {
        return Err(ApiError::NotFound);
    }
    let fields = parse_fields(&http_request)?;
    let mut check = Validator::default();
    let email = check.required(
        "email",
        fields.text("email"),
        FieldCode::InvalidEmail,
        forms::email,
    );
    let code = check.required(
        "code",
        fields.text("code"),
        FieldCode::InvalidValue,
        |text| Ok(text.to_owned()),
    );
    let remember_me = check
        .check(fields.boolean("remember_me"))
        .flatten()
        .unwrap_or(false);
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let (email, code, user_type) = check.finish_with(|| Some((email?, code?, user_type?)))?;
    let pair = verify(
        app,
        &meta.connection(),
        CodeSignIn {
            email,
            user_type,
            code,
            remember_me,
        },
    )
    .await?;
    json_response(StatusCode::OK, &TokenPairView::from(&pair))
}
