//! Lambda binary for the `link-identity` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::LinkIdentity)
}
