//! Lambda binary for the `delete-address` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::DeleteAddress)
}
