//! Counters that let tests prove what happens once per cold start and never
//! per request, and a software passkey authenticator. Compiled only with
//! the `test-support` feature (which the test crates enable and the Lambda
//! binaries do not) and for this crate's own tests.

use std::sync::atomic::{AtomicUsize, Ordering};

static AWS_CLIENT_SETS_BUILT: AtomicUsize = AtomicUsize::new(0);
static PUBLIC_KEY_FETCHES: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has built its AWS SDK clients.
pub fn aws_client_sets_built() -> usize {
    AWS_CLIENT_SETS_BUILT.load(Ordering::Relaxed)
}

/// How many times this process has fetched a public key from KMS.
pub fn public_key_fetches() -> usize {
    PUBLIC_KEY_FETCHES.load(Ordering::Relaxed)
}

#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub(crate) fn count_aws_client_set() {
    AWS_CLIENT_SETS_BUILT.fetch_add(1, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub(crate) fn count_public_key_fetch() {
    PUBLIC_KEY_FETCHES.fetch_add(1, Ordering::Relaxed);
}

/// A software authenticator for tests of passkey ceremonies: one P-256 key,
/// `none` attestation, user presence (and verification unless turned off),
/// bound to its device unless made a synced one, a counter that moves on
/// each use. It builds what a browser's `PublicKeyCredential`
/// `toJSON()` gives for the options it is handed.
pub struct SoftPasskey {
    key: p256::ecdsa::SigningKey,
    pub credential_id: Vec<u8>,
    user_handle: String,
    rp_id: String,
    pub counter: u32,
    /// Whether assertions say the person was verified (PIN, biometric).
    pub user_verified: bool,
    /// Backup eligible and backed up: a synced passkey (`swk`).
    pub synced: bool,
}

impl SoftPasskey {
    pub fn new(rp_id: &str) -> Self {
        use rand::RngCore;
        let mut credential_id = vec![0u8; 16];
        rand::rng().fill_bytes(&mut credential_id);
        Self {
            key: p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng),
            credential_id,
            user_handle: String::new(),
            rp_id: rp_id.to_owned(),
            counter: 0,
            user_verified: true,
            synced: false,
        }
    }

    fn client_data(kind: &str, options: &serde_json::Value, origin: &str) -> String {
        let options = options.get("publicKey").unwrap_or(options);
        let challenge = options["challenge"].as_str().unwrap_or_default();
        // The order the specification fixes (and relying parties check).
        format!(
            r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{origin}","crossOrigin":false}}"#
        )
    }

    /// The authenticator data flags: user present, and what this
    /// authenticator says about verification and backup.
    fn flags(&self) -> u8 {
        let mut flags = 0x01;
        if self.user_verified {
            flags |= 0x04;
        }
        if self.synced {
            flags |= 0x08 | 0x10;
        }
        flags
    }

    fn rp_id_hash(&self) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(self.rp_id.as_bytes()).to_vec()
    }

    /// `RegistrationResponseJSON` for creation `options`, from `origin`.
    pub fn register(&mut self, options: &serde_json::Value, origin: &str) -> serde_json::Value {
        use base64::Engine;
        use p256::pkcs8::EncodePublicKey;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let public = options.get("publicKey").unwrap_or(options);
        self.user_handle = public["user"]["id"].as_str().unwrap_or_default().to_owned();
        let client_data = Self::client_data("webauthn.create", options, origin);
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut cose = Vec::new();
        cbor::header(&mut cose, 5, 5);
        for (label, value) in [(1, 2), (3, -7), (-1, 1)] {
            cbor::int(&mut cose, label);
            cbor::int(&mut cose, value);
        }
        cbor::int(&mut cose, -2);
        cbor::bytes(&mut cose, point.x().map(|x| &x[..]).unwrap_or_default());
        cbor::int(&mut cose, -3);
        cbor::bytes(&mut cose, point.y().map(|y| &y[..]).unwrap_or_default());
        let mut auth_data = self.rp_id_hash();
        // Attested credential data follows.
        auth_data.push(self.flags() | 0x40);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap_or(0)
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let mut attestation = Vec::new();
        cbor::header(&mut attestation, 5, 3);
        cbor::text(&mut attestation, "fmt");
        cbor::text(&mut attestation, "none");
        cbor::text(&mut attestation, "attStmt");
        cbor::header(&mut attestation, 5, 0);
        cbor::text(&mut attestation, "authData");
        cbor::bytes(&mut attestation, &auth_data);
        let spki = self
            .key
            .verifying_key()
            .to_public_key_der()
            .map(|der| der.as_bytes().to_vec())
            .unwrap_or_default();
        serde_json::json!({
            "id": b64.encode(&self.credential_id),
            "rawId": b64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64.encode(&client_data),
                "attestationObject": b64.encode(&attestation),
                "authenticatorData": b64.encode(&auth_data),
                "transports": ["internal"],
                "publicKey": b64.encode(spki),
                "publicKeyAlgorithm": -7
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {}
        })
    }

    /// `AuthenticationResponseJSON` for request `options`, from `origin`,
    /// with the counter moved on by one.
    pub fn sign_in(&mut self, options: &serde_json::Value, origin: &str) -> serde_json::Value {
        self.counter += 1;
        self.assertion(options, origin, self.counter)
    }

    /// An assertion with the given counter (a clone's, say).
    pub fn assertion(
        &self,
        options: &serde_json::Value,
        origin: &str,
        counter: u32,
    ) -> serde_json::Value {
        use base64::Engine;
        use p256::ecdsa::signature::Signer;
        use sha2::Digest;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let client_data = Self::client_data("webauthn.get", options, origin);
        let mut auth_data = self.rp_id_hash();
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha2::Sha256::digest(client_data.as_bytes()));
        let signature: p256::ecdsa::Signature = self.key.sign(&signed);
        serde_json::json!({
            "id": b64.encode(&self.credential_id),
            "rawId": b64.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64.encode(&client_data),
                "authenticatorData": b64.encode(&auth_data),
                "signature": b64.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {}
        })
    }
}

/// The few CBOR items an attestation object needs (RFC 8949 heads).
mod cbor {
    pub fn header(out: &mut Vec<u8>, major: u8, length: u64) {
        let major = major << 5;
        match length {
            0..=23 => out.push(major | length as u8),
            24..=255 => out.extend_from_slice(&[major | 24, length as u8]),
            _ => {
                out.push(major | 25);
                out.extend_from_slice(&(length as u16).to_be_bytes());
            }
        }
    }

    pub fn int(out: &mut Vec<u8>, value: i64) {
        if value >= 0 {
            header(out, 0, value.unsigned_abs());
        } else {
            header(out, 1, (-1 - value).unsigned_abs());
        }
    }

    pub fn bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        header(out, 2, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    pub fn text(out: &mut Vec<u8>, text: &str) {
        header(out, 3, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }
}
