//! `GET /v1/users/{id}` (anyone; how much they see is decided in
//! `views::user_for`) and `PATCH /v1/admin/users/{id}` (admins).

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::{AccountStatus, Role, Roles, TooManyRoles, UserId};
use latchkey::http::RequestMeta;
use latchkey::http::auth::{TokenSource, optional_user, require_user};
use latchkey::http::views::{UserView, user_for};
use latchkey::http::{ApiError, FieldCode, FieldError, Validator, json_response, parse_fields};
use latchkey::services::profile::{AdminChange, admin_update, view_user};
use serde_json::{Value, json};

fn user_id(request: &Request) -> Result<UserId, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("id"))
        .and_then(UserId::parse)
        .ok_or(ApiError::UserNotFound)
}

pub async fn get(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = optional_user(app, &request, TokenSource::Header).await?;
    let id = user_id(&request)?;
    let (user, viewer) = view_user(app, caller.as_ref(), id).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": user_for(viewer, &user, &app.config) }),
    )
}

pub async fn admin_patch(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = user_id(&request)?;
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
