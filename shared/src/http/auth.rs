//! The one bearer-token extractor. Every endpoint that takes an access token
//! goes through [`require_user`], which also checks the token's session is
//! still live.

use http::header::AUTHORIZATION;
use lambda_http::{Request, RequestExt};

use crate::App;
use crate::http::ApiError;
use crate::services::sessions::{Principal, authenticate};

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

/// The caller, or `401 invalid_token`.
pub async fn require_user(
    app: &App,
    request: &Request,
    source: TokenSource,
) -> Result<Principal, ApiError> {
    let token = bearer_token(request, source)?.ok_or(ApiError::InvalidToken)?;
    Ok(authenticate(app, &token).await?)
}
