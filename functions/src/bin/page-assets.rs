//! Lambda binary for the `page-assets` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::PageAssets)
}
