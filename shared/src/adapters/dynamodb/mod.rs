//! The store on DynamoDB: one table, items as in docs/data-model.md. Uniqueness and
//! single use come from conditional writes inside transactions, never from
//! read-then-write.

mod clients;
mod codes;
mod email_codes;
mod events;
mod factors;
mod identities;
mod passkeys;
mod rates;
mod sessions;
mod users;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::aws::SdkFailure;
use super::records::{
    self, AccountsIndex, CeremonyItem, ClientItem, CodeItem, CounterItem, EmailCodeItem, EventItem,
    FactorItem, FlightItem, GrantItem, GuardItem, IdentityItem, IdentityOwnerItem,
    MfaChallengeItem, PasskeyItem, PasskeyOwnerItem, ProfileItem, RecoveryItem, ResetPointerItem,
    SessionItem, StreakItem, UserRecord, attr,
};
use crate::domain::{AccountStatus, ClientId, SecurityEvent, SessionId, User, UserId};
use crate::ports::{
    Account, AccountDeletion, ActivationOutcome, ChangeOutcome, ClientStore, CodeKind, CodeStore,
    ConfirmOutcome, DeletionOutcome, EMAIL_CODE_ATTEMPTS, EmailCodeOutcome, EmailCodeStore,
    EmailSignInCode, EndSessions, EventPage, EventStore, Factor, FactorActivation, FactorRemoval,
    FactorStore, FailureStreak, MFA_ATTEMPTS, MfaChallenge, MfaFinish, MfaOutcome, MfaProof,
    ProfileChange, RateStore, ResetOutcome, ServiceClient, Session, SessionStore, StoreError,
    StoredCode, UserPage, UserSearch, UserStore,
};
use crate::secrets::SecretHash;

type Item = HashMap<String, AttributeValue>;

/// Transactions that collide with another on the same item are cancelled
/// with `TransactionConflict`; they are retried this many times.
const CONFLICT_RETRIES: u32 = 3;

/// `TransactWriteItems` takes at most 100 items.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// Queries one admin search page may make before it ends short.
const SEARCH_QUERIES_PER_PAGE: usize = 10;

/// Tries of a write that must finish once begun, about 1.5 s of pauses.
const UNCONDITIONAL_TRIES: u32 = 5;

/// A reset writes four items of its own (the code, the pointer, the
/// profile, the log's entry) and ends up to this many sessions in the same
/// transaction.
const SESSIONS_PER_RESET_TRANSACTION: usize = MAX_TRANSACTION_ITEMS - 4;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long the security log keeps an entry.
    audit_retention: std::time::Duration,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            audit_retention: records::DEFAULT_AUDIT_RETENTION,
        }
    }

    /// Keeps the security log's entries for `retention` instead of
    /// [`records::DEFAULT_AUDIT_RETENTION`].
    pub fn with_audit_retention(self, retention: std::time::Duration) -> Self {
        Self {
            audit_retention: retention,
            ..self
        }
    }

    /// Creates the table (on-demand, `pk`/`sk`, TTL on `expires_at`) if it
    /// does not exist. For local bootstrap and tests; production tables come
    /// from `template.yaml`.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash).map_err(boxed)?)
            .key_schema(key("sk", KeyType::Range).map_err(boxed)?)
            .attribute_definitions(attribute("pk").map_err(boxed)?)
            .attribute_definitions(attribute("sk").map_err(boxed)?)
            .attribute_definitions(attribute(attr::ACCOUNTS_PK).map_err(boxed)?)
            .attribute_definitions(attribute(attr::ACCOUNTS_SK).map_err(boxed)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(records::ACCOUNTS_INDEX)
                    .key_schema(key(attr::ACCOUNTS_PK, KeyType::Hash).map_err(boxed)?)
                    .key_schema(key(attr::ACCOUNTS_SK, KeyType::Range).map_err(boxed)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(boxed)?,
            )
            // As template.yaml: the stream carries the lifecycle events.
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .map_err(boxed)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceInUseException") => return Ok(()),
            Err(error) => return Err(classify(error)),
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name("expires_at")
            .enabled(true)
            .build()
            .map_err(boxed)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    fn key(pk: String, sk: &str) -> Item {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    fn item(pk: String, sk: &str, record: &impl Serialize) -> Result<Item, StoreError> {
        let mut item: Item =
            to_item(record).map_err(|error| StoreError::Backend(Box::new(error)))?;
        item.extend(Self::key(pk, sk));
        Ok(item)
    }

    /// The write of a new account's confirmation code, if it has one.
    fn new_code(
        &self,
        confirmation: Option<&StoredCode>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        confirmation
            .map(|code| {
                self.put_new(Self::item(
                    records::code_pk(&code.hash),
                    records::CODE,
                    &CodeItem::new(code),
                )?)
            })
            .transpose()
    }

    async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        match output.item {
            None => Ok(None),
            Some(item) => from_item(item)
                .map(Some)
                .map_err(|error| StoreError::Corrupt(error.to_string())),
        }
    }

    /// Puts `record` at `(pk, sk)` on its own, if nothing is there.
    async fn put_absent(
        &self,
        pk: String,
        sk: &str,
        record: &impl Serialize,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(pk, sk, record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(boxed)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction, retrying collisions with concurrent transactions.
    /// Returns the cancellation reason codes when a condition failed.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<Option<String>>>, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(Ok(())),
                Err(error) => error,
            };
            let reasons: Option<Vec<Option<String>>> = match &error {
                SdkError::ServiceError(service) => match service.err() {
                    TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|reason| reason.code().map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                },
                _ => None,
            };
            let Some(reasons) = reasons else {
                return Err(classify(error));
            };
            let has = |code: &str| reasons.iter().any(|reason| reason.as_deref() == Some(code));
            if has("ConditionalCheckFailed") {
                return Ok(Err(reasons));
            }
            if has("TransactionConflict") && attempt < CONFLICT_RETRIES {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt))).await;
                continue;
            }
            if has("ThrottlingError")
                || has("ProvisionedThroughputExceeded")
                || has("TransactionConflict")
            {
                return Err(StoreError::Throttled(Box::new(error)));
            }
            return Err(classify(error));
        }
    }

    /// Runs an unconditional transaction, retrying throttling and failures
    /// with growing pauses before giving up: for work that must finish once
    /// begun (the rest of an account's deletion).
    async fn transact_with_retries(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let mut pause = std::time::Duration::from_millis(50);
        let mut tries = 1;
        loop {
            match self.transact(items.clone()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(reasons)) => {
                    return Err(StoreError::Corrupt(format!(
                        "an unconditional write was refused: {reasons:?}"
                    )));
                }
                Err(error) if tries < UNCONDITIONAL_TRIES => {
                    tracing::warn!(%error, ?pause, "write failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The items under a user whose sort key starts with `prefix` (their
    /// sessions, factors, passkeys; all of them for an empty prefix), read
    /// consistently, every page.
    async fn user_items<T: DeserializeOwned>(
        &self,
        user_id: UserId,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(records::user_pk(user_id)));
        // A key condition may not compare with an empty string.
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        };
        let items = query
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(classify)?;
        items
            .into_iter()
            .map(|item| from_item(item).map_err(|error| StoreError::Corrupt(error.to_string())))
            .collect()
    }

    async fn session_keys(&self, user_id: UserId) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(records::user_pk(user_id)))
            .expression_attribute_values(
                ":prefix",
                AttributeValue::S(records::SESSION_PREFIX.to_owned()),
            )
            .projection_expression("pk, sk")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(classify)
    }

    /// After a committed change that ends sessions, ends those beyond one
    /// transaction's reach or started while it ran (with the old password
    /// or status). The change stands either way, so a failure here is
    /// logged rather than returned: a 500 for a change that was made would
    /// only invite a retry that cannot succeed.
    async fn sweep_sessions(&self, user_id: UserId, keep: Option<SessionId>) -> usize {
        let swept = async {
            let stragglers = self.session_keys_except(user_id, keep).await?;
            self.delete_keys(&stragglers).await?;
            Ok::<_, StoreError>(stragglers.len())
        };
        match swept.await {
            Ok(ended) => ended,
            Err(error) => {
                tracing::error!(
                    %user_id,
                    %error,
                    "sessions not swept after a committed change; \
                     sign-out everywhere or their expiry ends them"
                );
                0
            }
        }
    }

    /// The keys of the user's sessions other than `keep`.
    async fn session_keys_except(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> Result<Vec<Item>, StoreError> {
        let keep = keep.map(|id| AttributeValue::S(records::session_sk(id)));
        let mut keys = self.session_keys(user_id).await?;
        keys.retain(|key| keep.is_none() || key.get("sk") != keep.as_ref());
        Ok(keys)
    }

    /// One delete per key: every failure stays visible (BatchWriteItem would
    /// hand back unprocessed items).
    async fn delete_keys(&self, keys: &[Item]) -> Result<(), StoreError> {
        for key in keys {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .send()
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    fn delete(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .build()
            .map_err(boxed)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The reset code with this hash, if it is live, unspent and its
    /// account's current one.
    async fn current_reset_code(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<CodeItem>, StoreError> {
        let Some(code) = self
            .get::<CodeItem>(records::code_pk(hash), records::CODE)
            .await?
        else {
            return Ok(None);
        };
        if code.kind != CodeKind::Reset || !code.is_live(now) || code.used_at.is_some() {
            return Ok(None);
        }
        let pointer = self
            .get::<ResetPointerItem>(records::user_pk(code.user_id), records::RESET)
            .await?;
        Ok(pointer
            .filter(|pointer| pointer.code_hash == hash.as_str())
            .map(|_| code))
    }

    /// Counts one more try at the single-use item at `key` (a sign-in
    /// challenge, an emailed code), in one conditional update: only if it
    /// exists, is unused and unexpired, and had fewer than `max` tries.
    /// The item as it is now, or `None` when the try may not go ahead.
    async fn count_attempt<T: DeserializeOwned>(
        &self,
        key: Item,
        now: OffsetDateTime,
        max: u32,
    ) -> Result<Option<T>, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET attempts = attempts + :one")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) \
                 AND expires_at > :now AND attempts < :max",
            )
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .expression_attribute_values(":max", number(i64::from(max)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(output) => from_item(output.attributes.unwrap_or_default())
                .map(Some)
                .map_err(|error| StoreError::Corrupt(error.to_string())),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(error) => Err(classify(error)),
        }
    }

    async fn find_by_guard(&self, pk: String, sk: &str) -> Result<Option<Account>, StoreError> {
        let Some(guard) = self.get::<GuardItem>(pk, sk).await? else {
            return Ok(None);
        };
        let profile = self
            .get::<ProfileItem>(records::user_pk(guard.user_id), records::PROFILE)
            .await?;
        Ok(profile.map(ProfileItem::into_account))
    }
}

fn failed_at(reasons: &[Option<String>], index: usize) -> bool {
    reasons.get(index).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
}

fn boxed(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// Whether a conditional single-item write was applied: `false` when its
/// condition did not hold.
fn applied<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(error) => Err(classify(error)),
    }
}

fn classify<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match super::aws::classify(error) {
        SdkFailure::Throttled(error) => StoreError::Throttled(error),
        SdkFailure::Failed(error) => StoreError::Backend(error),
    }
}

/// Binds the `#placeholders` an expression uses to attribute names (from
/// [`attr`]); DynamoDB refuses names an expression does not use.
fn names(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(placeholder, name)| ((*placeholder).to_owned(), (*name).to_owned()))
            .collect(),
    )
}

/// A status as the `status` attribute holds it.
fn status(status: AccountStatus) -> AttributeValue {
    AttributeValue::S(records::status_value(status).to_owned())
}

fn timestamp(at: OffsetDateTime) -> Result<AttributeValue, StoreError> {
    at.format(&Rfc3339).map(AttributeValue::S).map_err(boxed)
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number_u64(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
