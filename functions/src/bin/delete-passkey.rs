//! Lambda binary for the `delete-passkey` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::DeletePasskey)
}
