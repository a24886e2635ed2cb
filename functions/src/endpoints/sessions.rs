//! The caller's sessions: `GET /v1/users/me/sessions`, `DELETE
//! /v1/users/me/sessions/{id}`; for admins `DELETE
//! /v1/admin/users/{id}/sessions`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::domain::SessionId;
use latchkey::http::auth::require_user;
use latchkey::http::views::SessionView;
use latchkey::http::{ApiError, RequestMeta, json_response, no_content};
use latchkey::services::session_management;
use serde_json::json;

pub async fn list(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let sessions = session_management::list(app, &caller).await?;
    let views: Vec<SessionView> = sessions
        .iter()
        .map(|session| SessionView::of(session, caller.session_id))
        .collect();
    json_response(StatusCode::OK, &json!({ "sessions": views }))
}

pub async fn end(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = super::path_parameter(&request, "id")
        .and_then(SessionId::parse)
        .ok_or(ApiError::SessionNotFound)?;
    session_management::end(app, &caller, id).await?;
    no_content()
}

pub async fn admin_end_all(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = super::user_id_in_path(&request)?;
    session_management::admin_end_all(app, &caller, id).await?;
    no_content()
}
