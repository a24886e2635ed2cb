//! Unicode lookalike addresses never reach another account's mailbox: the
//! uniqueness key folds compatibility characters (Kelvin `K`, long `ſ`) onto
//! the plain ones, a dotless `ı` stays a different address, and mail goes
//! only to the address stored on the account, never to the one typed into a
//! forgot form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::{TestApp, on_both_stores};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// A domain of the test's own: the emulator's mailbox is shared.
fn domain() -> String {
    format!("{}.example.com", uuid::Uuid::new_v4().simple())
}

async fn forgot(app: &TestApp, email: &str) {
    let response = app
        .post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(response.status(), 202);
}

async fn reset_subjects(app: &TestApp, address: &str) -> usize {
    app.messages_to(address)
        .await
        .iter()
        .filter(|message| message.body.contains("#token="))
        .count()
}

async fn a_dotless_i_is_another_address_with_its_own_mail(app: TestApp) {
    let domain = domain();
    let ivan = format!("ivan@{domain}");
    let dotless = format!("\u{131}van@{domain}");
    app.register_confirmed(&ivan, PASSWORD).await;
    app.register_confirmed(&dotless, "another good passphrase")
        .await;

    forgot(&app, &dotless).await;
    assert_eq!(reset_subjects(&app, &dotless).await, 1);
    assert_eq!(reset_subjects(&app, &ivan).await, 0, "ivan got ıvan's mail");

    // The code in ıvan's mail resets ıvan's account, not ivan's.
    let token = app.reset_token(&dotless).await;
    let response = app
        .post_json(
            "/v1/password/reset",
            &json!({"token": token, "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    app.login(&ivan, PASSWORD).await;
    app.login(&dotless, "a brand new passphrase").await;
}

async fn compatibility_lookalikes_reach_only_the_stored_address(app: TestApp) {
    let domain = domain();
    let kim = format!("kim@{domain}");
    let kelvin = format!("\u{212A}im@{domain}");
    let sam = format!("sam@{domain}");
    let long_s = format!("\u{17F}am@{domain}");
    app.register_confirmed(&kim, PASSWORD).await;
    app.register_confirmed(&sam, PASSWORD).await;

    // The lookalikes cannot open an account at all (their local part is not
    // NFKC-stable), let alone a second one on the same mailbox key…
    for lookalike in [&kelvin, &long_s] {
        let response = app
            .post_register(&json!({"email": lookalike, "password": PASSWORD}))
            .await;
        assert_eq!(response.status(), 400, "{lookalike}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "invalid_email");
    }
    // …nor can an internationalized domain written the other way.
    let unicode = format!("bob@m\u{fc}nchen-{domain}");
    let ascii = format!(
        "bob@{}",
        url::Url::parse(&format!("http://m\u{fc}nchen-{domain}"))
            .unwrap()
            .host_str()
            .unwrap()
    );
    assert_ne!(unicode, ascii);
    app.register_confirmed(&unicode, PASSWORD).await;
    let response = app
        .post_register(&json!({"email": ascii, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 409, "{ascii}");

    // …and asking for a reset under them mails the owner's stored address,
    // never the one typed in.
    forgot(&app, &kelvin).await;
    forgot(&app, &long_s).await;
    assert_eq!(reset_subjects(&app, &kim).await, 1);
    assert_eq!(reset_subjects(&app, &sam).await, 1);
    assert!(app.messages_to(&kelvin).await.is_empty());
    assert!(app.messages_to(&long_s).await.is_empty());
}

on_both_stores! {
    a_dotless_i_is_another_address_with_its_own_mail;
    compatibility_lookalikes_reach_only_the_stored_address;
}
