//! An OpenID Provider for the federation tests that a test can make
//! misbehave: discovery, JWKS, an authorization endpoint that signs in
//! whoever the test says (or declines), and a token endpoint that checks
//! the client's secret, the redirect URI and the PKCE verifier before it
//! signs an ES256 ID token (with a wrong nonce, audience or expiry when the
//! test asks, and with a key the test can rotate). The browser test runs the
//! certified `oidc-provider` package instead (tests/browser).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// Whom the provider signs in next.
#[derive(Debug, Clone)]
pub struct Person {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
}

impl Person {
    /// A person with a verified address.
    pub fn verified(subject: &str, email: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            email: Some(email.to_owned()),
            email_verified: true,
            given_name: Some("Ada".to_owned()),
        }
    }
}

/// Ways the next ID token (or answer) goes wrong.
#[derive(Debug, Clone, Default)]
pub struct Tamper {
    pub nonce: Option<String>,
    pub audience: Option<String>,
    /// A second audience, named as the authorized party (`azp`): a token
    /// issued to that other client, which lists this one too.
    pub authorized_party: Option<String>,
    pub expired: bool,
    /// The authorization endpoint answers `?error=` with this.
    pub error: Option<String>,
}

struct Pending {
    redirect_uri: String,
    nonce: String,
    challenge: String,
    person: Person,
}

struct Key {
    id: String,
    secret: p256::SecretKey,
}

impl Key {
    fn new() -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            secret: p256::SecretKey::random(&mut rand_core06::OsRng),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.secret.public_key().to_encoded_point(false);
        let coordinate = |bytes: Option<&p256::FieldBytes>| {
            URL_SAFE_NO_PAD.encode(bytes.map(|b| b.to_vec()).unwrap_or_default())
        };
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.id,
            "x": coordinate(point.x()), "y": coordinate(point.y()),
        })
    }
}

struct State {
    issuer: String,
    client_id: String,
    client_secret: String,
    key: Key,
    person: Person,
    tamper: Tamper,
    pending: HashMap<String, Pending>,
    /// The authorization requests seen, as query maps.
    authorizations: Vec<HashMap<String, String>>,
    /// The ID tokens signed, and the access tokens handed out with them.
    issued: Vec<String>,
}

pub struct TestProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestProvider {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let client_id = format!("client-{}", uuid::Uuid::new_v4().simple());
        let client_secret = crate_secret();
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            key: Key::new(),
            person: Person::verified("subject-1", "ada@example.com"),
            tamper: Tamper::default(),
            pending: HashMap::new(),
            authorizations: Vec::new(),
            issued: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            issuer,
            client_id,
            client_secret,
            state,
            server,
        }
    }

    /// Signs in `person` from the next authorization on.
    pub fn sign_in_as(&self, person: Person) {
        self.lock().person = person;
    }

    /// Makes the next answers go wrong so.
    pub fn tamper(&self, tamper: Tamper) {
        self.lock().tamper = tamper;
    }

    /// Signs with a new key from now on; the JWKS shows only it.
    pub fn rotate_key(&self) {
        self.lock().key = Key::new();
    }

    /// The authorization requests seen so far.
    pub fn authorizations(&self) -> Vec<HashMap<String, String>> {
        self.lock().authorizations.clone()
    }

    /// The tokens the token endpoint handed out so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// Keeps the client secret in moto's Secrets Manager, as a deployment
    /// would: its ARN, for [`TestProvider::entry`].
    pub async fn client_secret_in_moto(&self) -> String {
        aws_sdk_secretsmanager::Client::new(&crate::moto().sdk_config().await)
            .create_secret()
            .name(format!("oidc-{}", uuid::Uuid::new_v4().simple()))
            .secret_string(&self.client_secret)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap()
    }

    /// The `OIDC_PROVIDERS` entry for this provider as `id`.
    pub fn entry(&self, id: &str, client_secret_arn: &str) -> Value {
        json!({
            "id": id,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret_arn": client_secret_arn,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn crate_secret() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

fn respond(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn redirect(location: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn pairs(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

async fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query = pairs(request.uri().query().unwrap_or_default());
    let basic = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let mut state = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match path.as_str() {
        "/.well-known/openid-configuration" => respond(
            StatusCode::OK,
            json!({
                "issuer": state.issuer,
                "authorization_endpoint": format!("{}/authorize", state.issuer),
                "token_endpoint": format!("{}/token", state.issuer),
                "jwks_uri": format!("{}/jwks", state.issuer),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }),
        ),
        "/jwks" => respond(StatusCode::OK, json!({ "keys": [state.key.jwk()] })),
        "/authorize" => authorize(&mut state, query),
        "/token" => token(&mut state, &pairs(&String::from_utf8_lossy(&body)), basic),
        _ => respond(StatusCode::NOT_FOUND, json!({})),
    }
}

fn authorize(state: &mut State, query: HashMap<String, String>) -> Response<Full<Bytes>> {
    state.authorizations.push(query.clone());
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    let redirect_uri = field("redirect_uri");
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    if let Some(error) = state.tamper.error.take() {
        back.query_pairs_mut()
            .append_pair("error", &error)
            .append_pair("state", &field("state"));
        return redirect(back.as_str());
    }
    if field("client_id") != state.client_id || field("code_challenge_method") != "S256" {
        return respond(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    }
    let code = crate_secret();
    state.pending.insert(
        code.clone(),
        Pending {
            redirect_uri,
            nonce: field("nonce"),
            challenge: field("code_challenge"),
            person: state.person.clone(),
        },
    );
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    redirect(back.as_str())
}

fn token(
    state: &mut State,
    form: &HashMap<String, String>,
    basic: Option<String>,
) -> Response<Full<Bytes>> {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            url::form_urlencoded::byte_serialize(state.client_id.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(state.client_secret.as_bytes())
                .collect::<String>()
        ))
    );
    if basic.as_deref() != Some(expected.as_str()) {
        return respond(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}));
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let Some(pending) = state.pending.remove(&field("code")) else {
        return respond(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
    };
    let verifier_answer = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier")));
    if pending.redirect_uri != field("redirect_uri") || verifier_answer != pending.challenge {
        return respond(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let tamper = std::mem::take(&mut state.tamper);
    let person = pending.person;
    let audience = tamper.audience.unwrap_or_else(|| state.client_id.clone());
    let mut claims = json!({
        "iss": state.issuer,
        "sub": person.subject,
        "aud": audience,
        "iat": now - 5,
        "exp": if tamper.expired { now - 60 } else { now + 300 },
        "nonce": tamper.nonce.unwrap_or(pending.nonce),
        "email": person.email,
        "email_verified": person.email_verified,
        "given_name": person.given_name,
    });
    if let Some(party) = tamper.authorized_party {
        claims["aud"] = json!([claims["aud"], party]);
        claims["azp"] = json!(party);
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(state.key.id.clone());
    let der = state.key.secret.to_pkcs8_der().unwrap();
    let id_token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
    )
    .unwrap();
    let access_token = crate_secret();
    state.issued.push(id_token.clone());
    state.issued.push(access_token.clone());
    respond(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }),
    )
}
