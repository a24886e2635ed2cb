//! The email flows' promises over HTTP against `local-api`: answers that do
//! not tell registered addresses apart, sending limits, emails and errors in
//! the caller's language, links built only from the configured base URL,
//! and a mail outage that loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latchkey_tests::{TestApp, within_one_window};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn unique_email() -> String {
    format!("flow.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Status, headers that could differ, and the body's exact bytes.
async fn answer(response: reqwest::Response) -> (u16, Option<String>, Vec<u8>) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn forgot_and_resend_answer_byte_for_byte_the_same_for_known_and_unknown_addresses() {
    // Four emails reach the address here, over the default limit of three.
    let app = TestApp::embedded_with(&[
        ("EMAIL_REQUEST_LIMIT_PER_IP", "100/60"),
        ("EMAIL_LIMIT_PER_ADDRESS", "10/900"),
    ])
    .await;
    let email = unique_email();
    let ask = |path: &'static str| {
        let app = &app;
        let email = email.clone();
        async move { answer(app.post_json(path, &json!({ "email": email })).await).await }
    };

    // The same address unknown, then waiting, then confirmed.
    let forgot_unknown = ask("/v1/password/forgot").await;
    let resend_unknown = ask("/v1/users/confirm/resend").await;
    let response = app
        .post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 201);
    let forgot_waiting = ask("/v1/password/forgot").await;
    let resend_waiting = ask("/v1/users/confirm/resend").await;
    let link = app.confirmation_link(&email).await;
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), 200);
    let forgot_confirmed = ask("/v1/password/forgot").await;
    let resend_confirmed = ask("/v1/users/confirm/resend").await;

    assert_eq!(forgot_unknown.0, 202);
    assert_eq!(
        serde_json::from_slice::<Value>(&forgot_unknown.2).unwrap(),
        json!({ "email": email })
    );
    assert_eq!(forgot_unknown, forgot_waiting);
    assert_eq!(forgot_unknown, forgot_confirmed);
    assert_eq!(resend_unknown.0, 202);
    assert_eq!(resend_unknown, resend_waiting);
    assert_eq!(resend_unknown, resend_confirmed);

    // Mail went only where an account exists: a reset email for each of
    // its forgot requests, a confirmation for the waiting account's resend.
    let subjects: Vec<String> = app
        .messages_to(&email)
        .await
        .into_iter()
        .map(|message| message.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "Confirm your email address",
            "Reset your password",
            "Confirm your email address",
            "Reset your password",
        ]
    );
}

#[tokio::test]
async fn exists_answers_true_and_false_case_insensitively() {
    let app = TestApp::embedded().await;
    let email = unique_email();
    app.post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    let exists = |address: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(app.url("/v1/users/exists"))
                .query(&[("email", address)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(exists(email.clone()).await, json!({"exists": true}));
    assert_eq!(exists(email.to_uppercase()).await, json!({"exists": true}));
    assert_eq!(exists(format!(" {email} ")).await, json!({"exists": true}));
    assert_eq!(exists(unique_email()).await, json!({"exists": false}));

    let response = app.get("/v1/users/exists?email=not-an-address").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "invalid_email");
}

#[tokio::test]
async fn exists_can_be_switched_off_and_is_limited_per_ip() {
    let off = TestApp::embedded_with(&[("EMAIL_EXISTS_ENABLED", "false")]).await;
    let response = off.get("/v1/users/exists?email=a%40example.com").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_found");

    let app = TestApp::embedded_with(&[("EXISTS_LIMIT_PER_IP", "3/60")]).await;
    within_one_window(60, Duration::from_secs(20)).await;
    for _ in 0..3 {
        let response = app.get("/v1/users/exists?email=a%40example.com").await;
        assert_eq!(response.status(), 200);
    }
    let response = app.get("/v1/users/exists?email=b%40example.com").await;
    assert_rate_limited(response, 60).await;
}

async fn assert_rate_limited(response: reqwest::Response, window: u64) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=window).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

async fn twenty_forgot_requests_send_at_most_the_configured_emails(app: TestApp) {
    let email = unique_email();
    app.register_confirmed(&email, PASSWORD).await;
    // EMAIL_LIMIT_PER_ADDRESS is 3/900 and the request limit 100/60.
    within_one_window(60, Duration::from_secs(30)).await;
    within_one_window(900, Duration::from_secs(30)).await;
    for _ in 0..20 {
        let response = app
            .post_json("/v1/password/forgot", &json!({ "email": email }))
            .await;
        assert_eq!(response.status(), 202);
    }
    let resets = app
        .emails_to(&email)
        .await
        .into_iter()
        .filter(|body| body.contains("#token="))
        .count();
    // EMAIL_LIMIT_PER_ADDRESS=3/900, and the registration's confirmation
    // email was the first of the three.
    assert_eq!(resets, 2);
}

#[tokio::test]
async fn twenty_forgot_requests_send_at_most_the_configured_emails_on_the_embedded_store() {
    let app = TestApp::embedded_with(&[("EMAIL_REQUEST_LIMIT_PER_IP", "100/60")]).await;
    twenty_forgot_requests_send_at_most_the_configured_emails(app).await;
}

#[tokio::test]
async fn twenty_forgot_requests_send_at_most_the_configured_emails_on_dynamodb_and_ses_in_moto() {
    let app = TestApp::on_moto_with(&[("EMAIL_REQUEST_LIMIT_PER_IP", "100/60")]).await;
    twenty_forgot_requests_send_at_most_the_configured_emails(app).await;
}

#[tokio::test]
async fn a_flood_from_one_ip_gets_429_with_retry_after_across_forgot_and_resend() {
    // The default: 10 requests per 15 minutes per IP.
    let app = TestApp::embedded().await;
    for n in 0..10 {
        let path = if n % 2 == 0 {
            "/v1/password/forgot"
        } else {
            "/v1/users/confirm/resend"
        };
        let response = app
            .post_json(path, &json!({ "email": unique_email() }))
            .await;
        assert_eq!(response.status(), 202, "request {n}");
    }
    for path in ["/v1/password/forgot", "/v1/users/confirm/resend"] {
        let response = app
            .post_json(path, &json!({ "email": unique_email() }))
            .await;
        assert_rate_limited(response, 900).await;
    }
}

#[tokio::test]
async fn a_russian_account_gets_russian_emails_and_russian_callers_get_russian_problems() {
    let app = TestApp::embedded().await;
    let email = unique_email();
    let response = app
        .post_register(
            &json!({"email": email, "password": PASSWORD, "locale": "ru", "first_name": "Анна"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    app.post_json("/v1/password/forgot", &json!({ "email": email }))
        .await;
    let messages = app.messages_to(&email).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].subject, "Подтвердите адрес электронной почты");
    assert_eq!(messages[1].subject, "Сброс пароля");
    // The address is not confirmed yet: greeted without the name.
    for message in &messages {
        assert!(message.body.contains("Здравствуйте!"), "{}", message.body);
        assert!(!message.body.contains("Анна"), "{}", message.body);
    }

    let token = app.reset_token(&email).await;
    let response = app
        .post_json(
            "/v1/password/reset",
            &json!({"token": token, "password": "a brand new battery staple"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let notice = app.messages_to(&email).await.pop().unwrap();
    assert_eq!(notice.subject, "Ваш пароль изменён");

    // The caller's language, by q-value, for every problem.
    for (accept_language, title) in [
        ("ru", "Недействительная ссылка сброса"),
        (
            "de;q=1, ru;q=0.8, en;q=0.5",
            "Недействительная ссылка сброса",
        ),
        ("en;q=0.3, ru;q=0.9", "Недействительная ссылка сброса"),
        ("fr", "Invalid reset link"),
        ("ru;q=0, en", "Invalid reset link"),
    ] {
        let response = app
            .client
            .post(app.url("/v1/password/reset"))
            .header("accept-language", accept_language)
            .json(&json!({"token": token, "password": "another battery staple"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["title"], title, "{accept_language}");
    }
    let response = app
        .client
        .post(app.url("/v1/users"))
        .header("accept-language", "ru")
        .json(&json!({"email": "bad", "password": "short"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "Ошибка проверки данных");
    assert_eq!(body["errors"][0]["field"], "email");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|error| error["message"]
                .as_str()
                .unwrap()
                .chars()
                .any(|c| ('а'..='я').contains(&c))),
        "{body}"
    );
}

#[tokio::test]
async fn links_point_at_the_configured_base_url_whatever_host_the_request_names() {
    let app =
        TestApp::embedded_with(&[("PUBLIC_BASE_URL", "https://auth.example.com/base/")]).await;
    let email = unique_email();
    let hostile = |request: reqwest::RequestBuilder| {
        request
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "http")
            .header("forwarded", "host=evil.example;proto=http")
    };
    let response = hostile(app.client.post(app.url("/v1/users")))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = hostile(app.client.post(app.url("/v1/password/forgot")))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    let confirmation = app.confirmation_link(&email).await;
    assert!(
        confirmation.starts_with("https://auth.example.com/base/v1/users/confirm/"),
        "{confirmation}"
    );
    let reset = app.reset_link(&email).await;
    assert!(
        reset.starts_with("https://auth.example.com/base/pages/reset-password?lang=en#token="),
        "{reset}"
    );
    for body in app.emails_to(&email).await {
        assert!(!body.contains("evil.example"), "{body}");
    }
}

/// Registration while the mail service fails keeps the account and says
/// so; once mail works again, a resend delivers a working link.
async fn a_mail_outage_during_registration_loses_nothing(
    app: &TestApp,
    break_mail: impl AsyncFnOnce(),
    mend_mail: impl AsyncFnOnce(),
) {
    let email = unique_email();
    break_mail().await;
    let response = app
        .post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["confirmation_email_sent"], false);
    assert_eq!(body["user"]["status"], "waiting");
    assert!(app.emails_to(&email).await.is_empty());

    // The account is there: taken, and the password is right.
    let again = app
        .post_register(&json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(again.status(), 409);
    let response = app
        .post_login(&json!({"login": email, "password": PASSWORD}))
        .await;
    assert_eq!(response.status(), 403, "email_not_confirmed");

    mend_mail().await;
    let response = app
        .post_json("/v1/users/confirm/resend", &json!({ "email": email }))
        .await;
    assert_eq!(response.status(), 202);
    let link = app.confirmation_link(&email).await;
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), 200);
    app.login(&email, PASSWORD).await;
}

#[tokio::test]
async fn a_mail_outage_during_registration_loses_nothing_on_the_embedded_store() {
    let app = TestApp::embedded().await;
    let outbox = app.outbox_folder().unwrap().to_owned();
    // A file where the outbox folder should be: every write fails.
    let break_mail = async || {
        std::fs::remove_dir_all(&outbox).unwrap();
        std::fs::write(&outbox, b"not a folder").unwrap();
    };
    let mend_mail = async || {
        std::fs::remove_file(&outbox).unwrap();
        std::fs::create_dir(&outbox).unwrap();
    };
    a_mail_outage_during_registration_loses_nothing(&app, break_mail, mend_mail).await;
}

#[tokio::test]
async fn a_mail_outage_during_registration_loses_nothing_on_ses_in_moto() {
    // A sender of its own, so taking its identity away fails only this app.
    let sender = format!("sender.{}@example.com", uuid::Uuid::new_v4().simple());
    let app = TestApp::on_moto_with(&[("MAIL_FROM", &sender)]).await;
    let ses = aws_sdk_sesv2::Client::new(&latchkey_tests::moto().sdk_config().await);
    // SES refuses a sender whose identity is not verified.
    let break_mail = async || {
        ses.delete_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .unwrap();
    };
    let mend_mail = async || {
        ses.create_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .unwrap();
    };
    a_mail_outage_during_registration_loses_nothing(&app, break_mail, mend_mail).await;
}

/// Whoever registers someone else's address chooses the name: the
/// confirmation mail must not carry it, nor characters that disguise text.
async fn mail_to_an_unconfirmed_address_carries_no_text_its_registrant_typed(app: TestApp) {
    let email = unique_email();
    let response = app
        .post_register(&json!({
            "email": email, "password": PASSWORD,
            "first_name": "Urgent", "last_name": "call +1 555 0100 to keep your account",
        }))
        .await;
    assert_eq!(response.status(), 201);
    let messages = app.messages_to(&email).await;
    assert_eq!(messages.len(), 1);
    // The typed phrase, not its digits alone: the link's port may hold them.
    assert!(
        !messages[0].body.contains("555 0100"),
        "{}",
        messages[0].body
    );
    assert!(
        !messages[0].body.contains("keep your account"),
        "{}",
        messages[0].body
    );
    assert!(!messages[0].body.contains("Urgent"), "{}", messages[0].body);

    for (field, disguised) in [
        ("first_name", "Ann\u{202E}nimda"),
        ("last_name", "Ad\u{200B}min"),
    ] {
        let response = app
            .post_register(
                &json!({"email": unique_email(), "password": PASSWORD, field: disguised}),
            )
            .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], field);
        assert_eq!(body["errors"][0]["code"], format!("invalid_{field}"));
    }
}

/// The per-IP windows of exists checks and email requests count each
/// request atomically before answering it: twenty sent at once, with a limit
/// of five, get five answers and fifteen refusals. (moto answers one call at
/// a time, so there the requests race between their calls, and the count
/// rests on DynamoDB's atomic ADD as on AWS.)
async fn parallel_requests_from_one_ip_pass_a_window_only_up_to_its_limit(app: TestApp) {
    within_one_window(60, Duration::from_secs(20)).await;
    let app = std::sync::Arc::new(app);
    for (path, ok) in [("exists", 200), ("forgot", 202)] {
        let requests: Vec<_> = (0..20)
            .map(|n| {
                let app = std::sync::Arc::clone(&app);
                let email = format!("parallel{n}@example.com");
                tokio::spawn(async move {
                    let response = match path {
                        "exists" => app.get(&format!("/v1/users/exists?email={email}")).await,
                        _ => {
                            app.post_json("/v1/password/forgot", &json!({"email": email}))
                                .await
                        }
                    };
                    response.status().as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap());
        }
        let answered = statuses.iter().filter(|status| **status == ok).count();
        let refused = statuses.iter().filter(|status| **status == 429).count();
        assert_eq!((answered, refused), (5, 15), "{path}: {statuses:?}");
    }
}

latchkey_tests::on_both_stores! {
    mail_to_an_unconfirmed_address_carries_no_text_its_registrant_typed;
    parallel_requests_from_one_ip_pass_a_window_only_up_to_its_limit
        with ("EXISTS_LIMIT_PER_IP", "5/60"), ("EMAIL_REQUEST_LIMIT_PER_IP", "5/60");
}
