//! The attribute catalogue of `getAttributes`: built-in contact fields and the custom
//! attributes that `newContact` has stored (contract Part B).

use serde_json::Value;

use crate::{Date, InputError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Number,
    Boolean,
    Date,
    Datetime,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Datetime => "datetime",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::String,
            Self::Number,
            Self::Boolean,
            Self::Date,
            Self::Datetime,
        ]
        .into_iter()
        .find(|t| t.as_str() == raw)
    }

    /// The type a custom value reports. Strings that are dates count as dates.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Bool(_) => Self::Boolean,
            Value::Number(_) => Self::Number,
            Value::String(s) if Date::parse("", s).is_ok() => Self::Date,
            Value::String(s) if crate::Timestamp::parse_rfc3339(s).is_some() => Self::Datetime,
            _ => Self::String,
        }
    }

    /// When values of different types are stored under one name, the catalogue says string.
    pub fn widen(self, other: Self) -> Self {
        if self == other { self } else { Self::String }
    }
}

/// A built-in contact attribute: (name, label, type).
pub const BUILT_IN: &[(&str, &str, AttributeType)] = &[
    ("id", "Contact ID", AttributeType::String),
    ("user_id", "User ID", AttributeType::String),
    ("firstname", "First name", AttributeType::String),
    ("lastname", "Last name", AttributeType::String),
    ("email", "Email", AttributeType::String),
    ("phone", "Phone", AttributeType::String),
    ("address", "Address", AttributeType::String),
    ("city", "City", AttributeType::String),
    ("state", "State", AttributeType::String),
    ("zip", "Zip code", AttributeType::String),
    ("dob", "Date of birth", AttributeType::Date),
    ("gender", "Gender", AttributeType::String),
    ("type", "Type", AttributeType::String),
    ("status", "Status", AttributeType::String),
    ("source", "Source", AttributeType::String),
    ("location", "Location", AttributeType::String),
    ("last_location", "Last location", AttributeType::String),
    ("tags", "Tags", AttributeType::String),
    ("email_optout", "Email opt-out", AttributeType::Boolean),
    ("sms_optout", "SMS opt-out", AttributeType::Boolean),
    ("created_date", "Created date", AttributeType::Datetime),
    ("updated_date", "Updated date", AttributeType::Datetime),
    (
        "last_visit_date",
        "Last visit date",
        AttributeType::Datetime,
    ),
];

pub const MAX_NAME_LEN: usize = 64;
pub const MAX_STRING_VALUE_LEN: usize = 4096;

/// Checks a custom attribute of `newContact`: a name of 1..=64 printable characters and a
/// scalar value (string, number, boolean; `null` removes it). Nested values are refused
/// because no catalogue type describes them.
pub fn check_custom(name: &str, value: &Value) -> Result<(), InputError> {
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control)
    {
        return Err(InputError::new(
            name,
            "custom attribute names must be 1 to 64 printable characters",
        ));
    }
    match value {
        Value::Array(_) | Value::Object(_) => Err(InputError::new(
            name,
            format!("custom attribute {name} must be a string, number, boolean or null"),
        )),
        Value::String(s) if s.len() > MAX_STRING_VALUE_LEN => Err(InputError::new(
            name,
            format!("custom attribute {name} is longer than {MAX_STRING_VALUE_LEN} bytes"),
        )),
        Value::String(s) if s.contains('\0') => Err(InputError::new(
            name,
            format!("custom attribute {name} contains a NUL character"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_values_report_their_type() {
        assert_eq!(AttributeType::of(&json!("2024-02-01")), AttributeType::Date);
        assert_eq!(
            AttributeType::of(&json!("2024-02-01T10:00:00Z")),
            AttributeType::Datetime
        );
        assert_eq!(AttributeType::of(&json!(3.5)), AttributeType::Number);
        assert_eq!(AttributeType::of(&json!(false)), AttributeType::Boolean);
        assert_eq!(AttributeType::of(&json!("yoga")), AttributeType::String);
    }

    #[test]
    fn nested_values_and_odd_names_are_refused() {
        assert!(check_custom("favs", &json!(["a"])).is_err());
        assert!(check_custom("favs", &json!({"a": 1})).is_err());
        assert!(check_custom("", &json!(1)).is_err());
        assert!(check_custom(&"n".repeat(65), &json!(1)).is_err());
        assert!(check_custom("Favorite class", &json!("Spin")).is_ok());
        assert!(check_custom("shoe", &Value::Null).is_ok());
    }

    #[test]
    fn mixed_types_widen_to_string() {
        assert_eq!(
            AttributeType::Number.widen(AttributeType::Number),
            AttributeType::Number
        );
        assert_eq!(
            AttributeType::Number.widen(AttributeType::Date),
            AttributeType::String
        );
    }
}
