//! One contract suite, run against every store adapter (the embedded store
//! and DynamoDB on moto), so they cannot drift.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use latchkey::adapters::dynamodb::DynamoStore;
use latchkey::adapters::embedded::EmbeddedStore;
use latchkey::domain::{
    AccountStatus, Actor, Authentication, ClientId, Email, EventKind, FactorName, Login,
    SecurityEvent, SessionId, SessionOrigin, User, UserId,
};
use latchkey::ports::{
    Account, AccountDeletion, CeremonyPurpose, ChangeOutcome, CodeKind, ConfirmOutcome,
    DeletionOutcome, EmailChange, EndSessions, FailureStreak, Passkey, PasskeyCeremony,
    ProfileChange, ResetOutcome, ServiceClient, Session, Store, StoreError, StoredCode,
};
use latchkey::secrets::{OneTimeCode, SecretHash};
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

/// A log entry to write with a change.
fn logged(user_id: UserId) -> SecurityEvent {
    SecurityEvent::new(
        user_id,
        EventKind::AccountChanged,
        Actor::Owner,
        SessionOrigin::default(),
        OffsetDateTime::now_utc(),
    )
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
        origin: SessionOrigin::new("203.0.113.9", Some("store contract")),
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
        origin: SessionOrigin::new("203.0.113.9", Some("store contract")),
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
        .end_session(created.user.id, sessions[0].id, None)
        .await
        .unwrap();
    store
        .end_session(created.user.id, sessions[0].id, None)
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
        origin: SessionOrigin::new("203.0.113.9", Some("store contract")),
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
            .reset_password(
                &code.hash(),
                &updated,
                current.version - 1,
                &logged(updated.user.id),
                now
            )
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
            .reset_password(
                &code.hash(),
                &updated,
                current.version,
                &logged(updated.user.id),
                now
            )
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
            .reset_password(
                &code.hash(),
                &again,
                updated.user.version,
                &logged(again.user.id),
                now
            )
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
                    .reset_password(&hash, &updated, version, &logged(updated.user.id), now)
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
        previous_email: &stored.email,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI"),
        completes: None,
        end_sessions,
        event: None,
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
            previous_email: &other_stored.email,
            password_hash: None,
            completes: None,
            end_sessions: EndSessions::None,
            event: None,
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
        origin: SessionOrigin::new("203.0.113.9", Some("store contract")),
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
        previous_email: &stored.email,
        password_hash: Some(new_hash),
        completes: None,
        end_sessions: EndSessions::All,
        event: None,
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
                previous_email: &current.email,
                password_hash: None,
                completes: None,
                end_sessions: EndSessions::All,
                event: None,
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

fn passkey(user_id: UserId, credential_id: &[u8], now: OffsetDateTime) -> Passkey {
    Passkey {
        user_id,
        credential_id: credential_id.to_vec(),
        name: FactorName::parse("Phone").unwrap(),
        public_key: vec![1, 2, 3],
        state: vec![0; 7],
        device_bound: true,
        created_at: now,
        last_used_at: None,
    }
}

async fn passkeys_are_kept_under_their_owner_and_found_by_credential(subject: Subject) {
    let store = subject.store;
    let now = OffsetDateTime::now_utc();
    let (ada, bob) = (UserId::new(), UserId::new());
    assert!(
        store
            .add_passkey(&passkey(ada, b"key-one", now), &logged(ada))
            .await
            .unwrap()
    );
    assert!(
        store
            .add_passkey(&passkey(ada, b"key-two", now), &logged(ada))
            .await
            .unwrap()
    );
    // A credential id belongs to one account.
    assert!(
        !store
            .add_passkey(&passkey(bob, b"key-one", now), &logged(bob))
            .await
            .unwrap()
    );
    assert_eq!(store.passkeys(ada).await.unwrap().len(), 2);
    assert!(store.passkeys(bob).await.unwrap().is_empty());
    assert_eq!(store.passkey_owner(b"key-one").await.unwrap(), Some(ada));
    assert_eq!(store.passkey_owner(b"nobody's").await.unwrap(), None);

    // A use moves the state only from the state it was checked against.
    let moved = vec![0, 0, 0, 1, 1, 1, 1];
    assert!(
        store
            .record_passkey_use(ada, b"key-one", &[0; 7], &moved, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use(ada, b"key-one", &[0; 7], &[9; 7], now)
            .await
            .unwrap(),
        "a second use from the old state"
    );
    let stored = store.passkeys(ada).await.unwrap();
    let one = stored
        .iter()
        .find(|key| key.credential_id == b"key-one")
        .unwrap();
    assert_eq!(one.state, moved);
    assert!(one.last_used_at.is_some());

    // Renaming: only the owner's passkey, and only the name changes.
    let name = FactorName::parse("Work laptop").unwrap();
    assert!(!store.rename_passkey(bob, b"key-one", &name).await.unwrap());
    assert!(store.rename_passkey(ada, b"key-one", &name).await.unwrap());
    let renamed = store.passkeys(ada).await.unwrap();
    let renamed = renamed
        .iter()
        .find(|key| key.credential_id == b"key-one")
        .unwrap();
    assert_eq!(renamed.name, name);
    assert_eq!(renamed.state, moved);

    // Removing it removes its index too, and only its owner can.
    assert!(
        !store
            .remove_passkey(bob, b"key-one", &logged(bob))
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_passkey(ada, b"key-one", &logged(ada))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_passkey(ada, b"key-one", &logged(ada))
            .await
            .unwrap()
    );
    assert_eq!(store.passkey_owner(b"key-one").await.unwrap(), None);
    assert_eq!(store.passkeys(ada).await.unwrap().len(), 1);
}

/// Ten takes of one ceremony at once: exactly one gets it (moto may answer
/// them one after the other; the embedded store's writes race for its
/// single writer; either way the condition on `used_at` decides).
async fn a_passkey_ceremony_is_taken_once_and_not_after_it_expires(subject: Subject) {
    let store = subject.store;
    // Expiries are kept in whole seconds (the TTL attribute's unit).
    let now =
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let ceremony = PasskeyCeremony {
        hash: OneTimeCode::generate().hash(),
        purpose: CeremonyPurpose::Register(UserId::new()),
        state: vec![4, 5, 6],
        expires_at: now + Duration::from_secs(300),
    };
    store.add_ceremony(&ceremony).await.unwrap();
    let takes = (0..10).map(|_| {
        let (store, hash) = (Arc::clone(&store), ceremony.hash.clone());
        tokio::spawn(async move { store.take_ceremony(&hash, now).await })
    });
    let mut taken = Vec::new();
    for take in takes {
        taken.extend(take.await.unwrap().unwrap());
    }
    assert_eq!(taken, vec![ceremony.clone()]);

    let expiring = PasskeyCeremony {
        hash: OneTimeCode::generate().hash(),
        purpose: CeremonyPurpose::SignIn,
        ..ceremony
    };
    store.add_ceremony(&expiring).await.unwrap();
    let later = expiring.expires_at + Duration::from_secs(1);
    assert_eq!(
        store.take_ceremony(&expiring.hash, later).await.unwrap(),
        None
    );
    assert_eq!(
        store.take_ceremony(&expiring.hash, now).await.unwrap(),
        Some(expiring)
    );
}

/// A change of email moves the address's guard in the write that spends
/// the pending change: only while it is pending with that code and
/// unexpired, never onto an address another account holds, and the old
/// address is free afterwards.
async fn an_email_change_moves_the_guard_with_its_pending_change(subject: Subject) {
    let store = subject.store;
    let ada = account("ada.change@example.com", None);
    let bob = account("bob.change@example.com", None);
    store.create_user(&ada, None).await.unwrap();
    store.create_user(&bob, None).await.unwrap();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let hash = SecretHash::of("the link's code");
    let pending = |to: &str| EmailChange {
        user_id: ada.user.id,
        new_email: Email::parse(to).unwrap(),
        code_hash: hash.clone(),
        expires_at: now + Duration::from_secs(600),
    };
    store
        .replace_email_change(&pending("bob.change@example.com"))
        .await
        .unwrap();
    assert_eq!(
        store.email_change(ada.user.id, now).await.unwrap(),
        Some(pending("bob.change@example.com"))
    );
    let stored = store.get_user(ada.user.id).await.unwrap().unwrap();
    let moved = |to: &str| User {
        email: Email::parse(to).unwrap(),
        version: stored.version + 1,
        ..stored.clone()
    };
    let change = |user, hash| ProfileChange {
        user,
        expected_version: stored.version,
        previous_login: None,
        previous_email: &stored.email,
        password_hash: None,
        completes: Some((hash, now)),
        end_sessions: EndSessions::None,
        event: None,
    };
    let taken = moved("Bob.Change@example.com");
    assert!(matches!(
        store.update_profile(change(&taken, &hash)).await,
        Err(StoreError::EmailTaken)
    ));
    store
        .replace_email_change(&pending("ada.new@example.com"))
        .await
        .unwrap();
    let free = moved("ada.new@example.com");
    let wrong = SecretHash::of("another code");
    assert_eq!(
        store.update_profile(change(&free, &wrong)).await.unwrap(),
        ChangeOutcome::Stale,
        "another code's change"
    );
    assert_eq!(
        store.update_profile(change(&free, &hash)).await.unwrap(),
        ChangeOutcome::Saved { sessions_ended: 0 }
    );
    assert_eq!(store.email_change(ada.user.id, now).await.unwrap(), None);
    assert_eq!(
        store
            .find_by_email("ada.new@example.com")
            .await
            .unwrap()
            .map(|account| account.user.id),
        Some(ada.user.id)
    );
    assert!(
        store
            .find_by_email("ada.change@example.com")
            .await
            .unwrap()
            .is_none(),
        "the old address is free"
    );
    store
        .create_user(&account("ada.change@example.com", None), None)
        .await
        .unwrap();
    // An expired change completes nothing.
    let later = EmailChange {
        expires_at: now - Duration::from_secs(1),
        ..pending("ada.later@example.com")
    };
    store.replace_email_change(&later).await.unwrap();
    assert_eq!(store.email_change(ada.user.id, now).await.unwrap(), None);
}

/// Everything under an account and everything it points to goes, across
/// several transactions when it holds more than one takes (150 sessions
/// and more); another account's items stay; a stale read deletes nothing.
async fn a_deletion_removes_everything_under_the_account_and_what_it_points_to(subject: Subject) {
    let store = subject.store;
    let now = OffsetDateTime::now_utc();
    let ada = account("ada.leaving@example.com", Some("ada_leaving"));
    let bob = account("bob.staying@example.com", Some("bob_staying"));
    store.create_user(&ada, None).await.unwrap();
    store.create_user(&bob, None).await.unwrap();
    let bob_session = start_session_for(store.as_ref(), bob.user.id).await;
    let mut sessions = Vec::new();
    for _ in 0..150 {
        sessions.push(start_session_for(store.as_ref(), ada.user.id).await);
    }
    assert!(
        store
            .add_passkey(
                &passkey(ada.user.id, b"ada's key", now),
                &logged(ada.user.id)
            )
            .await
            .unwrap()
    );
    let (reset_code, stored_reset) = reset_code_for(&ada, Duration::from_secs(3600));
    store.replace_reset_code(&stored_reset).await.unwrap();
    store
        .replace_email_change(&EmailChange {
            user_id: ada.user.id,
            new_email: Email::parse("ada.elsewhere@example.com").unwrap(),
            code_hash: SecretHash::of("a link"),
            expires_at: now + Duration::from_secs(600),
        })
        .await
        .unwrap();
    store
        .replace_failure_streak(
            "ada's streak",
            None,
            &FailureStreak {
                failures: 1,
                last_failure_at: now,
                next_attempt_at: None,
            },
            now + Duration::from_secs(600),
        )
        .await
        .unwrap();

    let read = store.get_user(ada.user.id).await.unwrap().unwrap();
    let stale = User {
        version: read.version - 1,
        ..read.clone()
    };
    let deleted = logged(ada.user.id);
    let deletion = |user| AccountDeletion {
        user,
        streaks: &[],
        keep_last: Some(sessions[0]),
        event: &deleted,
    };
    let sorted = |mut items: Vec<(String, String, String)>| {
        items.sort();
        items
    };
    let before = sorted(store.all_items().await.unwrap());
    assert_eq!(
        store.delete_account(deletion(&stale)).await.unwrap(),
        DeletionOutcome::Stale
    );
    // (Compared without printing: 150 sessions do not make a readable diff.)
    assert!(sorted(store.all_items().await.unwrap()) == before);

    let streaks = ["ada's streak".to_owned()];
    let outcome = store
        .delete_account(AccountDeletion {
            streaks: &streaks,
            ..deletion(&read)
        })
        .await
        .unwrap();
    // 150 sessions with their sign-ins' log entries, the passkey with its
    // owner item and its entry, the reset pointer and its code, the
    // pending change, the log's first entry and the deletion's own.
    assert_eq!(outcome, DeletionOutcome::Deleted { items: 308 });
    let id = ada.user.id.to_string();
    let left: Vec<_> = store
        .all_items()
        .await
        .unwrap()
        .into_iter()
        .filter(|(pk, sk, item)| {
            pk.contains(&id)
                || item.contains(&id)
                || pk.contains("ada's")
                || pk.ends_with("ada.leaving@example.com")
                || pk.ends_with("ada_leaving")
                || sk.is_empty()
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(store.get_user(ada.user.id).await.unwrap(), None);
    assert!(store.find_by_login("ada_leaving").await.unwrap().is_none());
    assert_eq!(store.passkey_owner(b"ada's key").await.unwrap(), None);
    assert_eq!(
        store
            .find_reset_code(&reset_code.hash(), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.failure_streak("ada's streak").await.unwrap(), None);
    // The other account is untouched, and the address is free again.
    assert!(
        store
            .get_session(bob.user.id, bob_session, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.find_by_login("bob_staying").await.unwrap().is_some());
    store
        .create_user(
            &account("ada.leaving@example.com", Some("ada_leaving")),
            None,
        )
        .await
        .unwrap();
    // Nothing left to finish.
    assert_eq!(
        store
            .finish_account_deletion(ada.user.id, None)
            .await
            .unwrap(),
        0
    );
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
    a_deletion_removes_everything_under_the_account_and_what_it_points_to,
    an_email_change_moves_the_guard_with_its_pending_change,
    passkeys_are_kept_under_their_owner_and_found_by_credential,
    a_passkey_ceremony_is_taken_once_and_not_after_it_expires,
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
