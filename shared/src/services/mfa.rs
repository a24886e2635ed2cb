//! The second step of a sign-in: a first proof (a password) was right for
//! an account with a second factor, so the sign-in waits under a
//! single-use `mfa_token` for a TOTP code, a recovery code or a passkey
//! (`POST /v1/auth/mfa`).
//!
//! Rules: the token lives five minutes and takes at most
//! [`MFA_ATTEMPTS`](crate::ports::MFA_ATTEMPTS)
//! codes (counted before each is checked, so parallel guesses cannot pass
//! the limit); every wrong code also counts toward the account's sign-in
//! throttle; a TOTP code is good once (the factor's last accepted step is
//! raised in the same transaction that starts the session, so of two
//! parallel uses of one code exactly one signs in); a recovery code is
//! spent the same way, and a passkey's assertion moves its counter there.
//! Whatever was wrong with a code or an assertion, the answer is the same.

use time::{Duration, OffsetDateTime};

use crate::App;
use crate::domain::{AuthMethod, Authentication, TotpSecret};
use crate::passkeys::PasskeyError;
use crate::ports::CeremonyPurpose;
use crate::ports::{Account, MfaChallenge, MfaFinish, MfaOutcome, MfaProof, SealError, StoreError};
use crate::secrets::{RecoveryCode, SecretHash, random_token};
use crate::services::factors::{self, open_secret};
use crate::services::passkeys;
use crate::services::security_log;
use crate::services::sessions::{self, Connection, TokenPair};
use crate::services::throttle::{self, Subject};
use crate::tokens::IssueError;

/// How long a sign-in waits for its second factor.
pub const MFA_TOKEN_TTL: Duration = Duration::minutes(5);

/// What the client needs to finish the sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaRequired {
    /// The opaque single-use token; only its hash is stored.
    pub mfa_token: String,
    /// The methods `POST /v1/auth/mfa` accepts for this account.
    pub methods: Vec<MfaMethod>,
}

impl std::fmt::Debug for MfaRequired {
    // The token is a credential: it stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaRequired")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// How the second step is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethod {
    Totp,
    Passkey,
    RecoveryCode,
}

impl MfaMethod {
    pub const ALL: [MfaMethod; 3] = [Self::Totp, Self::Passkey, Self::RecoveryCode];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
            Self::RecoveryCode => "recovery_code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == text)
    }
}

/// Starts the wait for the second factor of `account`, whose first proof
/// was `authentication`.
pub async fn challenge(
    app: &App,
    account: &Account,
    remember_me: bool,
    authentication: Authentication,
) -> Result<MfaRequired, StoreError> {
    let token = random_token();
    let now = app.clock.now();
    // Every method the second step takes, but a passkey does not second
    // itself. (Whether the account holds a passkey is not looked up: the
    // browser tells the person when it has none for this site.)
    let methods = MfaMethod::ALL
        .into_iter()
        .filter(|method| *method != MfaMethod::Passkey || !authentication.used_a_passkey())
        .collect();
    app.store
        .add_mfa_challenge(&MfaChallenge {
            hash: SecretHash::of(&token),
            user_id: account.user.id,
            credential_digest: SecretHash::of(&account.password_hash),
            authentication,
            remember_me,
            attempts: 0,
            expires_at: now + MFA_TOKEN_TTL,
        })
        .await?;
    tracing::info!(user_id = %account.user.id, "second factor required");
    Ok(MfaRequired {
        mfa_token: token,
        methods,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// Unknown, used, expired or out of attempts; or the password changed
    /// or the account was disabled since the first step.
    #[error("invalid sign-in token")]
    InvalidToken,
    /// Wrong, replayed or spent: one error whatever it was.
    #[error("invalid code")]
    InvalidCode,
    #[error("too many failed sign-ins; retry after {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error(transparent)]
    Seal(#[from] SealError),
    /// `WEBAUTHN_RP_ID` is not a domain.
    #[error(transparent)]
    Passkeys(PasskeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

throttle::from_throttle_error!(MfaError);

/// What the second step is answered with.
#[derive(Clone)]
pub enum MfaAnswer {
    Totp(String),
    RecoveryCode(String),
    /// A passkey's `AuthenticationResponseJSON` to the sign-in ceremony
    /// `challenge_id` names.
    Passkey {
        challenge_id: String,
        credential: serde_json::Value,
    },
}

impl MfaAnswer {
    pub fn method(&self) -> MfaMethod {
        match self {
            Self::Totp(_) => MfaMethod::Totp,
            Self::RecoveryCode(_) => MfaMethod::RecoveryCode,
            Self::Passkey { .. } => MfaMethod::Passkey,
        }
    }
}

impl std::fmt::Debug for MfaAnswer {
    // Codes and assertions are credentials: only the method is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MfaAnswer").field(&self.method()).finish()
    }
}

/// `POST /v1/auth/mfa`.
pub async fn finish(
    app: &App,
    mfa_token: &str,
    answer: &MfaAnswer,
    connection: &Connection<'_>,
) -> Result<TokenPair, MfaError> {
    let client_ip = connection.ip;
    let now = app.clock.now();
    let hash = SecretHash::of(mfa_token);
    let challenge = app
        .store
        .attempt_mfa_challenge(&hash, now)
        .await?
        .ok_or(MfaError::InvalidToken)?;
    let account = app
        .store
        .get_account(challenge.user_id)
        .await?
        .filter(|account| SecretHash::of(&account.password_hash) == challenge.credential_digest)
        .ok_or(MfaError::InvalidToken)?;
    let subject = Subject::account(account.user.id, &account.password_hash, client_ip);
    let admission = throttle::admit(app, &subject, client_ip).await?;
    let Some((proof, second)) =
        proof_of(app, &account, &challenge.authentication, answer, now).await?
    else {
        throttle::record_failure(app, admission);
        security_log::failed_sign_in(app, account.user.id, connection, answer.method().as_str())
            .await;
        return Err(MfaError::InvalidCode);
    };
    let authentication = challenge.authentication.with_second_factor(second, now);
    let (session, refresh_token) = sessions::new_session(
        app,
        account.user.id,
        challenge.remember_me,
        authentication,
        connection,
        now,
    );
    // Signed before anything is spent, as at sign-in.
    let pair =
        sessions::token_pair(app, &session, &account.user.user_type, refresh_token, now).await?;
    let outcome = app
        .store
        .finish_mfa(MfaFinish {
            challenge: &hash,
            proof: &proof,
            session: &session,
            credential: &account.password_hash,
            now,
        })
        .await?;
    match outcome {
        MfaOutcome::SignedIn => {
            throttle::record_success(app, &subject, admission).await?;
            tracing::info!(
                user_id = %account.user.id,
                session_id = %session.id,
                method = answer.method().as_str(),
                "signed in with a second factor"
            );
            Ok(pair)
        }
        MfaOutcome::ProofRefused => {
            // A parallel request used the code (or the step) first.
            throttle::record_failure(app, admission);
            Err(MfaError::InvalidCode)
        }
        MfaOutcome::ChallengeGone | MfaOutcome::AccountChanged => Err(MfaError::InvalidToken),
    }
}

/// What `answer` proves, if anything, and as which method: the TOTP step
/// of one of the account's active factors (later than the factor's last
/// accepted step), an unspent recovery code's hash (spent for good only
/// when the sign-in commits), or a passkey of the account whose counter
/// moves when the sign-in commits.
async fn proof_of(
    app: &App,
    account: &Account,
    first: &Authentication,
    answer: &MfaAnswer,
    now: OffsetDateTime,
) -> Result<Option<(MfaProof, AuthMethod)>, MfaError> {
    match answer {
        MfaAnswer::RecoveryCode(code) => Ok(RecoveryCode::hash_of_typed(code)
            .map(|hash| (MfaProof::RecoveryCode(hash), AuthMethod::OneTimePassword))),
        MfaAnswer::Totp(code) => {
            for factor in factors::active(app, account.user.id, now).await? {
                let secret: TotpSecret = open_secret(app, &factor).await?;
                let Some(step) = secret.matching_step(code.trim(), now) else {
                    continue;
                };
                if factor.last_step().is_some_and(|last| step <= last) {
                    // A replay within its window: refused like a wrong code.
                    return Ok(None);
                }
                let proof = MfaProof::Totp {
                    factor_id: factor.id,
                    step,
                };
                return Ok(Some((proof, AuthMethod::OneTimePassword)));
            }
            Ok(None)
        }
        MfaAnswer::Passkey {
            challenge_id,
            credential,
        } => {
            // A passkey does not second itself.
            if first.used_a_passkey() {
                return Ok(None);
            }
            let Some(ceremony) =
                passkeys::take_ceremony(app, challenge_id, CeremonyPurpose::SignIn).await?
            else {
                return Ok(None);
            };
            let rp = passkeys::relying_party(app).map_err(MfaError::Passkeys)?;
            let asserted =
                passkeys::assert(app, &rp, &ceremony, credential, account.user.id).await?;
            Ok(asserted.map(|asserted| {
                let method = if asserted.signed_in.device_bound {
                    AuthMethod::HardwareKey
                } else {
                    AuthMethod::SoftwareKey
                };
                let proof = MfaProof::Passkey {
                    credential_id: asserted.passkey.credential_id,
                    expected: asserted.passkey.state,
                    state: asserted.signed_in.state,
                };
                (proof, method)
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip_and_nothing_else_is_one() {
        for method in MfaMethod::ALL {
            assert_eq!(MfaMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(MfaMethod::parse("sms"), None);
    }
}
