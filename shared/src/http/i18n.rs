//! The message catalogue: problem titles and details, field messages, in
//! every supported locale, and the choice of locale from `Accept-Language`.

use crate::domain::Locale;
use crate::http::{ErrorCode, FieldCode};

/// Picks the first supported language by descending q-value; `en` when
/// nothing matches or the header is absent.
pub fn negotiate(accept_language: Option<&str>) -> Locale {
    let Some(header) = accept_language else {
        return Locale::default();
    };
    accept_language::parse_with_quality(header)
        .into_iter()
        .filter(|(_, quality)| *quality > 0.0)
        .find_map(|(tag, _)| Locale::parse(&tag).ok())
        .unwrap_or_default()
}

/// `(title, detail)` of a problem code.
pub fn problem_text(code: ErrorCode, locale: Locale) -> (&'static str, &'static str) {
    match locale {
        Locale::En => problem_en(code),
        Locale::Ru => problem_ru(code),
    }
}

fn problem_en(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::ValidationFailed => (
            "Validation failed",
            "One or more fields are invalid; see errors.",
        ),
        ErrorCode::MalformedBody => (
            "Malformed body",
            "The request body is not a valid JSON object or form.",
        ),
        ErrorCode::UnsupportedMediaType => (
            "Unsupported media type",
            "Send application/json or application/x-www-form-urlencoded.",
        ),
        ErrorCode::PayloadTooLarge => (
            "Payload too large",
            "The request body is larger than 64 KiB.",
        ),
        ErrorCode::EmailTaken => (
            "Email already registered",
            "An account with this email already exists.",
        ),
        ErrorCode::LoginTaken => (
            "Login already taken",
            "An account with this login already exists.",
        ),
        ErrorCode::InvalidConfirmationCode => (
            "Invalid confirmation code",
            "The confirmation link is unknown or has expired. Ask for a new one.",
        ),
        ErrorCode::InvalidResetToken => (
            "Invalid reset link",
            "The password reset link is unknown, expired or already used. Ask for a new one.",
        ),
        ErrorCode::InvalidCredentials => {
            ("Invalid credentials", "The login or password is incorrect.")
        }
        ErrorCode::Forbidden => ("Forbidden", "Your account may not do this."),
        ErrorCode::UserNotFound => ("User not found", "There is no user with this id."),
        ErrorCode::AddressExists => (
            "Address already added",
            "This address is already on your account.",
        ),
        ErrorCode::AddressNotFound => (
            "Address not found",
            "There is no address with this id on your account.",
        ),
        ErrorCode::EmailNotConfirmed => (
            "Email not confirmed",
            "Confirm your email address with the link we sent before signing in.",
        ),
        ErrorCode::AccountDisabled => ("Account disabled", "This account has been disabled."),
        ErrorCode::InvalidClient => ("Invalid client", "The client id or secret is incorrect."),
        ErrorCode::UnsupportedGrantType => (
            "Unsupported grant type",
            "This endpoint supports grant_type=client_credentials only.",
        ),
        ErrorCode::InvalidScope => (
            "Invalid scope",
            "A requested scope is not allowed for this client.",
        ),
        ErrorCode::InvalidToken => (
            "Invalid token",
            "The token (access or refresh) is missing, invalid, expired or no longer valid.",
        ),
        ErrorCode::NotFound => ("Not found", "There is nothing at this address."),
        ErrorCode::MfaRequired => (
            "Second factor required",
            "The first step is done; finish signing in with a code from your authenticator app, a passkey or a recovery code.",
        ),
        ErrorCode::InvalidCode => (
            "Invalid code",
            "The code is wrong, was used already, or has expired.",
        ),
        ErrorCode::InvalidEnrolmentCode => (
            "Code not accepted",
            "The code does not match the authenticator app being added; check the device's clock and try the current code.",
        ),
        ErrorCode::ReauthenticationRequired => (
            "Sign in again",
            "This change needs a recent sign-in: sign in again, or send your current password with the request.",
        ),
        ErrorCode::InvalidCredential => (
            "Passkey not accepted",
            "The passkey was not recognised, or the sign-in took too long or was used already; start again.",
        ),
        ErrorCode::InvalidRegistration => (
            "Passkey not added",
            "The new passkey was not accepted: the request may have taken too long, come from another site, or the passkey is registered already; start again.",
        ),
        ErrorCode::PasskeyNotFound => (
            "Passkey not found",
            "The account has no passkey with this id.",
        ),
        ErrorCode::SessionNotFound => (
            "Session not found",
            "The account has no session with this id; it may have ended already.",
        ),
        ErrorCode::InvalidRequest => (
            "Invalid request",
            "The sign-in cannot start: a parameter is missing or not allowed (see errors).",
        ),
        ErrorCode::ProviderNotFound => (
            "Provider not found",
            "No sign-in provider with this id is configured.",
        ),
        ErrorCode::InvalidGrant => (
            "Sign-in code not accepted",
            "The code is unknown, used already or expired, or the code verifier does not match; sign in again.",
        ),
        ErrorCode::InvalidState => (
            "Sign-in not recognised",
            "This answer from the provider belongs to no sign-in under way; start again from the app.",
        ),
        ErrorCode::IdentityNotFound => (
            "Identity not found",
            "The account has no linked provider account with this id.",
        ),
        ErrorCode::LastSignInMethod => (
            "Last way to sign in",
            "This is the account's only way to sign in; set a password or add a passkey first.",
        ),
        ErrorCode::FactorLimit => (
            "Too many factors",
            "The account holds as many second factors as it may; remove one first.",
        ),
        ErrorCode::FactorNotFound => ("Factor not found", "The account has no such second factor."),
        ErrorCode::MethodNotAllowed => (
            "Method not allowed",
            "This address does not accept this method.",
        ),
        ErrorCode::RateLimited => (
            "Too many requests",
            "Too many requests from this client. Retry after the time in Retry-After.",
        ),
        ErrorCode::TooManyAttempts => (
            "Too many sign-in attempts",
            "Too many failed sign-in attempts. Retry after the time in Retry-After, or reset the password.",
        ),
        ErrorCode::ServiceUnavailable => (
            "Service unavailable",
            "The service is busy. Retry after a short pause.",
        ),
        ErrorCode::InternalError => (
            "Internal error",
            "Something went wrong on our side. Please try again.",
        ),
    }
}

fn problem_ru(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::ValidationFailed => (
            "Ошибка проверки данных",
            "Одно или несколько полей заполнены неверно; см. errors.",
        ),
        ErrorCode::MalformedBody => (
            "Некорректное тело запроса",
            "Тело запроса не является корректным JSON-объектом или формой.",
        ),
        ErrorCode::UnsupportedMediaType => (
            "Неподдерживаемый тип данных",
            "Отправляйте application/json или application/x-www-form-urlencoded.",
        ),
        ErrorCode::PayloadTooLarge => ("Слишком большой запрос", "Тело запроса больше 64 КиБ."),
        ErrorCode::EmailTaken => (
            "Адрес уже зарегистрирован",
            "Учётная запись с этим адресом уже существует.",
        ),
        ErrorCode::LoginTaken => (
            "Логин уже занят",
            "Учётная запись с этим логином уже существует.",
        ),
        ErrorCode::InvalidConfirmationCode => (
            "Неверный код подтверждения",
            "Ссылка подтверждения неизвестна или устарела. Запросите новую.",
        ),
        ErrorCode::InvalidResetToken => (
            "Недействительная ссылка сброса",
            "Ссылка для сброса пароля неизвестна, устарела или уже использована. Запросите новую.",
        ),
        ErrorCode::InvalidCredentials => ("Неверные учётные данные", "Неверный логин или пароль."),
        ErrorCode::Forbidden => (
            "Доступ запрещён",
            "Вашей учётной записи это действие не разрешено.",
        ),
        ErrorCode::UserNotFound => ("Пользователь не найден", "Пользователя с таким id нет."),
        ErrorCode::AddressExists => (
            "Адрес уже добавлен",
            "Этот адрес уже есть в вашей учётной записи.",
        ),
        ErrorCode::AddressNotFound => (
            "Адрес не найден",
            "В вашей учётной записи нет адреса с таким id.",
        ),
        ErrorCode::EmailNotConfirmed => (
            "Адрес не подтверждён",
            "Подтвердите адрес электронной почты по ссылке из письма, прежде чем войти.",
        ),
        ErrorCode::AccountDisabled => ("Учётная запись отключена", "Эта учётная запись отключена."),
        ErrorCode::InvalidClient => (
            "Неверный клиент",
            "Неверный идентификатор или секрет клиента.",
        ),
        ErrorCode::UnsupportedGrantType => (
            "Неподдерживаемый тип разрешения",
            "Поддерживается только grant_type=client_credentials.",
        ),
        ErrorCode::InvalidScope => (
            "Недопустимая область доступа",
            "Запрошенная область доступа не разрешена этому клиенту.",
        ),
        ErrorCode::InvalidToken => (
            "Недействительный токен",
            "Токен (доступа или обновления) отсутствует, недействителен, истёк или больше не действует.",
        ),
        ErrorCode::NotFound => ("Не найдено", "По этому адресу ничего нет."),
        ErrorCode::MfaRequired => (
            "Нужен второй фактор",
            "Первый шаг пройден; завершите вход кодом из приложения-аутентификатора, ключом доступа или кодом восстановления.",
        ),
        ErrorCode::InvalidCode => ("Неверный код", "Код неверен, уже использован или истёк."),
        ErrorCode::InvalidEnrolmentCode => (
            "Код не подходит",
            "Код не совпадает с добавляемым приложением-аутентификатором; проверьте часы устройства и введите текущий код.",
        ),
        ErrorCode::ReauthenticationRequired => (
            "Войдите снова",
            "Для этого изменения нужен недавний вход: войдите снова или передайте текущий пароль вместе с запросом.",
        ),
        ErrorCode::InvalidCredential => (
            "Ключ доступа не принят",
            "Ключ доступа не распознан, вход занял слишком много времени или уже был выполнен; начните заново.",
        ),
        ErrorCode::InvalidRegistration => (
            "Ключ доступа не добавлен",
            "Новый ключ доступа не принят: запрос мог занять слишком много времени, прийти с другого сайта, или ключ уже зарегистрирован; начните заново.",
        ),
        ErrorCode::PasskeyNotFound => (
            "Ключ доступа не найден",
            "У учётной записи нет ключа доступа с таким идентификатором.",
        ),
        ErrorCode::SessionNotFound => (
            "Сеанс не найден",
            "У учётной записи нет сеанса с таким идентификатором; возможно, он уже завершён.",
        ),
        ErrorCode::InvalidRequest => (
            "Неверный запрос",
            "Вход не может начаться: параметр отсутствует или не разрешён (см. errors).",
        ),
        ErrorCode::ProviderNotFound => (
            "Провайдер не найден",
            "Провайдер входа с таким идентификатором не настроен.",
        ),
        ErrorCode::InvalidGrant => (
            "Код входа не принят",
            "Код неизвестен, уже использован или истёк, либо code_verifier не подходит; войдите снова.",
        ),
        ErrorCode::InvalidState => (
            "Вход не распознан",
            "Этот ответ провайдера не относится ни к одному начатому входу; начните заново из приложения.",
        ),
        ErrorCode::IdentityNotFound => (
            "Связанная учётная запись не найдена",
            "У учётной записи нет связанной учётной записи провайдера с таким идентификатором.",
        ),
        ErrorCode::LastSignInMethod => (
            "Последний способ входа",
            "Это единственный способ входа в учётную запись; сначала задайте пароль или добавьте ключ доступа.",
        ),
        ErrorCode::FactorLimit => (
            "Слишком много факторов",
            "У учётной записи уже максимальное число вторых факторов; сначала удалите один.",
        ),
        ErrorCode::FactorNotFound => (
            "Фактор не найден",
            "У учётной записи нет такого второго фактора.",
        ),
        ErrorCode::MethodNotAllowed => {
            ("Метод не разрешён", "Этот адрес не принимает такой метод.")
        }
        ErrorCode::RateLimited => (
            "Слишком много запросов",
            "Слишком много запросов с этого адреса. Повторите через время из Retry-After.",
        ),
        ErrorCode::TooManyAttempts => (
            "Слишком много попыток входа",
            "Слишком много неудачных попыток входа. Повторите через время из Retry-After или сбросьте пароль.",
        ),
        ErrorCode::ServiceUnavailable => (
            "Сервис недоступен",
            "Сервис перегружен. Повторите попытку чуть позже.",
        ),
        ErrorCode::InternalError => (
            "Внутренняя ошибка",
            "Что-то пошло не так на нашей стороне. Попробуйте ещё раз.",
        ),
    }
}

/// The message for one invalid field. `detail` fills in a number where the
/// message has one (the minimum password length).
pub fn field_message(code: FieldCode, detail: Option<&str>, locale: Locale) -> String {
    let detail = detail.unwrap_or("");
    match (locale, code) {
        (Locale::En, FieldCode::Required) => "This field is required.".into(),
        (Locale::En, FieldCode::InvalidEmail) => "Enter a valid email address.".into(),
        (Locale::En, FieldCode::PasswordTooShort) => format!("Use at least {detail} characters."),
        (Locale::En, FieldCode::PasswordTooLong) => "Use at most 256 characters.".into(),
        (Locale::En, FieldCode::PasswordTooCommon) => {
            "This password is too common or matches your email or login.".into()
        }
        (Locale::En, FieldCode::PasswordMismatch) => "The passwords do not match.".into(),
        (Locale::En, FieldCode::InvalidLogin) => {
            "Use 3 to 64 of the characters A-Z a-z 0-9 . _ -".into()
        }
        (Locale::En, FieldCode::InvalidFirstName) => {
            "Enter a first name of 1 to 100 characters.".into()
        }
        (Locale::En, FieldCode::InvalidLastName) => {
            "Enter a last name of 1 to 100 characters.".into()
        }
        (Locale::En, FieldCode::InvalidLocale) => {
            "Choose one of the supported languages: en, ru.".into()
        }
        (Locale::En, FieldCode::InvalidAttribute) => format!("Attribute {detail} is not accepted."),
        (Locale::En, FieldCode::TooLong) => "This value is too long.".into(),
        (Locale::En, FieldCode::TooMany) => "There are too many values.".into(),
        (Locale::En, FieldCode::InvalidValue) => "This value is not valid here.".into(),
        (Locale::Ru, FieldCode::Required) => "Обязательное поле.".into(),
        (Locale::Ru, FieldCode::InvalidEmail) => {
            "Введите корректный адрес электронной почты.".into()
        }
        (Locale::Ru, FieldCode::PasswordTooShort) => {
            format!("Пароль должен содержать не менее {detail} символов.")
        }
        (Locale::Ru, FieldCode::PasswordTooLong) => {
            "Пароль должен содержать не более 256 символов.".into()
        }
        (Locale::Ru, FieldCode::PasswordTooCommon) => {
            "Этот пароль слишком распространён или совпадает с адресом или логином.".into()
        }
        (Locale::Ru, FieldCode::PasswordMismatch) => "Пароли не совпадают.".into(),
        (Locale::Ru, FieldCode::InvalidLogin) => {
            "Логин: от 3 до 64 символов A-Z a-z 0-9 . _ -".into()
        }
        (Locale::Ru, FieldCode::InvalidFirstName) => {
            "Имя должно содержать от 1 до 100 символов.".into()
        }
        (Locale::Ru, FieldCode::InvalidLastName) => {
            "Фамилия должна содержать от 1 до 100 символов.".into()
        }
        (Locale::Ru, FieldCode::InvalidLocale) => {
            "Выберите один из поддерживаемых языков: en, ru.".into()
        }
        (Locale::Ru, FieldCode::InvalidAttribute) => format!("Атрибут {detail} не принимается."),
        (Locale::Ru, FieldCode::TooLong) => "Слишком длинное значение.".into(),
        (Locale::Ru, FieldCode::TooMany) => "Слишком много значений.".into(),
        (Locale::Ru, FieldCode::InvalidValue) => "Недопустимое значение.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_code_is_translated_and_has_its_own_text() {
        let mut titles = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            let english = problem_text(code, Locale::En);
            let russian = problem_text(code, Locale::Ru);
            assert_ne!(english, russian, "{code:?} is not translated");
            assert!(titles.insert(english.0), "{code:?} shares its title");
        }
    }

    #[test]
    fn every_field_code_has_a_message_in_every_locale() {
        for &code in FieldCode::ALL {
            let english = field_message(code, Some("8"), Locale::En);
            let russian = field_message(code, Some("8"), Locale::Ru);
            assert!(!english.is_empty() && english != russian, "{code:?}");
        }
    }

    #[test]
    fn the_locale_follows_accept_language_quality_values() {
        assert_eq!(negotiate(None), Locale::En);
        assert_eq!(negotiate(Some("ru")), Locale::Ru);
        assert_eq!(negotiate(Some("ru-RU,ru;q=0.9,en;q=0.8")), Locale::Ru);
        assert_eq!(negotiate(Some("en;q=0.5, ru;q=0.9")), Locale::Ru);
        assert_eq!(negotiate(Some("de, fr;q=0.8")), Locale::En);
        assert_eq!(negotiate(Some("de, ru;q=0.1")), Locale::Ru);
        assert_eq!(negotiate(Some("ru;q=0, en")), Locale::En);
    }
}
