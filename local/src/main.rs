//! `local-api`: run the whole API on this machine.
//!
//! ```text
//! cargo run --release --bin local-api -- [--port 3000] [--data-dir .local] [--aws [--bootstrap]]
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use latchkey_local::{Backend, Options, start};

/// Serves every route of the API on one port.
#[derive(Debug, Parser)]
#[command(name = "local-api", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 3000, env = "LOCAL_API_PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Folder for the embedded database, the signing key and the outbox.
    #[arg(long, default_value = ".local")]
    data_dir: PathBuf,
    /// Use DynamoDB, SES and KMS through the standard AWS environment
    /// (`AWS_ENDPOINT_URL` points them at an emulator).
    #[arg(long)]
    aws: bool,
    /// With --aws: create the table, signing key and sender identity if missing.
    #[arg(long, requires = "aws")]
    bootstrap: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the whole cause chain, not a backtrace.
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    latchkey::telemetry::init_compact();
    let started = Instant::now();
    let args = Args::parse();
    let backend = if args.aws {
        Backend::Aws {
            sdk: Box::new(latchkey::adapters::aws::load_from_env().await),
            bootstrap: args.bootstrap,
            // Bootstrapping means an emulator: print links as local mode does.
            log_links: args.bootstrap,
        }
    } else {
        Backend::Local {
            data_dir: args.data_dir.clone(),
        }
    };
    let options = Options {
        address: SocketAddr::new(args.host, args.port),
        backend,
        settings: HashMap::new(),
        read_env: true,
    };
    let server = start(options).await?;
    let storage = if args.aws {
        "DynamoDB, SES and KMS from the AWS environment".to_owned()
    } else {
        let outbox = args.data_dir.join("outbox");
        format!(
            "embedded store in {}, emails in {}",
            args.data_dir.display(),
            outbox.display()
        )
    };
    tracing::info!(
        "local-api listening on http://{} ({storage}); ready in {} ms",
        server.address,
        started.elapsed().as_millis()
    );
    tokio::select! {
        result = server.task => result?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
