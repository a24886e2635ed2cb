//! Lambda binary for the `add-passkey` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::AddPasskey)
}
