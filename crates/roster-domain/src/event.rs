//! Events (visits, bookings, purchases, anything an integrator records) as newEvent sends
//! them. Contract: `shared/gleantap/api.md`, "newEvent".

use serde_json::Value;

use crate::{ContactIdentity, Date, InputError, Timestamp};

/// A time of day as integrators write it: `HH:MM AM/PM` (the contract's form; `7:05pm`
/// and `07:05 PM` too) or 24-hour `HH:MM[:SS]`. The text sent is kept for display; the
/// 24-hour form orders events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTime {
    as_sent: String,
    clock: time::Time,
}

impl EventTime {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InputError> {
        let as_sent = raw.trim();
        let invalid = || {
            InputError::new(
                field,
                format!("{field} must be a time, HH:MM AM/PM or 24-hour HH:MM[:SS]"),
            )
        };
        let upper = as_sent.to_ascii_uppercase();
        let (digits, meridiem) = match upper
            .strip_suffix("AM")
            .or_else(|| upper.strip_suffix("PM"))
        {
            Some(rest) => (rest.trim_end(), Some(upper.ends_with("PM"))),
            None => (upper.as_str(), None),
        };
        let parts: Vec<&str> = digits.split(':').collect();
        let number = |s: &str, max: u8| -> Option<u8> {
            let ok = (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| s.parse().ok()).flatten().filter(|n| *n <= max)
        };
        let (hour, minute, second) = match (parts.as_slice(), meridiem) {
            ([h, m], Some(pm)) if m.len() == 2 => {
                let h = number(h, 12).filter(|h| *h >= 1).ok_or_else(invalid)?;
                (
                    (h % 12) + if pm { 12 } else { 0 },
                    number(m, 59).ok_or_else(invalid)?,
                    0,
                )
            }
            ([h, m], None) if m.len() == 2 => (
                number(h, 23).ok_or_else(invalid)?,
                number(m, 59).ok_or_else(invalid)?,
                0,
            ),
            ([h, m, s], None) if m.len() == 2 && s.len() == 2 => (
                number(h, 23).ok_or_else(invalid)?,
                number(m, 59).ok_or_else(invalid)?,
                number(s, 59).ok_or_else(invalid)?,
            ),
            _ => return Err(invalid()),
        };
        let clock = time::Time::from_hms(hour, minute, second).map_err(|_| invalid())?;
        Ok(Self {
            as_sent: as_sent.to_string(),
            clock,
        })
    }

    /// For values read back from storage: the text as sent and its `HH:MM:SS` form.
    pub fn from_stored(as_sent: String, hhmmss: &str) -> Option<Self> {
        let clock = Self::parse("", hhmmss).ok()?.clock;
        Some(Self { as_sent, clock })
    }

    pub fn as_sent(&self) -> &str {
        &self.as_sent
    }

    /// `HH:MM:SS`, 24-hour: sorts in time order.
    pub fn hhmmss(&self) -> String {
        format!(
            "{:02}:{:02}:{:02}",
            self.clock.hour(),
            self.clock.minute(),
            self.clock.second()
        )
    }

    pub fn clock(&self) -> time::Time {
        self.clock
    }
}

/// A parsed newEvent request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub identity: ContactIdentity,
    /// The caller's event id: the idempotency key per app.
    pub id: String,
    pub event_type: String,
    pub event_name: Option<String>,
    pub date: Date,
    pub time: Option<EventTime>,
    pub is_visit: bool,
    pub is_purchase: bool,
    /// Where it happened, when the event names a location.
    pub location: Option<String>,
    /// `event_data` exactly as sent: an object or an array of objects.
    pub data: Option<Value>,
}

impl NewEvent {
    /// The `event_data` keys, for the getAttributeEvents catalogue.
    pub fn data_fields(&self) -> Vec<String> {
        self.data.as_ref().map(data_fields).unwrap_or_default()
    }
}

/// The instant of an event: its date at its time (midnight when it has none), UTC.
pub fn event_instant(date: Date, time: Option<&EventTime>) -> Timestamp {
    let clock = time.map_or(time::Time::MIDNIGHT, EventTime::clock);
    Timestamp::from_datetime(date.inner().with_time(clock).assume_utc())
}

/// Most distinct `event_data` keys one event may carry (each is catalogued).
pub const MAX_EVENT_DATA_FIELDS: usize = 100;

/// `event_data` must be an object or an array of objects (contract, newEvent), with at
/// most [`MAX_EVENT_DATA_FIELDS`] distinct keys.
pub fn check_event_data(field: &str, value: Value) -> Result<Option<Value>, InputError> {
    let shape_ok = match &value {
        Value::Null => return Ok(None),
        Value::Object(_) => true,
        Value::Array(items) => items.iter().all(Value::is_object),
        _ => false,
    };
    if !shape_ok {
        return Err(InputError::new(
            field,
            format!("{field} must be an object or an array of objects"),
        ));
    }
    if data_fields(&value).len() > MAX_EVENT_DATA_FIELDS {
        return Err(InputError::new(
            field,
            format!("{field} has more than {MAX_EVENT_DATA_FIELDS} distinct keys"),
        ));
    }
    Ok(Some(value))
}

/// The distinct keys of an object, or of the objects of an array, sorted.
fn data_fields(data: &Value) -> Vec<String> {
    let mut fields: Vec<String> = match data {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|map| map.keys().cloned())
            .collect(),
        _ => Vec::new(),
    };
    fields.sort();
    fields.dedup();
    fields
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Roster's id (`_id`).
    pub public_id: String,
    /// The caller's id (`id`).
    pub id: String,
    pub contact_id: String,
    pub event_type: String,
    pub event_name: Option<String>,
    pub date: Date,
    pub time: Option<EventTime>,
    pub is_visit: bool,
    pub is_purchase: bool,
    pub location: Option<String>,
    pub data: Option<Value>,
    pub created_date: Timestamp,
}

/// A getAttributeEvents entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTypeSummary {
    pub event_type: String,
    pub event_names: Vec<String>,
    pub fields: Vec<String>,
    pub count: i64,
    pub first_date: Date,
    pub last_date: Date,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn t(raw: &str) -> Result<String, InputError> {
        EventTime::parse("event_time", raw).map(|t| t.hhmmss())
    }

    #[test]
    fn twelve_hour_times_convert() {
        for (raw, want) in [
            ("7:05 PM", "19:05:00"),
            ("07:05 pm", "19:05:00"),
            ("12:00 AM", "00:00:00"),
            ("12:30 PM", "12:30:00"),
            ("7:05PM", "19:05:00"),
            ("11:59 am", "11:59:00"),
        ] {
            assert_eq!(t(raw).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn twenty_four_hour_times_are_accepted() {
        assert_eq!(t("19:05").unwrap(), "19:05:00");
        assert_eq!(t("00:00:59").unwrap(), "00:00:59");
        assert_eq!(t("7:05").unwrap(), "07:05:00");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "7 PM",
            "13:00 PM",
            "0:30 AM",
            "24:00",
            "19:60",
            "19:5",
            "7:05 XM",
            "19:05:00 PM",
            "noon",
            "19-05",
        ] {
            assert_eq!(t(bad).unwrap_err().field, "event_time", "{bad:?}");
        }
    }

    #[test]
    fn the_text_sent_is_kept() {
        assert_eq!(
            EventTime::parse("t", " 7:05 pm ").unwrap().as_sent(),
            "7:05 pm"
        );
    }

    #[test]
    fn event_data_is_an_object_or_a_list_of_objects() {
        assert!(check_event_data("event_data", json!({"a": 1})).is_ok());
        assert!(check_event_data("event_data", json!([{"a": 1}, {"b": 2}])).is_ok());
        assert_eq!(check_event_data("event_data", Value::Null).unwrap(), None);
        let wide: serde_json::Map<String, Value> = (0..=MAX_EVENT_DATA_FIELDS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        for bad in [
            json!("x"),
            json!(1),
            json!([1]),
            json!([{"a": 1}, "b"]),
            Value::Object(wide),
        ] {
            assert!(
                check_event_data("event_data", bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_valid_clock_time_parses_in_both_forms(h in 0u8..24, m in 0u8..60) {
            let twelve = format!("{}:{m:02} {}", if h % 12 == 0 { 12 } else { h % 12 }, if h < 12 { "AM" } else { "PM" });
            let want = format!("{h:02}:{m:02}:00");
            prop_assert_eq!(t(&twelve).unwrap(), want.clone());
            prop_assert_eq!(t(&format!("{h:02}:{m:02}")).unwrap(), want);
        }

        #[test]
        fn parsing_never_panics(raw in "\\PC{0,16}") {
            let _ = t(&raw);
        }
    }
}
