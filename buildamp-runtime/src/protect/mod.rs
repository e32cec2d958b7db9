//! Protecting destinations from the queue: the rules of the limits and circuit breakers every
//! executor shares.
//!
//! Pure, like [`crate::queue`]: the store keeps the state (in the database, so that every
//! executor process sees the same), these functions decide, and the store writes what they
//! decided. A destination is named by a [`Destination`]: a customer's endpoint, a `#[target]`
//! webhook type (its limits) or a `#[target]`'s host (its circuit).

pub mod breaker;
pub mod limit;

pub use breaker::{BreakerPolicy, Change, Circuit, CircuitState, Gate, Health};
pub use limit::{Admission, Decision, Limits, Slot, admit};

use uuid::Uuid;

/// What a limit or a circuit belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A customer's endpoint of the webhooks service (its limits and its circuit).
    Endpoint(Uuid),
    /// A `#[target]` webhook type (its limits).
    Target(String),
    /// A `#[target]`'s host and port (its circuit: every webhook type sending there shares it).
    Host(String),
}

impl Destination {
    /// The key as stored (`endpoint:<id>`, `target:<WebhookType>`, `host:<host:port>`).
    pub fn as_stored(&self) -> String {
        match self {
            Destination::Endpoint(id) => format!("endpoint:{id}"),
            Destination::Target(name) => format!("target:{name}"),
            Destination::Host(host) => format!("host:{host}"),
        }
    }

    /// Reads back a stored key; `None` for a key no destination makes.
    pub fn parse(stored: &str) -> Option<Destination> {
        let (kind, name) = stored.split_once(':')?;
        match kind {
            "endpoint" => Uuid::parse_str(name).ok().map(Destination::Endpoint),
            "target" => Some(Destination::Target(name.to_owned())),
            "host" => Some(Destination::Host(name.to_owned())),
            _ => None,
        }
    }
}

/// A change of a destination's health, as logged and handed to the app: its circuit's changes
/// ([`Change`]) and an endpoint's disabling and re-enabling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthChange {
    /// The circuit opened after consecutive failures.
    Opened,
    /// A probe failed: the circuit opened again, for a longer cool-down.
    Reopened,
    /// An answer closed the circuit.
    Closed,
    /// The endpoint was disabled (410 Gone, failing for the configured period, or by hand).
    Disabled,
    /// A disabled endpoint was enabled again (by hand, or by a successful test).
    Enabled,
}

impl HealthChange {
    /// Every change, for reading a stored name back.
    pub const ALL: [HealthChange; 5] = [
        HealthChange::Opened,
        HealthChange::Reopened,
        HealthChange::Closed,
        HealthChange::Disabled,
        HealthChange::Enabled,
    ];

    /// The change's name as stored and serialized (`opened`, `reopened`, `closed`, `disabled`,
    /// `enabled`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthChange::Opened => "opened",
            HealthChange::Reopened => "reopened",
            HealthChange::Closed => "closed",
            HealthChange::Disabled => "disabled",
            HealthChange::Enabled => "enabled",
        }
    }
}

impl From<Change> for HealthChange {
    fn from(change: Change) -> Self {
        match change {
            Change::Opened => HealthChange::Opened,
            Change::Reopened => HealthChange::Reopened,
            Change::Closed => HealthChange::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_reads_back_as_its_destination() {
        for d in [
            Destination::Endpoint(Uuid::from_u128(7)),
            Destination::Target("SendGridEmail".into()),
            Destination::Host("api.example.com:443".into()),
        ] {
            assert_eq!(Destination::parse(&d.as_stored()), Some(d));
        }
        assert_eq!(Destination::parse("endpoint:nope"), None);
        assert_eq!(Destination::parse("queue:x"), None);
        assert_eq!(Destination::parse("plain"), None);
    }

    #[test]
    fn health_changes_serialize_as_their_stored_names() {
        for c in HealthChange::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
