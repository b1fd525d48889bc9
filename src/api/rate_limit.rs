//! The router's per-scope rate limit: a token bucket per [`Scope`] (GCRA, `governor`).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::ApiError;
use crate::webhook::Scope;

/// How many requests a scope may make: a steady rate and a burst above it (a token bucket
/// of `burst` tokens refilled at the rate).
///
/// ```
/// use std::num::NonZeroU32;
/// use webhook_kit::api::RateLimit;
///
/// let limit = RateLimit::per_minute(NonZeroU32::new(600).unwrap())
///     .with_burst(NonZeroU32::new(50).unwrap());
/// assert_eq!(limit.burst().get(), 50);
/// assert_eq!(webhook_kit::api::RateLimit::DEFAULT.burst().get(), 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    quota: Quota,
}

const fn non_zero(value: u32) -> NonZeroU32 {
    match NonZeroU32::new(value) {
        Some(value) => value,
        None => NonZeroU32::MIN,
    }
}

impl RateLimit {
    /// The default: 20 requests per second per scope, in bursts of up to 100.
    pub const DEFAULT: RateLimit = RateLimit {
        quota: Quota::per_second(non_zero(20)).allow_burst(non_zero(100)),
    };

    /// `requests` per second, in bursts of up to `requests`.
    pub const fn per_second(requests: NonZeroU32) -> Self {
        Self {
            quota: Quota::per_second(requests),
        }
    }

    /// `requests` per minute, in bursts of up to `requests`.
    pub const fn per_minute(requests: NonZeroU32) -> Self {
        Self {
            quota: Quota::per_minute(requests),
        }
    }

    /// The same rate, in bursts of up to `burst` requests.
    #[must_use]
    pub const fn with_burst(self, burst: NonZeroU32) -> Self {
        Self {
            quota: self.quota.allow_burst(burst),
        }
    }

    /// The largest burst.
    pub const fn burst(&self) -> NonZeroU32 {
        self.quota.burst_size()
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// After this many checks the limiter forgets the scopes whose buckets are full again, so
/// its memory follows the scopes active within about one refill period.
const FORGET_EVERY: u64 = 4096;

/// One bucket per scope.
pub(super) struct Limiter {
    limiter: RateLimiter<Scope, DefaultKeyedStateStore<Scope>, DefaultClock>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl Limiter {
    pub(super) fn new(limit: RateLimit) -> Self {
        let clock = DefaultClock::default();
        Self {
            limiter: RateLimiter::dashmap_with_clock(limit.quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a token from `scope`'s bucket, or says when one will be there.
    pub(super) fn check(&self, scope: &Scope) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(scope).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let mut retry_after_secs = wait.as_secs();
            if wait.subsec_nanos() > 0 || retry_after_secs == 0 {
                retry_after_secs += 1;
            }
            ApiError::RateLimited { retry_after_secs }
        })
    }
}
