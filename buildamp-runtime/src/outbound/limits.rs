//! Admission under a destination's limits, shared by every executor through the store (see
//! [`crate::protect::limit`] for the rule and its guarantees). A destination without limits is
//! never asked about: its deliveries pay nothing for the feature.

use chrono::{DateTime, Utc};

use crate::error::error_chain;
use crate::protect::{self, Admission, LimitKey, Limits};
use crate::store::{Claimed, LimitStore, SlotRequest};

/// How long a delivery waits when its limits cannot be read (the database failed).
const UNREADABLE_WAIT: chrono::Duration = chrono::Duration::seconds(1);

/// What the admission said.
pub(crate) enum Admitted {
    /// Go; release the slot when the request has ended (`true` when there is one).
    Go(bool),
    /// Wait until `until`, attempt uncounted.
    Wait {
        until: DateTime<Utc>,
        reason: &'static str,
    },
}

/// Asks whether `row` may start now under `limits` (of the destination `key` names).
pub(crate) async fn admit<S: LimitStore>(
    store: &S,
    limits: Limits,
    key: impl FnOnce() -> LimitKey,
    row: &Claimed,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Admitted {
    if !limits.any() {
        return Admitted::Go(false);
    }
    let key = key().as_stored();
    let request = SlotRequest {
        key: &key,
        execution: row.id,
        attempt: row.attempt,
        now,
        lease_until,
        forget_before: limits.forget_before(now),
    };
    let decide = move |slots: &[protect::Slot], turn| protect::admit(&limits, slots, turn, now);
    match store.admit(request, &decide).await {
        Ok(decision) => match decision.admission {
            Admission::Admit => Admitted::Go(true),
            Admission::Wait { until, reason } => Admitted::Wait { until, reason },
        },
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), destination = key, "reading limits failed; the delivery waits");
            Admitted::Wait {
                until: now + UNREADABLE_WAIT,
                reason: "the destination's limits could not be read (database error): waits (no attempt spent)",
            }
        }
    }
}

/// Ends `row`'s slot. If that fails the slot counts until the attempt's lease: stricter for a
/// while, never looser.
pub(crate) async fn release<S: LimitStore>(store: &S, row: &Claimed, at: DateTime<Utc>) {
    if let Err(error) = store.release_slot(row.id, row.attempt, at).await {
        tracing::warn!(error = %error_chain(&error), execution = %row.id, "releasing a limit slot failed; it frees when the lease ends");
    }
}
