//! The one function that decides every move of an execution.
//!
//! After an attempt: 2xx is delivered. Network errors, timeouts, 408, 429, 5xx and the rules'
//! extra codes are retried while attempts remain, after the backoff (plus up to 20 % jitter, so a
//! burst of failures does not come back as a burst) or the target's `Retry-After` if that is
//! later. Redirects and other 4xx are permanent: retrying the same request cannot succeed.
//!
//! A rescued execution (its executor stopped mid-attempt) counts that attempt as failed, with the
//! same backoff: the target may be the reason the executor died. A release at shutdown makes the
//! row due at once, and gives the attempt back if its request never started.

use chrono::{DateTime, Utc};

use std::time::Duration;

use super::Status;

/// When a failed delivery is tried again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryPolicy {
    /// `min(initial × multiplier^(n-1), max)` after the n-th failure (jitter is the executor's).
    Exponential {
        /// The delay after the first failure.
        initial: Duration,
        /// The growth factor.
        multiplier: u32,
        /// The cap.
        max: Duration,
    },
    /// The same delay every time.
    Fixed(Duration),
    /// An explicit schedule; the last entry repeats. Borrowed from a static for a `#[target]`,
    /// owned for an endpoint's policy.
    Schedule(std::borrow::Cow<'static, [Duration]>),
    /// A single attempt.
    None,
}

impl RetryPolicy {
    /// `retry_policy = "exponential"`: 1 s, 2 s, 4 s, … capped at 300 s.
    pub const DEFAULT: RetryPolicy = RetryPolicy::Exponential {
        initial: Duration::from_secs(1),
        multiplier: 2,
        max: Duration::from_secs(300),
    };

    /// The delay before the next attempt after `failures` failed attempts (at least 1), before
    /// jitter; `None` when the policy never retries.
    pub fn delay_after(&self, failures: u32) -> Option<Duration> {
        let n = failures.max(1) - 1;
        match self {
            RetryPolicy::Exponential {
                initial,
                multiplier,
                max,
            } => {
                let factor = multiplier.checked_pow(n).unwrap_or(u32::MAX);
                Some(initial.checked_mul(factor).map_or(*max, |d| d.min(*max)))
            }
            RetryPolicy::Fixed(d) => Some(*d),
            RetryPolicy::Schedule(delays) => delays.get(n as usize).or(delays.last()).copied(),
            RetryPolicy::None => None,
        }
    }
}

/// What one attempt produced (the delivery's report to the state machine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The target answered.
    Response {
        /// The status code.
        status: u16,
        /// The body, truncated to the stored limit.
        body: String,
        /// When the target asked to be retried (`Retry-After`).
        retry_after: Option<DateTime<Utc>>,
        /// Where a redirect pointed (redirects are not followed).
        location: Option<String>,
        /// The provider's id for what was sent, from a 2xx response, where the target's
        /// `external_id` says it is.
        external_id: Option<String>,
        /// Why a 2xx body is not the target's declared `response` type. The delivery still
        /// counts as sent (the provider did what was asked; retrying would do it twice), and the
        /// reason is kept on the execution.
        response_error: Option<String>,
    },
    /// No response: a network error or timeout. Worth retrying.
    Unreachable(String),
    /// The request could not be built (an unset variable, a payload the encoding cannot carry).
    /// Retrying cannot help.
    Invalid(String),
}

/// What happened to an execution, for [`decide`] to move it on.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// An executor made the attempt it claimed, with this result.
    Attempted(&'a AttemptResult),
    /// The executor holding the row stopped before recording its attempt (the rescuer found its
    /// lease expired).
    LeaseExpired,
    /// The executor gave the row back at shutdown; `started` says whether its request had begun
    /// (then the target may have seen it, and the attempt counts).
    Released {
        /// Whether the request had started.
        started: bool,
    },
    /// The executor did not send the claimed attempt because its destination cannot take it now
    /// (a paused endpoint, a destination's limit that is full): the row waits until `until`, its
    /// attempt given back.
    Deferred {
        /// When it is due again.
        until: DateTime<Utc>,
        /// Why it waits, kept in `error_message` for the operator.
        reason: &'a str,
    },
    /// Someone retried the dead letter by hand, with this many fresh attempts.
    RetriedByHand {
        /// Attempts in the new round.
        budget: u32,
    },
    /// Someone asked for a delivered endpoint delivery to be sent again, with this many fresh
    /// attempts (the receiver lost it, or wants it once more).
    Resent {
        /// Attempts in the new round.
        budget: u32,
    },
}

impl Event<'_> {
    /// The state an execution must still be in for this event to move it: with the attempt
    /// number, the store's fence (a late worker, a second rescuer or a second retry changes
    /// nothing).
    pub fn from_status(&self) -> Status {
        match self {
            Event::RetriedByHand { .. } => Status::DeadLetter,
            Event::Resent { .. } => Status::Sent,
            _ => Status::Sending,
        }
    }
}

/// The part of an execution's row every decision reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Attempts counted so far (a claim counts its attempt, so this is the claimed attempt's
    /// number while `sending`).
    pub attempts: i32,
    /// Attempts allowed in all.
    pub max_attempts: i32,
}

/// How failures of one target (or endpoint) are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryRules<'a> {
    /// When to try again.
    pub policy: &'a RetryPolicy,
    /// Status codes retried in addition to 408, 429 and 5xx.
    pub retry_on: &'a [u16],
}

impl RetryRules<'_> {
    /// The rules for a webhook type this process does not know: the default exponential backoff.
    pub const DEFAULT: RetryRules<'static> = RetryRules {
        policy: &RetryPolicy::DEFAULT,
        retry_on: &[],
    };

    /// Whether `status` is worth another attempt: 408, 429, 5xx, or one of `retry_on`.
    pub fn is_retryable(&self, status: u16) -> bool {
        matches!(status, 408 | 429 | 500..=599) || self.retry_on.contains(&status)
    }
}

/// A column a move either leaves as it is or overwrites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write<T> {
    /// Left as stored.
    Keep,
    /// Overwritten with this value.
    Set(T),
}

/// Which outcome event a move emits for the app's handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// Delivered (2xx).
    WebhookSuccess,
    /// Dead-lettered: a permanent failure, or attempts spent.
    WebhookFailed,
}

impl OutcomeKind {
    /// The value stored in `webhook_outcomes.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::WebhookSuccess => "success",
            OutcomeKind::WebhookFailed => "failed",
        }
    }
}

/// A decided move: every value the store writes for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub status: Status,
    /// Attempts counted (one less than claimed when a release gives an unstarted attempt back).
    pub attempts: i32,
    /// Attempts allowed in all (raised by a retry by hand).
    pub max_attempts: i32,
    /// When the execution is next due; `None` leaves `next_retry_at` as it is.
    pub due_at: Option<DateTime<Utc>>,
    /// The reason stored in `error_message`.
    pub error: Write<Option<String>>,
    /// When it was delivered (`sent` only).
    pub sent_at: Option<DateTime<Utc>>,
    /// The outcome event the move emits, written in the same statement.
    pub outcome: Option<OutcomeKind>,
}

/// Decides where `event` takes an execution that stands at `progress`, under `rules`, at `now`.
/// `jitter` is a uniform sample in `[0, 1)`, passed in so timelines are reproducible.
pub fn decide(
    progress: Progress,
    event: Event<'_>,
    rules: RetryRules<'_>,
    now: DateTime<Utc>,
    jitter: f64,
) -> Transition {
    let Progress {
        attempts,
        max_attempts,
    } = progress;
    let stay = Transition {
        status: Status::Failed,
        attempts,
        max_attempts,
        due_at: Some(now),
        error: Write::Keep,
        sent_at: None,
        outcome: None,
    };
    match event {
        Event::Attempted(result) => after_attempt(progress, result, rules, now, jitter),
        Event::LeaseExpired => {
            if attempts >= max_attempts {
                return dead(
                    progress,
                    "the executor stopped during the last attempt (its lease expired); the outcome is unknown"
                        .to_owned(),
                );
            }
            retry(
                progress,
                "the executor stopped during the attempt (its lease expired)".to_owned(),
                None,
                rules,
                now,
                jitter,
            )
        }
        Event::Released { started: true } if attempts >= max_attempts => dead(
            progress,
            "interrupted by executor shutdown during the last attempt; the target may have received it"
                .to_owned(),
        ),
        Event::Released { started: true } => Transition {
            error: Write::Set(Some(
                "interrupted by executor shutdown; the target may have received it".to_owned(),
            )),
            ..stay
        },
        Event::Released { started: false } => Transition {
            status: if attempts <= 1 {
                Status::Pending
            } else {
                Status::Failed
            },
            attempts: attempts - 1,
            ..stay
        },
        Event::Deferred { until, reason } => Transition {
            status: if attempts <= 1 {
                Status::Pending
            } else {
                Status::Failed
            },
            attempts: attempts - 1,
            due_at: Some(until),
            error: Write::Set(Some(reason.to_owned())),
            ..stay
        },
        Event::RetriedByHand { budget } | Event::Resent { budget } => Transition {
            status: Status::Pending,
            max_attempts: attempts.saturating_add(i32::try_from(budget).unwrap_or(i32::MAX)),
            ..stay
        },
    }
}

fn after_attempt(
    progress: Progress,
    result: &AttemptResult,
    rules: RetryRules<'_>,
    now: DateTime<Utc>,
    jitter: f64,
) -> Transition {
    let (failure, retryable, retry_after) = match result {
        AttemptResult::Response {
            status,
            response_error,
            ..
        } if (200..300).contains(status) => {
            return Transition {
                status: Status::Sent,
                attempts: progress.attempts,
                max_attempts: progress.max_attempts,
                due_at: None,
                error: Write::Set(response_error.clone()),
                sent_at: Some(now),
                outcome: Some(OutcomeKind::WebhookSuccess),
            };
        }
        AttemptResult::Response {
            status, location, ..
        } if (300..400).contains(status) => {
            let to = location
                .as_deref()
                .map(|l| format!(" to `{l}`"))
                .unwrap_or_default();
            (
                format!(
                    "HTTP {status}: redirected{to}; redirects are not followed, so update the target URL"
                ),
                false,
                None,
            )
        }
        AttemptResult::Response {
            status,
            retry_after,
            ..
        } => (
            format!("HTTP {status}"),
            rules.is_retryable(*status),
            *retry_after,
        ),
        AttemptResult::Unreachable(reason) => (reason.clone(), true, None),
        AttemptResult::Invalid(reason) => (reason.clone(), false, None),
    };
    if !retryable {
        return dead(progress, format!("{failure} (permanent: not retried)"));
    }
    if progress.attempts >= progress.max_attempts && rules.policy.delay_after(1).is_some() {
        return dead(
            progress,
            format!("gave up after {} attempts: {failure}", progress.attempts),
        );
    }
    retry(progress, failure, retry_after, rules, now, jitter)
}

/// `failed`, due after the backoff for this many failures (jittered), or `Retry-After` if later.
fn retry(
    progress: Progress,
    failure: String,
    retry_after: Option<DateTime<Utc>>,
    rules: RetryRules<'_>,
    now: DateTime<Utc>,
    jitter: f64,
) -> Transition {
    let failures = u32::try_from(progress.attempts).unwrap_or(1);
    let Some(delay) = rules.policy.delay_after(failures) else {
        return dead(progress, format!("{failure} (the retry policy is `none`)"));
    };
    let jittered = delay.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
    let mut at = now + chrono::Duration::from_std(jittered).unwrap_or(chrono::Duration::MAX);
    if let Some(asked) = retry_after {
        at = at.max(asked);
    }
    Transition {
        status: Status::Failed,
        attempts: progress.attempts,
        max_attempts: progress.max_attempts,
        due_at: Some(at),
        error: Write::Set(Some(failure)),
        sent_at: None,
        outcome: None,
    }
}

fn dead(progress: Progress, reason: String) -> Transition {
    Transition {
        status: Status::DeadLetter,
        attempts: progress.attempts,
        max_attempts: progress.max_attempts,
        due_at: None,
        error: Write::Set(Some(reason)),
        sent_at: None,
        outcome: Some(OutcomeKind::WebhookFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static EXPONENTIAL: RetryPolicy = RetryPolicy::DEFAULT;
    const RULES: RetryRules<'static> = RetryRules {
        policy: &EXPONENTIAL,
        retry_on: &[409],
    };

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn at(attempts: i32, max_attempts: i32) -> Progress {
        Progress {
            attempts,
            max_attempts,
        }
    }

    fn response(status: u16) -> AttemptResult {
        AttemptResult::Response {
            status,
            body: String::new(),
            retry_after: None,
            location: None,
            external_id: None,
            response_error: None,
        }
    }

    fn secs(s: i64) -> Option<DateTime<Utc>> {
        Some(now() + chrono::Duration::seconds(s))
    }

    #[test]
    fn a_2xx_is_sent_with_a_success_event() {
        let t = decide(
            at(1, 3),
            Event::Attempted(&response(202)),
            RULES,
            now(),
            0.0,
        );
        assert_eq!(t.status, Status::Sent);
        assert_eq!(t.sent_at, Some(now()));
        assert_eq!(t.error, Write::Set(None));
        assert_eq!(t.outcome, Some(OutcomeKind::WebhookSuccess));
    }

    #[test]
    fn retryable_failures_wait_for_the_backoff_then_dead_letter_when_attempts_are_spent() {
        for (attempt, delay) in [(1, 1), (2, 2)] {
            let t = decide(
                at(attempt, 3),
                Event::Attempted(&response(503)),
                RULES,
                now(),
                0.0,
            );
            assert_eq!(
                (t.status, t.due_at, t.outcome),
                (Status::Failed, secs(delay), None)
            );
            assert_eq!(t.error, Write::Set(Some("HTTP 503".into())));
        }
        let t = decide(
            at(3, 3),
            Event::Attempted(&response(503)),
            RULES,
            now(),
            0.0,
        );
        assert_eq!(t.status, Status::DeadLetter);
        assert_eq!(
            t.error,
            Write::Set(Some("gave up after 3 attempts: HTTP 503".into()))
        );
        assert_eq!(t.outcome, Some(OutcomeKind::WebhookFailed));
    }

    #[test]
    fn jitter_adds_up_to_a_fifth_and_retry_after_wins_when_later() {
        let t = decide(
            at(1, 3),
            Event::Attempted(&response(500)),
            RULES,
            now(),
            0.5,
        );
        assert_eq!(t.due_at, Some(now() + chrono::Duration::milliseconds(1100)));
        let asked = AttemptResult::Response {
            status: 429,
            body: String::new(),
            retry_after: secs(120),
            location: None,
            external_id: None,
            response_error: None,
        };
        let t = decide(at(1, 3), Event::Attempted(&asked), RULES, now(), 0.0);
        assert_eq!(t.due_at, secs(120));
    }

    #[test]
    fn permanent_failures_dead_letter_at_once() {
        for result in [
            response(400),
            response(301),
            AttemptResult::Invalid("bad".into()),
        ] {
            let t = decide(at(1, 3), Event::Attempted(&result), RULES, now(), 0.0);
            assert_eq!(t.status, Status::DeadLetter, "{result:?}");
        }
        // An extra code from the rules is retried.
        let t = decide(
            at(1, 3),
            Event::Attempted(&response(409)),
            RULES,
            now(),
            0.0,
        );
        assert_eq!(t.status, Status::Failed);
    }

    #[test]
    fn rescue_honours_the_backoff_and_dead_letters_the_last_attempt() {
        let t = decide(at(2, 3), Event::LeaseExpired, RULES, now(), 0.0);
        assert_eq!((t.status, t.due_at), (Status::Failed, secs(2)));
        let t = decide(at(3, 3), Event::LeaseExpired, RULES, now(), 0.0);
        assert_eq!(t.status, Status::DeadLetter);
        assert_eq!(t.outcome, Some(OutcomeKind::WebhookFailed));
        assert!(matches!(t.error, Write::Set(Some(ref e)) if e.contains("outcome is unknown")));
    }

    #[test]
    fn release_gives_back_an_unstarted_attempt_and_keeps_a_started_one() {
        let t = decide(
            at(1, 3),
            Event::Released { started: false },
            RULES,
            now(),
            0.0,
        );
        assert_eq!(
            (t.status, t.attempts, t.due_at, t.error),
            (Status::Pending, 0, Some(now()), Write::Keep)
        );
        let t = decide(
            at(2, 3),
            Event::Released { started: false },
            RULES,
            now(),
            0.0,
        );
        assert_eq!((t.status, t.attempts), (Status::Failed, 1));
        let t = decide(
            at(2, 3),
            Event::Released { started: true },
            RULES,
            now(),
            0.0,
        );
        assert_eq!((t.status, t.attempts, t.outcome), (Status::Failed, 2, None));
        let t = decide(
            at(3, 3),
            Event::Released { started: true },
            RULES,
            now(),
            0.0,
        );
        assert_eq!(
            (t.status, t.outcome),
            (Status::DeadLetter, Some(OutcomeKind::WebhookFailed))
        );
    }

    #[test]
    fn a_deferred_attempt_waits_uncounted_with_its_reason() {
        let until = now() + chrono::Duration::seconds(30);
        let t = decide(
            at(1, 5),
            Event::Deferred {
                until,
                reason: "endpoint is paused",
            },
            RULES,
            now(),
            0.0,
        );
        assert_eq!(
            (t.status, t.attempts, t.due_at, t.outcome),
            (Status::Pending, 0, Some(until), None)
        );
        assert_eq!(t.error, Write::Set(Some("endpoint is paused".to_owned())));
        let t = decide(
            at(3, 3),
            Event::Deferred {
                until,
                reason: "paused",
            },
            RULES,
            now(),
            0.0,
        );
        assert_eq!(
            (t.status, t.attempts),
            (Status::Failed, 2),
            "never dead-letters"
        );
    }

    #[test]
    fn retry_by_hand_adds_a_budget_on_top_of_the_attempts_made() {
        let t = decide(
            at(3, 3),
            Event::RetriedByHand { budget: 5 },
            RULES,
            now(),
            0.0,
        );
        assert_eq!(
            (t.status, t.attempts, t.max_attempts, t.due_at, t.error),
            (Status::Pending, 3, 8, Some(now()), Write::Keep)
        );
        assert_eq!(
            Event::RetriedByHand { budget: 1 }.from_status(),
            Status::DeadLetter
        );
        assert_eq!(Event::LeaseExpired.from_status(), Status::Sending);
    }

    #[test]
    fn a_2xx_that_is_not_the_declared_response_is_sent_with_the_reason() {
        let answer = AttemptResult::Response {
            status: 200,
            body: "{}".into(),
            retry_after: None,
            location: None,
            external_id: None,
            response_error: Some("did not parse".into()),
        };
        let t = decide(at(1, 3), Event::Attempted(&answer), RULES, now(), 0.0);
        assert_eq!(
            (t.status, t.error, t.outcome),
            (
                Status::Sent,
                Write::Set(Some("did not parse".into())),
                Some(OutcomeKind::WebhookSuccess)
            )
        );
    }

    #[test]
    fn a_resend_queues_a_delivered_row_again_with_a_fresh_budget() {
        let t = decide(at(1, 3), Event::Resent { budget: 3 }, RULES, now(), 0.0);
        assert_eq!(
            (t.status, t.attempts, t.max_attempts, t.due_at, t.sent_at),
            (Status::Pending, 1, 4, Some(now()), None)
        );
        assert_eq!(t.outcome, None);
        assert_eq!(Event::Resent { budget: 1 }.from_status(), Status::Sent);
    }

    #[test]
    fn a_policy_of_none_never_retries() {
        static NONE: RetryPolicy = RetryPolicy::None;
        let rules = RetryRules {
            policy: &NONE,
            retry_on: &[],
        };
        let t = decide(
            at(1, 1),
            Event::Attempted(&response(503)),
            rules,
            now(),
            0.0,
        );
        assert_eq!(
            t.error,
            Write::Set(Some("HTTP 503 (the retry policy is `none`)".into()))
        );
    }
}
