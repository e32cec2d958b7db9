//! The BuildAmp runtime: everything a `#[derive(BuildAmpWebhook)]` struct needs at run time, and
//! the executor that delivers triggered webhooks through a database queue.
//!
//! Use it through the `buildamp` crate, which re-exports it with the derive.
//!
//! # Layout
//! - [`target`]: a webhook's static target configuration, with the rules that read it (env
//!   resolution, backoff); [`env`]: where variables come from;
//! - [`Webhook`]: the trait the derive implements; [`registry`]: every webhook type, by name;
//! - `trigger`: `payload.trigger(queue)`, the typed way into the queue ([`Enqueue`]);
//! - [`store`]: the queue's storage, the only module that knows SQL ([`PgStore`]);
//! - [`delivery`]: one HTTP attempt, the only module that knows reqwest; `retry`: what follows it;
//! - `executor`: claims, delivers and records in batches; `limits`: per-target limits;
//! - `outcome`: `WebhookSuccess` / `WebhookFailed` events for the app's handlers;
//! - [`Runtime`]: the handle that ties them together; [`Config`]: its settings;
//! - [`api`]: the HTTP API the generated Elm client calls (with the app's authorizer);
//! - [`simulator`]: local stand-ins for providers, for development.

mod executor;
mod limits;
mod outcome;
mod prepare;
mod retry;
mod runtime;
mod trigger;
mod webhook;

pub mod api;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod env;
pub mod inbound;
pub mod registry;
pub mod simulator;
pub mod store;
pub mod target;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError};
pub use env::{Env, ProcessEnv};
pub use executor::{Executor, ExecutorStats, error_chain};
pub use outcome::{HandlerError, OutcomeEvent, OutcomeKind};
pub use retry::{Decision, decide};
pub use runtime::{Running, Runtime, RuntimeBuilder, StartupError};
pub use store::{
    DatabaseUrl, DeadLetterFilter, Execution, ExecutionFilter, PgStore, SqliteStore, Status, Store,
    StoreError,
};
pub use target::Target;
pub use trigger::{
    Enqueue, Enqueued, ExecutionId, NewExecution, RunAt, Trigger, TriggerError, TriggerOptions,
};
pub use webhook::Webhook;

/// What the derive's expansion names by absolute path. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::Registration;
    pub use crate::target;
    pub use inventory;
}
