//! The delivery queue's pure rules, without I/O: the retry schedule, the endpoint health
//! rule, the manual clock, the observer's notices and the ids.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use webhook_kit::{
    Clock, DeliveryId, DeliveryState, EndpointHealth, HealthPolicy, ManualClock, NextStep,
    Observation, Outcome, RetrySchedule, STANDARD_RETRY_DELAYS, ScheduleError, Trigger,
};

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const FAILED: Outcome = Outcome::Retry { after: None };

fn exact() -> RetrySchedule {
    RetrySchedule::standard().with_jitter_percent(0).unwrap()
}

#[test]
fn the_standard_schedule_is_the_one_standard_webhooks_suggests() {
    let schedule = exact();
    let expected = [
        5 * SECOND,
        5 * MINUTE,
        30 * MINUTE,
        2 * HOUR,
        5 * HOUR,
        10 * HOUR,
        14 * HOUR,
        20 * HOUR,
        24 * HOUR,
    ];
    assert_eq!(STANDARD_RETRY_DELAYS, expected);
    assert_eq!(
        schedule.max_attempts(),
        10,
        "immediately, then nine retries"
    );
    for (failed_attempts, wait) in (1..).zip(expected) {
        assert_eq!(
            schedule.next_step(failed_attempts, Trigger::Scheduled, FAILED, u32::MAX),
            NextStep::RetryIn(wait),
            "after attempt {failed_attempts}"
        );
    }
    assert_eq!(
        schedule.next_step(10, Trigger::Scheduled, FAILED, 0),
        NextStep::Failed
    );
    assert_eq!(
        schedule.next_step(11, Trigger::Scheduled, FAILED, 0),
        NextStep::Failed,
        "an attempt beyond the schedule (a lease that ran out) fails too"
    );
    assert_eq!(schedule.delay_after(0, None, 0), None);
}

#[test]
fn outcomes_decide_the_next_step() {
    let schedule = exact();
    for trigger in [Trigger::Scheduled, Trigger::Manual] {
        assert_eq!(
            schedule.next_step(1, trigger, Outcome::Delivered, 0),
            NextStep::Delivered
        );
        assert_eq!(
            schedule.next_step(1, trigger, Outcome::Gone, 0),
            NextStep::Gone
        );
    }
    assert_eq!(
        schedule.next_step(1, Trigger::Manual, FAILED, 0),
        NextStep::Failed,
        "a manual attempt is tried once"
    );
}

#[test]
fn jitter_only_delays_by_at_most_its_share() {
    let schedule = RetrySchedule::standard().with_jitter_percent(20).unwrap();
    let step = 2 * HOUR;
    assert_eq!(schedule.delay_after(4, None, 0), Some(step));
    let longest = schedule.delay_after(4, None, u32::MAX).unwrap();
    assert!(longest > step && longest < step + step / 5, "{longest:?}");
    let half = schedule.delay_after(4, None, 1 << 31).unwrap();
    assert_eq!(half, step + step / 10);
}

proptest! {
    #[test]
    fn every_wait_is_within_its_step_and_its_jitter(
        attempt in 1u32..10,
        roll: u32,
        percent in 0u8..=20,
    ) {
        let schedule = RetrySchedule::standard().with_jitter_percent(percent).unwrap();
        let step = STANDARD_RETRY_DELAYS[attempt as usize - 1];
        let wait = schedule.delay_after(attempt, None, roll).unwrap();
        prop_assert!(wait >= step);
        prop_assert!(wait <= step + step * u32::from(percent) / 100);
    }
}

#[test]
fn retry_after_is_honoured_up_to_the_cap_and_never_hurries() {
    let schedule = exact().with_max_retry_after(HOUR);
    let asked = |after| Outcome::Retry { after: Some(after) };
    // Longer than the 5 s step: honoured.
    assert_eq!(
        schedule.next_step(1, Trigger::Scheduled, asked(90 * SECOND), 0),
        NextStep::RetryIn(90 * SECOND)
    );
    // Longer than the cap: the cap.
    assert_eq!(
        schedule.next_step(1, Trigger::Scheduled, asked(10 * HOUR), 0),
        NextStep::RetryIn(HOUR)
    );
    // Shorter than the step: the step.
    assert_eq!(
        schedule.next_step(3, Trigger::Scheduled, asked(SECOND), 0),
        NextStep::RetryIn(30 * MINUTE)
    );
    // The last attempt stays the last.
    assert_eq!(
        schedule.next_step(10, Trigger::Scheduled, asked(SECOND), 0),
        NextStep::Failed
    );
}

#[test]
fn schedules_are_configurable_and_impossible_ones_refused() {
    let custom = RetrySchedule::new([SECOND, 2 * SECOND]).unwrap();
    assert_eq!(custom.max_attempts(), 3);
    assert_eq!(custom.delays(), [SECOND, 2 * SECOND]);
    let single = RetrySchedule::new([]).unwrap();
    assert_eq!(single.max_attempts(), 1);
    assert_eq!(
        single.next_step(1, Trigger::Scheduled, FAILED, 0),
        NextStep::Failed
    );

    let refused = [
        RetrySchedule::new([Duration::ZERO]).unwrap_err(),
        RetrySchedule::new([Duration::from_secs(7 * 24 * 3600 + 1)]).unwrap_err(),
        RetrySchedule::new(std::iter::repeat_n(SECOND, 101)).unwrap_err(),
        RetrySchedule::standard()
            .with_jitter_percent(21)
            .unwrap_err(),
    ];
    assert_eq!(
        refused,
        [
            ScheduleError::Delay,
            ScheduleError::Delay,
            ScheduleError::TooManyRetries,
            ScheduleError::Jitter
        ]
    );
    assert!(
        refused
            .iter()
            .all(|error| error.code() == "schedule_invalid")
    );
    assert_eq!(
        RetrySchedule::new(std::iter::repeat_n(SECOND, 100))
            .unwrap()
            .max_attempts(),
        101
    );
}

fn at(hours: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap() + TimeDelta::hours(hours)
}

#[test]
fn health_disables_after_five_days_of_failures_with_two_exhaustions_twelve_hours_apart() {
    let policy = HealthPolicy::default();
    assert_eq!(policy.disable_after(), 5 * 24 * HOUR);
    assert_eq!(policy.exhaustion_spread(), 12 * HOUR);
    let health = EndpointHealth::default()
        .observe(Observation::Failed, at(0))
        .observe(Observation::Exhausted, at(70))
        .observe(Observation::Failed, at(80))
        .observe(Observation::Exhausted, at(82));
    assert_eq!(health.failing_since, Some(at(0)));
    assert_eq!(health.first_exhausted_at, Some(at(70)));
    assert_eq!(health.last_exhausted_at, Some(at(82)));
    assert!(!policy.should_disable(&health, at(119)), "not yet 5 days");
    assert!(
        policy.should_disable(&health, at(120)),
        "5 days to the hour"
    );
}

#[test]
fn health_needs_two_exhaustions_far_enough_apart() {
    let policy = HealthPolicy::default();
    let one = EndpointHealth::default()
        .observe(Observation::Failed, at(0))
        .observe(Observation::Exhausted, at(70));
    assert!(!policy.should_disable(&one, at(500)), "a single exhaustion");
    let close = one.observe(Observation::Exhausted, at(81));
    assert!(!policy.should_disable(&close, at(500)), "11 hours apart");
    let far = close.observe(Observation::Exhausted, at(82));
    assert!(policy.should_disable(&far, at(500)));
    let only_failures = EndpointHealth::default().observe(Observation::Failed, at(0));
    assert!(!policy.should_disable(&only_failures, at(1000)));
}

#[test]
fn any_success_resets_the_health() {
    let policy = HealthPolicy::default();
    let failing = EndpointHealth::default()
        .observe(Observation::Exhausted, at(0))
        .observe(Observation::Exhausted, at(20));
    assert!(policy.should_disable(&failing, at(120)));
    let recovered = failing.observe(Observation::Succeeded, at(119));
    assert_eq!(recovered, EndpointHealth::default());
    assert!(!recovered.is_failing());
    let again = recovered
        .observe(Observation::Exhausted, at(121))
        .observe(Observation::Exhausted, at(140));
    assert!(
        !policy.should_disable(&again, at(200)),
        "the clock restarted at 121"
    );
    assert!(policy.should_disable(&again, at(241)));
    assert_eq!(
        failing.observe(Observation::Reset, at(1)),
        EndpointHealth::default()
    );
}

#[test]
fn health_policy_is_configurable() {
    let policy = HealthPolicy::default()
        .with_disable_after(HOUR)
        .with_exhaustion_spread(Duration::ZERO);
    let health = EndpointHealth::default()
        .observe(Observation::Exhausted, at(0))
        .observe(Observation::Exhausted, at(0));
    assert!(policy.should_disable(&health, at(1)));
    assert!(!policy.should_disable(&health, at(0)));
}

#[test]
fn the_manual_clock_moves_only_when_told() {
    let clock = ManualClock::new(at(0));
    assert_eq!(clock.now(), at(0));
    let shared = clock.clone();
    clock.advance(2 * HOUR);
    assert_eq!(shared.now(), at(2));
    shared.set(at(10));
    assert_eq!(clock.now(), at(10));
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
}

#[test]
fn delivery_ids_and_states_round_trip() {
    let first = DeliveryId::generate();
    let second = DeliveryId::generate();
    assert!(first < second);
    assert!(first.as_str().starts_with("dlv_"));
    assert_eq!(first.as_str().parse::<DeliveryId>(), Ok(first.clone()));
    for bad in [
        "",
        "dlv_",
        "wh_00000000000000000000000000",
        "dlv_8zzzzzzzzzzzzzzzzzzzzzzzzz",
    ] {
        assert_eq!(
            bad.parse::<DeliveryId>().unwrap_err().code(),
            "id_invalid",
            "{bad}"
        );
    }
    for state in DeliveryState::ALL {
        assert_eq!(DeliveryState::from_code(state.code()), Some(state));
    }
    assert_eq!(DeliveryState::from_code("sent"), None);
    for trigger in [Trigger::Scheduled, Trigger::Manual] {
        assert_eq!(Trigger::from_code(trigger.code()), Some(trigger));
    }
}
