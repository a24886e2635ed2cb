//! Lambda binary for the `confirm-email-change` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ConfirmEmailChange)
}
