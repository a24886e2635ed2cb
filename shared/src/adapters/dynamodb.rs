//! The store on DynamoDB: one table, items as in DESIGN.md. Uniqueness and
//! single use come from conditional writes inside transactions, never from
//! read-then-write.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ReturnValue, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::records::{
    self, ClientItem, CodeItem, CounterItem, GuardItem, ProfileItem, ResetPointerItem, SessionItem,
    StreakItem,
};
use crate::domain::{ClientId, Login, SessionId, User, UserId};
use crate::ports::{
    Account, BoxError, ChangeOutcome, ClientStore, CodeKind, CodeStore, ConfirmOutcome,
    EndSessions, FailureStreak, ProfileChange, RateStore, ResetOutcome, ServiceClient, Session,
    SessionStore, StoreError, StoredCode, UserStore,
};
use crate::secrets::SecretHash;

type Item = HashMap<String, AttributeValue>;

/// Transactions that collide with another on the same item are cancelled
/// with `TransactionConflict`; they are retried this many times.
const CONFLICT_RETRIES: u32 = 3;

/// `TransactWriteItems` takes at most 100 items.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// A reset writes three items of its own and ends up to this many sessions
/// in the same transaction.
const SESSIONS_PER_RESET_TRANSACTION: usize = MAX_TRANSACTION_ITEMS - 3;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
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

    /// The keys of every session item of the user.
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

    /// The keys of the user's sessions other than `keep`.
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

/// Throttling becomes `Throttled` (answered 503 + `Retry-After`), anything
/// else `Backend` (an opaque 500).
fn classify<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let throttled = matches!(
        error.code(),
        Some(
            "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
        )
    );
    let boxed: BoxError = Box::new(error);
    if throttled {
        StoreError::Throttled(boxed)
    } else {
        StoreError::Backend(boxed)
    }
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

#[async_trait]
impl UserStore for DynamoStore {
    /// One read of a key that never exists.
    async fn open_connection(&self) {
        if let Err(error) = self.get::<GuardItem>("WARM-UP".to_owned(), "WARM-UP").await {
            tracing::warn!(%error, "DynamoDB warm-up read failed");
        }
    }

    async fn create_user(
        &self,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError> {
        let user = &account.user;
        let guard = GuardItem { user_id: user.id };
        let mut items = vec![
            self.put_new(Self::item(
                records::user_pk(user.id),
                records::PROFILE,
                &ProfileItem::from_account(account),
            )?)?,
            self.put_new(Self::item(
                records::email_pk(user.email.key()),
                records::EMAIL,
                &guard,
            )?)?,
        ];
        if let Some(login) = &user.login {
            items.push(self.put_new(Self::item(
                records::login_pk(&login.key()),
                records::LOGIN,
                &guard,
            )?)?);
        }
        items.extend(self.new_code(confirmation)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) if failed_at(&reasons, 1) => Err(StoreError::EmailTaken),
            Err(reasons) if user.login.is_some() && failed_at(&reasons, 2) => {
                Err(StoreError::LoginTaken)
            }
            // A fresh UUIDv7 or 256-bit code already present: not a user error.
            Err(reasons) => Err(StoreError::Backend(
                format!("registration cancelled: {reasons:?}").into(),
            )),
        }
    }

    async fn replace_expired_account(
        &self,
        expired: &Account,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError> {
        let (old, user) = (&expired.user, &account.user);
        let old_id = AttributeValue::S(old.id.to_string());
        let retire_profile = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(old.id), records::PROFILE)))
            .condition_expression(
                "#user.version = :version AND #user.#status = :waiting \
                 AND #user.email_confirmed = :false",
            )
            .expression_attribute_names("#user", "user")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":version", number_u64(old.version))
            .expression_attribute_values(":waiting", AttributeValue::S("waiting".to_owned()))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .build()
            .map_err(boxed)?;
        let guard = GuardItem { user_id: user.id };
        let take_email = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::email_pk(user.email.key()),
                records::EMAIL,
                &guard,
            )?))
            .condition_expression("user_id = :old")
            .expression_attribute_values(":old", old_id.clone())
            .build()
            .map_err(boxed)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(retire_profile).build(),
            TransactWriteItem::builder().put(take_email).build(),
            self.put_new(Self::item(
                records::user_pk(user.id),
                records::PROFILE,
                &ProfileItem::from_account(account),
            )?)?,
        ];
        let old_login = old.login.as_ref().map(Login::key);
        let login = user.login.as_ref().map(Login::key);
        let mut login_at = None;
        if let Some(key) = &login {
            login_at = Some(items.len());
            let item = Self::item(records::login_pk(key), records::LOGIN, &guard)?;
            if old_login.as_ref() == Some(key) {
                let keep = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("user_id = :old")
                    .expression_attribute_values(":old", old_id.clone())
                    .build()
                    .map_err(boxed)?;
                items.push(TransactWriteItem::builder().put(keep).build());
            } else {
                items.push(self.put_new(item)?);
            }
        }
        if let Some(key) = old_login.filter(|key| login.as_ref() != Some(key)) {
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(records::login_pk(&key), records::LOGIN)))
                .condition_expression("user_id = :old")
                .expression_attribute_values(":old", old_id)
                .build()
                .map_err(boxed)?;
            items.push(TransactWriteItem::builder().delete(release).build());
        }
        items.extend(self.new_code(confirmation)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) if failed_at(&reasons, 0) || failed_at(&reasons, 1) => {
                Err(StoreError::EmailTaken)
            }
            Err(reasons) if login_at.is_some_and(|at| failed_at(&reasons, at)) => {
                Err(StoreError::LoginTaken)
            }
            Err(reasons) => Err(StoreError::Backend(
                format!("registration over an expired account cancelled: {reasons:?}").into(),
            )),
        }
    }

    async fn find_by_email(&self, email_key: &str) -> Result<Option<Account>, StoreError> {
        self.find_by_guard(records::email_pk(email_key), records::EMAIL)
            .await
    }

    async fn find_by_login(&self, login_key: &str) -> Result<Option<Account>, StoreError> {
        self.find_by_guard(records::login_pk(login_key), records::LOGIN)
            .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let profile = self
            .get::<ProfileItem>(records::user_pk(id), records::PROFILE)
            .await?;
        Ok(profile.map(|profile| profile.user))
    }

    async fn get_account(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        let profile = self
            .get::<ProfileItem>(records::user_pk(id), records::PROFILE)
            .await?;
        Ok(profile.map(ProfileItem::into_account))
    }

    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let user = change.user;
        let mut set = "SET #user = :user".to_owned();
        let mut profile = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user.id), records::PROFILE)))
            .condition_expression("attribute_exists(pk) AND #user.version = :expected")
            .expression_attribute_names("#user", "user")
            .expression_attribute_values(":user", to_attribute_value(user).map_err(boxed)?)
            .expression_attribute_values(":expected", number_u64(change.expected_version));
        if let Some(hash) = change.password_hash {
            set.push_str(", password_hash = :hash");
            profile =
                profile.expression_attribute_values(":hash", AttributeValue::S(hash.to_owned()));
        }
        let profile = profile.update_expression(set).build().map_err(boxed)?;
        let mut items = vec![TransactWriteItem::builder().update(profile).build()];

        let login = user.login.as_ref().map(Login::key);
        let previous_login = change.previous_login.map(Login::key);
        let mut new_guard_at = None;
        if login != previous_login {
            if let Some(key) = &login {
                new_guard_at = Some(items.len());
                items.push(self.put_new(Self::item(
                    records::login_pk(key),
                    records::LOGIN,
                    &GuardItem { user_id: user.id },
                )?)?);
            }
            if let Some(key) = &previous_login {
                let release = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(records::login_pk(key), records::LOGIN)))
                    .condition_expression("user_id = :me")
                    .expression_attribute_values(":me", AttributeValue::S(user.id.to_string()))
                    .build()
                    .map_err(boxed)?;
                items.push(TransactWriteItem::builder().delete(release).build());
            }
        }

        let keep = match change.end_sessions {
            EndSessions::None => None,
            EndSessions::All => Some(None),
            EndSessions::AllExcept(id) => Some(Some(id)),
        };
        let mut sessions = Vec::new();
        if let Some(keep) = keep {
            sessions = self.session_keys_except(user.id, keep).await?;
        }
        let in_transaction = sessions.len().min(MAX_TRANSACTION_ITEMS - items.len());
        for key in &sessions[..in_transaction] {
            items.push(self.delete(key.clone())?);
        }
        match self.transact(items).await? {
            Ok(()) => {}
            Err(reasons) if new_guard_at.is_some_and(|index| failed_at(&reasons, index)) => {
                return Err(StoreError::LoginTaken);
            }
            Err(_) => return Ok(ChangeOutcome::Stale),
        }
        let mut sessions_ended = in_transaction;
        if let Some(keep) = keep {
            sessions_ended += self.sweep_sessions(user.id, keep).await;
        }
        Ok(ChangeOutcome::Saved { sessions_ended })
    }
}

#[async_trait]
impl CodeStore for DynamoStore {
    async fn confirm_email(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<ConfirmOutcome, StoreError> {
        let Some(code) = self
            .get::<CodeItem>(records::code_pk(hash), records::CODE)
            .await?
        else {
            return Ok(ConfirmOutcome::Invalid);
        };
        if code.kind != CodeKind::Confirm || !code.is_live(now) {
            return Ok(ConfirmOutcome::Invalid);
        }
        if code.used_at.is_some() {
            return Ok(ConfirmOutcome::AlreadyConfirmed(code.user_id));
        }
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::code_pk(hash), records::CODE)))
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now",
            )
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .build()
            .map_err(boxed)?;
        let activate = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(code.user_id), records::PROFILE)))
            .update_expression(
                "SET #user.#status = :active, #user.email_confirmed = :true, #user.updated_at = :at, \
                 #user.version = #user.version + :one",
            )
            .condition_expression("attribute_exists(pk) AND #user.#status <> :disabled")
            .expression_attribute_names("#user", "user")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", AttributeValue::S("active".to_owned()))
            .expression_attribute_values(":disabled", AttributeValue::S("disabled".to_owned()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":one", number(1))
            .build()
            .map_err(boxed)?;
        let items = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().update(activate).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(ConfirmOutcome::Confirmed(code.user_id)),
            // Someone spent it between our read and our write: if it is
            // still live, that was a concurrent open of the same link.
            Err(reasons) if failed_at(&reasons, 0) => {
                let again = self
                    .get::<CodeItem>(records::code_pk(hash), records::CODE)
                    .await?;
                Ok(match again {
                    Some(code) if code.used_at.is_some() && code.is_live(now) => {
                        ConfirmOutcome::AlreadyConfirmed(code.user_id)
                    }
                    _ => ConfirmOutcome::Invalid,
                })
            }
            // The account is gone or disabled.
            Err(_) => Ok(ConfirmOutcome::Invalid),
        }
    }

    async fn add_confirmation_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let item = Self::item(
            records::code_pk(&code.hash),
            records::CODE,
            &CodeItem::new(code),
        )?;
        match self.transact(vec![self.put_new(item)?]).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Backend(
                format!("code not stored: {reasons:?}").into(),
            )),
        }
    }

    async fn replace_reset_code(&self, code: &StoredCode) -> Result<(), StoreError> {
        let user_pk = records::user_pk(code.user_id);
        let previous = self
            .get::<ResetPointerItem>(user_pk.clone(), records::RESET)
            .await?;
        let pointer = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                user_pk,
                records::RESET,
                &ResetPointerItem::new(code),
            )?))
            .build()
            .map_err(boxed)?;
        let mut items = vec![
            self.put_new(Self::item(
                records::code_pk(&code.hash),
                records::CODE,
                &CodeItem::new(code),
            )?)?,
            TransactWriteItem::builder().put(pointer).build(),
        ];
        // Tidiness only: the pointer is what retires the earlier code, even
        // if a concurrent request deletes some other one.
        if let Some(hash) = previous.and_then(|item| SecretHash::from_stored(&item.code_hash)) {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(records::code_pk(&hash), records::CODE)))
                .build()
                .map_err(boxed)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Backend(
                format!("reset code not stored: {reasons:?}").into(),
            )),
        }
    }

    async fn find_reset_code(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .current_reset_code(hash, now)
            .await?
            .map(|code| code.user_id))
    }

    async fn reset_password(
        &self,
        hash: &SecretHash,
        account: &Account,
        expected_version: u64,
        now: OffsetDateTime,
    ) -> Result<ResetOutcome, StoreError> {
        let user_id = account.user.id;
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::code_pk(hash), records::CODE)))
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now \
                 AND kind = :reset AND user_id = :user",
            )
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .expression_attribute_values(":reset", AttributeValue::S("reset".to_owned()))
            .expression_attribute_values(":user", AttributeValue::S(user_id.to_string()))
            .build()
            .map_err(boxed)?;
        let retire_pointer = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user_id), records::RESET)))
            .condition_expression("code_hash = :hash")
            .expression_attribute_values(":hash", AttributeValue::S(hash.as_str().to_owned()))
            .build()
            .map_err(boxed)?;
        let profile = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(user_id),
                records::PROFILE,
                &ProfileItem::from_account(account),
            )?))
            .condition_expression("#user.version = :version")
            .expression_attribute_names("#user", "user")
            .expression_attribute_values(":version", number_u64(expected_version))
            .build()
            .map_err(boxed)?;
        let mut items = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().delete(retire_pointer).build(),
            TransactWriteItem::builder().put(profile).build(),
        ];
        let sessions = self.session_keys(user_id).await?;
        for key in sessions.iter().take(SESSIONS_PER_RESET_TRANSACTION) {
            items.push(self.delete(key.clone())?);
        }
        match self.transact(items).await? {
            Ok(()) => {}
            Err(reasons) if failed_at(&reasons, 0) || failed_at(&reasons, 1) => {
                return Ok(ResetOutcome::InvalidCode);
            }
            Err(_) => return Ok(ResetOutcome::ProfileChanged),
        }
        let stragglers = self.sweep_sessions(user_id, None).await;
        Ok(ResetOutcome::Reset {
            sessions_ended: sessions.len().min(SESSIONS_PER_RESET_TRANSACTION) + stragglers,
        })
    }
}

#[async_trait]
impl RateStore for DynamoStore {
    async fn increment_counter(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::rate_pk(key), records::RATE)))
            .update_expression(
                "ADD #count :one SET expires_at = if_not_exists(expires_at, :expires)",
            )
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":expires", number(expires_at.unix_timestamp()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let counter: CounterItem = from_item(output.attributes.unwrap_or_default())
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(counter.count)
    }

    async fn decrement_counter(&self, key: &str) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::rate_pk(key), records::RATE)))
            .update_expression("ADD #count :minus_one")
            .condition_expression("attribute_exists(pk) AND #count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus_one", number(-1))
            .expression_attribute_values(":zero", number(0))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }

    async fn replace_failure_streak(
        &self,
        key: &str,
        expected: Option<&FailureStreak>,
        next: &FailureStreak,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = Self::item(
            records::streak_pk(key),
            records::STREAK,
            &StreakItem::new(next, expires_at),
        )?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(expected) => {
                let expected = StreakItem::new(expected, expires_at);
                put.condition_expression("failures = :failures AND last_failure_ms = :at")
                    .expression_attribute_values(
                        ":failures",
                        number(i64::try_from(expected.failures).unwrap_or(i64::MAX)),
                    )
                    .expression_attribute_values(":at", number(expected.last_failure_ms))
            }
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(error) => Err(classify(error)),
        }
    }

    async fn failure_streak(&self, key: &str) -> Result<Option<FailureStreak>, StoreError> {
        let item: Option<StreakItem> = self.get(records::streak_pk(key), records::STREAK).await?;
        item.map(|item| item.streak()).transpose()
    }

    async fn end_failure_streak(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::streak_pk(key), records::STREAK)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn start_session(
        &self,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let put = self.put_new(Self::item(
            records::user_pk(session.user_id),
            &records::session_sk(session.id),
            &SessionItem::new(session),
        )?)?;
        let record_sign_in = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(session.user_id),
                records::PROFILE,
            )))
            .update_expression(
                "SET #user.last_sign_in_at = :at, #user.sign_in_count = #user.sign_in_count + :one, \
                 #user.version = #user.version + :one",
            )
            .condition_expression(
                "attribute_exists(pk) AND password_hash = :credential AND #user.#status <> :disabled",
            )
            .expression_attribute_names("#user", "user")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":credential", AttributeValue::S(credential.to_owned()))
            .expression_attribute_values(":disabled", AttributeValue::S("disabled".to_owned()))
            .build()
            .map_err(boxed)?;
        match self
            .transact(vec![
                put,
                TransactWriteItem::builder().update(record_sign_in).build(),
            ])
            .await?
        {
            Ok(()) => Ok(true),
            Err(reasons) if failed_at(&reasons, 1) => Ok(false),
            Err(reasons) => Err(StoreError::Backend(
                format!("session not started: {reasons:?}").into(),
            )),
        }
    }

    async fn rotate_session(
        &self,
        user_id: UserId,
        id: SessionId,
        current: &SecretHash,
        next: &SecretHash,
        older: &[SecretHash],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::session_sk(id),
            )))
            .update_expression(
                "SET refresh_hash = :next, previous_hash = :current, older_hashes = :older, \
                 rotated_at = :at, generation = generation + :one",
            )
            .condition_expression("refresh_hash = :current AND expires_at > :now")
            .expression_attribute_values(":next", AttributeValue::S(next.as_str().to_owned()))
            .expression_attribute_values(":current", AttributeValue::S(current.as_str().to_owned()))
            .expression_attribute_values(
                ":older",
                AttributeValue::L(
                    records::stored_hashes(older)
                        .into_iter()
                        .map(AttributeValue::S)
                        .collect(),
                ),
            )
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .expression_attribute_values(":one", number(1))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(error) => Err(classify(error)),
        }
    }

    async fn end_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                &records::session_sk(id),
            )))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn end_all_sessions(&self, user_id: UserId) -> Result<usize, StoreError> {
        let keys = self.session_keys(user_id).await?;
        self.delete_keys(&keys).await?;
        Ok(keys.len())
    }

    async fn get_session(
        &self,
        user_id: UserId,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        match self
            .get::<SessionItem>(records::user_pk(user_id), &records::session_sk(id))
            .await?
        {
            Some(item) => item.into_session(user_id, now),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl ClientStore for DynamoStore {
    async fn create_client(&self, client: &ServiceClient) -> Result<(), StoreError> {
        let item = Self::item(
            records::client_pk(client.id),
            records::CLIENT,
            &ClientItem::new(client),
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get_client(&self, id: ClientId) -> Result<Option<ServiceClient>, StoreError> {
        match self
            .get::<ClientItem>(records::client_pk(id), records::CLIENT)
            .await?
        {
            Some(item) => item.into_client().map(Some),
            None => Ok(None),
        }
    }

    async fn list_clients(&self) -> Result<Vec<ServiceClient>, StoreError> {
        // An operator command over a handful of items: a filtered scan is
        // simpler than an index that every write would pay for.
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :client AND begins_with(pk, :prefix)")
            .expression_attribute_values(":client", AttributeValue::S(records::CLIENT.to_owned()))
            .expression_attribute_values(
                ":prefix",
                AttributeValue::S(records::CLIENT_PREFIX.to_owned()),
            )
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(classify)?;
        items
            .into_iter()
            .map(|item| {
                from_item::<ClientItem>(item)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?
                    .into_client()
            })
            .collect()
    }

    async fn replace_client_secret(
        &self,
        id: ClientId,
        secret_hash: &SecretHash,
    ) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::client_pk(id), records::CLIENT)))
            .update_expression("SET secret_hash = :hash")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":hash",
                AttributeValue::S(secret_hash.as_str().to_owned()),
            )
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(error) => Err(classify(error)),
        }
    }

    async fn delete_client(&self, id: ClientId) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::client_pk(id), records::CLIENT)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?;
        Ok(deleted
            .attributes
            .is_some_and(|attributes| !attributes.is_empty()))
    }
}
