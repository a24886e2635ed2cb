//! Email content: minijinja templates per kind and locale, text and HTML,
//! with links built only from the configured public base URL.

use std::sync::LazyLock;

use minijinja::{Environment, context};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Config;
use crate::domain::{Email, Locale, User};
use crate::ports::EmailMessage;
use crate::secrets::{OneTimeCode, SignInCode};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/email/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "confirm.en.subject",
    "confirm.en.txt",
    "confirm.en.html",
    "confirm.ru.subject",
    "confirm.ru.txt",
    "confirm.ru.html",
    "reset.en.subject",
    "reset.en.txt",
    "reset.en.html",
    "reset.ru.subject",
    "reset.ru.txt",
    "reset.ru.html",
    "password-changed.en.subject",
    "password-changed.en.txt",
    "password-changed.en.html",
    "password-changed.ru.subject",
    "password-changed.ru.txt",
    "password-changed.ru.html",
    "already-registered.en.subject",
    "already-registered.en.txt",
    "already-registered.en.html",
    "already-registered.ru.subject",
    "already-registered.ru.txt",
    "already-registered.ru.html",
    "factor-changed.en.subject",
    "factor-changed.en.txt",
    "factor-changed.en.html",
    "factor-changed.ru.subject",
    "factor-changed.ru.txt",
    "factor-changed.ru.html",
    "email-sign-in.en.subject",
    "email-sign-in.en.txt",
    "email-sign-in.en.html",
    "email-sign-in.ru.subject",
    "email-sign-in.ru.txt",
    "email-sign-in.ru.html",
    "email-change.en.subject",
    "email-change.en.txt",
    "email-change.en.html",
    "email-change.ru.subject",
    "email-change.ru.txt",
    "email-change.ru.html",
    "account-deleted.en.subject",
    "account-deleted.en.txt",
    "account-deleted.en.html",
    "account-deleted.ru.subject",
    "account-deleted.ru.txt",
    "account-deleted.ru.html",
];

/// Every kind of email, for the tests that render each in every locale.
pub const KINDS: [&str; 8] = [
    "confirm",
    "reset",
    "password-changed",
    "already-registered",
    "factor-changed",
    "email-sign-in",
    "email-change",
    "account-deleted",
];

/// What changed about an account's second factors, for its notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorChange<'a> {
    /// A factor, by its name, was proven and is on.
    Added(&'a str),
    /// A factor, by its name, was removed by its owner.
    Removed(&'a str),
    /// An admin or operator removed every factor.
    Reset,
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRenewed,
    /// A passkey, by its name, was added.
    PasskeyAdded(&'a str),
    /// A passkey, by its name, was removed by its owner.
    PasskeyRemoved(&'a str),
}

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    // `.html` templates are auto-escaped by name; text ones are not.
    for (name, source) in TEMPLATES {
        if let Err(error) = environment.add_template(name, source) {
            tracing::error!(template = name, %error, "email template does not compile");
        }
    }
    environment
});

/// The confirmation email for a new account, in the account's locale.
pub fn confirmation(config: &Config, user: &User, code: &OneTimeCode) -> EmailMessage {
    let mut link = public_link(config, &format!("v1/users/confirm/{}", code.as_str()));
    // Another type's link names it, for the page a failed link lands on
    // (asking for a new email there must ask in the same type). The code
    // alone decides which account is confirmed.
    if let Some(name) = user.user_type.stored_name() {
        link.push_str("?source=");
        link.push_str(name);
    }
    let hours = config.confirmation_code_ttl.as_secs() / 3600;
    // The link is a parsed `Url` plus a base64url code, so it holds no
    // character HTML needs escaped; escaping it would turn `/` into `&#x2f;`.
    let values = context! {
        name => greeting_name(user),
        link => minijinja::Value::from_safe_string(link.clone()),
        hours => hours,
    };
    render(
        "confirm",
        user.locale,
        user.email.as_str(),
        values,
        Some(link),
    )
}

/// The password-reset email: a link to the reset page with the code in the
/// fragment, which browsers never send to a server.
pub fn password_reset(config: &Config, user: &User, code: &OneTimeCode) -> EmailMessage {
    let mut url = config.password_reset_url.clone();
    // The page cannot know the account before the code is posted, so the
    // link tells it the language.
    url.query_pairs_mut()
        .append_pair("lang", user.locale.as_str());
    url.set_fragment(Some(&format!("token={}", code.as_str())));
    let link = url.to_string();
    let minutes = config.reset_code_ttl.as_secs() / 60;
    let values = context! {
        name => greeting_name(user),
        link => minijinja::Value::from_safe_string(link.clone()),
        minutes => minutes,
    };
    render(
        "reset",
        user.locale,
        user.email.as_str(),
        values,
        Some(link),
    )
}

/// A sign-in code by email: the code itself (to type where it was asked
/// for) and a link to the sign-in page with the address and code in the
/// fragment, which browsers never send to a server; the page posts them,
/// a GET spends nothing.
pub fn email_sign_in(
    config: &Config,
    user: &User,
    code: &SignInCode,
    valid_for: std::time::Duration,
) -> EmailMessage {
    let mut url = config.email_sign_in_url.clone();
    url.query_pairs_mut()
        .append_pair("lang", user.locale.as_str());
    let fragment: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", user.email.as_str())
        .append_pair("code", code.as_str())
        .finish();
    url.set_fragment(Some(&fragment));
    let link = url.to_string();
    let values = context! {
        name => greeting_name(user),
        code => code.as_str(),
        link => minijinja::Value::from_safe_string(link.clone()),
        minutes => valid_for.as_secs() / 60,
    };
    render(
        "email-sign-in",
        user.locale,
        user.email.as_str(),
        values,
        Some(link),
    )
}

/// What an email about a change of address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChangeStep<'a> {
    /// To the new address: the link that makes it the account's email.
    Confirm { code: &'a str },
    /// To the old address: a change to `new_email` was asked for.
    Requested { new_email: &'a Email },
    /// To the old address: the change to `new_email` is done.
    Changed { new_email: &'a Email },
}

/// An email about a change of the account's address, to `to` (the new
/// address to confirm it, the old one for the notices), in the account's
/// locale. The new address shows masked in the notices: whoever reads the
/// old mailbox learns that it changed and roughly where, not all of it.
pub fn email_change(
    config: &Config,
    user: &User,
    to: &Email,
    step: EmailChangeStep<'_>,
    at: OffsetDateTime,
) -> EmailMessage {
    let (name, link, new_email) = match step {
        EmailChangeStep::Confirm { code } => {
            let mut url = config.email_change_url.clone();
            url.query_pairs_mut()
                .append_pair("lang", user.locale.as_str());
            url.set_fragment(Some(&format!("code={code}")));
            ("confirm", Some(url.to_string()), None)
        }
        EmailChangeStep::Requested { new_email } => ("requested", None, Some(new_email.masked())),
        EmailChangeStep::Changed { new_email } => ("changed", None, Some(new_email.masked())),
    };
    let values = context! {
        name => greeting_name(user),
        step => name,
        link => link.clone().map(minijinja::Value::from_safe_string),
        new_email => new_email,
        hours => config.confirmation_code_ttl.as_secs() / 3600,
        at => at.format(&Rfc3339).unwrap_or_default(),
    };
    render("email-change", user.locale, to.as_str(), values, link)
}

/// The goodbye after an account's deletion, to the address it had.
pub fn account_deleted(user: &User, by_admin: bool, at: OffsetDateTime) -> EmailMessage {
    let values = context! {
        name => greeting_name(user),
        by_admin => by_admin,
        at => at.format(&Rfc3339).unwrap_or_default(),
    };
    render(
        "account-deleted",
        user.locale,
        user.email.as_str(),
        values,
        None,
    )
}

/// The notice after a password change or reset, so an owner who did not
/// make it learns of it.
pub fn password_changed(user: &User, at: OffsetDateTime) -> EmailMessage {
    let values = context! {
        name => greeting_name(user),
        at => at.format(&Rfc3339).unwrap_or_default(),
    };
    render(
        "password-changed",
        user.locale,
        user.email.as_str(),
        values,
        None,
    )
}

/// The notice after any change of the account's second factors, so an
/// owner who did not make it learns of it. The factor's name is the
/// owner's own text, and only confirmed accounts have factors.
pub fn factor_changed(user: &User, change: FactorChange<'_>, at: OffsetDateTime) -> EmailMessage {
    let (change, factor) = match change {
        FactorChange::Added(name) => ("added", Some(name)),
        FactorChange::Removed(name) => ("removed", Some(name)),
        FactorChange::Reset => ("reset", None),
        FactorChange::RecoveryCodesRenewed => ("recovery-codes", None),
        FactorChange::PasskeyAdded(name) => ("passkey-added", Some(name)),
        FactorChange::PasskeyRemoved(name) => ("passkey-removed", Some(name)),
    };
    let values = context! {
        name => greeting_name(user),
        change => change,
        factor => factor,
        at => at.format(&Rfc3339).unwrap_or_default(),
    };
    render(
        "factor-changed",
        user.locale,
        user.email.as_str(),
        values,
        None,
    )
}

/// To the owner of an address someone tried to register again, when
/// registration does not reveal existing addresses: the caller got the
/// answer a new registration gets, the owner learns of the attempt.
pub fn already_registered(user: &User) -> EmailMessage {
    render(
        "already-registered",
        user.locale,
        user.email.as_str(),
        context! { name => greeting_name(user) },
        None,
    )
}

/// The name a message greets its reader by: none until the address is
/// confirmed, so nobody can make mail to someone else's address carry text
/// of their choosing (a phishing line in the "name").
fn greeting_name(user: &User) -> Option<String> {
    if user.email_confirmed {
        user.full_name()
    } else {
        None
    }
}

/// `<PUBLIC_BASE_URL>/<path>`, whatever the base's trailing slash.
fn public_link(config: &Config, path: &str) -> String {
    format!(
        "{}/{}",
        config.public_base_url.as_str().trim_end_matches('/'),
        path
    )
}

fn render(
    kind: &str,
    locale: Locale,
    to: &str,
    values: minijinja::Value,
    link: Option<String>,
) -> EmailMessage {
    let part = |extension: &str| {
        let name = format!("{kind}.{}.{extension}", locale.as_str());
        ENVIRONMENT
            .get_template(&name)
            .and_then(|template| template.render(&values))
            .unwrap_or_else(|error| {
                // Templates are compiled into the binary and covered by tests;
                // this is a programming error, logged rather than panicking.
                tracing::error!(template = %name, %error, "email template failed");
                String::new()
            })
    };
    EmailMessage {
        to: to.to_owned(),
        subject: part("subject").trim().to_owned(),
        text: part("txt"),
        html: part("html"),
        link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, PersonName};

    fn config() -> Config {
        Config::from_lookup(|name| {
            match name {
                "TABLE_NAME" => Some("t"),
                "KMS_KEY_ID" => Some("k"),
                "MAIL_FROM" => Some("from@example.com"),
                "PUBLIC_BASE_URL" => Some("https://auth.example.com/base/"),
                _ => None,
            }
            .map(str::to_owned)
        })
        .unwrap()
    }

    /// Ann, whose address is confirmed.
    fn user(locale: Locale) -> User {
        let now = OffsetDateTime::now_utc();
        User {
            first_name: PersonName::parse("Ann <b>").ok(),
            locale,
            email_confirmed: true,
            ..User::new(Email::parse("Ann@Example.com").unwrap(), now)
        }
    }

    #[test]
    fn mail_to_an_unconfirmed_address_carries_no_name_someone_typed() {
        let unconfirmed = User {
            first_name: PersonName::parse("Your bank: call +1 555 0100").ok(),
            email_confirmed: false,
            ..user(Locale::En)
        };
        let code = OneTimeCode::generate();
        for message in [
            confirmation(&config(), &unconfirmed, &code),
            password_reset(&config(), &unconfirmed, &code),
            password_changed(&unconfirmed, OffsetDateTime::UNIX_EPOCH),
        ] {
            assert!(!message.text.contains("bank"), "{}", message.text);
            assert!(!message.html.contains("bank"), "{}", message.html);
            assert!(message.text.starts_with("Hello,"), "{}", message.text);
        }
    }

    #[test]
    fn the_confirmation_email_links_to_the_public_base_url_and_goes_to_the_stored_address() {
        let code = OneTimeCode::generate();
        let message = confirmation(&config(), &user(Locale::En), &code);
        let link = format!(
            "https://auth.example.com/base/v1/users/confirm/{}",
            code.as_str()
        );
        assert_eq!(message.to, "Ann@Example.com");
        assert_eq!(message.subject, "Confirm your email address");
        assert!(message.text.contains(&link), "{}", message.text);
        assert!(message.html.contains(&link), "{}", message.html);
        assert!(message.text.contains("24 hours"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let message = password_reset(&config(), &user(Locale::En), &OneTimeCode::generate());
        assert!(message.html.contains("Ann &lt;b&gt;"), "{}", message.html);
        assert!(message.text.contains("Ann <b>"));
    }

    #[test]
    fn every_kind_renders_in_every_locale_as_subject_text_and_html() {
        for locale in [Locale::En, Locale::Ru] {
            let user = user(locale);
            let code = OneTimeCode::generate();
            let messages = [
                confirmation(&config(), &user, &code),
                password_reset(&config(), &user, &code),
                password_changed(&user, OffsetDateTime::UNIX_EPOCH),
                already_registered(&user),
                factor_changed(&user, FactorChange::Reset, OffsetDateTime::UNIX_EPOCH),
                email_sign_in(
                    &config(),
                    &user,
                    &SignInCode::generate(),
                    std::time::Duration::from_secs(600),
                ),
                email_change(
                    &config(),
                    &user,
                    &user.email,
                    EmailChangeStep::Changed {
                        new_email: &Email::parse("new@example.com").unwrap(),
                    },
                    OffsetDateTime::UNIX_EPOCH,
                ),
                account_deleted(&user, true, OffsetDateTime::UNIX_EPOCH),
            ];
            assert_eq!(messages.len(), KINDS.len());
            for message in &messages {
                assert!(!message.subject.is_empty(), "{locale:?}: {message:?}");
                assert!(
                    message.text.contains("Ann <b>"),
                    "{locale:?}: {}",
                    message.text
                );
                assert!(
                    message
                        .html
                        .contains(&format!("lang=\"{}\"", locale.as_str()))
                );
            }
            let english_or_not = messages[1].text.contains("Someone asked");
            assert_eq!(english_or_not, locale == Locale::En);
        }
    }

    #[test]
    fn the_reset_email_carries_the_code_in_the_fragment_of_the_reset_page() {
        let code = OneTimeCode::generate();
        let message = password_reset(&config(), &user(Locale::En), &code);
        let link = format!(
            "https://auth.example.com/base/pages/reset-password?lang=en#token={}",
            code.as_str()
        );
        assert_eq!(message.subject, "Reset your password");
        assert!(message.text.contains(&link), "{}", message.text);
        assert!(
            message.html.contains(&format!("href=\"{link}\"")),
            "{}",
            message.html
        );
        assert!(message.text.contains("60 minutes"));
        assert_eq!(message.link.as_deref(), Some(link.as_str()));
    }

    #[test]
    fn the_password_changed_notice_names_the_time_and_has_no_link() {
        let message = password_changed(&user(Locale::Ru), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(message.subject, "Ваш пароль изменён");
        assert!(
            message.text.contains("1970-01-01T00:00:00Z"),
            "{}",
            message.text
        );
        assert_eq!(message.link, None);
    }

    #[test]
    fn each_factor_change_has_its_own_notice_naming_the_factor() {
        let at = OffsetDateTime::UNIX_EPOCH;
        for locale in [Locale::En, Locale::Ru] {
            let user = user(locale);
            let notices = [
                factor_changed(&user, FactorChange::Added("Phone <1>"), at),
                factor_changed(&user, FactorChange::Removed("Phone <1>"), at),
                factor_changed(&user, FactorChange::Reset, at),
                factor_changed(&user, FactorChange::RecoveryCodesRenewed, at),
                factor_changed(&user, FactorChange::PasskeyAdded("Phone <1>"), at),
                factor_changed(&user, FactorChange::PasskeyRemoved("Phone <1>"), at),
            ];
            let subjects: std::collections::HashSet<_> = notices
                .iter()
                .map(|notice| notice.subject.clone())
                .collect();
            assert_eq!(subjects.len(), notices.len(), "{locale:?}");
            // Each notice about one named factor or passkey names it.
            for notice in [&notices[0], &notices[1], &notices[4], &notices[5]] {
                assert!(notice.text.contains("Phone <1>"), "{}", notice.text);
                assert!(notice.html.contains("Phone &lt;1&gt;"), "{}", notice.html);
            }
            for notice in &notices {
                assert!(
                    notice.text.contains("1970-01-01T00:00:00Z"),
                    "{}",
                    notice.text
                );
                assert_eq!(notice.link, None);
            }
        }
    }

    #[test]
    fn the_sign_in_email_carries_the_code_and_a_link_with_it_in_the_fragment() {
        let code = SignInCode::typed("012345").unwrap();
        let message = email_sign_in(
            &config(),
            &user(Locale::En),
            &code,
            std::time::Duration::from_secs(600),
        );
        assert_eq!(message.subject, "Your sign-in code: 012345");
        let link = "https://auth.example.com/base/pages/email-sign-in?lang=en#email=Ann%40Example.com&code=012345";
        assert!(message.text.contains(link), "{}", message.text);
        assert!(message.text.contains("10 minutes"), "{}", message.text);
        assert!(
            message.html.contains(&format!("href=\"{link}\"")),
            "{}",
            message.html
        );
        assert_eq!(message.link.as_deref(), Some(link));
    }

    #[test]
    fn a_russian_account_gets_a_russian_email() {
        let message = confirmation(&config(), &user(Locale::Ru), &OneTimeCode::generate());
        assert_eq!(message.subject, "Подтвердите адрес электронной почты");
        assert!(message.text.contains("Здравствуйте"));
        assert!(message.html.contains("lang=\"ru\""));
    }
}
