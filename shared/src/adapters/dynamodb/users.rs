//! `UserStore` on DynamoDB: profiles and their uniqueness guards.

use super::*;
use crate::adapters::records::EmailChangeItem;
use crate::ports::{EmailChange, registered_event};

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
                records::email_pk(&user.email_key()),
                records::EMAIL,
                &guard,
            )?)?,
        ];
        if let Some(login) = &user.login {
            items.push(self.put_new(Self::item(
                records::login_pk(&user.user_type.login_key(login)),
                records::LOGIN,
                &guard,
            )?)?);
        }
        items.extend(self.new_code(confirmation)?);
        items.push(self.put_event(&registered_event(user))?);
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
                "#user.#version = :version AND #user.#status = :waiting \
                 AND #user.#confirmed = :false",
            )
            .set_expression_attribute_names(names(&[
                ("#user", attr::USER),
                ("#version", attr::VERSION),
                ("#status", attr::STATUS),
                ("#confirmed", attr::EMAIL_CONFIRMED),
            ]))
            .expression_attribute_values(":version", number_u64(old.version))
            .expression_attribute_values(":waiting", status(AccountStatus::Waiting))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .build()
            .map_err(boxed)?;
        let guard = GuardItem { user_id: user.id };
        let take_email = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::email_pk(&user.email_key()),
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
        let old_login = old.login_key();
        let login = user.login_key();
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
        items.push(self.put_event(&registered_event(user))?);
        // The expired account's own entry goes with it.
        items.push(self.delete(Self::key(
            records::user_pk(old.id),
            &records::event_sk(registered_event(old).id),
        ))?);
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
        Ok(profile.map(|profile| User::from(profile.user)))
    }

    async fn get_account(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        let profile = self
            .get::<ProfileItem>(records::user_pk(id), records::PROFILE)
            .await?;
        Ok(profile.map(ProfileItem::into_account))
    }

    async fn replace_email_change(&self, change: &EmailChange) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(change.user_id),
                records::EMAIL_CHANGE,
                &EmailChangeItem::new(change),
            )?))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn email_change(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailChange>, StoreError> {
        match self
            .get::<EmailChangeItem>(records::user_pk(user_id), records::EMAIL_CHANGE)
            .await?
        {
            Some(item) => item.into_change(user_id, now),
            None => Ok(None),
        }
    }

    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let user = change.user;
        // The index attributes too: items from before the index get them.
        let mut set = "SET #user = :user, #apk = :apk, #ask = :ask, #aemail = :aemail".to_owned();
        let mut placeholders = vec![
            ("#user", attr::USER),
            ("#version", attr::VERSION),
            ("#apk", attr::ACCOUNTS_PK),
            ("#ask", attr::ACCOUNTS_SK),
            ("#aemail", attr::ACCOUNTS_EMAIL),
        ];
        let index = AccountsIndex::of(user);
        let mut profile = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user.id), records::PROFILE)))
            .condition_expression("attribute_exists(pk) AND #user.#version = :expected")
            .expression_attribute_values(
                ":user",
                to_attribute_value(UserRecord::from(user)).map_err(boxed)?,
            )
            .expression_attribute_values(":apk", AttributeValue::S(index.pk))
            .expression_attribute_values(":ask", AttributeValue::S(index.sk))
            .expression_attribute_values(":aemail", AttributeValue::S(index.email))
            .expression_attribute_values(":expected", number_u64(change.expected_version));
        if let Some(hash) = change.password_hash {
            set.push_str(", #password_hash = :hash");
            placeholders.push(("#password_hash", attr::PASSWORD_HASH));
            profile =
                profile.expression_attribute_values(":hash", AttributeValue::S(hash.to_owned()));
        }
        let profile = profile
            .update_expression(set)
            .set_expression_attribute_names(names(&placeholders))
            .build()
            .map_err(boxed)?;
        let mut items = vec![TransactWriteItem::builder().update(profile).build()];
        if let Some(event) = change.event {
            items.push(self.put_event(event)?);
        }

        if let Some((hash, now)) = change.completes {
            let spend = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(
                    records::user_pk(user.id),
                    records::EMAIL_CHANGE,
                )))
                .condition_expression("code_hash = :hash AND expires_at > :now")
                .expression_attribute_values(":hash", AttributeValue::S(hash.as_str().to_owned()))
                .expression_attribute_values(":now", number(now.unix_timestamp()))
                .build()
                .map_err(boxed)?;
            items.push(TransactWriteItem::builder().delete(spend).build());
        }

        let email = user.email_key();
        let previous_email = user.user_type.email_key(change.previous_email);
        let mut new_email_guard_at = None;
        if email != previous_email {
            new_email_guard_at = Some(items.len());
            items.push(self.put_new(Self::item(
                records::email_pk(&email),
                records::EMAIL,
                &GuardItem { user_id: user.id },
            )?)?);
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(
                    records::email_pk(&previous_email),
                    records::EMAIL,
                )))
                .condition_expression("user_id = :me")
                .expression_attribute_values(":me", AttributeValue::S(user.id.to_string()))
                .build()
                .map_err(boxed)?;
            items.push(TransactWriteItem::builder().delete(release).build());
        }

        let login = user.login_key();
        let previous_login = change
            .previous_login
            .map(|login| user.user_type.login_key(login));
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
            Err(reasons) if new_email_guard_at.is_some_and(|index| failed_at(&reasons, index)) => {
                return Err(StoreError::EmailTaken);
            }
            Err(_) => return Ok(ChangeOutcome::Stale),
        }
        let mut sessions_ended = in_transaction;
        if let Some(keep) = keep {
            sessions_ended += self.sweep_sessions(user.id, keep).await;
        }
        Ok(ChangeOutcome::Saved { sessions_ended })
    }

    async fn delete_account(
        &self,
        deletion: AccountDeletion<'_>,
    ) -> Result<DeletionOutcome, StoreError> {
        let user = deletion.user;
        let me = AttributeValue::S(user.id.to_string());
        let profile = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user.id), records::PROFILE)))
            .condition_expression("#user.#version = :expected")
            .set_expression_attribute_names(names(&[
                ("#user", attr::USER),
                ("#version", attr::VERSION),
            ]))
            .expression_attribute_values(":expected", number_u64(user.version))
            .build()
            .map_err(boxed)?;
        let mut items = vec![TransactWriteItem::builder().delete(profile).build()];
        let mut guards = vec![(records::email_pk(&user.email_key()), records::EMAIL)];
        guards.extend(
            user.login_key()
                .map(|key| (records::login_pk(&key), records::LOGIN)),
        );
        for (pk, sk) in guards {
            // A guard another account holds is left to it (the transaction
            // fails and the account is read again); a missing one is fine.
            let release = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(pk, sk)))
                .condition_expression("attribute_not_exists(pk) OR user_id = :me")
                .expression_attribute_values(":me", me.clone())
                .build()
                .map_err(boxed)?;
            items.push(TransactWriteItem::builder().delete(release).build());
        }
        for key in deletion.streaks {
            items.push(self.delete(Self::key(records::streak_pk(key), records::STREAK))?);
        }
        items.push(self.put_event(deletion.event)?);
        if self.transact(items).await?.is_err() {
            return Ok(DeletionOutcome::Stale);
        }
        // Nothing can start a session for the account any more (that needs
        // its profile), so the sessions read from here on are all it has.
        let items = self
            .finish_account_deletion(user.id, deletion.keep_last)
            .await?;
        Ok(DeletionOutcome::Deleted { items })
    }

    async fn finish_account_deletion(
        &self,
        user_id: UserId,
        keep_last: Option<SessionId>,
    ) -> Result<usize, StoreError> {
        // Every item under the account: its sort key, and the reset
        // pointer's code hash.
        #[derive(serde::Deserialize)]
        struct Under {
            sk: String,
            code_hash: Option<String>,
        }
        let items = self.user_items::<Under>(user_id, "").await?;
        let reset_code_hash = items
            .iter()
            .find(|item| item.sk == records::RESET)
            .and_then(|item| item.code_hash.clone());
        let sort_keys = items.into_iter().map(|item| item.sk).collect();
        let keys =
            records::deletion_keys(user_id, sort_keys, reset_code_hash.as_deref(), keep_last);
        for chunk in keys.chunks(MAX_TRANSACTION_ITEMS) {
            let deletes = chunk
                .iter()
                .map(|(pk, sk)| self.delete(Self::key(pk.clone(), sk)))
                .collect::<Result<Vec<_>, _>>()?;
            self.transact_with_retries(deletes).await?;
        }
        Ok(keys.len())
    }

    #[cfg(feature = "test-support")]
    async fn all_items(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
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
                // As JSON, whose maps keep their keys in order (the SDK's do not).
                let json: serde_json::Value = from_item(item).map_err(boxed)?;
                let text = |name: &str| json[name].as_str().unwrap_or_default().to_owned();
                Ok((text("pk"), text("sk"), json.to_string()))
            })
            .collect()
    }

    async fn search_users(&self, search: &UserSearch) -> Result<UserPage, StoreError> {
        let mut placeholders = vec![("#apk", attr::ACCOUNTS_PK)];
        let mut values = HashMap::from([(
            ":apk".to_owned(),
            AttributeValue::S(records::accounts_pk(&search.user_type)),
        )]);
        let mut key_condition = "#apk = :apk".to_owned();
        if let Some(before) = search.before {
            key_condition.push_str(" AND #ask < :before");
            placeholders.push(("#ask", attr::ACCOUNTS_SK));
            values.insert(":before".to_owned(), AttributeValue::S(before.to_string()));
        }
        let mut filters = Vec::new();
        if let Some(prefix) = &search.email_prefix {
            filters.push("begins_with(#aemail, :prefix)");
            placeholders.push(("#aemail", attr::ACCOUNTS_EMAIL));
            values.insert(":prefix".to_owned(), AttributeValue::S(prefix.clone()));
        }
        if let Some(wanted) = search.status {
            filters.push("#user.#status = :status");
            placeholders.extend([("#user", attr::USER), ("#status", attr::STATUS)]);
            values.insert(":status".to_owned(), status(wanted));
        }
        if let Some(role) = &search.role {
            filters.push("contains(#user.#roles, :role)");
            placeholders.extend([("#user", attr::USER), ("#roles", attr::ROLES)]);
            values.insert(
                ":role".to_owned(),
                AttributeValue::S(role.as_str().to_owned()),
            );
        }
        let mut page = UserPage::default();
        let mut start: Option<Item> = None;
        // A rare filter could otherwise read a whole type's accounts for one
        // page: after this many queries the page ends short, with a cursor.
        for _ in 0..SEARCH_QUERIES_PER_PAGE {
            let remaining = search.limit - page.users.len();
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(records::ACCOUNTS_INDEX)
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(names(&placeholders))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if !filters.is_empty() {
                query = query.filter_expression(filters.join(" AND "));
            }
            let output = query.send().await.map_err(classify)?;
            for item in output.items() {
                let profile: ProfileItem = from_item(item.clone()).map_err(boxed)?;
                page.users.push(profile.into_account().user);
            }
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                // The index has no more accounts of this type.
                _ => return Ok(page),
            }
            if page.users.len() == search.limit {
                break;
            }
        }
        // More may follow, after the last account looked at.
        page.next = start
            .as_ref()
            .and_then(|key| key.get(attr::ACCOUNTS_SK))
            .and_then(|id| id.as_s().ok())
            .and_then(|id| UserId::parse(id));
        Ok(page)
    }
}
