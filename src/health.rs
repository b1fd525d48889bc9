//! When an endpoint is given up on: the [`HealthPolicy`] and the [`EndpointHealth`] a store
//! keeps per webhook. Pure: the store records observations, the policy decides.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The default time an endpoint may fail before it is disabled: 5 days.
pub const DEFAULT_DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// The default least time between the first and the last exhausted delivery of a failing
/// endpoint before it is disabled: 12 hours.
pub const DEFAULT_EXHAUSTION_SPREAD: Duration = Duration::from_secs(12 * 3600);

/// What an attempt tells about its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation {
    /// An attempt arrived: the endpoint is healthy again.
    Succeeded,
    /// An attempt failed by the endpoint's fault, and the delivery will be tried again.
    Failed,
    /// An attempt failed by the endpoint's fault and it was the delivery's last.
    Exhausted,
    /// Forget the history: the webhook was disabled (a host that enables it again starts
    /// afresh).
    Reset,
}

/// A webhook's failure history since its last success, as a store keeps it. Times are
/// those of the observations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointHealth {
    /// The first failure since the last success; `None` while healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// The first delivery exhausted since then.
    pub first_exhausted_at: Option<DateTime<Utc>>,
    /// The last delivery exhausted since then.
    pub last_exhausted_at: Option<DateTime<Utc>>,
}

impl EndpointHealth {
    /// Whether the endpoint is failing: a failure since the last success.
    pub fn is_failing(&self) -> bool {
        self.failing_since.is_some()
    }

    /// The history after `observation` at `at`. A store applies exactly this (in SQL:
    /// `COALESCE` for the first times, the later of two for the last).
    #[must_use]
    pub fn observe(self, observation: Observation, at: DateTime<Utc>) -> Self {
        match observation {
            Observation::Succeeded | Observation::Reset => Self::default(),
            Observation::Failed => Self {
                failing_since: Some(self.failing_since.unwrap_or(at)),
                ..self
            },
            Observation::Exhausted => Self {
                failing_since: Some(self.failing_since.unwrap_or(at)),
                first_exhausted_at: Some(self.first_exhausted_at.unwrap_or(at)),
                last_exhausted_at: Some(self.last_exhausted_at.map_or(at, |last| last.max(at))),
            },
        }
    }
}

/// A change of a webhook's [`EndpointHealth`], as a store answers an observation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthChange {
    /// Before the observation.
    pub before: EndpointHealth,
    /// After it.
    pub after: EndpointHealth,
}

impl HealthChange {
    /// Whether the observation ended a failing period: a success after failures.
    pub fn recovered(&self) -> bool {
        self.before.is_failing() && !self.after.is_failing()
    }
}

/// When a failing endpoint is disabled: after [`disable_after`](Self::disable_after) in
/// which every attempt failed and at least two deliveries were exhausted at least
/// [`exhaustion_spread`](Self::exhaustion_spread) apart. Any success resets it; a `410 Gone`
/// disables at once (the worker's rule, not this one's).
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeDelta, Utc};
/// use webhook_kit::{EndpointHealth, HealthPolicy, Observation};
///
/// let policy = HealthPolicy::default();
/// let start = Utc::now();
/// let health = EndpointHealth::default()
///     .observe(Observation::Failed, start)
///     .observe(Observation::Exhausted, start + TimeDelta::days(3))
///     .observe(Observation::Exhausted, start + TimeDelta::days(4));
/// assert!(!policy.should_disable(&health, start + TimeDelta::days(4)));
/// assert!(policy.should_disable(&health, start + TimeDelta::days(5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    disable_after: Duration,
    exhaustion_spread: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            disable_after: DEFAULT_DISABLE_AFTER,
            exhaustion_spread: DEFAULT_EXHAUSTION_SPREAD,
        }
    }
}

impl HealthPolicy {
    /// The same policy, disabling after `failing_for` of failures ([`DEFAULT_DISABLE_AFTER`]
    /// by default).
    #[must_use]
    pub fn with_disable_after(mut self, failing_for: Duration) -> Self {
        self.disable_after = failing_for;
        self
    }

    /// The same policy, asking the first and last exhausted deliveries to be at least
    /// `spread` apart ([`DEFAULT_EXHAUSTION_SPREAD`] by default).
    #[must_use]
    pub fn with_exhaustion_spread(mut self, spread: Duration) -> Self {
        self.exhaustion_spread = spread;
        self
    }

    /// How long an endpoint fails before it is disabled.
    pub fn disable_after(&self) -> Duration {
        self.disable_after
    }

    /// How far apart the first and last exhausted deliveries must be.
    pub fn exhaustion_spread(&self) -> Duration {
        self.exhaustion_spread
    }

    /// Whether an endpoint with this history should be disabled at `now`.
    pub fn should_disable(&self, health: &EndpointHealth, now: DateTime<Utc>) -> bool {
        let (Some(since), Some(first), Some(last)) = (
            health.failing_since,
            health.first_exhausted_at,
            health.last_exhausted_at,
        ) else {
            return false;
        };
        at_least(now - since, self.disable_after) && at_least(last - first, self.exhaustion_spread)
    }
}

/// Whether `span` is at least `least` (a negative span never is, unless `least` is zero).
fn at_least(span: TimeDelta, least: Duration) -> bool {
    match span.to_std() {
        Ok(span) => span >= least,
        Err(_) => least.is_zero(),
    }
}
