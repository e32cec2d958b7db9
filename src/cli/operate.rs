//! The operator's commands: `status`, `deliveries`, `dead-letters`, `replay`, `resend`, `prune`,
//! `check-env`. Each reads or changes the store DATABASE_URL names, through the runtime (no SQL
//! here), and prints for people or, with `--json`, for scripts.

use std::future::Future;
use std::io::IsTerminal as _;
use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::http::dashboard::operator_view;
use crate::store::{DeadLetterFilter, ReplayRow};
use crate::{Env as _, Execution, ExecutionFilter, ExecutionId, Runtime, Store, error_chain};

/// Why a command did not succeed, and so its exit code.
pub(super) enum Failure {
    /// It failed, or what it names does not exist: exit 1.
    Failed(String),
    /// A check found problems (already printed): exit 3.
    Problems(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Failed(message)
    }
}

impl From<crate::StoreError> for Failure {
    fn from(error: crate::StoreError) -> Self {
        Failure::Failed(error_chain(&error))
    }
}

/// The exit code of a command's result, its reason on stderr.
pub(super) fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Problems(message)) => {
            eprintln!("{message}");
            ExitCode::from(3)
        }
    }
}

/// A command over the store.
pub(super) trait StoreOp {
    /// Runs it with a runtime over the store.
    fn run<S: Store>(self, runtime: Runtime<S>) -> impl Future<Output = Result<(), Failure>>;
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn print_json(value: &Value) {
    println!("{value}");
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

/// `status`.
pub(super) struct StatusReport {
    pub(super) json: bool,
}

impl StoreOp for StatusReport {
    async fn run<S: Store>(self, runtime: Runtime<S>) -> Result<(), Failure> {
        let now = Utc::now();
        let queue = runtime.store().queue_stats().await?;
        let count = |status: crate::Status| -> u64 {
            queue
                .by_status
                .iter()
                .filter(|(s, _, _)| *s == status)
                .map(|(_, _, n)| n)
                .sum()
        };
        let oldest = queue.oldest_due.map(|due| (now - due).num_seconds().max(0));
        let last_hour = runtime
            .analytics()
            .overview(
                now - chrono::Duration::hours(1),
                now + chrono::Duration::minutes(1),
            )
            .await?
            .total;
        let alerts = runtime.alerts().open().await?;
        let unhealthy: Vec<_> = runtime
            .analytics()
            .health()
            .await?
            .into_iter()
            .filter(|h| !h.is_healthy())
            .collect();
        let healthy = alerts.is_empty() && unhealthy.is_empty();
        if self.json {
            print_json(&json!({
                "healthy": healthy,
                "queue": {
                    "pending": count(crate::Status::Pending),
                    "sending": count(crate::Status::Sending),
                    "failed": count(crate::Status::Failed),
                    "dead_letter": count(crate::Status::DeadLetter),
                    "oldest_due_secs": oldest,
                    "outcome_backlog": queue.outcome_backlog,
                    "inbound_backlog": queue.inbound_backlog,
                },
                "last_hour": last_hour,
                "alerts": alerts,
                "unhealthy": unhealthy,
            }));
        } else {
            println!(
                "queue: {} pending, {} sending, {} waiting for a retry, {} dead letters{}",
                count(crate::Status::Pending),
                count(crate::Status::Sending),
                count(crate::Status::Failed),
                count(crate::Status::DeadLetter),
                oldest.map_or(String::new(), |s| format!("; the oldest due {s} s ago"))
            );
            println!(
                "backlogs: {} outcome events, {} providers' events not handed to the handlers",
                queue.outcome_backlog, queue.inbound_backlog
            );
            println!(
                "last hour: {} deliveries, {} delivered, {} retried, p95 {}",
                last_hour.deliveries,
                percent(last_hour.success_rate),
                percent(last_hour.retry_rate),
                last_hour
                    .p95_ms
                    .map_or("–".to_owned(), |p| format!("{p:.0} ms"))
            );
            if alerts.is_empty() {
                println!("alerts: none open");
            }
            for alert in &alerts {
                println!(
                    "alert: {} since {}: {}",
                    alert.rule.as_str(),
                    stamp(alert.fired_at),
                    alert.summary
                );
            }
            if unhealthy.is_empty() {
                println!("destinations: all healthy");
            }
            for h in &unhealthy {
                println!(
                    "unhealthy: {} ({}): {}, circuit {}, {} failures in a row",
                    h.destination,
                    h.name,
                    h.status,
                    h.circuit.as_str(),
                    h.consecutive_failures
                );
            }
        }
        if healthy {
            Ok(())
        } else {
            Err(Failure::Problems(format!(
                "not healthy: {} alerts open, {} destinations unhealthy",
                alerts.len(),
                unhealthy.len()
            )))
        }
    }
}

/// The filters of `deliveries list` and `dead-letters list`.
#[derive(clap::Args, Clone, Debug, Default)]
pub(super) struct ListArgs {
    /// Only deliveries to this endpoint.
    #[arg(long)]
    endpoint: Option<uuid::Uuid>,
    /// Only this webhook or event type.
    #[arg(long = "type")]
    webhook_type: Option<String>,
    /// Only created at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// Only created before this time (RFC 3339).
    #[arg(long)]
    until: Option<DateTime<Utc>>,
    /// At most this many, newest first (at most 500).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print them as JSON lines.
    #[arg(long)]
    json: bool,
}

impl ListArgs {
    fn filter(&self, status: Option<crate::Status>) -> ExecutionFilter {
        let mut filter = ExecutionFilter::newest(self.limit.clamp(1, 500));
        filter.webhook_type = self.webhook_type.clone();
        filter.status = status;
        filter.endpoint_id = self.endpoint;
        filter.created_after = self.since;
        filter.created_before = self.until;
        filter
    }
}

/// `deliveries …`.
#[derive(Subcommand)]
pub(super) enum DeliveriesCommand {
    /// Executions, newest first.
    List {
        #[command(flatten)]
        filters: ListArgs,
        /// Only in this state: pending, sending, sent, failed (waiting for a retry), dead_letter.
        #[arg(long)]
        status: Option<crate::Status>,
    },
    /// One execution with every attempt.
    Show {
        /// Its id.
        id: uuid::Uuid,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `dead-letters …`.
#[derive(Subcommand)]
pub(super) enum DeadLettersCommand {
    /// Dead letters, newest first.
    List {
        #[command(flatten)]
        filters: ListArgs,
    },
    /// Retry every dead letter the filter matches, each once, as a replay job (an interrupted one
    /// is finished by `buildamp replay --resume ID`, or by any running app's replayer).
    Retry(RetryArgs),
}

/// The filter of `dead-letters retry`: at least one, or `--all`.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(true))]
pub(super) struct RetryArgs {
    /// Only deliveries to this endpoint.
    #[arg(long, group = "which")]
    endpoint: Option<uuid::Uuid>,
    /// Only this webhook or event type.
    #[arg(long = "type", group = "which")]
    webhook_type: Option<String>,
    /// Only created at or after this time (RFC 3339).
    #[arg(long, group = "which")]
    since: Option<DateTime<Utc>>,
    /// Only created before this time (RFC 3339).
    #[arg(long, group = "which")]
    until: Option<DateTime<Utc>>,
    /// Only dead letters whose reason contains this text.
    #[arg(long, group = "which")]
    error_contains: Option<String>,
    /// Every dead letter.
    #[arg(long, group = "which")]
    all: bool,
    /// Print the finished job as JSON.
    #[arg(long)]
    json: bool,
}

/// An execution's line: id, created, webhook, endpoint, status, attempts, last error.
fn line(e: &Execution) -> String {
    format!(
        "{}  {}  {:<24} {:<36} {:<11} {}/{}  {}",
        e.id,
        stamp(e.created_at),
        e.webhook_type,
        e.endpoint_id
            .map_or("#[target]".to_owned(), |id| id.to_string()),
        e.status.as_str(),
        e.attempts,
        e.max_attempts,
        e.error_message.as_deref().unwrap_or("")
    )
}

async fn list<S: Store>(
    runtime: &Runtime<S>,
    filters: &ListArgs,
    status: Option<crate::Status>,
) -> Result<(), Failure> {
    let found = runtime.store().executions(&filters.filter(status)).await?;
    for e in &found {
        if filters.json {
            print_json(&operator_view(e));
        } else {
            println!("{}", line(e));
        }
    }
    if !filters.json {
        eprintln!("{} found", found.len());
    }
    Ok(())
}

impl StoreOp for DeliveriesCommand {
    async fn run<S: Store>(self, runtime: Runtime<S>) -> Result<(), Failure> {
        match self {
            DeliveriesCommand::List { filters, status } => list(&runtime, &filters, status).await,
            DeliveriesCommand::Show { id, json } => {
                let id = ExecutionId(id);
                let Some(e) = runtime.store().execution(id).await? else {
                    return Err(Failure::Failed(format!("no execution has id {id}")));
                };
                let attempts = runtime.store().attempts(id).await?;
                let mut shown = operator_view(&e);
                if json {
                    shown["attempts_log"] = json!(attempts);
                    print_json(&shown);
                    return Ok(());
                }
                println!("{}", line(&e));
                println!("payload: {}", shown["preview"].as_str().unwrap_or_default());
                for a in &attempts {
                    println!(
                        "attempt {} at {}: {} in {} ms{}",
                        a.attempt,
                        stamp(a.started_at),
                        a.response_status
                            .map_or("no answer".to_owned(), |s| format!("HTTP {s}")),
                        a.duration_ms,
                        a.error_message
                            .as_deref()
                            .map_or(String::new(), |m| format!(": {m}"))
                    );
                }
                Ok(())
            }
        }
    }
}

impl StoreOp for DeadLettersCommand {
    async fn run<S: Store>(self, runtime: Runtime<S>) -> Result<(), Failure> {
        match self {
            DeadLettersCommand::List { filters } => {
                list(&runtime, &filters, Some(crate::Status::DeadLetter)).await
            }
            DeadLettersCommand::Retry(args) => {
                let mut filter = match args.endpoint {
                    Some(endpoint) => DeadLetterFilter::all().endpoint(endpoint),
                    None => DeadLetterFilter::all(),
                };
                filter.webhook_type = args.webhook_type;
                filter.created_after = args.since;
                filter.created_before = args.until;
                filter.error_contains = args.error_contains;
                let job = runtime.replayer().create(filter).await.map_err(|e| {
                    Failure::Failed(format!("cannot start the retry: {}", error_chain(&e)))
                })?;
                eprintln!("replay {}: {} dead letters match", job.id, job.total);
                finish(&runtime, job.id, args.json).await
            }
        }
    }
}

/// Progress of a job, on stderr: a bar on a terminal, a line per step otherwise.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(json: bool) -> Self {
        if json || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} retried ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress(Some(bar))
    }

    fn step(&self, job: &ReplayRow) {
        match &self.0 {
            Some(bar) => {
                bar.set_message(format!("replay {}", job.id));
                bar.set_length(job.total.max(job.replayed));
                bar.set_position(job.replayed);
            }
            None => eprintln!("replay {}: {}/{} retried", job.id, job.replayed, job.total),
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }
}

/// Runs replay job `id` to its end with progress, and prints it.
async fn finish<S: Store>(runtime: &Runtime<S>, id: uuid::Uuid, json: bool) -> Result<(), Failure> {
    let progress = Progress::new(json);
    let finished = runtime
        .replayer()
        .run(id, |job| progress.step(job))
        .await
        .map_err(|e| {
            Failure::Failed(format!(
                "the replay failed ({}); what it retried stays retried: finish it with `buildamp replay --resume {id}`",
                error_chain(&e)
            ))
        })?;
    progress.done();
    let Some(job) = finished else {
        return Err(Failure::Failed(format!("no replay has id {id}")));
    };
    if json {
        print_json(&serde_json::to_value(&job).map_err(|e| e.to_string())?);
    } else {
        println!(
            "replay {}: retried {} dead letters; the executor delivers them",
            job.id, job.replayed
        );
    }
    Ok(())
}

/// `replay`.
#[derive(clap::Args)]
pub(super) struct ReplayArgs {
    /// The endpoint whose dead letters are retried.
    #[arg(long, required_unless_present = "resume")]
    endpoint: Option<uuid::Uuid>,
    /// Only deliveries created at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// Only deliveries created before this time (RFC 3339).
    #[arg(long)]
    until: Option<DateTime<Utc>>,
    /// Only deliveries of this event type.
    #[arg(long)]
    event_type: Option<String>,
    /// Only the delivery of this event.
    #[arg(long)]
    event_id: Option<String>,
    /// Only dead letters whose reason contains this text.
    #[arg(long)]
    error_contains: Option<String>,
    /// Finish the replay job with this id instead of starting one.
    #[arg(long, conflicts_with = "endpoint")]
    resume: Option<uuid::Uuid>,
    /// Print the finished job as JSON.
    #[arg(long)]
    json: bool,
}

impl StoreOp for ReplayArgs {
    async fn run<S: Store>(self, runtime: Runtime<S>) -> Result<(), Failure> {
        let id = match (self.resume, self.endpoint) {
            (Some(id), _) => id,
            (None, Some(endpoint)) => {
                let mut filter = DeadLetterFilter::all().endpoint(endpoint);
                filter.created_after = self.since;
                filter.created_before = self.until;
                filter.webhook_type = self.event_type;
                filter.event_id = self.event_id;
                filter.error_contains = self.error_contains;
                let job = runtime.replayer().create(filter).await.map_err(|e| {
                    Failure::Failed(format!("cannot start the replay: {}", error_chain(&e)))
                })?;
                eprintln!("replay {}: {} dead letters match", job.id, job.total);
                job.id
            }
            (None, None) => return Err("name --endpoint, or --resume a replay".to_owned().into()),
        };
        finish(&runtime, id, self.json).await
    }
}

/// `resend`.
pub(super) struct Resend {
    pub(super) delivery: uuid::Uuid,
    pub(super) json: bool,
}

impl StoreOp for Resend {
    async fn run<S: Store>(self, runtime: Runtime<S>) -> Result<(), Failure> {
        use crate::endpoints::Resend as Done;
        let delivery = self.delivery;
        let result = runtime
            .endpoints()
            .resend(ExecutionId(delivery))
            .await
            .map_err(|e| format!("the resend failed: {}", error_chain(&e)))?;
        if self.json {
            print_json(&serde_json::to_value(&result).map_err(|e| e.to_string())?);
        }
        match result {
            Done::Queued => {
                if !self.json {
                    println!("delivery {delivery}: queued again; the executor sends it");
                }
                Ok(())
            }
            Done::Unsettled { status } => Err(format!(
                "delivery {delivery} is still {status}: it will be sent without a resend"
            )
            .into()),
            Done::EndpointDisabled { reason } => Err(format!(
                "the endpoint of delivery {delivery} is disabled{}: enable it, then resend",
                reason.map(|r| format!(" ({r})")).unwrap_or_default()
            )
            .into()),
            _ => Err(format!("no endpoint delivery has id {delivery}").into()),
        }
    }
}

/// `prune`.
pub(super) struct Prune {
    pub(super) json: bool,
}

impl StoreOp for Prune {
    async fn run<S: Store>(self, runtime: Runtime<S>) -> Result<(), Failure> {
        let pruned = runtime.pruner().prune().await?;
        let counts = json!({
            "executions": pruned.executions,
            "inbound_events": pruned.inbound_events,
            "outcome_events": pruned.outcome_events,
            "events": pruned.events,
            "protection": pruned.protection,
            "transactions": pruned.transactions,
            "stats": pruned.stats,
            "alerts": pruned.alerts,
        });
        if self.json {
            print_json(&counts);
        } else {
            println!(
                "deleted {} delivered executions, {} handled inbound events, {} untaken outcome events, {} published events, {} protection rows, {} transactions, {} rollup rows, {} resolved alerts",
                pruned.executions,
                pruned.inbound_events,
                pruned.outcome_events,
                pruned.events,
                pruned.protection,
                pruned.transactions,
                pruned.stats,
                pruned.alerts
            );
        }
        Ok(())
    }
}

/// `check-env`: every setting the runtime reads, and every variable the registered webhooks
/// read, checked against this process's environment.
pub(super) fn check_env(json: bool) -> Result<(), Failure> {
    let env = crate::ProcessEnv;
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    match crate::DatabaseUrl::from_env_or_development_default() {
        Ok((url, true)) => notes.push(format!(
            "DATABASE_URL is not set: SQLite at {}",
            url.as_str()
        )),
        Ok((url, false)) => notes.push(format!(
            "DATABASE_URL: {}",
            match url {
                crate::DatabaseUrl::Postgres(_) => "Postgres",
                crate::DatabaseUrl::Sqlite(_) => "SQLite",
            }
        )),
        Err(e) => problems.push(e.to_string()),
    }
    if let Err(e) = crate::Config::from_env() {
        problems.extend(e.problems);
    }
    let events = crate::service::event::event_types();
    match crate::service::secrets::SecretKeys::from_env(&env) {
        Ok(_) => notes.push("BUILDAMP_SECRET_KEY: set".to_owned()),
        Err(crate::service::secrets::SecretError::MissingKey) if events.is_empty() => notes.push(
            "BUILDAMP_SECRET_KEY is not set (needed once the program declares event types)"
                .to_owned(),
        ),
        Err(e) => problems.push(e.to_string()),
    }
    if let Err(e) = crate::delivery::guard::AddressPolicy::from_env(&env) {
        problems.push(e);
    }
    let webhooks = crate::registry::webhooks();
    let mut variables: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for webhook in &webhooks {
        for var in webhook.target().env_vars(&env) {
            variables.entry(var).or_default().push(webhook.name());
        }
    }
    let mut listed = Vec::new();
    for (var, users) in &variables {
        let set = env.var(var).is_some();
        if !set {
            problems.push(format!(
                "environment variable `{var}` is not set (needed by {})",
                users.join(", ")
            ));
        }
        listed.push(json!({"name": var, "set": set, "webhooks": users}));
    }
    if let Err(e) = crate::registry::check(&env) {
        for (name, types) in e.duplicates {
            problems.push(format!(
                "webhook name `{name}` is declared by {}: rename one of the structs",
                types.join(" and ")
            ));
        }
    }
    if json {
        print_json(&json!({
            "ok": problems.is_empty(),
            "problems": problems,
            "notes": notes,
            "webhooks": webhooks.len(),
            "event_types": events.len(),
            "variables": listed,
        }));
    } else {
        for note in &notes {
            println!("ok: {note}");
        }
        println!(
            "{} webhooks and {} event types registered in this program{}",
            webhooks.len(),
            events.len(),
            if webhooks.is_empty() {
                " (run `buildamp::cli::main()` from your app's own binary to check its webhooks' variables)"
            } else {
                ""
            }
        );
        for v in &listed {
            if v["set"] == true {
                println!("ok: {} is set", v["name"].as_str().unwrap_or_default());
            }
        }
        for problem in &problems {
            println!("problem: {problem}");
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Problems(format!(
            "{} problems: fix them before starting the app",
            problems.len()
        )))
    }
}
