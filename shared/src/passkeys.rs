//! Passkeys (WebAuthn level 3) as a relying party, through `webauthn_rp`:
//! it checks attestation (`none`) and assertions, the challenge, origin,
//! RP ID hash, user verification and the signature counter, on RustCrypto
//! (no second crypto stack in the binaries). This module turns its typed
//! ceremonies into what the store and the HTTP edge carry: the options as
//! JSON for `navigator.credentials`, the server's half of a ceremony and a
//! credential's state as bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use webauthn_rp::AuthenticatedCredential;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::{
    AllowedCredentials, AuthenticationVerificationOptions, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, NonDiscoverableAuthenticationServerState,
    NonDiscoverableCredentialRequestOptions,
};
use webauthn_rp::request::register::{
    CredProtect, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity,
    RegistrationServerState, RegistrationVerificationOptions, ResidentKeyRequirement, UserHandle16,
    Username,
};
use webauthn_rp::request::{
    AsciiDomain, Credentials, PublicKeyCredentialDescriptor, RpId, UserVerificationRequirement,
};
use webauthn_rp::response::auth::{
    Authentication, DiscoverableAuthentication16, NonDiscoverableAuthentication16,
};
use webauthn_rp::response::register::{DynamicState, Registration, StaticState};
use webauthn_rp::response::{AuthTransports, Backup, CredentialId};

use crate::domain::UserId;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// `WEBAUTHN_RP_ID` is not a domain.
    #[error("the relying party id is not a domain: {0}")]
    RpId(String),
    /// The response does not parse, or fails a check: wrong challenge,
    /// origin, RP ID, signature, counter, or not the stored credential.
    #[error("the credential was not accepted: {0}")]
    Refused(String),
    /// Stored state that does not decode.
    #[error("stored passkey state is not readable")]
    Corrupt,
}

/// Who we are to authenticators: the RP ID and the origins allowed to run
/// ceremonies.
#[derive(Debug)]
pub struct RelyingParty {
    rp_id: RpId,
    origins: Vec<String>,
}

impl RelyingParty {
    pub fn new(rp_id: &str, origins: Vec<String>) -> Result<Self, PasskeyError> {
        // Browsers take a domain only.
        if rp_id.parse::<std::net::IpAddr>().is_ok() {
            return Err(PasskeyError::RpId(rp_id.to_owned()));
        }
        let domain = AsciiDomain::try_from(rp_id.to_owned())
            .map_err(|_| PasskeyError::RpId(rp_id.to_owned()))?;
        Ok(Self {
            rp_id: RpId::Domain(domain),
            origins,
        })
    }

    fn origins(&self) -> Vec<&str> {
        self.origins.iter().map(String::as_str).collect()
    }
}

/// A started ceremony: the options for the browser, and the server's half
/// to keep (single use, with the ceremony's expiry) until the answer comes.
#[derive(Debug)]
pub struct Ceremony {
    pub options: Value,
    pub state: Vec<u8>,
}

fn handle(user_id: UserId) -> UserHandle16 {
    UserHandle16::from(*user_id.as_bytes())
}

fn refused(error: impl std::fmt::Debug) -> PasskeyError {
    PasskeyError::Refused(format!("{error:?}"))
}

/// Options to create a passkey for `user_id` (shown as `name`), excluding
/// the credentials the account holds already. Resident key and user
/// verification are preferred, not required: an authenticator that cannot
/// do either still makes a passkey, and sign-in says what it proved.
pub fn start_registration(
    rp: &RelyingParty,
    user_id: UserId,
    name: &str,
    existing: &[Vec<u8>],
) -> Result<Ceremony, PasskeyError> {
    let user_handle = handle(user_id);
    let exclude = existing
        .iter()
        .filter_map(|id| CredentialId::try_from(id.clone()).ok())
        .map(|id| PublicKeyCredentialDescriptor {
            id,
            transports: AuthTransports::NONE,
        })
        .collect();
    let mut options = PublicKeyCredentialCreationOptions::passkey(
        &rp.rp_id,
        PublicKeyCredentialUserEntity {
            name: Username::try_from(name).map_err(refused)?,
            id: &user_handle,
            display_name: None,
        },
        exclude,
    );
    options.authenticator_selection.resident_key = ResidentKeyRequirement::Preferred;
    options.authenticator_selection.user_verification = UserVerificationRequirement::Preferred;
    // `credProtect` would demand user verification for every use, which
    // "preferred" does not.
    options.extensions.cred_protect = CredProtect::None;
    let (server, client) = options.start_ceremony().map_err(refused)?;
    Ok(Ceremony {
        options: serde_json::to_value(&client).map_err(refused)?,
        state: server.encode().map_err(refused)?.to_vec(),
    })
}

/// A passkey the registration ceremony accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    /// The public key and what registration fixed (`StaticState`).
    pub public_key: Vec<u8>,
    /// The counter and flags that sign-ins update (`DynamicState`).
    pub state: Vec<u8>,
    pub user_verified: bool,
    /// Not eligible for backup: bound to one device (`amr` `hwk`, else `swk`).
    pub device_bound: bool,
}

/// Checks the browser's `RegistrationResponseJSON` against the ceremony.
pub fn finish_registration(
    rp: &RelyingParty,
    state: &[u8],
    response: &Value,
) -> Result<NewPasskey, PasskeyError> {
    let server = RegistrationServerState::<16>::decode(state).map_err(|_| PasskeyError::Corrupt)?;
    let registration: Registration = serde_json::from_value(response.clone()).map_err(refused)?;
    let origins = rp.origins();
    let options = RegistrationVerificationOptions::<&str, &str> {
        allowed_origins: &origins,
        ..Default::default()
    };
    let credential = server
        .verify(&rp.rp_id, &registration, &options)
        .map_err(refused)?;
    let dynamic = credential.dynamic_state();
    Ok(NewPasskey {
        credential_id: credential.id().as_ref().to_vec(),
        public_key: credential
            .static_state()
            .encode()
            .map_err(refused)?
            .to_vec(),
        state: dynamic.encode().map_err(refused)?.to_vec(),
        user_verified: dynamic.user_verified,
        device_bound: dynamic.backup == Backup::NotEligible,
    })
}

/// The first byte of a sign-in ceremony's stored state: which of the
/// library's two server states follows.
const DISCOVERABLE: u8 = 0;
const ALLOW_LIST: u8 = 1;

/// Options to sign in with a passkey of this site. With no credentials
/// listed the ceremony is discoverable: the authenticator picks, and says
/// whose the passkey is in the user handle. With a list (the passkeys of
/// the account a person named), only those are allowed, and the user
/// handle may be absent.
pub fn start_sign_in(rp: &RelyingParty, allowed: &[Vec<u8>]) -> Result<Ceremony, PasskeyError> {
    let (options, mut state) = if allowed.is_empty() {
        let mut options = DiscoverableCredentialRequestOptions::passkey(&rp.rp_id);
        options.0.user_verification = UserVerificationRequirement::Preferred;
        let (server, client) = options.start_ceremony().map_err(refused)?;
        (
            serde_json::to_value(&client).map_err(refused)?,
            server.encode().map_err(refused)?,
        )
    } else {
        let mut credentials = AllowedCredentials::with_capacity(allowed.len());
        for id in allowed {
            let id = CredentialId::try_from(id.clone()).map_err(refused)?;
            credentials.push(
                PublicKeyCredentialDescriptor {
                    id,
                    transports: AuthTransports::NONE,
                }
                .into(),
            );
        }
        let mut options =
            NonDiscoverableCredentialRequestOptions::second_factor(&rp.rp_id, credentials)
                .map_err(refused)?;
        options.options().user_verification = UserVerificationRequirement::Preferred;
        let (server, client) = options.start_ceremony().map_err(refused)?;
        (
            serde_json::to_value(&client).map_err(refused)?,
            server.encode().map_err(refused)?,
        )
    };
    let kind = if allowed.is_empty() {
        DISCOVERABLE
    } else {
        ALLOW_LIST
    };
    state.insert(0, kind);
    Ok(Ceremony { options, state })
}

/// Which credential an assertion claims, and whose: what to look up
/// before it can be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub credential_id: Vec<u8>,
    pub user_id: Option<UserId>,
}

/// Reads the credential id and user handle of an `AuthenticationResponseJSON`.
pub fn claimed(response: &Value) -> Result<Claimed, PasskeyError> {
    let text = |field: &str| -> Result<Vec<u8>, PasskeyError> {
        let value = match field {
            "rawId" => response.get("rawId"),
            _ => response.get("response").and_then(|inner| inner.get(field)),
        };
        let text = value
            .and_then(Value::as_str)
            .ok_or_else(|| PasskeyError::Refused(format!("no {field}")))?;
        URL_SAFE_NO_PAD.decode(text).map_err(refused)
    };
    let credential_id = text("rawId")?;
    let user_id = text("userHandle").ok().and_then(|bytes| {
        <[u8; 16]>::try_from(bytes.as_slice())
            .ok()
            .map(UserId::from_bytes)
    });
    Ok(Claimed {
        credential_id,
        user_id,
    })
}

/// A stored passkey, as sign-in checks it.
#[derive(Debug, Clone)]
pub struct StoredPasskey<'a> {
    pub credential_id: &'a [u8],
    pub user_id: UserId,
    pub public_key: &'a [u8],
    pub state: &'a [u8],
}

/// What a verified assertion proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The credential's state after this use (its counter moved).
    pub state: Vec<u8>,
    pub user_verified: bool,
    pub device_bound: bool,
}

/// Checks an `AuthenticationResponseJSON` against the ceremony and the
/// passkey it claims. A counter that did not move forward is refused (a
/// cloned authenticator).
pub fn finish_sign_in(
    rp: &RelyingParty,
    state: &[u8],
    response: &Value,
    stored: &StoredPasskey<'_>,
) -> Result<SignedIn, PasskeyError> {
    let static_state = StaticState::decode(stored.public_key).map_err(|_| PasskeyError::Corrupt)?;
    let dynamic_state =
        DynamicState::decode(<[u8; 7]>::try_from(stored.state).map_err(|_| PasskeyError::Corrupt)?)
            .map_err(|_| PasskeyError::Corrupt)?;
    let user_handle = handle(stored.user_id);
    let credential_id =
        CredentialId::try_from(stored.credential_id).map_err(|_| PasskeyError::Corrupt)?;
    let mut credential =
        AuthenticatedCredential::new(credential_id, &user_handle, static_state, dynamic_state)
            .map_err(|_| PasskeyError::Corrupt)?;
    let origins = rp.origins();
    let options = AuthenticationVerificationOptions::<&str, &str> {
        allowed_origins: &origins,
        ..Default::default()
    };
    let user_verified = match state.split_first() {
        Some((&DISCOVERABLE, server)) => {
            let server = DiscoverableAuthenticationServerState::decode(server)
                .map_err(|_| PasskeyError::Corrupt)?;
            let authentication: DiscoverableAuthentication16 =
                serde_json::from_value(response.clone()).map_err(refused)?;
            server
                .verify(&rp.rp_id, &authentication, &mut credential, &options)
                .map_err(refused)?;
            user_verified(&authentication)
        }
        Some((&ALLOW_LIST, server)) => {
            let server = NonDiscoverableAuthenticationServerState::decode(server)
                .map_err(|_| PasskeyError::Corrupt)?;
            let authentication: NonDiscoverableAuthentication16 =
                serde_json::from_value(response.clone()).map_err(refused)?;
            server
                .verify(&rp.rp_id, &authentication, &mut credential, &options)
                .map_err(refused)?;
            user_verified(&authentication)
        }
        _ => return Err(PasskeyError::Corrupt),
    };
    let dynamic = credential.dynamic_state();
    Ok(SignedIn {
        state: dynamic.encode().map_err(refused)?.to_vec(),
        user_verified,
        device_bound: dynamic.backup == Backup::NotEligible,
    })
}

/// Whether this (verified) assertion's authenticator data has the UV flag
/// (bit 2 of the flags byte after the 32-byte RP ID hash); the stored state
/// only keeps whether the credential ever had it.
fn user_verified<const DISCOVERABLE: bool>(
    authentication: &Authentication<16, DISCOVERABLE>,
) -> bool {
    const FLAGS: usize = 32;
    const USER_VERIFIED: u8 = 0x04;
    authentication
        .response()
        .authenticator_data()
        .get(FLAGS)
        .is_some_and(|flags| flags & USER_VERIFIED != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::SoftPasskey;

    const ORIGIN: &str = "http://localhost:3000";

    fn rp() -> RelyingParty {
        RelyingParty::new("localhost", vec![ORIGIN.to_owned()]).unwrap()
    }

    /// A passkey registered for `user`, and the authenticator holding it.
    fn registered(user: UserId) -> (NewPasskey, SoftPasskey) {
        let rp = rp();
        let ceremony = start_registration(&rp, user, "ada@example.com", &[]).unwrap();
        let mut authenticator = SoftPasskey::new("localhost");
        let response = authenticator.register(&ceremony.options, ORIGIN);
        let passkey = finish_registration(&rp, &ceremony.state, &response).unwrap();
        (passkey, authenticator)
    }

    fn stored<'a>(passkey: &'a NewPasskey, user: UserId, state: &'a [u8]) -> StoredPasskey<'a> {
        StoredPasskey {
            credential_id: &passkey.credential_id,
            user_id: user,
            public_key: &passkey.public_key,
            state,
        }
    }

    #[test]
    fn a_passkey_registers_and_signs_in_with_its_counter_moving() {
        let user = UserId::new();
        let (passkey, mut authenticator) = registered(user);
        assert_eq!(passkey.credential_id, authenticator.credential_id);
        assert!(passkey.user_verified);
        assert!(passkey.device_bound);

        let rp = rp();
        let ceremony = start_sign_in(&rp, &[]).unwrap();
        let options = ceremony
            .options
            .get("publicKey")
            .unwrap_or(&ceremony.options);
        assert_eq!(options["userVerification"], "preferred");
        let response = authenticator.sign_in(&ceremony.options, ORIGIN);
        let claimed = claimed(&response).unwrap();
        assert_eq!(claimed.credential_id, passkey.credential_id);
        assert_eq!(claimed.user_id, Some(user));
        let signed_in = finish_sign_in(
            &rp,
            &ceremony.state,
            &response,
            &stored(&passkey, user, &passkey.state),
        )
        .unwrap();
        assert!(signed_in.user_verified);
        assert_ne!(signed_in.state, passkey.state, "the counter moved");

        // A clone replaying the old counter is refused.
        let again = start_sign_in(&rp, &[]).unwrap();
        let clone = authenticator.assertion(&again.options, ORIGIN, 1);
        assert!(matches!(
            finish_sign_in(
                &rp,
                &again.state,
                &clone,
                &stored(&passkey, user, &signed_in.state)
            ),
            Err(PasskeyError::Refused(_))
        ));
    }

    #[test]
    fn a_ceremony_for_named_credentials_takes_only_those() {
        let user = UserId::new();
        let (passkey, mut authenticator) = registered(user);
        let rp = rp();
        let ceremony = start_sign_in(&rp, std::slice::from_ref(&passkey.credential_id)).unwrap();
        let options = ceremony
            .options
            .get("publicKey")
            .unwrap_or(&ceremony.options);
        assert_eq!(
            options["allowCredentials"][0]["id"],
            URL_SAFE_NO_PAD.encode(&passkey.credential_id)
        );
        let response = authenticator.sign_in(&ceremony.options, ORIGIN);
        let signed_in = finish_sign_in(
            &rp,
            &ceremony.state,
            &response,
            &stored(&passkey, user, &passkey.state),
        )
        .unwrap();
        assert!(signed_in.user_verified);

        // A ceremony that lists another credential refuses this one.
        let other = start_sign_in(&rp, &[vec![7; 16]]).unwrap();
        let response = authenticator.sign_in(&other.options, ORIGIN);
        assert!(
            finish_sign_in(
                &rp,
                &other.state,
                &response,
                &stored(&passkey, user, &signed_in.state)
            )
            .is_err()
        );
    }

    #[test]
    fn another_origin_another_challenge_or_another_key_is_refused() {
        let user = UserId::new();
        let rp = rp();
        // Registration from an origin that is not allowed.
        let ceremony = start_registration(&rp, user, "ada@example.com", &[]).unwrap();
        let response =
            SoftPasskey::new("localhost").register(&ceremony.options, "http://evil.test");
        assert!(finish_registration(&rp, &ceremony.state, &response).is_err());

        let (passkey, mut authenticator) = registered(user);
        // An answer to another ceremony's challenge.
        let one = start_sign_in(&rp, &[]).unwrap();
        let two = start_sign_in(&rp, &[]).unwrap();
        let response = authenticator.sign_in(&one.options, ORIGIN);
        let stored_state = passkey.state.clone();
        assert!(
            finish_sign_in(
                &rp,
                &two.state,
                &response,
                &stored(&passkey, user, &stored_state)
            )
            .is_err()
        );
        // Another authenticator claiming this credential.
        let mut impostor = SoftPasskey::new("localhost");
        impostor.credential_id = passkey.credential_id.clone();
        impostor.register(
            &start_registration(&rp, user, "x", &[]).unwrap().options,
            ORIGIN,
        );
        let three = start_sign_in(&rp, &[]).unwrap();
        let forged = impostor.sign_in(&three.options, ORIGIN);
        assert!(
            finish_sign_in(
                &rp,
                &three.state,
                &forged,
                &stored(&passkey, user, &stored_state)
            )
            .is_err()
        );
        // Not an ASCII domain.
        assert!(RelyingParty::new("", Vec::new()).is_err());
        assert!(RelyingParty::new("bücher.example", Vec::new()).is_err());
        assert!(RelyingParty::new("127.0.0.1", Vec::new()).is_err());
    }
}
