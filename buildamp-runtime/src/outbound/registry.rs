//! Every webhook type in the program, found at run time with no hand-written list: each
//! `#[derive(BuildAmpWebhook)]` submits a [`Registration`] at link time (through `inventory`).

use std::collections::BTreeMap;
use std::fmt;

use super::trigger::{NewExecution, TriggerError, TriggerOptions, Webhook};
use crate::env::Env;
use crate::payload::decode_json;
pub use crate::payload::{AnyPayload, PayloadError};
use crate::queue::{DEFAULT_MAX_ATTEMPTS, RetryRules};
use crate::target::Target;

/// One registered webhook type.
#[derive(Debug)]
pub struct Registration {
    name: &'static str,
    target: fn() -> &'static Target,
    type_name: fn() -> &'static str,
    decode: fn(&[u8]) -> Result<AnyPayload, PayloadError>,
    execution: fn(&AnyPayload, TriggerOptions) -> Result<NewExecution, TriggerError>,
}

fn execution<W: Webhook>(
    payload: &AnyPayload,
    options: TriggerOptions,
) -> Result<NewExecution, TriggerError> {
    let payload = payload
        .downcast_ref::<W>()
        .expect("a payload decoded by its own registration");
    NewExecution::of(payload, options)
}

impl Registration {
    /// The registration of `W`; the derive submits it.
    pub const fn of<W: Webhook>() -> Self {
        Registration {
            name: W::NAME,
            target: W::target,
            type_name: std::any::type_name::<W>,
            decode: decode_json::<W>,
            execution: execution::<W>,
        }
    }

    /// Decodes a JSON payload into the webhook's type (what the HTTP API does with a request
    /// body), checking it as serde does.
    ///
    /// # Errors
    /// serde's reason, with the path of the field it is about.
    pub fn decode(&self, json: &[u8]) -> Result<AnyPayload, PayloadError> {
        (self.decode)(json)
    }

    /// The execution of a payload [`Registration::decode`] returned.
    ///
    /// # Errors
    /// The payload cannot be serialized again.
    ///
    /// # Panics
    /// When `payload` was decoded by another registration.
    pub fn execution(
        &self,
        payload: &AnyPayload,
        options: TriggerOptions,
    ) -> Result<NewExecution, TriggerError> {
        (self.execution)(payload, options)
    }

    /// The webhook's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The webhook's target.
    pub fn target(&self) -> &'static Target {
        (self.target)()
    }

    /// The Rust type's full path, for messages.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }
}

inventory::collect!(Registration);

/// Every registered webhook, sorted by name.
pub fn webhooks() -> Vec<&'static Registration> {
    let mut all: Vec<_> = inventory::iter::<Registration>.into_iter().collect();
    all.sort_by_key(|r| (r.name, r.type_name()));
    all
}

/// The webhook registered under `name`.
pub fn find(name: &str) -> Option<&'static Registration> {
    inventory::iter::<Registration>
        .into_iter()
        .find(|r| r.name == name)
}

/// How failures of `webhook_type` are retried: its target's rules, or the default backoff for a
/// type this process does not know.
pub fn retry_rules(webhook_type: &str) -> RetryRules<'static> {
    find(webhook_type).map_or(RetryRules::DEFAULT, |r| r.target().retry_rules())
}

/// Attempts in one round of `webhook_type` (a dead letter retried by hand gets this many more):
/// its target's `max_attempts`, or the default for a type this process does not know.
pub fn attempt_budget(webhook_type: &str) -> u32 {
    find(webhook_type).map_or(DEFAULT_MAX_ATTEMPTS, |r| r.target().max_attempts)
}

/// Checks at start-up that webhook names are unique and that every environment variable any
/// registered webhook reads is set, reporting every problem at once.
///
/// # Errors
/// [`RegistryError`] listing each duplicate name and each missing variable with its webhooks.
pub fn check(env: &(impl Env + ?Sized)) -> Result<(), RegistryError> {
    let mut by_name: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    let mut missing: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for webhook in webhooks() {
        by_name
            .entry(webhook.name)
            .or_default()
            .push(webhook.type_name());
        for var in webhook.target().missing_env_vars(env) {
            missing.entry(var).or_default().push(webhook.name);
        }
    }
    let duplicates: Vec<(&'static str, Vec<&'static str>)> = by_name
        .into_iter()
        .filter(|(_, types)| types.len() > 1)
        .collect();
    if duplicates.is_empty() && missing.is_empty() {
        Ok(())
    } else {
        Err(RegistryError {
            duplicates,
            missing_env_vars: missing.into_iter().collect(),
        })
    }
}

/// What [`check`] found wrong.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryError {
    /// Names declared by more than one type, with the types.
    pub duplicates: Vec<(&'static str, Vec<&'static str>)>,
    /// Unset variables, with the webhooks that read them.
    pub missing_env_vars: Vec<(&'static str, Vec<&'static str>)>,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        for (name, types) in &self.duplicates {
            lines.push(format!(
                "webhook name `{name}` is declared by {}: rename one of the structs",
                types.join(" and ")
            ));
        }
        for (var, webhooks) in &self.missing_env_vars {
            lines.push(format!(
                "environment variable `{var}` is not set (needed by {})",
                webhooks.join(", ")
            ));
        }
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for RegistryError {}
