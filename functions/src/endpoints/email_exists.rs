//! `GET /v1/users/exists?email=`: whether an address is registered.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::http::forms;
use latchkey::http::{ApiError, FieldCode, FieldError, RequestMeta, json_response};
use latchkey::services::exists::email_exists;
use serde_json::json;

pub async fn handle(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let query = request.query_string_parameters();
    let email = match query.first("email").map(str::trim) {
        None | Some("") => Err(FieldError::new("email", FieldCode::Required)),
        Some(text) => forms::email(text),
    };
    let user_type = forms::source_named(query.first("source"), &app.config.user_types);
    let (email, user_type) = match (email, user_type) {
        (Ok(email), Ok(user_type)) => (email, user_type),
        (email, user_type) => {
            let errors = [email.err(), user_type.err()]
                .into_iter()
                .flatten()
                .collect();
            return Err(ApiError::Validation(errors));
        }
    };
    let exists = email_exists(app, &meta.client_ip, &email, &user_type).await?;
    json_response(StatusCode::OK, &json!({ "exists": exists }))
}
