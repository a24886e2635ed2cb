//! `POST /v1/auth/login`: `login` (or its aliases `email`, `username`),
//! `password`, `remember_me`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::domain::Password;
use latchkey::http::forms;
use latchkey::http::views::TokenPairView;
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, parse_fields,
};
use latchkey::services::login::{Credentials, login};

pub async fn handle(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let identifier = fields.first_text(&["login", "email", "username"]);
    let identifier = check.required("login", identifier, FieldCode::InvalidValue, |text| {
        Ok(text.trim().to_owned())
    });
    // Only the length cap applies at sign-in: the policy may have changed
    // since the password was set.
    let password = check.required(
        "password",
        fields.text("password"),
        FieldCode::InvalidValue,
        |text| {
            Password::candidate(text)
                .ok_or_else(|| FieldError::new("password", FieldCode::PasswordTooLong))
        },
    );
    let remember_me = check
        .check(fields.boolean("remember_me"))
        .flatten()
        .unwrap_or(false);
    let user_type = forms::source(&mut check, &fields, &app.config.user_types);
    let (identifier, password, user_type) =
        check.finish_with(|| Some((identifier?, password?, user_type?)))?;
    let pair = login(
        app,
        Credentials {
            identifier,
            user_type,
            password,
            remember_me,
        },
        &meta.connection(),
    )
    .await?;
    json_response(StatusCode::OK, &TokenPairView::from(&pair))
}
