//! What happens after an attempt: delivered, retried (and when), or dead-lettered (and why).
//!
//! 2xx is delivered. Network errors, timeouts, 408, 429, 5xx and the target's `retry_on` codes are
//! retried while attempts remain, after the target's backoff (plus up to 20 % jitter, so a burst
//! of failures does not come back as a burst) or the target's `Retry-After` if that is later.
//! Redirects and other 4xx are permanent: retrying the same request cannot succeed.

use chrono::{DateTime, Utc};

use crate::delivery::AttemptResult;
use crate::store::Resolution;
use crate::target::Target;

/// The decision for one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Delivered, retry at a time, or dead letter.
    pub resolution: Resolution,
    /// Why it failed, if it did: stored with the execution.
    pub error: Option<String>,
}

/// Decides what follows `result`, the `attempt`-th of `max_attempts`, at `now`. `jitter` is a
/// uniform sample in `[0, 1)`, passed in so tests are deterministic.
pub fn decide(
    target: &Target,
    attempt: i32,
    max_attempts: i32,
    result: &AttemptResult,
    now: DateTime<Utc>,
    jitter: f64,
) -> Decision {
    let (failure, retryable, retry_after) = match result {
        AttemptResult::Response { status, .. } if (200..300).contains(status) => {
            return Decision {
                resolution: Resolution::Sent,
                error: None,
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
            target.is_retryable(*status),
            *retry_after,
        ),
        AttemptResult::Unreachable(reason) => (reason.clone(), true, None),
        AttemptResult::Invalid(reason) => (reason.clone(), false, None),
    };
    if !retryable {
        return dead(format!("{failure} (permanent: not retried)"));
    }
    let failures = u32::try_from(attempt).unwrap_or(1);
    match target.retry.delay_after(failures) {
        Some(delay) if attempt < max_attempts => {
            let jittered = delay.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
            let mut at =
                now + chrono::Duration::from_std(jittered).unwrap_or(chrono::Duration::MAX);
            if let Some(asked) = retry_after {
                at = at.max(asked);
            }
            Decision {
                resolution: Resolution::Retry(at),
                error: Some(failure),
            }
        }
        Some(_) => dead(format!("gave up after {attempt} attempts: {failure}")),
        None => dead(format!("{failure} (the retry policy is `none`)")),
    }
}

fn dead(error: String) -> Decision {
    Decision {
        resolution: Resolution::DeadLetter,
        error: Some(error),
    }
}
