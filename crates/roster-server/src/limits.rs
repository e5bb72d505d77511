//! Rate limits kept in this process.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::{StateInformationMiddleware, StateSnapshot},
    state::keyed::DefaultKeyedStateStore,
};
use roster_domain::AppId;

/// Submissions of hosted forms per client address and minute (bursts up to the same).
pub struct FormLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

/// Addresses remembered before stale ones are forgotten.
const MAX_TRACKED: usize = 100_000;

impl FormLimiter {
    /// `0` turns the limit off.
    pub fn per_minute(submissions: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(submissions).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    pub fn allows(&self, address: IpAddr) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        limiter.check_key(&address).is_ok()
    }
}

/// Requests per app: a token bucket per `app_id` (GCRA, lock-free per key), checked only
/// once the keys are known good, so strangers cannot spend an app's budget. Keys are the
/// apps of this server, so the map stays small.
pub struct AppRateLimiter {
    limiter: Option<AppBuckets>,
    clock: DefaultClock,
}

/// Buckets that report what is left in them when they let a request through.
type AppBuckets =
    RateLimiter<AppId, DefaultKeyedStateStore<AppId>, DefaultClock, StateInformationMiddleware>;

/// What an allowed request's `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateAllowance {
    /// The bucket's size (requests allowed back to back).
    pub limit: u32,
    /// Requests the app may still send back to back.
    pub remaining: u32,
    /// Whole seconds until the bucket is full again, rounded up (at least one request's
    /// interval: this request took a token).
    pub reset_seconds: u64,
}

impl RateAllowance {
    fn of(snapshot: &StateSnapshot) -> Self {
        let quota = snapshot.quota();
        let limit = quota.burst_size().get();
        let remaining = snapshot.remaining_burst_capacity();
        // `remaining` counts whole tokens; a token partly grown back counts as missing, so
        // this errs late by less than one interval, never early.
        let refill = quota.replenish_interval() * limit.saturating_sub(remaining);
        Self {
            limit,
            remaining,
            reset_seconds: refill.as_secs() + u64::from(refill.subsec_nanos() > 0),
        }
    }
}

/// Why a request was refused: what the `RateLimit-*` and `Retry-After` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// The bucket's size (requests allowed back to back).
    pub limit: u32,
    /// Whole seconds until a request would be allowed again (at least 1).
    pub retry_after_seconds: u64,
}

impl AppRateLimiter {
    /// `rate` requests per second on average, `burst` back to back; a rate of 0 turns the
    /// limit off, a burst of 0 means one second's worth.
    pub fn new(rate: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(rate).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
                .with_middleware::<StateInformationMiddleware>()
        });
        Self {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// Whether requests are limited at all.
    pub fn is_on(&self) -> bool {
        self.limiter.is_some()
    }

    /// Takes one request from the app's bucket and says what is left (nothing when the
    /// limit is off), or says how long to wait.
    pub fn check(&self, app: &AppId) -> Result<Option<RateAllowance>, RateLimited> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        let snapshot = limiter.check_key(app).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            RateLimited {
                limit: not_until.quota().burst_size().get(),
                retry_after_seconds: whole_seconds(wait),
            }
        })?;
        Ok(Some(RateAllowance::of(&snapshot)))
    }
}

/// Rounded up, and never 0: a client told "0" would retry at once.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait_of_at_least_a_second() {
        let limiter = AppRateLimiter::new(1, 2);
        let app = AppId::new("a");
        assert!(limiter.check(&app).is_ok());
        assert!(limiter.check(&app).is_ok());
        let refused = limiter.check(&app).unwrap_err();
        assert_eq!(refused.limit, 2);
        assert_eq!(refused.retry_after_seconds, 1);
    }

    #[test]
    fn an_allowed_request_says_what_is_left_and_when_the_bucket_is_full_again() {
        let limiter = AppRateLimiter::new(1, 3);
        let app = AppId::new("a");
        let first = limiter.check(&app).unwrap().unwrap();
        assert_eq!(
            (first.limit, first.remaining, first.reset_seconds),
            (3, 2, 1)
        );
        let second = limiter.check(&app).unwrap().unwrap();
        assert_eq!((second.remaining, second.reset_seconds), (1, 2));
    }

    #[test]
    fn apps_have_their_own_buckets() {
        let limiter = AppRateLimiter::new(1, 1);
        assert!(limiter.check(&AppId::new("a")).is_ok());
        assert!(limiter.check(&AppId::new("a")).is_err());
        assert!(limiter.check(&AppId::new("b")).is_ok());
    }

    #[test]
    fn a_rate_of_zero_never_refuses() {
        let limiter = AppRateLimiter::new(0, 0);
        let app = AppId::new("a");
        assert!(!limiter.is_on());
        assert!((0..10_000).all(|_| limiter.check(&app) == Ok(None)));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }
}
