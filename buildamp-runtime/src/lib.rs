//! The BuildAmp runtime: what a `#[derive(BuildAmpWebhook)]` struct needs at run time.
//!
//! Use it through the `buildamp` crate, which re-exports it with the derive.
//!
//! # Layout
//! - [`target`]: a webhook's static target configuration (URL template, method, auth, encoding,
//!   timeout, retry policy, limits), with the run-time rules that read it (env resolution, backoff);
//! - [`env`]: where environment variables come from (the process, or a map in tests);
//! - [`Webhook`]: the trait the derive implements;
//! - [`registry`]: every webhook type in the program, found by name at run time;
//! - `trigger`: `payload.trigger(queue)`, the typed way into the queue ([`Enqueue`]).

mod trigger;
mod webhook;

pub mod env;
pub mod registry;
pub mod target;

pub use env::{Env, ProcessEnv};
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
