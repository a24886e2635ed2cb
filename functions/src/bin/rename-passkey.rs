//! Lambda binary for the `rename-passkey` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::RenamePasskey)
}
