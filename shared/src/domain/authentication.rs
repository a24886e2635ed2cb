//! How a person proved who they are in a session: the methods (RFC 8176
//! names, as the `amr` claim carries them) and when. A refresh keeps both:
//! a new access token is no new proof.

use time::OffsetDateTime;

/// One way of proving who one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A password.
    Password,
    /// A one-time password: a TOTP code or a recovery code (RFC 8176 `otp`
    /// covers both: each is good once).
    OneTimePassword,
    /// A code sent by email (`email`, as the contract names it).
    Email,
    /// Another provider's sign-in (OpenID Connect): RFC 8176 `fed`.
    Federated,
    /// A passkey bound to one device (not eligible for backup): `hwk`.
    HardwareKey,
    /// A passkey that may be synced between devices: `swk`.
    SoftwareKey,
    /// The authenticator checked a PIN or biometric before it signed
    /// (WebAuthn user verification): a second factor in the key's own hand.
    /// RFC 8176 has no one value for it (it may be `pin`, `fpt`, `face`…, and
    /// the authenticator does not say which), so `amr` shows it only by
    /// `mfa`; it is kept under `uv`.
    UserVerification,
}

impl AuthMethod {
    /// The RFC 8176 value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::OneTimePassword => "otp",
            Self::Email => "email",
            Self::Federated => "fed",
            Self::HardwareKey => "hwk",
            Self::SoftwareKey => "swk",
            Self::UserVerification => "uv",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pwd" => Some(Self::Password),
            "otp" => Some(Self::OneTimePassword),
            "email" => Some(Self::Email),
            "fed" => Some(Self::Federated),
            "hwk" => Some(Self::HardwareKey),
            "swk" => Some(Self::SoftwareKey),
            "uv" => Some(Self::UserVerification),
            _ => None,
        }
    }
}

/// The proof a session was opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub methods: Vec<AuthMethod>,
    pub at: OffsetDateTime,
}

impl Authentication {
    pub fn password(at: OffsetDateTime) -> Self {
        Self {
            methods: vec![AuthMethod::Password],
            at,
        }
    }

    pub fn email(at: OffsetDateTime) -> Self {
        Self {
            methods: vec![AuthMethod::Email],
            at,
        }
    }

    pub fn federated(at: OffsetDateTime) -> Self {
        Self {
            methods: vec![AuthMethod::Federated],
            at,
        }
    }

    /// A passkey's proof: the key, and the person's PIN or biometric when
    /// the authenticator verified them.
    pub fn passkey(device_bound: bool, user_verified: bool, at: OffsetDateTime) -> Self {
        let key = if device_bound {
            AuthMethod::HardwareKey
        } else {
            AuthMethod::SoftwareKey
        };
        let mut methods = vec![key];
        if user_verified {
            methods.push(AuthMethod::UserVerification);
        }
        Self { methods, at }
    }

    /// Whether a passkey was one of the proofs.
    pub fn used_a_passkey(&self) -> bool {
        self.methods
            .iter()
            .any(|method| matches!(method, AuthMethod::HardwareKey | AuthMethod::SoftwareKey))
    }

    /// The proof completed by a second factor `method` at `at`: both
    /// methods count, and the time is the latest proof's.
    pub fn with_second_factor(mut self, method: AuthMethod, at: OffsetDateTime) -> Self {
        if !self.methods.contains(&method) {
            self.methods.push(method);
        }
        self.at = at;
        self
    }

    /// The authenticator assurance level (NIST SP 800-63B): 2 when two
    /// different methods were used, else 1.
    pub fn assurance_level(&self) -> u8 {
        if self.methods.len() > 1 { 2 } else { 1 }
    }

    /// The `amr` claim's values: each method, and `mfa` when there are
    /// several (RFC 8176); user verification shows only as `mfa`.
    pub fn amr(&self) -> Vec<String> {
        let mut amr: Vec<String> = self
            .methods
            .iter()
            .filter(|method| **method != AuthMethod::UserVerification)
            .map(|method| method.as_str().to_owned())
            .collect();
        if self.assurance_level() > 1 {
            amr.push("mfa".to_owned());
        }
        amr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_alone_is_level_one_and_reads_as_pwd() {
        let proof = Authentication::password(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(proof.assurance_level(), 1);
        assert_eq!(proof.amr(), ["pwd"]);
        assert_eq!(AuthMethod::parse("pwd"), Some(AuthMethod::Password));
        assert_eq!(AuthMethod::parse("mfa"), None);
    }

    #[test]
    fn a_second_factor_makes_level_two_and_moves_the_time() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let later = start + time::Duration::seconds(40);
        let proof =
            Authentication::password(start).with_second_factor(AuthMethod::OneTimePassword, later);
        assert_eq!(proof.assurance_level(), 2);
        assert_eq!(proof.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(proof.at, later);
    }

    #[test]
    fn a_passkey_is_level_two_only_with_user_verification() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let verified = Authentication::passkey(true, true, at);
        assert_eq!(verified.assurance_level(), 2);
        assert_eq!(verified.amr(), ["hwk", "mfa"]);
        let synced = Authentication::passkey(false, false, at);
        assert_eq!(synced.assurance_level(), 1);
        assert_eq!(synced.amr(), ["swk"]);
        assert!(synced.used_a_passkey());
        assert!(!Authentication::password(at).used_a_passkey());
        let after_password =
            Authentication::password(at).with_second_factor(AuthMethod::HardwareKey, at);
        assert_eq!(after_password.amr(), ["pwd", "hwk", "mfa"]);
        for method in [
            AuthMethod::HardwareKey,
            AuthMethod::SoftwareKey,
            AuthMethod::UserVerification,
        ] {
            assert_eq!(AuthMethod::parse(method.as_str()), Some(method));
        }
    }
}
