//! The Postgres store: one statement per operation, batched with `UNNEST`, claims with
//! `FOR UPDATE SKIP LOCKED`, and a `LISTEN` task that turns `NOTIFY` into a wake-up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Row};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{
    Attempt, AttemptBudgets, Claimed, Completion, DeadLetterFilter, Execution, ExecutionFilter,
    InboundRecord, NewRow, OutcomeRow, Release, Resolution, Status, Store, StoreError,
};
use crate::clock::Clock;
use crate::env::Env;
use crate::trigger::{Enqueue, Enqueued, ExecutionId, NewExecution};

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
}

/// Inserts `rows` on `conn`; shared by the pool path and the caller's-transaction path.
async fn insert_rows(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    rows: Vec<NewRow>,
) -> Result<Vec<Enqueued>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let n = rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut urls = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut headers = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    let mut max_attempts = Vec::with_capacity(n);
    let mut due = Vec::with_capacity(n);
    let mut correlations = Vec::with_capacity(n);
    let mut applications = Vec::with_capacity(n);
    let mut hosts = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    for row in &rows {
        ids.push(row.id.0);
        types.push(row.webhook_type);
        urls.push(row.target_url.as_str());
        payloads.push(&row.payload);
        headers.push(&row.headers);
        statuses.push(row.status.as_str());
        errors.push(row.error_message.as_deref());
        max_attempts.push(row.max_attempts);
        due.push(row.due_at);
        correlations.push(row.correlation_id);
        applications.push(row.application.as_str());
        hosts.push(row.host.as_str());
        keys.push(row.idempotency_key.as_deref());
    }
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO webhook_executions (id, webhook_type, target_url, payload, headers, status,
             error_message, max_attempts, next_retry_at, created_at, updated_at, correlation_id,
             application, host, idempotency_key)
         SELECT t.id, t.webhook_type, t.target_url, t.payload, t.headers, t.status, t.error_message,
             t.max_attempts, t.due_at, $14, $14, t.correlation_id, t.application, t.host, t.key
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[],
             $7::text[], $8::int4[], $9::timestamptz[], $10::uuid[], $11::text[], $12::text[],
             $13::text[])
             AS t(id, webhook_type, target_url, payload, headers, status, error_message,
                  max_attempts, due_at, correlation_id, application, host, key)
         ON CONFLICT (application, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&urls)
    .bind(&payloads)
    .bind(&headers)
    .bind(&statuses)
    .bind(&errors)
    .bind(&max_attempts)
    .bind(&due)
    .bind(&correlations)
    .bind(&applications)
    .bind(&hosts)
    .bind(&keys)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;

    if inserted.len() == n {
        return Ok(ids
            .into_iter()
            .map(|id| Enqueued {
                id: ExecutionId(id),
                deduplicated: false,
            })
            .collect());
    }
    // Some keys existed: answer those with the execution that holds the key.
    let inserted: std::collections::HashSet<Uuid> = inserted.into_iter().collect();
    let (dup_apps, dup_keys): (Vec<&str>, Vec<&str>) = rows
        .iter()
        .filter(|r| !inserted.contains(&r.id.0))
        .filter_map(|r| Some((r.application.as_str(), r.idempotency_key.as_deref()?)))
        .unzip();
    let existing: HashMap<(String, String), Uuid> = sqlx::query(
        "SELECT e.application, e.idempotency_key, e.id FROM webhook_executions e
         JOIN UNNEST($1::text[], $2::text[]) AS k(application, key)
           ON e.application = k.application AND e.idempotency_key = k.key",
    )
    .bind(&dup_apps)
    .bind(&dup_keys)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| ((r.get(0), r.get(1)), r.get(2)))
    .collect();
    rows.iter()
        .map(|row| {
            if inserted.contains(&row.id.0) {
                return Ok(Enqueued {
                    id: row.id,
                    deduplicated: false,
                });
            }
            let key = (
                row.application.clone(),
                row.idempotency_key.clone().unwrap_or_default(),
            );
            existing
                .get(&key)
                .map(|id| Enqueued {
                    id: ExecutionId(*id),
                    deduplicated: true,
                })
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "execution {} was neither inserted nor found by its idempotency key",
                        row.id
                    ))
                })
        })
        .collect()
}

/// SQL for a dead letter's fresh attempts: its type's count from the arrays bound at `types` and
/// `counts`, else 3 (the default) for a type this process does not know.
fn budget(types: &str, counts: &str) -> String {
    format!(
        "COALESCE((SELECT b.count FROM UNNEST({types}::text[], {counts}::int4[]) AS b(type, count)
           WHERE b.type = webhook_type), 3)"
    )
}

fn split(budgets: &AttemptBudgets) -> (Vec<&str>, Vec<i32>) {
    budgets.iter().copied().unzip()
}

const EXECUTION_COLUMNS: &str = "id, webhook_type, target_url, payload, headers, status,
    response_status, response_body, error_message, attempts, max_attempts, next_retry_at,
    created_at, updated_at, sent_at, correlation_id, application, host, idempotency_key";

fn execution(row: &PgRow) -> Result<Execution, StoreError> {
    Ok(Execution {
        id: ExecutionId(row.try_get("id")?),
        webhook_type: row.try_get("webhook_type")?,
        target_url: row.try_get("target_url")?,
        payload: row.try_get("payload")?,
        headers: row.try_get("headers")?,
        status: row.try_get::<&str, _>("status")?.parse()?,
        response_status: row.try_get("response_status")?,
        response_body: row.try_get("response_body")?,
        error_message: row.try_get("error_message")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        next_retry_at: row.try_get("next_retry_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sent_at: row.try_get("sent_at")?,
        correlation_id: row.try_get("correlation_id")?,
        application: row.try_get("application")?,
        host: row.try_get("host")?,
        idempotency_key: row.try_get("idempotency_key")?,
    })
}

impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn insert(
        &self,
        now: DateTime<Utc>,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let enqueued = insert_rows(&mut conn, now, rows).await?;
        self.announce();
        Ok(enqueued)
    }

    async fn claim(
        &self,
        executor: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let rows = sqlx::query(
            "WITH due AS (
                 SELECT id FROM webhook_executions
                 WHERE status IN ('pending', 'failed') AND next_retry_at <= $1
                 ORDER BY next_retry_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE webhook_executions e
             SET status = 'sending', attempts = e.attempts + 1, claimed_by = $3,
                 lease_expires_at = $4, updated_at = $1
             FROM due WHERE e.id = due.id
             RETURNING e.id, e.webhook_type, e.target_url, e.payload, e.headers, e.attempts,
                 e.max_attempts, e.correlation_id, e.created_at",
        )
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(executor)
        .bind(lease_until)
        .fetch_all(&self.transitions)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Claimed {
                    id: ExecutionId(r.try_get(0)?),
                    webhook_type: r.try_get(1)?,
                    target_url: r.try_get(2)?,
                    payload: r.try_get(3)?,
                    headers: r.try_get(4)?,
                    attempt: r.try_get(5)?,
                    max_attempts: r.try_get(6)?,
                    correlation_id: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    async fn complete(
        &self,
        now: DateTime<Utc>,
        completions: &[Completion],
        outcomes: bool,
    ) -> Result<u64, StoreError> {
        if completions.is_empty() {
            return Ok(0);
        }
        let n = completions.len();
        let (mut ids, mut attempts, mut statuses, mut codes) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut bodies, mut errors, mut retry_at, mut started, mut durations) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut external_ids = Vec::with_capacity(n);
        for c in completions {
            ids.push(c.id.0);
            attempts.push(c.attempt);
            let (status, at) = match c.resolution {
                Resolution::Sent => (Status::Sent, None),
                Resolution::Retry(at) => (Status::Failed, Some(at)),
                Resolution::DeadLetter => (Status::DeadLetter, None),
            };
            statuses.push(status.as_str());
            retry_at.push(at);
            codes.push(c.response_status);
            bodies.push(c.response_body.as_deref());
            errors.push(c.error_message.as_deref());
            started.push(c.started_at);
            durations.push(c.duration_ms);
            external_ids.push(c.external_id.as_deref());
        }
        let updated: i64 = sqlx::query_scalar(
            "WITH input AS (
                 SELECT * FROM UNNEST($2::uuid[], $3::int4[], $4::text[], $5::int4[], $6::text[],
                     $7::text[], $8::timestamptz[], $9::timestamptz[], $10::int4[], $12::text[])
                     AS t(id, attempt, status, response_status, response_body, error_message,
                          retry_at, started_at, duration_ms, external_id)
             ), updated AS (
                 UPDATE webhook_executions e
                 SET status = i.status, response_status = i.response_status,
                     response_body = i.response_body, error_message = i.error_message,
                     next_retry_at = COALESCE(i.retry_at, e.next_retry_at),
                     sent_at = CASE WHEN i.status = 'sent' THEN $1 ELSE e.sent_at END,
                     updated_at = $1, claimed_by = NULL, lease_expires_at = NULL
                 FROM input i
                 WHERE e.id = i.id AND e.attempts = i.attempt AND e.status = 'sending'
                 RETURNING e.id, e.status, e.webhook_type, e.correlation_id, e.response_status,
                     e.response_body, e.error_message
             ), logged AS (
                 INSERT INTO webhook_attempts (execution_id, attempt, started_at, duration_ms,
                     response_status, error_message, response_body)
                 SELECT i.id, i.attempt, i.started_at, i.duration_ms, i.response_status,
                     i.error_message, i.response_body
                 FROM input i JOIN updated u ON u.id = i.id
             ), events AS (
                 INSERT INTO webhook_outcomes (execution_id, kind, webhook_type, correlation_id,
                     response_status, response_body, error_message, created_at, available_at)
                 SELECT u.id, CASE WHEN u.status = 'sent' THEN 'success' ELSE 'failed' END,
                     u.webhook_type, u.correlation_id, u.response_status, u.response_body,
                     u.error_message, $1, $1
                 FROM updated u WHERE $11 AND u.status IN ('sent', 'dead_letter')
             ), mapped AS (
                 INSERT INTO message_external_ids (external_id, execution_id, webhook_type,
                     created_at)
                 SELECT i.external_id, u.id, u.webhook_type, $1
                 FROM input i JOIN updated u ON u.id = i.id
                 WHERE i.external_id IS NOT NULL AND u.status = 'sent'
                 ON CONFLICT (external_id) DO NOTHING
             )
             SELECT count(*) FROM updated",
        )
        .bind(now)
        .bind(&ids)
        .bind(&attempts)
        .bind(&statuses)
        .bind(&codes)
        .bind(&bodies)
        .bind(&errors)
        .bind(&retry_at)
        .bind(&started)
        .bind(&durations)
        .bind(outcomes)
        .bind(&external_ids)
        .fetch_one(&self.transitions)
        .await?;
        Ok(u64::try_from(updated).unwrap_or(0))
    }

    async fn release(&self, now: DateTime<Utc>, rows: &[Release]) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id.0).collect();
        let attempts: Vec<i32> = rows.iter().map(|r| r.attempt).collect();
        let started: Vec<bool> = rows.iter().map(|r| r.started).collect();
        let result = sqlx::query(
            "UPDATE webhook_executions e
             SET attempts = CASE WHEN r.started THEN e.attempts ELSE e.attempts - 1 END,
                 status = CASE
                     WHEN r.started AND e.attempts >= e.max_attempts THEN 'dead_letter'
                     WHEN NOT r.started AND e.attempts = 1 THEN 'pending'
                     ELSE 'failed' END,
                 error_message = CASE WHEN r.started
                     THEN 'interrupted by executor shutdown; the target may have received it'
                     ELSE e.error_message END,
                 next_retry_at = $1, updated_at = $1, claimed_by = NULL, lease_expires_at = NULL
             FROM UNNEST($2::uuid[], $3::int4[], $4::bool[]) AS r(id, attempt, started)
             WHERE e.id = r.id AND e.attempts = r.attempt AND e.status = 'sending'",
        )
        .bind(now)
        .bind(&ids)
        .bind(&attempts)
        .bind(&started)
        .execute(&self.transitions)
        .await?;
        Ok(result.rows_affected())
    }

    async fn rescue(&self, now: DateTime<Utc>, outcomes: bool) -> Result<u64, StoreError> {
        let rescued: i64 = sqlx::query_scalar(
            "WITH rescued AS (
                 UPDATE webhook_executions
                 SET status = CASE WHEN attempts >= max_attempts THEN 'dead_letter' ELSE 'failed' END,
                     error_message = CASE WHEN attempts >= max_attempts
                         THEN 'the executor stopped during the last attempt (its lease expired); the outcome is unknown'
                         ELSE 'the executor stopped during the attempt (its lease expired)' END,
                     next_retry_at = $1, updated_at = $1, claimed_by = NULL, lease_expires_at = NULL
                 WHERE status = 'sending' AND lease_expires_at < $1
                 RETURNING id, status, webhook_type, correlation_id, error_message
             ), events AS (
                 INSERT INTO webhook_outcomes (execution_id, kind, webhook_type, correlation_id,
                     error_message, created_at, available_at)
                 SELECT id, 'failed', webhook_type, correlation_id, error_message, $1, $1
                 FROM rescued WHERE $2 AND status = 'dead_letter'
             )
             SELECT count(*) FROM rescued",
        )
        .bind(now)
        .bind(outcomes)
        .fetch_one(&self.transitions)
        .await?;
        Ok(u64::try_from(rescued).unwrap_or(0))
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT min(next_retry_at) FROM webhook_executions WHERE status IN ('pending', 'failed')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn execution(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(execution).transpose()
    }

    async fn executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions
             WHERE ($1::text IS NULL OR webhook_type = $1)
               AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR correlation_id = $3)
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(filter.webhook_type.as_deref())
        .bind(filter.status.map(Status::as_str))
        .bind(filter.correlation_id)
        .bind(i64::try_from(filter.limit.min(500)).unwrap_or(500))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(execution).collect()
    }

    async fn attempts(&self, id: ExecutionId) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, started_at, duration_ms, response_status, error_message, response_body
             FROM webhook_attempts WHERE execution_id = $1 ORDER BY attempt",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Attempt {
                    attempt: r.try_get(0)?,
                    started_at: r.try_get(1)?,
                    duration_ms: r.try_get(2)?,
                    response_status: r.try_get(3)?,
                    error_message: r.try_get(4)?,
                    response_body: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn retry_dead_letter(
        &self,
        id: ExecutionId,
        now: DateTime<Utc>,
        budgets: &AttemptBudgets,
    ) -> Result<bool, StoreError> {
        let (types, counts) = split(budgets);
        let result = sqlx::query(&format!(
            "UPDATE webhook_executions
             SET status = 'pending', max_attempts = attempts + {}, next_retry_at = $2,
                 updated_at = $2
             WHERE id = $1 AND status = 'dead_letter'",
            budget("$3", "$4")
        ))
        .bind(id.0)
        .bind(now)
        .bind(&types)
        .bind(&counts)
        .execute(&self.pool)
        .await?;
        self.announce();
        Ok(result.rows_affected() == 1)
    }

    async fn retry_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        now: DateTime<Utc>,
        budgets: &AttemptBudgets,
    ) -> Result<u64, StoreError> {
        let (types, counts) = split(budgets);
        let result = sqlx::query(&format!(
            "UPDATE webhook_executions
             SET status = 'pending', max_attempts = attempts + {}, next_retry_at = $1,
                 updated_at = $1
             WHERE status = 'dead_letter'
               AND ($2::text IS NULL OR webhook_type = $2)
               AND ($3::text IS NULL OR application = $3)
               AND ($4::timestamptz IS NULL OR created_at >= $4)
               AND ($5::timestamptz IS NULL OR created_at < $5)
               AND ($6::text IS NULL OR strpos(error_message, $6) > 0)",
            budget("$7", "$8")
        ))
        .bind(now)
        .bind(filter.webhook_type.as_deref())
        .bind(filter.application.as_deref())
        .bind(filter.created_after)
        .bind(filter.created_before)
        .bind(filter.error_contains.as_deref())
        .bind(&types)
        .bind(&counts)
        .execute(&self.pool)
        .await?;
        self.announce();
        Ok(result.rows_affected())
    }

    async fn prune_delivered(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM webhook_executions WHERE id IN (
                 SELECT id FROM webhook_executions
                 WHERE status = 'sent' AND sent_at < $1
                 ORDER BY sent_at LIMIT $2)",
        )
        .bind(before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn find_external_id(&self, external_id: &str) -> Result<Option<ExecutionId>, StoreError> {
        let id: Option<Uuid> = sqlx::query_scalar(
            "SELECT execution_id FROM message_external_ids WHERE external_id = $1",
        )
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(ExecutionId))
    }

    async fn find_embedded_id(&self, id: Uuid) -> Result<Option<ExecutionId>, StoreError> {
        let found: Option<Uuid> = sqlx::query_scalar(
            "(SELECT id FROM webhook_executions WHERE id = $1)
             UNION ALL
             (SELECT id FROM webhook_executions WHERE correlation_id = $1
              ORDER BY created_at DESC, id DESC LIMIT 1)
             LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(ExecutionId))
    }

    async fn record_inbound(
        &self,
        event: &InboundRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO inbound_events (provider, event_id, kind, execution_id, received_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind(&event.provider)
        .bind(&event.event_id)
        .bind(&event.kind)
        .bind(event.execution_id.map(|id| id.0))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn forget_inbound(&self, provider: &str, event_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM inbound_events WHERE provider = $1 AND event_id = $2")
            .bind(provider)
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_inbound(&self, before: DateTime<Utc>, limit: usize) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM inbound_events WHERE (provider, event_id) IN (
                 SELECT provider, event_id FROM inbound_events WHERE received_at < $1
                 ORDER BY received_at LIMIT $2)",
        )
        .bind(before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn claim_outcomes(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutcomeRow>, StoreError> {
        let rows = sqlx::query(
            "UPDATE webhook_outcomes o
             SET available_at = $2, attempts = o.attempts + 1
             FROM (SELECT id FROM webhook_outcomes WHERE available_at <= $1
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
             WHERE o.id = due.id
             RETURNING o.id, o.execution_id, o.kind, o.webhook_type, o.correlation_id,
                 o.response_status, o.response_body, o.error_message, o.created_at, o.attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut events: Vec<OutcomeRow> = rows
            .iter()
            .map(|r| {
                Ok(OutcomeRow {
                    id: r.try_get(0)?,
                    execution_id: ExecutionId(r.try_get(1)?),
                    success: r.try_get::<&str, _>(2)? == "success",
                    webhook_type: r.try_get(3)?,
                    correlation_id: r.try_get(4)?,
                    response_status: r.try_get(5)?,
                    response_body: r.try_get(6)?,
                    error_message: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                    deliveries: r.try_get(9)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn ack_outcome(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_outcomes WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_outcome(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhook_outcomes SET available_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?;
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

/// Enqueues inside the caller's own transaction (the outbox pattern): rolled back, nothing is
/// sent; committed, it will be. Get one from `Runtime::transaction`.
pub struct PgTransactionQueue<'c> {
    pub(crate) conn: &'c mut PgConnection,
    pub(crate) env: &'c (dyn Env + Send + Sync),
    pub(crate) clock: &'c dyn Clock,
}

impl Enqueue for PgTransactionQueue<'_> {
    async fn enqueue(
        self,
        execution: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        let now = self.clock.now();
        let row = crate::prepare::row(execution, self.env, now);
        let mut enqueued = insert_rows(&mut *self.conn, now, vec![row]).await?;
        // Delivered to listeners when (if) the caller's transaction commits; folded with any
        // other notification of this transaction.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *self.conn)
            .await?;
        Ok(enqueued.pop().expect("one row in, one result out"))
    }
}
