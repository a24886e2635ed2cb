//! `latchkey-admin`: the operator program. Service clients are created,
//! listed, rotated and deleted here, never through the API; so is the first
//! admin, and roles and status can be set here too. It talks to the same
//! store as the API: the embedded one in a data folder, or DynamoDB.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use latchkey::adapters::dynamodb::DynamoStore;
use latchkey::adapters::outbox::OutboxMailer;
use latchkey::adapters::ses::SesMailer;
use latchkey::config::PasswordSettings;
use latchkey::domain::{
    AccountStatus, Actor, ClientId, Email, Role, Roles, User, UserId, UserType, UserTypes,
};
use latchkey::mail::{self, FactorChange};
use latchkey::ports::{Mailer, Store};
use latchkey::services::clients::{create_client, parse_scope, rotate_client_secret};
use latchkey::services::factors;
use latchkey::services::profile::{AdminChange, apply_admin_change};
use latchkey::services::register::create_by_operator;
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
    /// The sender of notices (`users reset-factors`), with --aws: through
    /// SES, as the deployment sends. Locally they go to the data folder's
    /// outbox.
    #[arg(long, env = "MAIL_FROM", default_value = "no-reply@latchkey.example")]
    pub mail_from: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Service clients (client-credentials grant).
    #[command(subcommand)]
    Clients(ClientCommand),
    /// User accounts: the first admin, roles, status and second factors.
    #[command(subcommand)]
    Users(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates an active, confirmed account; the password is read from the
    /// first line of standard input, so it stays out of shell history.
    Create {
        #[arg(long)]
        email: String,
        /// The user type (USER_TYPES); the default type when left out.
        #[arg(long)]
        source: Option<String>,
        /// A role to grant; repeat for more (`--role admin` for the first admin).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Shows an account's id, type, status and roles.
    Show {
        email: String,
        #[arg(long)]
        source: Option<String>,
    },
    /// Grants a role (`admin` lets the account use the admin endpoint).
    GrantRole {
        email: String,
        role: String,
        #[arg(long)]
        source: Option<String>,
    },
    /// Takes a role away.
    RevokeRole {
        email: String,
        role: String,
        #[arg(long)]
        source: Option<String>,
    },
    /// Removes every second factor of an account that lost its own (the
    /// owner signs in with the password alone until adding one again) and
    /// emails the owner a notice.
    ResetFactors {
        email: String,
        #[arg(long)]
        source: Option<String>,
    },
    /// Sets the status; `disabled` ends every session at once.
    SetStatus {
        email: String,
        #[arg(long)]
        source: Option<String>,
        /// waiting, active or disabled.
        #[arg(value_parser = AccountStatus::parse)]
        status: AccountStatus,
    },
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
        let sdk = latchkey::adapters::aws::load_from_env().await;
        return Ok(Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &args.table,
        )));
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    Ok(Arc::new(crate::open_embedded_store(&args.data_dir)?))
}

/// Where the notices the program sends go: SES with --aws, else the data
/// folder's outbox (as `local-api` writes it).
pub async fn open_mailer(args: &AdminArgs) -> anyhow::Result<Arc<dyn Mailer>> {
    if args.aws {
        let sdk = latchkey::adapters::aws::load_from_env().await;
        return Ok(Arc::new(SesMailer::new(
            aws_sdk_sesv2::Client::new(&sdk),
            &args.mail_from,
        )));
    }
    let outbox = args.data_dir.join("outbox");
    Ok(Arc::new(
        OutboxMailer::new(&outbox, &args.mail_from)
            .with_context(|| format!("cannot set up {}", outbox.display()))?,
    ))
}

fn client_id(text: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(text).with_context(|| format!("{text:?} is not a client id"))
}

/// Runs one command, writing what the operator should see to `out`;
/// `input` supplies a new account's password.
/// `passwords`: the deployment's password policy and argon2id cost, which
/// accounts made here follow.
pub async fn execute(
    command: &Command,
    store: &dyn Store,
    mailer: &dyn Mailer,
    passwords: PasswordSettings,
    user_types: &UserTypes,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        Command::Clients(command) => execute_client(command, store, out).await,
        Command::Users(command) => {
            execute_user(command, store, mailer, passwords, user_types, input, out).await
        }
    }
}

/// `--source`: a configured user type, the default when left out.
fn user_type(types: &UserTypes, source: Option<&str>) -> anyhow::Result<UserType> {
    types
        .source(source)
        .map_err(|error| anyhow::anyhow!("--source {}: {error}", source.unwrap_or_default()))
}

async fn find_user(
    store: &dyn Store,
    types: &UserTypes,
    email: &str,
    source: Option<&str>,
) -> anyhow::Result<User> {
    let user_type = user_type(types, source)?;
    let parsed = Email::parse(email).map_err(|error| anyhow::anyhow!("{email:?}: {error}"))?;
    match store.find_by_email(&user_type.email_key(&parsed)).await? {
        Some(account) => Ok(account.user),
        None => bail!(
            "no account with email {email} of type {}",
            types.name(&user_type)
        ),
    }
}

fn parse_role(text: &str) -> anyhow::Result<Role> {
    Role::parse(text).map_err(|error| anyhow::anyhow!("role {text:?}: {error}"))
}

fn print_user(out: &mut impl Write, user: &User, types: &UserTypes) -> anyhow::Result<()> {
    let roles: Vec<&str> = user.roles.iter().map(Role::as_str).collect();
    writeln!(out, "id: {}", user.id)?;
    writeln!(out, "email: {}", user.email.as_str())?;
    writeln!(out, "source: {}", types.name(&user.user_type))?;
    writeln!(out, "status: {}", user.status.as_str())?;
    writeln!(out, "roles: {}", roles.join(" "))?;
    Ok(())
}

/// The roles as one set, within the limit an account may hold.
fn role_set(roles: impl Iterator<Item = anyhow::Result<Role>>) -> anyhow::Result<Roles> {
    Ok(Roles::new(roles.collect::<anyhow::Result<_>>()?)?)
}

async fn set_roles(store: &dyn Store, id: UserId, roles: Roles) -> anyhow::Result<User> {
    let change = AdminChange {
        status: None,
        roles: Some(roles),
    };
    Ok(apply_admin_change(store, time::OffsetDateTime::now_utc(), id, change, None).await?)
}

async fn execute_user(
    command: &UserCommand,
    store: &dyn Store,
    mailer: &dyn Mailer,
    settings: PasswordSettings,
    types: &UserTypes,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let user = match command {
        UserCommand::Create {
            email,
            source,
            roles,
        } => {
            let user_type = user_type(types, source.as_deref())?;
            let email =
                Email::parse_new(email).map_err(|error| anyhow::anyhow!("{email:?}: {error}"))?;
            let roles = role_set(roles.iter().map(|role| parse_role(role)))?;
            let mut line = String::new();
            input.read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            create_by_operator(
                store,
                &settings,
                email,
                user_type,
                password,
                roles,
                time::OffsetDateTime::now_utc(),
            )
            .await?
        }
        UserCommand::Show { email, source } => {
            find_user(store, types, email, source.as_deref()).await?
        }
        UserCommand::GrantRole {
            email,
            role,
            source,
        } => {
            let user = find_user(store, types, email, source.as_deref()).await?;
            let held = user.roles.iter().cloned().map(Ok);
            let roles = role_set(held.chain([parse_role(role)]))?;
            set_roles(store, user.id, roles).await?
        }
        UserCommand::RevokeRole {
            email,
            role,
            source,
        } => {
            let user = find_user(store, types, email, source.as_deref()).await?;
            let role = parse_role(role)?;
            if !user.roles.contains(&role) {
                bail!("{email} does not have the role {role}");
            }
            let kept = user.roles.iter().filter(|held| **held != role).cloned();
            set_roles(store, user.id, role_set(kept.map(Ok))?).await?
        }
        UserCommand::ResetFactors { email, source } => {
            let user = find_user(store, types, email, source.as_deref()).await?;
            let now = time::OffsetDateTime::now_utc();
            let user = factors::reset(store, now, user.id, Actor::Operator).await?;
            let notice = mail::factor_changed(&user, FactorChange::Reset, now);
            if let Err(error) = mailer.send(&notice).await {
                writeln!(out, "warning: the notice was not sent: {error}")?;
            }
            user
        }
        UserCommand::SetStatus {
            email,
            source,
            status,
        } => {
            let user = find_user(store, types, email, source.as_deref()).await?;
            let change = AdminChange {
                status: Some(*status),
                roles: None,
            };
            apply_admin_change(
                store,
                time::OffsetDateTime::now_utc(),
                user.id,
                change,
                None,
            )
            .await?
        }
    };
    print_user(out, &user, types)
}

async fn execute_client(
    command: &ClientCommand,
    store: &dyn Store,
    out: &mut impl Write,
) -> anyhow::Result<()> {
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
