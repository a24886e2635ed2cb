//! Lambda binary for the `oidc-callback` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::OidcCallback)
}
