//! The shared state of destinations' limits: admitted slots and each destination's turn pointer
//! (see [`crate::protect::limit`], which decides everything written here).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::protect::{Decision, Slot};
use crate::queue::ExecutionId;

/// The rule an admission applies, under the destination's lock: the destination's slots and turn
/// pointer in, the decision out.
pub type Decide<'a> = &'a (dyn Fn(&[Slot], Option<DateTime<Utc>>) -> Decision + Send + Sync);

/// The attempt asking to be admitted.
#[derive(Clone, Copy, Debug)]
pub struct SlotRequest<'a> {
    /// The destination (`Destination::as_stored`).
    pub key: &'a str,
    /// The execution.
    pub execution: ExecutionId,
    /// Its attempt.
    pub attempt: i32,
    /// Now.
    pub now: DateTime<Utc>,
    /// The attempt's lease: the slot counts as in flight until then unless released.
    pub lease_until: DateTime<Utc>,
    /// Slots of the destination that ended before this may be deleted.
    pub forget_before: DateTime<Utc>,
}

/// Storage of limits. Every backend passes the same tests.
pub trait LimitStore {
    /// Under a lock on `request.key` that every executor process respects: reads the
    /// destination's slots and turn pointer, applies `decide`, stores the slot when it admits and
    /// the turn pointer it returns. One transaction.
    fn admit(
        &self,
        request: SlotRequest<'_>,
        decide: Decide<'_>,
    ) -> impl Future<Output = Result<Decision, StoreError>> + Send;

    /// Deletes up to `limit` rows of each kind of protection state that nothing reads any more
    /// since `before`: slots that ended, health changes, circuits closed with no failures, and
    /// ordering counters idle since then with nothing of their key unsettled (a key published
    /// again after that is numbered from 1). Returns how many went.
    fn prune_protection(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Marks the slot of `(execution, attempt)` ended at `at`; `false` when there was none.
    fn release_slot(
        &self,
        execution: ExecutionId,
        attempt: i32,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
