//! From a trigger to a row the queue can store: the URL resolved, literal headers kept, and nothing
//! secret. A trigger that can never be delivered (its URL's variable is unset, or the URL is not
//! http(s)) is stored straight into dead letter with the reason, so it is never silently lost.

use chrono::{DateTime, Utc};

use super::trigger::{NewExecution, RunAt};
use crate::env::Env;
use crate::queue::{ExecutionId, Status};
use crate::store::NewRow;
use crate::target::UrlSource;

/// Prepares `execution` for insertion at `now`.
pub(crate) fn row(
    execution: NewExecution,
    env: &(dyn Env + Send + Sync),
    now: DateTime<Utc>,
) -> NewRow {
    let NewExecution {
        webhook_type,
        target,
        payload,
        options,
    } = execution;
    // The `if_env!` branches are chosen once, here: the URL now, the credentials at send time
    // from the same recorded choice.
    let branches = target.branches(env);
    let url_source = target.url.select_recorded(&branches, env);
    let (target_url, error_message) = match url_source.resolve(env) {
        Ok(url) => match check_url(&url) {
            Ok(()) => (url, None),
            Err(reason) => (url, Some(reason)),
        },
        Err(missing) => (
            unresolved(url_source),
            Some(format!("{missing}: set it, then retry this dead letter")),
        ),
    };
    // Headers whose value is literal in the model are safe to store; the others are resolved at
    // send time from the registered target.
    let headers: serde_json::Map<String, serde_json::Value> = target
        .headers
        .iter()
        .filter(|h| h.value.is_literal())
        .map(|h| (h.name.to_owned(), h.value.source.into()))
        .collect();
    let due_at = match options.run_at {
        None => now,
        Some(RunAt::After(delay)) => {
            now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
        }
        Some(RunAt::At(time)) => DateTime::<Utc>::from(time),
    };
    NewRow {
        id: ExecutionId::new(),
        webhook_type,
        target_url,
        payload,
        headers: headers.into(),
        branches,
        status: if error_message.is_some() {
            Status::DeadLetter
        } else {
            Status::Pending
        },
        error_message,
        max_attempts: i32::try_from(target.max_attempts).unwrap_or(i32::MAX),
        due_at,
        correlation_id: options.correlation_id,
        application: options.application.unwrap_or_default(),
        host: options.host.unwrap_or_default(),
        idempotency_key: options.idempotency_key,
        endpoint_id: None,
        event_id: None,
        ordering_key: None,
    }
}

/// What to store as the URL when it cannot be resolved: the template, never a partial value.
fn unresolved(source: &UrlSource) -> String {
    match source {
        UrlSource::Template(t) => t.source.to_owned(),
        UrlSource::Env(var) => format!("{{{var}}}"),
    }
}

/// A URL read at run time (`env!`, or a template starting with a placeholder) is checked here.
fn check_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(format!(
            "target URL has scheme `{}`: only http and https are delivered",
            u.scheme()
        )),
        Err(e) => Err(format!("target URL is not an absolute URL ({e})")),
    }
}
