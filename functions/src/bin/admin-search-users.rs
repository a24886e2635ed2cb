//! Lambda binary for the `admin-search-users` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::AdminSearchUsers)
}
