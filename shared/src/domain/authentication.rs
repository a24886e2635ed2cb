//! How a person proved who they are in a session: the methods (RFC 8176
//! names, as the `amr` claim carries them) and when. A refresh keeps both:
//! a new access token is no new proof.

use time::OffsetDateTime;

/// One way of proving who one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A password.
    Password,
}

impl AuthMethod {
    /// The RFC 8176 value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pwd" => Some(Self::Password),
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

    /// The authenticator assurance level (NIST SP 800-63B): 2 when two
    /// different methods were used, else 1.
    pub fn assurance_level(&self) -> u8 {
        if self.methods.len() > 1 { 2 } else { 1 }
    }

    /// The `amr` claim's values.
    pub fn amr(&self) -> Vec<String> {
        self.methods
            .iter()
            .map(|method| method.as_str().to_owned())
            .collect()
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
        assert_eq!(AuthMethod::parse("otp"), None);
    }
}
