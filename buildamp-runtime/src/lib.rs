//! The BuildAmp runtime: everything a `#[derive(BuildAmpWebhook)]` struct needs at run time, and
//! the executor that delivers triggered webhooks through a database queue.
//!
//! Use it through the `buildamp` crate, which re-exports it with the derive.
//!
//! # Layout
//! The modules follow a webhook's flow; lower ones never name upper ones.
//!
//! - Foundations: [`clock`] (injectable time), [`env`](mod@env) (where variables come from), [`config`]
//!   (the runtime's settings), [`error`] (errors as log lines, handler errors), [`target`] (a
//!   webhook's static target, as the derive wrote it), [`payload`] (JSON checked as serde reads it);
//! - [`queue`]: the state machine: [`Status`], and [`queue::decide`], the one pure function that
//!   decides every move of an execution;
//! - [`protect`]: the pure rules of the limits and circuit breakers every executor shares
//!   (concurrency, rate, turns; open, probe, close, disable);
//! - [`store`]: the only SQL, one trait per concern ([`ExecutionStore`], [`OutcomeStore`],
//!   [`InboundStore`]) and one file per concern per backend ([`PgStore`], [`SqliteStore`]); it
//!   writes what the queue decided;
//! - [`outbound`]: `trigger` → `registry` → `prepare` → `enqueue` → `executor` → `delivery` (the
//!   only module that knows reqwest) → `breaker` (each destination's circuit) → `limits`
//!   (admission through the store's shared slots);
//! - [`maintenance`]: the rescuer, the pruner, the outcome dispatcher and the replayer, as named
//!   services;
//! - [`signing`]: our signatures and the providers' (the only module that knows HMAC, ECDSA and
//!   RSA), with SNS certificates;
//! - [`service`]: the webhooks service: event types, customers' endpoints, signed fan-out;
//! - [`tracking`]: what providers report about the messages we sent, as plain types, and a
//!   message's delivery timeline with the state it adds up to;
//! - [`transactions`]: seed 000's callback flow: messages grouped under a customer's callback
//!   URL, told their status changes, delivery events and summary, in order and signed;
//! - [`inbound`]: the endpoints that receive those reports: verified, mapped to executions,
//!   recorded durably, handed to the app's handlers;
//! - [`telemetry`]: Prometheus metrics: attempts counted and timed, the queue read at scrape time;
//! - [`http`]: the HTTP API the generated Elm client calls, and the error body every route uses;
//! - [`Runtime`] (`runtime.rs`): the handle that wires the parts, with no decisions of its own;
//!   [`endpoints`]: `runtime.endpoints()`, managing customers' endpoints; [`analytics`]:
//!   `runtime.analytics()`, what deliveries came to over a window; [`alerts`]:
//!   `runtime.alerts()`, rules over those figures, the circuits and the queue, one incident per
//!   condition;
//! - `simulator` (feature `simulator`, for the `buildamp` command and the examples): local
//!   stand-ins for providers, a development tool.

mod runtime;

pub mod alerts;
pub mod analytics;
pub mod endpoints;

pub mod clock;
pub mod config;
pub mod env;
pub mod error;
pub mod http;
pub mod inbound;
pub mod maintenance;
pub mod outbound;
pub mod payload;
pub mod protect;
pub mod queue;
pub mod service;
pub mod signing;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod store;
pub mod target;
pub mod telemetry;
pub mod tracking;
pub mod transactions;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError};
pub use env::{Env, ProcessEnv};
pub use error::{HandlerError, error_chain};
pub use http::api;
pub use maintenance::{HealthEvent, OutcomeEvent};
pub use outbound::executor::{Executor, ExecutorStats};
pub use outbound::trigger::{
    Enqueue, NewExecution, NoResponse, RunAt, Trigger, TriggerError, TriggerOptions, Webhook,
};
pub use outbound::{delivery, registry};
pub use protect::{Destination, HealthChange};
pub use queue::{ExecutionId, OutcomeKind, Status};
pub use runtime::{Handled, Running, Runtime, RuntimeBuilder, StartupError};
pub use service::Event;
pub use store::{
    DatabaseUrl, DeadLetterFilter, Enqueued, Execution, ExecutionFilter, ExecutionStore,
    InboundStore, OutcomeStore, PgStore, SqliteStore, Store, StoreError,
};
pub use target::Target;

/// What the derive's expansion names by absolute path. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::outbound::registry::Registration;
    pub use crate::queue::DEFAULT_MAX_ATTEMPTS;
    pub use crate::service::EventRegistration;
    pub use crate::target;
    pub use inventory;
}
