//! Limits on the shape of a JSON body, checked in one pass before it is deserialised, so
//! a body within the size limit still cannot nest without end, carry a megabyte string in
//! an `event_data` value, or an array of a hundred thousand items. The pass allocates
//! nothing for a body within the limits. A breach names the field: depth is a 400, sizes a
//! 413 (README, "Protection").

use std::{borrow::Cow, cell::RefCell, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::{JsonLimits, error::ApiError};

/// Top-level fields holding a message body (`html`, `text` of sendEmailNotification,
/// `message` of sendSmsNotification, `body` of newCampaign): bounded by their own rule
/// (200,000 characters) and the body limit, not by `max_string_bytes`.
const MESSAGE_BODY_FIELDS: &[&str] = &["html", "text", "message", "body"];

/// Checks `bytes` against `limits`. Malformed JSON passes: the parser reports it.
pub fn check(bytes: &[u8], limits: &JsonLimits) -> Result<(), ApiError> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let scan = Scan {
        found: &found,
        limits,
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

/// The limit exceeded (and its value), and where: segments are pushed innermost first
/// while the error unwinds, so only a refused body pays for the path.
struct Breach {
    limit: Limit,
    allowed: usize,
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
        let allowed = self.allowed;
        let message = match self.limit {
            Limit::Depth => {
                return ApiError::BadRequest {
                    message: format!("{what} is nested more than {allowed} levels deep"),
                    field,
                };
            }
            Limit::String => format!("{what} is longer than {allowed} bytes"),
            Limit::Name => format!("{what} has a field name longer than {allowed} bytes"),
            Limit::Array => format!("{what} has more than {allowed} items"),
            Limit::Object => format!("{what} has more than {allowed} fields"),
        };
        match field {
            Some(field) => ApiError::FieldTooLarge { message, field },
            None => ApiError::PayloadTooLarge(message),
        }
    }
}

fn breach<E: de::Error>(found: &RefCell<Option<Breach>>, limit: Limit, allowed: usize) -> E {
    *found.borrow_mut() = Some(Breach {
        limit,
        allowed,
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
    limits: &'a JsonLimits,
    /// Containers around this value.
    depth: usize,
    /// This value is a top-level message body.
    long_text: bool,
}

impl Scan<'_> {
    fn inside<E: de::Error>(self) -> Result<Self, E> {
        let allowed = self.limits.max_depth;
        if self.depth >= allowed {
            return Err(breach(self.found, Limit::Depth, allowed));
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
        let allowed = self.limits.max_string_bytes;
        if value.len() > allowed && !self.long_text {
            return Err(breach(self.found, Limit::String, allowed));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let item = self.inside()?;
        let allowed = self.limits.max_array_items;
        for index in 0.. {
            match seq.next_element_seed(item) {
                Ok(Some(())) if index >= allowed => {
                    return Err(breach(self.found, Limit::Array, allowed));
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
        let allowed = self.limits.max_object_fields;
        while let Some(name) = map.next_key_seed(Name(self.found, self.limits.max_string_bytes))? {
            fields += 1;
            if fields > allowed {
                return Err(breach(self.found, Limit::Object, allowed));
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

/// A field name (of at most the given bytes): borrowed from the body unless it has escapes.
struct Name<'a>(&'a RefCell<Option<Breach>>, usize);

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
        if name.len() > self.1 {
            return Err(breach(self.0, Limit::Name, self.1));
        }
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        if name.len() > self.1 {
            return Err(breach(self.0, Limit::Name, self.1));
        }
        Ok(Cow::Owned(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const LIMITS: JsonLimits = JsonLimits {
        max_depth: 32,
        max_string_bytes: 16 * 1024,
        max_array_items: 1000,
        max_object_fields: 256,
    };
    const MAX_DEPTH: usize = LIMITS.max_depth;
    const MAX_STRING_BYTES: usize = LIMITS.max_string_bytes;
    const MAX_ARRAY_ITEMS: usize = LIMITS.max_array_items;
    const MAX_OBJECT_FIELDS: usize = LIMITS.max_object_fields;

    fn refused(body: &Value) -> Option<(u16, Option<String>)> {
        refused_under(body, &LIMITS)
    }

    fn refused_under(body: &Value, limits: &JsonLimits) -> Option<(u16, Option<String>)> {
        let bytes = serde_json::to_vec(body).unwrap();
        check(&bytes, limits).err().map(|err| {
            let response = axum::response::IntoResponse::into_response(err);
            let field = match check(&bytes, limits).unwrap_err() {
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
        let err = check(bytes.as_bytes(), &LIMITS).unwrap_err();
        assert!(matches!(err, ApiError::FieldTooLarge { field, .. } if field == "a\"b[0]"));
    }

    #[test]
    fn malformed_json_is_left_to_the_parser() {
        assert!(check(b"{\"a\": [1, 2", &LIMITS).is_ok());
        assert!(check(b"not json", &LIMITS).is_ok());
    }

    #[test]
    fn the_limits_are_the_ones_given_and_named_in_the_message() {
        let tight = JsonLimits {
            max_depth: 2,
            max_string_bytes: 4,
            max_array_items: 2,
            max_object_fields: 3,
        };
        assert_eq!(refused_under(&json!({"a": {"b": 1}}), &tight), None);
        assert_eq!(refused_under(&nested(3), &tight).map(|r| r.0), Some(400));
        assert_eq!(
            refused_under(&json!({"note": "12345"}), &tight),
            Some((413, Some("note".into())))
        );
        assert_eq!(
            refused_under(&json!({"tags": [1, 2, 3]}), &tight).map(|r| r.0),
            Some(413)
        );
        assert_eq!(
            refused_under(&json!({"a": 1, "b": 2, "c": 3, "d": 4}), &tight).map(|r| r.0),
            Some(413)
        );
        let err = check(br#"{"note": "12345"}"#, &tight).unwrap_err();
        assert!(err.to_string().contains("longer than 4 bytes"), "{err}");
        // The defaults are the documented ones (README, "Protection").
        assert_eq!(JsonLimits::default(), LIMITS);
    }
}
