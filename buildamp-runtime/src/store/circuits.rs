//! The shared state of destinations' circuit breakers (see [`crate::protect::breaker`], which
//! decides everything written here), and the log of destinations' health changes, which is also
//! the outbox of the app's health handlers.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::protect::{Change, Circuit, HealthChange};

/// The rule a circuit change applies, under the destination's lock: the stored circuit in, the
/// circuit to store (and the change it makes, to log) out; `None` writes nothing.
pub type ChangeCircuit<'a> =
    &'a (dyn Fn(Option<&Circuit>) -> Option<(Circuit, Option<Change>)> + Send + Sync);

/// One logged change of a destination's health: a circuit's change, or an endpoint disabled or
/// enabled again. Written in the transaction that makes the change, then handed to the app's
/// health handlers at least once (see [`CircuitStore::claim_health_events`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthRecord {
    /// What changed.
    pub change: HealthChange,
    /// When.
    pub at: DateTime<Utc>,
    /// Consecutive failures then (0 for an endpoint's disabling or enabling).
    pub failures: u32,
    /// The cool-down the circuit opened for, in milliseconds (0 otherwise).
    pub cool_down_ms: u64,
    /// Why, when it was disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A logged health change waiting for the app's handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEventRow {
    /// Its id (the log's order).
    pub id: i64,
    /// The destination's key ([`crate::protect::Destination::as_stored`]).
    pub key: String,
    /// The change.
    pub record: HealthRecord,
    /// How many times handlers have been given it, this time included.
    pub deliveries: i32,
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
    /// `decide`, stores what it returns and logs its change (as a health event, due now). Returns
    /// what was stored. One transaction.
    fn change_circuit(
        &self,
        key: &str,
        decide: ChangeCircuit<'_>,
    ) -> impl Future<Output = Result<Option<(Circuit, Option<Change>)>, StoreError>> + Send;

    /// The last `limit` health changes of `key`, newest first.
    fn health_changes(
        &self,
        key: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<HealthRecord>, StoreError>> + Send;

    /// Claims up to `limit` health changes no handler has taken yet (oldest first) until
    /// `lease_until`, counting the delivery; changes other claimers hold are skipped.
    fn claim_health_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<HealthEventRow>, StoreError>> + Send;

    /// Marks a health change as taken by every handler (it stays in the log).
    fn ack_health_event(&self, id: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Offers a health change again at `at` (a handler failed).
    fn retry_health_event(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A stored change's name, read back.
pub(super) fn change_of(name: &str) -> Result<HealthChange, StoreError> {
    HealthChange::ALL
        .into_iter()
        .find(|c| c.as_str() == name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown health change `{name}`")))
}

/// The record a circuit's change logs.
pub(super) fn record_of(change: Change, next: &Circuit) -> HealthRecord {
    HealthRecord {
        change: change.into(),
        at: next.changed_at,
        failures: next.failures,
        cool_down_ms: if change == Change::Closed {
            0
        } else {
            u64::try_from(next.cool_down.as_millis()).unwrap_or(u64::MAX)
        },
        reason: None,
    }
}
