//! The webhooks service: event types declared as Rust structs, customers' endpoints that
//! subscribe to them, and signed fan-out on the same queue and executor as `#[target]` webhooks.
//!
//! # Layout
//! - [`event`]: the [`Event`] trait the derive implements, the registry of event types (the
//!   catalog) and the envelope every delivery carries;
//! - [`filter`]: which endpoints an event goes to (subscriptions with wildcards, content
//!   filters), as pure functions;
//! - [`secrets`]: endpoints' secrets sealed at rest with `BUILDAMP_SECRET_KEY`;
//! - [`endpoint`]: an endpoint's settings, checked when written;
//! - [`publish`]: `event.publish(&runtime)`, the event and its fan-out in one transaction;
//! - [`deliver`]: one delivery's request: envelope, event headers, signature, authentication;
//! - `state`: this process's keys and caches of endpoints.
//!
//! The service sits below `outbound`: the executor delivers an endpoint's row through it, exactly
//! as a `#[target]` row, from the endpoint's settings instead of a static target.

pub mod deliver;
pub mod endpoint;
pub mod event;
pub mod filter;
pub mod publish;
pub mod secrets;
pub(crate) mod state;

pub use endpoint::{
    BodyShape, Endpoint, EndpointAuth, EndpointId, EndpointSpec, EndpointStatus, Environment,
    SigningScheme,
};
pub use event::{Event, EventId, EventRegistration, event_types, find_event_type};
pub use publish::{Publish, PublishError, PublishOptions, Publishing};
pub use state::{Routing, ServiceError};
