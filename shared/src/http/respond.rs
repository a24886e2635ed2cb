//! The envelope of every response: JSON bodies, problem documents,
//! `x-request-id`, and one log line per request.

use std::time::Instant;

use http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Response, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::Serialize;
use serde_json::json;

use crate::Config;
use crate::domain::Locale;
use crate::http::error::UNAVAILABLE_RETRY_AFTER_SECONDS;
use crate::http::{ApiError, i18n};
use crate::services::sessions::Connection;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the envelope needs to know about a request, taken before the
/// handler consumes it.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub locale: Locale,
    pub method: String,
    pub route: String,
    /// The caller's address as API Gateway saw the connection; never from a
    /// header the client controls (`X-Forwarded-For`). Requests without a
    /// context (direct invocations) share the bucket `unknown`.
    pub client_ip: String,
    /// The `User-Agent` header, as sent.
    pub user_agent: Option<String>,
    started: Instant,
}

impl RequestMeta {
    pub fn of(request: &Request) -> Self {
        let (request_id, route, client_ip) = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => (
                context.request_id.clone(),
                context.route_key.clone(),
                context.http.source_ip.clone(),
            ),
            _ => (None, None, None),
        };
        let accept_language = request
            .headers()
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok());
        Self {
            request_id: request_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            locale: i18n::negotiate(accept_language),
            method: request.method().to_string(),
            route: route.unwrap_or_else(|| request.uri().path().to_owned()),
            client_ip: client_ip.unwrap_or_else(|| "unknown".to_owned()),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            started: Instant::now(),
        }
    }

    /// The connection, as a sign-in records it.
    pub fn connection(&self) -> Connection<'_> {
        Connection {
            ip: &self.client_ip,
            user_agent: self.user_agent.as_deref(),
        }
    }
}

pub fn json_response(
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(|error| ApiError::Internal(Box::new(error)))?;
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        // Bodies carry tokens and personal data: no cache may keep them.
        .header(CACHE_CONTROL, "no-store")
        .body(Body::Text(text))
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

/// `204 No Content`.
pub fn no_content() -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

/// Turns a handler's outcome into the response: errors become problem
/// documents, every response gets `x-request-id`, and one line is logged.
pub fn finish(
    config: &Config,
    meta: &RequestMeta,
    outcome: Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_server_error() {
                let chain = error_chain(&error);
                tracing::error!(request_id = %meta.request_id, code = error.code(), error = %chain, "request failed");
            }
            problem(config, meta.locale, &error)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&meta.request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    tracing::info!(
        request_id = %meta.request_id,
        method = %meta.method,
        route = %meta.route,
        status = response.status().as_u16(),
        latency_ms = meta.started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// RFC 9457 problem document, localized. 5xx bodies say nothing of the cause.
pub fn problem(config: &Config, locale: Locale, error: &ApiError) -> Response<Body> {
    let kind = error.kind();
    let code = kind.as_str();
    let status = kind.status();
    let (title, detail) = i18n::problem_text(kind, locale);
    let mut body = json!({
        "type": format!("{}/{code}", config.error_docs_url.trim_end_matches('/')),
        "title": title,
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    if let Some(oauth_error) = error.oauth_error() {
        body["error"] = json!(oauth_error);
    }
    if let ApiError::MfaRequired(required) = error {
        body["mfa_token"] = json!(required.mfa_token);
        body["methods"] = required
            .methods
            .iter()
            .map(|method| json!(method.as_str()))
            .collect();
    }
    let field_errors = match error {
        ApiError::Validation(errors) => Some(errors.as_slice()),
        ApiError::InvalidRequest(field) => Some(std::slice::from_ref(field)),
        _ => None,
    };
    if let Some(errors) = field_errors {
        body["errors"] = errors
            .iter()
            .map(|field| {
                json!({
                    "field": field.field,
                    "code": field.code.as_str(),
                    "message": i18n::field_message(field.code, field.detail.as_deref(), locale),
                })
            })
            .collect();
    }
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/problem+json")
        .header(CACHE_CONTROL, "no-store")
        .header(http::header::CONTENT_LANGUAGE, locale.as_str());
    match error {
        ApiError::InvalidToken => {
            builder = builder.header(
                WWW_AUTHENTICATE,
                "Bearer realm=\"latchkey\", error=\"invalid_token\"",
            );
        }
        ApiError::InvalidClient => {
            builder = builder.header(WWW_AUTHENTICATE, "Basic realm=\"latchkey\"");
        }
        ApiError::InvalidCredentials => {
            builder = builder.header(WWW_AUTHENTICATE, "Bearer realm=\"latchkey\"")
        }
        ApiError::Unavailable(_) => {
            builder = builder.header(RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECONDS)
        }
        ApiError::RateLimited {
            retry_after_seconds,
        }
        | ApiError::TooManyAttempts {
            retry_after_seconds,
        } => builder = builder.header(RETRY_AFTER, *retry_after_seconds),
        _ => {}
    }
    builder
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| {
            let mut fallback = Response::new(Body::Empty);
            *fallback.status_mut() = status;
            fallback
        })
}
