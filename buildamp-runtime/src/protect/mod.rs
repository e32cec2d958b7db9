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
}
