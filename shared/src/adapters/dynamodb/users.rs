//! `UserStore` on DynamoDB: profiles and their uniqueness guards.

use super::*;

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

    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let user = change.user;
        let mut set = "SET #user = :user".to_owned();
        let mut placeholders = vec![("#user", attr::USER), ("#version", attr::VERSION)];
        let mut profile = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(records::user_pk(user.id), records::PROFILE)))
            .condition_expression("attribute_exists(pk) AND #user.#version = :expected")
            .expression_attribute_values(
                ":user",
                to_attribute_value(UserRecord::from(user)).map_err(boxed)?,
            )
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
            Err(_) => return Ok(ChangeOutcome::Stale),
        }
        let mut sessions_ended = in_transaction;
        if let Some(keep) = keep {
            sessions_ended += self.sweep_sessions(user.id, keep).await;
        }
        Ok(ChangeOutcome::Saved { sessions_ended })
    }
}
