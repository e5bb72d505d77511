//! When a transiently failed send is tried again.

use std::{fmt, time::Duration};

/// Waits between attempts: after the n-th failed attempt, wait the n-th entry (with
/// jitter); after the last, the message fails. The default starts within seconds because
/// a class reminder is time-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        Self(
            [5, 30, 120, 600, 3600, 4 * 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl RetrySchedule {
    pub fn new(waits: Vec<Duration>) -> Self {
        Self(waits)
    }

    /// Parses `5s,30s,2m,10m,1h,4h` (units ms, s, m, h).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let waits = raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(waits))
    }

    /// How long to wait after `attempts` failed attempts, or `None` to give up.
    /// `retry_after` (the provider's `Retry-After`) is a floor; `jitter` in [0, 1) spreads
    /// the wait over ±20% so that messages failed together do not retry together.
    pub fn wait_after(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
        let base = *self.0.get(index)?;
        let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        let wait = base.mul_f64(spread);
        Some(retry_after.map_or(wait, |floor| wait.max(floor)))
    }

    pub fn max_attempts(&self) -> usize {
        self.0.len() + 1
    }
}

pub fn parse_duration(part: &str) -> Result<Duration, String> {
    let bad = || format!("{part:?} is not a duration such as 500ms, 5s, 2m or 1h");
    let split = part.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = part.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    // Checked: a wait too long to count in seconds is a typo, not a panic.
    let seconds = |per_unit: u64| number.checked_mul(per_unit).map(Duration::from_secs);
    match unit {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => None,
    }
    .ok_or_else(bad)
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|d| {
                let ms = d.as_millis();
                if ms % 1000 != 0 {
                    format!("{ms}ms")
                } else if ms % 3_600_000 == 0 {
                    format!("{}h", ms / 3_600_000)
                } else if ms % 60_000 == 0 {
                    format!("{}m", ms / 60_000)
                } else {
                    format!("{}s", ms / 1000)
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_round_trips() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.to_string(), "5s,30s,2m,10m,1h,4h");
        assert_eq!(
            RetrySchedule::parse("5s,30s,2m,10m,1h,4h").unwrap(),
            schedule
        );
        assert_eq!(schedule.max_attempts(), 7);
    }

    #[test]
    fn waits_too_long_to_count_are_refused() {
        assert!(parse_duration("5124100000000000h").is_err());
        assert!(RetrySchedule::parse("5s,307445734561825861m").is_err());
    }

    #[test]
    fn waits_grow_and_then_give_up() {
        let schedule = RetrySchedule::parse("100ms, 1s").unwrap();
        assert_eq!(
            schedule.wait_after(1, None, 0.5),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            schedule.wait_after(2, None, 0.5),
            Some(Duration::from_secs(1))
        );
        assert_eq!(schedule.wait_after(3, None, 0.5), None);
        assert_eq!(schedule.wait_after(0, None, 0.5), None);
    }

    #[test]
    fn jitter_spreads_and_retry_after_is_a_floor() {
        let schedule = RetrySchedule::parse("10s").unwrap();
        assert_eq!(
            schedule.wait_after(1, None, 0.0),
            Some(Duration::from_secs(8))
        );
        assert_eq!(
            schedule.wait_after(1, None, 1.0),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            schedule.wait_after(1, Some(Duration::from_secs(60)), 0.5),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn bad_durations_are_refused() {
        assert!(RetrySchedule::parse("5x").is_err());
        assert!(RetrySchedule::parse("s").is_err());
        assert!(RetrySchedule::parse("5").is_err());
    }
}
