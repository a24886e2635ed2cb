//! Lambda binary for the `admin-end-sessions` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::AdminEndSessions)
}
