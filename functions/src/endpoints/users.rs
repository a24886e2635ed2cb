//! `GET /v1/users/{id}` (anyone; how much they see is decided in
//! `views::user_for`), and for admins `GET` and `PATCH
//! /v1/admin/users/{id}` and `GET /v1/admin/users`.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::{AccountStatus, Role, Roles, TooManyRoles, UserId};
use latchkey::http::RequestMeta;
use latchkey::http::auth::{TokenSource, optional_user, require_user};
use latchkey::http::forms;
use latchkey::http::views::{UserView, user_for};
use latchkey::http::{ApiError, FieldCode, FieldError, Validator, json_response, parse_fields};
use latchkey::ports::{MAX_SEARCH_PAGE, UserSearch};
use latchkey::services::profile::{AdminChange, admin_update, admin_view, search_users, view_user};
use serde_json::{Value, json};

pub async fn get(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = optional_user(app, &request, TokenSource::Header).await?;
    let id = super::user_id_in_path(&request)?;
    let (user, viewer) = view_user(app, caller.as_ref(), id).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": user_for(viewer, &user, &app.config) }),
    )
}

pub async fn admin_get(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let user = admin_view(app, &caller, super::user_id_in_path(&request)?).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": UserView::new(&user, &app.config.user_types) }),
    )
}

pub async fn admin_patch(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = super::user_id_in_path(&request)?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let status = check.optional(
        "status",
        fields.text("status"),
        FieldCode::InvalidValue,
        |text| {
            AccountStatus::parse(text)
                .map_err(|_| FieldError::new("status", FieldCode::InvalidValue))
        },
    );
    let roles = match fields.value("roles") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let parsed: Option<Vec<Role>> = items
                .iter()
                .map(|item| item.as_str().and_then(|text| Role::parse(text).ok()))
                .collect();
            match parsed.map(Roles::new) {
                Some(Ok(roles)) => Some(roles),
                Some(Err(TooManyRoles)) => {
                    check.push(FieldError::new("roles", FieldCode::TooMany));
                    None
                }
                None => {
                    check.push(FieldError::new("roles", FieldCode::InvalidValue));
                    None
                }
            }
        }
        Some(_) => {
            check.push(FieldError::new("roles", FieldCode::InvalidValue));
            None
        }
    };
    check.finish()?;
    let user = admin_update(app, &caller, id, AdminChange { status, roles }).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": UserView::new(&user, &app.config.user_types) }),
    )
}

/// `GET /v1/admin/users?source=&email=&status=&role=&limit=&cursor=`:
/// accounts of one type (the default type when `source` is absent), newest
/// first. `email` is a prefix of the address, compared without regard to
/// case; `cursor` is the `next_cursor` of the previous page.
pub async fn admin_search(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let query = request.query_string_parameters();
    let text = |name: &str| {
        query
            .first(name)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let mut check = Validator::default();
    let invalid = |name: &str| FieldError::new(name, FieldCode::InvalidValue);
    let user_type = check.check(forms::source_named(text("source"), &app.config.user_types));
    let email_prefix = check.check(
        text("email")
            .map(|prefix| {
                if prefix.chars().count() > 254 {
                    Err(FieldError::new("email", FieldCode::TooLong))
                } else {
                    Ok(prefix.to_lowercase())
                }
            })
            .transpose(),
    );
    let status = check.check(
        text("status")
            .map(|word| AccountStatus::parse(word).map_err(|_| invalid("status")))
            .transpose(),
    );
    let role = check.check(
        text("role")
            .map(|name| Role::parse(name).map_err(|_| invalid("role")))
            .transpose(),
    );
    let before = check.check(
        text("cursor")
            .map(|cursor| UserId::parse(cursor).ok_or_else(|| invalid("cursor")))
            .transpose(),
    );
    let limit = check.check(match text("limit") {
        None => Ok(DEFAULT_SEARCH_PAGE),
        Some(number) => number
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_SEARCH_PAGE).contains(limit))
            .ok_or_else(|| invalid("limit")),
    });
    let search = check.finish_with(|| {
        Some(UserSearch {
            user_type: user_type?,
            email_prefix: email_prefix?,
            status: status?,
            role: role?,
            before: before?,
            limit: limit?,
        })
    })?;
    let page = search_users(app, &caller, &search).await?;
    let users: Vec<UserView> = page
        .users
        .iter()
        .map(|user| UserView::new(user, &app.config.user_types))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "users": users,
            "next_cursor": page.next.map(|id| id.to_string()),
        }),
    )
}

/// Accounts on a search page when `limit` is not given.
const DEFAULT_SEARCH_PAGE: usize = 20;
