//! The pages people land on from an email, over HTTP against `local-api`:
//! their security headers, that they work as plain forms without
//! JavaScript, that opening a reset link never spends the code, and their
//! language. (tests/browser drives them in Chromium.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_tests::TestApp;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

fn unique_email() -> String {
    format!("page.{}@example.com", uuid::Uuid::new_v4().simple())
}

fn assert_page_headers(response: &reqwest::Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("http"),
        "{policy}"
    );
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-store");
}

/// Every `<script>` has a `src` on this origin; no inline handlers.
fn assert_no_inline_script(html: &str) {
    for (at, _) in html.match_indices("<script") {
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        assert!(tag.contains("src=\"assets/"), "{tag}");
    }
    assert!(!html.contains(" onclick=") && !html.contains(" onload="));
    assert!(!html.contains("://"), "no absolute (third-party) URLs");
}

/// Checks the page's status and headers, and returns its HTML.
async fn page(app: &TestApp, path: &str) -> String {
    let response = app
        .client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert_page_headers(&response);
    response.text().await.unwrap()
}

#[tokio::test]
async fn both_pages_carry_the_security_headers_and_no_inline_script() {
    let app = TestApp::embedded().await;
    for path in [
        "/pages/confirmation?confirmed=true",
        "/pages/confirmation?error=invalid_confirmation_code",
        "/pages/reset-password",
    ] {
        assert_no_inline_script(&page(&app, path).await);
    }
    // The answers to form posts carry them too.
    let response = app
        .client
        .post(app.url("/pages/reset-password"))
        .form(&[("token", "x".repeat(43)), ("password", PASSWORD.to_owned())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_page_headers(&response);

    let script = app.get("/pages/assets/pages.js").await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(app.get("/pages/assets/pages.css").await.status(), 200);
    assert_eq!(app.get("/pages/assets/other.js").await.status(), 404);
}

#[tokio::test]
async fn the_confirmation_link_lands_on_the_page_in_the_accounts_language() {
    let app = TestApp::embedded().await;
    let email = unique_email();
    app.post_register(&json!({"email": email, "password": PASSWORD, "locale": "ru"}))
        .await;
    let link = app.confirmation_link(&email).await;
    let response = app
        .client
        .get(&link)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}/pages/confirmation?confirmed=true&lang=ru", app.base_url)
    );
    let page = app
        .client
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-state=\"confirmed\""), "{page}");
    assert!(
        page.contains("Адрес электронной почты подтверждён"),
        "{page}"
    );
    assert!(page.contains("lang=\"ru\""));
}

#[tokio::test]
async fn the_resend_form_works_without_javascript_and_says_nothing_about_the_address() {
    let app = TestApp::embedded().await;
    let email = unique_email();
    app.post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    let post = |email: String| {
        let request = app
            .client
            .post(app.url("/pages/confirmation"))
            .form(&[("email", email), ("lang", "en".to_owned())]);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, known) = post(email.clone()).await;
    assert_eq!(status, 200);
    assert!(known.contains("data-state=\"sent\""));
    let (_, unknown) = post(unique_email()).await;
    assert_eq!(known, unknown, "the page must not tell the two apart");
    assert_eq!(
        app.emails_to(&email).await.len(),
        2,
        "a second confirmation email"
    );

    let (status, invalid) = post("not an address".to_owned()).await;
    assert_eq!(status, 400);
    assert!(invalid.contains("id=\"email-error\""), "{invalid}");
    assert!(invalid.contains("value=\"not an address\""));
}

#[tokio::test]
async fn opening_a_reset_link_never_spends_the_code_and_the_form_works_without_javascript() {
    let app = TestApp::embedded().await;
    let email = unique_email();
    app.register_confirmed(&email, PASSWORD).await;
    app.post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;
    let link = app.reset_link(&email).await;
    let token = app.reset_token(&email).await;

    // A mail scanner opens the link (the fragment never leaves the client).
    for _ in 0..3 {
        let response = app.client.get(&link).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(!page.contains(&token), "the server never saw the code");
        assert!(
            page.contains("At least 8 characters"),
            "the policy as a hint"
        );
    }

    let submit = |password: &str, repeat: &str| {
        let request = app.client.post(&link).form(&[
            ("token", token.as_str()),
            ("password", password),
            ("password_confirmation", repeat),
            ("lang", "en"),
        ]);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, page) = submit("short", "short").await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"password-error\""), "{page}");
    // The code stays in the form (not in the URL) for the next try.
    assert!(page.contains(&format!("value=\"{token}\"")));
    let (status, page) = submit("a brand new battery staple", "another one entirely").await;
    assert_eq!(status, 400);
    assert!(
        page.contains("id=\"password_confirmation-error\""),
        "{page}"
    );

    let (status, page) = submit("a brand new battery staple", "a brand new battery staple").await;
    assert_eq!(status, 200);
    assert!(page.contains("data-state=\"done\""), "{page}");
    app.login(&email, "a brand new battery staple").await;

    let (status, page) = submit("yet another battery staple", "yet another battery staple").await;
    assert_eq!(status, 400);
    assert!(page.contains("data-state=\"invalid\""), "{page}");
}

#[tokio::test]
async fn switched_off_pages_are_not_found_and_links_lead_elsewhere() {
    let app = TestApp::embedded_with(&[
        ("PAGES_ENABLED", "false"),
        ("PASSWORD_RESET_URL", "https://app.example.com/reset"),
    ])
    .await;
    for path in [
        "/pages/confirmation",
        "/pages/reset-password",
        "/pages/assets/pages.js",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let email = unique_email();
    app.register_confirmed(&email, PASSWORD).await;
    app.post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;
    let link = app.reset_link(&email).await;
    assert!(
        link.starts_with("https://app.example.com/reset?lang=en#token="),
        "{link}"
    );
}
