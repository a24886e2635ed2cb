//! Passkeys: `POST /v1/users/me/passkeys/options`, `POST
//! /v1/users/me/passkeys` (`challenge_id`, `credential`, `name`), `GET
//! /v1/users/me/passkeys`, `PATCH` and `DELETE
//! /v1/users/me/passkeys/{id}`; sign-in with `POST /v1/auth/passkey/options`
//! (optional `login`, `source`) and `POST /v1/auth/passkey`
//! (`challenge_id`, `credential`, `remember_me`).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::domain::FactorName;
use latchkey::http::auth::{recently_signed_in, require_user};
use latchkey::http::body::Fields;
use latchkey::http::forms;
use latchkey::http::views::{PasskeyView, TokenPairView};
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, no_content,
    parse_fields,
};
use latchkey::services::passkeys::{self, Named, Started, passkey_id};
use serde_json::json;

fn started(started: &Started) -> Result<Response<Body>, ApiError> {
    json_response(
        StatusCode::OK,
        &json!({ "challenge_id": started.challenge_id, "public_key": started.public_key }),
    )
}

/// The path's passkey id, as sent (the service tells an unknown one).
fn path_id(request: &Request) -> &str {
    super::path_parameter(request, "id").unwrap_or_default()
}

fn name(check: &mut Validator, fields: &Fields) -> Option<FactorName> {
    check.optional(
        "name",
        fields.text("name"),
        FieldCode::InvalidValue,
        |text| {
            FactorName::parse(text).map_err(|_| FieldError::new("name", FieldCode::InvalidValue))
        },
    )
}

pub async fn registration_options(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, _) = recently_signed_in(app, meta, &request).await?;
    started(&passkeys::registration_options(app, &caller).await?)
}

/// `201 {passkey_id, name}`.
pub async fn add(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let answer = forms::passkey_answer(&mut check, &fields);
    let name = name(&mut check, &fields);
    let (challenge_id, credential) = check.finish_with(|| answer)?;
    let passkey = passkeys::register(app, &caller, &challenge_id, &credential, name).await?;
    json_response(
        StatusCode::CREATED,
        &json!({
            "passkey_id": passkey_id(&passkey.credential_id),
            "name": passkey.name.as_str(),
        }),
    )
}

pub async fn list(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let passkeys = passkeys::list(app, &caller).await?;
    let views: Vec<PasskeyView> = passkeys.iter().map(PasskeyView::from).collect();
    json_response(StatusCode::OK, &json!({ "passkeys": views }))
}

/// `PATCH` with `name`: `200` with the passkey.
pub async fn rename(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let name = check.required(
        "name",
        fields.text("name"),
        FieldCode::InvalidValue,
        |text| {
            FactorName::parse(text).map_err(|_| FieldError::new("name", FieldCode::InvalidValue))
        },
    );
    let name = check.finish_with(|| name)?;
    let passkey = passkeys::rename(app, &caller, path_id(&request), name).await?;
    json_response(StatusCode::OK, &PasskeyView::from(&passkey))
}

pub async fn delete(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, _) = recently_signed_in(app, meta, &request).await?;
    passkeys::remove(app, &caller, path_id(&request)).await?;
    no_content()
}

pub async fn sign_in_options(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let identifier = check.optional(
        "login",
        fields.first_text(&["login", "email"]),
        FieldCode::InvalidValue,
        |text| Ok(text.trim().to_owned()),
    );
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let user_type = check.finish_with(|| user_type)?;
    let named = identifier.map(|identifier| Named {
        identifier,
        user_type,
    });
    started(&passkeys::sign_in_options(app, named).await?)
}

pub async fn sign_in(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let answer = forms::passkey_answer(&mut check, &fields);
    let remember_me = check
        .check(fields.boolean("remember_me"))
        .flatten()
        .unwrap_or(false);
    let (challenge_id, credential) = check.finish_with(|| answer)?;
    let pair = passkeys::sign_in(
        app,
        &challenge_id,
        &credential,
        remember_me,
        &meta.connection(),
    )
    .await?;
    json_response(StatusCode::OK, &TokenPairView::from(&pair))
}
