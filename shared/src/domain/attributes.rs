//! Extra profile fields a deployment declares (name, type, visibility,
//! required). Only declared names are accepted, with values of their type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;
use time::macros::format_description;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeKind {
    String,
    Integer,
    Boolean,
    /// `YYYY-MM-DD`
    Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeKind,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub required: bool,
}

/// Validated attribute values, keyed by declared name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(BTreeMap<String, Value>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("attributes must be a JSON object")]
    NotAnObject,
    #[error("attribute {0} is not declared")]
    Undeclared(String),
    #[error("attribute {0} has the wrong type")]
    WrongType(String),
    #[error("attribute {0} is required")]
    Missing(String),
}

const MAX_STRING_ATTRIBUTE_LEN: usize = 1000;

impl Attributes {
    /// Checks every value against the declarations; returns every problem.
    pub fn parse(
        value: Option<&Value>,
        specs: &[AttributeSpec],
    ) -> Result<Self, Vec<AttributeError>> {
        let empty = serde_json::Map::new();
        let given = match value {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => return Err(vec![AttributeError::NotAnObject]),
        };
        let mut errors = Vec::new();
        let mut accepted = BTreeMap::new();
        for (name, value) in given {
            match specs.iter().find(|spec| &spec.name == name) {
                None => errors.push(AttributeError::Undeclared(name.clone())),
                Some(_) if value.is_null() => {}
                Some(spec) if spec.kind.accepts(value) => {
                    accepted.insert(name.clone(), value.clone());
                }
                Some(_) => errors.push(AttributeError::WrongType(name.clone())),
            }
        }
        for spec in specs.iter().filter(|spec| spec.required) {
            if !accepted.contains_key(&spec.name) {
                errors.push(AttributeError::Missing(spec.name.clone()));
            }
        }
        if errors.is_empty() {
            Ok(Self(accepted))
        } else {
            Err(errors)
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// Only the attributes declared public, for `PublicUser`.
    pub fn public_only(&self, specs: &[AttributeSpec]) -> BTreeMap<String, Value> {
        self.0
            .iter()
            .filter(|(name, _)| specs.iter().any(|spec| &spec.name == *name && spec.public))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

/// A change of some attributes: new values, or `None` to remove one. Every
/// value is already declared and of its type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttributePatch(BTreeMap<String, Option<Value>>);

impl AttributePatch {
    pub fn parse(value: &Value, specs: &[AttributeSpec]) -> Result<Self, Vec<AttributeError>> {
        let Value::Object(given) = value else {
            return Err(vec![AttributeError::NotAnObject]);
        };
        let mut errors = Vec::new();
        let mut changes = BTreeMap::new();
        for (name, value) in given {
            match specs.iter().find(|spec| &spec.name == name) {
                None => errors.push(AttributeError::Undeclared(name.clone())),
                Some(_) if value.is_null() => {
                    changes.insert(name.clone(), None);
                }
                Some(spec) if spec.kind.accepts(value) => {
                    changes.insert(name.clone(), Some(value.clone()));
                }
                Some(_) => errors.push(AttributeError::WrongType(name.clone())),
            }
        }
        if errors.is_empty() {
            Ok(Self(changes))
        } else {
            Err(errors)
        }
    }
}

impl Attributes {
    /// These attributes with `patch` applied; removing a required one is
    /// refused.
    pub fn patched(
        &self,
        patch: &AttributePatch,
        specs: &[AttributeSpec],
    ) -> Result<Self, Vec<AttributeError>> {
        let mut values = self.0.clone();
        for (name, change) in &patch.0 {
            match change {
                Some(value) => values.insert(name.clone(), value.clone()),
                None => values.remove(name),
            };
        }
        let missing: Vec<AttributeError> = specs
            .iter()
            .filter(|spec| spec.required && !values.contains_key(&spec.name))
            .map(|spec| AttributeError::Missing(spec.name.clone()))
            .collect();
        if missing.is_empty() {
            Ok(Self(values))
        } else {
            Err(missing)
        }
    }
}

impl AttributeKind {
    fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (Self::String, Value::String(text)) => text.chars().count() <= MAX_STRING_ATTRIBUTE_LEN,
            (Self::Integer, Value::Number(number)) => number.is_i64(),
            (Self::Boolean, Value::Bool(_)) => true,
            (Self::Date, Value::String(text)) => {
                Date::parse(text, format_description!("[year]-[month]-[day]")).is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn specs() -> Vec<AttributeSpec> {
        serde_json::from_value(json!([
            {"name": "company", "type": "string", "public": true},
            {"name": "age", "type": "integer"},
            {"name": "newsletter", "type": "boolean"},
            {"name": "birthday", "type": "date"},
        ]))
        .unwrap()
    }

    #[test]
    fn declared_values_of_the_right_type_are_accepted() {
        let value =
            json!({"company": "Acme", "age": 42, "newsletter": true, "birthday": "1990-02-28"});
        let attributes = Attributes::parse(Some(&value), &specs()).unwrap();
        assert_eq!(attributes.iter().count(), 4);
        assert_eq!(
            attributes.public_only(&specs()).keys().collect::<Vec<_>>(),
            ["company"]
        );
    }

    #[test]
    fn every_undeclared_or_mistyped_attribute_is_reported() {
        let value = json!({"company": 5, "age": "x", "shoe_size": 44, "birthday": "1990-02-30"});
        let errors = Attributes::parse(Some(&value), &specs()).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.contains(&AttributeError::Undeclared("shoe_size".into())));
    }

    #[test]
    fn required_attributes_must_be_present() {
        let mut specs = specs();
        specs[1].required = true;
        let errors = Attributes::parse(None, &specs).unwrap_err();
        assert_eq!(errors, vec![AttributeError::Missing("age".into())]);
    }

    #[test]
    fn a_patch_sets_and_removes_values_and_keeps_the_rest() {
        let mut specs = specs();
        specs[0].required = true;
        let stored =
            Attributes::parse(Some(&json!({"company": "Acme", "age": 41})), &specs).unwrap();
        let patch = AttributePatch::parse(&json!({"age": 42, "newsletter": true}), &specs).unwrap();
        let patched = stored.patched(&patch, &specs).unwrap();
        assert_eq!(
            serde_json::to_value(&patched).unwrap(),
            json!({"company": "Acme", "age": 42, "newsletter": true})
        );
        let removal = AttributePatch::parse(&json!({"age": null}), &specs).unwrap();
        assert_eq!(
            serde_json::to_value(patched.patched(&removal, &specs).unwrap()).unwrap(),
            json!({"company": "Acme", "newsletter": true})
        );
        let required_removal = AttributePatch::parse(&json!({"company": null}), &specs).unwrap();
        assert_eq!(
            patched.patched(&required_removal, &specs).unwrap_err(),
            vec![AttributeError::Missing("company".into())]
        );
        let errors = AttributePatch::parse(&json!({"age": "x", "shoe": 1}), &specs).unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn attributes_must_be_an_object() {
        assert_eq!(
            Attributes::parse(Some(&json!([1])), &specs()).unwrap_err(),
            vec![AttributeError::NotAnObject]
        );
    }
}
