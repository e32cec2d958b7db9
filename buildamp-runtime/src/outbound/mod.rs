//! The outbound flow, in the order a webhook takes it: [`trigger`] (the typed way in, and the
//! [`Webhook`](trigger::Webhook) trait the derive implements) → [`registry`] (every webhook
//! type, by name) → `prepare` (the row to store: URL resolved, nothing secret) → [`enqueue`]
//! (inside the caller's transaction; single triggers share commits through `group_commit`) →
//! [`executor`] (claim, deliver, record) → [`delivery`] (one
//! HTTP attempt; the only module that knows reqwest; endpoints' requests go through its SSRF
//! `guard`) → `breaker` (each destination's circuit) → [`limits`] (admission under limits every
//! executor shares); `rules` says where a queued row's
//! retry rules come from (a target, or an endpoint's settings) for rescues and retries by hand.

pub(crate) mod breaker;
pub mod delivery;
pub mod enqueue;
pub mod executor;
pub(crate) mod group_commit;
pub mod limits;
pub(crate) mod prepare;
pub mod registry;
pub(crate) mod rules;
pub mod trigger;
