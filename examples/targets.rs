//! Lists every webhook the program registered, with the target the derive compiled for it and the
//! environment variables it still needs. Values are never printed, only variable names.
//!
//! ```text
//! cargo run --example targets              # production targets
//! DEVELOPMENT=1 cargo run --example targets  # what the if_env! models choose in development
//! ```

use buildamp::target::{BodyEncoding, RetryPolicy, UrlSource};
use buildamp::{Env, ProcessEnv, registry};

// Linking the models crate is what registers its webhooks: no list is written here.
use buildamp_models as _;

fn main() {
    let env = ProcessEnv;
    println!(
        "{:<20} {:<6} {:<58} {:<10} {:>7} {:<22} {:>8}  missing env",
        "webhook", "method", "url", "body", "timeout", "retry", "attempts"
    );
    for webhook in registry::webhooks() {
        let t = webhook.target();
        let url = match t.url.select(&env) {
            UrlSource::Template(template) => template.source.to_owned(),
            UrlSource::Env(var) => format!("${var}"),
        };
        let body = if t.method.sends_query() {
            "query"
        } else {
            match t.encoding {
                BodyEncoding::Json => "json",
                BodyEncoding::Form => "form",
                BodyEncoding::Multipart => "multipart",
            }
        };
        let retry = match &t.retry {
            RetryPolicy::Exponential { initial, max, .. } => {
                format!("exp {}s..{}s", initial.as_secs(), max.as_secs())
            }
            RetryPolicy::Fixed(d) => format!("fixed {}s", d.as_secs()),
            RetryPolicy::Schedule(delays) => {
                let secs: Vec<String> =
                    delays.iter().map(|d| format!("{}s", d.as_secs())).collect();
                format!("schedule {}", secs.join(","))
            }
            RetryPolicy::None => "none".to_owned(),
        };
        let missing = t.missing_env_vars(&env);
        println!(
            "{:<20} {:<6} {:<58} {:<10} {:>6}s {:<22} {:>8}  {}{}",
            webhook.name(),
            t.method.as_str(),
            url,
            body,
            t.timeout.as_secs(),
            retry,
            t.max_attempts,
            if missing.is_empty() {
                "-".to_owned()
            } else {
                missing.join(", ")
            },
            if t.server_only { "  (server-only)" } else { "" },
        );
    }
    match registry::check(&env) {
        Ok(()) => println!("\nevery variable is set: ready to deliver"),
        Err(problems) => {
            let development = if env.is_truthy("DEVELOPMENT") {
                ""
            } else {
                " (or set DEVELOPMENT=1 to target the simulator)"
            };
            println!("\nbefore delivering, fix{development}:\n{problems}");
        }
    }
}
