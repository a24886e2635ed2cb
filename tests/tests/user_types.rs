//! User types (`source`): one email, two accounts in two types, each with
//! its own password, confirmation, sessions, reset and limits; a code sent
//! for one type never acts on the other; an unknown type is a field error.
//! On the embedded store and on DynamoDB in moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::TestApp;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";
const CUSTOMER_PASSWORD: &str = "customer battery staple";
const PARTNER_PASSWORD: &str = "partner battery staple";
const TYPES: (&str, &str) = ("USER_TYPES", "customer, partner");

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn sign_in(app: &TestApp, source: Option<&str>, password: &str) -> (u16, Value) {
    let mut body = json!({"login": EMAIL, "password": password});
    if let Some(source) = source {
        body["source"] = json!(source);
    }
    status_and_body(app.post_login(&body).await).await
}

async fn two_accounts_with_one_email_live_apart(app: TestApp) {
    // The default type, as every client that sends no `source` gets it.
    let (status, customer) = status_and_body(
        app.post_register(&json!({"email": EMAIL, "password": CUSTOMER_PASSWORD}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    assert_eq!(customer["user"]["source"], "customer");
    let customer_link = app.confirmation_link(EMAIL).await;
    assert!(!customer_link.contains("source="), "{customer_link}");

    // The same address again in the default type is taken; in `partner` it
    // is free.
    let (status, body) = status_and_body(
        app.post_register(
            &json!({"email": EMAIL, "password": CUSTOMER_PASSWORD, "source": "customer"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, &body["code"]), (409, &json!("email_taken")));
    let (status, partner) = status_and_body(
        app.post_register(
            &json!({"email": EMAIL, "password": PARTNER_PASSWORD, "source": "partner"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{partner}");
    assert_eq!(partner["user"]["source"], "partner");
    assert_ne!(partner["user"]["id"], customer["user"]["id"]);
    let partner_link = app.confirmation_link(EMAIL).await;
    assert!(partner_link.ends_with("?source=partner"), "{partner_link}");

    // The partner's link confirms the partner only.
    let confirmed = app.client.get(&partner_link).send().await.unwrap();
    let (status, body) = status_and_body(confirmed).await;
    assert_eq!((status, &body["user_id"]), (200, &partner["user"]["id"]));
    assert_eq!(
        sign_in(&app, Some("partner"), PARTNER_PASSWORD).await.0,
        200
    );
    let (status, body) = sign_in(&app, None, CUSTOMER_PASSWORD).await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("email_not_confirmed"))
    );

    // A browser on the partner's link lands on the page in the partner's
    // type, whatever `source` the link was given.
    let tampered = partner_link.replace("source=partner", "source=customer");
    let landed = app
        .client
        .get(&tampered)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let location = landed.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("confirmed=already"), "{location}");
    assert!(location.contains("source=partner"), "{location}");
    // A link that no longer works keeps the link's type for the form.
    let dead = format!(
        "{}/v1/users/confirm/{}?source=partner",
        app.url(""),
        "A".repeat(43)
    );
    let landed = app
        .client
        .get(&dead)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let location = landed.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("error=") && location.contains("source=partner"),
        "{location}"
    );

    app.client.get(&customer_link).send().await.unwrap();
    let (status, customer_pair) = sign_in(&app, Some("customer"), CUSTOMER_PASSWORD).await;
    assert_eq!(status, 200, "{customer_pair}");
    // Each password opens its own type's account only.
    assert_eq!(
        sign_in(&app, Some("partner"), CUSTOMER_PASSWORD).await.0,
        401
    );
    assert_eq!(sign_in(&app, None, PARTNER_PASSWORD).await.0, 401);

    // Tokens say which type they are for.
    let (_, partner_pair) = sign_in(&app, Some("partner"), PARTNER_PASSWORD).await;
    let claims = latchkey_tests::jwt_part(partner_pair["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["user_type"], "partner");
    let info = app
        .token_info(customer_pair["access_token"].as_str().unwrap())
        .await;
    let (_, info) = status_and_body(info).await;
    assert_eq!(info["user_type"], "customer");
    let refreshed = app
        .refresh(partner_pair["refresh_token"].as_str().unwrap())
        .await;
    let (_, refreshed) = status_and_body(refreshed).await;
    let claims = latchkey_tests::jwt_part(refreshed["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["user_type"], "partner");

    // A reset asked for in `partner` resets the partner's password alone,
    // and ends the partner's sessions alone.
    let forgot = app
        .post_json(
            "/v1/password/forgot",
            &json!({"email": EMAIL, "source": "partner"}),
        )
        .await;
    assert_eq!(forgot.status(), 202);
    let token = app.reset_token(EMAIL).await;
    let reset = app
        .post_json(
            "/v1/password/reset",
            &json!({"token": token, "password": "a new partner staple"}),
        )
        .await;
    let (status, body) = status_and_body(reset).await;
    assert_eq!((status, &body["user_id"]), (200, &partner["user"]["id"]));
    assert_eq!(
        sign_in(&app, Some("partner"), "a new partner staple")
            .await
            .0,
        200
    );
    assert_eq!(
        sign_in(&app, Some("customer"), CUSTOMER_PASSWORD).await.0,
        200
    );
    let me = app
        .client
        .get(app.url("/v1/users/me"))
        .bearer_auth(customer_pair["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        200,
        "the customer's session outlived the partner's reset"
    );

    // Lookups answer per type.
    let exists = |source: &str| {
        app.client
            .get(app.url("/v1/users/exists"))
            .query(&[("email", "other@example.com"), ("source", source)])
            .send()
    };
    assert_eq!(
        status_and_body(exists("partner").await.unwrap()).await.1["exists"],
        false
    );
    let exists = app
        .client
        .get(app.url("/v1/users/exists"))
        .query(&[("email", EMAIL), ("source", "partner")])
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_body(exists).await.1["exists"], true);

    // A customer's address asked for in `partner` gets the answer any
    // address gets, and no email.
    app.register_confirmed("only-customer@example.com", CUSTOMER_PASSWORD)
        .await;
    let before = app.emails_to("only-customer@example.com").await.len();
    for path in ["/v1/password/forgot", "/v1/users/confirm/resend"] {
        let body = json!({"email": "only-customer@example.com", "source": "partner"});
        let (status, answer) = status_and_body(app.post_json(path, &body).await).await;
        assert_eq!(
            (status, &answer["email"]),
            (202, &json!("only-customer@example.com"))
        );
    }
    assert_eq!(
        app.emails_to("only-customer@example.com").await.len(),
        before
    );

    // The confirmation page keeps a known type for its form, and asks for
    // a new email in that type.
    let page = |query: &'static str| {
        app.client
            .get(app.url(&format!("/pages/confirmation?{query}")))
            .send()
    };
    let html = page("error=invalid_confirmation_code&source=partner")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"name="source" value="partner""#), "{html}");
    let html = page("error=invalid_confirmation_code&source=vendor")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(r#"name="source""#), "{html}");
    let waiting = "waiting-partner@example.com";
    let body = json!({"email": waiting, "password": PARTNER_PASSWORD, "source": "partner"});
    assert_eq!(app.post_register(&body).await.status(), 201);
    let sent = app.emails_to(waiting).await.len();
    let form = app
        .client
        .post(app.url("/pages/confirmation"))
        .form(&[("email", waiting), ("source", "partner")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains(r#"data-state="sent""#));
    assert_eq!(app.emails_to(waiting).await.len(), sent + 1);
    // The same form in the default type finds no waiting account there.
    let form = app
        .client
        .post(app.url("/pages/confirmation"))
        .form(&[("email", waiting)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(app.emails_to(waiting).await.len(), sent + 1);

    // An unknown type is a field error wherever `source` is taken.
    let (status, body) = sign_in(&app, Some("vendor"), PARTNER_PASSWORD).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["field"], "source");
    assert_eq!(body["errors"][0]["code"], "invalid_value");
    for (path, body) in [
        (
            "/v1/users",
            json!({"email": "x@example.com", "password": PARTNER_PASSWORD, "source": "vendor"}),
        ),
        (
            "/v1/password/forgot",
            json!({"email": EMAIL, "source": "vendor"}),
        ),
        (
            "/v1/users/confirm/resend",
            json!({"email": EMAIL, "source": "vendor"}),
        ),
    ] {
        let (status, body) = status_and_body(app.post_json(path, &body).await).await;
        assert_eq!(
            (status, &body["errors"][0]["field"]),
            (400, &json!("source")),
            "{path}"
        );
    }

    // The operator names the type too.
    let shown = app
        .admin(&["users", "show", EMAIL, "--source", "partner"], "")
        .await
        .unwrap();
    assert!(
        shown.contains(&format!("id: {}", partner["user"]["id"].as_str().unwrap())),
        "{shown}"
    );
    assert!(shown.contains("source: partner"), "{shown}");
    let error = app
        .admin(&["users", "show", EMAIL, "--source", "vendor"], "")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("--source vendor"), "{error}");
}

/// One type's sending limit for an address is not another's: with one
/// email per address allowed, both types' waiting accounts still get theirs.
async fn limits_per_address_are_per_type(app: TestApp) {
    let email = "limits@example.com";
    for source in ["customer", "partner"] {
        let (status, body) = status_and_body(
            app.post_register(
                &json!({"email": email, "password": PARTNER_PASSWORD, "source": source}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, &body["confirmation_email_sent"]),
            (201, &json!(true)),
            "{source}"
        );
    }
    assert_eq!(app.emails_to(email).await.len(), 2);
    // A third in the default type is over its own limit.
    let resend = app
        .post_json("/v1/users/confirm/resend", &json!({"email": email}))
        .await;
    assert_eq!(resend.status(), 202);
    assert_eq!(app.emails_to(email).await.len(), 2);
}

const LIMITED: [(&str, &str); 3] = [
    TYPES,
    ("EMAIL_LIMIT_PER_ADDRESS", "1/900"),
    ("EMAIL_LIMIT_PER_ADDRESS_TOTAL", "1/900"),
];

#[tokio::test]
async fn two_accounts_with_one_email_live_apart_on_the_embedded_store() {
    two_accounts_with_one_email_live_apart(TestApp::embedded_with(&[TYPES]).await).await;
}

#[tokio::test]
async fn two_accounts_with_one_email_live_apart_on_dynamodb_in_moto() {
    two_accounts_with_one_email_live_apart(TestApp::on_moto_with(&[TYPES]).await).await;
}

#[tokio::test]
async fn limits_per_address_are_per_type_on_the_embedded_store() {
    limits_per_address_are_per_type(TestApp::embedded_with(&LIMITED).await).await;
}

#[tokio::test]
async fn limits_per_address_are_per_type_on_dynamodb_in_moto() {
    limits_per_address_are_per_type(TestApp::on_moto_with(&LIMITED).await).await;
}
