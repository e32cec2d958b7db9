//! Triggering: turning a typed payload into a queued execution.
//!
//! `payload.trigger(queue)` serializes the payload and hands it, with its target and options, to
//! anything that implements [`Enqueue`]: the runtime's store, or the caller's own database
//! transaction (the outbox pattern).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::store::Enqueued;
use crate::target::Target;

/// When an execution becomes due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunAt {
    /// This long after it is enqueued.
    After(Duration),
    /// At this time.
    At(SystemTime),
}

/// Options of one trigger. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TriggerOptions {
    /// Ties the execution to the app's own flow; it comes back in outcome events.
    pub correlation_id: Option<Uuid>,
    /// A second trigger with the same key (per application) returns the first execution
    /// instead of delivering twice.
    pub idempotency_key: Option<String>,
    /// Delay or schedule the first attempt; immediately when `None`.
    pub run_at: Option<RunAt>,
    /// The tenant application this execution belongs to.
    pub application: Option<String>,
    /// The tenant host this execution belongs to.
    pub host: Option<String>,
}

/// An execution to enqueue: what a [`Trigger`] hands to an [`Enqueue`].
#[derive(Debug)]
#[non_exhaustive]
pub struct NewExecution {
    /// The webhook's name ([`Webhook::NAME`]).
    pub webhook_type: &'static str,
    /// Its target.
    pub target: &'static Target,
    /// The serialized payload.
    pub payload: serde_json::Value,
    /// The trigger's options.
    pub options: TriggerOptions,
}

impl NewExecution {
    /// The execution of `payload` with `options`.
    ///
    /// # Errors
    /// [`TriggerError::Payload`] when the payload cannot be serialized to JSON.
    pub fn of<W: Webhook>(payload: &W, options: TriggerOptions) -> Result<Self, TriggerError> {
        let payload = serde_json::to_value(payload).map_err(|source| TriggerError::Payload {
            webhook: W::NAME,
            source,
        })?;
        Ok(NewExecution {
            webhook_type: W::NAME,
            target: W::target(),
            payload,
            options,
        })
    }
}

/// Something executions can be enqueued into: the runtime, or a caller's transaction.
pub trait Enqueue {
    /// Stores `execution` durably, so it will be delivered.
    ///
    /// # Errors
    /// The queue could not store it; nothing was enqueued.
    fn enqueue(
        self,
        execution: NewExecution,
    ) -> impl Future<Output = Result<Enqueued, Box<dyn std::error::Error + Send + Sync>>> + Send;
}

/// Why a trigger failed. Nothing was enqueued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriggerError {
    /// The payload could not be serialized to JSON.
    #[error("cannot serialize the `{webhook}` payload to JSON")]
    Payload {
        /// The webhook's name.
        webhook: &'static str,
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The queue refused the execution.
    #[error("cannot enqueue `{webhook}`")]
    Enqueue {
        /// The webhook's name.
        webhook: &'static str,
        /// The queue's reason.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A trigger being built: set options, then `.await` it.
#[must_use = "a trigger does nothing until it is awaited"]
pub struct Trigger<'a, W, Q> {
    webhook: &'a W,
    queue: Q,
    options: TriggerOptions,
}

impl<'a, W: Webhook, Q: Enqueue> Trigger<'a, W, Q> {
    pub(crate) fn new(webhook: &'a W, queue: Q) -> Self {
        Trigger {
            webhook,
            queue,
            options: TriggerOptions::default(),
        }
    }

    /// Sets the correlation id returned in outcome events.
    pub fn correlation_id(mut self, id: Uuid) -> Self {
        self.options.correlation_id = Some(id);
        self
    }

    /// Sets the idempotency key: a repeat trigger with the same key returns the first execution.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// Delays the first attempt.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.options.run_at = Some(RunAt::After(delay));
        self
    }

    /// Schedules the first attempt.
    pub fn at(mut self, time: SystemTime) -> Self {
        self.options.run_at = Some(RunAt::At(time));
        self
    }

    /// Sets the tenant application.
    pub fn application(mut self, application: impl Into<String>) -> Self {
        self.options.application = Some(application.into());
        self
    }

    /// Sets the tenant host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.options.host = Some(host.into());
        self
    }

    /// Replaces every option at once.
    pub fn options(mut self, options: TriggerOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a, W: Webhook, Q: Enqueue + Send + 'a> IntoFuture for Trigger<'a, W, Q> {
    type Output = Result<Enqueued, TriggerError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let execution = NewExecution::of(self.webhook, self.options)?;
            self.queue
                .enqueue(execution)
                .await
                .map_err(|source| TriggerError::Enqueue {
                    webhook: W::NAME,
                    source,
                })
        })
    }
}

/// The [`Webhook::Response`] or [`Webhook::Error`] of a target that names no type: any body
/// (or none) reads as it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoResponse;

impl serde::Serialize for NoResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<'de> serde::Deserialize<'de> for NoResponse {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| NoResponse)
    }
}

/// A payload type with a delivery target: what `#[derive(BuildAmpWebhook)]` implements.
///
/// Derive it rather than implementing it by hand: the derive checks the `#[target(...)]` and
/// registers the type. The `buildamp` crate's documentation has a complete, tested example.
pub trait Webhook: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The webhook's name (the struct's identifier), as stored in `webhook_executions.webhook_type`
    /// and used by the HTTP API's routes.
    const NAME: &'static str;

    /// What a 2xx answer is (`#[target(response = Type)]`), or [`NoResponse`].
    type Response: Serialize + DeserializeOwned + Send + 'static;

    /// What the provider answers when it refuses (`#[target(error = Type)]`, such as Stripe's
    /// `{"error": {...}}`), or [`NoResponse`].
    type Error: Serialize + DeserializeOwned + Send + 'static;

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
