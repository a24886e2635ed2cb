//! `FactorStore` on DynamoDB: factors and recovery codes under their user,
//! sign-in challenges under their token's hash.

use super::*;

impl DynamoStore {
    /// Moves the profile's version on if it is still `expected` (setting
    /// its `second_factor` flag to `second_factor` when given): the
    /// transaction fails if the profile moved meanwhile or is gone. Every
    /// change that a concurrent check of the account must not miss (a
    /// factor, an identity) goes through here.
    pub(super) fn move_profile_version(
        &self,
        user_id: UserId,
        expected: u64,
        now: OffsetDateTime,
        second_factor: Option<bool>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut set =
            "SET #user.#updated_at = :at, #user.#version = #user.#version + :one".to_owned();
        let mut attribute_names = vec![
            ("#user", attr::USER),
            ("#updated_at", attr::UPDATED_AT),
            ("#version", attr::VERSION),
        ];
        if second_factor.is_some() {
            set.push_str(", #user.#second_factor = :on");
            attribute_names.push(("#second_factor", attr::SECOND_FACTOR));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user_id), records::PROFILE)))
            .update_expression(set)
            .condition_expression("attribute_exists(pk) AND #user.#version = :expected")
            .set_expression_attribute_names(names(&attribute_names))
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":expected", number_u64(expected));
        let update = match second_factor {
            Some(on) => update.expression_attribute_values(":on", AttributeValue::Bool(on)),
            None => update,
        };
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(boxed)?)
            .build())
    }

    /// Spends one proof of a second factor, conditionally.
    fn spend_proof(
        &self,
        user_id: UserId,
        proof: &MfaProof,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = match proof {
            MfaProof::Totp { factor_id, step } => Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(
                    records::user_pk(user_id),
                    &records::factor_sk(*factor_id),
                )))
                .update_expression("SET last_step = :step, last_used_at = :at")
                .condition_expression("attribute_exists(verified_at) AND last_step < :step")
                .expression_attribute_values(":step", number_u64(*step))
                .expression_attribute_values(":at", timestamp(now)?),
            MfaProof::RecoveryCode(hash) => Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(
                    records::user_pk(user_id),
                    records::RECOVERY,
                )))
                .update_expression("REMOVE #codes.#code")
                .condition_expression("attribute_exists(#codes.#code)")
                .set_expression_attribute_names(names(&[
                    ("#codes", "codes"),
                    ("#code", hash.as_str()),
                ])),
            MfaProof::Passkey {
                credential_id,
                expected,
                state,
            } => {
                let update = self.passkey_use(user_id, credential_id, expected, state, now)?;
                return Ok(TransactWriteItem::builder().update(update).build());
            }
        };
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(boxed)?)
            .build())
    }
}

#[async_trait]
impl FactorStore for DynamoStore {
    async fn add_factor(&self, factor: &Factor) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(factor.user_id),
                &records::factor_sk(factor.id),
                &FactorItem::new(factor),
            )?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn factors(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Factor>, StoreError> {
        let mut factors = Vec::new();
        for item in self
            .user_items::<FactorItem>(user_id, records::FACTOR_PREFIX)
            .await?
        {
            factors.extend(item.into_factor(user_id, now)?);
        }
        Ok(factors)
    }

    async fn activate_factor(
        &self,
        activation: FactorActivation<'_>,
    ) -> Result<ActivationOutcome, StoreError> {
        let user_pk = records::user_pk(activation.user_id);
        let activate = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                user_pk.clone(),
                &records::factor_sk(activation.factor_id),
            )))
            .update_expression("SET verified_at = :at, last_step = :step REMOVE expires_at")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(verified_at) AND expires_at > :now",
            )
            .expression_attribute_values(":at", timestamp(activation.now)?)
            .expression_attribute_values(":step", number_u64(activation.step))
            .expression_attribute_values(":now", number(activation.now.unix_timestamp()))
            .build()
            .map_err(boxed)?;
        let mut writes = vec![
            TransactWriteItem::builder().update(activate).build(),
            self.move_profile_version(
                activation.user_id,
                activation.expected_version,
                activation.now,
                Some(true),
            )?,
        ];
        if let Some(codes) = activation.recovery_codes {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::item(
                    user_pk,
                    records::RECOVERY,
                    &RecoveryItem::new(codes),
                )?))
                .build()
                .map_err(boxed)?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        writes.push(self.put_event(activation.event)?);
        match self.transact(writes).await? {
            Ok(()) => Ok(ActivationOutcome::Activated),
            Err(reasons) if failed_at(&reasons, 0) => Ok(ActivationOutcome::FactorGone),
            Err(reasons) if failed_at(&reasons, 1) => Ok(ActivationOutcome::Stale),
            Err(reasons) => Err(StoreError::Backend(
                format!("factor not activated: {reasons:?}").into(),
            )),
        }
    }

    async fn remove_factors(
        &self,
        removal: FactorRemoval<'_>,
    ) -> Result<ChangeOutcome, StoreError> {
        let user_pk = records::user_pk(removal.user_id);
        let mut writes = Vec::with_capacity(removal.factors.len() + 2);
        for id in removal.factors {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(user_pk.clone(), &records::factor_sk(*id))))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(boxed)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        writes.push(self.move_profile_version(
            removal.user_id,
            removal.expected_version,
            removal.now,
            Some(removal.second_factor_left),
        )?);
        if !removal.second_factor_left {
            writes.push(self.delete(Self::key(user_pk, records::RECOVERY))?);
        }
        writes.push(self.put_event(removal.event)?);
        match self.transact(writes).await? {
            Ok(()) => Ok(ChangeOutcome::Saved { sessions_ended: 0 }),
            Err(_) => Ok(ChangeOutcome::Stale),
        }
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        codes: &[SecretHash],
        event: &SecurityEvent,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(user_id),
                records::RECOVERY,
                &RecoveryItem::new(codes),
            )?))
            .build()
            .map_err(boxed)?;
        let writes = vec![
            TransactWriteItem::builder().put(put).build(),
            self.put_event(event)?,
        ];
        match self.transact(writes).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Corrupt(format!(
                "an unconditional write was refused: {reasons:?}"
            ))),
        }
    }

    async fn recovery_codes_left(&self, user_id: UserId) -> Result<usize, StoreError> {
        Ok(self
            .get::<RecoveryItem>(records::user_pk(user_id), records::RECOVERY)
            .await?
            .map_or(0, |item| item.codes.len()))
    }

    async fn add_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::mfa_pk(&challenge.hash),
                records::MFA,
                &MfaChallengeItem::new(challenge),
            )?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn attempt_mfa_challenge(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<MfaChallenge>, StoreError> {
        let item: Option<MfaChallengeItem> = self
            .count_attempt(
                Self::key(records::mfa_pk(hash), records::MFA),
                now,
                MFA_ATTEMPTS,
            )
            .await?;
        match item {
            Some(item) => item.into_challenge(hash, now),
            None => Ok(None),
        }
    }

    async fn finish_mfa(&self, finish: MfaFinish<'_>) -> Result<MfaOutcome, StoreError> {
        let spend_challenge = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::mfa_pk(finish.challenge),
                records::MFA,
            )))
            .update_expression("SET used_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now",
            )
            .expression_attribute_values(":at", timestamp(finish.now)?)
            .expression_attribute_values(":now", number(finish.now.unix_timestamp()))
            .build()
            .map_err(boxed)?;
        let mut writes = vec![
            TransactWriteItem::builder().update(spend_challenge).build(),
            self.spend_proof(finish.session.user_id, finish.proof, finish.now)?,
        ];
        writes.extend(self.sign_in_writes(finish.session, finish.credential, false, finish.now)?);
        match self.transact(writes).await? {
            Ok(()) => Ok(MfaOutcome::SignedIn),
            Err(reasons) if failed_at(&reasons, 0) => Ok(MfaOutcome::ChallengeGone),
            Err(reasons) if failed_at(&reasons, 1) => Ok(MfaOutcome::ProofRefused),
            Err(reasons) if failed_at(&reasons, 3) => Ok(MfaOutcome::AccountChanged),
            Err(reasons) => Err(StoreError::Backend(
                format!("second factor sign-in not finished: {reasons:?}").into(),
            )),
        }
    }
}
