//! Lambda binary for the `email-change-page` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::EmailChangePage)
}
