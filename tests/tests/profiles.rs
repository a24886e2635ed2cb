//! Profiles and administration over HTTP against `local-api`, on the
//! embedded store and on DynamoDB + SES in moto: who sees what, partial
//! updates that never lose a concurrent one, password change, addresses,
//! admin status and roles, declared attributes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use latchkey_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// `company` is public, `age` private, both declared.
const ATTRIBUTES: &str =
    r#"[{"name":"company","type":"string","public":true},{"name":"age","type":"integer"}]"#;

fn unique_email(prefix: &str) -> String {
    format!("{prefix}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A confirmed account, signed in: (access token, user id, email).
async fn member(app: &TestApp, prefix: &str) -> (String, String, String) {
    let email = unique_email(prefix);
    app.register_confirmed(&email, PASSWORD).await;
    let pair = app.login(&email, PASSWORD).await;
    (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["user_id"].as_str().unwrap().to_owned(),
        email,
    )
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// The contract's `User` (README, "Endpoints"): exactly these, nothing else.
const USER_FIELDS: [&str; 19] = [
    "id",
    "source",
    "email",
    "login",
    "first_name",
    "last_name",
    "full_name",
    "locale",
    "status",
    "email_confirmed",
    "roles",
    "addresses",
    "profile_is_public",
    "attributes",
    "created_at",
    "updated_at",
    "last_sign_in_at",
    "sign_in_count",
    "mfa_enabled",
];

fn user_fields() -> BTreeSet<&'static str> {
    USER_FIELDS.into_iter().collect()
}

/// Makes the account behind `email` an admin with the operator program.
async fn make_admin(app: &TestApp, email: &str) {
    let output = app
        .admin(&["users", "grant-role", email, "admin"], "")
        .await
        .unwrap();
    assert!(output.contains("roles: admin"), "{output}");
}

async fn each_viewer_sees_exactly_the_fields_api_md_lists(app: TestApp) {
    let (owner_token, owner_id, _) = member(&app, "owner").await;
    let (other_token, _, _) = member(&app, "other").await;
    let (admin_token, _, admin_email) = member(&app, "admin").await;
    make_admin(&app, &admin_email).await;

    let (status, _) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&owner_token),
        Some(
            json!({"login": format!("owner_{}", &owner_id[..8]), "first_name": "Ada",
                    "last_name": "Lovelace", "attributes": {"company": "Analytical", "age": 36}}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let path = format!("/v1/users/{owner_id}");

    for public in [false, true] {
        let (status, _) = call(
            &app,
            Method::PATCH,
            "/v1/users/me",
            Some(&owner_token),
            Some(json!({ "profile_is_public": public })),
        )
        .await;
        assert_eq!(status, 200);
        for (viewer, token) in [("anonymous", None), ("other", Some(other_token.as_str()))] {
            let (status, body) = call(&app, Method::GET, &path, token, None).await;
            assert_eq!(status, 200, "{viewer}");
            let user = &body["user"];
            if public {
                assert_eq!(
                    keys(user),
                    BTreeSet::from([
                        "id",
                        "login",
                        "first_name",
                        "last_name",
                        "full_name",
                        "profile_is_public",
                        "attributes"
                    ]),
                    "{viewer}: {user}"
                );
                assert_eq!(user["full_name"], "Ada Lovelace");
                // Only the attribute declared public.
                assert_eq!(user["attributes"], json!({"company": "Analytical"}));
            } else {
                assert_eq!(user, &json!({ "id": owner_id }), "{viewer}");
            }
        }
        for (viewer, token) in [("owner", &owner_token), ("admin", &admin_token)] {
            let (status, body) = call(&app, Method::GET, &path, Some(token), None).await;
            assert_eq!(status, 200, "{viewer}");
            assert_eq!(keys(&body["user"]), user_fields(), "{viewer}");
            assert_eq!(
                body["user"]["attributes"],
                json!({"company": "Analytical", "age": 36})
            );
            assert_eq!(body["user"]["profile_is_public"], public);
        }
    }

    let (status, body) = call(&app, Method::GET, "/v1/users/me", Some(&owner_token), None).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body["user"]), user_fields());
    // Sign-ins are counted: one by `member`.
    assert_eq!(body["user"]["sign_in_count"], 1);
    assert!(body["user"]["last_sign_in_at"].is_string());

    let unknown = "/v1/users/0193a7c3-ffff-7fff-bfff-ffffffffffff";
    let (status, body) = call(&app, Method::GET, unknown, None, None).await;
    assert_eq!((status, &body["code"]), (404, &json!("user_not_found")));
    let (status, _) = call(&app, Method::GET, "/v1/users/me", None, None).await;
    assert_eq!(status, 401);
}

async fn a_patch_validates_every_field_and_moves_the_login(app: TestApp) {
    let (token, user_id, email) = member(&app, "patch").await;
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&token),
        Some(
            json!({"login": "no spaces allowed", "first_name": "x".repeat(101), "locale": "xx",
                    "profile_is_public": "perhaps", "attributes": {"shoe": 44, "age": "old"}}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    let fields: BTreeSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "login",
            "first_name",
            "locale",
            "profile_is_public",
            "attributes.shoe",
            "attributes.age"
        ]),
        "{body}"
    );
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|error| error["field"].as_str().unwrap().starts_with("attributes."))
            .all(|error| error["code"] == "invalid_attribute")
    );

    let login = format!("patch_{}", &user_id[..8]);
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&token),
        Some(json!({ "login": login, "locale": "ru" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["login"], login.as_str());
    assert_eq!(body["user"]["locale"], "ru");
    app.login(&login, PASSWORD).await;

    // Another account cannot take it; once released, it can.
    let (other_token, _, _) = member(&app, "taker").await;
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&other_token),
        Some(json!({ "login": login.to_uppercase() })),
    )
    .await;
    assert_eq!((status, &body["code"]), (409, &json!("login_taken")));
    let (status, body) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&token),
        Some(json!({ "login": null })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["login"], Value::Null);
    let (status, _) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&other_token),
        Some(json!({ "login": login })),
    )
    .await;
    assert_eq!(status, 200);
    app.login(&email, PASSWORD).await;
}

async fn concurrent_patches_of_different_fields_both_land(app: TestApp) {
    let (token, _, _) = member(&app, "race").await;
    for round in 0..3 {
        let patches = [
            json!({ "first_name": format!("First{round}") }),
            json!({ "last_name": format!("Last{round}") }),
            json!({ "attributes": { "company": format!("Company{round}") } }),
            json!({ "attributes": { "age": round } }),
        ];
        let requests: Vec<_> = patches
            .into_iter()
            .map(|patch| {
                let request = app
                    .client
                    .patch(app.url("/v1/users/me"))
                    .bearer_auth(&token)
                    .json(&patch);
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();
        for request in requests {
            assert_eq!(request.await.unwrap(), 200);
        }
        let (_, body) = call(&app, Method::GET, "/v1/users/me", Some(&token), None).await;
        let user = &body["user"];
        assert_eq!(user["first_name"], format!("First{round}"));
        assert_eq!(user["last_name"], format!("Last{round}"));
        assert_eq!(
            user["attributes"],
            json!({"company": format!("Company{round}"), "age": round})
        );
    }
}

async fn a_password_change_keeps_this_session_and_ends_the_others(app: TestApp) {
    let (token, _, email) = member(&app, "change").await;
    let other = app.login(&email, PASSWORD).await;
    let new_password = "a brand new battery staple";
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new, "new_password_confirmation": new});

    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/users/me/password",
        Some(&token),
        Some(change("wrong password here", new_password)),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("invalid_credentials"))
    );
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/users/me/password",
        Some(&token),
        Some(change(PASSWORD, "short")),
    )
    .await;
    assert_eq!(
        (status, &body["errors"][0]["field"]),
        (400, &json!("new_password"))
    );
    assert_eq!(body["errors"][0]["code"], "password_too_short");

    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/users/me/password",
        Some(&token),
        Some(change(PASSWORD, new_password)),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.token_info(&token).await.status(),
        200,
        "this session stays"
    );
    let other_access = other["access_token"].as_str().unwrap();
    assert_eq!(app.token_info(other_access).await.status(), 401);
    let other_refresh = other["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh(other_refresh).await.status(), 401);
    let response = app
        .post_login(&json!({"login": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 401);
    app.login(&email, new_password).await;
    let notice = app.messages_to(&email).await.pop().unwrap();
    assert_eq!(notice.subject, "Your password was changed");
}

async fn addresses_round_trip_and_stay_their_owners(app: TestApp) {
    let (token, _, _) = member(&app, "wallet").await;
    let (other_token, _, _) = member(&app, "stranger").await;
    let add = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                "/v1/users/me/addresses",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let wallet = "0x52908400098527886E0F7030069857D2E4169EE7";
    let (status, body) = add(&token, json!({"address": wallet, "name": "Main"})).await;
    assert_eq!(status, 201, "{body}");
    let first = body["address_id"].as_str().unwrap().to_owned();
    let (status, body) = add(
        &token,
        json!({ "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" }),
    )
    .await;
    assert_eq!(status, 201);
    let second = body["address_id"].as_str().unwrap().to_owned();

    let (status, body) = add(&token, json!({ "address": format!(" {wallet} ") })).await;
    assert_eq!((status, &body["code"]), (409, &json!("address_exists")));
    let (status, body) = add(&token, json!({ "address": "has space", "name": 5 })).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");

    let (_, body) = call(&app, Method::GET, "/v1/users/me", Some(&token), None).await;
    let addresses = body["user"]["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0]["id"], first.as_str());
    assert_eq!(addresses[0]["address"], wallet);
    assert_eq!(addresses[0]["name"], "Main");
    assert!(addresses[0]["created_at"].is_string());
    assert_eq!(addresses[1]["name"], Value::Null);

    // Another account's address, or none at all: 404 either way.
    let delete = |token: &str, id: &str| {
        let (token, path) = (token.to_owned(), format!("/v1/users/me/addresses/{id}"));
        let app = &app;
        async move { call(app, Method::DELETE, &path, Some(&token), None).await }
    };
    let (status, body) = delete(&other_token, &first).await;
    assert_eq!((status, &body["code"]), (404, &json!("address_not_found")));
    let (status, _) = delete(&token, "0193a7c3-0000-7000-8000-000000000001").await;
    assert_eq!(status, 404);
    let (status, _) = delete(&token, "not-an-id").await;
    assert_eq!(status, 404);
    let (status, _) = delete(&token, &first).await;
    assert_eq!(status, 204);
    let (status, _) = delete(&token, &first).await;
    assert_eq!(status, 404);
    let (_, body) = call(&app, Method::GET, "/v1/users/me", Some(&token), None).await;
    let addresses = body["user"]["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 1);
    assert_eq!(addresses[0]["id"], second.as_str());
}

async fn admins_disable_and_enable_accounts_and_others_may_not(app: TestApp) {
    let (member_token, member_id, member_email) = member(&app, "member").await;
    let (admin_token, admin_id, admin_email) = member(&app, "boss").await;
    let path = format!("/v1/admin/users/{member_id}");

    // Not an admin yet.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin_token),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!((status, &body["code"]), (403, &json!("forbidden")));
    make_admin(&app, &admin_email).await;

    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin_token),
        Some(json!({"status": "sleeping", "roles": ["Bad Role"]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);

    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin_token),
        Some(json!({"status": "disabled", "roles": ["support", "support"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["status"], "disabled");
    assert_eq!(body["user"]["roles"], json!(["support"]));
    // At once: the member's token, and their edits, are refused.
    assert_eq!(app.token_info(&member_token).await.status(), 401);
    let (status, _) = call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&member_token),
        Some(json!({"first_name": "Mallory"})),
    )
    .await;
    assert_eq!(status, 401);
    let response = app
        .post_login(&json!({"login": member_email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "account_disabled");
    // Others no longer find a disabled account; the admin still does.
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/v1/users/{member_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        Some(&admin_token),
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!(status, 200);
    app.login(&member_email, PASSWORD).await;

    // An admin cannot lock themselves out; unknown ids are 404.
    let own = format!("/v1/admin/users/{admin_id}");
    for (change, field) in [
        (json!({"roles": []}), "roles"),
        (json!({"status": "disabled"}), "status"),
        (json!({"status": "waiting"}), "status"),
    ] {
        let (status, body) =
            call(&app, Method::PATCH, &own, Some(&admin_token), Some(change)).await;
        assert_eq!((status, &body["errors"][0]["field"]), (400, &json!(field)));
    }
    app.login(&admin_email, PASSWORD).await;
    let unknown = "/v1/admin/users/0193a7c3-ffff-7fff-bfff-ffffffffffff";
    let (status, body) = call(
        &app,
        Method::PATCH,
        unknown,
        Some(&admin_token),
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!((status, &body["code"]), (404, &json!("user_not_found")));
}

async fn the_operator_creates_the_first_admin(app: TestApp) {
    let email = unique_email("first-admin");
    let output = app
        .admin(
            &["users", "create", "--email", &email, "--role", "admin"],
            "a long admin passphrase\n",
        )
        .await
        .unwrap();
    assert!(output.contains("status: active"), "{output}");
    assert!(output.contains("roles: admin"), "{output}");
    let pair = app.login(&email, "a long admin passphrase").await;
    let token = pair["access_token"].as_str().unwrap();
    let (_, target, _) = member(&app, "target").await;
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/v1/admin/users/{target}"),
        Some(token),
        Some(json!({"roles": ["support"]})),
    )
    .await;
    assert_eq!(status, 200);
    let output = app
        .admin(&["users", "revoke-role", &email, "admin"], "")
        .await
        .unwrap();
    assert!(
        output.contains("roles: \n") || output.ends_with("roles: \n"),
        "{output}"
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/v1/admin/users/{target}"),
        Some(token),
        Some(json!({"roles": []})),
    )
    .await;
    assert_eq!(status, 403);
    let error = app
        .admin(&["users", "create", "--email", &email], "short\n")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("password"), "{error}");
    // An unknown status word is refused, never read as some status.
    let error = app
        .admin(&["users", "set-status", &email, "frozen"], "")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("waiting, active or disabled"),
        "{error}"
    );
    let output = app.admin(&["users", "show", &email], "").await.unwrap();
    assert!(output.contains("status: active"), "{output}");
}

/// A session whose account is gone (an operator removed the profile item):
/// every change is refused as an invalid token, and nothing is written.
async fn changes_to_a_missing_account_fail_cleanly(app: TestApp) {
    use latchkey::domain::{SessionId, UserId};
    use latchkey::services::profile::{self, ProfileError, ProfilePatch};
    use latchkey::services::sessions::Principal;
    use latchkey::tokens::AccessClaims;

    let (user_id, session_id) = (UserId::new(), SessionId::new());
    let caller = Principal {
        user_id,
        session_id,
        claims: AccessClaims::for_user(
            "issuer",
            "latchkey",
            user_id,
            session_id,
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(60),
        ),
    };
    let patch = ProfilePatch {
        profile_is_public: Some(true),
        ..ProfilePatch::default()
    };
    let outcome = profile::update_me(&app.app, &caller, patch).await;
    assert!(
        matches!(outcome, Err(ProfileError::CallerGone)),
        "{outcome:?}"
    );
    let address = latchkey::domain::AddressValue::parse("0xabc").unwrap();
    let outcome = profile::add_address(&app.app, &caller, address, None).await;
    assert!(
        matches!(outcome, Err(ProfileError::CallerGone)),
        "{outcome:?}"
    );
    assert!(app.app.store.get_user(user_id).await.unwrap().is_none());
}

latchkey_tests::on_both_stores! {
    changes_to_a_missing_account_fail_cleanly;
    each_viewer_sees_exactly_the_fields_api_md_lists with ("PROFILE_ATTRIBUTES", ATTRIBUTES);
    a_patch_validates_every_field_and_moves_the_login with ("PROFILE_ATTRIBUTES", ATTRIBUTES);
    concurrent_patches_of_different_fields_both_land with ("PROFILE_ATTRIBUTES", ATTRIBUTES);
    a_password_change_keeps_this_session_and_ends_the_others;
    addresses_round_trip_and_stay_their_owners;
    admins_disable_and_enable_accounts_and_others_may_not;
    the_operator_creates_the_first_admin;
}

/// The operator tool follows the deployment's password policy (and argon2id
/// cost), not fixed ones.
#[tokio::test]
async fn the_operator_tool_uses_the_deployments_password_policy() {
    let app = TestApp::embedded_with(&[("PASSWORD_MIN_LENGTH", "20")]).await;
    let refused = app
        .admin(
            &["users", "create", "--email", "short@example.com"],
            "only fifteen ch\n",
        )
        .await
        .unwrap_err();
    assert!(format!("{refused:#}").contains("20"), "{refused:#}");
    app.admin(
        &["users", "create", "--email", "long@example.com"],
        "a passphrase of twenty-eight\n",
    )
    .await
    .unwrap();
    app.login("long@example.com", "a passphrase of twenty-eight")
        .await;
}
