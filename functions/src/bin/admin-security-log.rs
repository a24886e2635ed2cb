//! Lambda binary for the `admin-security-log` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::AdminSecurityLog)
}
