//! Deleting an account, by its owner or an admin: afterwards nothing keyed
//! by the account is left, its tokens are dead, its email is free and a
//! goodbye email went out; a sign-in racing the deletion keeps no session;
//! a deletion cut short by a failing table is finished by the next call.
//! On the embedded store and on DynamoDB and SES in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey::test_support::SoftPasskey;
use latchkey_tests::{FaultProxy, TestApp, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn token(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

/// Items that still name the account: any keyed by it or holding its id,
/// but for the single-use items keyed by a secret's hash that expire on
/// their own within minutes (sign-in challenges, passkey ceremonies) or
/// within a day (spent confirmation codes), which can act on nothing once
/// the profile is gone.
async fn items_naming(app: &TestApp, user_id: &str) -> Vec<(String, String)> {
    app.app
        .store
        .all_items()
        .await
        .unwrap()
        .into_iter()
        .filter(|(pk, sk, item)| {
            let names = pk.contains(user_id) || sk.contains(user_id) || item.contains(user_id);
            let expiring = pk.starts_with("MFA#")
                || pk.starts_with("WEBAUTHN#")
                || (pk.starts_with("CODE#") && item.contains("\"confirm\""));
            names && !expiring
        })
        .map(|(pk, sk, _)| (pk, sk))
        .collect()
}

/// An account with an address, two sessions, a TOTP factor with recovery
/// codes, a passkey, a pending change of email and a reset code.
async fn a_full_account(app: &TestApp, email: &str) -> Value {
    app.register_confirmed(email, PASSWORD).await;
    let pair = app.login(email, PASSWORD).await;
    app.login(email, PASSWORD).await;
    let call = |method: Method, path: String, body: Value| {
        let token = token(&pair).to_owned();
        async move { app.call(method, &path, Some(&token), body).await }
    };
    let (status, _) = call(
        Method::POST,
        "/v1/users/me/addresses".into(),
        json!({"address": "acct:ada@example.org"}),
    )
    .await;
    assert_eq!(status, 201);
    app.proven_totp(token(&pair)).await;
    let (_, ceremony) = call(
        Method::POST,
        "/v1/users/me/passkeys/options".into(),
        json!({}),
    )
    .await;
    let origin = app.base_url.replace("127.0.0.1", "localhost");
    let credential = SoftPasskey::new("localhost").register(&ceremony["public_key"], &origin);
    let (status, _) = call(
        Method::POST,
        "/v1/users/me/passkeys".into(),
        json!({"challenge_id": ceremony["challenge_id"], "credential": credential}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        Method::POST,
        "/v1/users/me/email".into(),
        json!({"new_email": app.address("ada.elsewhere")}),
    )
    .await;
    assert_eq!(status, 202);
    let forgot = app
        .post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status(), 202);
    pair
}

async fn deleting_ones_account_leaves_nothing_that_names_it(app: TestApp) {
    let (ada, bob) = (app.address("ada"), app.address("bob"));
    let pair = a_full_account(&app, &ada).await;
    app.register_confirmed(&bob, PASSWORD).await;
    let bob_pair = app.login(&bob, PASSWORD).await;
    let user_id = pair["user_id"].as_str().unwrap();
    assert!(!items_naming(&app, user_id).await.is_empty());

    let (status, body) = app
        .call(
            Method::DELETE,
            "/v1/users/me",
            Some(token(&pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let left = items_naming(&app, user_id).await;
    assert!(left.is_empty(), "left behind: {left:?}");
    // Its tokens are dead, it cannot sign in, and its address is free.
    let (status, _) = app
        .call(Method::GET, "/v1/users/me", Some(token(&pair)), json!({}))
        .await;
    assert_eq!(status, 401);
    let refreshed = app.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), 401);
    let signed_in = app
        .post_login(&json!({"login": ada, "password": PASSWORD}))
        .await;
    assert_eq!(signed_in.status(), 401);
    let goodbye = app.messages_to(&ada).await;
    assert!(
        goodbye
            .iter()
            .any(|message| message.subject == "Your account was deleted"
                && !message.body.contains("administrator")),
        "{goodbye:?}"
    );
    app.register_confirmed(&ada, PASSWORD).await;
    app.login(&ada, PASSWORD).await;
    // Another account is untouched.
    let (status, _) = app
        .call(
            Method::GET,
            "/v1/users/me",
            Some(token(&bob_pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
}

async fn deleting_needs_a_recent_sign_in_or_the_password(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    // `auth_time` has whole seconds: three make the sign-in older than two.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let delete = |body: Value| app.call(Method::DELETE, "/v1/users/me", Some(token(&pair)), body);
    let (status, body) = delete(json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("reauthentication_required"))
    );
    let (status, _) = delete(json!({"current_password": "not the password"})).await;
    assert_eq!(status, 401);
    app.login(&ada, PASSWORD).await;
    let (status, _) = delete(json!({"current_password": PASSWORD})).await;
    assert_eq!(status, 204);
    let signed_in = app
        .post_login(&json!({"login": ada, "password": PASSWORD}))
        .await;
    assert_eq!(signed_in.status(), 401);
}

async fn admins_delete_accounts_and_no_one_else_may(app: TestApp) {
    let (ada, bob, admin) = (app.address("ada"), app.address("bob"), app.address("admin"));
    app.register_confirmed(&ada, PASSWORD).await;
    let ada_pair = app.login(&ada, PASSWORD).await;
    app.register_confirmed(&bob, PASSWORD).await;
    let bob_pair = app.login(&bob, PASSWORD).await;
    let admin_pair = app.signed_in_admin(&admin, PASSWORD).await;
    let path = format!("/v1/admin/users/{}", ada_pair["user_id"].as_str().unwrap());

    let (status, _) = app
        .call(Method::DELETE, &path, Some(token(&bob_pair)), json!({}))
        .await;
    assert_eq!(status, 403);
    // Not their own account: that asks for a recent sign-in elsewhere.
    let own = format!(
        "/v1/admin/users/{}",
        admin_pair["user_id"].as_str().unwrap()
    );
    let (status, _) = app
        .call(Method::DELETE, &own, Some(token(&admin_pair)), json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .call(Method::DELETE, &path, Some(token(&admin_pair)), json!({}))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app
        .call(
            Method::GET,
            "/v1/users/me",
            Some(token(&ada_pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, body) = app
        .call(Method::DELETE, &path, Some(token(&admin_pair)), json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("user_not_found"))
    );
    let goodbye = app.messages_to(&ada).await;
    assert!(
        goodbye
            .iter()
            .any(|message| message.body.contains("by an administrator")),
        "{goodbye:?}"
    );
    assert!(
        items_naming(&app, ada_pair["user_id"].as_str().unwrap())
            .await
            .is_empty()
    );
}

/// Sign-ins sent while the account is being deleted: each either fails or
/// started its session before the deletion's first write, and then the
/// deletion swept it; no token outlives the account. The decision is the
/// conditions, not timing: the deletion's first write needs the profile
/// at the version it read (a sign-in moves it), a sign-in's write needs the
/// profile to exist. (moto may answer the requests one at a time; the
/// embedded store's writes race for its single writer.)
async fn a_sign_in_racing_the_deletion_keeps_no_session(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    let body = json!({"login": ada, "password": PASSWORD});
    let sign_in = || app.post_login(&body);
    let deletion = app.call(
        Method::DELETE,
        "/v1/users/me",
        Some(token(&pair)),
        json!({}),
    );
    let (deleted, one, two, three, four) =
        tokio::join!(deletion, sign_in(), sign_in(), sign_in(), sign_in());
    assert_eq!(deleted.0, 204, "{}", deleted.1);
    let signed_in = [one, two, three, four];
    for response in signed_in {
        if response.status() != 200 {
            assert_eq!(response.status(), 401);
            continue;
        }
        let late: Value = response.json().await.unwrap();
        let (status, _) = app
            .call(
                Method::GET,
                "/v1/users/me/sessions",
                Some(token(&late)),
                json!({}),
            )
            .await;
        assert_eq!(status, 401, "a session outlived the account");
        let refreshed = app.refresh(late["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refreshed.status(), 401);
    }
    let left = items_naming(&app, pair["user_id"].as_str().unwrap()).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

on_both_stores! {
    deleting_ones_account_leaves_nothing_that_names_it;
    deleting_needs_a_recent_sign_in_or_the_password with ("REAUTH_MAX_AGE_SECONDS", "2");
    admins_delete_accounts_and_no_one_else_may;
    a_sign_in_racing_the_deletion_keeps_no_session;
}

/// The table fails from the n-th call of a deletion on, for every n until
/// one succeeds: each failed request leaves either the whole account or
/// one that cannot sign in, and the same call again, with the same token,
/// finishes the deletion.
#[tokio::test]
async fn a_deletion_cut_short_is_finished_by_the_next_call() {
    let proxy = FaultProxy::start();
    let app = TestApp::through(&proxy, &[]).await;
    let mut cut_short_after_the_first_write = 0;
    for after in 0.. {
        let ada = app.address(&format!("ada{after}"));
        app.register_confirmed(&ada, PASSWORD).await;
        let pair = app.login(&ada, PASSWORD).await;
        app.login(&ada, PASSWORD).await;
        proxy.arm("dynamodb", "fail", after).await;
        let (status, _) = app
            .call(
                Method::DELETE,
                "/v1/users/me",
                Some(token(&pair)),
                json!({}),
            )
            .await;
        proxy.disarm().await;
        if status == 204 {
            assert!(after > 3, "deleted with only {after} table calls");
            // Failures in the sweep, not only before the first write.
            assert!(cut_short_after_the_first_write >= 2);
            break;
        }
        assert_eq!(status, 500, "after {after} calls");
        let signed_in = app
            .post_login(&json!({"login": ada, "password": PASSWORD}))
            .await
            .status();
        if signed_in == 401 {
            cut_short_after_the_first_write += 1;
        } else {
            assert_eq!(signed_in, 200, "after {after} calls");
        }
        let (status, _) = app
            .call(
                Method::DELETE,
                "/v1/users/me",
                Some(token(&pair)),
                json!({}),
            )
            .await;
        assert_eq!(status, 204, "the second call after {after} calls");
        let left = items_naming(&app, pair["user_id"].as_str().unwrap()).await;
        assert!(
            left.is_empty(),
            "after {after} calls, signed in {signed_in}: {left:?}"
        );
        assert!(
            app.post_login(&json!({"login": ada, "password": PASSWORD}))
                .await
                .status()
                == 401
        );
    }
}
