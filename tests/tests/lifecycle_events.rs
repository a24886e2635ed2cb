//! Lifecycle events for other systems. Locally, `local-api` appends the
//! events of each committed write to `<data-dir>/events.jsonl`: each step
//! of a journey yields exactly its events, in order, and a change that
//! does not commit yields none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new battery staple";

/// The events written so far about `user_id`, as `(detail-type, detail)`.
fn events_of(app: &TestApp, user_id: &str) -> Vec<(String, Value)> {
    let path = app
        .outbox_folder()
        .unwrap()
        .parent()
        .unwrap()
        .join(latchkey_local::EVENTS_FILE);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .inspect(|document| assert_eq!(document["source"], "latchkey", "{document}"))
        .filter(|document| document["detail"]["user_id"] == user_id)
        .map(|document| {
            (
                document["detail-type"].as_str().unwrap().to_owned(),
                document["detail"].clone(),
            )
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn each_step_of_a_journey_yields_exactly_its_events_in_order() {
    let app = TestApp::embedded().await;
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    let user_id = pair["user_id"].as_str().unwrap().to_owned();
    assert_eq!(
        names(&events_of(&app, &user_id)),
        ["user.registered", "user.confirmed", "user.signed_in"]
    );

    // Nothing for a change that does not commit: the same address again,
    // a wrong password, a wrong current password.
    let again = app
        .post_register(&json!({"email": ada, "password": PASSWORD}))
        .await;
    assert!(again.status().is_success() || again.status() == 409);
    let wrong = app
        .post_login(&json!({"login": ada, "password": "not the password"}))
        .await;
    assert_eq!(wrong.status(), 401);
    let token = pair["access_token"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/users/me/password",
            Some(token),
            json!({"current_password": "not it", "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(events_of(&app, &user_id).len(), 3);

    let (status, _) = app
        .call(
            Method::POST,
            "/v1/users/me/password",
            Some(token),
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(Method::POST, "/v1/auth/logout", Some(token), json!({}))
        .await;
    assert_eq!(status, 204);
    let fresh = app.login(&ada, NEW_PASSWORD).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/users/me",
            fresh["access_token"].as_str(),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);

    let events = events_of(&app, &user_id);
    assert_eq!(
        names(&events),
        [
            "user.registered",
            "user.confirmed",
            "user.signed_in",
            "user.password_changed",
            "session.revoked",
            "user.signed_in",
            "user.deleted",
        ]
    );
    // Each has an id of its own to de-duplicate on, says who acted, names
    // the session where there is one, and never holds the address.
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|(_, detail)| detail["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len());
    assert!(events.iter().all(|(_, detail)| detail["actor"] == "self"));
    assert_eq!(events[2].1["session_id"], events[4].1["session_id"]);
    assert!(events[2].1["session_id"].is_string());
    let text = format!("{events:?}");
    assert!(!text.contains(&ada), "{text}");
}

#[tokio::test]
async fn an_admin_disabling_an_account_is_user_disabled() {
    let app = TestApp::embedded().await;
    let (ada, admin) = (app.address("ada"), app.address("admin"));
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    let admin_pair = app.signed_in_admin(&admin, PASSWORD).await;
    let user_id = pair["user_id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{user_id}"),
            admin_pair["access_token"].as_str(),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, 200);
    let events = events_of(&app, user_id);
    let (name, detail) = events.last().unwrap();
    assert_eq!(name, "user.disabled");
    assert_eq!(detail["actor"], "admin");
    // A role change alone is not an event.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{user_id}"),
            admin_pair["access_token"].as_str(),
            json!({"roles": ["editor"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(events_of(&app, user_id).len(), events.len());
}
