//! `latchkey-admin`: see `latchkey_local::admin`.

use clap::Parser;
use latchkey_local::admin::{AdminArgs, execute, open_store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = AdminArgs::parse();
    let store = open_store(&args).await?;
    execute(&args.command, store.as_ref(), &mut std::io::stdout()).await
}
