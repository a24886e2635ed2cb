//! Lambda binary for the `admin-delete-user` endpoint.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::run_lambda(latchkey_functions::Endpoint::AdminDeleteUser)
}
