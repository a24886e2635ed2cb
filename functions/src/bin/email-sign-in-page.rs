//! Lambda binary for the `email-sign-in-page` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::EmailSignInPage)
}
