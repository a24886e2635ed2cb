//! Lambda binary for the `status` endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::Status).await
}
