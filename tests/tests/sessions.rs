//! Sessions after sign-in: refresh rotation and replay, logout, token-info,
//! and live revocation, over HTTP against `local-api`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey_tests::TestApp;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn signed_in(app: &TestApp, email: &str) -> Value {
    app.register_confirmed(email, PASSWORD).await;
    app.login(email, PASSWORD).await
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap().to_owned()
}

async fn logout(app: &TestApp, bearer: Option<&str>, body: Value) -> u16 {
    let mut request = app.client.post(app.url("/v1/auth/logout")).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn refresh_returns_a_new_pair_and_the_old_refresh_token_stops_working() {
    let app = TestApp::embedded().await;
    let first = signed_in(&app, "r@example.com").await;
    let response = app.refresh(&text(&first, "refresh_token")).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["user_id"], first["user_id"]);
    let remaining = second["refresh_expires_in"].as_u64().unwrap();
    assert!(
        remaining <= 24 * 3600 && remaining > 24 * 3600 - 60,
        "the session keeps its end: {remaining}"
    );

    // Within the grace window: refused, but the session lives on.
    let response = app.refresh(&text(&first, "refresh_token")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "invalid_token"
    );
    assert_eq!(
        app.token_info(&text(&second, "access_token"))
            .await
            .status(),
        200
    );
    let third = app.refresh(&text(&second, "refresh_token")).await;
    assert_eq!(
        third.status(),
        200,
        "a benign double submit does not revoke"
    );
}

#[tokio::test]
async fn a_replayed_refresh_token_after_the_grace_window_ends_the_whole_session() {
    let app = TestApp::embedded_with(&[("REFRESH_GRACE_SECONDS", "1")]).await;
    let first = signed_in(&app, "replay@example.com").await;
    let second: Value = app
        .refresh(&text(&first, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    assert_eq!(
        app.refresh(&text(&first, "refresh_token")).await.status(),
        401
    );
    assert_eq!(
        app.refresh(&text(&second, "refresh_token")).await.status(),
        401,
        "the newest token died too"
    );
    assert_eq!(
        app.token_info(&text(&second, "access_token"))
            .await
            .status(),
        401,
        "and so did the access token"
    );
}

#[tokio::test]
async fn ten_concurrent_refreshes_with_one_token_leave_one_live_chain_and_no_5xx() {
    let app = TestApp::embedded().await;
    let pair = signed_in(&app, "tabs@example.com").await;
    let token = text(&pair, "refresh_token");
    let responses = refresh_ten_times_at_once(&app, &token).await;
    let mut winners = Vec::new();
    for (status, body) in responses {
        assert!(status == 200 || status == 401, "status {status}: {body}");
        if status == 200 {
            winners.push(body);
        }
    }
    assert!(winners.len() <= 1, "{} chains", winners.len());
    // The session survives the burst, and exactly one chain goes on.
    let Some(winner) = winners.pop() else {
        panic!("no refresh won");
    };
    assert_eq!(
        app.refresh(&text(&winner, "refresh_token")).await.status(),
        200
    );
}

async fn refresh_ten_times_at_once(app: &TestApp, token: &str) -> Vec<(u16, Value)> {
    let requests = (0..10).map(|_| {
        let request = app
            .client
            .post(app.url("/v1/auth/refresh"))
            .json(&json!({"refresh_token": token}));
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        })
    });
    let mut results = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        results.push(request.await.unwrap());
    }
    results
}

#[tokio::test]
async fn logout_with_the_bearer_token_refuses_both_tokens_at_once() {
    let app = TestApp::embedded().await;
    let pair = signed_in(&app, "out@example.com").await;
    let access = text(&pair, "access_token");
    assert_eq!(logout(&app, Some(&access), json!({})).await, 204);
    let response = app.token_info(&access).await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        app.refresh(&text(&pair, "refresh_token")).await.status(),
        401
    );
    assert_eq!(
        logout(&app, Some(&access), json!({})).await,
        401,
        "an ended session cannot log out again"
    );
}

#[tokio::test]
async fn logout_with_the_refresh_token_alone_works() {
    let app = TestApp::embedded().await;
    let pair = signed_in(&app, "out2@example.com").await;
    assert_eq!(
        logout(
            &app,
            None,
            json!({"refresh_token": text(&pair, "refresh_token")})
        )
        .await,
        204
    );
    assert_eq!(
        app.token_info(&text(&pair, "access_token")).await.status(),
        401
    );
    assert_eq!(
        logout(&app, None, json!({})).await,
        401,
        "nothing to log out"
    );
    assert_eq!(
        logout(&app, None, json!({"refresh_token": "forged.token"})).await,
        401
    );
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let app = TestApp::embedded().await;
    let laptop = signed_in(&app, "all@example.com").await;
    let phone = app.login("all@example.com", PASSWORD).await;
    let someone_else = signed_in(&app, "else@example.com").await;
    assert_eq!(
        logout(
            &app,
            Some(&text(&laptop, "access_token")),
            json!({"all": true})
        )
        .await,
        204
    );
    for pair in [&laptop, &phone] {
        assert_eq!(
            app.token_info(&text(pair, "access_token")).await.status(),
            401
        );
        assert_eq!(
            app.refresh(&text(pair, "refresh_token")).await.status(),
            401
        );
    }
    assert_eq!(
        app.token_info(&text(&someone_else, "access_token"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn token_info_describes_a_live_token_from_the_header_or_the_query() {
    let app = TestApp::embedded().await;
    let pair = signed_in(&app, "info@example.com").await;
    let access = text(&pair, "access_token");
    let claims = latchkey_tests::jwt_part(&access, 1);
    let from_header: Value = app.token_info(&access).await.json().await.unwrap();
    let from_query: Value = app
        .client
        .get(app.url(&format!("/v1/auth/token-info?access_token={access}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for info in [&from_header, &from_query] {
        assert_eq!(info["uid"], pair["user_id"]);
        assert_eq!(info["sid"], claims["sid"]);
        assert_eq!(info["scope"], claims["scope"]);
        assert_eq!(info["kind"], "user");
        let ttl = info["ttl"].as_i64().unwrap();
        assert!((890..=900).contains(&ttl), "{ttl}");
    }
    assert_eq!(app.get("/v1/auth/token-info").await.status(), 401);
    let response = app
        .client
        .get(app.url("/v1/auth/token-info"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        app.token_info(&text(&pair, "refresh_token")).await.status(),
        401,
        "a refresh token is no bearer token"
    );
}

/// T1 → T2 → T3, then T1 (two generations back) comes back after the grace
/// window: a stolen copy is in use, so the whole session ends (RFC 9700
/// §4.14.2), T3 with it. A token never issued for the session is refused
/// without ending it.
async fn any_earlier_generation_coming_back_ends_the_session(app: TestApp) {
    let email = format!("chain.{}@example.com", uuid::Uuid::new_v4().simple());
    let t1 = signed_in(&app, &email).await;
    let t2: Value = app
        .refresh(&text(&t1, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let t3: Value = app
        .refresh(&text(&t2, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    // A forged secret for this session: refused, the session lives on.
    let current = text(&t3, "refresh_token");
    let (prefix, _) = current.rsplit_once('.').unwrap();
    let forged = format!("{prefix}.{}", "A".repeat(43));
    assert_eq!(app.refresh(&forged).await.status(), 401);
    assert_eq!(
        app.token_info(&text(&t3, "access_token")).await.status(),
        200
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.refresh(&text(&t1, "refresh_token")).await.status(), 401);
    assert_eq!(
        app.refresh(&text(&t3, "refresh_token")).await.status(),
        401,
        "the newest generation died with the replay"
    );
    assert_eq!(
        app.token_info(&text(&t3, "access_token")).await.status(),
        401
    );
}

/// Logout takes only the current refresh token; a rotated one is refused
/// and, past the grace window, ends the session as a replay does.
async fn logout_refuses_a_rotated_refresh_token(app: TestApp) {
    let email = format!("out.{}@example.com", uuid::Uuid::new_v4().simple());
    let t1 = signed_in(&app, &email).await;
    let t2: Value = app
        .refresh(&text(&t1, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        logout(
            &app,
            None,
            json!({"refresh_token": text(&t1, "refresh_token")})
        )
        .await,
        401
    );
    assert_eq!(
        app.token_info(&text(&t2, "access_token")).await.status(),
        200,
        "within the grace window a rotated token ends nothing"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        logout(
            &app,
            None,
            json!({"refresh_token": text(&t1, "refresh_token")})
        )
        .await,
        401
    );
    assert_eq!(app.refresh(&text(&t2, "refresh_token")).await.status(), 401);
}

/// A password sign-in's tokens say so (`amr` pwd, `aal` 1, `auth_time` the
/// sign-in), token-info repeats it, and a refresh a second later keeps the
/// time of the proof while the token itself is new.
async fn tokens_say_how_and_when_the_person_signed_in(app: TestApp) {
    let first = signed_in(&app, "proof@example.com").await;
    let claims = latchkey_tests::jwt_part(&text(&first, "access_token"), 1);
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["aal"], 1);
    assert_eq!(claims["auth_time"], claims["iat"]);
    let info: Value = app
        .token_info(&text(&first, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&info["amr"], &info["aal"], &info["auth_time"]),
        (&json!(["pwd"]), &json!(1), &claims["auth_time"])
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed: Value = app
        .refresh(&text(&first, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let renewed = latchkey_tests::jwt_part(&text(&refreshed, "access_token"), 1);
    assert!(
        renewed["iat"].as_i64() > claims["iat"].as_i64(),
        "{renewed}"
    );
    assert_eq!(renewed["auth_time"], claims["auth_time"]);
    assert_eq!(renewed["amr"], json!(["pwd"]));
}

latchkey_tests::on_both_stores! {
    tokens_say_how_and_when_the_person_signed_in;
    any_earlier_generation_coming_back_ends_the_session with ("REFRESH_GRACE_SECONDS", "1");
    logout_refuses_a_rotated_refresh_token with ("REFRESH_GRACE_SECONDS", "1");
}
