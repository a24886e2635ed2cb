//! `GET /v1/users/confirm/{code}` (the link in the email) and
//! `POST /v1/users/confirm`. Browsers opening the link get a 303 to the
//! configured page; API clients get JSON.

use http::StatusCode;
use http::header::LOCATION;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::{Locale, UserType};
use latchkey::http::RequestMeta;
use latchkey::http::{ApiError, FieldCode, Validator, json_response, parse_fields};
use latchkey::services::confirm::{ConfirmError, Confirmed, confirm_email, confirm_email_for_page};
use serde_json::json;

pub async fn handle(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    if request.method() == http::Method::GET {
        let code = request
            .path_parameters()
            .first("code")
            .unwrap_or_default()
            .to_owned();
        if wants_html(&request) {
            // The link's type goes to the page only if the code cannot name
            // the account (a failed link), and only if it is one of ours.
            let link_type = request
                .query_string_parameters_ref()
                .and_then(|query| query.first("source"))
                .and_then(|name| app.config.user_types.source(Some(name)).ok())
                .unwrap_or_default();
            let outcome = confirm_email_for_page(app, &code).await;
            return redirect(app, outcome, &link_type).await;
        }
        return confirm(app, &code).await;
    }
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let code = check.required(
        "code",
        fields.text("code"),
        FieldCode::InvalidValue,
        |text| Ok(text.to_owned()),
    );
    let code = check.finish_with(|| code)?;
    confirm(app, &code).await
}

async fn confirm(app: &App, code: &str) -> Result<Response<Body>, ApiError> {
    let confirmed = confirm_email(app, code).await?;
    json_response(
        StatusCode::OK,
        &json!({ "user_id": confirmed.user_id.to_string(), "status": "active" }),
    )
}

/// A browser navigation: asks for HTML and is not an XHR/fetch call.
fn wants_html(request: &Request) -> bool {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    header("accept").contains("text/html")
        && !header("x-requested-with").eq_ignore_ascii_case("XMLHttpRequest")
}

/// `303` to the configured page with `?confirmed=true` (or `already`) and
/// the account's `lang`, or `?error=<code>`; and `source` for an account
/// of another than the default type.
async fn redirect(
    app: &App,
    outcome: Result<(Confirmed, Option<(Locale, UserType)>), ConfirmError>,
    link_type: &UserType,
) -> Result<Response<Body>, ApiError> {
    let mut target = app.config.confirmation_redirect_url.clone();
    let mut user_type = link_type.clone();
    match outcome {
        Ok((confirmed, account)) => {
            let value = if confirmed.already { "already" } else { "true" };
            target.query_pairs_mut().append_pair("confirmed", value);
            // The page speaks the account's language.
            if let Some((locale, account_type)) = account {
                target
                    .query_pairs_mut()
                    .append_pair("lang", locale.as_str());
                user_type = account_type;
            }
        }
        Err(error) => {
            let error = ApiError::from(error);
            if error.status().is_server_error() {
                tracing::error!(error = %error, source = ?std::error::Error::source(&error), "confirmation failed");
            }
            target.query_pairs_mut().append_pair("error", error.code());
        }
    }
    if let Some(name) = user_type.stored_name() {
        target.query_pairs_mut().append_pair("source", name);
    }
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(LOCATION, target.as_str())
        .header(http::header::CACHE_CONTROL, "no-store")
        // The page must not learn the code from the Referer.
        .header("referrer-policy", "no-referrer")
        .body(Body::Empty)
        .map_err(|error| ApiError::Internal(Box::new(error)))
}
