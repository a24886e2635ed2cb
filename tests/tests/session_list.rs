//! A person's sessions: listed with where and when they were opened and
//! how, ended one at a time (its tokens die at once), raced against their
//! own refresh; an admin ending all of someone's. On the embedded store and
//! on DynamoDB in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey_tests::{TestApp, jwt_part, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// Signs in from a browser that calls itself `user_agent`.
async fn sign_in_as(app: &TestApp, email: &str, user_agent: &str) -> Value {
    let response = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("user-agent", user_agent)
        .json(&json!({"login": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn token(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

fn session_id(pair: &Value) -> String {
    jwt_part(token(pair), 1)["sid"].as_str().unwrap().to_owned()
}

async fn sessions(app: &TestApp, pair: &Value) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::GET,
            "/v1/users/me/sessions",
            Some(token(pair)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["sessions"].as_array().unwrap().clone()
}

async fn end(app: &TestApp, pair: &Value, id: &str) -> (u16, Value) {
    app.call(
        Method::DELETE,
        &format!("/v1/users/me/sessions/{id}"),
        Some(token(pair)),
        json!({}),
    )
    .await
}

async fn me(app: &TestApp, pair: &Value) -> u16 {
    app.call(Method::GET, "/v1/users/me", Some(token(pair)), json!({}))
        .await
        .0
}

async fn sessions_are_listed_and_end_one_at_a_time(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let laptop = sign_in_as(&app, &ada, "Laptop Firefox").await;
    // Whole seconds: the phone's sign-in is later, and its refresh later still.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let phone = sign_in_as(&app, &ada, "Phone\tSafari").await;

    let listed = sessions(&app, &laptop).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (first, second) = (&listed[0], &listed[1]);
    assert_eq!(first["id"], session_id(&phone).as_str(), "newest first");
    assert_eq!(first["user_agent"], "PhoneSafari", "printable only");
    assert_eq!(first["current"], false);
    assert_eq!(second["id"], session_id(&laptop).as_str());
    assert_eq!(second["user_agent"], "Laptop Firefox");
    assert_eq!(second["current"], true);
    assert_eq!(second["ip"], "127.0.0.0/24", "the network, not the address");
    assert_eq!(second["amr"], json!(["pwd"]));
    assert_eq!(second["last_used_at"], second["created_at"]);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let phone = app
        .refresh(phone["refresh_token"].as_str().unwrap())
        .await
        .json::<Value>()
        .await
        .unwrap();
    let listed = sessions(&app, &laptop).await;
    assert!(
        listed[0]["last_used_at"].as_str() > listed[0]["created_at"].as_str(),
        "a refresh is a use: {listed:?}"
    );

    // Ending the phone's session kills both of its tokens at once.
    assert_eq!(me(&app, &phone).await, 200);
    let (status, _) = end(&app, &laptop, &session_id(&phone)).await;
    assert_eq!(status, 204);
    assert_eq!(me(&app, &phone).await, 401);
    assert_eq!(
        app.refresh(phone["refresh_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(me(&app, &laptop).await, 200);
    assert_eq!(sessions(&app, &laptop).await.len(), 1);

    // Gone, someone else's, or not an id: not found, and nothing ends.
    let (status, body) = end(&app, &laptop, &session_id(&phone)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("session_not_found"))
    );
    let grace = app.address("grace");
    app.register_confirmed(&grace, PASSWORD).await;
    let graces = sign_in_as(&app, &grace, "Grace's").await;
    assert_eq!(end(&app, &laptop, &session_id(&graces)).await.0, 404);
    assert_eq!(me(&app, &graces).await, 200);
    assert_eq!(end(&app, &laptop, "not-a-session").await.0, 404);

    // Ending one's own session is signing out.
    assert_eq!(end(&app, &laptop, &session_id(&laptop)).await.0, 204);
    assert_eq!(me(&app, &laptop).await, 401);
}

/// A session ended while it refreshes stays ended: the rotation only
/// updates a session that is still there, so a refresh that lost the race
/// is refused and one that won hands out a token that no longer works.
/// (moto answers one request at a time, so there the order is one or the
/// other; the embedded store takes both at once.)
async fn a_session_ended_during_its_refresh_stays_ended(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let keeper = sign_in_as(&app, &ada, "keeper").await;
    for _ in 0..5 {
        let victim = sign_in_as(&app, &ada, "victim").await;
        let id = session_id(&victim);
        let (ended, refreshed) = tokio::join!(
            end(&app, &keeper, &id),
            app.refresh(victim["refresh_token"].as_str().unwrap())
        );
        assert_eq!(ended.0, 204);
        if refreshed.status() == 200 {
            let pair: Value = refreshed.json().await.unwrap();
            assert_eq!(me(&app, &pair).await, 401);
            assert_eq!(
                app.refresh(pair["refresh_token"].as_str().unwrap())
                    .await
                    .status(),
                401
            );
        } else {
            assert_eq!(refreshed.status(), 401);
        }
        let left = sessions(&app, &keeper).await;
        assert!(
            left.iter().all(|session| session["id"] != id.as_str()),
            "{left:?}"
        );
    }
}

async fn an_admin_ends_every_session_of_an_account(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let one = sign_in_as(&app, &ada, "one").await;
    let two = sign_in_as(&app, &ada, "two").await;
    let user_id = jwt_part(token(&one), 1)["sub"].as_str().unwrap().to_owned();
    let boss = app.address("boss");
    app.register_confirmed(&boss, PASSWORD).await;
    let admin = sign_in_as(&app, &boss, "admin").await;
    let path = format!("/v1/admin/users/{user_id}/sessions");
    let (status, _) = app
        .call(Method::DELETE, &path, Some(token(&admin)), json!({}))
        .await;
    assert_eq!(status, 403, "only admins");
    assert_eq!(me(&app, &one).await, 200);
    app.admin(&["users", "grant-role", &boss, "admin"], "")
        .await
        .unwrap();
    let (status, body) = app
        .call(Method::DELETE, &path, Some(token(&admin)), json!({}))
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(me(&app, &one).await, 401);
    assert_eq!(me(&app, &two).await, 401);
    assert_eq!(me(&app, &admin).await, 200);
    let unknown = "/v1/admin/users/0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70/sessions";
    let (status, body) = app
        .call(Method::DELETE, unknown, Some(token(&admin)), json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("user_not_found"))
    );
}

on_both_stores! {
    sessions_are_listed_and_end_one_at_a_time;
    a_session_ended_during_its_refresh_stays_ended;
    an_admin_ends_every_session_of_an_account;
}
