//! Admission under a destination's limits, shared by every executor through the store (see
//! [`crate::protect::limit`] for the rule and its guarantees). A destination without limits is
//! never asked about: its deliveries pay nothing for the feature.
//!
//! Once the store has refused a destination until some time, this process hands further rows of
//! it the following turns itself (`Turns`) until then, without asking the store: a backlog of a
//! limited endpoint claimed at once then costs one admission, not one locked transaction per
//! row, and the executor's slots stay free for other endpoints. Each row still asks the store
//! when its turn comes; local turns only choose when that is.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::error::error_chain;
use crate::protect::{self, Admission, Destination, Limits};
use crate::store::{Claimed, LimitStore, SlotRequest};

/// How long a delivery waits when its limits cannot be read (the database failed).
const UNREADABLE_WAIT: chrono::Duration = chrono::Duration::seconds(1);

/// The turns this process hands out for destinations the store refused, until the refusal ends.
#[derive(Default)]
pub(crate) struct Turns {
    by_key: Mutex<HashMap<String, Turn>>,
}

struct Turn {
    /// The store refused until then.
    refused_until: DateTime<Utc>,
    /// The next turn to hand out, and the gap between turns.
    next: DateTime<Utc>,
    pace: chrono::Duration,
    reason: &'static str,
}

impl Turns {
    /// The next local turn of `key`, while the store's refusal lasts.
    fn take(&self, key: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, &'static str)> {
        let mut by_key = self.by_key.lock().expect("turns lock");
        let turn = by_key.get_mut(key)?;
        if turn.refused_until <= now {
            by_key.remove(key);
            return None;
        }
        let until = turn.next;
        turn.next = until + turn.pace;
        Some((until, turn.reason))
    }

    fn remember(
        &self,
        key: String,
        until: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        reason: &'static str,
    ) {
        let Some(next) = next else { return };
        self.by_key.lock().expect("turns lock").insert(
            key,
            Turn {
                refused_until: until,
                next,
                pace: next - until,
                reason,
            },
        );
    }

    fn forget(&self, key: &str) {
        self.by_key.lock().expect("turns lock").remove(key);
    }
}

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
    turns: &Turns,
    limits: Limits,
    key: impl FnOnce() -> Destination,
    row: &Claimed,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Admitted {
    if !limits.any() {
        return Admitted::Go(false);
    }
    let key = key().as_stored();
    if let Some((until, reason)) = turns.take(&key, now) {
        return Admitted::Wait { until, reason };
    }
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
            Admission::Admit => {
                turns.forget(&key);
                Admitted::Go(true)
            }
            Admission::Wait { until, reason } => {
                turns.remember(key, until, decision.next_turn, reason);
                Admitted::Wait { until, reason }
            }
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
