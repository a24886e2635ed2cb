//! Second factors: `GET /v1/users/me/factors`, `POST
//! /v1/users/me/factors/totp`, `POST /v1/users/me/factors/totp/{id}/verify`,
//! `DELETE /v1/users/me/factors/{id}`, `POST /v1/users/me/recovery-codes`,
//! and for admins `DELETE /v1/admin/users/{id}/factors`.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::{FactorId, FactorName};
use latchkey::http::auth::{recently_signed_in, require_user};
use latchkey::http::views::FactorView;
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, no_content,
    parse_fields,
};
use latchkey::secrets::RecoveryCode;
use latchkey::services::factors;
use serde_json::json;

fn factor_id(request: &Request) -> Result<FactorId, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("id"))
        .and_then(FactorId::parse)
        .ok_or(ApiError::FactorNotFound)
}

fn recovery_codes(codes: &[RecoveryCode]) -> serde_json::Value {
    json!({ "recovery_codes": codes.iter().map(RecoveryCode::as_str).collect::<Vec<_>>() })
}

pub async fn list(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let list = factors::list(app, &caller).await?;
    let views: Vec<FactorView> = list
        .factors
        .iter()
        .map(FactorView::from)
        .chain(list.passkeys.iter().map(FactorView::from))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "factors": views, "recovery_codes_left": list.recovery_codes_left }),
    )
}

/// `201` with the secret and its `otpauth://` URI, shown this once.
pub async fn enrol_totp(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, fields) = recently_signed_in(app, meta, &request).await?;
    let mut check = Validator::default();
    let name = check.optional(
        "name",
        fields.text("name"),
        FieldCode::InvalidValue,
        |text| {
            FactorName::parse(text).map_err(|_| FieldError::new("name", FieldCode::InvalidValue))
        },
    );
    check.finish()?;
    let enrolment = factors::enrol_totp(app, &caller, name).await?;
    json_response(
        StatusCode::CREATED,
        &json!({
            "factor_id": enrolment.factor_id.to_string(),
            "secret": enrolment.secret.base32(),
            "otpauth_uri": enrolment.otpauth_uri,
        }),
    )
}

/// `200 {recovery_codes}`: ten codes when this is the account's first
/// active factor, none otherwise.
pub async fn verify_totp(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = factor_id(&request)?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let code = check.required(
        "code",
        fields.text("code"),
        FieldCode::InvalidValue,
        |text| Ok(text.to_owned()),
    );
    let code = check.finish_with(|| code)?;
    let codes = factors::verify_totp(app, &caller, id, &code).await?;
    json_response(StatusCode::OK, &recovery_codes(&codes))
}

pub async fn delete(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, _) = recently_signed_in(app, meta, &request).await?;
    factors::remove(app, &caller, factor_id(&request)?).await?;
    no_content()
}

pub async fn renew_recovery_codes(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, _) = recently_signed_in(app, meta, &request).await?;
    let codes = factors::renew_recovery_codes(app, &caller).await?;
    json_response(StatusCode::OK, &recovery_codes(&codes))
}

pub async fn admin_reset(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = super::user_id_in_path(&request)?;
    factors::admin_reset(app, &caller, id).await?;
    no_content()
}
