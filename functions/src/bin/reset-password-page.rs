//! Lambda binary for the `reset-password-page` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ResetPasswordPage)
}
