//! Lambda binary for the `passkeys-page` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::PasskeysPage)
}
