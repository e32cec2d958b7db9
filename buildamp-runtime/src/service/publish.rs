//! Publishing: an event becomes one stored event row and one delivery per matching endpoint, in
//! one transaction (the runtime's, or the caller's own: rolled back, nothing is delivered).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::event::{Event, EventId, envelope};
use super::state::ServiceState;
use crate::queue::{ExecutionId, Status};
use crate::store::{EndpointRow, NewEvent, NewRow, Published, StoreError};

/// Options of one publish. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct PublishOptions {
    /// The event's id (default: a fresh `evt_…`); an id is published at most once.
    pub id: Option<EventId>,
    /// The tenant whose endpoints receive it (default: the endpoints of no tenant).
    pub application: Option<String>,
    /// A second publish with the same key (per application) returns the first event.
    pub idempotency_key: Option<String>,
    /// Added to the envelope's `metadata` (beside `version` and `retry_count`).
    pub metadata: Map<String, Value>,
    /// When it happened (default: now).
    pub occurred_at: Option<DateTime<Utc>>,
    /// What orders it (a transaction, a customer's id): an ordered endpoint receives the events
    /// of one key one at a time, in publish order, numbered from 1. In the envelope's
    /// `metadata.ordering_key`.
    pub ordering_key: Option<String>,
}

/// An event ready to publish: what a [`Publishing`] hands to a [`Publish`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EventToPublish {
    /// The event type's name.
    pub event_type: &'static str,
    /// Its schema version.
    pub version: &'static str,
    /// The data, as serde wrote it.
    pub data: Value,
    /// The options.
    pub options: PublishOptions,
}

impl EventToPublish {
    /// The publish of `event` with `options`.
    ///
    /// # Errors
    /// The event cannot be serialized to JSON.
    pub fn of<E: Event>(event: &E, options: PublishOptions) -> Result<Self, PublishError> {
        Ok(EventToPublish {
            event_type: E::NAME,
            version: E::VERSION,
            data: serde_json::to_value(event).map_err(|source| PublishError::Data {
                event: E::NAME,
                source,
            })?,
            options,
        })
    }
}

/// Something events can be published into: the runtime, or a caller's transaction.
pub trait Publish {
    /// Stores the event and its deliveries durably.
    ///
    /// # Errors
    /// Nothing was stored.
    fn publish_event(
        self,
        event: EventToPublish,
    ) -> impl Future<Output = Result<Published, PublishError>> + Send;
}

/// Why a publish failed. Nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The data could not be serialized.
    #[error("cannot serialize the `{event}` data to JSON")]
    Data {
        /// The event type.
        event: &'static str,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The store refused it.
    #[error("cannot store the event")]
    Store(#[from] StoreError),
}

/// A publish being built: set options, then `.await` it.
#[must_use = "a publish does nothing until it is awaited"]
pub struct Publishing<'a, E, P> {
    event: &'a E,
    to: P,
    options: PublishOptions,
}

impl<'a, E: Event, P: Publish> Publishing<'a, E, P> {
    pub(crate) fn new(event: &'a E, to: P) -> Self {
        Publishing {
            event,
            to,
            options: PublishOptions::default(),
        }
    }

    /// Sets the event's id: publishing an id again delivers nothing more.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.options.id = Some(EventId(id.into()));
        self
    }

    /// Sends it to the endpoints of this tenant.
    pub fn application(mut self, application: impl Into<String>) -> Self {
        self.options.application = Some(application.into());
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// Adds `key: value` to the envelope's metadata (`source_service`, ...).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.options.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets when it happened.
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.options.occurred_at = Some(at);
        self
    }

    /// What orders it: an ordered endpoint receives one key's events one at a time, in publish
    /// order ([`PublishOptions::ordering_key`]).
    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.options.ordering_key = Some(key.into());
        self
    }

    /// Replaces every option at once.
    pub fn options(mut self, options: PublishOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a, E: Event, P: Publish + Send + 'a> IntoFuture for Publishing<'a, E, P> {
    type Output = Result<Published, PublishError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let event = EventToPublish::of(self.event, self.options)?;
            self.to.publish_event(event).await
        })
    }
}

/// An event's stored row, and what its deliveries are made from.
pub(crate) struct Plan {
    pub(crate) event: NewEvent,
    pub(crate) deliveries: Deliveries,
}

/// What each delivery of one event is made of: the envelope, and the event's identity.
pub(crate) struct Deliveries {
    event_type: &'static str,
    event_id: String,
    application: String,
    envelope: Value,
    ordering_key: Option<String>,
}

/// What is stored for `event` at `now`.
pub(crate) fn plan(event: EventToPublish, now: DateTime<Utc>) -> Plan {
    let EventToPublish {
        event_type,
        version,
        data,
        options,
    } = event;
    let id = options.id.unwrap_or_default();
    let occurred_at = options.occurred_at.unwrap_or(now);
    let mut metadata = options.metadata;
    if let Some(key) = &options.ordering_key {
        metadata.insert("ordering_key".into(), key.clone().into());
    }
    let envelope = envelope(event_type, &id, occurred_at, version, &data, &metadata, 0);
    let application = options.application.unwrap_or_default();
    Plan {
        deliveries: Deliveries {
            event_type,
            event_id: id.0.clone(),
            application: application.clone(),
            envelope,
            ordering_key: options.ordering_key,
        },
        event: NewEvent {
            id: id.0,
            application,
            event_type,
            version,
            occurred_at,
            data,
            metadata: metadata.into(),
            idempotency_key: options.idempotency_key,
        },
    }
}

impl Deliveries {
    /// The delivery of this event to `endpoint`, if the endpoint receives it
    /// ([`super::state::Routing::receives`]).
    pub(crate) fn route(
        &self,
        state: &ServiceState,
        endpoint: &EndpointRow,
        now: DateTime<Utc>,
    ) -> Option<NewRow> {
        let routing = state.routing(endpoint)?;
        if !routing.receives(self.event_type, &self.envelope) {
            return None;
        }
        Some(NewRow {
            id: ExecutionId::new(),
            webhook_type: self.event_type,
            target_url: routing.url.clone(),
            payload: self.envelope.clone(),
            headers: Value::Object(Map::new()),
            branches: Value::Object(Map::new()),
            status: Status::Pending,
            error_message: None,
            max_attempts: routing.max_attempts,
            due_at: now,
            correlation_id: None,
            application: self.application.clone(),
            host: String::new(),
            idempotency_key: None,
            endpoint_id: Some(endpoint.id),
            event_id: Some(self.event_id.clone()),
            ordering_key: self.ordering_key.clone().filter(|_| routing.ordered),
        })
    }
}
