//! Access tokens (JWT, signed through the [`TokenSigner`] port) and refresh
//! tokens (opaque, stored only as hashes).
//!
//! Signing is assembled here rather than by `jsonwebtoken::encode` because
//! the private key may live in KMS: we build `header.payload`, the signer
//! returns the JWS signature. Verification is local, with `jsonwebtoken`
//! and the algorithm pinned.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{ClientId, SessionId, UserId};
use crate::ports::{SignerError, SigningAlgorithm, TokenSigner};
use crate::secrets::{SecretHash, random_token};

/// `typ` of access tokens (RFC 9068), so no other JWT passes for one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    /// Session id of a user's token: protected endpoints check it is still
    /// live. Absent on service-client tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Set on service-client tokens only (RFC 9068 `client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user type's name (`source`) on a user's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// How the person proved who they are (RFC 8176), on a user's token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The authenticator assurance level of that proof (1 or 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aal: Option<u8>,
    /// When (epoch seconds); a refreshed token keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
}

impl AccessClaims {
    /// A user's token, bound to a session.
    pub fn for_user(
        issuer: &str,
        audience: &str,
        user_id: UserId,
        session_id: SessionId,
        now: OffsetDateTime,
        lifetime: std::time::Duration,
    ) -> Self {
        Self {
            sid: Some(session_id.to_string()),
            ..Self::base(
                issuer,
                audience,
                user_id.to_string(),
                "user".to_owned(),
                now,
                lifetime,
            )
        }
    }

    /// A service client's token: no session, the granted scopes.
    pub fn for_client(
        issuer: &str,
        audience: &str,
        client_id: ClientId,
        scope: String,
        now: OffsetDateTime,
        lifetime: std::time::Duration,
    ) -> Self {
        Self {
            client_id: Some(client_id.to_string()),
            ..Self::base(
                issuer,
                audience,
                client_id.to_string(),
                scope,
                now,
                lifetime,
            )
        }
    }

    fn base(
        issuer: &str,
        audience: &str,
        sub: String,
        scope: String,
        now: OffsetDateTime,
        lifetime: std::time::Duration,
    ) -> Self {
        let iat = now.unix_timestamp();
        Self {
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            sub,
            sid: None,
            client_id: None,
            user_type: None,
            amr: Vec::new(),
            aal: None,
            auth_time: None,
            iat,
            nbf: iat,
            exp: iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            jti: Uuid::now_v7().to_string(),
            scope,
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("claims could not be encoded")]
    Encode(#[from] serde_json::Error),
}

/// Signs the claims as a compact JWS: `base64url(header).base64url(claims).base64url(signature)`.
pub async fn issue_access_token(
    signer: &dyn TokenSigner,
    claims: &AccessClaims,
) -> Result<String, IssueError> {
    let header = Header {
        alg: signer.algorithm().as_str(),
        typ: ACCESS_TOKEN_TYPE,
        kid: signer.key_id(),
    };
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?));
    let signature = signer.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("public key is not usable: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    #[error("no verification key")]
    NoKeys,
    #[error("key {0} uses another algorithm than the signing key")]
    MixedAlgorithms(String),
}

/// A public key that access tokens may be signed with: the current signing
/// key, or one being retired that still verifies until its tokens expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// SubjectPublicKeyInfo PEM.
    pub pem: String,
}

impl PublicKey {
    /// The key as a public JWK (RFC 7517): `kty`, `kid`, `alg`, `use` and the
    /// public parameters only.
    pub fn to_jwk(&self) -> Result<serde_json::Value, VerifierError> {
        use p256::pkcs8::DecodePublicKey;
        let invalid =
            |_| VerifierError::Key(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        Ok(match self.algorithm {
            SigningAlgorithm::RS256 => {
                use rsa::traits::PublicKeyParts;
                let key = rsa::RsaPublicKey::from_public_key_pem(&self.pem).map_err(invalid)?;
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
                })
            }
            SigningAlgorithm::ES256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let key = p256::PublicKey::from_public_key_pem(&self.pem).map_err(invalid)?;
                let point = key.to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(invalid(p256::pkcs8::spki::Error::KeyMalformed));
                };
                serde_json::json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256",
                    "x": b64(x), "y": b64(y),
                })
            }
        })
    }
}

/// Why a presented token was refused. Callers answer `401 invalid_token` for
/// all of them; the reason is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    #[error("the header is unreadable, of another type, or carries key material")]
    Header,
    #[error("the key id is unknown")]
    UnknownKey,
    #[error("signature or claims rejected: {0}")]
    Rejected(String),
}

/// Verifies access tokens against known public keys, with the algorithm pinned.
#[derive(Clone)]
pub struct TokenVerifier {
    algorithm: Algorithm,
    keys: Vec<(String, DecodingKey)>,
    validation: Validation,
    /// `exp - iat` at most: the issued lifetime plus the leeway.
    longest_lifetime: i64,
    /// Tokens this process has verified, with their claims. A token is
    /// immutable and the keys are fixed for the life of the process, so of
    /// all the checks only the time ones (`exp`, `nbf`) can change their
    /// answer for a token presented again; they are made on every use. A
    /// client presents its token for every call for its whole lifetime, and
    /// the signature check was most of a `GET /v1/users/me`. Only tokens
    /// that passed every check get in; the cache is bounded.
    verified: Arc<quick_cache::sync::Cache<String, AccessClaims>>,
}

/// Clock skew allowed on `exp` and `nbf`, and on a token's lifetime.
const LEEWAY_SECONDS: u64 = 30;

/// Verified tokens kept (about 1 KiB each).
const VERIFIED_TOKENS_KEPT: usize = 10_000;

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// `keys`: current first, then keys being retired. All must use one
    /// algorithm: the verifier pins it. `lifetime`: what tokens are issued
    /// for (`ACCESS_TOKEN_TTL_SECONDS`); a token claiming to live longer is
    /// refused.
    pub fn new(
        keys: &[PublicKey],
        issuer: &str,
        audience: &str,
        lifetime: std::time::Duration,
    ) -> Result<Self, VerifierError> {
        crate::jwt_backend::install();
        let first = keys.first().ok_or(VerifierError::NoKeys)?;
        if let Some(other) = keys.iter().find(|key| key.algorithm != first.algorithm) {
            return Err(VerifierError::MixedAlgorithms(other.kid.clone()));
        }
        let algorithm = match first.algorithm {
            SigningAlgorithm::RS256 => Algorithm::RS256,
            SigningAlgorithm::ES256 => Algorithm::ES256,
        };
        let keys = keys
            .iter()
            .map(|key| {
                let decoding = match key.algorithm {
                    SigningAlgorithm::ES256 => DecodingKey::from_ec_pem(key.pem.as_bytes())?,
                    SigningAlgorithm::RS256 => DecodingKey::from_rsa_pem(key.pem.as_bytes())?,
                };
                Ok((key.kid.clone(), decoding))
            })
            .collect::<Result<Vec<_>, jsonwebtoken::errors::Error>>()?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(Self {
            algorithm,
            keys,
            validation,
            longest_lifetime: i64::try_from(lifetime.as_secs())
                .unwrap_or(i64::MAX)
                .saturating_add(i64::try_from(LEEWAY_SECONDS).unwrap_or_default()),
            verified: Arc::new(quick_cache::sync::Cache::new(VERIFIED_TOKENS_KEPT)),
        })
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, InvalidToken> {
        if let Some(claims) = self.verified.get(token) {
            return still_in_time(claims);
        }
        let claims = self.verify_signed(token)?;
        self.verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    /// Every check: header, key, signature, claims, lifetime.
    fn verify_signed(&self, token: &str) -> Result<AccessClaims, InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| InvalidToken::Header)?;
        // Key material in the header is never trusted (RFC 8725 §3.10).
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || header.alg != self.algorithm
            || header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            // No JWS extension is implemented here, so any critical one is
            // not understood (RFC 7515 §4.1.11).
            || header.crit.is_some()
        {
            return Err(InvalidToken::Header);
        }
        let kid = header.kid.ok_or(InvalidToken::UnknownKey)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(known, _)| *known == kid)
            .ok_or(InvalidToken::UnknownKey)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| InvalidToken::Rejected(error.to_string()))?;
        if claims.exp.saturating_sub(claims.iat) > self.longest_lifetime {
            return Err(InvalidToken::Rejected(
                "lives longer than tokens are issued for".to_owned(),
            ));
        }
        Ok(claims)
    }
}

/// The time checks `jsonwebtoken` made when the token was first verified,
/// made again: not expired (`exp`) and already valid (`nbf`), with the same
/// leeway and the same clock.
fn still_in_time(claims: AccessClaims) -> Result<AccessClaims, InvalidToken> {
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
    let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or_default();
    if claims.exp < now.saturating_sub(leeway) {
        return Err(InvalidToken::Rejected("ExpiredSignature".to_owned()));
    }
    if claims.nbf > now.saturating_add(leeway) {
        return Err(InvalidToken::Rejected("ImmatureSignature".to_owned()));
    }
    Ok(claims)
}

/// An opaque refresh token: `<user id>.<session id>.<256 random bits>`. The
/// ids make its session one `GetItem` away; only the hash is stored.
pub struct RefreshToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    token: String,
}

impl RefreshToken {
    pub fn generate(user_id: UserId, session_id: SessionId) -> Self {
        let token = format!("{user_id}.{session_id}.{}", random_token());
        Self {
            user_id,
            session_id,
            token,
        }
    }

    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let user_id = UserId::parse(parts.next()?)?;
        let session_id = SessionId::parse(parts.next()?)?;
        let secret = parts.next()?;
        (secret.len() == 43 && parts.next().is_none()).then(|| Self {
            user_id,
            session_id,
            token: token.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.token
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.token)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_round_trip_and_reject_other_shapes() {
        let token = RefreshToken::generate(UserId::new(), SessionId::new());
        let parsed = RefreshToken::parse(token.as_str()).unwrap();
        assert_eq!(parsed.session_id, token.session_id);
        assert_eq!(parsed.hash(), token.hash());
        assert!(RefreshToken::parse("a.b.c").is_none());
        assert!(RefreshToken::parse(&format!("{}.extra", token.as_str())).is_none());
    }
}
