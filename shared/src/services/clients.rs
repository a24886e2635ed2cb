//! Service clients: programs that get access tokens with their own
//! credentials (OAuth 2.0 client-credentials grant). Created, rotated and
//! deleted only by the operator program; their secrets carry 256 random bits,
//! are shown once, and are stored as SHA-256 hashes.

use time::OffsetDateTime;

use crate::App;
use crate::domain::ClientId;
use crate::ports::{ClientStore, ServiceClient, StoreError};
use crate::secrets::{SecretHash, random_token};
use crate::tokens::{AccessClaims, IssueError, issue_access_token};

/// A secret as handed to the operator, once.
pub struct ClientSecret(String);

impl ClientSecret {
    fn generate() -> Self {
        Self(random_token())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope names are 1 to 64 of A-Z a-z 0-9 and : . _ -")]
pub struct ScopeError;

/// Checks a scope name: the characters RFC 6749 allows, minus the odd ones.
pub fn parse_scope(scope: &str) -> Result<String, ScopeError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-');
    if (1..=64).contains(&scope.len()) && scope.chars().all(allowed) {
        Ok(scope.to_owned())
    } else {
        Err(ScopeError)
    }
}

/// Creates a client allowed `scopes`; returns it with its secret.
pub async fn create_client(
    store: &dyn ClientStore,
    name: &str,
    scopes: Vec<String>,
    now: OffsetDateTime,
) -> Result<(ServiceClient, ClientSecret), StoreError> {
    let secret = ClientSecret::generate();
    let client = ServiceClient {
        id: ClientId::new(),
        name: name.to_owned(),
        secret_hash: SecretHash::of(secret.expose()),
        scopes,
        created_at: now,
    };
    store.create_client(&client).await?;
    Ok((client, secret))
}

/// A new secret for the client; the old one stops working at once.
pub async fn rotate_client_secret(
    store: &dyn ClientStore,
    id: ClientId,
) -> Result<Option<ClientSecret>, StoreError> {
    let secret = ClientSecret::generate();
    let replaced = store
        .replace_client_secret(id, &SecretHash::of(secret.expose()))
        .await?;
    Ok(replaced.then_some(secret))
}

#[derive(Debug)]
pub struct ClientToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientTokenError {
    /// Unknown client or wrong secret: one error for both.
    #[error("invalid client")]
    InvalidClient,
    #[error("a requested scope is not allowed for this client")]
    InvalidScope,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// `POST /v1/auth/token`, client-credentials grant. `requested`: the
/// space-separated scopes asked for, or all the client may have.
pub async fn client_token(
    app: &App,
    client_id: &str,
    secret: &str,
    requested: Option<&str>,
) -> Result<ClientToken, ClientTokenError> {
    let id = ClientId::parse(client_id).ok_or(ClientTokenError::InvalidClient)?;
    let client = app
        .store
        .get_client(id)
        .await?
        .ok_or(ClientTokenError::InvalidClient)?;
    // Both sides are SHA-256 of full-entropy secrets: comparing them in
    // variable time reveals nothing usable about the secret.
    if SecretHash::of(secret) != client.secret_hash {
        return Err(ClientTokenError::InvalidClient);
    }
    let granted: Vec<String> = match requested.map(str::split_whitespace) {
        None => client.scopes.clone(),
        Some(asked) => {
            let asked: Vec<String> = asked.map(str::to_owned).collect();
            if asked.is_empty() || asked.iter().any(|scope| !client.scopes.contains(scope)) {
                return Err(ClientTokenError::InvalidScope);
            }
            asked
        }
    };
    let scope = granted.join(" ");
    let now = app.clock.now();
    let claims = AccessClaims::for_client(
        &app.config.token_issuer,
        &app.config.token_audience,
        client.id,
        scope.clone(),
        now,
        app.config.access_token_ttl,
    );
    let access_token = issue_access_token(app.signer.as_ref(), &claims).await?;
    tracing::info!(client_id = %client.id, %scope, "client token issued");
    Ok(ClientToken {
        access_token,
        expires_in: app.config.access_token_ttl.as_secs(),
        scope,
    })
}

/// A verified service-client token whose client still exists.
#[derive(Debug, Clone)]
pub struct ClientPrincipal {
    pub client_id: ClientId,
    pub claims: AccessClaims,
}

/// The service client behind verified claims, if it still exists: deleting
/// a client revokes its tokens at once.
pub async fn live_client(
    app: &App,
    claims: AccessClaims,
) -> Result<Option<ClientPrincipal>, StoreError> {
    let Some(client_id) = claims.client_id.as_deref().and_then(ClientId::parse) else {
        return Ok(None);
    };
    if claims.sid.is_some() || claims.sub != client_id.to_string() {
        return Ok(None);
    }
    Ok(app
        .store
        .get_client(client_id)
        .await?
        .map(|_| ClientPrincipal { client_id, claims }))
}
