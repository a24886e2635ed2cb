//! `POST /v1/auth/refresh`: `refresh_token` → a new pair; the old token dies.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::RequestMeta;
use latchkey::http::views::TokenPairView;
use latchkey::http::{ApiError, FieldCode, Validator, json_response, parse_fields};
use latchkey::services::sessions::refresh;

pub async fn handle(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let token = check.required(
        "refresh_token",
        fields.text("refresh_token"),
        FieldCode::InvalidValue,
        |text| Ok(text.trim().to_owned()),
    );
    let token = check.finish_with(|| token)?;
    let pair = refresh(app, &token).await?;
    json_response(StatusCode::OK, &TokenPairView::from(&pair))
}
