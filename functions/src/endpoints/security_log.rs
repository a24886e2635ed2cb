//! The security log: `GET /v1/users/me/events` and, for admins, `GET
//! /v1/admin/users/{id}/events`; newest first, `cursor` and `limit` (1–100)
//! in the query.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::EventId;
use latchkey::http::auth::require_user;
use latchkey::http::views::EventView;
use latchkey::http::{ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response};
use latchkey::ports::EventPage;
use latchkey::services::security_log::{self, DEFAULT_PAGE, MAX_PAGE};
use serde_json::json;

/// The query's `cursor` and `limit`.
fn page_request(request: &Request) -> Result<(Option<EventId>, usize), ApiError> {
    let query = request.query_string_parameters();
    let text = |name: &str| {
        query
            .first(name)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let invalid = |name: &str| FieldError::new(name, FieldCode::InvalidValue);
    let mut check = Validator::default();
    let before = check.check(
        text("cursor")
            .map(|cursor| EventId::parse(cursor).ok_or_else(|| invalid("cursor")))
            .transpose(),
    );
    let limit = check.check(match text("limit") {
        None => Ok(DEFAULT_PAGE),
        Some(number) => number
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| invalid("limit")),
    });
    check.finish_with(|| Some((before?, limit?)))
}

fn page_response(page: &EventPage) -> Result<Response<Body>, ApiError> {
    let events: Vec<EventView> = page.events.iter().map(EventView::from).collect();
    json_response(
        StatusCode::OK,
        &json!({
            "events": events,
            "next_cursor": page.next.map(|id| id.to_string()),
        }),
    )
}

pub async fn own(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let (before, limit) = page_request(&request)?;
    page_response(&security_log::own(app, &caller, before, limit).await?)
}

pub async fn of_user(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = super::user_id_in_path(&request)?;
    let (before, limit) = page_request(&request)?;
    page_response(&security_log::of_user(app, &caller, id, before, limit).await?)
}
