//! The Postgres store: one statement per operation, batched with `UNNEST`, claims with
//! `FOR UPDATE SKIP LOCKED`, and a `LISTEN` task that turns `NOTIFY` into a wake-up. One file per
//! concern: `executions.rs`, `outcomes.rs`, `inbound.rs`.

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

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::Notify;

use super::{Enqueued, NewRow, Store, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel executors listen on.
const CHANNEL: &str = "buildamp_executions";

/// The Postgres store. Cheap to clone: clones share the pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Claims, completions, rescues and releases: committed without waiting for the WAL flush.
    /// Safe because the promise to deliver (the enqueue) is committed synchronously on `pool`: if
    /// the server crashes, a lost transition only puts a row back to be delivered again (at least
    /// once), never loses it.
    transitions: PgPool,
    /// Wakes this process's executors at once.
    signal: Arc<Notify>,
    /// Asks the coalescing task to `NOTIFY` other processes.
    nudge: Arc<Notify>,
    nudger: Arc<std::sync::OnceLock<()>>,
}

/// How long the notifying task gathers inserts into one `NOTIFY`.
const NOTIFY_WINDOW: Duration = Duration::from_millis(10);

impl PgStore {
    /// Connects a pool of `max_connections` to `url`.
    ///
    /// # Errors
    /// The URL is malformed or the server cannot be reached.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// Connects to `url`, first creating its database if the server lacks it (for development
    /// tools: the quickstart, the benchmark).
    ///
    /// # Errors
    /// The server cannot be reached, or the database cannot be created.
    pub async fn connect_or_create(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        let database = options.get_database().unwrap_or("postgres").to_owned();
        let mut admin = options.clone().database("postgres").connect().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&database)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            let quoted = database.replace('"', "\"\"");
            sqlx::query(&format!("CREATE DATABASE \"{quoted}\""))
                .execute(&mut admin)
                .await?;
        }
        admin.close().await?;
        Self::connect(url, max_connections).await
    }

    /// Uses an existing pool (the app's own, or a test's).
    pub fn from_pool(pool: PgPool) -> Self {
        let options = pool
            .connect_options()
            .as_ref()
            .clone()
            .options([("synchronous_commit", "off")]);
        let transitions = PgPoolOptions::new()
            .max_connections(pool.options().get_max_connections())
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        PgStore {
            pool,
            transitions,
            signal: Arc::new(Notify::new()),
            nudge: Arc::new(Notify::new()),
            nudger: Arc::default(),
        }
    }

    /// Tells executors that work arrived: this process's at once, other processes' through one
    /// `NOTIFY` per window, sent after the window's inserts committed (so it is never early).
    fn announce(&self) {
        self.signal.notify_one();
        self.nudger.get_or_init(|| {
            let (pool, nudge) = (self.pool.clone(), self.nudge.clone());
            tokio::spawn(async move {
                loop {
                    nudge.notified().await;
                    tokio::time::sleep(NOTIFY_WINDOW).await;
                    if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
                        .bind(CHANNEL)
                        .execute(&pool)
                        .await
                    {
                        tracing::debug!(%error, "could not notify other executors; they will poll");
                    }
                }
            });
        });
        self.nudge.notify_one();
    }

    /// The pool, for the app's own queries and transactions.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Inserts `rows` inside the caller's transaction on `conn` (the outbox pattern), and asks
    /// for a `NOTIFY` that Postgres delivers if (and when) that transaction commits.
    ///
    /// # Errors
    /// The database refused the insert.
    pub async fn insert_in(
        conn: &mut PgConnection,
        now: chrono::DateTime<chrono::Utc>,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let enqueued = executions::insert_rows(&mut *conn, now, rows).await?;
        // Folded with any other notification of this transaction.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
        Ok(enqueued)
    }
}

impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    /// Forwards `NOTIFY` on the queue's channel to the work signal. The listener reconnects by
    /// itself; while it is down, executors still poll.
    async fn listen(&self) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        let signal = self.signal.clone();
        Ok(Some(tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => signal.notify_one(),
                    Err(error) => {
                        tracing::warn!(%error, "queue listener lost its connection; polling until it is back");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })))
    }
}

/// A `LIMIT` bound.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
