//! The quickstart: a runtime delivering real models to the local simulator, end to end.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It uses `DATABASE_URL` if set (`postgres://…`, creating the database if the server lacks it,
//! or `sqlite://path`), else a SQLite file under `./.buildamp/`, so it runs on a machine with no
//! database server. It starts the provider simulator on port 4040
//! (where the models' `if_env!("DEVELOPMENT", ...)` URLs point), runs the executor, triggers a
//! few webhooks, shows their outcomes as they happen, and ends with a summary.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use buildamp::{
    BuildAmpWebhook, Config, DatabaseUrl, Env, ExecutionId, OutcomeKind, PgStore, Runtime,
    SqliteStore, Status, Store, Webhook, error_chain,
};
use buildamp_models::{
    AutomaticPaymentMethods, CustomAPICall, EmailAddress, EmailContent, Personalization,
    SendGridEmail, StripePaymentIntent,
};
use serde::{Deserialize, Serialize};

/// An analytics service that is down: three attempts (1 s, then 2 s apart), then dead letter.
#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "http://localhost:4040/test-webhook/error", server_only = true)]
pub struct AnalyticsEvent {
    /// The event.
    pub name: String,
    /// Who did it.
    pub user: String,
}

/// The process environment, with `DEVELOPMENT` set so the models target the simulator, and the
/// custom service (whose URL the `CustomAPICall` model reads from `CUSTOM_SERVICE_URL`) played by
/// the simulator's rate-limited service.
struct Development;

impl Env for Development {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "DEVELOPMENT" => Some("1".into()),
            "CUSTOM_SERVICE_URL" => Some("http://localhost:4040/test-webhook/rate-limited".into()),
            _ => std::env::var(name).ok(),
        }
    }
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("\nquickstart failed: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    println!("BuildAmp quickstart");
    let (url, defaulted) =
        DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    if defaulted {
        println!(
            "  database   SQLite at .buildamp/buildamp.db (DATABASE_URL is not set; set it to postgres://… to use Postgres)"
        );
    } else {
        println!("  database   {}", redact(url.as_str()));
    }
    match url {
        DatabaseUrl::Postgres(url) => quickstart(connect(&url).await?).await,
        DatabaseUrl::Sqlite(url) => {
            let store = SqliteStore::connect(&url)
                .await
                .map_err(|e| format!("cannot open {url}: {}", error_chain(&e)))?;
            quickstart(store).await
        }
    }
}

async fn quickstart<S: Store>(store: S) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:4040").await.map_err(|e| {
        format!("cannot start the simulator on 127.0.0.1:4040 ({e}); the models' DEVELOPMENT URLs point there, so stop whatever uses it")
    })?;
    tokio::spawn(buildamp::simulator::serve(listener, std::future::pending()));
    println!(
        "  simulator  http://localhost:4040/test-webhook/{{sendgrid,stripe,rate-limited,error,reject}}"
    );

    let mut config = Config::default();
    config.poll_interval = Duration::from_millis(200);
    let started = Instant::now();
    let runtime = Runtime::builder(store)
        .config(config)
        .env(Development)
        // The models declare event types: their endpoints' secrets need a key (a development
        // one under .buildamp/ unless BUILDAMP_SECRET_KEY is set).
        .secret_keys(development_keys()?)
        // The other models need provider keys; the quickstart does not send them.
        .allow_missing_env()
        .on_outcome(move |event| async move {
            let secs = started.elapsed().as_secs_f64();
            match event.kind {
                OutcomeKind::WebhookSuccess => println!(
                    "  [{secs:5.1}s] delivered  {:<20} HTTP {}",
                    event.webhook_type,
                    event.response_status.unwrap_or_default()
                ),
                OutcomeKind::WebhookFailed => println!(
                    "  [{secs:5.1}s] dead letter {:<19} {}",
                    event.webhook_type,
                    event.error.unwrap_or_default()
                ),
            }
            Ok(())
        })
        .build()
        .map_err(|e| e.to_string())?;
    runtime.migrate().await.map_err(|e| error_chain(&e))?;
    let running = runtime.start().await.map_err(|e| error_chain(&e))?;
    println!("  executor   running\n\ntriggering 6 webhooks:");

    let ids = trigger_all(&runtime).await.map_err(|e| error_chain(&*e))?;
    wait_until_settled(&runtime, &ids).await?;
    // Let the last outcome events reach the handler before the summary.
    while runtime
        .dispatch_outcomes()
        .await
        .map_err(|e| error_chain(&e))?
        > 0
    {}
    running.shutdown().await.map_err(|e| error_chain(&e))?;
    summary(&runtime, &ids).await
}

async fn trigger_all<S: Store>(
    runtime: &Runtime<S>,
) -> Result<Vec<ExecutionId>, Box<dyn std::error::Error>> {
    let welcome = |name: &str, email: &str| SendGridEmail {
        personalizations: vec![Personalization {
            to: vec![EmailAddress {
                email: email.into(),
                name: Some(name.into()),
            }],
            cc: vec![],
            bcc: vec![],
            subject: None,
            dynamic_template_data: None,
        }],
        from: EmailAddress {
            email: "hello@example.com".into(),
            name: Some("Example".into()),
        },
        reply_to: None,
        subject: Some(format!("Welcome, {name}")),
        content: vec![EmailContent {
            mime_type: "text/plain".into(),
            value: "Glad you are here.".into(),
        }],
        template_id: None,
        categories: vec!["welcome".into()],
    };
    let payment = StripePaymentIntent {
        amount: 2000,
        currency: "usd".into(),
        customer: None,
        description: Some("Order #1001".into()),
        receipt_email: Some("ada@example.com".into()),
        metadata: [("order_id".to_owned(), "1001".to_owned())].into(),
        allowed_payment_method_types: vec![],
        excluded_payment_method_types: vec![],
        automatic_payment_methods: Some(AutomaticPaymentMethods { enabled: true }),
    };
    let order = uuid::Uuid::now_v7();
    let ids = vec![
        welcome("Ada", "ada@example.com")
            .trigger(runtime)
            .correlation_id(order)
            .await?
            .id,
        welcome("Grace", "grace@example.com")
            .trigger(runtime)
            .await?
            .id,
        payment
            .trigger(runtime)
            .correlation_id(order)
            .idempotency_key(format!("order-1001-{order}"))
            .await?
            .id,
        // SendGrid refuses the address (HTTP 400): dead letter at once, retrying cannot help.
        welcome("Nobody", "not-an-address")
            .trigger(runtime)
            .await?
            .id,
        // The custom service's rate limiter turns the first call away (429, Retry-After): it is
        // delivered on the retry, after the model's backoff schedule.
        CustomAPICall {
            operation: "sync_contact".into(),
            data: serde_json::json!({"email": "ada@example.com", "plan": "pro"}),
        }
        .trigger(runtime)
        .await?
        .id,
        // Your own webhooks sit beside the models': this one's service is down.
        AnalyticsEvent {
            name: "signed_up".into(),
            user: "ada".into(),
        }
        .trigger(runtime)
        .await?
        .id,
    ];
    Ok(ids)
}

/// Waits until every execution is delivered or dead, showing progress; gives up after a minute.
async fn wait_until_settled<S: Store>(
    runtime: &Runtime<S>,
    ids: &[ExecutionId],
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for id in ids {
            let e = fetch(runtime, *id).await?;
            match e.status {
                Status::Sent | Status::DeadLetter => {}
                Status::Failed => *waiting.entry("retrying").or_default() += 1,
                Status::Pending | Status::Sending => *waiting.entry("in flight").or_default() += 1,
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let mut parts: Vec<String> = waiting.iter().map(|(k, v)| format!("{v} {k}")).collect();
        parts.sort();
        let line = format!("  ... waiting: {}", parts.join(", "));
        if line != last {
            println!("{line}");
            last = line;
        }
        if Instant::now() > deadline {
            return Err("executions did not settle within a minute".into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn fetch<S: Store>(
    runtime: &Runtime<S>,
    id: ExecutionId,
) -> Result<buildamp::Execution, String> {
    runtime
        .execution(id)
        .await
        .map_err(|e| error_chain(&e))?
        .ok_or_else(|| format!("execution {id} vanished"))
}

async fn summary<S: Store>(runtime: &Runtime<S>, ids: &[ExecutionId]) -> Result<(), String> {
    println!("\nsummary:");
    println!(
        "  {:<20} {:<12} {:>8}  result",
        "webhook", "status", "attempts"
    );
    let (mut sent, mut retried, mut dead) = (0, 0, 0);
    for id in ids {
        let e = fetch(runtime, *id).await?;
        let result = match e.status {
            Status::Sent => {
                sent += 1;
                if e.attempts > 1 {
                    retried += 1;
                }
                format!("HTTP {}", e.response_status.unwrap_or_default())
            }
            _ => {
                dead += 1;
                e.error_message.clone().unwrap_or_default()
            }
        };
        println!(
            "  {:<20} {:<12} {:>8}  {result}",
            e.webhook_type,
            e.status.as_str(),
            e.attempts
        );
    }
    println!("\n  sent: {sent} (of which {retried} after a retry), dead-lettered: {dead}");
    println!(
        "  dead letters keep their reason; fix the cause, then `runtime.retry_dead_letters(..)`."
    );
    Ok(())
}

/// Connects to the Postgres at `url`, creating its database first if the server lacks it.
async fn connect(url: &str) -> Result<PgStore, String> {
    PgStore::connect_or_create(url, 8).await.map_err(|e| {
        format!(
            "cannot use PostgreSQL at {} ({}).\n  Check DATABASE_URL, or unset it to use SQLite under ./.buildamp/.",
            redact(url),
            error_chain(&e)
        )
    })
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match url.parse::<url::Url>() {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// `BUILDAMP_SECRET_KEY`, or the development key under `.buildamp/`.
fn development_keys() -> Result<buildamp::service::secrets::SecretKeys, String> {
    buildamp::service::secrets::SecretKeys::from_env_or_development_file(&buildamp::ProcessEnv)
        .map(|(keys, _)| keys)
        .map_err(|e| e.to_string())
}
