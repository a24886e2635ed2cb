//! Sign-in with another provider (OpenID Connect):
//! `GET /v1/auth/oidc/{provider}/authorize` (`redirect_uri`,
//! `code_challenge`, `code_challenge_method`, `state`, `remember_me`,
//! `source`), the provider's return to `GET|POST
//! /v1/auth/oidc/{provider}/callback`, `POST /v1/auth/oidc/token` (`code`,
//! `code_verifier`); and the owner's `POST
//! /v1/users/me/identities/{provider}/link` (`redirect_uri`, `state`),
//! `GET /v1/users/me/identities`, `DELETE /v1/users/me/identities/{id}`.

use http::StatusCode;
use http::header::{CACHE_CONTROL, LOCATION};
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::domain::ProviderId;
use latchkey::http::auth::{recently_signed_in, require_user};
use latchkey::http::body::Fields;
use latchkey::http::forms;
use latchkey::http::views::{IdentityView, TokenPairView};
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, no_content,
    parse_fields,
};
use latchkey::services::federation::{
    self, AppReturn, FederationError, ProviderAnswer, SignInStart,
};
use serde_json::json;
use url::Url;

/// The path's provider, if it is one of `OIDC_PROVIDERS`.
fn provider_in_path(app: &App, request: &Request) -> Result<ProviderId, ApiError> {
    ProviderId::parse(super::path_parameter(request, "provider").unwrap_or_default())
        .ok()
        .filter(|id| app.config.oidc_providers.iter().any(|p| p.id == *id))
        .ok_or(ApiError::ProviderNotFound)
}

/// The app's `redirect_uri` and `state`, checked against the allowlist.
fn app_return(app: &App, fields: &Fields) -> Result<AppReturn, ApiError> {
    let text = |name: &str| fields.text(name).as_text().map(str::to_owned);
    let redirect_uri = text("redirect_uri").ok_or_else(|| {
        ApiError::InvalidRequest(FieldError::new("redirect_uri", FieldCode::Required))
    })?;
    Ok(federation::check_return(app, &redirect_uri, text("state"))?)
}

/// `302` to `location`, never cached, telling no one where it came from.
fn found(location: &Url) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, location.as_str())
        .header(CACHE_CONTROL, "no-store")
        .header("referrer-policy", "no-referrer")
        .body(Body::Empty)
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

pub async fn authorize(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let provider = provider_in_path(app, &request)?;
    let fields = Fields::from_query(&request);
    let app_return = app_return(app, &fields)?;
    let code_challenge = fields
        .text("code_challenge")
        .as_text()
        .ok_or_else(|| {
            ApiError::InvalidRequest(FieldError::new("code_challenge", FieldCode::Required))
        })?
        .to_owned();
    // S256 only: a plain challenge would be the verifier itself.
    if fields
        .text("code_challenge_method")
        .as_text()
        .is_some_and(|method| method != "S256")
    {
        return Err(FederationError::InvalidRequest("code_challenge_method").into());
    }
    let mut check = Validator::default();
    let remember_me = check
        .check(fields.boolean("remember_me"))
        .flatten()
        .unwrap_or(false);
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let user_type = check.finish_with(|| user_type)?;
    let location = federation::authorize(
        app,
        &meta.client_ip,
        SignInStart {
            provider,
            app: app_return,
            code_challenge,
            user_type,
            remember_me,
        },
    )
    .await?;
    found(&location)
}

/// The provider's return: `302` to the app, or `400 invalid_state` when
/// the state names no app to return to.
pub async fn callback(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let provider = provider_in_path(app, &request)?;
    // GET carries the answer in the query; `form_post` in the body.
    let fields = if request.method() == http::Method::POST {
        parse_fields(&request)?
    } else {
        Fields::from_query(&request)
    };
    let text = |name: &str| fields.text(name).as_text().map(str::to_owned);
    let answer = ProviderAnswer {
        state: text("state"),
        code: text("code"),
        error: text("error"),
    };
    match federation::callback(app, &provider, answer, &meta.connection()).await {
        Some(location) => found(&location),
        None => Err(ApiError::InvalidState),
    }
}

/// `200 TokenPair`, or `403 mfa_required`.
pub async fn token(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let mut required = |name: &str| {
        check.required(name, fields.text(name), FieldCode::InvalidValue, |text| {
            Ok(text.to_owned())
        })
    };
    let code = required("code");
    let verifier = required("code_verifier");
    let (code, verifier) = check.finish_with(|| Some((code?, verifier?)))?;
    let pair = federation::redeem(app, &code, &verifier, &meta.connection()).await?;
    json_response(StatusCode::OK, &TokenPairView::from(&pair))
}

/// `200 {authorization_url}`: where the app sends the owner's browser.
pub async fn link(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (caller, fields) = recently_signed_in(app, meta, &request).await?;
    let provider = provider_in_path(app, &request)?;
    let app_return = app_return(app, &fields)?;
    let url = federation::start_link(app, &caller, &provider, app_return).await?;
    json_response(
        StatusCode::OK,
        &json!({ "authorization_url": url.as_str() }),
    )
}

pub async fn list(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let identities = federation::identities(app, &caller).await?;
    let views: Vec<IdentityView> = identities.iter().map(IdentityView::from).collect();
    json_response(StatusCode::OK, &json!({ "identities": views }))
}

pub async fn unlink(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    federation::unlink(
        app,
        &caller,
        super::path_parameter(&request, "id").unwrap_or_default(),
        &meta.connection(),
    )
    .await?;
    no_content()
}
