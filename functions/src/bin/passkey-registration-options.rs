//! Lambda binary for the `passkey-registration-options` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::PasskeyRegistrationOptions)
}
