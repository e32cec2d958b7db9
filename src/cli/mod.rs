//! The `buildamp` command, as a library: the `buildamp` binary is `buildamp::cli::main()`, and
//! so can an app's own binary be (`src/bin/buildamp.rs`), which then knows the app's webhooks and
//! event types (what `check-env` checks).
//!
//! ```text
//! buildamp migrate               # create or update the queue's tables at DATABASE_URL
//!                                # (postgres://… or sqlite://…; unset: .buildamp/buildamp.db)
//! buildamp status [--json]       # the queue, the last hour, open alerts, unhealthy destinations
//! buildamp deliveries list [--endpoint ID] [--type T] [--status S] [--since …] [--until …] [--limit N] [--json]
//! buildamp deliveries show ID [--json]          # one execution with every attempt
//! buildamp dead-letters list [filters] [--json]
//! buildamp dead-letters retry (--endpoint ID | --type T | --since … | --error-contains … | --all) [--json]
//! buildamp replay --endpoint ID --since 2026-12-01T00:00:00Z [--until …] [--event-type …] [--json]
//!                                # retry an endpoint's dead letters, each once, resumably
//! buildamp resend DELIVERY_ID [--json]   # send a delivered (or dead-lettered) delivery again
//! buildamp prune [--json]        # delete what the retention period has passed, now
//! buildamp check-env [--json]    # every setting and every webhook's variable, checked
//! buildamp simulate --port 4040  # serve /test-webhook/{sendgrid,mailgun,stripe,paypal,slow,rate-limited,error,reject}
//! buildamp verify --scheme stripe --secret whsec_… --header 'Stripe-Signature: t=…' --body-file event.json
//! buildamp gen --models models --out frontend/src   # writes frontend/src/BuildAmp/Webhooks.elm
//! buildamp events schema --models models --out docs/events   # a JSON Schema per event type
//! buildamp secret-key            # a fresh key for BUILDAMP_SECRET_KEY
//! ```
//!
//! Exit codes: `0` done; `1` it failed, or what was named does not exist (the reason is on
//! stderr); `2` the command line is wrong; `3` a check found problems (`check-env`: a setting or
//! variable is wrong or missing; `status`: an alert is open or a destination is unhealthy).
//! Progress bars (on a terminal) and messages go to stderr; results, and `--json`, to stdout.

mod operate;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{DatabaseUrl, PgStore, Runtime, SqliteStore, Store, StoreError, error_chain};

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
    Replay(operate::ReplayArgs),
    /// Send one delivery of an event to its endpoint again (delivered, or dead-lettered): the
    /// executor of any running app sends it, as the same delivery with the same event id.
    Resend {
        /// The delivery's id (`GET /buildamp/deliveries?endpoint=…` lists them).
        delivery: uuid::Uuid,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The queue, the last hour's deliveries, open alerts and unhealthy destinations (exit 3 when
    /// an alert is open or a destination is unhealthy).
    Status {
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliveries: every execution, of `#[target]` webhooks and to customers' endpoints.
    Deliveries {
        #[command(subcommand)]
        command: operate::DeliveriesCommand,
    },
    /// Dead letters: list them, or retry the ones a filter matches (each once, resumably).
    DeadLetters {
        #[command(subcommand)]
        command: operate::DeadLettersCommand,
    },
    /// Delete what the retention period (BUILDAMP_RETENTION_SECS) has passed, now.
    Prune {
        /// Print what was deleted as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the settings and every registered webhook's variables (exit 3 on a problem).
    CheckEnv {
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

/// Runs the command line of this process, and returns its exit code.
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(std::env::args_os()))
}

/// Runs the command line `args` (the program's name first).
pub async fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // An app that installed its own subscriber keeps it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let result = match cli.command {
        Command::Status { json } => {
            return operate::exit(on_store(operate::StatusReport { json }).await);
        }
        Command::Deliveries { command } => return operate::exit(on_store(command).await),
        Command::DeadLetters { command } => return operate::exit(on_store(command).await),
        Command::Prune { json } => return operate::exit(on_store(operate::Prune { json }).await),
        Command::CheckEnv { json } => return operate::exit(operate::check_env(json)),
        Command::Migrate => migrate().await,
        Command::Replay(args) => return operate::exit(on_store(args).await),
        Command::Resend { delivery, json } => {
            return operate::exit(on_store(operate::Resend { delivery, json }).await);
        }
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
        Command::SecretKey { id } => crate::service::secrets::SecretKeys::generate(&id)
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

/// Runs `op` with a runtime over the store DATABASE_URL names (unset: the development SQLite
/// file), configured from the environment.
async fn on_store<O: operate::StoreOp>(op: O) -> Result<(), operate::Failure> {
    let (url, _) = DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    let failed = |e: StoreError| format!("{}: {}", url.as_str(), error_chain(&e));
    let config = crate::Config::from_env().map_err(|e| e.to_string())?;
    match &url {
        DatabaseUrl::Postgres(u) => {
            let store = PgStore::connect(u, 4).await.map_err(failed)?;
            op.run(runtime(store, config)?).await
        }
        DatabaseUrl::Sqlite(u) => {
            let store = SqliteStore::connect(u).await.map_err(failed)?;
            op.run(runtime(store, config)?).await
        }
    }
}

/// A runtime for one command: the webhooks' variables are not needed to read or retry rows.
fn runtime<S: Store>(store: S, config: crate::Config) -> Result<Runtime<S>, String> {
    Runtime::builder(store)
        .config(config)
        .allow_missing_env()
        .build()
        .map_err(|e| e.to_string())
}

async fn migrate() -> Result<(), String> {
    let (url, defaulted) =
        DatabaseUrl::from_env_or_development_default().map_err(|e| e.to_string())?;
    if defaulted {
        println!("DATABASE_URL is not set: using SQLite at .buildamp/buildamp.db");
    }
    let failed =
        |e: crate::StoreError| format!("cannot migrate {}: {}", url.as_str(), error_chain(&e));
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
    crate::simulator::serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
