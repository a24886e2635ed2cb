//! Lambda binary for the `admin-reset-factors` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::AdminResetFactors)
}
