//! Lambda binary for the `export-account` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::ExportAccount)
}
