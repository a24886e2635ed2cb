//! Lambda binary for the `email-code-verify` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::EmailCodeVerify)
}
