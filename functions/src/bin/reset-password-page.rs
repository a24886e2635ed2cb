//! Lambda binary for the `reset-password-page` endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ResetPasswordPage).await
}
