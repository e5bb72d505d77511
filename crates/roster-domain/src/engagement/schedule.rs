//! When a campaign message may go out: never in the recipient's quiet hours (in their
//! location's time zone, else the app's), and no faster than the app's send rate.

use std::{str::FromStr, time::Duration};

use jiff::{civil::Time, tz::TimeZone};

use crate::{InputError, Timestamp};

/// A daily window in which nothing is sent, e.g. `19:30-09:00` (it may wrap midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: Time,
    end: Time,
}

impl QuietHours {
    /// `HH:MM-HH:MM`, or `none` (`None`: no quiet hours).
    pub fn parse(field: &str, raw: &str) -> Result<Option<QuietHours>, InputError> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("none") || raw.is_empty() {
            return Ok(None);
        }
        let bad = || InputError::new(field, format!("{field} must be HH:MM-HH:MM (or none)"));
        let (start, end) = raw.split_once('-').ok_or_else(bad)?;
        let time = |part: &str| {
            let (h, m) = part.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            Time::new(h, m, 0, 0).map_err(|_| bad())
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(bad());
        }
        Ok(Some(QuietHours { start, end }))
    }

    fn is_quiet(&self, time: Time) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// `at` itself when it is outside the window, else the end of the window, in `zone`.
    pub fn next_allowed(&self, at: Timestamp, zone: &TimeZone) -> Timestamp {
        let Ok(instant) = to_jiff(at) else {
            return at;
        };
        let local = instant.to_zoned(zone.clone());
        if !self.is_quiet(local.time()) {
            return at;
        }
        let mut day = local.date();
        if self.start > self.end && local.time() >= self.start {
            day = day.tomorrow().unwrap_or(day);
        }
        day.to_datetime(self.end)
            .to_zoned(zone.clone())
            .ok()
            .and_then(|zoned| from_jiff(zoned.timestamp()))
            .unwrap_or(at)
    }
}

/// A time zone by IANA name.
pub fn time_zone(field: &str, name: &str) -> Result<TimeZone, InputError> {
    TimeZone::get(name.trim()).map_err(|_| {
        InputError::new(
            field,
            format!("{field} {name:?} is not a known IANA time zone"),
        )
    })
}

/// The gap between two messages of one app and channel at `per_second`.
pub fn interval(per_second: u32) -> Option<Duration> {
    (per_second > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(per_second)))
}

fn to_jiff(at: Timestamp) -> Result<jiff::Timestamp, jiff::Error> {
    jiff::Timestamp::from_nanosecond(at.datetime().unix_timestamp_nanos())
}

fn from_jiff(at: jiff::Timestamp) -> Option<Timestamp> {
    time::OffsetDateTime::from_unix_timestamp_nanos(at.as_nanosecond())
        .ok()
        .map(Timestamp::from_datetime)
}

impl FromStr for QuietHours {
    type Err = InputError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        QuietHours::parse("quiet_hours", raw)?
            .ok_or_else(|| InputError::new("quiet_hours", "no quiet hours given"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> Timestamp {
        Timestamp::parse_rfc3339(rfc3339).unwrap()
    }

    #[test]
    fn evenings_wait_for_the_morning_in_the_recipients_zone() {
        let sms: QuietHours = "19:30-09:00".parse().unwrap();
        let chicago = time_zone("tz", "America/Chicago").unwrap();
        // 20:00 in Chicago (CDT, UTC-5) -> 09:00 the next day there.
        assert_eq!(
            sms.next_allowed(at("2026-06-02T01:00:00.000Z"), &chicago),
            at("2026-06-02T14:00:00.000Z")
        );
        // 07:00 in Chicago -> 09:00 the same day.
        assert_eq!(
            sms.next_allowed(at("2026-06-02T12:00:00.000Z"), &chicago),
            at("2026-06-02T14:00:00.000Z")
        );
        // Noon is fine.
        assert_eq!(
            sms.next_allowed(at("2026-06-02T17:00:00.000Z"), &chicago),
            at("2026-06-02T17:00:00.000Z")
        );
        // The same instant is midday in Tokyo.
        let tokyo = time_zone("tz", "Asia/Tokyo").unwrap();
        assert_eq!(
            sms.next_allowed(at("2026-06-02T01:00:00.000Z"), &tokyo),
            at("2026-06-02T01:00:00.000Z")
        );
    }

    #[test]
    fn a_window_inside_one_day_and_daylight_saving() {
        let email: QuietHours = "00:00-04:00".parse().unwrap();
        assert_eq!(
            email.next_allowed(at("2026-06-02T02:30:00.000Z"), &TimeZone::UTC),
            at("2026-06-02T04:00:00.000Z")
        );
        assert_eq!(
            email.next_allowed(at("2026-06-02T04:00:00.000Z"), &TimeZone::UTC),
            at("2026-06-02T04:00:00.000Z")
        );
        // New York springs forward on 2026-03-08: 09:00 EDT is 13:00 UTC, not 14:00.
        let sms: QuietHours = "19:30-09:00".parse().unwrap();
        let new_york = time_zone("tz", "America/New_York").unwrap();
        assert_eq!(
            sms.next_allowed(at("2026-03-08T05:00:00.000Z"), &new_york),
            at("2026-03-08T13:00:00.000Z")
        );
    }

    #[test]
    fn parsing() {
        assert_eq!(QuietHours::parse("q", "none").unwrap(), None);
        for bad in ["19:30", "25:00-09:00", "09:00-09:00", "7pm-9am"] {
            assert!(QuietHours::parse("q", bad).is_err(), "{bad}");
        }
        assert!(time_zone("tz", "Mars/Olympus").is_err());
        assert_eq!(interval(4), Some(Duration::from_millis(250)));
        assert_eq!(interval(0), None);
    }
}
