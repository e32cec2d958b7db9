//! The SQLite store: the embedded default for development and single-process apps.
//!
//! SQLite has one writer at a time, so a claim is a single `UPDATE ... RETURNING` (no
//! `SKIP LOCKED` needed) and several executors in one process still never share a row. It serves
//! **one executor process**: `NOTIFY` has no equivalent, and the file lives on one machine. Batches
//! travel as one JSON parameter, unpacked with `json_each`. One file per concern:
//! `executions.rs`, `outcomes.rs`, `inbound.rs`.

mod alerts;
mod circuits;
mod endpoints;
mod executions;
mod inbound;
mod limits;
mod outcomes;
mod replays;
mod stats;
mod transactions;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{Enqueued, NewRow, Store, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store. Cheap to clone: clones share the pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    signal: Arc<Notify>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db`), in WAL mode
    /// with full synchronous commits, so an accepted trigger survives a crash.
    ///
    /// # Errors
    /// The URL is malformed or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Uses an existing pool (foreign keys must be on, as [`SqliteStore::connect`] sets them).
    pub fn from_pool(pool: SqlitePool) -> Self {
        SqliteStore {
            pool,
            signal: Arc::new(Notify::new()),
        }
    }

    /// The pool, for the app's own queries and transactions.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Inserts `rows` inside the caller's transaction on `conn` (the outbox pattern), and wakes
    /// this process's executors (a hint: if the caller rolls back, they find nothing).
    ///
    /// # Errors
    /// The database refused the insert.
    pub async fn insert_in(
        &self,
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let enqueued = executions::insert_rows(conn, now, rows).await?;
        self.signal.notify_one();
        Ok(enqueued)
    }
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    async fn listen(&self) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(None) // one process: inserts signal the executor directly
    }
}

/// A `LIMIT` bound.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A JSON value bound as one text parameter.
fn json_param(value: Vec<serde_json::Value>) -> String {
    serde_json::Value::from(value).to_string()
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("time {us} out of range")))
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("id `{text}`: {e}")))
}

fn opt_uuid(text: Option<String>) -> Result<Option<Uuid>, StoreError> {
    text.as_deref().map(uuid).transpose()
}

fn json_text(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}
