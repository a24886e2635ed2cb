//! Passkeys through the API, driven by a software authenticator: adding
//! one after a recent sign-in, listing, renaming, removing; signing in
//! with it (discoverable, and for a named account), its claims; every
//! ceremony single use and bound to its purpose, origin and account; the
//! counter against replays and clones, raced; the second step of a sign-in;
//! the throttle; the admin's reset. On the embedded store and on DynamoDB,
//! SES and KMS in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey::domain::TotpSecret;
use latchkey::test_support::SoftPasskey;
use latchkey_tests::{TestApp, jwt_part, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery staple";

/// The page origin passkeys are used from: local-api binds them to
/// `localhost` on its port.
fn origin(app: &TestApp) -> String {
    app.base_url.replace("127.0.0.1", "localhost")
}

fn ada(app: &TestApp) -> String {
    app.address("ada")
}

async fn signed_in(app: &TestApp, email: &str) -> String {
    app.register_confirmed(email, PASSWORD).await;
    access_token(&app.login(email, PASSWORD).await)
}

fn access_token(pair: &Value) -> String {
    pair["access_token"].as_str().unwrap().to_owned()
}

/// Registration options for the caller: `(challenge_id, public_key)`.
async fn creation_options(app: &TestApp, token: &str) -> (String, Value) {
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/users/me/passkeys/options",
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (
        body["challenge_id"].as_str().unwrap().to_owned(),
        body["public_key"].clone(),
    )
}

async fn add(
    app: &TestApp,
    token: &str,
    challenge_id: &str,
    credential: &Value,
    name: &str,
) -> (u16, Value) {
    app.call(
        Method::POST,
        "/v1/users/me/passkeys",
        Some(token),
        json!({"challenge_id": challenge_id, "credential": credential, "name": name}),
    )
    .await
}

/// A new authenticator with a passkey of the caller's, added: it and the
/// passkey's id.
async fn with_passkey(app: &TestApp, token: &str, name: &str) -> (SoftPasskey, String) {
    let (challenge_id, options) = creation_options(app, token).await;
    let mut authenticator = SoftPasskey::new("localhost");
    let credential = authenticator.register(&options, &origin(app));
    let (status, body) = add(app, token, &challenge_id, &credential, name).await;
    assert_eq!(status, 201, "{body}");
    (
        authenticator,
        body["passkey_id"].as_str().unwrap().to_owned(),
    )
}

/// Sign-in options, for `login` or discoverable: `(challenge_id, public_key)`.
async fn request_options(app: &TestApp, login: Option<&str>) -> (String, Value) {
    let body = match login {
        Some(login) => json!({"login": login}),
        None => json!({}),
    };
    let (status, body) = app
        .call(Method::POST, "/v1/auth/passkey/options", None, body)
        .await;
    assert_eq!(status, 200, "{body}");
    (
        body["challenge_id"].as_str().unwrap().to_owned(),
        body["public_key"].clone(),
    )
}

async fn passkey_sign_in(app: &TestApp, challenge_id: &str, credential: &Value) -> (u16, Value) {
    app.call(
        Method::POST,
        "/v1/auth/passkey",
        None,
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

/// A whole discoverable sign-in with `authenticator`.
async fn sign_in_with(app: &TestApp, authenticator: &mut SoftPasskey) -> (u16, Value) {
    let (challenge_id, options) = request_options(app, None).await;
    let credential = authenticator.sign_in(&options, &origin(app));
    passkey_sign_in(app, &challenge_id, &credential).await
}

async fn passkeys(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app
        .call(Method::GET, "/v1/users/me/passkeys", Some(token), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    body["passkeys"].as_array().unwrap().clone()
}

/// Adding, listing, renaming; signing in, discoverable and by name, with
/// the claims of a verified device-bound key; the notice.
async fn a_passkey_is_added_and_signs_in(app: TestApp) {
    let token = signed_in(&app, &ada(&app)).await;
    let (challenge_id, options) = creation_options(&app, &token).await;
    assert_eq!(options["rp"]["id"], "localhost", "{options}");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(options["excludeCredentials"], json!([]));
    let mut authenticator = SoftPasskey::new("localhost");
    let credential = authenticator.register(&options, &origin(&app));
    let (status, body) = add(&app, &token, &challenge_id, &credential, "Laptop").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "Laptop");
    let id = body["passkey_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.messages_to(&ada(&app)).await.last().unwrap().subject,
        "A passkey was added to your account"
    );

    // Listed, among the factors too; the next ceremony excludes it.
    let listed = passkeys(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["name"], "Laptop");
    assert_eq!(listed[0]["device_bound"], true);
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    let (_, factors) = app
        .call(Method::GET, "/v1/users/me/factors", Some(&token), json!({}))
        .await;
    assert_eq!(factors["factors"][0]["kind"], "passkey", "{factors}");
    assert_eq!(factors["factors"][0]["id"], id.as_str());
    let (_, again) = creation_options(&app, &token).await;
    assert_eq!(again["excludeCredentials"][0]["id"], id.as_str());

    let path = format!("/v1/users/me/passkeys/{id}");
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            json!({"name": "Work laptop"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(passkeys(&app, &token).await[0]["name"], "Work laptop");

    // Discoverable: the authenticator picks, the user handle says whose.
    let (challenge_id, options) = request_options(&app, None).await;
    assert_eq!(options["allowCredentials"], json!([]), "{options}");
    assert_eq!(options["userVerification"], "preferred");
    let credential = authenticator.sign_in(&options, &origin(&app));
    let (status, pair) = passkey_sign_in(&app, &challenge_id, &credential).await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]), "{claims}");
    assert_eq!(claims["aal"], 2);
    let info: Value = app
        .token_info(pair["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["amr"], json!(["hwk", "mfa"]));
    let refreshed: Value = app
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let claims = jwt_part(refreshed["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        claims["amr"],
        json!(["hwk", "mfa"]),
        "a refresh keeps the proof"
    );
    assert!(passkeys(&app, &token).await[0]["last_used_at"].is_string());

    // Named: the account's passkeys are listed.
    let (challenge_id, options) = request_options(&app, Some(&ada(&app))).await;
    assert_eq!(
        options["allowCredentials"][0]["id"],
        id.as_str(),
        "{options}"
    );
    let credential = authenticator.sign_in(&options, &origin(&app));
    assert_eq!(
        passkey_sign_in(&app, &challenge_id, &credential).await.0,
        200
    );
    // An unknown name, and an account without passkeys, get one decoy id
    // each, the same every time: the answer tells neither apart.
    let listed = |name: String| {
        let app = &app;
        async move { request_options(app, Some(&name)).await.1["allowCredentials"].clone() }
    };
    let nobody = listed(app.address("nobody")).await;
    assert_eq!(nobody.as_array().unwrap().len(), 1, "{nobody}");
    assert_eq!(listed(app.address("nobody")).await, nobody);
    signed_in(&app, &app.address("grace")).await;
    let grace = listed(app.address("grace")).await;
    assert_eq!(grace.as_array().unwrap().len(), 1, "{grace}");
    assert_ne!(grace, nobody);
    assert_eq!(listed(app.address("grace")).await, grace);

    // A synced passkey without user verification: `swk`, one factor.
    let (mut synced, _) = {
        let (challenge_id, options) = creation_options(&app, &token).await;
        let mut synced = SoftPasskey::new("localhost");
        synced.synced = true;
        synced.user_verified = false;
        let credential = synced.register(&options, &origin(&app));
        let (status, body) = add(&app, &token, &challenge_id, &credential, "Phone").await;
        assert_eq!(status, 201, "{body}");
        (synced, body)
    };
    let (status, pair) = sign_in_with(&app, &mut synced).await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["swk"]));
    assert_eq!(claims["aal"], 1);
}

/// Each ceremony answers once, only for its purpose and account, only
/// from an allowed origin; unknown passkeys, clones and replays get the
/// same `invalid_credential`.
async fn a_ceremony_answers_once_and_only_for_its_own(app: TestApp) {
    let token = signed_in(&app, &ada(&app)).await;
    let (mut authenticator, _) = with_passkey(&app, &token, "Laptop").await;

    // A replayed answer: its ceremony is spent.
    let (challenge_id, options) = request_options(&app, None).await;
    let credential = authenticator.sign_in(&options, &origin(&app));
    assert_eq!(
        passkey_sign_in(&app, &challenge_id, &credential).await.0,
        200
    );
    let (status, replayed) = passkey_sign_in(&app, &challenge_id, &credential).await;
    assert_eq!(status, 401);
    assert_eq!(replayed["code"], "invalid_credential");

    // Another origin; an unknown passkey; a clone's old counter: one body.
    let (challenge_id, options) = request_options(&app, None).await;
    let credential = authenticator.sign_in(&options, "https://evil.example");
    let (status, wrong_origin) = passkey_sign_in(&app, &challenge_id, &credential).await;
    assert_eq!(status, 401);
    let (challenge_id, options) = request_options(&app, None).await;
    let credential = SoftPasskey::new("localhost").sign_in(&options, &origin(&app));
    let (status, unknown) = passkey_sign_in(&app, &challenge_id, &credential).await;
    assert_eq!(status, 401);
    let (challenge_id, options) = request_options(&app, None).await;
    let credential = authenticator.assertion(&options, &origin(&app), 1);
    let (status, clone) = passkey_sign_in(&app, &challenge_id, &credential).await;
    assert_eq!(status, 401, "a counter that did not move forward");
    for body in [&wrong_origin, &unknown, &clone] {
        assert_eq!(body["code"], replayed["code"]);
        assert_eq!(body["detail"], replayed["detail"]);
    }

    // A registration ceremony does not sign in, a sign-in ceremony does
    // not register, and one account's registration is not another's.
    let (challenge_id, options) = creation_options(&app, &token).await;
    let credential = authenticator.sign_in(&options, &origin(&app));
    assert_eq!(
        passkey_sign_in(&app, &challenge_id, &credential).await.0,
        401
    );
    let (challenge_id, options) = request_options(&app, None).await;
    let credential = SoftPasskey::new("localhost").register(&options, &origin(&app));
    let (status, body) = add(&app, &token, &challenge_id, &credential, "x").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_credential"))
    );
    let (challenge_id, options) = creation_options(&app, &token).await;
    let grace = signed_in(&app, &app.address("grace")).await;
    let credential = SoftPasskey::new("localhost").register(&options, &origin(&app));
    assert_eq!(
        add(&app, &grace, &challenge_id, &credential, "x").await.0,
        400
    );
    // The same passkey registered twice (to anyone) is refused.
    let (challenge_id, options) = creation_options(&app, &grace).await;
    let mut copy = SoftPasskey::new("localhost");
    copy.credential_id = authenticator.credential_id.clone();
    let credential = copy.register(&options, &origin(&app));
    assert_eq!(
        add(&app, &grace, &challenge_id, &credential, "x").await.0,
        400
    );
    assert!(passkeys(&app, &grace).await.is_empty());
}

/// A passkey and its clone answering two ceremonies with one counter value
/// at once: one signs in. (moto answers one request at a time, so there
/// the conditional write on the stored counter decides; the embedded store
/// takes both at once.)
async fn one_counter_value_signs_in_once(app: TestApp) {
    let token = signed_in(&app, &ada(&app)).await;
    let (mut authenticator, _) = with_passkey(&app, &token, "Laptop").await;
    let (one, one_options) = request_options(&app, None).await;
    let (two, two_options) = request_options(&app, None).await;
    let first = authenticator.sign_in(&one_options, &origin(&app));
    let clone = authenticator.assertion(&two_options, &origin(&app), authenticator.counter);
    let (a, b) = tokio::join!(
        passkey_sign_in(&app, &one, &first),
        passkey_sign_in(&app, &two, &clone)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
}

/// The code an authenticator app shows now.
fn totp(secret: &TotpSecret) -> String {
    secret.code_at(OffsetDateTime::now_utc()).unwrap()
}

/// A passkey answers the second step after a password; a passkey without
/// user verification is itself a first step on an account with a second
/// factor; one with it passes alone.
async fn a_passkey_and_the_second_step(app: TestApp) {
    let token = signed_in(&app, &ada(&app)).await;
    let (mut verified, _) = with_passkey(&app, &token, "Laptop").await;
    let (challenge_id, options) = creation_options(&app, &token).await;
    let mut unverified = SoftPasskey::new("localhost");
    unverified.user_verified = false;
    let credential = unverified.register(&options, &origin(&app));
    assert_eq!(
        add(&app, &token, &challenge_id, &credential, "Key").await.0,
        201
    );
    // A password still signs in alone: passkeys do not turn the second
    // step on.
    app.login(&ada(&app), PASSWORD).await;

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/users/me/factors/totp",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    let factor = body["factor_id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/users/me/factors/totp/{factor}/verify"),
            Some(&token),
            json!({"code": totp(&secret)}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let response = app
        .post_login(&json!({"login": ada(&app), "password": PASSWORD}))
        .await;
    let step: Value = response.json().await.unwrap();
    assert_eq!(step["code"], "mfa_required");
    assert_eq!(step["methods"], json!(["totp", "passkey", "recovery_code"]));
    let mfa_token = step["mfa_token"].as_str().unwrap();
    let (challenge_id, options) = request_options(&app, Some(&ada(&app))).await;
    let credential = verified.sign_in(&options, &origin(&app));
    let finish = |credential: Value, challenge_id: String| {
        app.call(
            Method::POST,
            "/v1/auth/mfa",
            None,
            json!({"mfa_token": mfa_token, "method": "passkey",
                   "challenge_id": challenge_id, "credential": credential}),
        )
    };
    // Another account's passkey does not answer ada's second step.
    let grace = signed_in(&app, &app.address("grace")).await;
    let (mut graces, _) = with_passkey(&app, &grace, "Grace's").await;
    let (other_id, other_options) = request_options(&app, None).await;
    let (status, body) = finish(graces.sign_in(&other_options, &origin(&app)), other_id).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_code")));
    let (status, pair) = finish(credential, challenge_id).await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(claims["aal"], 2);

    // A verified passkey is two factors: it signs in by itself.
    let (status, pair) = sign_in_with(&app, &mut verified).await;
    assert_eq!(status, 200, "{pair}");
    // Without verification it is one: the second step follows, and a
    // passkey is not offered for it.
    let (status, step) = sign_in_with(&app, &mut unverified).await;
    assert_eq!((status, step["code"].as_str()), (403, Some("mfa_required")));
    assert_eq!(step["methods"], json!(["totp", "recovery_code"]));
    // One step later than the code the enrolment used.
    let code = secret
        .code_at(OffsetDateTime::now_utc() + time::Duration::seconds(30))
        .unwrap();
    let (status, pair) = app
        .call(
            Method::POST,
            "/v1/auth/mfa",
            None,
            json!({"mfa_token": step["mfa_token"], "method": "totp", "code": code}),
        )
        .await;
    assert_eq!(status, 200, "{pair}");
    let claims = jwt_part(pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["hwk", "otp", "mfa"]));
}

/// Removing a passkey needs a recent sign-in; it stops signing in at once;
/// another's passkey is not found; the admin's reset removes the rest.
async fn removal_needs_a_recent_sign_in_and_is_final(app: TestApp) {
    let token = signed_in(&app, &ada(&app)).await;
    let (mut laptop, laptop_id) = with_passkey(&app, &token, "Laptop").await;
    let (mut phone, _) = with_passkey(&app, &token, "Phone").await;
    let grace = signed_in(&app, &app.address("grace")).await;
    let path = format!("/v1/users/me/passkeys/{laptop_id}");
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&grace), json!({}))
        .await;
    assert_eq!(status, 404, "another's passkey is not found");
    let (status, _) = app
        .call(Method::PATCH, &path, Some(&grace), json!({"name": "mine"}))
        .await;
    assert_eq!(status, 404);

    // `auth_time` has whole seconds: three make the sign-in older than two.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = app
        .call(Method::DELETE, &path, Some(&token), json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("reauthentication_required"))
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/users/me/passkeys/options",
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("reauthentication_required")),
        "adding one too"
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.messages_to(&ada(&app)).await.last().unwrap().subject,
        "A passkey was removed from your account"
    );
    assert_eq!(sign_in_with(&app, &mut laptop).await.0, 401);
    let (status, body) = app
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("passkey_not_found"))
    );
    assert_eq!(sign_in_with(&app, &mut phone).await.0, 200);

    // An admin's reset removes passkeys with the factors.
    let user_id = jwt_part(&token, 1)["sub"].as_str().unwrap().to_owned();
    app.admin(&["users", "grant-role", &app.address("grace"), "admin"], "")
        .await
        .unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/users/{user_id}/factors"),
            Some(&grace),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(sign_in_with(&app, &mut phone).await.0, 401);
    assert!(passkeys(&app, &token).await.is_empty());
}

/// Failed sign-ins with a known passkey slow its account down, as wrong
/// passwords do; a disabled account is told so only after a good answer.
async fn failed_passkey_sign_ins_count_and_status_comes_last(app: TestApp) {
    let token = signed_in(&app, &ada(&app)).await;
    let (mut authenticator, _) = with_passkey(&app, &token, "Laptop").await;
    let mut throttled = None;
    for attempt in 1..=4 {
        let (challenge_id, options) = request_options(&app, None).await;
        let credential = authenticator.sign_in(&options, "https://evil.example");
        let (status, _) = passkey_sign_in(&app, &challenge_id, &credential).await;
        if status == 429 {
            throttled = Some(attempt);
            break;
        }
        assert_eq!(status, 401, "attempt {attempt}");
    }
    assert_eq!(throttled, Some(3), "two failures are free");
    // Each refused answer is in the account's security log.
    let (_, log) = app
        .call(Method::GET, "/v1/users/me/events", Some(&token), json!({}))
        .await;
    let failed: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "sign_in_failed")
        .collect();
    assert_eq!(failed.len(), 2, "{log}");
    assert!(
        failed
            .iter()
            .all(|event| event["detail"]["method"] == "passkey")
    );
    let response = app
        .post_login(&json!({"login": ada(&app), "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 429, "the password waits too");

    let other = app.address("grace");
    let grace = signed_in(&app, &other).await;
    let (mut graces, _) = with_passkey(&app, &grace, "Key").await;
    app.admin(&["users", "set-status", &other, "disabled"], "")
        .await
        .unwrap();
    let (status, body) = sign_in_with(&app, &mut graces).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("account_disabled"))
    );
}

on_both_stores! {
    a_passkey_is_added_and_signs_in;
    a_ceremony_answers_once_and_only_for_its_own;
    one_counter_value_signs_in_once;
    a_passkey_and_the_second_step;
    removal_needs_a_recent_sign_in_and_is_final with ("REAUTH_MAX_AGE_SECONDS", "2");
    failed_passkey_sign_ins_count_and_status_comes_last with ("LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY", "2");
}
