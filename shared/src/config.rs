//! Configuration, read and validated once per cold start. Every error names
//! the variable at fault.

use std::time::Duration;

use url::Url;

use crate::domain::{AttributeSpec, PasswordPolicy, ProviderId, UserTypes};
use crate::ports::SigningAlgorithm;

#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table holding every item (`TABLE_NAME`).
    pub table_name: String,
    /// KMS key id, ARN or alias (`KMS_KEY_ID`).
    pub kms_key_id: String,
    /// `KMS_MESSAGE_TYPE`: `DIGEST` (default: KMS signs the SHA-256 we send)
    /// or `RAW` (KMS hashes the signing input itself), for emulators such as
    /// moto that do not implement `DIGEST`.
    pub kms_sign_raw: bool,
    /// `PREVIOUS_SIGNING_KEYS`: comma-separated keys being retired, which
    /// stay in the JWKS and still verify: KMS key ids or ARNs on AWS, PEM
    /// files in local mode.
    pub previous_signing_keys: Vec<String>,
    /// `SIGNING_ALGORITHM`: `RS256` (default, KMS `RSA_2048`) or `ES256`.
    pub signing_algorithm: SigningAlgorithm,
    /// Sender address of every email (`MAIL_FROM`).
    pub mail_from: String,
    /// Base of every link in an email (`PUBLIC_BASE_URL`); never taken from
    /// request headers.
    pub public_base_url: Url,
    pub token_issuer: String,
    pub token_audience: String,
    pub access_token_ttl: Duration,
    pub session_ttl: Duration,
    pub remembered_session_ttl: Duration,
    /// `REFRESH_GRACE_SECONDS` (default 10): how long a just-rotated refresh
    /// token is a benign double submit rather than a replay.
    pub refresh_grace: Duration,
    pub confirmation_code_ttl: Duration,
    /// `UNCONFIRMED_ACCOUNT_TTL_SECONDS` (default 7 days): a waiting account
    /// nobody confirmed for this long gives its address up to the next
    /// registration.
    pub unconfirmed_account_ttl: Duration,
    /// `RESET_CODE_TTL_SECONDS` (default 3600).
    pub reset_code_ttl: Duration,
    /// `PASSWORD_RESET_URL`: the page a reset email links to, with the code
    /// in the fragment (`#token=…`) so it stays out of server logs. Default
    /// the reset page (`<PUBLIC_BASE_URL>/pages/reset-password`), or
    /// `<PUBLIC_BASE_URL>/reset-password` without pages.
    pub password_reset_url: Url,
    /// `EMAIL_EXISTS_ENABLED` (default true): `GET /v1/users/exists` answers;
    /// when false it is a 404 like any unknown route.
    pub email_exists_enabled: bool,
    /// `EMAIL_LIMIT_PER_ADDRESS` (default `3/900`): emails one address may
    /// receive per window at the request of one client network; more are
    /// silently not sent.
    pub email_limit_per_address: RateLimit,
    /// `EMAIL_LIMIT_PER_ADDRESS_TOTAL` (default `10/3600`): emails one
    /// address may receive per window whoever asks; more are silently not sent.
    pub email_limit_per_address_total: RateLimit,
    /// `EMAIL_REQUEST_LIMIT_PER_IP` (default `10/900`): forgot and resend
    /// requests one client IP may make per window; more get 429.
    pub email_request_limit_per_ip: RateLimit,
    /// `EXISTS_LIMIT_PER_IP` (default `30/60`): email-exists checks one client
    /// IP may make per window; more get 429.
    pub exists_limit_per_ip: RateLimit,
    /// `REGISTRATION_LIMIT_PER_IP` (default `20/3600`): registrations one
    /// client IP may attempt per window, refused ones included; more get 429.
    pub registration_limit_per_ip: RateLimit,
    /// `OIDC_START_LIMIT_PER_IP` (default `30/300`): sign-ins with another
    /// provider one client IP may start per window (each keeps a flight
    /// item for 10 minutes); more get 429.
    pub oidc_start_limit_per_ip: RateLimit,
    /// `REGISTRATION_REVEALS_EXISTING` (default true): registering a taken
    /// email answers `409 email_taken`; false answers as a new registration
    /// would and mails the address's owner instead.
    pub registration_reveals_existing: bool,
    pub login_throttle: LoginThrottle,
    pub password_policy: PasswordPolicy,
    /// `REQUIRE_EMAIL_CONFIRMATION` (default true): unconfirmed accounts
    /// cannot sign in.
    pub require_email_confirmation: bool,
    /// `PAGES_ENABLED` (default true): the API serves its own confirmation
    /// and reset-password pages under `/pages/`, and email links lead there.
    pub pages_enabled: bool,
    /// Where browsers land after opening a confirmation link
    /// (`CONFIRMATION_REDIRECT_URL`; default the confirmation page, or
    /// `PUBLIC_BASE_URL` without pages).
    pub confirmation_redirect_url: Url,
    /// Base of the `type` URI of problem documents (`ERROR_DOCS_URL`).
    pub error_docs_url: String,
    pub argon2: Argon2Params,
    /// `PROFILE_ATTRIBUTES`: JSON array of declared attributes.
    pub profile_attributes: Vec<AttributeSpec>,
    /// `USER_TYPES` (default `user`): the kinds of account, the default first.
    pub user_types: UserTypes,
    /// `SECRETS_KEY_ID`: the symmetric KMS key that wraps the data keys of
    /// secrets kept at rest (TOTP seeds). Only the functions that seal or
    /// open such secrets need it; local mode uses a key file instead.
    pub secrets_key_id: Option<String>,
    /// `REAUTH_MAX_AGE_SECONDS` (default 300): how recent a sign-in must be
    /// for sensitive changes (factors, password, email, deletion) without
    /// `current_password`.
    pub reauth_max_age: Duration,
    /// `AUDIT_RETENTION_DAYS` (default 90): how long the security log keeps
    /// an entry.
    pub audit_retention: Duration,
    /// `TOTP_ISSUER` (default the host of `PUBLIC_BASE_URL`): the name
    /// authenticator apps show above the account.
    pub totp_issuer: String,
    /// `EMAIL_SIGN_IN_ENABLED` (default true): sign-in with a code sent by
    /// email; when false its endpoints are a 404 like any unknown route.
    pub email_sign_in_enabled: bool,
    /// `EMAIL_SIGN_IN_URL`: the page a sign-in email links to, with the
    /// address and code in the fragment (`#email=…&code=…`). Default the
    /// hosted page (`<PUBLIC_BASE_URL>/pages/email-sign-in`), or
    /// `<PUBLIC_BASE_URL>/email-sign-in` without pages.
    pub email_sign_in_url: Url,
    /// `EMAIL_CHANGE_URL`: the page the link to confirm a new email address
    /// opens, with the code in the fragment (`#code=…`). Default the hosted
    /// page (`<PUBLIC_BASE_URL>/pages/email-change`), or
    /// `<PUBLIC_BASE_URL>/email-change` without pages.
    pub email_change_url: Url,
    /// `CODE_MAC_KEY_ID`: the KMS HMAC key that emailed sign-in codes are
    /// hashed with; local mode uses a key file instead.
    pub code_mac_key_id: Option<String>,
    /// `WEBAUTHN_RP_ID` (default the host of `PUBLIC_BASE_URL`, `localhost`
    /// when that is a loopback address): the domain passkeys are bound to.
    pub webauthn_rp_id: String,
    /// `WEBAUTHN_ORIGINS` (default the origin of `PUBLIC_BASE_URL`, and its
    /// `localhost` twin for a loopback address): the comma-separated origins
    /// that may run passkey ceremonies.
    pub webauthn_origins: Vec<String>,
    /// `OIDC_PROVIDERS` (default none): the providers people may sign in
    /// with, a JSON list of `{id, issuer, client_id, client_secret_arn,
    /// scopes, response_mode}`.
    pub oidc_providers: Vec<OidcProvider>,
    /// `OIDC_REDIRECT_ALLOWLIST` (comma-separated, default none): the app
    /// addresses a provider sign-in may return to, matched exactly.
    pub oidc_redirect_allowlist: Vec<Url>,
}

/// One provider of `OIDC_PROVIDERS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    pub id: ProviderId,
    /// Where discovery starts (`<issuer>/.well-known/openid-configuration`);
    /// the ID tokens' `iss` must be exactly this.
    pub issuer: String,
    pub client_id: String,
    /// The Secrets Manager secret holding the client secret (its plain
    /// string value); none for a public client (PKCE alone).
    pub client_secret_arn: Option<String>,
    /// Asked for besides `openid` (default `email`, `profile`).
    pub scopes: Vec<String>,
    /// The provider answers with a form POST (`response_mode=form_post`,
    /// as Apple does when it is asked for email or name).
    pub form_post: bool,
}

/// `OIDC_PROVIDERS`' entries as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcProviderEntry {
    id: String,
    issuer: String,
    client_id: String,
    client_secret_arn: Option<String>,
    scopes: Option<Vec<String>>,
    response_mode: Option<String>,
}

fn read_oidc_providers(reader: &Reader<'_>) -> Result<Vec<OidcProvider>, ConfigError> {
    const NAME: &str = "OIDC_PROVIDERS";
    let invalid = |reason: String| ConfigError::Invalid { name: NAME, reason };
    let Some(raw) = reader.optional(NAME) else {
        return Ok(Vec::new());
    };
    let entries: Vec<OidcProviderEntry> =
        serde_json::from_str(&raw).map_err(|error| invalid(error.to_string()))?;
    let mut providers: Vec<OidcProvider> = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = ProviderId::parse(&entry.id)
            .map_err(|error| invalid(format!("{:?}: {error}", entry.id)))?;
        if providers.iter().any(|known| known.id == id) {
            return Err(invalid(format!("{id} is listed twice")));
        }
        if !Url::parse(&entry.issuer).is_ok_and(|url| matches!(url.scheme(), "https" | "http")) {
            return Err(invalid(format!("{id}: the issuer is not an http(s) URL")));
        }
        let form_post = match entry.response_mode.as_deref() {
            None | Some("query") => false,
            Some("form_post") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "{id}: response_mode {other:?} is neither query nor form_post"
                )));
            }
        };
        if entry.client_id.trim().is_empty() {
            return Err(invalid(format!("{id}: client_id is empty")));
        }
        providers.push(OidcProvider {
            id,
            // As written: `iss` is compared with it character for character.
            issuer: entry.issuer,
            client_id: entry.client_id,
            client_secret_arn: entry.client_secret_arn.filter(|arn| !arn.trim().is_empty()),
            scopes: entry
                .scopes
                .unwrap_or_else(|| vec!["email".to_owned(), "profile".to_owned()]),
            form_post,
        });
    }
    Ok(providers)
}

fn read_redirect_allowlist(reader: &Reader<'_>) -> Result<Vec<Url>, ConfigError> {
    const NAME: &str = "OIDC_REDIRECT_ALLOWLIST";
    let Some(list) = reader.optional(NAME) else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(|uri| {
            Url::parse(uri)
                .ok()
                .filter(|url| url.fragment().is_none() && url.has_host())
                .ok_or_else(|| ConfigError::Invalid {
                    name: NAME,
                    reason: format!("{uri:?} is not an absolute URL without a fragment"),
                })
        })
        .collect()
}

/// How failed sign-ins slow down further attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// `LOGIN_FAILURES_BEFORE_DELAY` (default 5): consecutive failures on one
    /// account from one client network that are free; each one after them
    /// doubles the delay for that network.
    pub failures_before_delay: u64,
    /// `LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY` (default 20): consecutive
    /// failures on one account from all networks together before the delay
    /// applies to every network: looser, so failures from elsewhere do not
    /// lock the owner out as soon as their own would.
    pub account_failures_before_delay: u64,
    /// `LOGIN_DELAY_SECONDS` (default 30): the first delay.
    pub first_delay: Duration,
    /// `LOGIN_DELAY_MAX_SECONDS` (default 900): the delay never grows past it.
    pub max_delay: Duration,
    /// `LOGIN_FAILURE_LIMIT_PER_IP` (default `50/900`): failed sign-ins one
    /// client IP may make per window, across all accounts (password spraying).
    pub failures_per_ip: RateLimit,
}

/// At most `max` events per fixed `window`, written `MAX/SECONDS`
/// (`3/900`: three per 15 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u64,
    pub window: Duration,
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{raw:?} is not MAX/SECONDS, such as 3/900");
        let (max, seconds) = raw.split_once('/').ok_or_else(invalid)?;
        let max: u64 = max.trim().parse().map_err(|_| invalid())?;
        let seconds: u64 = seconds.trim().parse().map_err(|_| invalid())?;
        if max == 0 || seconds == 0 {
            return Err(format!("{raw:?}: both numbers must be more than zero"));
        }
        Ok(Self {
            max,
            window: Duration::from_secs(seconds),
        })
    }
}

/// argon2id cost. The default (19 MiB, 2 passes, 1 lane) is OWASP's
/// minimum recommendation and costs ~35 ms on one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// Reads the process environment (Lambda).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so `local-api` can layer its local
    /// defaults under the environment and tests can pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let reader = Reader { lookup: &lookup };
        let passwords = PasswordSettings::read(&reader)?;
        // A base with a path keeps it in every link: joined paths go below
        // its last segment only when it ends with a slash.
        let mut public_base_url = reader.url("PUBLIC_BASE_URL")?;
        if !public_base_url.path().ends_with('/') {
            let path = format!("{}/", public_base_url.path());
            public_base_url.set_path(&path);
        }
        // The issuer is the configured base exactly, trailing slashes removed
        // once, so `iss` reads the same locally and deployed.
        let issuer = reader
            .required("PUBLIC_BASE_URL")?
            .trim_end_matches('/')
            .to_owned();
        let pages_enabled = reader.boolean("PAGES_ENABLED", true)?;
        let under_base = |path: &str| {
            public_base_url
                .join(path)
                .map_err(|error| ConfigError::Invalid {
                    name: "PUBLIC_BASE_URL",
                    reason: error.to_string(),
                })
        };
        let confirmation_redirect_url = match reader.optional("CONFIRMATION_REDIRECT_URL") {
            Some(_) => reader.url("CONFIRMATION_REDIRECT_URL")?,
            None if pages_enabled => under_base("pages/confirmation")?,
            None => public_base_url.clone(),
        };
        let password_reset_url = match reader.optional("PASSWORD_RESET_URL") {
            Some(_) => reader.url("PASSWORD_RESET_URL")?,
            None if pages_enabled => under_base("pages/reset-password")?,
            None => under_base("reset-password")?,
        };
        let email_sign_in_url = match reader.optional("EMAIL_SIGN_IN_URL") {
            Some(_) => reader.url("EMAIL_SIGN_IN_URL")?,
            None if pages_enabled => under_base("pages/email-sign-in")?,
            None => under_base("email-sign-in")?,
        };
        let email_change_url = match reader.optional("EMAIL_CHANGE_URL") {
            Some(_) => reader.url("EMAIL_CHANGE_URL")?,
            None if pages_enabled => under_base("pages/email-change")?,
            None => under_base("email-change")?,
        };
        let profile_attributes = match reader.optional("PROFILE_ATTRIBUTES") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str(&raw).map_err(|error| ConfigError::Invalid {
                name: "PROFILE_ATTRIBUTES",
                reason: error.to_string(),
            })?,
        };
        let user_types = read_user_types(&reader)?;
        // The otpauth URI reserves `:` (an IPv6 host has them).
        let totp_issuer = match reader.optional("TOTP_ISSUER") {
            Some(issuer) if issuer.contains(':') || issuer.trim().is_empty() => {
                return Err(ConfigError::Invalid {
                    name: "TOTP_ISSUER",
                    reason: "an issuer is a non-empty name without `:`".to_owned(),
                });
            }
            Some(issuer) => issuer,
            None => public_base_url
                .host_str()
                .filter(|host| !host.contains(':'))
                .unwrap_or("Latchkey")
                .to_owned(),
        };
        // Browsers refuse an IP address as the relying party, so a
        // loopback base (local-api) binds passkeys to `localhost`, and its
        // pages are opened there.
        let loopback = match public_base_url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        let localhost_origin = || {
            let mut url = public_base_url.clone();
            url.set_host(Some("localhost")).ok()?;
            Some(url.origin().ascii_serialization())
        };
        let webauthn_rp_id = match reader.optional("WEBAUTHN_RP_ID") {
            Some(rp_id) => rp_id,
            None if loopback => "localhost".to_owned(),
            None => public_base_url.host_str().unwrap_or_default().to_owned(),
        };
        let webauthn_origins: Vec<String> = match reader.optional("WEBAUTHN_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect(),
            None => std::iter::once(public_base_url.origin().ascii_serialization())
                .chain(localhost_origin().filter(|_| loopback))
                .collect(),
        };
        crate::passkeys::RelyingParty::new(&webauthn_rp_id, webauthn_origins.clone()).map_err(
            |error| ConfigError::Invalid {
                name: "WEBAUTHN_RP_ID",
                reason: error.to_string(),
            },
        )?;
        Ok(Self {
            table_name: reader.required("TABLE_NAME")?,
            kms_key_id: reader.required("KMS_KEY_ID")?,
            previous_signing_keys: reader
                .optional("PREVIOUS_SIGNING_KEYS")
                .map(|keys| {
                    keys.split(',')
                        .map(str::trim)
                        .filter(|key| !key.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            kms_sign_raw: match reader.optional("KMS_MESSAGE_TYPE").as_deref() {
                None | Some("DIGEST") => false,
                Some("RAW") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KMS_MESSAGE_TYPE",
                        reason: format!("{other:?} is neither DIGEST nor RAW"),
                    });
                }
            },
            signing_algorithm: match reader.optional("SIGNING_ALGORITHM").as_deref() {
                None | Some("RS256") => SigningAlgorithm::RS256,
                Some("ES256") => SigningAlgorithm::ES256,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "SIGNING_ALGORITHM",
                        reason: format!("{other:?} is neither RS256 nor ES256"),
                    });
                }
            },
            mail_from: reader.required("MAIL_FROM")?,
            token_issuer: reader.optional("TOKEN_ISSUER").unwrap_or(issuer),
            token_audience: reader
                .optional("TOKEN_AUDIENCE")
                .unwrap_or_else(|| "latchkey".to_owned()),
            access_token_ttl: reader.seconds("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?,
            session_ttl: reader.seconds("SESSION_TTL_SECONDS", 24 * 3600)?,
            remembered_session_ttl: reader
                .seconds("REMEMBERED_SESSION_TTL_SECONDS", 30 * 24 * 3600)?,
            refresh_grace: reader.seconds("REFRESH_GRACE_SECONDS", 10)?,
            confirmation_code_ttl: reader.seconds("CONFIRMATION_CODE_TTL_SECONDS", 24 * 3600)?,
            unconfirmed_account_ttl: reader
                .seconds("UNCONFIRMED_ACCOUNT_TTL_SECONDS", 7 * 24 * 3600)?,
            reset_code_ttl: reader.seconds("RESET_CODE_TTL_SECONDS", 3600)?,
            password_reset_url,
            email_exists_enabled: reader.boolean("EMAIL_EXISTS_ENABLED", true)?,
            email_limit_per_address: reader.rate_limit("EMAIL_LIMIT_PER_ADDRESS", "3/900")?,
            email_limit_per_address_total: reader
                .rate_limit("EMAIL_LIMIT_PER_ADDRESS_TOTAL", "10/3600")?,
            email_request_limit_per_ip: reader
                .rate_limit("EMAIL_REQUEST_LIMIT_PER_IP", "10/900")?,
            exists_limit_per_ip: reader.rate_limit("EXISTS_LIMIT_PER_IP", "30/60")?,
            registration_limit_per_ip: reader.rate_limit("REGISTRATION_LIMIT_PER_IP", "20/3600")?,
            oidc_start_limit_per_ip: reader.rate_limit("OIDC_START_LIMIT_PER_IP", "30/300")?,
            registration_reveals_existing: reader.boolean("REGISTRATION_REVEALS_EXISTING", true)?,
            login_throttle: LoginThrottle {
                failures_before_delay: reader.number("LOGIN_FAILURES_BEFORE_DELAY", 5)?,
                account_failures_before_delay: reader
                    .number("LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY", 20)?,
                first_delay: reader.seconds("LOGIN_DELAY_SECONDS", 30)?,
                max_delay: reader.seconds("LOGIN_DELAY_MAX_SECONDS", 15 * 60)?,
                failures_per_ip: reader.rate_limit("LOGIN_FAILURE_LIMIT_PER_IP", "50/900")?,
            },
            password_policy: passwords.policy,
            require_email_confirmation: reader.boolean("REQUIRE_EMAIL_CONFIRMATION", true)?,
            pages_enabled,
            confirmation_redirect_url,
            error_docs_url: reader
                .optional("ERROR_DOCS_URL")
                .unwrap_or_else(|| "https://latchkey.dev/errors".to_owned()),
            argon2: passwords.argon2,
            public_base_url,
            profile_attributes,
            user_types,
            secrets_key_id: reader.optional("SECRETS_KEY_ID"),
            reauth_max_age: reader.seconds("REAUTH_MAX_AGE_SECONDS", 300)?,
            audit_retention: match reader.number::<u64>("AUDIT_RETENTION_DAYS", 90)? {
                days @ 1..=3650 => Duration::from_secs(days * 24 * 3600),
                days => {
                    return Err(ConfigError::Invalid {
                        name: "AUDIT_RETENTION_DAYS",
                        reason: format!("{days} is not between 1 and 3650"),
                    });
                }
            },
            totp_issuer,
            email_sign_in_enabled: reader.boolean("EMAIL_SIGN_IN_ENABLED", true)?,
            email_sign_in_url,
            email_change_url,
            code_mac_key_id: reader.optional("CODE_MAC_KEY_ID"),
            webauthn_rp_id,
            webauthn_origins,
            oidc_providers: read_oidc_providers(&reader)?,
            oidc_redirect_allowlist: read_redirect_allowlist(&reader)?,
        })
    }
}

/// `USER_TYPES` from the environment, as `Config::from_env` reads it (the
/// operator tool needs it too).
pub fn user_types_from_env() -> Result<UserTypes, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    read_user_types(&Reader { lookup: &lookup })
}

fn read_user_types(reader: &Reader<'_>) -> Result<UserTypes, ConfigError> {
    match reader.optional("USER_TYPES") {
        None => Ok(UserTypes::default()),
        Some(list) => UserTypes::parse(&list).map_err(|error| ConfigError::Invalid {
            name: "USER_TYPES",
            reason: error.to_string(),
        }),
    }
}

/// The password policy and argon2id cost, which the operator tool needs too
/// (accounts it creates follow the deployment's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordSettings {
    /// `PASSWORD_MIN_LENGTH` (default 8, 6–256).
    pub policy: PasswordPolicy,
    /// `ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`, `ARGON2_PARALLELISM`.
    pub argon2: Argon2Params,
}

impl PasswordSettings {
    /// From the environment, as `Config::from_env` reads them.
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Self::read(&Reader { lookup: &lookup })
    }

    fn read(reader: &Reader<'_>) -> Result<Self, ConfigError> {
        let policy =
            PasswordPolicy::new(reader.number("PASSWORD_MIN_LENGTH", 8)?).map_err(|error| {
                ConfigError::Invalid {
                    name: "PASSWORD_MIN_LENGTH",
                    reason: error.to_string(),
                }
            })?;
        Ok(Self {
            policy,
            argon2: Argon2Params {
                memory_kib: reader.number("ARGON2_MEMORY_KIB", 19_456)?,
                iterations: reader.number("ARGON2_ITERATIONS", 2)?,
                parallelism: reader.number("ARGON2_PARALLELISM", 1)?,
            },
        })
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Reader<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn url(&self, name: &'static str) -> Result<Url, ConfigError> {
        let raw = self.required(name)?;
        let url = Url::parse(&raw).map_err(|error| ConfigError::Invalid {
            name,
            reason: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be an http(s) URL".to_owned(),
            });
        }
        Ok(url)
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not a whole number"),
            }),
        }
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        let seconds: u64 = self.number(name, default)?;
        if seconds == 0 {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be more than zero".to_owned(),
            });
        }
        Ok(Duration::from_secs(seconds))
    }

    fn rate_limit(&self, name: &'static str, default: &str) -> Result<RateLimit, ConfigError> {
        self.optional(name)
            .as_deref()
            .unwrap_or(default)
            .parse()
            .map_err(|reason| ConfigError::Invalid { name, reason })
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .optional(name)
            .map(|raw| raw.to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("{other:?} is not true or false"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const MINIMAL: [(&str, &str); 4] = [
        ("TABLE_NAME", "t"),
        ("KMS_KEY_ID", "alias/k"),
        ("MAIL_FROM", "no-reply@example.com"),
        ("PUBLIC_BASE_URL", "https://auth.example.com"),
    ];

    #[test]
    fn the_minimal_configuration_takes_the_documented_defaults() {
        let config = Config::from_lookup(lookup(&MINIMAL)).unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(
            config.remembered_session_ttl,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert_eq!(config.signing_algorithm, SigningAlgorithm::RS256);
        assert!(config.require_email_confirmation);
        assert_eq!(config.password_policy.min_len(), 8);
        assert!(config.pages_enabled);
        assert_eq!(
            config.confirmation_redirect_url.as_str(),
            "https://auth.example.com/pages/confirmation"
        );
        assert_eq!(config.reset_code_ttl, Duration::from_secs(3600));
        assert_eq!(
            config.password_reset_url.as_str(),
            "https://auth.example.com/pages/reset-password"
        );
        assert!(config.email_exists_enabled);
        assert_eq!(
            config.email_limit_per_address,
            RateLimit {
                max: 3,
                window: Duration::from_secs(900)
            }
        );
        assert_eq!(
            config.login_throttle,
            LoginThrottle {
                failures_before_delay: 5,
                account_failures_before_delay: 20,
                first_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(900),
                failures_per_ip: RateLimit {
                    max: 50,
                    window: Duration::from_secs(900)
                },
            }
        );
    }

    #[test]
    fn without_pages_the_links_lead_to_the_deployers_own() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push(("PAGES_ENABLED", "false"));
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        assert!(!config.pages_enabled);
        assert_eq!(
            config.confirmation_redirect_url.as_str(),
            "https://auth.example.com/"
        );
        pairs.push(("PASSWORD_RESET_URL", "https://app.example.com/reset"));
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(
            config.password_reset_url.as_str(),
            "https://app.example.com/reset"
        );
    }

    #[test]
    fn the_issuer_is_the_configured_base_and_links_keep_its_path() {
        for base in ["https://example.com/auth", "https://example.com/auth/"] {
            let mut pairs = MINIMAL.to_vec();
            pairs.retain(|(name, _)| *name != "PUBLIC_BASE_URL");
            pairs.push(("PUBLIC_BASE_URL", base));
            let config = Config::from_lookup(lookup(&pairs)).unwrap();
            assert_eq!(config.token_issuer, "https://example.com/auth", "{base}");
            assert_eq!(
                config.confirmation_redirect_url.as_str(),
                "https://example.com/auth/pages/confirmation"
            );
            assert_eq!(
                config.password_reset_url.as_str(),
                "https://example.com/auth/pages/reset-password"
            );
        }
        let config = Config::from_lookup(lookup(&MINIMAL)).unwrap();
        assert_eq!(config.token_issuer, "https://auth.example.com");
    }

    #[test]
    fn passkeys_are_bound_to_the_public_host_or_to_localhost_on_a_loopback_address() {
        let with = |base: &str, extra: &[(&'static str, &'static str)]| {
            let mut pairs: Vec<(&str, &str)> = MINIMAL
                .iter()
                .filter(|(name, _)| *name != "PUBLIC_BASE_URL")
                .copied()
                .collect();
            pairs.push(("PUBLIC_BASE_URL", base));
            pairs.extend_from_slice(extra);
            Config::from_lookup(lookup(&pairs))
        };
        let deployed = with("https://auth.example.com/base/", &[]).unwrap();
        assert_eq!(deployed.webauthn_rp_id, "auth.example.com");
        assert_eq!(deployed.webauthn_origins, ["https://auth.example.com"]);
        let local = with("http://127.0.0.1:3000", &[]).unwrap();
        assert_eq!(local.webauthn_rp_id, "localhost");
        assert_eq!(
            local.webauthn_origins,
            ["http://127.0.0.1:3000", "http://localhost:3000"]
        );
        let chosen = with(
            "https://auth.example.com",
            &[
                ("WEBAUTHN_RP_ID", "example.com"),
                (
                    "WEBAUTHN_ORIGINS",
                    "https://example.com/, https://app.example.com",
                ),
            ],
        )
        .unwrap();
        assert_eq!(chosen.webauthn_rp_id, "example.com");
        assert_eq!(
            chosen.webauthn_origins,
            ["https://example.com", "https://app.example.com"]
        );
        assert!(matches!(
            with(
                "https://auth.example.com",
                &[("WEBAUTHN_RP_ID", "10.0.0.1")]
            ),
            Err(ConfigError::Invalid {
                name: "WEBAUTHN_RP_ID",
                ..
            })
        ));
    }

    #[test]
    fn providers_are_read_with_their_defaults() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push((
            "OIDC_PROVIDERS",
            r#"[{"id":"google","issuer":"https://accounts.google.com","client_id":"c1",
                 "client_secret_arn":"arn:aws:secretsmanager:eu-west-1:1:secret:g"},
                {"id":"apple","issuer":"https://appleid.apple.com","client_id":"c2",
                 "scopes":["email"],"response_mode":"form_post"}]"#,
        ));
        pairs.push((
            "OIDC_REDIRECT_ALLOWLIST",
            "https://app.example/signed-in, myapp://callback",
        ));
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        let [google, apple] = &config.oidc_providers[..] else {
            unreachable!("two providers")
        };
        assert_eq!(google.id.as_str(), "google");
        assert_eq!(google.issuer, "https://accounts.google.com");
        assert_eq!(google.scopes, ["email", "profile"]);
        assert!(!google.form_post);
        assert_eq!(apple.client_secret_arn, None);
        assert_eq!(apple.scopes, ["email"]);
        assert!(apple.form_post);
        let allowed: Vec<&str> = config
            .oidc_redirect_allowlist
            .iter()
            .map(url::Url::as_str)
            .collect();
        assert_eq!(
            allowed,
            ["https://app.example/signed-in", "myapp://callback"]
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_lookup(lookup(&MINIMAL[1..])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn an_invalid_variable_is_named() {
        for (name, value) in [
            ("SIGNING_ALGORITHM", "HS256"),
            ("KMS_MESSAGE_TYPE", "HASHED"),
            ("ACCESS_TOKEN_TTL_SECONDS", "soon"),
            ("ACCESS_TOKEN_TTL_SECONDS", "0"),
            ("REQUIRE_EMAIL_CONFIRMATION", "maybe"),
            ("PUBLIC_BASE_URL", "ftp://example.com"),
            ("PROFILE_ATTRIBUTES", "[{\"name\": 1}]"),
            ("EMAIL_LIMIT_PER_ADDRESS", "3"),
            ("EXISTS_LIMIT_PER_IP", "0/60"),
            ("EMAIL_EXISTS_ENABLED", "sometimes"),
            ("PASSWORD_RESET_URL", "javascript:alert(1)"),
            ("PASSWORD_MIN_LENGTH", "2"),
            ("PASSWORD_MIN_LENGTH", "999"),
            ("OIDC_PROVIDERS", "{}"),
            (
                "OIDC_PROVIDERS",
                r#"[{"id":"Google","issuer":"https://accounts.google.com","client_id":"c"}]"#,
            ),
            (
                "OIDC_PROVIDERS",
                r#"[{"id":"g","issuer":"accounts.google.com","client_id":"c"}]"#,
            ),
            (
                "OIDC_PROVIDERS",
                r#"[{"id":"g","issuer":"https://a.example","client_id":"c","response_mode":"fragment"}]"#,
            ),
            (
                "OIDC_PROVIDERS",
                r#"[{"id":"g","issuer":"https://a.example","client_id":"c"},{"id":"g","issuer":"https://b.example","client_id":"d"}]"#,
            ),
            (
                "OIDC_PROVIDERS",
                r#"[{"id":"g","issuer":"https://a.example","client_id":"c","client_secret":"inline"}]"#,
            ),
            ("OIDC_REDIRECT_ALLOWLIST", "https://app.example/done#x"),
            ("OIDC_REDIRECT_ALLOWLIST", "/relative"),
        ] {
            let mut pairs = MINIMAL.to_vec();
            pairs.retain(|(n, _)| *n != name);
            pairs.push((name, value));
            match Config::from_lookup(lookup(&pairs)).unwrap_err() {
                ConfigError::Invalid { name: reported, .. } => assert_eq!(reported, name),
                other => unreachable!("{name}: {other:?}"),
            }
        }
    }
}
