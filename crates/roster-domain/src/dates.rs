//! Dates as the contract writes them: `YYYY-MM-DD` dates, `YYYY-MM-DD HH:MM:SS` for
//! `created_date` input, and RFC 3339 UTC with milliseconds in responses.

use std::fmt;

use time::{
    OffsetDateTime, PrimitiveDateTime, format_description::FormatItem, macros::format_description,
};

use crate::InputError;

const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
const CREATED: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// A calendar date, `YYYY-MM-DD` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(time::Date);

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Date::parse("date", &raw).map_err(serde::de::Error::custom)
    }
}

impl Date {
    pub fn parse(field: &str, raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        // The format accepts only digits in fixed places; the length check rejects extra text.
        if raw.len() == 10
            && let Ok(date) = time::Date::parse(raw, DATE)
        {
            return Ok(Self(date));
        }
        Err(InputError::new(
            field,
            format!("{field} must be a date, YYYY-MM-DD"),
        ))
    }

    pub fn inner(self) -> time::Date {
        self.0
    }

    /// Midnight UTC at the start of this date: `updated_since` compares against it.
    pub fn start_of_day(self) -> Timestamp {
        Timestamp(self.0.midnight().assume_utc())
    }

    /// Whole years from this date (a birth date) to `today`.
    pub fn years_until(self, today: time::Date) -> i32 {
        let born = self.0;
        let mut years = today.year() - born.year();
        if (today.month() as u8, today.day()) < (born.month() as u8, born.day()) {
            years -= 1;
        }
        years
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(DATE).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// An inclusive date range of a list filter (`start_date`, `end_date`; either may be
/// absent). An end before the start is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateRange {
    pub start: Option<Date>,
    pub end: Option<Date>,
}

impl DateRange {
    pub fn parse(start: Option<&str>, end: Option<&str>) -> Result<Self, InputError> {
        let start = start.map(|d| Date::parse("start_date", d)).transpose()?;
        let end = end.map(|d| Date::parse("end_date", d)).transpose()?;
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            return Err(InputError::new(
                "end_date",
                "end_date must not be before start_date",
            ));
        }
        Ok(Self { start, end })
    }
}

/// `created_date` input: `YYYY-MM-DD HH:MM:SS`, taken as UTC.
pub struct CreatedDate;

impl CreatedDate {
    pub fn parse(field: &str, raw: &str) -> Result<Timestamp, InputError> {
        let raw = raw.trim();
        if raw.len() == 19
            && let Ok(at) = PrimitiveDateTime::parse(raw, CREATED)
        {
            return Ok(Timestamp(at.assume_utc()));
        }
        Err(InputError::new(
            field,
            format!("{field} must be a date-time, YYYY-MM-DD HH:MM:SS"),
        ))
    }
}

/// An instant, kept at millisecond precision so that what is stored is what is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let millis = at.millisecond();
        Self(
            at.replace_nanosecond(u32::from(millis) * 1_000_000)
                .unwrap_or(at),
        )
    }

    /// Parses what [`Timestamp::to_rfc3339`] wrote.
    pub fn parse_rfc3339(raw: &str) -> Option<Self> {
        OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(Self::from_datetime)
    }

    /// `2025-07-05T22:40:10.844Z`: fixed width, so stored text sorts in time order.
    pub fn to_rfc3339(self) -> String {
        self.0
            .format(RFC3339_MILLIS)
            .unwrap_or_else(|_| self.0.unix_timestamp().to_string())
    }

    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    pub fn date(self) -> Date {
        Date(self.0.date())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates_parse_and_print_the_same() {
        assert_eq!(
            Date::parse("dob", "1990-02-28").unwrap().to_string(),
            "1990-02-28"
        );
    }

    #[test]
    fn impossible_or_malformed_dates_are_rejected() {
        for bad in [
            "1990-02-30",
            "1990-2-3",
            "90-02-03",
            "1990/02/03",
            "1990-02-03x",
            "",
            "2025-13-01",
        ] {
            assert_eq!(Date::parse("dob", bad).unwrap_err().field, "dob", "{bad}");
        }
    }

    #[test]
    fn created_date_takes_the_contract_format_only() {
        let at = CreatedDate::parse("created_date", "2024-01-31 23:59:58").unwrap();
        assert_eq!(at.to_rfc3339(), "2024-01-31T23:59:58.000Z");
        for bad in [
            "2024-01-31",
            "2024-01-31T23:59:58",
            "2024-01-31 24:00:00",
            "2024-01-31 23:59",
        ] {
            assert!(CreatedDate::parse("created_date", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_date_range_may_be_open_but_not_reversed() {
        assert_eq!(
            DateRange::parse(None, Some("2025-01-01")).unwrap().start,
            None
        );
        assert!(DateRange::parse(Some("2025-01-01"), Some("2025-01-01")).is_ok());
        assert_eq!(
            DateRange::parse(Some("2025-01-02"), Some("2025-01-01"))
                .unwrap_err()
                .field,
            "end_date"
        );
        assert_eq!(
            DateRange::parse(Some("soon"), None).unwrap_err().field,
            "start_date"
        );
    }

    #[test]
    fn ages_count_whole_years() {
        let dob = Date::parse("dob", "2010-06-15").unwrap();
        let day = |s| Date::parse("d", s).unwrap().inner();
        assert_eq!(dob.years_until(day("2023-06-14")), 12);
        assert_eq!(dob.years_until(day("2023-06-15")), 13);
    }

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse_rfc3339(&now.to_rfc3339()), Some(now));
    }

    proptest! {
        #[test]
        fn every_valid_calendar_date_round_trips(y in 1900i32..2100, m in 1u8..=12, d in 1u8..=31) {
            let text = format!("{y:04}-{m:02}-{d:02}");
            match time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d) {
                Ok(_) => prop_assert_eq!(Date::parse("d", &text).unwrap().to_string(), text),
                Err(_) => prop_assert!(Date::parse("d", &text).is_err()),
            }
        }

        #[test]
        fn date_parsing_never_panics(raw in "\\PC{0,20}") {
            let _ = Date::parse("d", &raw);
            let _ = CreatedDate::parse("d", &raw);
        }
    }
}
