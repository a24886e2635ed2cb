//! Lambda binary for the `forgot-password` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ForgotPassword)
}
