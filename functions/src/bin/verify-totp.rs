//! Lambda binary for the `verify-totp` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::VerifyTotp)
}
