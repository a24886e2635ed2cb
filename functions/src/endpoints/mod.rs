//! One module per endpoint: parse → one service call → response.

use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::{ApiError, RequestMeta};

use crate::Endpoint;

pub mod addresses;
pub mod client_token;
pub mod confirm;
pub mod email_exists;
pub mod keys;
pub mod login;
pub mod logout;
pub mod me;
pub mod pages;
pub mod password_reset;
pub mod refresh;
pub mod register;
pub mod resend_confirmation;
pub mod status;
pub mod token_info;
pub mod users;

pub async fn call(
    endpoint: Endpoint,
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    match endpoint {
        Endpoint::Status => status::handle(),
        Endpoint::Register => register::handle(app, meta, request).await,
        Endpoint::Confirm => confirm::handle(app, request).await,
        Endpoint::ResendConfirmation => resend_confirmation::handle(app, meta, request).await,
        Endpoint::EmailExists => email_exists::handle(app, meta, request).await,
        Endpoint::ForgotPassword => password_reset::forgot(app, meta, request).await,
        Endpoint::ResetPassword => password_reset::reset(app, request).await,
        Endpoint::Me => me::get(app, request).await,
        Endpoint::UpdateMe => me::patch(app, request).await,
        Endpoint::ChangePassword => me::password(app, meta, request).await,
        Endpoint::AddAddress => addresses::add(app, request).await,
        Endpoint::DeleteAddress => addresses::delete(app, request).await,
        Endpoint::GetUser => users::get(app, request).await,
        Endpoint::AdminUpdateUser => users::admin_patch(app, request).await,
        Endpoint::ConfirmationPage => pages::confirmation(app, meta, request).await,
        Endpoint::ResetPasswordPage => pages::reset(app, meta, request).await,
        Endpoint::PageAssets => pages::asset(app, &request),
        Endpoint::Login => login::handle(app, meta, request).await,
        Endpoint::Refresh => refresh::handle(app, request).await,
        Endpoint::Logout => logout::handle(app, request).await,
        Endpoint::TokenInfo => token_info::handle(app, request).await,
        Endpoint::ClientToken => client_token::handle(app, request).await,
        Endpoint::PublicKey => keys::public_key(app),
        Endpoint::Jwks => keys::jwks(app),
        Endpoint::OpenidConfiguration => keys::openid_configuration(app),
    }
}
