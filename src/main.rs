//! The `buildamp` command.
//!
//! ```text
//! buildamp migrate               # create or update the queue's tables at DATABASE_URL
//!                                # (postgres://… or sqlite://…; unset: .buildamp/buildamp.db)
//! buildamp simulate --port 4040  # serve /test-webhook/{sendgrid,mailgun,stripe,paypal,slow,rate-limited,error,reject}
//! buildamp verify --scheme stripe --secret whsec_… --header 'Stripe-Signature: t=…' --body-file event.json
//! buildamp gen --models models --out frontend/src   # writes frontend/src/BuildAmp/Webhooks.elm
//! buildamp events schema --models models --out docs/events   # a JSON Schema per event type
//! buildamp secret-key            # a fresh key for BUILDAMP_SECRET_KEY
//! buildamp replay --endpoint ID --since 2026-12-01T00:00:00Z [--until …] [--event-type …] [--json]
//!                                # retry an endpoint's dead letters, each once, resumably
//! buildamp resend DELIVERY_ID [--json]   # send a delivered (or dead-lettered) delivery again
//! ```

use std::process::ExitCode;

use buildamp::{DatabaseUrl, PgStore, SqliteStore, Store, error_chain};
use clap::{Parser, Subcommand};

mod verify;

#[derive(Parser)]
#[command(
    name = "buildamp",
    version,
    about = "Typed webhooks, delivered reliably"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update the queue's tables at DATABASE_URL (unset: SQLite in .buildamp/).
    Migrate,
    /// Serve local stand-ins for providers at /test-webhook/{service}.
    Simulate {
        /// The port to listen on (the models' development URLs use 4040).
        #[arg(long, default_value_t = 4040)]
        port: u16,
    },
    /// Check a received webhook's signature: prints `valid` (exit 0) or why not (exit 1).
    Verify(verify::Args),
    /// Generate the Elm module `BuildAmp.Webhooks` from the model files.
    Gen {
        /// The models folder (every `*.rs` under it, except tests/, examples/, benches/).
        #[arg(long, default_value = "models")]
        models: std::path::PathBuf,
        /// The Elm source folder: the module goes to `<out>/BuildAmp/Webhooks.elm`.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The event types of the webhooks service.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Retry every dead letter of an endpoint that matches, each exactly once, as a replay job:
    /// an interrupted one is finished by `--resume ID` or by any running app's replayer.
    Replay(ReplayArgs),
    /// Send one delivery of an event to its endpoint again (delivered, or dead-lettered): the
    /// executor of any running app sends it, as the same delivery with the same event id.
    Resend {
        /// The delivery's id (`GET /buildamp/deliveries?endpoint=…` lists them).
        delivery: uuid::Uuid,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a fresh key for BUILDAMP_SECRET_KEY (endpoints' secrets are sealed with it).
    SecretKey {
        /// The key's id, stored with every value it seals (rotate by putting a new id first).
        #[arg(long, default_value = "k1")]
        id: String,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The endpoint whose dead letters are retried.
    #[arg(long, required_unless_present = "resume")]
    endpoint: Option<uuid::Uuid>,
    /// Only deliveries created at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only deliveries created before this time (RFC 3339).
    #[arg(long)]
    until: Option<chrono::DateTime<chrono::Utc>>,
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

#[derive(Subcommand)]
enum EventsCommand {
    /// Write `<out>/<event>.json` (JSON Schema of what an endpoint receives) per event type, and
    /// `<out>/index.json`.
    Schema {
        /// The models folder.
        #[arg(long, default_value = "models")]
        models: std::path::PathBuf,
        /// Where the schemas go.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Migrate => migrate().await,
        Command::Replay(args) => replay(args).await,
        Command::Resend { delivery, json } => resend(delivery, json).await,
        Command::Simulate { port } => simulate(port).await,
        Command::Gen { models, out } => buildamp_codegen::elm::write(&models, &out)
            .map(|path| println!("wrote {}", path.display()))
            .map_err(|e| e.to_string()),
        Command::Events {
            command: EventsCommand::Schema { models, out },
        } => buildamp_codegen::events::write(&models, &out)
            .map(|paths| {
                for path in paths {
                    println!("wrote {}", path.display());
                }
            })
            .map_err(|e| e.to_string()),
        Command::SecretKey { id } => buildamp::service::secrets::SecretKeys::generate(&id)
            .map(|key| println!("{key}"))
            .map_err(|e| format!("no random source: {e}")),
        Command::Verify(args) => {
            return match verify::run(args) {
                Ok(()) => {
                    println!("valid");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    println!("invalid: {reason}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn replay(args: ReplayArgs) -> Result<(), String> {
    let (url, _) = DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    let failed = |e: buildamp::StoreError| format!("{}: {}", url.as_str(), error_chain(&e));
    match &url {
        DatabaseUrl::Postgres(u) => {
            replay_on(PgStore::connect(u, 4).await.map_err(failed)?, args).await
        }
        DatabaseUrl::Sqlite(u) => {
            replay_on(SqliteStore::connect(u).await.map_err(failed)?, args).await
        }
    }
}

async fn replay_on<S: Store>(store: S, args: ReplayArgs) -> Result<(), String> {
    let runtime = buildamp::Runtime::builder(store)
        .allow_missing_env()
        .build()
        .map_err(|e| e.to_string())?;
    let replayer = runtime.replayer();
    let failed = |e: buildamp::StoreError| {
        format!(
            "the replay failed ({}); what it retried stays retried: finish it with --resume",
            error_chain(&e)
        )
    };
    let id = match (args.resume, args.endpoint) {
        (Some(id), _) => id,
        (None, Some(endpoint)) => {
            let mut filter = buildamp::store::DeadLetterFilter::all().endpoint(endpoint);
            filter.created_after = args.since;
            filter.created_before = args.until;
            filter.webhook_type = args.event_type;
            filter.event_id = args.event_id;
            filter.error_contains = args.error_contains;
            let job = replayer.create(filter).await.map_err(failed)?;
            eprintln!("replay {}: {} dead letters match", job.id, job.total);
            job.id
        }
        (None, None) => return Err("name --endpoint, or --resume a replay".into()),
    };
    let Some(job) = replayer
        .run(id, |job| {
            eprintln!("replay {}: {}/{} retried", job.id, job.replayed, job.total);
        })
        .await
        .map_err(failed)?
    else {
        return Err(format!("no replay has id {id}"));
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&job).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "replay {}: retried {} dead letters; the executor delivers them",
            job.id, job.replayed
        );
    }
    Ok(())
}

async fn resend(delivery: uuid::Uuid, json: bool) -> Result<(), String> {
    let (url, _) = DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    let failed = |e: buildamp::StoreError| format!("{}: {}", url.as_str(), error_chain(&e));
    match &url {
        DatabaseUrl::Postgres(u) => {
            resend_on(
                PgStore::connect(u, 2).await.map_err(failed)?,
                delivery,
                json,
            )
            .await
        }
        DatabaseUrl::Sqlite(u) => {
            resend_on(
                SqliteStore::connect(u).await.map_err(failed)?,
                delivery,
                json,
            )
            .await
        }
    }
}

async fn resend_on<S: Store>(store: S, delivery: uuid::Uuid, json: bool) -> Result<(), String> {
    use buildamp::endpoints::Resend;
    let runtime = buildamp::Runtime::builder(store)
        .allow_missing_env()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime
        .endpoints()
        .resend(buildamp::ExecutionId(delivery))
        .await
        .map_err(|e| format!("the resend failed: {}", error_chain(&e)))?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&result).map_err(|e| e.to_string())?
        );
    }
    match result {
        Resend::Queued => {
            if !json {
                println!("delivery {delivery}: queued again; the executor sends it");
            }
            Ok(())
        }
        Resend::Unsettled { status } => Err(format!(
            "delivery {delivery} is still {status}: it will be sent without a resend"
        )),
        Resend::EndpointDisabled { reason } => Err(format!(
            "the endpoint of delivery {delivery} is disabled{}: enable it, then resend",
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        )),
        _ => Err(format!("no endpoint delivery has id {delivery}")),
    }
}

async fn migrate() -> Result<(), String> {
    let (url, defaulted) =
        DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    if defaulted {
        println!("DATABASE_URL is not set: using SQLite at .buildamp/buildamp.db");
    }
    let failed =
        |e: buildamp::StoreError| format!("cannot migrate {}: {}", url.as_str(), error_chain(&e));
    match &url {
        DatabaseUrl::Postgres(u) => PgStore::connect(u, 2)
            .await
            .map_err(failed)?
            .migrate()
            .await
            .map_err(failed)?,
        DatabaseUrl::Sqlite(u) => SqliteStore::connect(u)
            .await
            .map_err(failed)?
            .migrate()
            .await
            .map_err(failed)?,
    }
    println!("the BuildAmp tables are up to date");
    Ok(())
}

async fn simulate(port: u16) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port} ({e}): is another simulator running? Pick another --port"))?;
    println!(
        "simulating providers on http://127.0.0.1:{port}/test-webhook/{{sendgrid,mailgun,stripe,paypal,slow,rate-limited,error,reject}}; Ctrl-C stops"
    );
    buildamp::simulator::serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
