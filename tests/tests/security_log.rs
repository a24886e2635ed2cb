//! The security log: sign-ins and changes recorded newest first, paged
//! with a cursor, readable by the person and by admins only, with no
//! secret in it. On the embedded store and on DynamoDB in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey::test_support::SoftPasskey;
use latchkey_tests::{TestApp, jwt_part, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new battery staple";

fn token(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

fn types(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect()
}

async fn the_log_records_sign_ins_and_changes_newest_first(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let first = app.login(&ada, PASSWORD).await;
    let second: Value = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("user-agent", "Ada's phone")
        .json(&json!({"login": ada, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = jwt_part(token(&second), 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/users/me/sessions/{sid}"),
            Some(token(&first)),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/users/me/password",
            Some(token(&first)),
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, 204);

    let (status, log) = app
        .call(
            Method::GET,
            "/v1/users/me/events",
            Some(token(&first)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(
        types(&log),
        [
            "password_changed",
            "session_ended",
            "sign_in",
            "sign_in",
            "email_confirmed",
            "registered"
        ]
    );
    assert_eq!(log["next_cursor"], Value::Null);
    let events = log["events"].as_array().unwrap();
    let phone = &events[2];
    assert_eq!(phone["user_agent"], "Ada's phone");
    assert_eq!(phone["actor"], "self");
    assert_eq!(phone["detail"]["amr"], "pwd");
    assert_eq!(phone["detail"]["session_id"], sid.as_str());
    assert_eq!(phone["ip"], "127.0.0.0/24");
    assert_eq!(events[1]["detail"]["session_id"], sid.as_str());
    // Nothing secret: neither tokens nor passwords.
    let text = log.to_string();
    for secret in [
        token(&first),
        first["refresh_token"].as_str().unwrap(),
        token(&second),
        PASSWORD,
        NEW_PASSWORD,
    ] {
        assert!(!text.contains(secret));
    }

    // Pages of two: the cursor continues where the first page ended.
    let (_, page) = app
        .call(
            Method::GET,
            "/v1/users/me/events?limit=2",
            Some(token(&first)),
            json!({}),
        )
        .await;
    assert_eq!(types(&page), ["password_changed", "session_ended"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("/v1/users/me/events?limit=2&cursor={cursor}"),
            Some(token(&first)),
            json!({}),
        )
        .await;
    assert_eq!(types(&rest), ["sign_in", "sign_in"]);
    let cursor = rest["next_cursor"].as_str().unwrap();
    let (_, last) = app
        .call(
            Method::GET,
            &format!("/v1/users/me/events?limit=2&cursor={cursor}"),
            Some(token(&first)),
            json!({}),
        )
        .await;
    assert_eq!(types(&last), ["email_confirmed", "registered"]);
    assert_eq!(last["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=101", "cursor=nope"] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/v1/users/me/events?{bad}"),
                Some(token(&first)),
                json!({}),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

async fn admins_read_any_log_and_admin_changes_are_in_it(app: TestApp) {
    let (ada, bob, admin) = (app.address("ada"), app.address("bob"), app.address("admin"));
    app.register_confirmed(&ada, PASSWORD).await;
    let ada_pair = app.login(&ada, PASSWORD).await;
    app.register_confirmed(&bob, PASSWORD).await;
    let bob_pair = app.login(&bob, PASSWORD).await;
    let admin_pair = app.signed_in_admin(&admin, PASSWORD).await;
    let id = ada_pair["user_id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{id}"),
            Some(token(&admin_pair)),
            json!({"roles": ["editor"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/users/{id}/sessions"),
            Some(token(&admin_pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);

    let path = format!("/v1/admin/users/{id}/events");
    let (status, log) = app
        .call(Method::GET, &path, Some(token(&admin_pair)), json!({}))
        .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(
        types(&log),
        [
            "sessions_ended",
            "account_changed",
            "sign_in",
            "email_confirmed",
            "registered"
        ]
    );
    let changed = &log["events"][1];
    assert_eq!(changed["actor"], "admin");
    assert_eq!(changed["detail"]["roles"], "editor");
    assert_eq!(log["events"][0]["detail"]["sessions"], "1");

    let (status, _) = app
        .call(Method::GET, &path, Some(token(&bob_pair)), json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .call(
            Method::GET,
            "/v1/admin/users/0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70/events",
            Some(token(&admin_pair)),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("user_not_found"))
    );
    // The account itself, whole, for admins only, disabled or not.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{id}"),
            Some(token(&admin_pair)),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, 200);
    let account = format!("/v1/admin/users/{id}");
    let (status, body) = app
        .call(Method::GET, &account, Some(token(&admin_pair)), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], ada.as_str());
    assert_eq!(body["user"]["status"], "disabled");
    assert_eq!(body["user"]["roles"], json!(["editor"]));
    let (status, _) = app
        .call(Method::GET, &account, Some(token(&bob_pair)), json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            Method::GET,
            "/v1/admin/users/0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70",
            Some(token(&admin_pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    // Bob's own log holds only his own sign-in.
    let (_, own) = app
        .call(
            Method::GET,
            "/v1/users/me/events",
            Some(token(&bob_pair)),
            json!({}),
        )
        .await;
    assert_eq!(types(&own), ["sign_in", "email_confirmed", "registered"]);
}

/// Each kind of change leaves its entry, written with the change: a wrong
/// password (for a known account only), a factor proven and removed, new
/// recovery codes, a passkey added and removed, a sign-out, a reset.
async fn every_change_to_the_account_is_in_its_log(app: TestApp) {
    let app = &app;
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let wrong = app
        .post_login(&json!({"login": ada, "password": "not the password"}))
        .await;
    assert_eq!(wrong.status(), 401);
    let pair = app.login(&ada, PASSWORD).await;
    let call = |method: Method, path: String, body: Value| {
        let token = token(&pair).to_owned();
        async move { app.call(method, &path, Some(&token), body).await }
    };
    let (factor, code) = app.proven_totp(token(&pair)).await;
    let (status, _) = call(
        Method::POST,
        "/v1/users/me/recovery-codes".into(),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        Method::DELETE,
        format!("/v1/users/me/factors/{factor}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let (_, ceremony) = call(
        Method::POST,
        "/v1/users/me/passkeys/options".into(),
        json!({}),
    )
    .await;
    let origin = app.base_url.replace("127.0.0.1", "localhost");
    let credential = SoftPasskey::new("localhost").register(&ceremony["public_key"], &origin);
    let (status, added) = call(
        Method::POST,
        "/v1/users/me/passkeys".into(),
        json!({"challenge_id": ceremony["challenge_id"], "credential": credential, "name": "Laptop"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        Method::DELETE,
        format!(
            "/v1/users/me/passkeys/{}",
            added["passkey_id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(Method::POST, "/v1/auth/logout".into(), json!({})).await;
    assert_eq!(status, 204);
    let forgot = app
        .post_json("/v1/password/forgot", &json!({ "email": ada }))
        .await;
    assert_eq!(forgot.status(), 202);
    let reset = app
        .post_json(
            "/v1/password/reset",
            &json!({"token": app.reset_token(&ada).await, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status(), 200);
    // A wrong password for an address with no account leaves no entry
    // anywhere (there is no log to write to).
    let unknown = app
        .post_login(&json!({"login": app.address("nobody"), "password": PASSWORD}))
        .await;
    assert_eq!(unknown.status(), 401);

    let fresh = app.login(&ada, NEW_PASSWORD).await;
    let (_, log) = app
        .call(
            Method::GET,
            "/v1/users/me/events?limit=100",
            Some(token(&fresh)),
            json!({}),
        )
        .await;
    assert_eq!(
        types(&log),
        [
            "sign_in",
            "password_reset",
            "session_ended",
            "passkey_removed",
            "passkey_added",
            "factor_removed",
            "recovery_codes_renewed",
            "factor_added",
            "sign_in",
            "sign_in_failed",
            "email_confirmed",
            "registered",
        ]
    );
    let events = log["events"].as_array().unwrap();
    assert_eq!(events[2]["detail"]["reason"], "sign_out");
    assert_eq!(events[3]["detail"]["name"], "Laptop");
    assert_eq!(events[9]["detail"]["method"], "pwd");
    assert!(!log.to_string().contains(&code));
}

on_both_stores! {
    every_change_to_the_account_is_in_its_log;
    the_log_records_sign_ins_and_changes_newest_first;
    admins_read_any_log_and_admin_changes_are_in_it;
}
