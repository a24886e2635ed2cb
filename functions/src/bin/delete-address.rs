//! Lambda binary for the `delete-address` endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::DeleteAddress).await
}
