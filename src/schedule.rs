//! When a failed delivery is tried again: the [`RetrySchedule`] and the pure decision after
//! an attempt ([`RetrySchedule::next_step`]).

use std::time::Duration;

use crate::attempt::Outcome;
use crate::store::queue::Trigger;

/// The waits before each retry that Standard Webhooks suggests: after the first attempt
/// (made at once), 5 seconds, 5 minutes, 30 minutes, 2 hours, 5 hours, 10 hours, 14 hours,
/// 20 hours and 24 hours: ten attempts over about three days.
pub const STANDARD_RETRY_DELAYS: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The default jitter: each wait is lengthened by up to 10 % of itself.
pub const DEFAULT_JITTER_PERCENT: u8 = 10;

/// The most jitter a schedule takes: 20 % of a wait.
pub const MAX_JITTER_PERCENT: u8 = 20;

/// The longest single wait a schedule accepts: 7 days.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most retries a schedule holds.
pub const MAX_RETRIES: usize = 100;

/// The default cap on a receiver's `Retry-After`: one hour.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why a schedule was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// More than [`MAX_RETRIES`] retries.
    #[error("a schedule holds at most 100 retries")]
    TooManyRetries,
    /// A wait is zero or longer than [`MAX_RETRY_DELAY`].
    #[error("each wait must be above zero and at most 7 days")]
    Delay,
    /// The jitter is over [`MAX_JITTER_PERCENT`].
    #[error("jitter is at most 20 percent")]
    Jitter,
}

impl ScheduleError {
    /// The stable machine code: `schedule_invalid`.
    pub fn code(&self) -> &'static str {
        "schedule_invalid"
    }
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextStep {
    /// It arrived: the delivery is done.
    Delivered,
    /// Try again after this wait.
    RetryIn(Duration),
    /// The schedule is used up (or a manual attempt failed): the delivery is `failed` and
    /// stays recoverable.
    Failed,
    /// The endpoint answered `410 Gone`: the delivery is `failed` and the webhook disabled.
    Gone,
}

/// The first attempt at once, then a wait before each retry; jitter only ever lengthens a
/// wait; a receiver's `Retry-After` is honoured up to a cap.
///
/// ```
/// use std::time::Duration;
/// use webhook_kit::{NextStep, Outcome, RetrySchedule, Trigger};
///
/// let schedule = RetrySchedule::standard().with_jitter_percent(0).unwrap();
/// assert_eq!(schedule.max_attempts(), 10);
/// let failed = Outcome::Retry { after: None };
/// // After the first attempt fails, the second comes 5 seconds later.
/// assert_eq!(
///     schedule.next_step(1, Trigger::Scheduled, failed, 0),
///     NextStep::RetryIn(Duration::from_secs(5)),
/// );
/// // After the tenth, the delivery has failed.
/// assert_eq!(schedule.next_step(10, Trigger::Scheduled, failed, 0), NextStep::Failed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter_percent: u8,
    max_retry_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetrySchedule {
    /// The Standard Webhooks schedule ([`STANDARD_RETRY_DELAYS`]),
    /// [`DEFAULT_JITTER_PERCENT`] of jitter, `Retry-After` capped at one hour.
    pub fn standard() -> Self {
        Self {
            delays: STANDARD_RETRY_DELAYS.to_vec(),
            jitter_percent: DEFAULT_JITTER_PERCENT,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }

    /// A schedule with these waits before the retries (none: a single attempt), with the
    /// default jitter and `Retry-After` cap.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::TooManyRetries`] over [`MAX_RETRIES`] waits;
    /// [`ScheduleError::Delay`] when a wait is zero or over [`MAX_RETRY_DELAY`].
    pub fn new(delays: impl IntoIterator<Item = Duration>) -> Result<Self, ScheduleError> {
        let mut checked = Vec::new();
        for delay in delays {
            if checked.len() == MAX_RETRIES {
                return Err(ScheduleError::TooManyRetries);
            }
            if delay.is_zero() || delay > MAX_RETRY_DELAY {
                return Err(ScheduleError::Delay);
            }
            checked.push(delay);
        }
        Ok(Self {
            delays: checked,
            ..Self::standard()
        })
    }

    /// The same schedule, lengthening each wait by a random share of up to `percent` % of it.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Jitter`] over [`MAX_JITTER_PERCENT`].
    pub fn with_jitter_percent(mut self, percent: u8) -> Result<Self, ScheduleError> {
        if percent > MAX_JITTER_PERCENT {
            return Err(ScheduleError::Jitter);
        }
        self.jitter_percent = percent;
        Ok(self)
    }

    /// The same schedule, honouring a receiver's `Retry-After` up to `cap`.
    #[must_use]
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// The waits before the retries.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// How many attempts a delivery gets: the first and one per wait.
    pub fn max_attempts(&self) -> u32 {
        // At most MAX_RETRIES + 1.
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The jitter, in percent of a wait.
    pub fn jitter_percent(&self) -> u8 {
        self.jitter_percent
    }

    /// The longest `Retry-After` honoured.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The wait before the next attempt, after `attempts` attempts (counting the first) have
    /// failed; `None` when the schedule is used up. `roll` is a uniformly random `u32`: the
    /// jitter is `roll / 2³²` of the jitter share. A `Retry-After` (`retry_after`) longer than
    /// the scheduled wait is honoured, up to the cap; a shorter one never hurries a retry.
    pub fn delay_after(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        roll: u32,
    ) -> Option<Duration> {
        let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
        let step = *self.delays.get(index)?;
        // step ≤ 7 days, so nanoseconds × 20 × 2³² fits in a u128 with room to spare.
        let step_nanos = step.as_nanos();
        let extra =
            step_nanos * u128::from(self.jitter_percent) * u128::from(roll) / 100 / (1 << 32);
        let jittered = step.saturating_add(Duration::from_nanos(
            u64::try_from(extra).unwrap_or(u64::MAX),
        ));
        let asked = retry_after.map_or(Duration::ZERO, |after| after.min(self.max_retry_after));
        Some(jittered.max(asked))
    }

    /// What happens after attempt number `attempt` (1 for the first) ended in `outcome`.
    /// A failed manual attempt (a redelivery asked for by hand) is not retried.
    pub fn next_step(
        &self,
        attempt: u32,
        trigger: Trigger,
        outcome: Outcome,
        roll: u32,
    ) -> NextStep {
        match outcome {
            Outcome::Delivered => NextStep::Delivered,
            Outcome::Gone => NextStep::Gone,
            Outcome::Retry { after } => match trigger {
                Trigger::Manual => NextStep::Failed,
                Trigger::Scheduled => self
                    .delay_after(attempt, after, roll)
                    .map_or(NextStep::Failed, NextStep::RetryIn),
            },
        }
    }
}
