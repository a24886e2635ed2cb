//! Sign-in with a code sent by email: one use, five tries, replaced by a
//! new request, the same answers for every address, a waiting account
//! confirmed by it, a disabled one sent nothing, a second factor still
//! asked for, parallel uses of one code, the switch, and only a keyed hash
//! stored. On the embedded store and on DynamoDB, SES and KMS in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey::domain::TotpSecret;
use latchkey::secrets::SecretHash;
use latchkey_tests::{TestApp, jwt_part, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app.client.request(Method::POST, app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ask(app: &TestApp, email: &str) -> (u16, Value) {
    post(app, "/v1/auth/email-code", None, json!({"email": email})).await
}

async fn sign_in(app: &TestApp, email: &str, code: &str) -> (u16, Value) {
    post(
        app,
        "/v1/auth/email-code/verify",
        None,
        json!({"email": email, "code": code}),
    )
    .await
}

/// The code of the newest sign-in email to `address`, from its subject.
async fn code_sent_to(app: &TestApp, address: &str) -> Option<String> {
    app.messages_to(address)
        .await
        .into_iter()
        .rev()
        .find_map(|message| {
            message
                .subject
                .strip_prefix("Your sign-in code: ")
                .map(str::to_owned)
        })
}

async fn sign_in_emails(app: &TestApp, address: &str) -> usize {
    app.messages_to(address)
        .await
        .iter()
        .filter(|message| message.subject.starts_with("Your sign-in code"))
        .count()
}

/// Ada's address in this app (moto keeps every test's emails together).
fn ada(app: &TestApp) -> String {
    app.address("ada")
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let last = code.as_bytes()[5] - b'0';
    format!("{}{}", &code[..5], (last + 1) % 10)
}

async fn a_code_by_email_signs_in_once(app: TestApp) {
    let email = ada(&app);
    app.register_confirmed(&email, PASSWORD).await;
    let (status, body) = ask(&app, &email).await;
    assert_eq!((status, body), (202, json!({"email": email})));
    let code = code_sent_to(&app, &email).await.unwrap();
    assert_eq!(code.len(), 6);
    // The link carries the address and the code in its fragment.
    let link = app.messages_to(&email).await.last().unwrap().body.clone();
    assert!(
        link.contains(&format!(
            "/pages/email-sign-in?lang=en#email={}&code={code}",
            email.replace('@', "%40")
        )),
        "{link}"
    );

    let (status, wrong) = sign_in(&app, &email, &other_than(&code)).await;
    assert_eq!((status, &wrong["code"]), (401, &json!("invalid_code")));
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let (status, pair) = sign_in(&app, &email, &code).await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["email"]));
    assert_eq!(claims["aal"], 1);
    assert!(claims["auth_time"].as_i64().unwrap() >= before);
    let (status, again) = sign_in(&app, &email, &code).await;
    assert_eq!((status, &again), (401, &wrong), "a code works once");
    // The wrong code and the spent one are in the account's log, the
    // sign-in between them too.
    let log: Value = app
        .client
        .get(app.url("/v1/users/me/events"))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logged: Vec<(&str, &str)> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"].as_str().unwrap().starts_with("sign_in"))
        .map(|event| {
            (
                event["type"].as_str().unwrap(),
                event["detail"]["method"]
                    .as_str()
                    .or(event["detail"]["amr"].as_str())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        logged,
        [
            ("sign_in_failed", "email"),
            ("sign_in", "email"),
            ("sign_in_failed", "email"),
        ]
    );

    // An unknown address gets the same answers.
    let (status, body) = ask(&app, &app.address("nobody")).await;
    assert_eq!(
        (status, body),
        (202, json!({"email": app.address("nobody")}))
    );
    assert_eq!(code_sent_to(&app, &app.address("nobody")).await, None);
    let (status, unknown) = sign_in(&app, &app.address("nobody"), &code).await;
    assert_eq!((status, &unknown), (401, &wrong));
    // Not six digits: the same answer too.
    let (status, body) = sign_in(&app, &email, "12ab56").await;
    assert_eq!((status, &body), (401, &wrong));

    // What is stored is a keyed hash: a plain hash of the code is nowhere.
    ask(&app, &email).await;
    let code = code_sent_to(&app, &email).await.unwrap();
    let stored = app.stored_bytes().await;
    let plain = SecretHash::of(&code);
    let plain = plain.as_str().as_bytes();
    assert!(!stored.windows(plain.len()).any(|window| window == plain));
}

async fn a_new_code_replaces_the_old_and_five_tries_end_one(app: TestApp) {
    let email = ada(&app);
    app.register_confirmed(&email, PASSWORD).await;
    ask(&app, &email).await;
    let first = code_sent_to(&app, &email).await.unwrap();
    ask(&app, &email).await;
    let second = code_sent_to(&app, &email).await.unwrap();
    if first != second {
        assert_eq!(sign_in(&app, &email, &first).await.0, 401, "replaced");
    }
    for attempt in 1..=4 {
        let (status, _) = sign_in(&app, &email, &other_than(&second)).await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    // Five tries in all (the replaced code's try counted on the new one
    // when the codes differed): the right code now comes too late.
    if first == second {
        assert_eq!(sign_in(&app, &email, &other_than(&second)).await.0, 401);
    }
    assert_eq!(sign_in(&app, &email, &second).await.0, 401, "out of tries");
    ask(&app, &email).await;
    let third = code_sent_to(&app, &email).await.unwrap();
    assert_eq!(
        sign_in(&app, &email, &third).await.0,
        200,
        "a new code, new tries"
    );
}

async fn a_waiting_account_is_confirmed_by_its_code_and_a_disabled_one_gets_nothing(app: TestApp) {
    let email = ada(&app);
    let response = app
        .post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 201);
    ask(&app, &email).await;
    let code = code_sent_to(&app, &email).await.unwrap();
    let (status, pair) = sign_in(&app, &email, &code).await;
    assert_eq!(status, 200, "{pair}");
    let me: Value = app
        .client
        .get(app.url("/v1/users/me"))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["status"], "active");
    assert_eq!(me["user"]["email_confirmed"], true);
    // The password works now too (the address is confirmed).
    app.login(&email, PASSWORD).await;

    app.admin(&["users", "set-status", &email, "disabled"], "")
        .await
        .unwrap();
    let sent = sign_in_emails(&app, &email).await;
    let (status, _) = ask(&app, &email).await;
    assert_eq!(status, 202);
    assert_eq!(
        sign_in_emails(&app, &email).await,
        sent,
        "nothing for a disabled account"
    );
}

/// Two sign-ins with one code at once: exactly one gets in. (moto may run
/// the two transactions one after the other; either way the refusal is the
/// transaction's condition on the unused code.)
async fn one_code_used_twice_at_once_signs_in_once(app: TestApp) {
    let email = ada(&app);
    app.register_confirmed(&email, PASSWORD).await;
    ask(&app, &email).await;
    let code = code_sent_to(&app, &email).await.unwrap();
    let (a, b) = tokio::join!(sign_in(&app, &email, &code), sign_in(&app, &email, &code));
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
}

async fn an_account_with_a_second_factor_is_asked_for_it(app: TestApp) {
    let email = ada(&app);
    app.register_confirmed(&email, PASSWORD).await;
    let token = app.login(&email, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = post(&app, "/v1/users/me/factors/totp", Some(&token), json!({})).await;
    assert_eq!(status, 201, "{body}");
    let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    let factor = body["factor_id"].as_str().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let earlier = secret.code_at(now - time::Duration::seconds(30)).unwrap();
    let (status, _) = post(
        &app,
        &format!("/v1/users/me/factors/totp/{factor}/verify"),
        Some(&token),
        json!({"code": earlier}),
    )
    .await;
    assert_eq!(status, 200);

    ask(&app, &email).await;
    let code = code_sent_to(&app, &email).await.unwrap();
    let (status, body) = sign_in(&app, &email, &code).await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("mfa_required")),
        "{body}"
    );
    let (status, pair) = post(
        &app,
        "/v1/auth/mfa",
        None,
        json!({
            "mfa_token": body["mfa_token"],
            "method": "totp",
            "code": secret.code_at(time::OffsetDateTime::now_utc()).unwrap(),
        }),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["email", "otp", "mfa"]));
    assert_eq!(claims["aal"], 2);
    // The code was spent by the first step.
    assert_eq!(sign_in(&app, &email, &code).await.0, 401);
}

/// Wrong codes count toward the account's sign-in throttle.
async fn wrong_codes_slow_the_account_down(app: TestApp) {
    let email = ada(&app);
    app.register_confirmed(&email, PASSWORD).await;
    ask(&app, &email).await;
    let code = code_sent_to(&app, &email).await.unwrap();
    for _ in 0..2 {
        assert_eq!(sign_in(&app, &email, &other_than(&code)).await.0, 401);
    }
    let response = app
        .client
        .post(app.url("/v1/auth/email-code/verify"))
        .json(&json!({"email": email, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

async fn switched_off_it_is_not_there(app: TestApp) {
    let email = ada(&app);
    app.register_confirmed(&email, PASSWORD).await;
    assert_eq!(ask(&app, &email).await.0, 404);
    assert_eq!(sign_in(&app, &email, "123456").await.0, 404);
    assert_eq!(app.get("/pages/email-sign-in").await.status(), 404);
    assert_eq!(sign_in_emails(&app, &email).await, 0);
}

on_both_stores! {
    a_code_by_email_signs_in_once;
    // Four emails to one address (the confirmation and three codes): more
    // than the default per-address limit lets through.
    a_new_code_replaces_the_old_and_five_tries_end_one with
        ("LOGIN_FAILURES_BEFORE_DELAY", "10"), ("EMAIL_LIMIT_PER_ADDRESS", "10/900");
    a_waiting_account_is_confirmed_by_its_code_and_a_disabled_one_gets_nothing;
    one_code_used_twice_at_once_signs_in_once;
    an_account_with_a_second_factor_is_asked_for_it;
    wrong_codes_slow_the_account_down with ("LOGIN_FAILURES_BEFORE_DELAY", "2");
    switched_off_it_is_not_there with ("EMAIL_SIGN_IN_ENABLED", "false");
}
