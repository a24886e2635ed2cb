//! Lambda binary for the `delete-factor` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::DeleteFactor)
}
