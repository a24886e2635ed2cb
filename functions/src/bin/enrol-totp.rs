//! Lambda binary for the `enrol-totp` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::EnrolTotp)
}
