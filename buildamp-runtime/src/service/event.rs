//! Event types: what `#[derive(BuildAmpEvent)]` implements and registers, the catalog of every
//! registered type, and the envelope a delivery carries.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::payload::{AnyPayload, PayloadError, decode_json};

/// An event type customers' endpoints subscribe to: what `#[derive(BuildAmpEvent)]` implements.
///
/// Derive it rather than implementing it by hand: the derive checks the name and registers the
/// type, so it appears in the catalog (`GET /buildamp/event-types`) and can be published over HTTP.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The event's name: dotted lowercase segments, like `lead.created`.
    const NAME: &'static str;
    /// The version of its data's schema, sent in `metadata.version`.
    const VERSION: &'static str;
    /// What it means (the doc comment, or `description = "..."`).
    const DESCRIPTION: &'static str;

    /// Starts publishing this event to `to` (the runtime, or a transaction of yours). Set options
    /// on the returned [`Publishing`](super::publish::Publishing), then `.await` it.
    fn publish<P: super::publish::Publish>(&self, to: P) -> super::publish::Publishing<'_, Self, P>
    where
        Self: Sized,
    {
        super::publish::Publishing::new(self, to)
    }
}

/// One registered event type.
#[derive(Debug)]
pub struct EventRegistration {
    name: &'static str,
    version: &'static str,
    description: &'static str,
    type_name: fn() -> &'static str,
    decode: fn(&[u8]) -> Result<AnyPayload, PayloadError>,
    to_json: fn(&AnyPayload) -> Result<serde_json::Value, serde_json::Error>,
}

fn to_json<E: Event>(data: &AnyPayload) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(
        data.downcast_ref::<E>()
            .expect("data decoded by its own registration"),
    )
}

impl EventRegistration {
    /// The registration of `E`; the derive submits it.
    pub const fn of<E: Event>() -> Self {
        EventRegistration {
            name: E::NAME,
            version: E::VERSION,
            description: E::DESCRIPTION,
            type_name: std::any::type_name::<E>,
            decode: decode_json::<E>,
            to_json: to_json::<E>,
        }
    }

    /// The event's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its schema version.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// What it means.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The Rust type's full path, for messages.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    /// Checks JSON `data` as serde does, and returns it as the event type writes it (so defaults
    /// and renames apply exactly as for an event published from Rust).
    ///
    /// # Errors
    /// serde's reason, with the path of the field it is about.
    pub fn normalize(&self, data: &[u8]) -> Result<serde_json::Value, PayloadError> {
        let decoded = (self.decode)(data)?;
        (self.to_json)(&decoded).map_err(|e| PayloadError {
            path: String::new(),
            message: e.to_string(),
        })
    }
}

inventory::collect!(EventRegistration);

/// Every registered event type, sorted by name.
pub fn event_types() -> Vec<&'static EventRegistration> {
    let mut all: Vec<_> = inventory::iter::<EventRegistration>.into_iter().collect();
    all.sort_by_key(|r| (r.name, r.type_name()));
    all
}

/// The event type registered under `name`.
pub fn find_event_type(name: &str) -> Option<&'static EventRegistration> {
    inventory::iter::<EventRegistration>
        .into_iter()
        .find(|r| r.name == name)
}

/// Event names declared by more than one type, each with the types (empty when names are unique).
pub fn duplicate_event_names() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut by_name: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for e in event_types() {
        by_name.entry(e.name).or_default().push(e.type_name());
    }
    by_name.into_iter().filter(|(_, t)| t.len() > 1).collect()
}

/// The event BuildAmp sends when an endpoint is tested (`POST /endpoints/{id}/test`).
pub const TEST_EVENT: &str = "buildamp.test";

/// The event type of a transaction's status-change callbacks ([`crate::transactions`]).
pub const STATUS_CHANGE: &str = "status_change";
/// The event type of a transaction's delivery-event callbacks ([`crate::transactions`]).
pub const DELIVERY_EVENT: &str = "delivery_event";

/// The event type of an alert's firing, sent to operators' endpoints ([`crate::alerts`]).
pub const ALERT_FIRED: &str = "buildamp.alert.fired";
/// The event type of an alert's resolution ([`crate::alerts`]).
pub const ALERT_RESOLVED: &str = "buildamp.alert.resolved";

/// The event types BuildAmp itself publishes: an endpoint may subscribe to them whatever types
/// the program declares.
pub const BUILT_IN_EVENTS: [&str; 4] = [STATUS_CHANGE, DELIVERY_EVENT, ALERT_FIRED, ALERT_RESOLVED];

/// An event id: `evt_` and a UUIDv7, so ids sort by time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    /// A fresh id.
    pub fn new() -> Self {
        EventId(format!("evt_{}", uuid::Uuid::now_v7().simple()))
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The body every endpoint receives (seed 003's standard payload): `event_type`, `event_id`,
/// `timestamp`, `data`, and `metadata` with the schema `version`, the `retry_count` of this
/// attempt and whatever the publisher added.
pub fn envelope(
    event_type: &str,
    id: &EventId,
    timestamp: DateTime<Utc>,
    version: &str,
    data: &serde_json::Value,
    metadata: &serde_json::Map<String, serde_json::Value>,
    retry_count: u32,
) -> serde_json::Value {
    let mut meta = metadata.clone();
    meta.insert("version".into(), version.into());
    meta.insert("retry_count".into(), retry_count.into());
    serde_json::json!({
        "event_type": event_type,
        "event_id": id.0,
        "timestamp": timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
        "metadata": meta,
    })
}
