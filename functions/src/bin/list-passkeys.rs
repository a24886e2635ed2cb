//! Lambda binary for the `list-passkeys` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ListPasskeys)
}
