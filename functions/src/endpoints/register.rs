//! `POST /v1/users`.

use http::StatusCode;
use http::header::LOCATION;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::domain::{Attributes, Locale, Login, Password, PersonName};
use latchkey::http::body::FieldValue;
use latchkey::http::forms;
use latchkey::http::views::UserView;
use latchkey::http::{
    ApiError, FieldCode, FieldError, Fields, RequestMeta, Validator, json_response, parse_fields,
};
use latchkey::services::register::{Registration, register};
use serde_json::json;

pub async fn handle(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let registration = parse_registration(app, meta, &fields)?;
    let registered = register(app, &meta.client_ip, registration).await?;
    let user = &registered.user;
    let mut response = json_response(
        StatusCode::CREATED,
        &json!({
            "user": UserView::new(user, &app.config.user_types),
            "confirmation_email_sent": registered.confirmation_email_sent,
        }),
    )?;
    if let Ok(location) = format!("/v1/users/{}", user.id).parse() {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

fn parse_registration(
    app: &App,
    meta: &RequestMeta,
    fields: &Fields,
) -> Result<Registration, ApiError> {
    let mut check = Validator::default();
    let email = check.required(
        "email",
        fields.text("email"),
        FieldCode::InvalidEmail,
        forms::new_email,
    );
    let login = check.optional(
        "login",
        fields.text("login"),
        FieldCode::InvalidLogin,
        |text| Login::parse(text).map_err(|_| FieldError::new("login", FieldCode::InvalidLogin)),
    );
    let first_name = check.optional(
        "first_name",
        fields.text("first_name"),
        FieldCode::InvalidFirstName,
        |text| {
            PersonName::parse(text)
                .map_err(|_| FieldError::new("first_name", FieldCode::InvalidFirstName))
        },
    );
    let last_name = check.optional(
        "last_name",
        fields.text("last_name"),
        FieldCode::InvalidLastName,
        |text| {
            PersonName::parse(text)
                .map_err(|_| FieldError::new("last_name", FieldCode::InvalidLastName))
        },
    );
    let locale = check
        .optional(
            "locale",
            fields.text("locale"),
            FieldCode::InvalidLocale,
            |text| {
                Locale::parse(text).map_err(|_| FieldError::new("locale", FieldCode::InvalidLocale))
            },
        )
        // No locale given: the language the client asked for.
        .unwrap_or(meta.locale);
    let profile_is_public = check
        .check(fields.boolean("profile_is_public"))
        .flatten()
        .unwrap_or(false);
    let attributes = check.attributes(Attributes::parse(
        fields.value("attributes"),
        &app.config.profile_attributes,
    ));

    // The password must differ from the email and login as typed, valid or not.
    let identifiers: Vec<&str> = ["email", "login"]
        .into_iter()
        .filter_map(|name| match fields.text(name) {
            FieldValue::Text(text) => Some(text),
            _ => None,
        })
        .collect();
    let password_field = fields.text("password");
    let raw_password = match password_field {
        FieldValue::Text(text) => Some(text),
        _ => None,
    };
    let password = check.required(
        "password",
        password_field,
        FieldCode::PasswordTooShort,
        |text| {
            Password::parse(text, &app.config.password_policy, &identifiers)
                .map_err(|error| FieldError::password("password", error))
        },
    );
    check.confirmation(fields, "password_confirmation", raw_password);

    let user_type = forms::source(&mut check, fields, &app.config.user_types);
    check.finish_with(|| {
        Some(Registration {
            user_type: user_type?,
            email: email?,
            login,
            password: password?,
            first_name,
            last_name,
            locale,
            profile_is_public,
            attributes: attributes?,
        })
    })
}
