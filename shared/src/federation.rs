//! The relying party toward other providers (OpenID Connect), on the
//! `openidconnect` crate: discovery (cached per process, fetched again an
//! hour on or when an ID token names a key the cached set lacks, which is
//! how a provider's key rotation shows), the authorization URL with our
//! state, nonce and PKCE, the code exchange and the ID token's verification
//! (signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`,
//! `nonce`). No token is verified by hand here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
};
use tokio::sync::Mutex;
use url::Url;

use crate::config::OidcProvider;
use crate::ports::{SecretReadError, SecretSource};

/// How long discovered metadata and keys are trusted before they are
/// fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// How long a request to a provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Discovery, the token endpoint or the keys could not be reached or
    /// made no sense.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The token endpoint refused the code (expired, used, not ours).
    #[error("the provider refused the code: {0}")]
    CodeRefused(String),
    /// The ID token is missing or did not verify (signature, issuer,
    /// audience, authorized party, expiry, nonce).
    #[error("the ID token did not verify: {0}")]
    InvalidIdToken(String),
    #[error(transparent)]
    Secret(#[from] SecretReadError),
}

/// What a verified ID token says of the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPerson {
    pub subject: String,
    pub email: Option<String>,
    /// The provider says it checked the address (`email_verified`).
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

struct Discovered {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
}

/// The providers' metadata and client secrets, fetched once per process.
pub struct Providers {
    /// Built on first use: only the provider sign-in functions need it, and
    /// loading the system's root certificates is cold-start time the
    /// others should not pay.
    http: std::sync::OnceLock<reqwest::Client>,
    secrets: Arc<dyn SecretSource>,
    discovered: Mutex<HashMap<String, Arc<Discovered>>>,
    client_secrets: Mutex<HashMap<String, String>>,
}

impl Providers {
    pub fn new(secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            http: std::sync::OnceLock::new(),
            secrets,
            discovered: Mutex::new(HashMap::new()),
            client_secrets: Mutex::new(HashMap::new()),
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                // A provider's redirect is never followed (SSRF).
                .redirect(reqwest::redirect::Policy::none())
                .timeout(PROVIDER_TIMEOUT)
                .build()
                .unwrap_or_default()
        })
    }

    /// The provider's metadata: cached, or fetched when there is none, it
    /// is older than [`DISCOVERY_TTL`], or `stale` is the cached one.
    async fn metadata(
        &self,
        provider: &OidcProvider,
        stale: Option<&Arc<Discovered>>,
    ) -> Result<Arc<Discovered>, ProviderError> {
        let mut cache = self.discovered.lock().await;
        if let Some(known) = cache.get(provider.id.as_str()) {
            let is_stale = stale.is_some_and(|stale| Arc::ptr_eq(stale, known));
            if !is_stale && known.fetched_at.elapsed() < DISCOVERY_TTL {
                return Ok(Arc::clone(known));
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone())
            .map_err(|error| ProviderError::Unreachable(error.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, self.http())
            .await
            .map_err(|error| ProviderError::Unreachable(error.to_string()))?;
        let discovered = Arc::new(Discovered {
            metadata,
            fetched_at: Instant::now(),
        });
        cache.insert(provider.id.as_str().to_owned(), Arc::clone(&discovered));
        Ok(discovered)
    }

    /// The client secret, read from its secret on first use.
    async fn client_secret(
        &self,
        provider: &OidcProvider,
    ) -> Result<Option<ClientSecret>, ProviderError> {
        let Some(arn) = &provider.client_secret_arn else {
            return Ok(None);
        };
        let mut cache = self.client_secrets.lock().await;
        if let Some(secret) = cache.get(arn) {
            return Ok(Some(ClientSecret::new(secret.clone())));
        }
        let secret = self.secrets.secret(arn).await?;
        cache.insert(arn.clone(), secret.clone());
        Ok(Some(ClientSecret::new(secret)))
    }

    fn client(
        discovered: &Discovered,
        provider: &OidcProvider,
        secret: Option<ClientSecret>,
        callback: &Url,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        ProviderError,
    > {
        let auth_type = if secret.is_some() {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        };
        let redirect = RedirectUrl::from_url(callback.clone());
        Ok(CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(provider.client_id.clone()),
            secret,
        )
        .set_auth_type(auth_type)
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser: the provider's authorization endpoint
    /// with our `state`, `nonce` and PKCE challenge (S256).
    pub async fn authorization_url(
        &self,
        provider: &OidcProvider,
        callback: &Url,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Url, ProviderError> {
        let discovered = self.metadata(provider, None).await?;
        let client = Self::client(&discovered, provider, None, callback)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in &provider.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if provider.form_post {
            request = request.add_extra_param("response_mode", "form_post");
        }
        let (url, _, _) = request.url();
        Ok(url)
    }

    /// Trades the provider's `code` for its tokens and verifies the ID
    /// token against `nonce`.
    pub async fn finish(
        &self,
        provider: &OidcProvider,
        callback: &Url,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedPerson, ProviderError> {
        let discovered = self.metadata(provider, None).await?;
        let secret = self.client_secret(provider).await?;
        let client = Self::client(&discovered, provider, secret.clone(), callback)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| ProviderError::Unreachable(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(self.http())
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(refusal) => {
                    ProviderError::CodeRefused(refusal.error().to_string())
                }
                other => ProviderError::Unreachable(other.to_string()),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| ProviderError::InvalidIdToken("no ID token".to_owned()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // Keys rotated since discovery: fetch them again, once.
                let discovered = self.metadata(provider, Some(&discovered)).await?;
                let client = Self::client(&discovered, provider, secret, callback)?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|error| ProviderError::InvalidIdToken(error.to_string()))?
                    .clone()
            }
            Err(error) => return Err(ProviderError::InvalidIdToken(error.to_string())),
        };
        Ok(person(&claims))
    }
}

fn person(claims: &CoreIdTokenClaims) -> VerifiedPerson {
    VerifiedPerson {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
        given_name: claims
            .given_name()
            .and_then(|claim| claim.get(None))
            .map(|name| name.as_str().to_owned()),
        family_name: claims
            .family_name()
            .and_then(|claim| claim.get(None))
            .map(|name| name.as_str().to_owned()),
    }
}
