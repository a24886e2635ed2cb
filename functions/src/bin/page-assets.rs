//! Lambda binary for the `page-assets` endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::PageAssets).await
}
