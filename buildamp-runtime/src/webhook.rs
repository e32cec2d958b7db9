//! The `Webhook` trait that `#[derive(BuildAmpWebhook)]` implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::target::Target;
use crate::trigger::{Enqueue, Trigger};

/// A payload type with a delivery target: what `#[derive(BuildAmpWebhook)]` implements.
///
/// Derive it rather than implementing it by hand: the derive checks the `#[target(...)]` and
/// registers the type. The `buildamp` crate's documentation has a complete, tested example.
pub trait Webhook: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The webhook's name (the struct's identifier), as stored in `webhook_executions.webhook_type`
    /// and used by the HTTP API's routes.
    const NAME: &'static str;

    /// Where and how the payload is delivered.
    fn target() -> &'static Target;

    /// Starts triggering this payload into `queue` (the runtime, or a transaction of yours).
    /// Set options on the returned [`Trigger`], then `.await` it.
    fn trigger<Q: Enqueue>(&self, queue: Q) -> Trigger<'_, Self, Q>
    where
        Self: Sized,
    {
        Trigger::new(self, queue)
    }
}
