//! Lambda binary for the `delete-account` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::DeleteAccount)
}
