//! Lambda binary for the `mfa` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::Mfa)
}
