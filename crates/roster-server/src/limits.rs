//! Rate limits kept in this process.

use std::{net::IpAddr, num::NonZeroU32};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

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
