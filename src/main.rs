//! The `buildamp` command.
//!
//! ```text
//! buildamp migrate               # create or update the queue's tables at DATABASE_URL
//!                                # (postgres://… or sqlite://…; unset: .buildamp/buildamp.db)
//! buildamp simulate --port 4040  # serve /test-webhook/{sendgrid,stripe,slow,rate-limited,error,reject}
//! buildamp verify --scheme stripe --secret whsec_… --header 'Stripe-Signature: t=…' --body-file event.json
//! buildamp gen --models models --out frontend/src   # writes frontend/src/BuildAmp/Webhooks.elm
//! buildamp events schema --models models --out docs/events   # a JSON Schema per event type
//! buildamp secret-key            # a fresh key for BUILDAMP_SECRET_KEY
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

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Migrate => migrate().await,
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
        "simulating providers on http://127.0.0.1:{port}/test-webhook/{{sendgrid,stripe,slow,rate-limited,error,reject}}; Ctrl-C stops"
    );
    buildamp::simulator::serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
