//! The shared state of destinations' circuit breakers (see [`crate::protect::breaker`], which
//! decides everything written here), and the log of their changes.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::protect::{Change, Circuit};

/// The rule a circuit change applies, under the destination's lock: the stored circuit in, the
/// circuit to store (and the change it makes, to log) out; `None` writes nothing.
pub type ChangeCircuit<'a> =
    &'a (dyn Fn(Option<&Circuit>) -> Option<(Circuit, Option<Change>)> + Send + Sync);

/// One logged change of a circuit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CircuitChange {
    /// What changed.
    pub change: Change,
    /// When.
    pub at: DateTime<Utc>,
    /// Consecutive failures then.
    pub failures: u32,
    /// The cool-down it opened for, in milliseconds (0 when it closed).
    pub cool_down_ms: u64,
}

/// Storage of circuits. Every backend passes the same tests.
pub trait CircuitStore {
    /// Every circuit that is not closed with no failures, by destination key.
    fn circuits(&self) -> impl Future<Output = Result<Vec<(String, Circuit)>, StoreError>> + Send;

    /// One destination's circuit (`None`: closed, no failures).
    fn circuit(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Circuit>, StoreError>> + Send;

    /// Under a lock on `key` that every executor process respects: reads the circuit, applies
    /// `decide`, stores what it returns and logs its change. Returns what was stored. One
    /// transaction.
    fn change_circuit(
        &self,
        key: &str,
        decide: ChangeCircuit<'_>,
    ) -> impl Future<Output = Result<Option<(Circuit, Option<Change>)>, StoreError>> + Send;

    /// The last `limit` changes of `key`'s circuit, newest first.
    fn circuit_changes(
        &self,
        key: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<CircuitChange>, StoreError>> + Send;
}

/// The stored name of a change.
pub(super) fn change_name(change: Change) -> &'static str {
    match change {
        Change::Opened => "opened",
        Change::Reopened => "reopened",
        Change::Closed => "closed",
    }
}

/// A stored change, read back.
pub(super) fn change_of(name: &str) -> Result<Change, StoreError> {
    [Change::Opened, Change::Reopened, Change::Closed]
        .into_iter()
        .find(|c| change_name(*c) == name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown circuit change `{name}`")))
}
