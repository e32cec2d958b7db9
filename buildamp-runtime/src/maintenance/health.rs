//! The health dispatcher: every change of a destination's health (a circuit opened, re-opened or
//! closed; an endpoint disabled or enabled again) reaches the app's health handlers at least once.
//! A change is logged in the transaction that makes it, by whichever executor made it, so a crash
//! right after loses nothing; the same log is what an endpoint's health shows.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::dispatch::{Dispatcher, EventHandler, Outbox};
use crate::protect::{Destination, HealthChange};
use crate::store::{CircuitStore, HealthEventRow, StoreError};

/// A change of a destination's health, as handed to health handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthEvent {
    /// The change's id: the same each time it is handed over (handlers deduplicate on it).
    pub id: i64,
    /// What changed: a customer's endpoint, or a `#[target]`'s host.
    pub destination: Destination,
    /// The change.
    pub change: HealthChange,
    /// Consecutive failures then (0 for an endpoint's disabling or enabling).
    pub failures: u32,
    /// How long the circuit opened for (zero otherwise).
    pub cool_down: Duration,
    /// Why, when an endpoint was disabled.
    pub reason: Option<String>,
    /// When it changed.
    pub at: DateTime<Utc>,
    /// 1 the first time handlers see this event, more when it is handed over again.
    pub delivery: u32,
}

impl HealthEvent {
    fn of(row: HealthEventRow) -> Result<Self, StoreError> {
        let destination = Destination::parse(&row.key)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown destination `{}`", row.key)))?;
        Ok(HealthEvent {
            id: row.id,
            destination,
            change: row.record.change,
            failures: row.record.failures,
            cool_down: Duration::from_millis(row.record.cool_down_ms),
            reason: row.record.reason,
            at: row.record.at,
            delivery: u32::try_from(row.deliveries).unwrap_or(0),
        })
    }
}

/// A health handler, as registered with `RuntimeBuilder::on_health`.
pub type HealthHandler = EventHandler<HealthEvent>;

/// The health changes of a store (`health_changes`), as an [`Outbox`].
pub struct HealthChanges<S>(pub(crate) S);

impl<S: CircuitStore + Send + Sync + 'static> Outbox for HealthChanges<S> {
    type Event = HealthEvent;
    const NAME: &'static str = "health dispatcher";

    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(i64, HealthEvent)>, StoreError> {
        let rows = self.0.claim_health_events(now, lease_until, limit).await?;
        rows.into_iter()
            .map(|r| Ok((r.id, HealthEvent::of(r)?)))
            .collect()
    }

    async fn ack(&self, id: i64) -> Result<(), StoreError> {
        self.0.ack_health_event(id).await
    }

    async fn retry(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.retry_health_event(id, at).await
    }

    fn delivery(event: &HealthEvent) -> u32 {
        event.delivery
    }

    fn describe(event: &HealthEvent) -> String {
        format!(
            "{} {}",
            event.destination.as_stored(),
            event.change.as_str()
        )
    }
}

/// Hands health changes to the app's health handlers.
pub type HealthDispatcher<S> = Dispatcher<HealthChanges<S>>;
