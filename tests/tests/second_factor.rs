//! Second factors (TOTP and recovery codes): enrolment, the second step of
//! sign-in, single use under replay and races, the attempt limits and the
//! sign-in throttle, recent authentication for changes, removal and the
//! admin's and operator's reset, and secrets never stored in clear. On the
//! embedded store and on DynamoDB, SES and KMS in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey::domain::TotpSecret;
use latchkey::secrets::SecretHash;
use latchkey_tests::{TestApp, jwt_part, on_both_stores, within_one_window};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery staple";

/// The code an authenticator app shows `steps` steps of 30 s from now.
fn code(secret: &TotpSecret, steps: i64) -> String {
    secret
        .code_at(OffsetDateTime::now_utc() + time::Duration::seconds(30 * steps))
        .unwrap()
}

/// Ada's address in this app.
fn ada(app: &TestApp) -> String {
    app.address("ada")
}

async fn signed_in(app: &TestApp) -> String {
    app.register_confirmed(&ada(app), PASSWORD).await;
    access_token(&app.login(&ada(app), PASSWORD).await)
}

fn access_token(pair: &Value) -> String {
    pair["access_token"].as_str().unwrap().to_owned()
}

/// Enrols an authenticator app named `name`: its id and secret.
async fn enrol(app: &TestApp, token: &str, name: &str) -> (String, TotpSecret) {
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/users/me/factors/totp",
            Some(token),
            json!({"name": name}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    (body["factor_id"].as_str().unwrap().to_owned(), secret)
}

async fn verify(app: &TestApp, token: &str, factor: &str, code: &str) -> (u16, Value) {
    app.call(
        Method::POST,
        &format!("/v1/users/me/factors/totp/{factor}/verify"),
        Some(token),
        json!({"code": code}),
    )
    .await
}

/// A correct password for an account with a factor: the `mfa_token`.
async fn first_step(app: &TestApp) -> String {
    let response = app
        .post_login(&json!({"login": ada(app), "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "mfa_required", "{body}");
    assert_eq!(body["methods"], json!(["totp", "passkey", "recovery_code"]));
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, method: &str, code: &str) -> (u16, Value) {
    app.call(
        Method::POST,
        "/v1/auth/mfa",
        None,
        json!({"mfa_token": mfa_token, "method": method, "code": code}),
    )
    .await
}

async fn factors(app: &TestApp, token: &str) -> Value {
    let (status, body) = app
        .call(Method::GET, "/v1/users/me/factors", Some(token), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The whole life of a factor: enrolment (secret shown once, stored only
/// sealed), verification with recovery codes, sign-in in two steps with the
/// claims that say so, replays refused, recovery codes spent once.
async fn a_factor_is_enrolled_proven_and_used_to_sign_in(app: TestApp) {
    let token = signed_in(&app).await;
    let listed = factors(&app, &token).await;
    assert_eq!(listed, json!({"factors": [], "recovery_codes_left": 0}));

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/users/me/factors/totp",
            Some(&token),
            json!({"name": "Phone"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let factor = body["factor_id"].as_str().unwrap().to_owned();
    let base32 = body["secret"].as_str().unwrap().to_owned();
    let secret = TotpSecret::from_base32(&base32).unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/127.0.0.1:{}?",
            ada(&app).replace('@', "%40")
        )),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={base32}")), "{uri}");
    assert!(uri.contains("issuer=127.0.0.1"), "{uri}");
    // Pending: not listed, sign-in still takes the password alone.
    assert_eq!(factors(&app, &token).await["factors"], json!([]));
    app.login(&ada(&app), PASSWORD).await;

    // The codes of one 30-second step: the previous step's code proves the
    // factor, the current one signs in, the next one signs in again.
    within_one_window(30, Duration::from_secs(20)).await;
    let (status, body) = verify(&app, &token, &factor, "000000").await;
    let wrong = if code(&secret, -1) == "000000" {
        200
    } else {
        400
    };
    assert_eq!((status, &body["code"]), (wrong, &json!("invalid_code")));
    let (status, body) = verify(&app, &token, &factor, &code(&secret, -1)).await;
    assert_eq!(status, 200, "{body}");
    let recovery: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let (status, _) = verify(&app, &token, &factor, &code(&secret, 0)).await;
    assert_eq!(status, 404, "an active factor is not verified again");

    let listed = factors(&app, &token).await;
    assert_eq!(listed["recovery_codes_left"], 10);
    assert_eq!(listed["factors"][0]["id"], factor.as_str());
    assert_eq!(listed["factors"][0]["kind"], "totp");
    assert_eq!(listed["factors"][0]["name"], "Phone");
    assert_eq!(listed["factors"][0]["last_used_at"], Value::Null);
    let notices = app.messages_to(&ada(&app)).await;
    assert_eq!(
        notices.last().unwrap().subject,
        "A second factor was added to your account"
    );

    // Nothing secret is stored in clear: not the seed (raw, base32, base64
    // or hex), not a recovery code.
    let stored = app.stored_bytes().await;
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|window| window == needle);
    use base64::Engine;
    let seed = secret.as_bytes();
    assert!(!contains(seed), "the raw seed is stored");
    for form in [
        base32.clone(),
        base64::engine::general_purpose::STANDARD.encode(seed),
        latchkey::secrets::hex(seed),
    ] {
        assert!(!contains(form.as_bytes()), "the seed is stored as {form}");
    }
    for code in &recovery {
        assert!(!contains(code.as_bytes()), "a recovery code is stored");
        assert!(!contains(code.replace('-', "").as_bytes()));
    }

    // Sign-in now takes two steps; the code that proved the factor is spent.
    let mfa_token = first_step(&app).await;
    let (status, body) = second_step(&app, &mfa_token, "totp", &code(&secret, -1)).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("invalid_code")),
        "replay"
    );
    let before = OffsetDateTime::now_utc().unix_timestamp();
    let (status, pair) = second_step(&app, &mfa_token, "totp", &code(&secret, 0)).await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["aal"], 2);
    assert!(claims["auth_time"].as_i64().unwrap() >= before);
    let info: Value = app
        .token_info(pair["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(info["aal"], 2);
    // A refresh keeps how and when.
    let refreshed: Value = app
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let again = jwt_part(refreshed["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        (&again["amr"], &again["aal"], &again["auth_time"]),
        (&claims["amr"], &claims["aal"], &claims["auth_time"])
    );
    // The token is single use.
    let (status, body) = second_step(&app, &mfa_token, "totp", &code(&secret, 1)).await;
    assert_eq!((status, &body["code"]), (401, &json!("invalid_token")));

    // A code is good once, whichever sign-in presents it.
    let mfa_token = first_step(&app).await;
    let (status, _) = second_step(&app, &mfa_token, "totp", &code(&secret, 0)).await;
    assert_eq!(status, 401);
    // A recovery code, typed loosely, signs in once.
    let typed = recovery[3].to_uppercase().replace('-', " ");
    let (status, pair) = second_step(&app, &mfa_token, "recovery_code", &typed).await;
    assert_eq!(status, 200, "{pair}");
    let mfa_token = first_step(&app).await;
    let (status, body) = second_step(&app, &mfa_token, "recovery_code", &recovery[3]).await;
    assert_eq!((status, &body["code"]), (401, &json!("invalid_code")));
    let (status, _) = second_step(&app, &mfa_token, "totp", &code(&secret, 1)).await;
    assert_eq!(status, 200);
    let listed = factors(&app, &access_token(&pair)).await;
    assert_eq!(listed["recovery_codes_left"], 9);
    assert!(listed["factors"][0]["last_used_at"].is_string());
    let me: Value = app
        .client
        .get(app.url("/v1/users/me"))
        .bearer_auth(access_token(&pair))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["mfa_enabled"], true);
}

/// Two sign-ins presenting one code at the same moment: exactly one gets
/// in. (moto may run the two transactions one after the other; the
/// embedded store's writes race for its single writer. Either way the
/// refusal comes from the transaction's condition on the factor's last
/// step, which the service cannot skip.)
async fn one_code_used_twice_at_once_signs_in_once(app: TestApp) {
    let token = signed_in(&app).await;
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    within_one_window(30, Duration::from_secs(15)).await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, -1)).await.0,
        200
    );
    let (one, two) = (first_step(&app).await, first_step(&app).await);
    let code = code(&secret, 0);
    let (a, b) = tokio::join!(
        second_step(&app, &one, "totp", &code),
        second_step(&app, &two, "totp", &code)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
}

/// A sign-in token takes five codes at most, counted before each is
/// checked; it is gone after use and after its five minutes; a password
/// changed meanwhile kills it.
async fn the_sign_in_token_is_limited_and_dies(app: TestApp) {
    let token = signed_in(&app).await;
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, 0)).await.0,
        200
    );

    let mfa_token = first_step(&app).await;
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|guess| (-2..=2).all(|steps| code(&secret, steps) != *guess))
        .unwrap();
    for attempt in 1..=5 {
        let (status, body) = second_step(&app, &mfa_token, "totp", &wrong).await;
        assert_eq!(
            (status, &body["code"]),
            (401, &json!("invalid_code")),
            "attempt {attempt}"
        );
    }
    let (status, body) =
        second_step(&app, &mfa_token, "recovery_code", "aaaa-aaaa-aaaa-aaaa").await;
    assert_eq!((status, &body["code"]), (401, &json!("invalid_token")));

    // Expiry, at the store: a challenge read after its five minutes is gone.
    let mfa_token = first_step(&app).await;
    let hash = SecretHash::of(&mfa_token);
    let later = OffsetDateTime::now_utc() + time::Duration::minutes(5) + time::Duration::seconds(1);
    assert!(
        app.app
            .store
            .attempt_mfa_challenge(&hash, later)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.app
            .store
            .attempt_mfa_challenge(&hash, OffsetDateTime::now_utc())
            .await
            .unwrap()
            .is_some()
    );

    // A password change between the two steps: the waiting sign-in dies.
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/users/me/password",
            Some(&token),
            json!({"current_password": PASSWORD, "new_password": "a brand new horse battery"}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = second_step(&app, &mfa_token, "totp", &code(&secret, 1)).await;
    assert_eq!((status, &body["code"]), (401, &json!("invalid_token")));
}

/// Wrong codes count toward the account's sign-in throttle, with the
/// password step of a sign-in that never finished.
async fn wrong_codes_slow_the_account_down(app: TestApp) {
    let token = signed_in(&app).await;
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, 0)).await.0,
        200
    );
    let mfa_token = first_step(&app).await;
    let wrong = if code(&secret, 0) == "111111" {
        "222222"
    } else {
        "111111"
    };
    let mut throttled = None;
    for attempt in 1..=4 {
        let response = app
            .client
            .post(app.url("/v1/auth/mfa"))
            .json(&json!({"mfa_token": mfa_token, "method": "totp", "code": wrong}))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            throttled = Some(attempt);
            break;
        }
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    // Two failures are free: the password step and the first wrong code.
    assert_eq!(throttled, Some(2));
    let response = app
        .post_login(&json!({"login": ada(&app), "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 429, "sign-in itself waits too");
}

/// Changes of factors need a recent sign-in or the current password.
async fn factor_changes_need_a_recent_sign_in(app: TestApp) {
    let token = signed_in(&app).await;
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, 0)).await.0,
        200
    );
    // `auth_time` has whole seconds: three make the sign-in older than two.
    tokio::time::sleep(Duration::from_millis(3100)).await;

    for (method, path) in [
        (Method::POST, "/v1/users/me/factors/totp".to_owned()),
        (Method::POST, "/v1/users/me/recovery-codes".to_owned()),
        (Method::DELETE, format!("/v1/users/me/factors/{factor}")),
    ] {
        let (status, body) = app
            .call(method.clone(), &path, Some(&token), json!({}))
            .await;
        assert_eq!(
            (status, &body["code"]),
            (403, &json!("reauthentication_required")),
            "{path}"
        );
        let (status, body) = app
            .call(
                method,
                &path,
                Some(&token),
                json!({"current_password": "not the password at all"}),
            )
            .await;
        assert_eq!(
            (status, &body["code"]),
            (401, &json!("invalid_credentials")),
            "{path}"
        );
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/users/me/recovery-codes",
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/users/me/factors/{factor}"),
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        factors(&app, &token).await,
        json!({"factors": [], "recovery_codes_left": 0})
    );
    let subjects: Vec<String> = app
        .messages_to(&ada(&app))
        .await
        .into_iter()
        .map(|message| message.subject)
        .collect();
    assert!(subjects.contains(&"New recovery codes for your account".to_owned()));
    assert_eq!(
        subjects.last().unwrap(),
        "A second factor was removed from your account"
    );
    // The password alone signs in again.
    app.login(&ada(&app), PASSWORD).await;
}

/// Removing one of two factors keeps the second step; removing the last
/// turns it off. Another account's factor is not found.
async fn the_last_factor_removed_turns_the_second_step_off(app: TestApp) {
    let token = signed_in(&app).await;
    let (phone, phone_secret) = enrol(&app, &token, "Phone").await;
    let (laptop, laptop_secret) = enrol(&app, &token, "Laptop").await;
    let (status, body) = verify(&app, &token, &phone, &code(&phone_secret, 0)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = verify(&app, &token, &laptop, &code(&laptop_secret, 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["recovery_codes"],
        json!([]),
        "codes come with the first factor only"
    );
    assert_eq!(
        factors(&app, &token).await["factors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    app.register_confirmed(&app.address("eve"), PASSWORD).await;
    let eve = access_token(&app.login(&app.address("eve"), PASSWORD).await);
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/v1/users/me/factors/{phone}"),
            Some(&eve),
            json!({}),
        )
        .await;
    assert_eq!((status, &body["code"]), (404, &json!("factor_not_found")));

    let delete = |id: String| {
        let (app, token) = (&app, token.clone());
        async move {
            app.call(
                Method::DELETE,
                &format!("/v1/users/me/factors/{id}"),
                Some(&token),
                json!({}),
            )
            .await
            .0
        }
    };
    assert_eq!(delete(phone.clone()).await, 204);
    assert_eq!(delete(phone).await, 404);
    first_step(&app).await;
    assert_eq!(delete(laptop).await, 204);
    app.login(&ada(&app), PASSWORD).await;
}

/// An admin (and the operator program) removes the factors of someone who
/// lost theirs; the owner is told.
async fn an_admin_or_the_operator_resets_factors(app: TestApp) {
    let token = signed_in(&app).await;
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, 0)).await.0,
        200
    );
    let user_id = jwt_part(&token, 1)["sub"].as_str().unwrap().to_owned();
    first_step(&app).await;

    app.register_confirmed(&app.address("boss"), PASSWORD).await;
    let member = access_token(&app.login(&app.address("boss"), PASSWORD).await);
    let path = format!("/v1/admin/users/{user_id}/factors");
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&member), json!({}))
        .await;
    assert_eq!(status, 403, "only admins");
    app.admin(&["users", "grant-role", &app.address("boss"), "admin"], "")
        .await
        .unwrap();
    let (status, body) = app
        .call(Method::DELETE, &path, Some(&member), json!({}))
        .await;
    assert_eq!(status, 204, "{body}");
    app.login(&ada(&app), PASSWORD).await;
    assert_eq!(factors(&app, &token).await["factors"], json!([]));
    assert_eq!(
        app.messages_to(&ada(&app)).await.last().unwrap().subject,
        "Your second factors were removed"
    );

    // The operator program does the same.
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, 0)).await.0,
        200
    );
    first_step(&app).await;
    let printed = app
        .admin(&["users", "reset-factors", &ada(&app)], "")
        .await
        .unwrap();
    assert!(printed.contains(&user_id), "{printed}");
    app.login(&ada(&app), PASSWORD).await;

    // A disabled account with a factor is told so after its password, not
    // asked for a code.
    let (factor, secret) = enrol(&app, &token, "Phone").await;
    assert_eq!(
        verify(&app, &token, &factor, &code(&secret, 0)).await.0,
        200
    );
    let admin_path = format!("/v1/admin/users/{user_id}");
    let (status, _) = app
        .call(
            Method::PATCH,
            &admin_path,
            Some(&member),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, 200);
    let response = app
        .post_login(&json!({"login": ada(&app), "password": PASSWORD}))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "account_disabled", "{body}");
}

on_both_stores! {
    a_factor_is_enrolled_proven_and_used_to_sign_in;
    one_code_used_twice_at_once_signs_in_once;
    // More failures allowed than a token's five codes, so the token's own
    // limit is what ends it.
    the_sign_in_token_is_limited_and_dies with ("LOGIN_FAILURES_BEFORE_DELAY", "10");
    wrong_codes_slow_the_account_down with ("LOGIN_FAILURES_BEFORE_DELAY", "2");
    factor_changes_need_a_recent_sign_in with ("REAUTH_MAX_AGE_SECONDS", "2");
    the_last_factor_removed_turns_the_second_step_off;
    an_admin_or_the_operator_resets_factors;
}
