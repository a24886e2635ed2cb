//! Sign-in throttling: per account (consecutive failures, growing delay)
//! and per client IP (password spraying), counted in the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use latchkey_tests::{TestApp, on_both_stores, within_one_window};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// The emulator's mailbox is shared by every test in this binary.
fn unique_email() -> String {
    format!("slow.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Status, `Retry-After` seconds and problem code of one sign-in.
async fn attempt(app: &TestApp, login: &str, password: &str) -> (u16, Option<u64>, String) {
    answer(
        app.post_login(&json!({"login": login, "password": password}))
            .await,
    )
    .await
}

async fn answer(response: reqwest::Response) -> (u16, Option<u64>, String) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().unwrap());
    let body: serde_json::Value = response.json().await.unwrap();
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    (status, retry_after, code)
}

/// LOGIN_DELAY_SECONDS of the delay test.
const DELAY: Duration = Duration::from_secs(4);
static DELAY_SETTING: LazyLock<String> = LazyLock::new(|| DELAY.as_secs().to_string());

async fn wait(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds) + Duration::from_millis(200)).await;
}

async fn wrong_passwords_slow_down_one_account_until_the_right_one_works(app: TestApp) {
    let ada = unique_email();
    app.register_confirmed(&ada, PASSWORD).await;
    let mut first_refusal = None;
    // When the last failure was sent: the server counted it after that.
    let mut last_failure = Instant::now();
    // Refusals are asked for while well inside the delay, so that a loaded
    // machine cannot let the delay run out during the checks below.
    for attempt_number in 1..=30 {
        if first_refusal.is_some() && last_failure.elapsed() > DELAY / 2 {
            break;
        }
        let sent = Instant::now();
        let (status, retry_after, code) = attempt(&app, &ada, "wrong password").await;
        if status == 429 {
            assert_eq!(code, "too_many_attempts");
            // The first delay is LOGIN_DELAY_SECONDS, counted from the last
            // failure, so a slow machine may see less of it left.
            assert!(retry_after.is_some_and(|seconds| (1..=DELAY.as_secs()).contains(&seconds)));
            first_refusal.get_or_insert(attempt_number);
        } else {
            assert_eq!((status, code.as_str()), (401, "invalid_credentials"));
            assert!(first_refusal.is_none(), "a refusal is not lifted early");
            last_failure = sent;
        }
    }
    assert_eq!(
        first_refusal,
        Some(6),
        "five failures are free, the sixth waits"
    );
    // While the delay runs even the right password waits: nothing is checked.
    assert_eq!(attempt(&app, &ada, PASSWORD).await.0, 429);
    // The same account under another case of its email.
    assert_eq!(attempt(&app, &ada.to_uppercase(), PASSWORD).await.0, 429);
    assert!(
        last_failure.elapsed() < DELAY,
        "the refusals above all fell inside the delay"
    );

    // After the delay one more wrong password doubles it.
    wait(DELAY.as_secs()).await;
    let sent = Instant::now();
    assert_eq!(attempt(&app, &ada, "wrong again").await.0, 401);
    let (status, retry_after, _) = attempt(&app, &ada, PASSWORD).await;
    assert_eq!(status, 429);
    let doubled = retry_after.unwrap();
    let passed = sent.elapsed().as_secs();
    assert!(
        ((2 * DELAY.as_secs()).saturating_sub(passed + 1)..=2 * DELAY.as_secs()).contains(&doubled),
        "waits {doubled} s, {passed} s after the failure"
    );

    // After that delay the right password signs in, and the streak is over:
    // five wrong passwords are free again.
    wait(doubled).await;
    assert_eq!(attempt(&app, &ada, PASSWORD).await.0, 200);
    for _ in 0..5 {
        assert_eq!(attempt(&app, &ada, "wrong password").await.0, 401);
    }
}

async fn a_throttled_account_can_still_reset_its_password_and_sign_in(app: TestApp) {
    let ada = unique_email();
    app.register_confirmed(&ada, PASSWORD).await;
    for _ in 0..5 {
        attempt(&app, &ada, "wrong password").await;
    }
    assert_eq!(attempt(&app, &ada, PASSWORD).await.0, 429);
    let forgot = app
        .post_json("/v1/password/forgot", &json!({"email": ada}))
        .await;
    assert_eq!(forgot.status(), 202);
    let token = app.reset_token(&ada).await;
    let new_password = "a brand new passphrase";
    let reset = app
        .post_json(
            "/v1/password/reset",
            &json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(reset.status(), 200);
    // The reset proved the owner, so the delay (30 s by default) is lifted.
    assert_eq!(attempt(&app, &ada, new_password).await.0, 200);
}

async fn unknown_accounts_are_throttled_like_known_ones(app: TestApp) {
    let mut last_failure = Instant::now();
    for _ in 0..5 {
        last_failure = Instant::now();
        assert_eq!(attempt(&app, "nobody@example.com", PASSWORD).await.0, 401);
    }
    let (status, retry_after, code) = attempt(&app, "Nobody@Example.com", PASSWORD).await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"));
    // LOGIN_DELAY_SECONDS (30) from the last failure, less what has passed
    // since (a loaded machine may take seconds).
    let passed = last_failure.elapsed().as_secs();
    let retry_after = retry_after.unwrap();
    assert!(
        (30u64.saturating_sub(passed + 1)..=30).contains(&retry_after),
        "Retry-After {retry_after} s, {passed} s after the last failure"
    );
}

async fn spraying_many_accounts_from_one_ip_is_throttled_whatever_x_forwarded_for_says(
    app: TestApp,
) {
    let grace = unique_email();
    app.register_confirmed(&grace, PASSWORD).await;
    // LOGIN_FAILURE_LIMIT_PER_IP is 50/900.
    latchkey_tests::within_one_window(900, Duration::from_secs(60)).await;
    let mut first_refusal = None;
    for n in 1..=100u32 {
        // A client-controlled header claims a new address each time.
        let response = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.{}", n % 250))
            .json(&json!({"login": format!("user{n}@example.com"), "password": "Winter2026!"}))
            .send()
            .await
            .unwrap();
        let (status, retry_after, code) = answer(response).await;
        if status == 429 {
            assert_eq!(code, "too_many_attempts");
            assert!(retry_after.is_some_and(|seconds| (1..=900).contains(&seconds)));
            first_refusal.get_or_insert(n);
        } else {
            assert_eq!(status, 401);
            assert!(first_refusal.is_none(), "a refusal is not lifted early");
        }
    }
    assert_eq!(
        first_refusal,
        Some(51),
        "LOGIN_FAILURE_LIMIT_PER_IP is 50/900"
    );
    // That IP is refused even for a real account's right password…
    assert_eq!(attempt(&app, &grace, PASSWORD).await.0, 429);
    // …while a client on another address signs in.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let response = elsewhere
        .post(app.url("/v1/auth/login"))
        .json(&json!({"login": grace, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Twenty wrong passwords for one account sent at once: each attempt is
/// counted before its password is checked, so only the free ones are
/// checked and the rest wait. (On moto, which answers one call at a time,
/// the requests still interleave between their reads and conditional
/// writes, which is the race this guards.)
async fn parallel_guesses_at_one_account_check_only_the_free_attempts(app: TestApp) {
    let ada = unique_email();
    app.register_confirmed(&ada, PASSWORD).await;
    let app = std::sync::Arc::new(app);
    let guesses = (0..20).map(|n| {
        let app = std::sync::Arc::clone(&app);
        let ada = ada.clone();
        tokio::spawn(async move { attempt(&app, &ada, &format!("guess {n}")).await })
    });
    assert_at_most_five_checked(futures_join_all(guesses).await);
}

/// Twenty wrong passwords for twenty accounts from one IP at once, with a
/// per-IP limit of five failures: at most five are checked.
async fn parallel_guesses_from_one_ip_check_at_most_its_limit(app: TestApp) {
    latchkey_tests::within_one_window(900, Duration::from_secs(60)).await;
    let app = std::sync::Arc::new(app);
    let guesses = (0..20).map(|n| {
        let app = std::sync::Arc::clone(&app);
        tokio::spawn(async move {
            attempt(
                &app,
                &format!("spray{n}.{}@example.com", n * 7),
                "Winter2026!",
            )
            .await
        })
    });
    assert_at_most_five_checked(futures_join_all(guesses).await);
}

/// A stolen access token does not buy unlimited guesses at the current
/// password: wrong ones count toward the account's sign-in streak.
async fn guessing_the_current_password_is_throttled_like_sign_in(app: TestApp) {
    let ada = unique_email();
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let change = |current: &'static str| {
        app.client
            .post(app.url("/v1/users/me/password"))
            .bearer_auth(&token)
            .json(&json!({"current_password": current, "new_password": "a brand new passphrase"}))
            .send()
    };
    for _ in 0..5 {
        let (status, _, code) = answer(change("wrong guess").await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, "invalid_credentials"));
    }
    let (status, retry_after, code) = answer(change("wrong guess").await.unwrap()).await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"));
    assert!(retry_after.is_some_and(|seconds| (1..=30).contains(&seconds)));
    // Even the right one waits, and so does sign-in: one streak.
    assert_eq!(change(PASSWORD).await.unwrap().status(), 429);
    assert_eq!(attempt(&app, &ada, PASSWORD).await.0, 429);
}

/// Per-IP windows count an IPv6 client by its /64: addresses it can
/// rotate through freely share one window, while the next /64 has its own.
async fn ipv6_clients_share_a_window_per_64(app: TestApp) {
    use latchkey::services::limits::{LimitedError, email_request};
    latchkey_tests::within_one_window(900, Duration::from_secs(60)).await;
    let (site, subnet) = (rand_u16(), rand_u16());
    let prefix = format!("2001:db8:{site:x}:{subnet:x}");
    for host in 1..=10 {
        email_request(&app.app, &format!("{prefix}:{host:x}::1"))
            .await
            .unwrap();
    }
    assert!(matches!(
        email_request(&app.app, &format!("{prefix}:ffff:ffff:ffff:ffff")).await,
        Err(LimitedError::RateLimited { .. })
    ));
    email_request(&app.app, &format!("{prefix}1::1"))
        .await
        .unwrap();
}

fn rand_u16() -> u16 {
    u16::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..2].try_into().unwrap())
}

/// A client of the app's bound to another loopback address: another
/// network, as far as throttling can tell.
fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
        .build()
        .unwrap()
}

async fn attempt_from(
    app: &TestApp,
    client: &reqwest::Client,
    login: &str,
    password: &str,
) -> (u16, Option<u64>, String) {
    let response = client
        .post(app.url("/v1/auth/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// Lockout is not a weapon: an attacker's failures slow the attacker's own
/// network at once, and everyone only after four networks' worth
/// (LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY, 20); a password reset ends the
/// episode for the owner.
async fn failures_from_elsewhere_do_not_lock_the_owner_out(app: TestApp) {
    let ada = unique_email();
    app.register_confirmed(&ada, PASSWORD).await;
    let attacker = client_from(2);
    for n in 1..=7 {
        let (status, _, _) = attempt_from(&app, &attacker, &ada, "guess").await;
        assert_eq!(status, if n <= 5 { 401 } else { 429 }, "attempt {n}");
    }
    // The owner, from their own network, is not held back.
    assert_eq!(attempt(&app, &ada, PASSWORD).await.0, 200);

    // Twenty failures from four networks reach the account-wide delay,
    // which holds every network back, the owner's too.
    for network in 3..=6 {
        let attacker = client_from(network);
        for _ in 0..5 {
            assert_eq!(attempt_from(&app, &attacker, &ada, "guess").await.0, 401);
        }
    }
    let (status, retry_after, _) = attempt(&app, &ada, PASSWORD).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some_and(|seconds| (1..=30).contains(&seconds)));

    // The owner's way out: a reset (mailed to them alone) starts afresh.
    let forgot = app
        .post_json("/v1/password/forgot", &json!({"email": ada}))
        .await;
    assert_eq!(forgot.status(), 202);
    let token = app.reset_token(&ada).await;
    let new_password = "a brand new passphrase";
    let reset = app
        .post_json(
            "/v1/password/reset",
            &json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(reset.status(), 200);
    assert_eq!(attempt(&app, &ada, new_password).await.0, 200);
}

/// Someone else's forgot requests use up their own share of the address's
/// emails, not the owner's.
async fn forgot_requests_from_elsewhere_leave_the_owner_their_reset_email(app: TestApp) {
    let ada = unique_email();
    app.register_confirmed(&ada, PASSWORD).await;
    within_one_window(900, Duration::from_secs(60)).await;
    let stranger = client_from(7);
    for _ in 0..6 {
        let response = stranger
            .post(app.url("/v1/password/forgot"))
            .json(&json!({"email": ada}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let resets = |messages: Vec<latchkey_tests::SentEmail>| {
        messages
            .iter()
            .filter(|message| message.body.contains("#token="))
            .count()
    };
    // EMAIL_LIMIT_PER_ADDRESS (3/900) per requesting network.
    assert_eq!(resets(app.messages_to(&ada).await), 3);
    let response = app
        .post_json("/v1/password/forgot", &json!({"email": ada}))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(resets(app.messages_to(&ada).await), 4, "the owner's own");
}

/// Every guess was checked (401) or refused unchecked (429), and at least
/// one but at most five were checked.
fn assert_at_most_five_checked(answers: Vec<(u16, Option<u64>, String)>) {
    let checked = answers
        .iter()
        .filter(|(status, _, _)| *status == 401)
        .count();
    let refused = answers
        .iter()
        .filter(|(status, _, _)| *status == 429)
        .count();
    assert_eq!(checked + refused, answers.len(), "{answers:?}");
    assert!(
        (1..=5).contains(&checked),
        "{checked} of {} parallel guesses were checked",
        answers.len()
    );
}

async fn futures_join_all<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}

on_both_stores! {
    failures_from_elsewhere_do_not_lock_the_owner_out;
    forgot_requests_from_elsewhere_leave_the_owner_their_reset_email
        with ("EMAIL_REQUEST_LIMIT_PER_IP", "100/900");
    ipv6_clients_share_a_window_per_64;
    guessing_the_current_password_is_throttled_like_sign_in;
    parallel_guesses_at_one_account_check_only_the_free_attempts;
    parallel_guesses_from_one_ip_check_at_most_its_limit
        with ("LOGIN_FAILURE_LIMIT_PER_IP", "5/900");
    wrong_passwords_slow_down_one_account_until_the_right_one_works
        with ("LOGIN_DELAY_SECONDS", DELAY_SETTING.as_str());
    a_throttled_account_can_still_reset_its_password_and_sign_in;
    unknown_accounts_are_throttled_like_known_ones;
    spraying_many_accounts_from_one_ip_is_throttled_whatever_x_forwarded_for_says;
}
