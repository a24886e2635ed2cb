//! Request bodies: JSON or `application/x-www-form-urlencoded`, at most
//! 64 KiB, always an object of fields; then field-by-field parsing into
//! domain types that reports every bad field at once.

use http::header::CONTENT_TYPE;
use lambda_http::Request;
use serde_json::{Map, Value};

use crate::domain::AttributeError;
use crate::http::{ApiError, FieldCode, FieldError};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The fields of a request body. Form values arrive as strings; accessors
/// accept both shapes.
#[derive(Debug, Default)]
pub struct Fields(Map<String, Value>);

enum MediaType {
    Json,
    Form,
    Other,
}

fn media_type(request: &Request) -> Option<MediaType> {
    let header = request.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        "application/json" => MediaType::Json,
        _ if essence.starts_with("application/") && essence.ends_with("+json") => MediaType::Json,
        "application/x-www-form-urlencoded" => MediaType::Form,
        _ => MediaType::Other,
    })
}

/// Reads the body into fields. An empty body is an empty object whatever
/// its type, so a POST with nothing in it reports the required fields.
pub fn parse_fields(request: &Request) -> Result<Fields, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::default());
    }
    match media_type(request) {
        Some(MediaType::Json) => match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            // Valid JSON of another shape (an array, a string) is not a body
            // of fields either.
            Ok(_) | Err(_) => Err(ApiError::MalformedBody),
        },
        Some(MediaType::Form) => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(bytes).map_err(|_| ApiError::MalformedBody)?;
            let mut map = Map::new();
            for (name, value) in pairs {
                // The first occurrence wins, as with most form parsers.
                map.entry(name).or_insert(Value::String(value));
            }
            Ok(Fields(map))
        }
        Some(MediaType::Other) | None => Err(ApiError::UnsupportedMediaType),
    }
}

/// A field as found in the body.
pub enum FieldValue<'a> {
    /// Absent, `null`, or blank text.
    Absent,
    Text(&'a str),
    /// Present with a type that cannot be what the field wants.
    WrongType,
}

impl<'a> FieldValue<'a> {
    /// The text, if the field holds some.
    pub fn as_text(&self) -> Option<&'a str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Absent | Self::WrongType => None,
        }
    }
}

impl Fields {
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// The query string's parameters as fields (the first of each name),
    /// for GET endpoints that take what a form would post.
    pub fn from_query(request: &Request) -> Self {
        use lambda_http::RequestExt;
        let query = request.query_string_parameters();
        let mut map = Map::new();
        for (name, value) in query.iter() {
            map.entry(name.to_owned())
                .or_insert_with(|| Value::String(value.to_owned()));
        }
        Self(map)
    }

    pub fn text(&self, name: &str) -> FieldValue<'_> {
        match self.0.get(name) {
            None | Some(Value::Null) => FieldValue::Absent,
            Some(Value::String(text)) if text.trim().is_empty() => FieldValue::Absent,
            Some(Value::String(text)) => FieldValue::Text(text),
            Some(_) => FieldValue::WrongType,
        }
    }

    /// The first of `names` that is present, for aliases such as
    /// `login` / `email` / `username`.
    pub fn first_text(&self, names: &[&str]) -> FieldValue<'_> {
        names
            .iter()
            .map(|name| self.text(name))
            .find(|value| !matches!(value, FieldValue::Absent))
            .unwrap_or(FieldValue::Absent)
    }

    /// JSON booleans, or the words forms send: `true`/`false`, `1`/`0`, `on`/`off`.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" | "on" | "yes" => Ok(Some(true)),
                "false" | "0" | "off" | "no" => Ok(Some(false)),
                _ => Err(FieldError::new(name, FieldCode::InvalidValue)),
            },
            Some(_) => Err(FieldError::new(name, FieldCode::InvalidValue)),
        }
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Whether the body names the field at all (even as `null`): for
    /// partial updates, where absent means "keep" and `null` means "clear".
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Collects every field error of a request before answering.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// A required text field parsed by `parse`; `invalid` is reported when
    /// the value has the wrong JSON type.
    pub fn required<T>(
        &mut self,
        field: &str,
        value: FieldValue<'_>,
        invalid: FieldCode,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match value {
            FieldValue::Absent => {
                self.push(FieldError::new(field, FieldCode::Required));
                None
            }
            other => self.optional(field, other, invalid, parse),
        }
    }

    pub fn optional<T>(
        &mut self,
        field: &str,
        value: FieldValue<'_>,
        invalid: FieldCode,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match value {
            FieldValue::Absent => None,
            FieldValue::WrongType => {
                self.push(FieldError::new(field, invalid));
                None
            }
            FieldValue::Text(text) => match parse(text) {
                Ok(parsed) => Some(parsed),
                Err(error) => {
                    self.push(error);
                    None
                }
            },
        }
    }

    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// A parsed attributes object, or each attribute's error recorded.
    pub fn attributes<T>(&mut self, result: Result<T, Vec<AttributeError>>) -> Option<T> {
        result
            .map_err(|errors| {
                errors
                    .into_iter()
                    .for_each(|error| self.push(FieldError::attribute(error)))
            })
            .ok()
    }

    /// The confirmation field `field`, when sent, must repeat `password`
    /// exactly. Nothing is reported when the password itself is missing:
    /// its own error says so.
    pub fn confirmation(&mut self, fields: &Fields, field: &str, password: Option<&str>) {
        match (fields.text(field), password) {
            (FieldValue::Absent, _) | (_, None) => {}
            (FieldValue::Text(confirmation), Some(password)) if confirmation == password => {}
            _ => self.push(FieldError::new(field, FieldCode::PasswordMismatch)),
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `Err(validation_failed)` listing every error, or `Ok` when none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }

    /// Like [`finish`](Self::finish), then builds the parsed request from
    /// the collected values. `build` returns `None` only if a required value
    /// was not collected without an error being recorded: a programming
    /// error, answered as an opaque 500 rather than a panic.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        self.finish()?;
        build().ok_or_else(|| ApiError::Internal("a required field was not collected".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/v1/users");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    #[test]
    fn json_and_form_bodies_give_the_same_fields() {
        let json = parse_fields(&request(
            Some("application/json; charset=utf-8"),
            r#"{"email":"a@b.co","remember_me":true}"#,
        ))
        .unwrap();
        let form = parse_fields(&request(
            Some("application/x-www-form-urlencoded"),
            "email=a%40b.co&remember_me=on",
        ))
        .unwrap();
        for fields in [json, form] {
            assert!(matches!(fields.text("email"), FieldValue::Text("a@b.co")));
            assert_eq!(fields.boolean("remember_me").unwrap(), Some(true));
        }
    }

    #[test]
    fn bad_bodies_map_to_their_errors() {
        let cases = [
            (Some("application/json"), "{\"email\":", "malformed_body"),
            (Some("application/json"), "[1,2]", "malformed_body"),
            (Some("application/json"), "\"text\"", "malformed_body"),
            (Some("text/plain"), "email=x", "unsupported_media_type"),
            (None, "{}", "unsupported_media_type"),
        ];
        for (content_type, body, code) in cases {
            let error = parse_fields(&request(content_type, body)).unwrap_err();
            assert_eq!(error.code(), code, "{content_type:?} {body}");
        }
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            parse_fields(&request(Some("application/json"), &big))
                .unwrap_err()
                .code(),
            "payload_too_large"
        );
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        let fields = parse_fields(&request(None, "")).unwrap();
        assert!(matches!(fields.text("code"), FieldValue::Absent));
    }

    #[test]
    fn the_validator_reports_every_error() {
        let fields = Fields::from_map(serde_json::from_str(r#"{"a": 5, "c": "x"}"#).unwrap());
        let mut validator = Validator::default();
        let a: Option<String> =
            validator.required("a", fields.text("a"), FieldCode::InvalidEmail, |s| {
                Ok(s.to_owned())
            });
        let b: Option<String> =
            validator.required("b", fields.text("b"), FieldCode::InvalidEmail, |s| {
                Ok(s.to_owned())
            });
        let c: Option<String> =
            validator.optional("c", fields.text("c"), FieldCode::InvalidLogin, |_| {
                Err(FieldError::new("c", FieldCode::InvalidLogin))
            });
        assert!(a.is_none() && b.is_none() && c.is_none());
        let ApiError::Validation(errors) = validator.finish().unwrap_err() else {
            unreachable!()
        };
        let codes: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                ("a", "invalid_email"),
                ("b", "required"),
                ("c", "invalid_login")
            ]
        );
    }
}
