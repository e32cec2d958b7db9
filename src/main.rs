//! The `buildamp` command.
//!
//! ```text
//! buildamp migrate               # create or update the queue's tables at DATABASE_URL
//! buildamp simulate --port 4040  # serve /test-webhook/{sendgrid,stripe,slow,rate-limited,error,reject}
//! ```

use std::process::ExitCode;

use buildamp::{Config, PgStore, Store, error_chain};
use clap::{Parser, Subcommand};

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
    /// Create or update the queue's tables at DATABASE_URL.
    Migrate,
    /// Serve local stand-ins for providers at /test-webhook/{service}.
    Simulate {
        /// The port to listen on (the models' development URLs use 4040).
        #[arg(long, default_value_t = 4040)]
        port: u16,
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
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let url = config.database_url.unwrap_or_default();
    let store = PgStore::connect(&url, 2)
        .await
        .map_err(|e| format!("cannot connect to DATABASE_URL: {}", error_chain(&e)))?;
    store.migrate().await.map_err(|e| error_chain(&e))?;
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
