//! The queue's state machine: the states an execution moves through, and the one function,
//! [`decide`], that decides every move. Pure: no I/O, no clock and no randomness of its own, so
//! every timeline is a unit test. The store applies what it decides ([`Transition`]), fenced on
//! the execution's id, its attempt number and the state the move starts from.
//!
//! # States
//!
//! | state | meaning | left by |
//! | --- | --- | --- |
//! | `pending` | triggered, waiting for its first attempt, due at `next_retry_at` | claim |
//! | `sending` | claimed by one executor, which holds a lease until `lease_expires_at` | attempt, rescue, release |
//! | `sent` | the target answered 2xx; pruned after the retention period | pruner (deleted), resend |
//! | `failed` | a retryable failure; due again at `next_retry_at` | claim |
//! | `dead_letter` | given up, with the reason in `error_message` | retry by hand, resend |
//!
//! # Edges, and who moves them
//!
//! | from | event | to | moved by |
//! | --- | --- | --- | --- |
//! | — | trigger | `pending` (`dead_letter` when its URL cannot be resolved) | the app |
//! | `pending`, `failed` | claim (attempt + 1, lease) | `sending` | executor |
//! | `sending` | [`Event::Attempted`]: 2xx | `sent` (+ `WebhookSuccess`) | executor |
//! | `sending` | [`Event::Attempted`]: retryable, attempts left | `failed`, due after the backoff | executor |
//! | `sending` | [`Event::Attempted`]: permanent, or attempts spent | `dead_letter` (+ `WebhookFailed`) | executor |
//! | `sending` | [`Event::LeaseExpired`], attempts left | `failed`, due after the backoff | rescuer |
//! | `sending` | [`Event::LeaseExpired`], attempts spent | `dead_letter` (+ `WebhookFailed`) | rescuer |
//! | `sending` | [`Event::Released`], request not started | `pending` or `failed`, due now, attempt uncounted | shutdown |
//! | `sending` | [`Event::Released`], request started | `failed` due now, or `dead_letter` (+ `WebhookFailed`) if it was the last attempt | shutdown |
//! | `sending` | [`Event::Deferred`] (a paused endpoint, a destination's shared limit) | `pending` or `failed`, due at `until`, attempt uncounted, the reason kept | executor |
//! | `dead_letter` | [`Event::RetriedByHand`] | `pending`, due now, a fresh budget of attempts | the app (API, CLI) |
//! | `sent` (an endpoint's delivery) | [`Event::Resent`] | `pending`, due now, a fresh budget of attempts | the app (API, CLI) |
//! | `sent` | retention | deleted | pruner |
//!
//! The claim is the one edge the store writes by itself (in the statement that picks the rows,
//! so that `SKIP LOCKED` can hand each row to one executor): its values never vary.

mod status;
mod transition;

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use status::{Status, UnknownStatus};
pub use transition::{
    AttemptResult, Event, OutcomeKind, Progress, RetryPolicy, RetryRules, Transition, Write, decide,
};

/// Attempts in all, the first included, when a target does not say (`max_attempts`), and for a
/// dead letter retried by a process that does not know its webhook type.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The id of one execution (one triggered webhook, across all its attempts).
///
/// Receivers deduplicate on it: it is sent as the idempotency header where a target asks for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(pub Uuid);

impl ExecutionId {
    /// A new, time-ordered id (UUIDv7), so recent executions sit together in the index.
    pub fn new() -> Self {
        ExecutionId(Uuid::now_v7())
    }
}

impl Default for ExecutionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
