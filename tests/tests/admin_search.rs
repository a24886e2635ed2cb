//! Admin search (`GET /v1/admin/users`): accounts of one type, newest
//! first, by email prefix, status and role, in cursor pages that add up to
//! every match exactly once. On the embedded store and on DynamoDB in moto
//! (a query on the `accounts` index there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::TestApp;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn search(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/v1/admin/users?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn register(app: &TestApp, email: &str, source: Option<&str>) -> String {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(source) = source {
        body["source"] = json!(source);
    }
    let response = app.post_register(&body).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["user"]["id"].as_str().unwrap().to_owned()
}

async fn admins_find_accounts_by_type_email_status_and_role(app: TestApp) {
    app.register_confirmed("boss@example.com", PASSWORD).await;
    app.admin(&["users", "grant-role", "boss@example.com", "admin"], "")
        .await
        .unwrap();
    let token = app.login("boss@example.com", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let boss = latchkey_tests::jwt_part(&token, 1)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut made = Vec::new();
    for name in ["zed.one", "zed.two", "amy", "zed.three", "bob"] {
        made.push(register(&app, &format!("{name}@example.com"), None).await);
    }
    let partner = register(&app, "zed.partner@example.com", Some("partner")).await;
    app.admin(&["users", "grant-role", "amy@example.com", "support"], "")
        .await
        .unwrap();

    // Everyone of the default type, newest first, in pages of two that add
    // up to every account exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("limit=2&cursor={cursor}"),
            None => "limit=2".to_owned(),
        };
        let (status, page) = search(&app, &token, &query).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["users"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first: Vec<String> = made.iter().rev().cloned().collect();
    newest_first.push(boss); // made first
    assert_eq!(seen, newest_first);
    assert!(!seen.contains(&partner));

    // By email prefix, without regard to case.
    let (_, page) = search(&app, &token, "email=ZED.").await;
    assert_eq!(
        ids(&page),
        vec![made[3].clone(), made[1].clone(), made[0].clone()]
    );
    assert_eq!(page["users"][0]["email"], "zed.three@example.com");
    // By status and role.
    let (_, page) = search(&app, &token, "status=active").await;
    assert_eq!(page["users"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["users"][0]["email"], "boss@example.com");
    let (_, page) = search(&app, &token, "role=support&status=waiting").await;
    assert_eq!(ids(&page), vec![made[2].clone()]);
    // Another type's accounts, by its name only.
    let (_, page) = search(&app, &token, "source=partner&email=zed").await;
    assert_eq!(ids(&page), vec![partner.clone()]);
    assert_eq!(page["users"][0]["source"], "partner");
    assert_eq!(page["next_cursor"], Value::Null);

    // Bad parameters are field errors; a non-admin is refused.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("status=frozen", "status"),
        ("role=Admin%20Role", "role"),
        ("cursor=not-an-id", "cursor"),
        ("source=vendor", "source"),
    ] {
        let (status, body) = search(&app, &token, query).await;
        assert_eq!(
            (status, &body["errors"][0]["field"]),
            (400, &json!(field)),
            "{query}"
        );
    }
    app.register_confirmed("member@example.com", PASSWORD).await;
    let member = app.login("member@example.com", PASSWORD).await;
    let (status, body) = search(&app, member["access_token"].as_str().unwrap(), "").await;
    assert_eq!((status, &body["code"]), (403, &json!("forbidden")));
}

const TYPES: [(&str, &str); 1] = [("USER_TYPES", "user,partner")];

#[tokio::test]
async fn admins_find_accounts_on_the_embedded_store() {
    admins_find_accounts_by_type_email_status_and_role(TestApp::embedded_with(&TYPES).await).await;
}

#[tokio::test]
async fn admins_find_accounts_on_dynamodb_in_moto() {
    admins_find_accounts_by_type_email_status_and_role(TestApp::on_moto_with(&TYPES).await).await;
}
