//! Customers' endpoints and published events: [`EndpointStore`]. The store keeps an endpoint's
//! settings as JSON and its secrets as the sealed text it is given; it never opens them, and it
//! never decides which endpoint an event goes to (the caller's [`Route`] does).

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{HealthRecord, NewRow, StoreError};

/// An endpoint as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointRow {
    /// Its id.
    pub id: Uuid,
    /// Its tenant (`""` for none).
    pub application: String,
    /// Its URL.
    pub url: String,
    /// Its description.
    pub description: String,
    /// `enabled`, `paused` or `disabled`.
    pub status: String,
    /// `development`, `staging` or `production`.
    pub environment: String,
    /// Its settings (nothing secret).
    pub config: serde_json::Value,
    /// Its secrets, sealed.
    pub secrets: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed: the fence of [`EndpointStore::replace_endpoint`].
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for EndpointRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRow")
            .field("id", &self.id)
            .field("application", &self.application)
            .field("url", &self.url)
            .field("status", &self.status)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// An event to store with its fan-out.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Its id (publishing the same id twice delivers it once).
    pub id: String,
    /// The tenant whose endpoints receive it (`""` for none).
    pub application: String,
    /// Its type.
    pub event_type: &'static str,
    /// Its type's schema version.
    pub version: &'static str,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Its data.
    pub data: serde_json::Value,
    /// The publisher's metadata.
    pub metadata: serde_json::Value,
    /// A second publish with the same key (per application) returns the first event.
    pub idempotency_key: Option<String>,
}

/// What a publish stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The event's id (the first event's, for a duplicate).
    pub event_id: String,
    /// Deliveries its fan-out created.
    pub deliveries: i32,
    /// `true` when the id or the idempotency key had been published already: nothing new was
    /// stored.
    pub duplicate: bool,
}

/// Decides, for one endpoint of the event's application, the delivery row to insert (or none).
pub type Route<'a> = &'a (dyn Fn(&EndpointRow) -> Option<NewRow> + Send + Sync);

/// Storage of endpoints and events. Every backend passes the same tests.
pub trait EndpointStore {
    /// Stores a new endpoint.
    fn insert_endpoint(
        &self,
        row: &EndpointRow,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Overwrites the endpoint `row.id` if it is still as it was at `seen` (its `updated_at`
    /// then): `false` when it changed or went meanwhile (read it again and retry). `log` is the
    /// health change the new version makes (disabled, enabled again), logged under its
    /// destination key in the same transaction, or nothing when it did not land.
    fn replace_endpoint(
        &self,
        row: &EndpointRow,
        seen: DateTime<Utc>,
        log: Option<(&str, &HealthRecord)>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes an endpoint; `false` when there was none. Its queued deliveries stay and
    /// dead-letter when their turn comes.
    fn delete_endpoint(&self, id: Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// One endpoint.
    fn endpoint(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<EndpointRow>, StoreError>> + Send;

    /// Endpoints by id after `after`, of `application` when given, at most `limit`.
    fn endpoints(
        &self,
        application: Option<&str>,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EndpointRow>, StoreError>> + Send;

    /// Endpoints by id after `after` whose application does not start with `prefix`, at most
    /// `limit` (every endpoint but transactions' callback endpoints, for health views).
    fn endpoints_outside(
        &self,
        prefix: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EndpointRow>, StoreError>> + Send;

    /// Deletes up to `limit` events published before `before`. Their deliveries carry their own
    /// copy of the envelope, so they are delivered, retried and listed as before; only a repeat
    /// publish of a pruned id or key is no longer recognised.
    fn prune_events(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores `event` and, in the same transaction, one delivery per endpoint of its application
    /// that `route` returns a row for (one insert statement). A duplicate id or idempotency key
    /// stores nothing.
    fn publish(
        &self,
        now: DateTime<Utc>,
        event: NewEvent,
        route: Route<'_>,
    ) -> impl Future<Output = Result<Published, StoreError>> + Send;
}
