//! Lambda binary for the `resend-confirmation` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ResendConfirmation)
}
