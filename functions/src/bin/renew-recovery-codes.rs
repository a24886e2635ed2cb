//! Lambda binary for the `renew-recovery-codes` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::RenewRecoveryCodes)
}
