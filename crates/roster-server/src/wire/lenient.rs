//! Field deserializers that accept what integrators actually send: numbers where strings
//! are meant (`"user_id": 42`), `"1"`/`"true"` for booleans, and `""` for "not given".
//! Anything else is refused with a message that the JSON extractor ties to the field.

use serde::{Deserialize, Deserializer, de::Error};
use serde_json::Value;

/// Longest accepted text field, in characters (custom attributes have their own limit).
pub const MAX_TEXT_LEN: usize = 1024;

/// A string or a number; `null` and blank strings are "not given".
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            if s.chars().count() > MAX_TEXT_LEN {
                return Err(D::Error::custom(format!(
                    "longer than {MAX_TEXT_LEN} characters"
                )));
            }
            if has_control_characters(s) {
                return Err(D::Error::custom("contains control characters"));
            }
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a string, found {}",
            kind(&other)
        ))),
    }
}

/// Longest message body (an email's HTML), in characters.
pub const MAX_BODY_LEN: usize = 200_000;

/// A message body: a string kept as written (line breaks and all); blank is "not given".
pub fn opt_body<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => {
            if s.chars().count() > MAX_BODY_LEN {
                return Err(D::Error::custom(format!(
                    "longer than {MAX_BODY_LEN} characters"
                )));
            }
            if has_control_characters(&s) {
                return Err(D::Error::custom("contains control characters"));
            }
            Ok((!s.trim().is_empty()).then_some(s))
        }
        other => Err(D::Error::custom(format!(
            "expected a string, found {}",
            kind(&other)
        ))),
    }
}

/// `true`/`false`, `1`/`0`, or those as strings (also `yes`/`no`).
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let invalid = |found: &str| D::Error::custom(format!("expected a boolean, found {found}"));
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Ok(Some(true)),
            Some(0) => Ok(Some(false)),
            _ => Err(invalid(&n.to_string())),
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(invalid(&format!("{s:?}"))),
        },
        other => Err(invalid(kind(&other))),
    }
}

/// A whole number, or one written as a string.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let invalid = |found: String| D::Error::custom(format!("expected an integer, found {found}"));
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| invalid(n.to_string())),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{s:?}"))),
        other => Err(invalid(kind(&other).to_string())),
    }
}

/// A number, or one written as a string (`"49.99"`); kept exactly as written.
pub fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Number>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(n)),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(Value::Number(n)) => Ok(Some(n)),
            _ => Err(D::Error::custom(format!("expected a number, found {s:?}"))),
        },
        other => Err(D::Error::custom(format!(
            "expected a number, found {}",
            kind(&other)
        ))),
    }
}

/// The contract's comma-separated `tags`; an array of strings is accepted too.
pub fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) if s.contains(',') => {
                        return Err(D::Error::custom("a tag in a list must not contain a comma"));
                    }
                    Value::String(s) => parts.push(s),
                    other => {
                        return Err(D::Error::custom(format!(
                            "expected tag strings, found {}",
                            kind(&other)
                        )));
                    }
                }
            }
            Ok(Some(parts.join(",")))
        }
        other => opt_string(other).map_err(D::Error::custom),
    }
}

/// NUL and other control characters (tab and line breaks aside) are never meaningful in
/// these fields, and PostgreSQL refuses NUL in text outright.
pub fn has_control_characters(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn strings_accept_numbers_and_treat_blank_as_absent() {
        assert_eq!(super::opt_string(json!(42)).unwrap(), Some("42".into()));
        assert_eq!(super::opt_string(json!("  ")).unwrap(), None);
        assert!(super::opt_string(json!({"a": 1})).is_err());
        assert!(super::opt_string(json!("x".repeat(1025))).is_err());
        assert!(super::opt_string(json!("A\u{0}")).is_err());
        assert_eq!(
            super::opt_string(json!("1 Main St\nUnit 2")).unwrap(),
            Some("1 Main St\nUnit 2".into())
        );
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for (raw, want) in [
            (json!(true), true),
            (json!(0), false),
            (json!("1"), true),
            (json!("No"), false),
        ] {
            assert_eq!(super::opt_bool(raw).unwrap(), Some(want));
        }
        assert!(super::opt_bool(json!("maybe")).is_err());
        assert!(super::opt_bool(json!(2)).is_err());
    }

    #[test]
    fn integers_refuse_fractions_and_words() {
        assert_eq!(super::opt_int(json!("25")).unwrap(), Some(25));
        assert!(super::opt_int(json!(2.5)).is_err());
        assert!(super::opt_int(json!("ten")).is_err());
    }

    #[test]
    fn tags_take_a_list_or_commas() {
        assert_eq!(super::tags(json!(["a", "b"])).unwrap(), Some("a,b".into()));
        assert_eq!(super::tags(json!("a,b")).unwrap(), Some("a,b".into()));
        assert!(super::tags(json!([1])).is_err());
    }
}

/// OpenAPI schemas of what the deserializers above accept, so that `/openapi.json` says what
/// the server takes (a field documented as a string that also takes a number is a contract
/// that a client, or a fuzzer, would find wider than written). Fields name them with
/// `#[schema(value_type = Option<lenient::TextOrNumber>)]` and the like.
pub mod schema {
    use utoipa::{
        PartialSchema, ToSchema,
        openapi::{
            ArrayBuilder, ObjectBuilder, OneOfBuilder, RefOr, Schema, Type, schema::SchemaType,
        },
    };

    use super::MAX_TEXT_LEN;

    fn of(types: &[Type], description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter(types.iter().cloned()))
            .description(Some(description))
    }

    /// [`super::opt_string`].
    pub struct TextOrNumber;
    impl PartialSchema for TextOrNumber {
        fn schema() -> RefOr<Schema> {
            of(
                &[Type::String, Type::Number],
                "A string (trimmed; blank means not given; no control characters) or a number, \
                 taken as its decimal text.",
            )
            .max_length(Some(MAX_TEXT_LEN))
            .into()
        }
    }
    impl ToSchema for TextOrNumber {}

    /// [`super::opt_int`].
    pub struct IntegerOrText;
    impl PartialSchema for IntegerOrText {
        fn schema() -> RefOr<Schema> {
            of(
                &[Type::Integer, Type::String],
                "An integer, or one written as a string; a blank string means not given.",
            )
            .into()
        }
    }
    impl ToSchema for IntegerOrText {}

    /// [`super::opt_bool`].
    pub struct BooleanOrText;
    impl PartialSchema for BooleanOrText {
        fn schema() -> RefOr<Schema> {
            of(
                &[Type::Boolean, Type::Integer, Type::String],
                "true or false; also 1 or 0, and \"true\", \"false\", \"1\", \"0\", \"yes\", \
                 \"no\" as strings; a blank string means not given.",
            )
            .into()
        }
    }
    impl ToSchema for BooleanOrText {}

    /// [`super::opt_number`].
    pub struct NumberOrText;
    impl PartialSchema for NumberOrText {
        fn schema() -> RefOr<Schema> {
            of(
                &[Type::Number, Type::String],
                "A number, or one written as a string (\"49.99\"); a blank string means not given.",
            )
            .into()
        }
    }
    impl ToSchema for NumberOrText {}

    /// [`super::tags`].
    pub struct Tags;
    impl PartialSchema for Tags {
        fn schema() -> RefOr<Schema> {
            OneOfBuilder::new()
                .item(TextOrNumber::schema())
                .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(
                    "Comma-separated tags, or an array of tags (without commas).",
                ))
                .into()
        }
    }
    impl ToSchema for Tags {}
}
