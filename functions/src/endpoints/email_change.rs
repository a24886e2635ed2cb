//! Changing one's email: `POST /v1/users/me/email` (`new_email`, and
//! `current_password` for an older sign-in) and `POST
//! /v1/users/me/email/confirm` (`code`, from the link; with the account's
//! bearer token its session stays, every other one ends).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::auth::{TokenSource, optional_user, recently_signed_in};
use latchkey::http::forms;
use latchkey::http::views::UserView;
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, parse_fields,
};
use latchkey::services::email_change::{confirm as confirm_change, request as request_change};
use serde_json::json;

/// `202 {new_email}` (the address as sent).
pub async fn request(
    app: &App,
    meta: &RequestMeta,
    http_request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, fields) = recently_signed_in(app, meta, &http_request).await?;
    let mut check = Validator::default();
    let new_email = check.required(
        "new_email",
        fields.text("new_email"),
        FieldCode::InvalidEmail,
        |text| {
            forms::new_email(text).map_err(|error| FieldError {
                field: "new_email".to_owned(),
                ..error
            })
        },
    );
    let new_email = check.finish_with(|| new_email)?;
    request_change(app, &caller, &meta.client_ip, new_email.clone()).await?;
    json_response(
        StatusCode::ACCEPTED,
        &json!({ "new_email": new_email.as_str() }),
    )
}

/// `200 {user}` with the new address.
pub async fn confirm(
    app: &App,
    _meta: &RequestMeta,
    http_request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = optional_user(app, &http_request, TokenSource::Header).await?;
    let fields = parse_fields(&http_request)?;
    let mut check = Validator::default();
    let code = check.required(
        "code",
        fields.text("code"),
        FieldCode::InvalidValue,
        |text| Ok(text.to_owned()),
    );
    let code = check.finish_with(|| code)?;
    let keep = caller.map(|caller| (caller.user_id, caller.session_id));
    let user = confirm_change(app, &code, keep).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": UserView::new(&user, &app.config.user_types) }),
    )
}
