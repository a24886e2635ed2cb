//! `UserStore` on the embedded store: profiles and their uniqueness guards.

use super::*;
use crate::adapters::records::EmailChangeItem;
use crate::ports::EmailChange;

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn create_user(
        &self,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError> {
        let new = NewAccount::of(account, self.audit_retention);
        let code = confirmation.map(|code| (records::code_pk(&code.hash), CodeItem::new(code)));
        self.write(move |table| {
            if exists(table, &new.email_pk, records::EMAIL)? {
                return Err(StoreError::EmailTaken);
            }
            if let Some(login_pk) = &new.login_pk
                && exists(table, login_pk, records::LOGIN)?
            {
                return Err(StoreError::LoginTaken);
            }
            write_account(table, &new, code.as_ref())
        })
        .await
    }

    async fn replace_expired_account(
        &self,
        expired: &Account,
        account: &Account,
        confirmation: Option<&StoredCode>,
    ) -> Result<(), StoreError> {
        let old = expired.user.clone();
        let new = NewAccount::of(account, self.audit_retention);
        let code = confirmation.map(|code| (records::code_pk(&code.hash), CodeItem::new(code)));
        self.write(move |table| {
            let email_pk = &new.email_pk;
            let old_pk = records::user_pk(old.id);
            let guard = get::<GuardItem>(table, email_pk, records::EMAIL)?;
            let stored = get::<ProfileItem>(table, &old_pk, records::PROFILE)?;
            let unchanged = guard.is_some_and(|guard| guard.user_id == old.id)
                && stored.is_some_and(|stored| {
                    stored.user.version == old.version
                        && stored.user.status == AccountStatus::Waiting
                        && !stored.user.email_confirmed
                });
            if !unchanged {
                return Err(StoreError::EmailTaken);
            }
            let old_login = old.login_key().map(|key| records::login_pk(&key));
            if let Some(login_pk) = &new.login_pk {
                let held_by_old = old_login.as_ref() == Some(login_pk);
                if !held_by_old && exists(table, login_pk, records::LOGIN)? {
                    return Err(StoreError::LoginTaken);
                }
            }
            if let Some(old_login) = &old_login {
                table
                    .remove((old_login.as_str(), records::LOGIN))
                    .map_err(backend)?;
            }
            table
                .remove((old_pk.as_str(), records::PROFILE))
                .map_err(backend)?;
            // The expired account's own entry goes with it.
            let old_entry = records::event_sk(registered_event(&old).id);
            table
                .remove((old_pk.as_str(), old_entry.as_str()))
                .map_err(backend)?;
            write_account(table, &new, code.as_ref())
        })
        .await
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
        let profile: Option<ProfileItem> = self.read(&records::user_pk(id), records::PROFILE)?;
        Ok(profile.map(|profile| User::from(profile.user)))
    }

    async fn get_account(&self, id: UserId) -> Result<Option<Account>, StoreError> {
        let profile: Option<ProfileItem> = self.read(&records::user_pk(id), records::PROFILE)?;
        Ok(profile.map(ProfileItem::into_account))
    }

    async fn replace_email_change(&self, change: &EmailChange) -> Result<(), StoreError> {
        let pk = records::user_pk(change.user_id);
        let item = EmailChangeItem::new(change);
        self.write(move |table| put(table, &pk, records::EMAIL_CHANGE, &item))
            .await
    }

    async fn email_change(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailChange>, StoreError> {
        match self.read::<EmailChangeItem>(&records::user_pk(user_id), records::EMAIL_CHANGE)? {
            Some(item) => item.into_change(user_id, now),
            None => Ok(None),
        }
    }

    async fn update_profile(&self, change: ProfileChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let user = change.user.clone();
        let expected_version = change.expected_version;
        let previous_login = change
            .previous_login
            .map(|login| user.user_type.login_key(login));
        let previous_email = user.user_type.email_key(change.previous_email);
        let password_hash = change.password_hash.map(str::to_owned);
        let completes = change
            .completes
            .map(|(hash, now)| (hash.as_str().to_owned(), now));
        let end_sessions = change.end_sessions;
        let event = change
            .event
            .map(|event| EventItem::new(event, self.audit_retention));
        self.write(move |table| {
            let user_pk = records::user_pk(user.id);
            let Some(mut profile) = get::<ProfileItem>(table, &user_pk, records::PROFILE)? else {
                return Ok(ChangeOutcome::Stale);
            };
            if profile.user.version != expected_version {
                return Ok(ChangeOutcome::Stale);
            }
            if let Some((hash, now)) = &completes {
                let pending = get::<EmailChangeItem>(table, &user_pk, records::EMAIL_CHANGE)?;
                if !pending.is_some_and(|pending| {
                    &pending.code_hash == hash && pending.expires_at > now.unix_timestamp()
                }) {
                    return Ok(ChangeOutcome::Stale);
                }
                table
                    .remove((user_pk.as_str(), records::EMAIL_CHANGE))
                    .map_err(backend)?;
            }
            let email = user.email_key();
            if email != previous_email {
                let pk = records::email_pk(&email);
                if exists(table, &pk, records::EMAIL)? {
                    return Err(StoreError::EmailTaken);
                }
                put(table, &pk, records::EMAIL, &GuardItem { user_id: user.id })?;
                let previous = records::email_pk(&previous_email);
                table
                    .remove((previous.as_str(), records::EMAIL))
                    .map_err(backend)?;
            }
            let login = user.login_key();
            if login != previous_login {
                if let Some(key) = &login {
                    let pk = records::login_pk(key);
                    if exists(table, &pk, records::LOGIN)? {
                        return Err(StoreError::LoginTaken);
                    }
                    put(table, &pk, records::LOGIN, &GuardItem { user_id: user.id })?;
                }
                if let Some(key) = &previous_login {
                    let pk = records::login_pk(key);
                    table
                        .remove((pk.as_str(), records::LOGIN))
                        .map_err(backend)?;
                }
            }
            let password_hash = password_hash.unwrap_or(profile.password_hash);
            profile = ProfileItem::from_account(&Account {
                user: user.clone(),
                password_hash,
            });
            put(table, &user_pk, records::PROFILE, &profile)?;
            if let Some(event) = &event {
                put_event(table, user.id, event)?;
            }
            let keep = match end_sessions {
                EndSessions::None => return Ok(ChangeOutcome::Saved { sessions_ended: 0 }),
                EndSessions::All => None,
                EndSessions::AllExcept(id) => Some(records::session_sk(id)),
            };
            let mut ended = 0;
            for sk in session_keys(table, &user_pk)? {
                if keep.as_ref() != Some(&sk) {
                    table
                        .remove((user_pk.as_str(), sk.as_str()))
                        .map_err(backend)?;
                    ended += 1;
                }
            }
            Ok(ChangeOutcome::Saved {
                sessions_ended: ended,
            })
        })
        .await
    }

    async fn delete_account(
        &self,
        deletion: AccountDeletion<'_>,
    ) -> Result<DeletionOutcome, StoreError> {
        let user = deletion.user.clone();
        let streaks = deletion.streaks.to_vec();
        let keep_last = deletion.keep_last;
        let event = self.event_item(deletion.event);
        // One write: the embedded store has no limit on its size.
        self.write(move |table| {
            let user_pk = records::user_pk(user.id);
            let stored = get::<ProfileItem>(table, &user_pk, records::PROFILE)?;
            if stored.is_none_or(|profile| profile.user.version != user.version) {
                return Ok(DeletionOutcome::Stale);
            }
            table
                .remove((user_pk.as_str(), records::PROFILE))
                .map_err(backend)?;
            let mut guards = vec![(records::email_pk(&user.email_key()), records::EMAIL)];
            guards.extend(
                user.login_key()
                    .map(|key| (records::login_pk(&key), records::LOGIN)),
            );
            for (pk, sk) in guards {
                let guard = get::<GuardItem>(table, &pk, sk)?;
                if guard.is_some_and(|guard| guard.user_id == user.id) {
                    table.remove((pk.as_str(), sk)).map_err(backend)?;
                }
            }
            for key in streaks {
                table
                    .remove((records::streak_pk(&key).as_str(), records::STREAK))
                    .map_err(backend)?;
            }
            // Removed with the rest below; the write still carries it.
            put_event(table, user.id, &event)?;
            let items = remove_account_items(table, user.id, keep_last)?;
            Ok(DeletionOutcome::Deleted { items })
        })
        .await
    }

    async fn finish_account_deletion(
        &self,
        user_id: UserId,
        keep_last: Option<SessionId>,
    ) -> Result<usize, StoreError> {
        self.write(move |table| remove_account_items(table, user_id, keep_last))
            .await
    }

    #[cfg(feature = "test-support")]
    async fn all_items(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.blocking(|db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let mut items = Vec::new();
            for entry in table.iter().map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                let (pk, sk) = key.value();
                let text = String::from_utf8_lossy(value.value()).into_owned();
                items.push((pk.to_owned(), sk.to_owned(), text));
            }
            Ok(items)
        })
        .await
    }

    async fn search_users(&self, search: &UserSearch) -> Result<UserPage, StoreError> {
        let search = search.clone();
        // Every profile, read once: the embedded store serves one machine's
        // accounts, where a pass over them is cheap.
        self.blocking(move |db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let mut users = Vec::new();
            for entry in table.range((USER_PREFIX, "")..).map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                let (pk, sk) = key.value();
                if !pk.starts_with(USER_PREFIX) {
                    break;
                }
                if sk != records::PROFILE {
                    continue;
                }
                let profile: ProfileItem = serde_json::from_slice(value.value())
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let user = profile.into_account().user;
                if user.user_type == search.user_type
                    && search.before.is_none_or(|before| user.id < before)
                    && search.matches(&user)
                {
                    users.push(user);
                }
            }
            // Newest first: ids are UUIDv7.
            users.sort_by_key(|user| std::cmp::Reverse(user.id));
            let more = users.len() > search.limit;
            users.truncate(search.limit);
            let next = if more {
                users.last().map(|user| user.id)
            } else {
                None
            };
            Ok(UserPage { users, next })
        })
        .await
    }
}

impl EmbeddedStore {
    async fn find_by_guard(
        &self,
        pk: String,
        sk: &'static str,
    ) -> Result<Option<Account>, StoreError> {
        self.blocking(move |db| {
            // One read transaction: guard and profile from the same snapshot.
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let Some(guard) = get::<GuardItem>(&table, &pk, sk)? else {
                return Ok(None);
            };
            let profile =
                get::<ProfileItem>(&table, &records::user_pk(guard.user_id), records::PROFILE)?;
            Ok(profile.map(ProfileItem::into_account))
        })
        .await
    }
}

/// Removes what [`records::deletion_keys`] lists for the account; how many.
fn remove_account_items(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    user_id: UserId,
    keep_last: Option<SessionId>,
) -> Result<usize, StoreError> {
    let user_pk = records::user_pk(user_id);
    let sort_keys = items_with_prefix::<serde::de::IgnoredAny>(table, &user_pk, "")?
        .into_iter()
        .map(|(sk, _)| sk)
        .collect();
    let reset = get::<ResetPointerItem>(table, &user_pk, records::RESET)?;
    let keys = records::deletion_keys(
        user_id,
        sort_keys,
        reset.as_ref().map(|pointer| pointer.code_hash.as_str()),
        keep_last,
    );
    for (pk, sk) in &keys {
        table.remove((pk.as_str(), sk.as_str())).map_err(backend)?;
    }
    Ok(keys.len())
}
