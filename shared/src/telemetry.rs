//! Log set-up. Lambda: one JSON object per line (CloudWatch's JSON log
//! format reads it). Local: compact human-readable lines. `RUST_LOG`
//! overrides the default level (`info`). Each request runs in a `request`
//! span carrying its id and route, so every line it logs names them.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init_json() {
    init_json_to(std::io::stdout);
}

/// The Lambda log format, written to `writer` (tests read it back).
pub fn init_json_to<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // `try_init`: a second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        // The request span: its id and route on every line of a request.
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .try_init();
}

pub fn init_compact() {
    let _ = tracing_subscriber::fmt()
        .compact()
        .with_env_filter(filter())
        .with_target(false)
        .try_init();
}
