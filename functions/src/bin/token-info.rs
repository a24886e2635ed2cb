//! Lambda binary for the `token-info` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::TokenInfo)
}
