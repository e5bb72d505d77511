//! Limits on the shape of a JSON body, checked in one pass before it is deserialised, so
//! a body within the size limit still cannot nest without end, carry a megabyte string in
//! an `event_data` value, or an array of a hundred thousand items. The pass allocates
//! nothing for a body within the limits. A breach names the field: depth is a 400, sizes a
//! 413 (README, "Protection").

use std::{borrow::Cow, cell::RefCell, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::ApiError;

/// Objects and arrays inside each other, the body itself being level 1.
pub const MAX_DEPTH: usize = 32;
/// Bytes of any string or field name, except the message bodies below.
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// Items of any array (the API's own lists stop far earlier: 500 memberships, 100 tags).
pub const MAX_ARRAY_ITEMS: usize = 1000;
/// Fields of any object (newContact: its fields plus 200 custom attributes).
pub const MAX_OBJECT_FIELDS: usize = 256;
/// Top-level fields holding a message body (`html`, `text` of sendEmailNotification,
/// `message` of sendSmsNotification, `body` of newCampaign): bounded by their own rule
/// (200,000 characters) and the body limit, not by [`MAX_STRING_BYTES`].
const MESSAGE_BODY_FIELDS: &[&str] = &["html", "text", "message", "body"];

/// Checks `bytes` against the limits. Malformed JSON passes: the parser reports it.
pub fn check(bytes: &[u8]) -> Result<(), ApiError> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let scan = Scan {
        found: &found,
        depth: 0,
        long_text: false,
    };
    if scan.deserialize(&mut deserializer).is_ok() {
        return Ok(());
    }
    match found.into_inner() {
        Some(breach) => Err(breach.into_error()),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Depth,
    String,
    Name,
    Array,
    Object,
}

enum Segment {
    Field(String),
    Item(usize),
}

/// The limit exceeded, and where: segments are pushed innermost first while the error
/// unwinds, so only a refused body pays for the path.
struct Breach {
    limit: Limit,
    path: Vec<Segment>,
}

impl Breach {
    fn field(&self) -> Option<String> {
        let mut field = String::new();
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Field(name) if field.is_empty() => field.push_str(name),
                Segment::Field(name) => {
                    field.push('.');
                    field.push_str(name);
                }
                Segment::Item(index) => field.push_str(&format!("[{index}]")),
            }
        }
        (!field.is_empty()).then_some(field)
    }

    fn into_error(self) -> ApiError {
        let field = self.field();
        let what = field.clone().unwrap_or_else(|| "the body".into());
        let message = match self.limit {
            Limit::Depth => {
                return ApiError::BadRequest {
                    message: format!("{what} is nested more than {MAX_DEPTH} levels deep"),
                    field,
                };
            }
            Limit::String => format!("{what} is longer than {MAX_STRING_BYTES} bytes"),
            Limit::Name => format!("{what} has a field name longer than {MAX_STRING_BYTES} bytes"),
            Limit::Array => format!("{what} has more than {MAX_ARRAY_ITEMS} items"),
            Limit::Object => format!("{what} has more than {MAX_OBJECT_FIELDS} fields"),
        };
        match field {
            Some(field) => ApiError::FieldTooLarge { message, field },
            None => ApiError::PayloadTooLarge(message),
        }
    }
}

fn breach<E: de::Error>(found: &RefCell<Option<Breach>>, limit: Limit) -> E {
    *found.borrow_mut() = Some(Breach {
        limit,
        path: Vec::new(),
    });
    E::custom("a JSON limit was exceeded")
}

fn note(found: &RefCell<Option<Breach>>, segment: impl FnOnce() -> Segment) {
    if let Some(breach) = found.borrow_mut().as_mut() {
        breach.path.push(segment());
    }
}

/// Visits one value and everything inside it.
#[derive(Clone, Copy)]
struct Scan<'a> {
    found: &'a RefCell<Option<Breach>>,
    /// Containers around this value.
    depth: usize,
    /// This value is a top-level message body.
    long_text: bool,
}

impl Scan<'_> {
    fn inside<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(breach(self.found, Limit::Depth));
        }
        Ok(Self {
            depth: self.depth + 1,
            long_text: false,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        if value.len() > MAX_STRING_BYTES && !self.long_text {
            return Err(breach(self.found, Limit::String));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let item = self.inside()?;
        for index in 0.. {
            match seq.next_element_seed(item) {
                Ok(Some(())) if index >= MAX_ARRAY_ITEMS => {
                    return Err(breach(self.found, Limit::Array));
                }
                Ok(Some(())) => {}
                Ok(None) => break,
                Err(err) => {
                    note(self.found, || Segment::Item(index));
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let value = self.inside()?;
        let top_level = self.depth == 0;
        let mut fields = 0;
        while let Some(name) = map.next_key_seed(Name(self.found))? {
            fields += 1;
            if fields > MAX_OBJECT_FIELDS {
                return Err(breach(self.found, Limit::Object));
            }
            let long_text = top_level && MESSAGE_BODY_FIELDS.contains(&name.as_ref());
            if let Err(err) = map.next_value_seed(Scan { long_text, ..value }) {
                note(self.found, || Segment::Field(name.into_owned()));
                return Err(err);
            }
        }
        Ok(())
    }
}

/// A field name: borrowed from the body unless it has escapes.
struct Name<'a>(&'a RefCell<Option<Breach>>);

impl<'de> DeserializeSeed<'de> for Name<'_> {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name<'_> {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Self::Value, E> {
        if name.len() > MAX_STRING_BYTES {
            return Err(breach(self.0, Limit::Name));
        }
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        if name.len() > MAX_STRING_BYTES {
            return Err(breach(self.0, Limit::Name));
        }
        Ok(Cow::Owned(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn refused(body: &Value) -> Option<(u16, Option<String>)> {
        let bytes = serde_json::to_vec(body).unwrap();
        check(&bytes).err().map(|err| {
            let response = axum::response::IntoResponse::into_response(err);
            let field = match check(&bytes).unwrap_err() {
                ApiError::BadRequest { field, .. } => field,
                ApiError::FieldTooLarge { field, .. } => Some(field),
                _ => None,
            };
            (response.status().as_u16(), field)
        })
    }

    fn nested(levels: usize) -> Value {
        (1..levels).fold(json!({}), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn an_ordinary_body_passes() {
        let body =
            json!({"app_id": "a", "tags": ["x", "y"], "event_data": [{"k": 1.5, "n": null}]});
        assert_eq!(refused(&body), None);
    }

    #[test]
    fn depth_up_to_the_limit_passes_and_beyond_is_a_400_naming_the_field() {
        assert_eq!(refused(&nested(MAX_DEPTH)), None);
        let (status, field) = refused(&nested(MAX_DEPTH + 1)).unwrap();
        assert_eq!(status, 400);
        assert_eq!(field.unwrap(), vec!["a"; MAX_DEPTH].join("."));
    }

    #[test]
    fn a_long_string_is_a_413_naming_its_path() {
        let long = "x".repeat(MAX_STRING_BYTES + 1);
        let body = json!({"event_data": [{"ok": "x"}, {"note": long}]});
        assert_eq!(
            refused(&body),
            Some((413, Some("event_data[1].note".into())))
        );
        let fits = json!({"event_data": {"note": "x".repeat(MAX_STRING_BYTES)}});
        assert_eq!(refused(&fits), None);
    }

    #[test]
    fn message_bodies_at_the_top_level_may_be_long() {
        let long = "x".repeat(MAX_STRING_BYTES * 4);
        assert_eq!(refused(&json!({"html": long.clone()})), None);
        assert_eq!(
            refused(&json!({"event_data": {"html": long}})),
            Some((413, Some("event_data.html".into())))
        );
    }

    #[test]
    fn long_arrays_and_wide_objects_are_413s() {
        let items: Vec<u32> = (0..=MAX_ARRAY_ITEMS as u32).collect();
        assert_eq!(
            refused(&json!({ "tags": items })),
            Some((413, Some("tags".into())))
        );
        let wide: serde_json::Map<String, Value> = (0..=MAX_OBJECT_FIELDS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        assert_eq!(
            refused(&json!({ "event_data": wide.clone() })),
            Some((413, Some("event_data".into())))
        );
        assert_eq!(refused(&Value::Object(wide)).map(|r| r.0), Some(413));
    }

    #[test]
    fn escaped_names_are_reported_too() {
        let long = "x".repeat(MAX_STRING_BYTES + 1);
        let bytes = format!(r#"{{"a\"b": ["{long}"]}}"#);
        let err = check(bytes.as_bytes()).unwrap_err();
        assert!(matches!(err, ApiError::FieldTooLarge { field, .. } if field == "a\"b[0]"));
    }

    #[test]
    fn malformed_json_is_left_to_the_parser() {
        assert!(check(b"{\"a\": [1, 2").is_ok());
        assert!(check(b"not json").is_ok());
    }
}
