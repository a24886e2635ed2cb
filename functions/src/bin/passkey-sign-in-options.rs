//! Lambda binary for the `passkey-sign-in-options` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::PasskeySignInOptions)
}
