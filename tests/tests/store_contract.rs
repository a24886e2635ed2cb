//! One contract suite, run against every store adapter (the embedded store
//! and DynamoDB on moto), so they cannot drift.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use latchkey::adapters::dynamodb::DynamoStore;
use latchkey::adapters::embedded::EmbeddedStore;
use latchkey::domain::{
    AccountStatus, Authentication, ClientId, Email, Login, SessionId, User, UserId,
};
use latchkey::ports::{
    Account, ChangeOutcome, CodeKind, ConfirmOutcome, EndSessions, ProfileChange, ResetOutcome,
    ServiceClient, Session, Store, StoreError, StoredCode,
};
use latchkey::secrets::OneTimeCode;
use time::OffsetDateTime;

/// A store plus whatever keeps it alive (a temporary folder).
struct Subject {
    store: Arc<dyn Store>,
    _keep: Option<tempfile::TempDir>,
}

async fn embedded() -> Subject {
    let folder = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&folder.path().join("db.redb")).unwrap();
    Subject {
        store: Arc::new(store),
        _keep: Some(folder),
    }
}

async fn dynamodb() -> Subject {
    let sdk = latchkey_tests::moto().sdk_config().await;
    let table = format!("contract-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    store.create_table_if_missing().await.unwrap();
    Subject {
        store: Arc::new(store),
        _keep: None,
    }
}

/// Every test account's password hash (the credential sessions start from).
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

fn account(email: &str, login: Option<&str>) -> Account {
    let now = OffsetDateTime::now_utc();
    Account {
        user: User {
            login: login.map(|login| Login::parse(login).unwrap()),
            ..User::new(Email::parse(email).unwrap(), now)
        },
        password_hash: PASSWORD_HASH.to_owned(),
    }
}

fn confirmation_for(account: &Account, lifetime: Duration) -> (OneTimeCode, StoredCode) {
    let code = OneTimeCode::generate();
    let stored = StoredCode {
        hash: code.hash(),
        kind: CodeKind::Confirm,
        user_id: account.user.id,
        expires_at: OffsetDateTime::now_utc() + lifetime,
    };
    (code, stored)
}

async fn a_created_account_is_found_by_email_in_any_case_and_by_login(subject: Subject) {
    let store = subject.store;
    let created = account("Mixed.Case@Example.com", Some("Mixed_Login"));
    store.create_user(&created, None).await.unwrap();
    let by_email = store
        .find_by_email(Email::parse("mixed.case@EXAMPLE.com").unwrap().key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.user, created.user);
    assert_eq!(by_email.password_hash, created.password_hash);
    let by_login = store.find_by_login("mixed_login").await.unwrap().unwrap();
    assert_eq!(by_login.user.id, created.user.id);
    assert_eq!(
        store
            .get_user(created.user.id)
            .await
            .unwrap()
            .unwrap()
            .email
            .as_str(),
        "Mixed.Case@Example.com"
    );
    assert!(
        store
            .find_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_user(UserId::new()).await.unwrap().is_none());
}

async fn a_second_account_for_one_email_or_login_is_refused(subject: Subject) {
    let store = subject.store;
    store
        .create_user(&account("dup@example.com", Some("dup_login")), None)
        .await
        .unwrap();
    let error = store
        .create_user(&account("DUP@Example.COM", None), None)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::EmailTaken), "{error:?}");
    let error = store
        .create_user(&account("other@example.com", Some("DUP_LOGIN")), None)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::LoginTaken), "{error:?}");
    // A refused registration leaves nothing behind: its email is still free.
    store
        .create_user(&account("other@example.com", None), None)
        .await
        .unwrap();
}

async fn sixteen_concurrent_registrations_of_one_email_make_exactly_one_account(subject: Subject) {
    let store = subject.store;
    let attempts = (0..16).map(|i| {
        let store = Arc::clone(&store);
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        let candidate = account(email, None);
        tokio::spawn(async move {
            store
                .create_user(&candidate, None)
                .await
                .map(|()| candidate.user.id)
        })
    });
    let mut winners = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(id) => winners.push(id),
            Err(StoreError::EmailTaken) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration wins");
    let stored = store
        .find_by_email("race@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user.id, winners[0]);
}

async fn a_confirmation_code_activates_once_and_answers_idempotently_after(subject: Subject) {
    let store = subject.store;
    let created = account("confirm@example.com", None);
    let (code, stored) = confirmation_for(&created, Duration::from_secs(3600));
    store.create_user(&created, Some(&stored)).await.unwrap();
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        store.confirm_email(&code.hash(), now).await.unwrap(),
        ConfirmOutcome::Confirmed(created.user.id)
    );
    let user = store.get_user(created.user.id).await.unwrap().unwrap();
    assert_eq!(user.status, AccountStatus::Active);
    assert!(user.email_confirmed);
    assert_eq!(user.version, 2);
    assert_eq!(
        store.confirm_email(&code.hash(), now).await.unwrap(),
        ConfirmOutcome::AlreadyConfirmed(created.user.id)
    );
    assert_eq!(
        store
            .get_user(created.user.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        2,
        "spent only once"
    );
    assert_eq!(
        store
            .confirm_email(&OneTimeCode::generate().hash(), now)
            .await
            .unwrap(),
        ConfirmOutcome::Invalid
    );
}

async fn concurrent_uses_of_one_code_spend_it_once(subject: Subject) {
    let store = subject.store;
    let created = account("concurrent@example.com", None);
    let (code, stored) = confirmation_for(&created, Duration::from_secs(3600));
    store.create_user(&created, Some(&stored)).await.unwrap();
    let hash = code.hash();
    let uses = (0..8).map(|_| {
        let store = Arc::clone(&store);
        let hash = hash.clone();
        tokio::spawn(async move {
            store
                .confirm_email(&hash, OffsetDateTime::now_utc())
                .await
                .unwrap()
        })
    });
    let mut confirmed = 0;
    for outcome in uses {
        match outcome.await.unwrap() {
            ConfirmOutcome::Confirmed(_) => confirmed += 1,
            ConfirmOutcome::AlreadyConfirmed(_) => {}
            ConfirmOutcome::Invalid => panic!("a concurrent open of a live link was refused"),
        }
    }
    assert_eq!(confirmed, 1);
    assert_eq!(
        store
            .get_user(created.user.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

async fn an_expired_confirmation_code_is_refused(subject: Subject) {
    let store = subject.store;
    let created = account("late@example.com", None);
    let (code, stored) = confirmation_for(&created, Duration::from_secs(60));
    store.create_user(&created, Some(&stored)).await.unwrap();
    let later = OffsetDateTime::now_utc() + Duration::from_secs(120);
    assert_eq!(
        store.confirm_email(&code.hash(), later).await.unwrap(),
        ConfirmOutcome::Invalid
    );
    let user = store.get_user(created.user.id).await.unwrap().unwrap();
    assert_eq!(user.status, AccountStatus::Waiting);
    // A spent code also stops answering once it has expired.
    let now = OffsetDateTime::now_utc();
    assert!(matches!(
        store.confirm_email(&code.hash(), now).await.unwrap(),
        ConfirmOutcome::Confirmed(_)
    ));
    assert_eq!(
        store.confirm_email(&code.hash(), later).await.unwrap(),
        ConfirmOutcome::Invalid
    );
}

async fn a_session_is_stored_with_the_sign_in_and_ends_at_its_expiry(subject: Subject) {
    let store = subject.store;
    let created = account("session@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let session = Session {
        id: SessionId::new(),
        user_id: created.user.id,
        refresh_hash: OneTimeCode::generate().hash(),
        previous_hash: None,
        older_hashes: Vec::new(),
        rotated_at: None,
        generation: 0,
        remember_me: true,
        authentication: Authentication::password(now.replace_nanosecond(0).unwrap()),
        created_at: now.replace_nanosecond(0).unwrap(),
        expires_at: (now + Duration::from_secs(3600))
            .replace_nanosecond(0)
            .unwrap(),
    };
    assert!(
        store
            .start_session(&session, PASSWORD_HASH, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .start_session(
                &Session {
                    id: SessionId::new(),
                    ..session.clone()
                },
                PASSWORD_HASH,
                now,
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_session(created.user.id, session.id, now)
            .await
            .unwrap(),
        Some(session.clone())
    );
    let later = now + Duration::from_secs(3601);
    assert_eq!(
        store
            .get_session(created.user.id, session.id, later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_session(created.user.id, SessionId::new(), now)
            .await
            .unwrap(),
        None
    );
    let user = store.get_user(created.user.id).await.unwrap().unwrap();
    assert_eq!(user.sign_in_count, 2);
    assert_eq!(
        user.last_sign_in_at.map(|at| at.unix_timestamp()),
        Some(now.unix_timestamp())
    );
}

fn new_session(user_id: UserId, now: OffsetDateTime) -> Session {
    Session {
        id: SessionId::new(),
        user_id,
        refresh_hash: OneTimeCode::generate().hash(),
        previous_hash: None,
        older_hashes: Vec::new(),
        rotated_at: None,
        generation: 0,
        remember_me: false,
        authentication: Authentication::password(now),
        created_at: now,
        expires_at: now + Duration::from_secs(3600),
    }
}

async fn a_rotation_succeeds_once_per_hash_and_keeps_the_replaced_one(subject: Subject) {
    let store = subject.store;
    let created = account("rotate@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let session = new_session(created.user.id, now);
    assert!(
        store
            .start_session(&session, PASSWORD_HASH, now)
            .await
            .unwrap()
    );
    let first = session.refresh_hash.clone();
    let second = OneTimeCode::generate().hash();
    let (user, id) = (created.user.id, session.id);
    assert!(
        store
            .rotate_session(user, id, &first, &second, &[], now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_session(user, id, &first, &OneTimeCode::generate().hash(), &[], now)
            .await
            .unwrap()
    );
    let stored = store.get_session(user, id, now).await.unwrap().unwrap();
    assert_eq!(stored.refresh_hash, second);
    assert_eq!(stored.previous_hash, Some(first.clone()));
    assert_eq!(stored.older_hashes, []);
    assert_eq!(stored.rotated_at, Some(now));
    assert_eq!(stored.generation, 1);
    // The next rotation keeps the generations the caller passes as older.
    let third = OneTimeCode::generate().hash();
    assert!(
        store
            .rotate_session(user, id, &second, &third, std::slice::from_ref(&first), now)
            .await
            .unwrap()
    );
    let stored = store.get_session(user, id, now).await.unwrap().unwrap();
    assert_eq!(
        (stored.previous_hash, stored.older_hashes),
        (Some(second.clone()), vec![first])
    );
    let second = third;
    assert_eq!(
        stored.expires_at, session.expires_at,
        "rotation keeps the absolute end"
    );
    let later = now + Duration::from_secs(3601);
    assert!(
        !store
            .rotate_session(
                user,
                id,
                &second,
                &OneTimeCode::generate().hash(),
                &[],
                later
            )
            .await
            .unwrap()
    );
}

async fn concurrent_rotations_of_one_hash_let_exactly_one_win(subject: Subject) {
    let store = subject.store;
    let created = account("fork@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let session = new_session(created.user.id, now);
    assert!(
        store
            .start_session(&session, PASSWORD_HASH, now)
            .await
            .unwrap()
    );
    let attempts = (0..10).map(|_| {
        let (store, current) = (Arc::clone(&store), session.refresh_hash.clone());
        let next = OneTimeCode::generate().hash();
        tokio::spawn(async move {
            store
                .rotate_session(session.user_id, session.id, &current, &next, &[], now)
                .await
        })
    });
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap().unwrap());
    }
    assert_eq!(wins, 1);
    let stored = store
        .get_session(session.user_id, session.id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.generation, 1);
}

async fn sessions_end_one_at_a_time_or_all_at_once(subject: Subject) {
    let store = subject.store;
    let created = account("ends@example.com", None);
    let other = account("other-ends@example.com", None);
    store.create_user(&created, None).await.unwrap();
    store.create_user(&other, None).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let sessions: Vec<Session> = (0..3).map(|_| new_session(created.user.id, now)).collect();
    for session in &sessions {
        assert!(
            store
                .start_session(session, PASSWORD_HASH, now)
                .await
                .unwrap()
        );
    }
    let others = new_session(other.user.id, now);
    assert!(
        store
            .start_session(&others, PASSWORD_HASH, now)
            .await
            .unwrap()
    );

    store
        .end_session(created.user.id, sessions[0].id)
        .await
        .unwrap();
    store
        .end_session(created.user.id, sessions[0].id)
        .await
        .unwrap();
    assert!(
        store
            .get_session(created.user.id, sessions[0].id, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_session(created.user.id, sessions[1].id, now)
            .await
            .unwrap()
            .is_some()
    );

    assert_eq!(store.end_all_sessions(created.user.id).await.unwrap(), 2);
    for session in &sessions {
        assert!(
            store
                .get_session(created.user.id, session.id, now)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        store.get_user(created.user.id).await.unwrap().is_some(),
        "the profile is not a session"
    );
    assert!(
        store
            .get_session(other.user.id, others.id, now)
            .await
            .unwrap()
            .is_some(),
        "other users keep theirs"
    );
}

fn service_client(name: &str) -> ServiceClient {
    ServiceClient {
        id: ClientId::new(),
        name: name.to_owned(),
        secret_hash: OneTimeCode::generate().hash(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        created_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
    }
}

async fn service_clients_round_trip_rotate_and_delete(subject: Subject) {
    let store = subject.store;
    let billing = service_client("billing");
    let reports = ServiceClient {
        scopes: vec![],
        ..service_client("reports")
    };
    store.create_client(&billing).await.unwrap();
    store.create_client(&reports).await.unwrap();
    assert_eq!(
        store.get_client(billing.id).await.unwrap(),
        Some(billing.clone())
    );
    assert!(
        store.create_client(&billing).await.is_err(),
        "an id is created once"
    );
    let mut listed = store.list_clients().await.unwrap();
    listed.sort_by_key(|client| client.id);
    assert_eq!(listed, vec![billing.clone(), reports.clone()]);

    let new_hash = OneTimeCode::generate().hash();
    assert!(
        store
            .replace_client_secret(billing.id, &new_hash)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_client(billing.id)
            .await
            .unwrap()
            .unwrap()
            .secret_hash,
        new_hash
    );
    assert!(
        !store
            .replace_client_secret(ClientId::new(), &new_hash)
            .await
            .unwrap()
    );

    assert!(store.delete_client(billing.id).await.unwrap());
    assert!(!store.delete_client(billing.id).await.unwrap());
    assert_eq!(store.get_client(billing.id).await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap(), vec![reports]);
}

fn reset_code_for(account: &Account, lifetime: Duration) -> (OneTimeCode, StoredCode) {
    let (code, stored) = confirmation_for(account, lifetime);
    (
        code,
        StoredCode {
            kind: CodeKind::Reset,
            ..stored
        },
    )
}

async fn start_session_for(store: &dyn Store, user_id: UserId) -> SessionId {
    let now = OffsetDateTime::now_utc();
    let session = Session {
        id: SessionId::new(),
        user_id,
        refresh_hash: OneTimeCode::generate().hash(),
        previous_hash: None,
        older_hashes: Vec::new(),
        rotated_at: None,
        generation: 0,
        remember_me: false,
        authentication: Authentication::password(now),
        created_at: now,
        expires_at: now + Duration::from_secs(3600),
    };
    assert!(
        store
            .start_session(&session, PASSWORD_HASH, now)
            .await
            .unwrap()
    );
    session.id
}

/// The account as a reset would write it: a new password hash, version + 1.
fn after_reset(stored: &User, now: OffsetDateTime) -> Account {
    Account {
        user: User {
            status: AccountStatus::Active,
            email_confirmed: true,
            updated_at: now.replace_nanosecond(0).unwrap(),
            version: stored.version + 1,
            ..stored.clone()
        },
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g".to_owned(),
    }
}

async fn a_new_reset_code_retires_the_previous_one(subject: Subject) {
    let store = subject.store;
    let created = account("reset.replace@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let (first, first_stored) = reset_code_for(&created, Duration::from_secs(3600));
    store.replace_reset_code(&first_stored).await.unwrap();
    assert_eq!(
        store.find_reset_code(&first.hash(), now).await.unwrap(),
        Some(created.user.id)
    );
    let (second, second_stored) = reset_code_for(&created, Duration::from_secs(3600));
    store.replace_reset_code(&second_stored).await.unwrap();
    assert_eq!(
        store.find_reset_code(&first.hash(), now).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_reset_code(&second.hash(), now).await.unwrap(),
        Some(created.user.id)
    );
    // A confirmation code is not a reset code.
    let (confirm, confirm_stored) = confirmation_for(&created, Duration::from_secs(3600));
    store.add_confirmation_code(&confirm_stored).await.unwrap();
    assert_eq!(
        store.find_reset_code(&confirm.hash(), now).await.unwrap(),
        None
    );
    // Nor is an expired one.
    let later = now + Duration::from_secs(3601);
    assert_eq!(
        store.find_reset_code(&second.hash(), later).await.unwrap(),
        None
    );
}

async fn a_reset_spends_its_code_writes_the_profile_and_ends_every_session(subject: Subject) {
    let store = subject.store;
    let created = account("reset.spend@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let sessions = [
        start_session_for(store.as_ref(), created.user.id).await,
        start_session_for(store.as_ref(), created.user.id).await,
    ];
    let (code, stored) = reset_code_for(&created, Duration::from_secs(3600));
    store.replace_reset_code(&stored).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let current = store.get_user(created.user.id).await.unwrap().unwrap();
    let updated = after_reset(&current, now);

    // A stale version writes nothing and leaves the code usable.
    assert_eq!(
        store
            .reset_password(&code.hash(), &updated, current.version - 1, now)
            .await
            .unwrap(),
        ResetOutcome::ProfileChanged
    );
    assert_eq!(
        store.find_reset_code(&code.hash(), now).await.unwrap(),
        Some(created.user.id)
    );
    assert_eq!(
        store.get_user(created.user.id).await.unwrap().unwrap(),
        current
    );

    assert_eq!(
        store
            .reset_password(&code.hash(), &updated, current.version, now)
            .await
            .unwrap(),
        ResetOutcome::Reset { sessions_ended: 2 }
    );
    let stored_account = store
        .find_by_email(created.user.email.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored_account.user, updated.user);
    assert_eq!(stored_account.password_hash, updated.password_hash);
    for session in sessions {
        assert_eq!(
            store
                .get_session(created.user.id, session, now)
                .await
                .unwrap(),
            None
        );
    }
    // Spent: neither found nor spendable again.
    assert_eq!(
        store.find_reset_code(&code.hash(), now).await.unwrap(),
        None
    );
    let again = after_reset(&updated.user, now);
    assert_eq!(
        store
            .reset_password(&code.hash(), &again, updated.user.version, now)
            .await
            .unwrap(),
        ResetOutcome::InvalidCode
    );
}

async fn concurrent_resets_with_one_code_let_exactly_one_win(subject: Subject) {
    let store = subject.store;
    let created = account("reset.race@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let (code, stored) = reset_code_for(&created, Duration::from_secs(3600));
    store.replace_reset_code(&stored).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let current = store.get_user(created.user.id).await.unwrap().unwrap();
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let (store, hash, updated) =
                (Arc::clone(&store), code.hash(), after_reset(&current, now));
            let version = current.version;
            tokio::spawn(async move {
                store
                    .reset_password(&hash, &updated, version, now)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            ResetOutcome::Reset { .. } => wins += 1,
            ResetOutcome::InvalidCode | ResetOutcome::ProfileChanged => {}
        }
    }
    assert_eq!(wins, 1);
}

async fn counters_count_per_key(subject: Subject) {
    let store = subject.store;
    let expires_at = OffsetDateTime::now_utc() + Duration::from_secs(60);
    let key = format!("test#{}", uuid::Uuid::new_v4().simple());
    for expected in 1..=3 {
        assert_eq!(
            store.increment_counter(&key, expires_at).await.unwrap(),
            expected
        );
    }
    let other = format!("{key}-other");
    assert_eq!(
        store.increment_counter(&other, expires_at).await.unwrap(),
        1
    );
    // Concurrent increments are atomic: none is lost.
    let increments: Vec<_> = (0..10)
        .map(|_| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move { store.increment_counter(&key, expires_at).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for increment in increments {
        seen.push(increment.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (4..=13).collect::<Vec<u64>>());
}

async fn a_profile_change_is_written_on_its_version_only(subject: Subject) {
    let store = subject.store;
    let created = account("change@example.com", Some("old_login"));
    store.create_user(&created, None).await.unwrap();
    let keep = start_session_for(store.as_ref(), created.user.id).await;
    let end = start_session_for(store.as_ref(), created.user.id).await;
    let stored = store.get_user(created.user.id).await.unwrap().unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let changed = User {
        login: Some(Login::parse("New_Login").unwrap()),
        first_name: Some(latchkey::domain::PersonName::parse("Changed").unwrap()),
        updated_at: now,
        version: stored.version + 1,
        ..stored.clone()
    };
    let change = |expected_version, end_sessions| ProfileChange {
        user: &changed,
        expected_version,
        previous_login: stored.login.as_ref(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI"),
        end_sessions,
    };
    assert_eq!(
        store
            .update_profile(change(stored.version + 7, EndSessions::All))
            .await
            .unwrap(),
        ChangeOutcome::Stale
    );
    assert_eq!(
        store.get_user(created.user.id).await.unwrap().unwrap(),
        stored
    );
    assert_eq!(
        store
            .update_profile(change(stored.version, EndSessions::AllExcept(keep)))
            .await
            .unwrap(),
        ChangeOutcome::Saved { sessions_ended: 1 }
    );
    let found = store.find_by_login("new_login").await.unwrap().unwrap();
    assert_eq!(found.user, changed);
    assert_eq!(
        found.password_hash,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI"
    );
    assert!(store.find_by_login("old_login").await.unwrap().is_none());
    assert!(
        store
            .get_session(created.user.id, keep, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_session(created.user.id, end, now)
            .await
            .unwrap()
            .is_none()
    );

    // The released login is free; a held one is refused and nothing moves.
    let other = account("other.change@example.com", Some("old_login"));
    store.create_user(&other, None).await.unwrap();
    let other_stored = store.get_user(other.user.id).await.unwrap().unwrap();
    let taking = User {
        login: Some(Login::parse("new_login").unwrap()),
        version: other_stored.version + 1,
        ..other_stored.clone()
    };
    let refused = store
        .update_profile(ProfileChange {
            user: &taking,
            expected_version: other_stored.version,
            previous_login: other_stored.login.as_ref(),
            password_hash: None,
            end_sessions: EndSessions::None,
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::LoginTaken)),
        "{refused:?}"
    );
    assert_eq!(
        store.get_user(other.user.id).await.unwrap().unwrap(),
        other_stored
    );
    assert_eq!(
        store
            .find_by_login("old_login")
            .await
            .unwrap()
            .unwrap()
            .user
            .id,
        other.user.id
    );
}

/// A sign-in checks a password, then starts its session. Whatever changed
/// the credential in between wins: the session is not started. And a
/// credential change that read the sessions before a sign-in committed one
/// is stale, so it reads them again and ends that one too.
async fn a_session_starts_only_from_the_credential_the_account_still_holds(subject: Subject) {
    let store = subject.store;
    let created = account("born@example.com", None);
    store.create_user(&created, None).await.unwrap();
    let stored = store.get_user(created.user.id).await.unwrap().unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let session = |now: OffsetDateTime| Session {
        id: SessionId::new(),
        user_id: created.user.id,
        refresh_hash: OneTimeCode::generate().hash(),
        previous_hash: None,
        older_hashes: Vec::new(),
        rotated_at: None,
        generation: 0,
        remember_me: false,
        authentication: Authentication::password(now),
        created_at: now,
        expires_at: now + Duration::from_secs(3600),
    };

    // A change read the account (and its sessions: none)…
    let changed = User {
        updated_at: now,
        version: stored.version + 1,
        ..stored.clone()
    };
    let new_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDM$aGFzaDM";
    let change = |user| ProfileChange {
        user,
        expected_version: stored.version,
        previous_login: None,
        password_hash: Some(new_hash),
        end_sessions: EndSessions::All,
    };
    // …then a sign-in with the old password committed its session: the
    // change is stale and must read again.
    let early = session(now);
    assert!(
        store
            .start_session(&early, PASSWORD_HASH, now)
            .await
            .unwrap()
    );
    assert_eq!(
        store.update_profile(change(&changed)).await.unwrap(),
        ChangeOutcome::Stale
    );
    let reread = store.get_user(created.user.id).await.unwrap().unwrap();
    let changed = User {
        version: reread.version + 1,
        ..reread.clone()
    };
    let retried = ProfileChange {
        expected_version: reread.version,
        ..change(&changed)
    };
    assert_eq!(
        store.update_profile(retried).await.unwrap(),
        ChangeOutcome::Saved { sessions_ended: 1 }
    );
    assert_eq!(
        store
            .get_session(created.user.id, early.id, now)
            .await
            .unwrap(),
        None
    );

    // A sign-in that checked the old password before the change committed
    // starts no session after it.
    let late = session(now);
    assert!(
        !store
            .start_session(&late, PASSWORD_HASH, now)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_session(created.user.id, late.id, now)
            .await
            .unwrap(),
        None
    );
    assert!(store.start_session(&late, new_hash, now).await.unwrap());

    // Nor on a disabled account, whatever the password.
    let current = store.get_user(created.user.id).await.unwrap().unwrap();
    let disabled = User {
        status: AccountStatus::Disabled,
        version: current.version + 1,
        ..current.clone()
    };
    assert!(matches!(
        store
            .update_profile(ProfileChange {
                user: &disabled,
                expected_version: current.version,
                previous_login: None,
                password_hash: None,
                end_sessions: EndSessions::All,
            })
            .await
            .unwrap(),
        ChangeOutcome::Saved { .. }
    ));
    assert!(
        !store
            .start_session(&session(now), new_hash, now)
            .await
            .unwrap()
    );
}

/// Registrations racing over one expired, unconfirmed account: exactly one
/// takes the address; and an account that was confirmed meanwhile keeps it.
async fn one_registration_takes_over_an_expired_account(subject: Subject) {
    let store = subject.store;
    let expired = account("squat@example.com", Some("squatter"));
    store.create_user(&expired, None).await.unwrap();
    let expired = store
        .find_by_email("squat@example.com")
        .await
        .unwrap()
        .unwrap();
    let contenders: Vec<Account> = (0..8)
        .map(|n| account("squat@example.com", (n % 2 == 0).then_some("squatter")))
        .collect();
    let attempts = contenders.iter().cloned().map(|contender| {
        let (store, expired) = (Arc::clone(&store), expired.clone());
        tokio::spawn(async move {
            store
                .replace_expired_account(&expired, &contender, None)
                .await
        })
    });
    let mut winners = Vec::new();
    for (attempt, contender) in attempts.collect::<Vec<_>>().into_iter().zip(&contenders) {
        match attempt.await.unwrap() {
            Ok(()) => winners.push(contender.user.id),
            Err(StoreError::EmailTaken) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let holder = store
        .find_by_email("squat@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder.user.id, winners[0]);
    assert_eq!(store.get_user(expired.user.id).await.unwrap(), None);
    let login_holder = store.find_by_login("squatter").await.unwrap();
    let winner_has_login = contenders
        .iter()
        .any(|contender| contender.user.id == winners[0] && contender.user.login.is_some());
    assert_eq!(
        login_holder.map(|account| account.user.id),
        winner_has_login.then_some(winners[0]),
        "the squatter's login went with the account"
    );

    // A confirmed account is no longer replaceable.
    let confirmed = account("kept@example.com", None);
    let (_, stored) = confirmation_for(&confirmed, Duration::from_secs(60));
    store.create_user(&confirmed, Some(&stored)).await.unwrap();
    let read = store
        .find_by_email("kept@example.com")
        .await
        .unwrap()
        .unwrap();
    store
        .confirm_email(&stored.hash, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(matches!(
        store
            .replace_expired_account(&read, &account("kept@example.com", None), None)
            .await,
        Err(StoreError::EmailTaken)
    ));
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded_store {
            $(#[tokio::test] async fn $case() { super::$case(super::embedded().await).await; })*
        }
        mod dynamodb_on_moto {
            $(#[tokio::test] async fn $case() { super::$case(super::dynamodb().await).await; })*
        }
    };
}

contract!(
    a_created_account_is_found_by_email_in_any_case_and_by_login,
    a_second_account_for_one_email_or_login_is_refused,
    sixteen_concurrent_registrations_of_one_email_make_exactly_one_account,
    a_confirmation_code_activates_once_and_answers_idempotently_after,
    concurrent_uses_of_one_code_spend_it_once,
    an_expired_confirmation_code_is_refused,
    a_session_is_stored_with_the_sign_in_and_ends_at_its_expiry,
    a_rotation_succeeds_once_per_hash_and_keeps_the_replaced_one,
    concurrent_rotations_of_one_hash_let_exactly_one_win,
    sessions_end_one_at_a_time_or_all_at_once,
    service_clients_round_trip_rotate_and_delete,
    a_new_reset_code_retires_the_previous_one,
    a_reset_spends_its_code_writes_the_profile_and_ends_every_session,
    concurrent_resets_with_one_code_let_exactly_one_win,
    counters_count_per_key,
    a_profile_change_is_written_on_its_version_only,
    a_session_starts_only_from_the_credential_the_account_still_holds,
    one_registration_takes_over_an_expired_account,
);
