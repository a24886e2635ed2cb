//! `POST /v1/password/forgot` (`email` or `login`) and `POST /v1/password/reset`
//! (`token`, `password`, `password_confirmation`).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::forms;
use latchkey::http::{ApiError, FieldCode, RequestMeta, Validator, json_response, parse_fields};
use latchkey::services::reset::{forgot_password, reset_password};
use serde_json::json;

/// Always `202 {email}` (the identifier as sent), whether or not an
/// account has it.
pub async fn forgot(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let identifier = check.required(
        "email",
        fields.first_text(&["email", "login"]),
        FieldCode::InvalidValue,
        |text| Ok(text.trim().to_owned()),
    );
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let (identifier, user_type) = check.finish_with(|| Some((identifier?, user_type?)))?;
    forgot_password(app, &meta.client_ip, &identifier, &user_type).await?;
    json_response(StatusCode::ACCEPTED, &json!({ "email": identifier }))
}

pub async fn reset(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let (token, password) = forms::reset(&fields)?;
    let user_id = reset_password(app, &token, &password).await?;
    json_response(StatusCode::OK, &json!({ "user_id": user_id.to_string() }))
}
