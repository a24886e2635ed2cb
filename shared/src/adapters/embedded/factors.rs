//! `FactorStore` on the embedded store: factors and recovery codes under
//! their user, sign-in challenges under their token's hash.

use super::sessions::{SignIn, sign_in};
use super::*;

pub(super) type ItemTable<'a> = Table<'a, (&'static str, &'static str), &'static [u8]>;

/// Moves the profile's version on if it is still `expected` (setting its
/// `second_factor` flag to `second_factor` when given); `false` when it
/// moved or the account is gone.
pub(super) fn move_profile_version(
    table: &mut ItemTable<'_>,
    user_id: UserId,
    expected: u64,
    now: OffsetDateTime,
    second_factor: Option<bool>,
) -> Result<bool, StoreError> {
    let user_pk = records::user_pk(user_id);
    let Some(mut profile) = get::<ProfileItem>(table, &user_pk, records::PROFILE)? else {
        return Ok(false);
    };
    if profile.user.version != expected {
        return Ok(false);
    }
    if let Some(on) = second_factor {
        profile.user.second_factor = on;
    }
    profile.user.updated_at = now;
    profile.user.version += 1;
    put(table, &user_pk, records::PROFILE, &profile)?;
    Ok(true)
}

/// Spends one proof of a second factor; `false` when it is not there to
/// spend.
fn spend_proof(
    table: &mut ItemTable<'_>,
    user_id: UserId,
    proof: &MfaProof,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let user_pk = records::user_pk(user_id);
    match proof {
        MfaProof::Totp { factor_id, step } => {
            let sk = records::factor_sk(*factor_id);
            let Some(mut factor) = get::<FactorItem>(table, &user_pk, &sk)? else {
                return Ok(false);
            };
            if factor.verified_at.is_none() || factor.last_step.is_some_and(|last| last >= *step) {
                return Ok(false);
            }
            factor.last_step = Some(*step);
            factor.last_used_at = Some(now);
            put(table, &user_pk, &sk, &factor)?;
            Ok(true)
        }
        MfaProof::RecoveryCode(hash) => {
            let Some(mut recovery) = get::<RecoveryItem>(table, &user_pk, records::RECOVERY)?
            else {
                return Ok(false);
            };
            if recovery.codes.remove(hash.as_str()).is_none() {
                return Ok(false);
            }
            put(table, &user_pk, records::RECOVERY, &recovery)?;
            Ok(true)
        }
        MfaProof::Passkey {
            credential_id,
            expected,
            state,
        } => super::passkeys::PasskeyUse::new(user_id, credential_id, expected, state, now)
            .apply(table),
    }
}

/// Ends a write without committing it, with this outcome.
pub(super) enum Abort<T> {
    With(T),
    Failed(StoreError),
}

impl<T> From<StoreError> for Abort<T> {
    fn from(error: StoreError) -> Self {
        Self::Failed(error)
    }
}

impl EmbeddedStore {
    /// A write of several items that commits when `work` returns `Ok`, and
    /// is rolled back, all of it, on `Abort::With(outcome)`.
    pub(super) async fn write_or_roll_back<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut ItemTable<'_>) -> Result<T, Abort<T>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let event_log = self.event_log.clone();
        self.blocking(move |db| {
            forget_written();
            let write = db.begin_write().map_err(backend)?;
            let outcome = {
                let mut table = write.open_table(ITEMS).map_err(backend)?;
                work(&mut table)
            };
            match outcome {
                Ok(value) => {
                    write.commit().map_err(backend)?;
                    if let Some(log) = event_log {
                        log.append_committed();
                    }
                    Ok(value)
                }
                Err(Abort::With(value)) => {
                    write.abort().map_err(backend)?;
                    Ok(value)
                }
                Err(Abort::Failed(error)) => Err(error),
            }
        })
        .await
    }
}

#[async_trait]
impl FactorStore for EmbeddedStore {
    async fn add_factor(&self, factor: &Factor) -> Result<(), StoreError> {
        let (pk, sk) = (
            records::user_pk(factor.user_id),
            records::factor_sk(factor.id),
        );
        let item = FactorItem::new(factor);
        self.write(move |table| {
            if exists(table, &pk, &sk)? {
                return Err(StoreError::Backend("factor id in use".into()));
            }
            put(table, &pk, &sk, &item)
        })
        .await
    }

    async fn factors(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Factor>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(ITEMS).map_err(backend)?;
        let items: Vec<(String, FactorItem)> =
            items_with_prefix(&table, &records::user_pk(user_id), records::FACTOR_PREFIX)?;
        let mut factors = Vec::with_capacity(items.len());
        for (_, item) in items {
            factors.extend(item.into_factor(user_id, now)?);
        }
        Ok(factors)
    }

    async fn activate_factor(
        &self,
        activation: FactorActivation<'_>,
    ) -> Result<ActivationOutcome, StoreError> {
        let FactorActivation {
            user_id,
            factor_id,
            step,
            expected_version,
            recovery_codes,
            event,
            now,
        } = activation;
        let recovery = recovery_codes.map(RecoveryItem::new);
        let event = self.event_item(event);
        self.write_or_roll_back(move |table| {
            let user_pk = records::user_pk(user_id);
            let sk = records::factor_sk(factor_id);
            let pending = get::<FactorItem>(table, &user_pk, &sk)?.filter(|factor| {
                factor.verified_at.is_none()
                    && factor
                        .expires_at
                        .is_some_and(|end| end > now.unix_timestamp())
            });
            let Some(mut factor) = pending else {
                return Err(Abort::With(ActivationOutcome::FactorGone));
            };
            factor.verified_at = Some(now);
            factor.last_step = Some(step);
            factor.expires_at = None;
            put(table, &user_pk, &sk, &factor)?;
            if !move_profile_version(table, user_id, expected_version, now, Some(true))? {
                return Err(Abort::With(ActivationOutcome::Stale));
            }
            if let Some(recovery) = &recovery {
                put(table, &user_pk, records::RECOVERY, recovery)?;
            }
            put_event(table, user_id, &event)?;
            Ok(ActivationOutcome::Activated)
        })
        .await
    }

    async fn remove_factors(
        &self,
        removal: FactorRemoval<'_>,
    ) -> Result<ChangeOutcome, StoreError> {
        let FactorRemoval {
            user_id,
            factors,
            expected_version,
            second_factor_left,
            event,
            now,
        } = removal;
        let factors = factors.to_vec();
        let event = self.event_item(event);
        self.write_or_roll_back(move |table| {
            let user_pk = records::user_pk(user_id);
            for id in &factors {
                let sk = records::factor_sk(*id);
                if table
                    .remove((user_pk.as_str(), sk.as_str()))
                    .map_err(backend)?
                    .is_none()
                {
                    return Err(Abort::With(ChangeOutcome::Stale));
                }
            }
            if !move_profile_version(
                table,
                user_id,
                expected_version,
                now,
                Some(second_factor_left),
            )? {
                return Err(Abort::With(ChangeOutcome::Stale));
            }
            if !second_factor_left {
                table
                    .remove((user_pk.as_str(), records::RECOVERY))
                    .map_err(backend)?;
            }
            put_event(table, user_id, &event)?;
            Ok(ChangeOutcome::Saved { sessions_ended: 0 })
        })
        .await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        codes: &[SecretHash],
        event: &SecurityEvent,
    ) -> Result<(), StoreError> {
        let item = RecoveryItem::new(codes);
        let event = self.event_item(event);
        self.write(move |table| {
            put(table, &records::user_pk(user_id), records::RECOVERY, &item)?;
            put_event(table, user_id, &event)
        })
        .await
    }

    async fn recovery_codes_left(&self, user_id: UserId) -> Result<usize, StoreError> {
        Ok(self
            .read::<RecoveryItem>(&records::user_pk(user_id), records::RECOVERY)?
            .map_or(0, |item| item.codes.len()))
    }

    async fn add_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError> {
        let pk = records::mfa_pk(&challenge.hash);
        let item = MfaChallengeItem::new(challenge);
        self.write(move |table| {
            if exists(table, &pk, records::MFA)? {
                return Err(StoreError::Backend("sign-in challenge in use".into()));
            }
            put(table, &pk, records::MFA, &item)
        })
        .await
    }

    async fn attempt_mfa_challenge(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<MfaChallenge>, StoreError> {
        let hash = hash.clone();
        self.write(move |table| {
            let pk = records::mfa_pk(&hash);
            let Some(mut item) = get::<MfaChallengeItem>(table, &pk, records::MFA)? else {
                return Ok(None);
            };
            if item.attempts >= MFA_ATTEMPTS {
                return Ok(None);
            }
            item.attempts += 1;
            put(table, &pk, records::MFA, &item)?;
            item.into_challenge(&hash, now)
        })
        .await
    }

    async fn finish_mfa(&self, finish: MfaFinish<'_>) -> Result<MfaOutcome, StoreError> {
        let challenge_pk = records::mfa_pk(finish.challenge);
        let proof = finish.proof.clone();
        let user_id = finish.session.user_id;
        let session = self.session_items(finish.session);
        let single_proof = finish.session.authentication.assurance_level() < 2;
        let credential = finish.credential.to_owned();
        let now = finish.now;
        self.write_or_roll_back(move |table| {
            let live = get::<MfaChallengeItem>(table, &challenge_pk, records::MFA)?
                .filter(|item| item.used_at.is_none() && item.expires_at > now.unix_timestamp());
            let Some(mut challenge) = live else {
                return Err(Abort::With(MfaOutcome::ChallengeGone));
            };
            challenge.used_at = Some(now);
            put(table, &challenge_pk, records::MFA, &challenge)?;
            if !spend_proof(table, user_id, &proof, now)? {
                return Err(Abort::With(MfaOutcome::ProofRefused));
            }
            if !sign_in(
                table,
                user_id,
                &session,
                SignIn {
                    single_proof,
                    proves_email: false,
                },
                &credential,
                now,
            )? {
                return Err(Abort::With(MfaOutcome::AccountChanged));
            }
            Ok(MfaOutcome::SignedIn)
        })
        .await
    }
}
