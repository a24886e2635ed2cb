//! `latchkey-admin`: the operator program. Service clients are created,
//! listed, rotated and deleted here, never through the API. It talks to the
//! same store as the API: the embedded one in a data folder, or DynamoDB.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use latchkey::adapters::dynamodb::DynamoStore;
use latchkey::domain::ClientId;
use latchkey::ports::Store;
use latchkey::services::clients::{create_client, parse_scope, rotate_client_secret};
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey-admin",
    version,
    about = "Operate a Latchkey deployment"
)]
pub struct AdminArgs {
    /// Folder of the embedded store (stop local-api first: it holds the lock).
    #[arg(long, default_value = ".local")]
    pub data_dir: PathBuf,
    /// Use the DynamoDB table from the standard AWS environment instead.
    #[arg(long)]
    pub aws: bool,
    /// The table, with --aws.
    #[arg(long, env = "TABLE_NAME", default_value = "latchkey")]
    pub table: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Service clients (client-credentials grant).
    #[command(subcommand)]
    Clients(ClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Creates a client and prints its secret, once.
    Create {
        #[arg(long)]
        name: String,
        /// A scope the client may ask for; repeat for more.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Lists the clients (never their secrets).
    List,
    /// Gives a client a new secret; the old one stops working at once.
    Rotate { client_id: String },
    /// Deletes a client; its tokens stop working at once.
    Delete { client_id: String },
}

/// The store the arguments name.
pub async fn open_store(args: &AdminArgs) -> anyhow::Result<Arc<dyn Store>> {
    if args.aws {
        let sdk = aws_config::load_from_env().await;
        return Ok(Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &args.table,
        )));
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    Ok(Arc::new(crate::open_embedded_store(&args.data_dir)?))
}

fn client_id(text: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(text).with_context(|| format!("{text:?} is not a client id"))
}

/// Runs one command, writing what the operator should see to `out`.
pub async fn execute(
    command: &Command,
    store: &dyn Store,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let Command::Clients(command) = command;
    match command {
        ClientCommand::Create { name, scopes } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("a client name is 1 to 100 characters");
            }
            let scopes = scopes
                .iter()
                .map(|scope| parse_scope(scope).with_context(|| format!("scope {scope:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (client, secret) =
                create_client(store, name, scopes, time::OffsetDateTime::now_utc()).await?;
            writeln!(out, "client_id: {}", client.id)?;
            writeln!(out, "client_secret: {}", secret.expose())?;
            writeln!(out, "scopes: {}", client.scopes.join(" "))?;
            writeln!(
                out,
                "The secret is shown only now and stored only as a hash: keep it safe."
            )?;
        }
        ClientCommand::List => {
            let mut clients = store.list_clients().await?;
            clients.sort_by_key(|client| client.id);
            for client in clients {
                let created = client.created_at.format(&Rfc3339)?;
                let scopes = client.scopes.join(" ");
                writeln!(out, "{}\t{}\t{scopes}\t{created}", client.id, client.name)?;
            }
        }
        ClientCommand::Rotate { client_id: id } => {
            match rotate_client_secret(store, client_id(id)?).await? {
                Some(secret) => {
                    writeln!(out, "client_id: {id}")?;
                    writeln!(out, "client_secret: {}", secret.expose())?;
                    writeln!(out, "The old secret no longer works.")?;
                }
                None => bail!("no client with id {id}"),
            }
        }
        ClientCommand::Delete { client_id: id } => {
            if !store.delete_client(client_id(id)?).await? {
                bail!("no client with id {id}");
            }
            writeln!(out, "deleted {id}")?;
        }
    }
    Ok(())
}
