//! The outbound flow, in the order a webhook takes it: [`trigger`] (the typed way in, and the
//! [`Webhook`](trigger::Webhook) trait the derive implements) → [`registry`] (every webhook
//! type, by name) → `prepare` (the row to store: URL resolved, nothing secret) → [`enqueue`]
//! (inside the caller's transaction; single triggers share commits through `group_commit`) →
//! [`executor`] (claim, deliver, record) → [`delivery`] (one
//! HTTP attempt; the only module that knows reqwest) → [`limits`] (per-target limits in one
//! process).

pub mod delivery;
pub mod enqueue;
pub mod executor;
pub(crate) mod group_commit;
pub mod limits;
pub(crate) mod prepare;
pub mod registry;
pub mod trigger;
