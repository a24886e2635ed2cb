//! `latchkey-admin`: see `latchkey_local::admin`.

use std::process::ExitCode;

use clap::Parser;
use latchkey_local::admin::{AdminArgs, execute, open_mailer, open_store};

#[tokio::main]
async fn main() -> ExitCode {
    let args = AdminArgs::parse();
    let outcome = async {
        let store = open_store(&args).await?;
        let mailer = open_mailer(&args).await?;
        // The deployment's password rules and user types, from the same
        // variables as the functions read.
        let passwords = latchkey::config::PasswordSettings::from_env()?;
        let user_types = latchkey::config::user_types_from_env()?;
        let mut input = std::io::stdin().lock();
        execute(
            &args.command,
            store.as_ref(),
            mailer.as_ref(),
            passwords,
            &user_types,
            &mut input,
            &mut std::io::stdout(),
        )
        .await
    };
    match outcome.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the whole cause chain; no backtrace for operators.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
