//! `POST /v1/users/confirm/resend`: `email`. Always `202 {email}`, so the
//! answer says nothing about the address.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::forms;
use latchkey::http::{ApiError, FieldCode, RequestMeta, Validator, json_response, parse_fields};
use latchkey::services::resend::resend_confirmation;
use serde_json::json;

pub async fn handle(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let email = check.required(
        "email",
        fields.text("email"),
        FieldCode::InvalidEmail,
        |text| forms::email(text.trim()),
    );
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let (email, user_type) = check.finish_with(|| Some((email?, user_type?)))?;
    resend_confirmation(app, &meta.client_ip, &email, &user_type).await?;
    json_response(StatusCode::ACCEPTED, &json!({ "email": email.as_str() }))
}
