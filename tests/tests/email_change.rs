//! Changing one's email: the old address stays until the link sent to the
//! new one is used; notices to the old address; a newer request replaces
//! the link; the other sessions end; the new address must still be free
//! when the link is used, raced against a registration of it; the old one
//! is free afterwards. On the embedded store and on DynamoDB and SES in
//! moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey_tests::{TestApp, on_both_stores};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn token(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

async fn ask(app: &TestApp, pair: &Value, new_email: &str) -> (u16, Value) {
    app.call(
        Method::POST,
        "/v1/users/me/email",
        Some(token(pair)),
        json!({ "new_email": new_email }),
    )
    .await
}

/// The code of the newest link sent to `address`.
async fn link_code(app: &TestApp, address: &str) -> String {
    let messages = app.messages_to(address).await;
    let message = messages
        .iter()
        .rev()
        .find(|message| message.subject == "Confirm your new email address")
        .expect("a link to the new address");
    let start = message
        .body
        .find("#code=")
        .expect("the code in the fragment")
        + "#code=".len();
    message.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

async fn confirm(app: &TestApp, code: &str, bearer: Option<&str>) -> (u16, Value) {
    app.call(
        Method::POST,
        "/v1/users/me/email/confirm",
        bearer,
        json!({ "code": code }),
    )
    .await
}

async fn signs_in(app: &TestApp, login: &str) -> bool {
    app.post_login(&json!({"login": login, "password": PASSWORD}))
        .await
        .status()
        == 200
}

async fn the_address_changes_when_the_link_is_used(app: TestApp) {
    let (old, new, newer) = (
        app.address("ada"),
        app.address("ada.new"),
        app.address("ada.newer"),
    );
    app.register_confirmed(&old, PASSWORD).await;
    let here = app.login(&old, PASSWORD).await;
    let elsewhere = app.login(&old, PASSWORD).await;

    let (status, body) = ask(&app, &here, &new).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["new_email"], new.as_str());
    let first = link_code(&app, &new).await;
    let notices = app.messages_to(&old).await;
    let notice = notices.last().unwrap();
    assert_eq!(
        notice.subject,
        "A change of your account's email address was asked for"
    );
    assert!(!notice.body.contains(&new), "the new address is masked");
    assert!(notice.body.contains("a***@"), "{}", notice.body);
    // Nothing changed yet.
    assert!(signs_in(&app, &old).await);
    assert!(!signs_in(&app, &new).await);

    // A newer request replaces the first link.
    assert_eq!(ask(&app, &here, &newer).await.0, 202);
    let second = link_code(&app, &newer).await;
    let (status, body) = confirm(&app, &first, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_confirmation_code"))
    );
    let (status, body) = confirm(&app, &second, Some(token(&here))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], newer.as_str());
    assert_eq!(body["user"]["email_confirmed"], true);
    assert_eq!(confirm(&app, &second, None).await.0, 400, "used once");

    // The caller's session stays, the other ends; only the new address
    // signs in; the old one hears of it and is free again.
    let me = |pair: &Value| {
        let token = token(pair).to_owned();
        let app = &app;
        async move {
            app.call(Method::GET, "/v1/users/me", Some(&token), json!({}))
                .await
                .0
        }
    };
    assert_eq!(me(&here).await, 200);
    assert_eq!(me(&elsewhere).await, 401);
    assert!(!signs_in(&app, &old).await);
    assert!(signs_in(&app, &newer).await);
    assert_eq!(
        app.messages_to(&old).await.last().unwrap().subject,
        "Your account's email address was changed"
    );
    let response = app
        .post_register(&json!({"email": old, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 201, "the old address is free");
}

async fn asking_needs_a_recent_sign_in_and_a_new_free_address(app: TestApp) {
    let (ada, bob) = (app.address("ada"), app.address("bob"));
    app.register_confirmed(&ada, PASSWORD).await;
    app.register_confirmed(&bob, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    let (status, body) = ask(&app, &pair, &ada.to_uppercase()).await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (400, Some("new_email")),
        "the account's own address: {body}"
    );
    let (status, body) = ask(&app, &pair, &bob).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("email_taken")));
    let (status, _) = ask(&app, &pair, "not an address").await;
    assert_eq!(status, 400);

    // `auth_time` has whole seconds: three make the sign-in older than two.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = ask(&app, &pair, &app.address("later")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("reauthentication_required"))
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/users/me/email",
            Some(token(&pair)),
            json!({"new_email": app.address("later"), "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 202);
}

/// Where registration does not tell taken addresses, neither does this:
/// the same answer, and nothing is sent to the other account.
async fn a_taken_address_is_not_revealed_when_registration_does_not(app: TestApp) {
    let (ada, bob) = (app.address("ada"), app.address("bob"));
    app.register_confirmed(&ada, PASSWORD).await;
    app.register_confirmed(&bob, PASSWORD).await;
    let before = app.messages_to(&bob).await.len();
    let pair = app.login(&ada, PASSWORD).await;
    let (status, body) = ask(&app, &pair, &bob).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(app.messages_to(&bob).await.len(), before);
}

/// The link is used while someone registers the same address: exactly one
/// of them gets it. (moto answers one request at a time, so there the
/// conditional guard writes decide; the embedded store takes both at once.)
async fn a_change_and_a_registration_racing_for_one_address_make_one_owner(app: TestApp) {
    let ada = app.address("ada");
    app.register_confirmed(&ada, PASSWORD).await;
    let pair = app.login(&ada, PASSWORD).await;
    for round in 0..4 {
        let contested = app.address(&format!("contested{round}"));
        assert_eq!(ask(&app, &pair, &contested).await.0, 202);
        let code = link_code(&app, &contested).await;
        let body = json!({"email": contested, "password": PASSWORD});
        let (changed, registered) =
            tokio::join!(confirm(&app, &code, None), app.post_register(&body));
        let registered = registered.status().as_u16();
        let winners = usize::from(changed.0 == 200) + usize::from(registered == 201);
        assert_eq!(winners, 1, "round {round}: {changed:?} {registered}");
        if changed.0 != 200 {
            assert_eq!(changed.1["code"], "email_taken", "{changed:?}");
        }
        // Whoever lost, ada signs in with the address she holds now, and
        // it is hers alone.
        let holds = if changed.0 == 200 { &contested } else { &ada };
        assert!(signs_in(&app, holds).await, "round {round}");
        if changed.0 == 200 {
            break;
        }
    }
}

on_both_stores! {
    the_address_changes_when_the_link_is_used;
    asking_needs_a_recent_sign_in_and_a_new_free_address with ("REAUTH_MAX_AGE_SECONDS", "2");
    a_taken_address_is_not_revealed_when_registration_does_not
        with ("REGISTRATION_REVEALS_EXISTING", "false");
    a_change_and_a_registration_racing_for_one_address_make_one_owner;
}
