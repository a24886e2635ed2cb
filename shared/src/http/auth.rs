//! The bearer-token extractors. Every endpoint that takes an access token
//! goes through one of them, and all check that the token's session (or
//! service client) is still live: [`require_user`] and [`optional_user`] for
//! user tokens, [`require_caller`] for user or client tokens;
//! [`recently_signed_in`] adds the recent-auth check of sensitive changes.

use http::header::AUTHORIZATION;
use lambda_http::{Request, RequestExt};

use crate::App;
use crate::http::body::Fields;
use crate::http::{ApiError, RequestMeta, Validator, forms, parse_fields};
use crate::services::clients::{ClientPrincipal, live_client};
use crate::services::reauth::require_recent;
use crate::services::sessions::{Principal, authenticate, live_user, verify};

/// Where an access token may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` only.
    Header,
    /// The header, or `?access_token=` (token-info, for clients that cannot
    /// set headers).
    HeaderOrQuery,
}

/// The bearer token of the request, if it has one. A malformed
/// `Authorization` header is an error, not an absence.
pub fn bearer_token(request: &Request, source: TokenSource) -> Result<Option<String>, ApiError> {
    if let Some(value) = request.headers().get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::InvalidToken)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(ApiError::InvalidToken);
        }
        return Ok(Some(token.to_owned()));
    }
    if source == TokenSource::Header {
        return Ok(None);
    }
    let query = request.query_string_parameters_ref();
    Ok(query
        .and_then(|query| query.first("access_token"))
        .map(str::to_owned))
}

/// The caller if the request carries a bearer token, which must then be
/// valid: a bad token is `401`, not an anonymous request.
pub async fn optional_user(
    app: &App,
    request: &Request,
    source: TokenSource,
) -> Result<Option<Principal>, ApiError> {
    match bearer_token(request, source)? {
        Some(token) => Ok(Some(authenticate(app, &token).await?)),
        None => Ok(None),
    }
}

/// The caller behind a valid user token with a live session, or
/// `401 invalid_token`.
pub async fn require_user(app: &App, request: &Request) -> Result<Principal, ApiError> {
    optional_user(app, request, TokenSource::Header)
        .await?
        .ok_or(ApiError::InvalidToken)
}

/// Whoever an access token speaks for.
#[derive(Debug, Clone)]
pub enum Caller {
    User(Principal),
    Client(ClientPrincipal),
}

/// A user with a live session or a service client that still exists, or
/// `401 invalid_token`. For endpoints that serve both (token-info).
pub async fn require_caller(
    app: &App,
    request: &Request,
    source: TokenSource,
) -> Result<Caller, ApiError> {
    let token = bearer_token(request, source)?.ok_or(ApiError::InvalidToken)?;
    // Verified once; the claims say whose token it is.
    let claims = verify(app, &token)?;
    if claims.client_id.is_some() {
        let client = live_client(app, claims)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        return Ok(Caller::Client(client));
    }
    Ok(Caller::User(live_user(app, claims).await?))
}

/// `client_id` and `client_secret` from `Authorization: Basic` (each part
/// form-urlencoded, RFC 6749 §2.3.1). `None` when the header is absent.
pub fn basic_credentials(request: &Request) -> Result<Option<(String, String)>, ApiError> {
    use base64::Engine;
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidClient)?;
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(ApiError::InvalidClient)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::InvalidClient);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::InvalidClient)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(ApiError::InvalidClient)?;
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The caller, after the recent-auth check (a recent sign-in, or
/// `current_password` in the body), and the body's fields.
pub async fn recently_signed_in(
    app: &App,
    meta: &RequestMeta,
    request: &Request,
) -> Result<(Principal, Fields), ApiError> {
    let caller = require_user(app, request).await?;
    let fields = parse_fields(request)?;
    let mut check = Validator::default();
    let current_password = forms::current_password(&mut check, &fields);
    check.finish()?;
    require_recent(app, &caller, current_password, &meta.client_ip).await?;
    Ok((caller, fields))
}
