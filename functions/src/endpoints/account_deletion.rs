//! `DELETE /v1/users/me` (recent sign-in, or `current_password` in the
//! body) and, for admins, `DELETE /v1/admin/users/{id}`.

use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::auth::require_user;
use latchkey::http::{ApiError, RequestMeta, Validator, forms, no_content, parse_fields};
use latchkey::services::account_deletion;

pub async fn delete_own(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let current_password = forms::current_password(&mut check, &fields);
    check.finish()?;
    account_deletion::delete_own(app, &caller, current_password, &meta.client_ip).await?;
    no_content()
}

pub async fn delete_as_admin(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let caller = require_user(app, &request).await?;
    let id = super::user_id_in_path(&request)?;
    account_deletion::delete_as_admin(app, &caller, id).await?;
    no_content()
}
