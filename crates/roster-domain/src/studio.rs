//! A studio's places and schedule: locations, classes, and members' memberships.
//! Contract Part B: newLocation, newClass, removeClass, getClassSchedule, addMemberships.

use crate::{Date, Email, EventTime, InputError, Timestamp};

/// newLocation, upserted by the caller's `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLocation {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub email: Option<Email>,
    pub timezone: Option<Timezone>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub public_id: String,
    pub fields: NewLocation,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

/// An IANA time zone name such as `America/Chicago` (or `UTC`). Only the shape is checked
/// here: Roster carries no time zone database yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone(String);

impl Timezone {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        let shape_ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
            && !raw.starts_with('/')
            && !raw.ends_with('/');
        if shape_ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(InputError::new(
                field,
                format!("{field} must be a time zone name such as America/Chicago"),
            ))
        }
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// newClass, upserted by the caller's `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewClass {
    pub id: String,
    pub class_name: String,
    pub description: Option<String>,
    /// The caller's location id; it must name a location of the app.
    pub location_id: Option<String>,
    pub staff: Option<String>,
    pub start_date: Date,
    pub start_time: EventTime,
    pub end_time: Option<EventTime>,
    pub capacity: Option<i64>,
}

impl NewClass {
    /// A class ends after it starts; a capacity is not negative.
    pub fn check(&self) -> Result<(), InputError> {
        if let Some(end) = &self.end_time
            && end.clock() <= self.start_time.clock()
        {
            return Err(InputError::new(
                "end_time",
                "end_time must be after start_time",
            ));
        }
        if self.capacity.is_some_and(|c| c < 0) {
            return Err(InputError::new("capacity", "capacity must not be negative"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub public_id: String,
    pub fields: NewClass,
    pub created_date: Timestamp,
}

/// One membership of addMemberships, upserted by its `id` per contact.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMembership {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    /// Kept as the JSON number sent, so no cent is lost to floating point.
    pub price: Option<serde_json::Number>,
    pub location_id: Option<String>,
}

impl NewMembership {
    pub fn check(&self, field: &str) -> Result<(), InputError> {
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            return Err(InputError::new(
                format!("{field}.end_date"),
                "end_date must not be before start_date",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub contact_id: String,
    pub fields: NewMembership,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(start: &str, end: Option<&str>) -> NewClass {
        NewClass {
            id: "c1".into(),
            class_name: "Spin".into(),
            description: None,
            location_id: None,
            staff: None,
            start_date: Date::parse("d", "2025-01-01").unwrap(),
            start_time: EventTime::parse("start_time", start).unwrap(),
            end_time: end.map(|e| EventTime::parse("end_time", e).unwrap()),
            capacity: Some(20),
        }
    }

    #[test]
    fn a_class_must_end_after_it_starts() {
        assert!(class("9:00 AM", Some("10:00 AM")).check().is_ok());
        assert!(class("9:00 AM", None).check().is_ok());
        assert_eq!(
            class("9:00 AM", Some("09:00")).check().unwrap_err().field,
            "end_time"
        );
        assert_eq!(
            class("18:00", Some("5:00 PM")).check().unwrap_err().field,
            "end_time"
        );
    }

    #[test]
    fn time_zone_names_are_checked_for_shape() {
        assert!(Timezone::parse("tz", "America/Argentina/Buenos_Aires").is_ok());
        assert!(Timezone::parse("tz", "UTC").is_ok());
        for bad in [
            "",
            "America Chicago",
            "/UTC",
            "Europe/",
            "x".repeat(65).as_str(),
        ] {
            assert!(Timezone::parse("tz", bad).is_err(), "{bad}");
        }
    }
}
