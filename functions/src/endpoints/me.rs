//! The caller's own account: `GET /v1/users/me`, `PATCH /v1/users/me` and
//! `POST /v1/users/me/password`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::domain::{AttributePatch, Locale, Login, Password, PersonName};
use latchkey::http::auth::require_user;
use latchkey::http::body::{FieldValue, Fields};
use latchkey::http::no_content;
use latchkey::http::views::UserView;
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, parse_fields,
};
use latchkey::services::profile::{ProfilePatch, change_password, me, update_me};
use serde_json::json;

pub async fn get(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let user = me(app, &caller).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": UserView::new(&user, &app.config.user_types) }),
    )
}

pub async fn patch(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let fields = parse_fields(&request)?;
    let patch = parse_patch(app, &fields)?;
    let user = update_me(app, &caller, patch).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user": UserView::new(&user, &app.config.user_types) }),
    )
}

/// A field that may be set, cleared (`null` or blank) or left out.
fn clearable<T>(
    check: &mut Validator,
    fields: &Fields,
    name: &str,
    code: FieldCode,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<Option<T>> {
    if !fields.contains(name) {
        return None;
    }
    match fields.text(name) {
        FieldValue::Absent => Some(None),
        value => check
            .optional(name, value, code, |text| {
                parse(text).ok_or_else(|| FieldError::new(name, code))
            })
            .map(Some),
    }
}

fn parse_patch(app: &App, fields: &Fields) -> Result<ProfilePatch, ApiError> {
    let mut check = Validator::default();
    let login = clearable(
        &mut check,
        fields,
        "login",
        FieldCode::InvalidLogin,
        |text| Login::parse(text).ok(),
    );
    let first_name = clearable(
        &mut check,
        fields,
        "first_name",
        FieldCode::InvalidFirstName,
        |text| PersonName::parse(text).ok(),
    );
    let last_name = clearable(
        &mut check,
        fields,
        "last_name",
        FieldCode::InvalidLastName,
        |text| PersonName::parse(text).ok(),
    );
    let locale = check.optional(
        "locale",
        fields.text("locale"),
        FieldCode::InvalidLocale,
        |text| Locale::parse(text).map_err(|_| FieldError::new("locale", FieldCode::InvalidLocale)),
    );
    let profile_is_public = check.check(fields.boolean("profile_is_public")).flatten();
    let attributes = match fields.value("attributes") {
        None => None,
        Some(value) => {
            check.attributes(AttributePatch::parse(value, &app.config.profile_attributes))
        }
    };
    check.finish()?;
    Ok(ProfilePatch {
        login,
        first_name,
        last_name,
        locale,
        profile_is_public,
        attributes,
    })
}

/// `204`; every other session ends.
pub async fn password(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let current = check.required(
        "current_password",
        fields.text("current_password"),
        FieldCode::InvalidValue,
        |text| {
            Password::candidate(text)
                .ok_or_else(|| FieldError::new("current_password", FieldCode::PasswordTooLong))
        },
    );
    // The policy check needs the account's email and login: the service
    // makes it once it has read the account.
    let new_password = check.required(
        "new_password",
        fields.text("new_password"),
        FieldCode::InvalidValue,
        |text| Ok(text.to_owned()),
    );
    check.confirmation(
        &fields,
        "new_password_confirmation",
        new_password.as_deref(),
    );
    let (current, new_password) = check.finish_with(|| Some((current?, new_password?)))?;
    change_password(app, &caller, &meta.client_ip, current, &new_password).await?;
    no_content()
}
