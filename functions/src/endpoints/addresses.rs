//! `POST /v1/users/me/addresses` and `DELETE /v1/users/me/addresses/{address_id}`.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::{AddressId, AddressValue, AddressValueError, PersonName};
use latchkey::http::RequestMeta;
use latchkey::http::auth::require_user;
use latchkey::http::no_content;
use latchkey::http::{ApiError, FieldCode, FieldError, Validator, json_response, parse_fields};
use latchkey::services::profile::{add_address, delete_address};
use serde_json::json;

pub async fn add(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let address = check.required(
        "address",
        fields.text("address"),
        FieldCode::InvalidValue,
        |text| {
            AddressValue::parse(text).map_err(|error| {
                let code = match error {
                    AddressValueError::Length => FieldCode::TooLong,
                    AddressValueError::Characters => FieldCode::InvalidValue,
                };
                FieldError::new("address", code)
            })
        },
    );
    let name = check.optional(
        "name",
        fields.text("name"),
        FieldCode::InvalidValue,
        |text| {
            PersonName::parse(text).map_err(|_| FieldError::new("name", FieldCode::InvalidValue))
        },
    );
    let address = check.finish_with(|| address)?;
    let id = add_address(app, &caller, address, name).await?;
    json_response(
        StatusCode::CREATED,
        &json!({ "address_id": id.to_string() }),
    )
}

/// `204`, or `404 address_not_found` for an unknown id or another
/// account's address.
pub async fn delete(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("address_id"))
        .and_then(AddressId::parse)
        .ok_or(ApiError::AddressNotFound)?;
    delete_address(app, &caller, id).await?;
    no_content()
}
