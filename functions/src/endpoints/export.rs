//! `GET /v1/users/me/export`: the caller's account as one JSON document,
//! after a recent sign-in (a GET carries no password, so only a recent
//! `auth_time` passes).

use http::StatusCode;
use http::header::{CONTENT_DISPOSITION, HeaderValue};
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::auth::require_user;
use latchkey::http::views::AccountExportView;
use latchkey::http::{ApiError, RequestMeta, json_response};
use latchkey::services::export::export;
use latchkey::services::reauth::require_recent;

pub async fn handle(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    require_recent(app, &caller, None, &meta.client_ip).await?;
    let account = export(app, &caller).await?;
    let view = AccountExportView::of(&account, caller.session_id, &app.config.user_types);
    let mut response = json_response(StatusCode::OK, &view)?;
    // A user id is a UUID: always a valid header value.
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"account-{}.json\"",
        account.user.id
    ))
    .map_err(|error| ApiError::Internal(Box::new(error)))?;
    response
        .headers_mut()
        .insert(CONTENT_DISPOSITION, disposition);
    Ok(response)
}
