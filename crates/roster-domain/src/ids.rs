use std::fmt;

use rand::RngCore;

use crate::InputError;

/// Roster's contact id (`_id` on the wire): 24 lower-case hex digits, the shape integrators
/// know from Gleantap. The first 8 digits are the creation second, the rest random, so ids
/// are unguessable and roughly time-ordered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(String);

/// A new Roster id (`_id` of contacts, events, locations, classes): 24 hex digits, the
/// creation second then 8 random bytes.
pub fn new_object_id(now: time::OffsetDateTime) -> String {
    let mut random = [0u8; 8];
    rand::rng().fill_bytes(&mut random);
    let seconds = now.unix_timestamp().clamp(0, u32::MAX as i64) as u32;
    format!("{seconds:08x}{}", hex::encode(random))
}

impl ContactId {
    pub fn generate(now: time::OffsetDateTime) -> Self {
        Self(new_object_id(now))
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        let ok = raw.len() == 24 && raw.bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(InputError::new(
                field,
                format!("{field} must be a contact id (24 hex digits)"),
            ))
        }
    }

    /// For values read back from storage, which only ever holds ids this type made.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = ContactId::generate(time::OffsetDateTime::now_utc());
        assert_eq!(ContactId::parse("_id", id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_of_the_wrong_shape_are_rejected_naming_the_field() {
        for bad in [
            "",
            "abc",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            "0123456789abcdef012345678",
        ] {
            let err = ContactId::parse("to_contact", bad).unwrap_err();
            assert_eq!(err.field, "to_contact");
        }
    }
}
