//! The pages people land on from an email, served by the API itself: the
//! confirmation result (with a form to ask for a new email), the
//! reset-password form, and the sign-in-by-code form. The first two are
//! plain HTML forms that work without JavaScript; one small script of our
//! own moves codes out of the URL fragment (and posts the sign-in form to
//! the API, which answers JSON).
//! Strict headers: a CSP without inline script, no third-party assets, no
//! Referer, no framing.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::{Body, Request, RequestExt, Response};
use latchkey::App;
use latchkey::domain::Locale;
use latchkey::http::body::{FieldValue, Fields};
use latchkey::http::forms;
use latchkey::http::{ApiError, RequestMeta, i18n, parse_fields};
use latchkey::services::resend::resend_confirmation;
use latchkey::services::reset::reset_password;
use minijinja::{Environment, context};
use serde::Serialize;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    for (name, source) in [
        (
            "confirmation.html",
            include_str!("../../templates/pages/confirmation.html"),
        ),
        (
            "reset-password.html",
            include_str!("../../templates/pages/reset-password.html"),
        ),
        (
            "email-sign-in.html",
            include_str!("../../templates/pages/email-sign-in.html"),
        ),
        (
            "email-change.html",
            include_str!("../../templates/pages/email-change.html"),
        ),
        (
            "passkeys.html",
            include_str!("../../templates/pages/passkeys.html"),
        ),
    ] {
        if let Err(error) = environment.add_template(name, source) {
            tracing::error!(template = name, %error, "page template does not compile");
        }
    }
    environment
});

const STYLESHEET: &str = include_str!("../../templates/pages/pages.css");
const SCRIPT: &str = include_str!("../../templates/pages/pages.js");

/// Scripts and styles only from this origin, nothing inline, forms and
/// requests only to this origin, never inside a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Every word the pages show, per language.
#[derive(Debug, Serialize)]
pub struct Texts {
    pub lang: &'static str,
    pub confirmation_title: &'static str,
    pub confirmed: &'static str,
    pub already_confirmed: &'static str,
    pub invalid_link: &'static str,
    pub resend_intro: &'static str,
    pub email_label: &'static str,
    pub resend_button: &'static str,
    pub resend_sent: &'static str,
    pub rate_limited: &'static str,
    pub reset_title: &'static str,
    pub reset_intro: &'static str,
    pub code_label: &'static str,
    pub code_hint: &'static str,
    pub password_label: &'static str,
    pub password_hint: &'static str,
    pub repeat_label: &'static str,
    pub mismatch: &'static str,
    pub reset_button: &'static str,
    pub reset_done: &'static str,
    pub reset_invalid: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_intro: &'static str,
    pub sign_in_code_label: &'static str,
    pub sign_in_button: &'static str,
    pub sign_in_done: &'static str,
    pub sign_in_mfa: &'static str,
    pub sign_in_failed: &'static str,
    pub passkeys_title: &'static str,
    pub passkey_sign_in_intro: &'static str,
    pub passkey_sign_in_button: &'static str,
    pub password_sign_in_intro: &'static str,
    pub password_sign_in_label: &'static str,
    pub passkeys_signed_in: &'static str,
    pub passkeys_heading: &'static str,
    pub passkeys_none: &'static str,
    pub passkey_name_label: &'static str,
    pub add_passkey_button: &'static str,
    pub passkey_added: &'static str,
    pub sign_out_button: &'static str,
    pub passkeys_failed: &'static str,
    pub passkeys_unsupported: &'static str,
    pub passkeys_mfa: &'static str,
    pub email_change_title: &'static str,
    pub email_change_intro: &'static str,
    pub email_change_button: &'static str,
    pub email_change_done: &'static str,
    pub email_change_failed: &'static str,
}

pub fn texts(locale: Locale) -> Texts {
    match locale {
        Locale::En => Texts {
            lang: "en",
            confirmation_title: "Email confirmation",
            confirmed: "Your email address is confirmed. You can sign in now.",
            already_confirmed: "This email address was confirmed already. You can sign in.",
            invalid_link: "This confirmation link is invalid or has expired.",
            resend_intro: "Enter your email address and we will send a new confirmation link.",
            email_label: "Email address",
            resend_button: "Send a new link",
            resend_sent: "If an account with this address is waiting for confirmation, a new email is on its way.",
            rate_limited: "Too many requests. Please try again later.",
            reset_title: "Choose a new password",
            reset_intro: "Enter your new password twice.",
            code_label: "Reset code",
            code_hint: "The part after #token= in the link from the email.",
            password_label: "New password",
            password_hint: "At least {min} characters. Avoid common passwords and your email address.",
            repeat_label: "Repeat the new password",
            mismatch: "The passwords do not match.",
            reset_button: "Change password",
            reset_done: "Your password has been changed and every session signed out. Sign in with the new password.",
            reset_invalid: "This reset link is invalid, expired or already used. Ask for a new one.",
            sign_in_title: "Sign in with a code",
            sign_in_intro: "Enter your email address and the six-digit code from the email.",
            sign_in_code_label: "Code",
            sign_in_button: "Sign in",
            sign_in_done: "You are signed in.",
            sign_in_mfa: "The code is right; your account also asks for a second factor. Finish signing in in the app.",
            sign_in_failed: "The code could not be checked. Please try again.",
            passkeys_title: "Passkeys",
            passkey_sign_in_intro: "Sign in with a passkey: your device's fingerprint, face or screen lock, or a security key.",
            passkey_sign_in_button: "Sign in with a passkey",
            password_sign_in_intro: "Or sign in with your password, to add a passkey.",
            password_sign_in_label: "Password",
            passkeys_signed_in: "You are signed in.",
            passkeys_heading: "Your passkeys",
            passkeys_none: "No passkeys yet.",
            passkey_name_label: "Name of the new passkey (optional)",
            add_passkey_button: "Add a passkey",
            passkey_added: "The passkey is added. You can sign in with it from now on.",
            sign_out_button: "Sign out",
            passkeys_failed: "That did not work. Please try again.",
            passkeys_unsupported: "This browser cannot use passkeys.",
            passkeys_mfa: "Your account also asks for a second factor. Finish signing in in the app.",
            email_change_title: "Confirm your new email address",
            email_change_intro: "Confirm to make this address the email of your account. Other signed-in sessions will be signed out.",
            email_change_button: "Confirm the new address",
            email_change_done: "Your account's email address is changed. Sign in with the new address.",
            email_change_failed: "This link is invalid, expired or already used.",
        },
        Locale::Ru => Texts {
            lang: "ru",
            confirmation_title: "Подтверждение адреса",
            confirmed: "Адрес электронной почты подтверждён. Теперь можно войти.",
            already_confirmed: "Этот адрес уже был подтверждён. Можно войти.",
            invalid_link: "Ссылка подтверждения недействительна или устарела.",
            resend_intro: "Введите адрес электронной почты, и мы пришлём новую ссылку.",
            email_label: "Адрес электронной почты",
            resend_button: "Прислать новую ссылку",
            resend_sent: "Если учётная запись с этим адресом ждёт подтверждения, новое письмо уже в пути.",
            rate_limited: "Слишком много запросов. Попробуйте позже.",
            reset_title: "Новый пароль",
            reset_intro: "Введите новый пароль дважды.",
            code_label: "Код сброса",
            code_hint: "Часть ссылки из письма после #token=.",
            password_label: "Новый пароль",
            password_hint: "Не короче {min} символов. Не используйте распространённые пароли и свой адрес почты.",
            repeat_label: "Повторите новый пароль",
            mismatch: "Пароли не совпадают.",
            reset_button: "Сменить пароль",
            reset_done: "Пароль изменён, все сеансы завершены. Войдите с новым паролем.",
            reset_invalid: "Ссылка для сброса недействительна, устарела или уже использована. Запросите новую.",
            sign_in_title: "Вход по коду",
            sign_in_intro: "Введите адрес электронной почты и шестизначный код из письма.",
            sign_in_code_label: "Код",
            sign_in_button: "Войти",
            sign_in_done: "Вы вошли.",
            sign_in_mfa: "Код верен; ваша учётная запись требует ещё второй фактор. Завершите вход в приложении.",
            sign_in_failed: "Не удалось проверить код. Попробуйте ещё раз.",
            passkeys_title: "Ключи доступа",
            passkey_sign_in_intro: "Войдите с ключом доступа: отпечатком пальца, лицом или блокировкой экрана устройства либо ключом безопасности.",
            passkey_sign_in_button: "Войти с ключом доступа",
            password_sign_in_intro: "Или войдите с паролем, чтобы добавить ключ доступа.",
            password_sign_in_label: "Пароль",
            passkeys_signed_in: "Вы вошли.",
            passkeys_heading: "Ваши ключи доступа",
            passkeys_none: "Ключей доступа пока нет.",
            passkey_name_label: "Название нового ключа (необязательно)",
            add_passkey_button: "Добавить ключ доступа",
            passkey_added: "Ключ доступа добавлен. Теперь с ним можно входить.",
            sign_out_button: "Выйти",
            passkeys_failed: "Не получилось. Попробуйте ещё раз.",
            passkeys_unsupported: "Этот браузер не умеет работать с ключами доступа.",
            passkeys_mfa: "Ваша учётная запись требует ещё второй фактор. Завершите вход в приложении.",
            email_change_title: "Подтвердите новый адрес",
            email_change_intro: "Подтвердите, чтобы этот адрес стал адресом вашей учётной записи. Остальные сеансы будут завершены.",
            email_change_button: "Подтвердить новый адрес",
            email_change_done: "Адрес вашей учётной записи изменён. Входите с новым адресом.",
            email_change_failed: "Ссылка недействительна, устарела или уже использована.",
        },
    }
}

/// `lang` from the query or the form, else `Accept-Language`.
fn page_locale(request: &Request, fields: Option<&Fields>, meta: &RequestMeta) -> Locale {
    let from_form = fields.and_then(|fields| match fields.text("lang") {
        FieldValue::Text(text) => Locale::parse(text).ok(),
        _ => None,
    });
    let from_query = || query(request, "lang").and_then(|text| Locale::parse(&text).ok());
    from_form.or_else(from_query).unwrap_or(meta.locale)
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|query| query.first(name))
        .map(str::to_owned)
}

fn render(template: &str, values: minijinja::Value) -> Result<String, ApiError> {
    TEMPLATES
        .get_template(template)
        .and_then(|template| template.render(values))
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

/// An HTML page with the headers every page carries.
pub fn page_response(status: StatusCode, html: String) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY")
        .header("x-content-type-options", "nosniff")
        .header(CACHE_CONTROL, "no-store")
        .body(Body::Text(html))
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

fn ensure_enabled(app: &App) -> Result<(), ApiError> {
    if app.config.pages_enabled {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /pages/confirmation` shows where the confirmation link led;
/// `POST` (a form with `email`) asks for a new confirmation email.
pub async fn confirmation(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(app)?;
    if request.method() == http::Method::GET {
        let locale = page_locale(&request, None, meta);
        let state = match (query(&request, "confirmed"), query(&request, "error")) {
            (Some(value), _) if value == "true" => "confirmed",
            (Some(value), _) if value == "already" => "already",
            (_, Some(_)) => "invalid",
            _ => "form",
        };
        // The type a new confirmation email is asked for in: the link's,
        // when it names one this deployment has.
        let source = query(&request, "source")
            .filter(|name| app.config.user_types.source(Some(name)).is_ok());
        let html = render(
            "confirmation.html",
            context! { t => texts(locale), state => state, email => "", source => source },
        )?;
        return page_response(StatusCode::OK, html);
    }
    let fields = parse_fields(&request)?;
    let locale = page_locale(&request, Some(&fields), meta);
    let user_type = forms::source_named(
        match fields.text("source") {
            FieldValue::Text(text) => Some(text),
            _ => None,
        },
        &app.config.user_types,
    )
    .map_err(|error| ApiError::Validation(vec![error]))?;
    let source = user_type.stored_name().map(str::to_owned);
    let typed = match fields.text("email") {
        FieldValue::Text(text) => text.trim().to_owned(),
        _ => String::new(),
    };
    let email = match forms::email(&typed) {
        Ok(email) => email,
        Err(error) => {
            let message = i18n::field_message(error.code, None, locale);
            let html = render(
                "confirmation.html",
                context! { t => texts(locale), state => "form", email => typed, email_error => message, source => source },
            )?;
            return page_response(StatusCode::BAD_REQUEST, html);
        }
    };
    match resend_confirmation(app, &meta.client_ip, &email, &user_type)
        .await
        .map_err(ApiError::from)
    {
        Ok(()) => {
            let html = render(
                "confirmation.html",
                context! { t => texts(locale), state => "sent" },
            )?;
            page_response(StatusCode::OK, html)
        }
        Err(ApiError::RateLimited {
            retry_after_seconds,
        }) => {
            let html = render(
                "confirmation.html",
                context! { t => texts(locale), state => "limited", email => typed, source => source },
            )?;
            let mut response = page_response(StatusCode::TOO_MANY_REQUESTS, html)?;
            response
                .headers_mut()
                .insert(RETRY_AFTER, retry_after_seconds.into());
            Ok(response)
        }
        Err(other) => Err(other),
    }
}

/// `GET /pages/reset-password` shows the form and never touches the code
/// (mail scanners open links); `POST` spends it.
pub async fn reset(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(app)?;
    let min_length = app.config.password_policy.min_len();
    if request.method() == http::Method::GET {
        let locale = page_locale(&request, None, meta);
        let html = render(
            "reset-password.html",
            context! {
                t => texts(locale),
                state => "form",
                token => "",
                errors => BTreeMap::<String, String>::new(),
                min_length => min_length,
            },
        )?;
        return page_response(StatusCode::OK, html);
    }
    let fields = parse_fields(&request)?;
    let locale = page_locale(&request, Some(&fields), meta);
    let token = match fields.text("token") {
        FieldValue::Text(text) => text.trim().to_owned(),
        _ => String::new(),
    };
    let outcome = match forms::reset(&fields) {
        Ok((token, password)) => reset_password(app, &token, &password)
            .await
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    let (status, state, errors) = match outcome {
        Ok(_) => (StatusCode::OK, "done", BTreeMap::new()),
        Err(ApiError::InvalidResetToken) => (StatusCode::BAD_REQUEST, "invalid", BTreeMap::new()),
        Err(ApiError::Validation(fields)) => {
            let errors: BTreeMap<String, String> = fields
                .into_iter()
                .map(|field| {
                    let message = i18n::field_message(field.code, field.detail.as_deref(), locale);
                    (field.field, message)
                })
                .collect();
            // Without a code there is nothing to reset with.
            if errors.contains_key("token") {
                (StatusCode::BAD_REQUEST, "invalid", BTreeMap::new())
            } else {
                (StatusCode::BAD_REQUEST, "form", errors)
            }
        }
        Err(other) => return Err(other),
    };
    let html = render(
        "reset-password.html",
        context! {
            t => texts(locale),
            state => state,
            token => token,
            errors => errors,
            min_length => min_length,
        },
    )?;
    page_response(status, html)
}

/// A page whose script does the work: only the texts of its language.
fn scripted_page(
    app: &App,
    meta: &RequestMeta,
    request: &Request,
    template: &str,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(app)?;
    let locale = page_locale(request, None, meta);
    let html = render(template, context! { t => texts(locale) })?;
    page_response(StatusCode::OK, html)
}

/// `GET /pages/email-sign-in`: the form an emailed sign-in link opens,
/// filled from the link's fragment by the page's script, which posts it to
/// `POST /v1/auth/email-code/verify`. Showing it spends nothing.
pub async fn email_sign_in(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    if !app.config.email_sign_in_enabled {
        return Err(ApiError::NotFound);
    }
    scripted_page(app, meta, &request, "email-sign-in.html")
}

/// `GET /pages/email-change`: where the link that confirms a new email
/// address leads; the page's script takes the code from the fragment and
/// posts it to `POST /v1/users/me/email/confirm` when the person confirms
/// (showing the page changes nothing).
pub async fn email_change(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    scripted_page(app, meta, &request, "email-change.html")
}

/// `GET /pages/passkeys`: sign in with a passkey, or with the password to
/// add one; the page's script runs the ceremonies through the API and
/// keeps the token pair in the tab's `sessionStorage`, as the email
/// sign-in page does.
pub async fn passkeys(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    scripted_page(app, meta, &request, "passkeys.html")
}

/// `GET /pages/assets/{file}`: the pages' stylesheet and script.
pub async fn asset(
    app: &App,
    _meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    ensure_enabled(app)?;
    let file = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("file"))
        .unwrap_or_default();
    let (content_type, body) = match file {
        "pages.css" => ("text/css; charset=utf-8", STYLESHEET),
        "pages.js" => ("text/javascript; charset=utf-8", SCRIPT),
        _ => return Err(ApiError::NotFound),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type)
        .header("x-content-type-options", "nosniff")
        .header(CACHE_CONTROL, "public, max-age=300")
        .body(Body::Text(body.to_owned()))
        .map_err(|error| ApiError::Internal(Box::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_text_is_translated() {
        let english = serde_json::to_value(texts(Locale::En)).unwrap();
        let russian = serde_json::to_value(texts(Locale::Ru)).unwrap();
        for (key, value) in english.as_object().unwrap() {
            assert!(!value.as_str().unwrap().is_empty(), "{key}");
            assert_ne!(value, &russian[key], "{key} is not translated");
        }
    }

    #[test]
    fn both_pages_render_in_both_languages_without_inline_script() {
        for locale in [Locale::En, Locale::Ru] {
            for (template, state) in [
                ("confirmation.html", "form"),
                ("confirmation.html", "confirmed"),
                ("reset-password.html", "form"),
                ("reset-password.html", "done"),
                ("email-sign-in.html", "form"),
                ("passkeys.html", "form"),
                ("email-change.html", "form"),
            ] {
                let html = render(
                    template,
                    context! {
                        t => texts(locale),
                        state => state,
                        token => "",
                        errors => BTreeMap::<String, String>::new(),
                        min_length => 8,
                    },
                )
                .unwrap();
                assert!(html.contains(&format!("lang=\"{}\"", locale.as_str())));
                assert!(!html.contains("<script>"), "{template}");
                assert!(!html.contains("style="), "{template}");
            }
        }
    }
}
