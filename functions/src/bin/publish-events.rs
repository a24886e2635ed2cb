//! Lambda binary of the stream consumer that publishes lifecycle events.

fn main() -> Result<(), lambda_http::Error> {
    latchkey_functions::stream::run()
}
