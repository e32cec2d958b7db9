//! The SQLite store: the embedded default for development and single-process apps.
//!
//! SQLite has one writer at a time, so a claim is a single `UPDATE ... RETURNING` (no
//! `SKIP LOCKED` needed) and several executors in one process still never share a row. It serves
//! **one executor process**: `NOTIFY` has no equivalent, and the file lives on one machine. Batches
//! travel as one JSON parameter, unpacked with `json_each`.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{
    Attempt, AttemptBudgets, Claimed, Completion, DeadLetterFilter, Execution, ExecutionFilter,
    InboundRecord, NewRow, OutcomeRow, Release, Resolution, Status, Store, StoreError,
};
use crate::clock::Clock;
use crate::env::Env;
use crate::trigger::{Enqueue, Enqueued, ExecutionId, NewExecution};

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

async fn insert_rows(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    rows: Vec<NewRow>,
) -> Result<Vec<Enqueued>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let batch: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id.to_string(), "webhook_type": r.webhook_type, "target_url": r.target_url,
                "payload": r.payload, "headers": r.headers, "status": r.status.as_str(),
                "error_message": r.error_message, "max_attempts": r.max_attempts,
                "due_at": micros(r.due_at), "correlation_id": r.correlation_id.map(|c| c.to_string()),
                "application": r.application, "host": r.host, "idempotency_key": r.idempotency_key,
            })
        })
        .collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO webhook_executions (id, webhook_type, target_url, payload, headers, status,
             error_message, max_attempts, next_retry_at, created_at, updated_at, correlation_id,
             application, host, idempotency_key)
         SELECT value ->> 'id', value ->> 'webhook_type', value ->> 'target_url', value -> 'payload',
             value -> 'headers', value ->> 'status', value ->> 'error_message',
             value ->> 'max_attempts', value ->> 'due_at', ?2, ?2, value ->> 'correlation_id',
             value ->> 'application', value ->> 'host', value ->> 'idempotency_key'
         FROM json_each(?1) WHERE true
         ON CONFLICT (application, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(serde_json::Value::from(batch).to_string())
    .bind(micros(now))
    .fetch_all(&mut *conn)
    .await?;
    let inserted: HashSet<String> = inserted.into_iter().collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if inserted.contains(&row.id.to_string()) {
            out.push(Enqueued {
                id: row.id,
                deduplicated: false,
            });
            continue;
        }
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_executions WHERE application = ?1 AND idempotency_key = ?2",
        )
        .bind(&row.application)
        .bind(&row.idempotency_key)
        .fetch_optional(&mut *conn)
        .await?;
        let id = existing.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "execution {} was neither inserted nor found by its idempotency key",
                row.id
            ))
        })?;
        out.push(Enqueued {
            id: ExecutionId(uuid(&id)?),
            deduplicated: true,
        });
    }
    Ok(out)
}

const EXECUTION_COLUMNS: &str = "id, webhook_type, target_url, payload, headers, status,
    response_status, response_body, error_message, attempts, max_attempts, next_retry_at,
    created_at, updated_at, sent_at, correlation_id, application, host, idempotency_key";

fn execution(r: &SqliteRow) -> Result<Execution, StoreError> {
    Ok(Execution {
        id: ExecutionId(uuid(r.try_get("id")?)?),
        webhook_type: r.try_get("webhook_type")?,
        target_url: r.try_get("target_url")?,
        payload: json_text(r.try_get("payload")?)?,
        headers: json_text(r.try_get("headers")?)?,
        status: r.try_get::<&str, _>("status")?.parse()?,
        response_status: r.try_get("response_status")?,
        response_body: r.try_get("response_body")?,
        error_message: r.try_get("error_message")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        next_retry_at: time(r.try_get("next_retry_at")?)?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
        sent_at: r
            .try_get::<Option<i64>, _>("sent_at")?
            .map(time)
            .transpose()?,
        correlation_id: opt_uuid(r.try_get("correlation_id")?)?,
        application: r.try_get("application")?,
        host: r.try_get("host")?,
        idempotency_key: r.try_get("idempotency_key")?,
    })
}

/// A dead letter's fresh attempts: its type's count from the JSON bound at `?n`, else 3.
fn budget(param: &str) -> String {
    format!(
        "COALESCE((SELECT b.value ->> 'count' FROM json_each({param}) b
           WHERE b.value ->> 'type' = webhook_type), 3)"
    )
}

fn budgets_json(budgets: &AttemptBudgets) -> String {
    serde_json::Value::from(
        budgets
            .iter()
            .map(|(t, c)| json!({"type": t, "count": c}))
            .collect::<Vec<_>>(),
    )
    .to_string()
}

/// Inserts outcome events for `rows` (id, status, type, correlation, response status, body, error).
async fn insert_outcomes(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    rows: &[serde_json::Value],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO webhook_outcomes (execution_id, kind, webhook_type, correlation_id,
             response_status, response_body, error_message, created_at, available_at)
         SELECT value ->> 'id', CASE WHEN value ->> 'status' = 'sent' THEN 'success' ELSE 'failed' END,
             value ->> 'webhook_type', value ->> 'correlation_id', value ->> 'response_status',
             value ->> 'response_body', value ->> 'error_message', ?2, ?2
         FROM json_each(?1)",
    )
    .bind(serde_json::Value::from(rows.to_vec()).to_string())
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A returned row as JSON, for [`insert_outcomes`].
fn outcome_json(r: &SqliteRow) -> Result<serde_json::Value, StoreError> {
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "status": r.try_get::<String, _>("status")?,
        "webhook_type": r.try_get::<String, _>("webhook_type")?,
        "correlation_id": r.try_get::<Option<String>, _>("correlation_id")?,
        "response_status": r.try_get::<Option<i32>, _>("response_status")?,
        "response_body": r.try_get::<Option<String>, _>("response_body")?,
        "error_message": r.try_get::<Option<String>, _>("error_message")?,
    }))
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn insert(
        &self,
        now: DateTime<Utc>,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let enqueued = insert_rows(&mut tx, now, rows).await?;
        tx.commit().await?;
        self.signal.notify_one();
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
            "UPDATE webhook_executions
             SET status = 'sending', attempts = attempts + 1, claimed_by = ?1,
                 lease_expires_at = ?3, updated_at = ?2
             WHERE id IN (SELECT id FROM webhook_executions
                          WHERE status IN ('pending', 'failed') AND next_retry_at <= ?2
                          ORDER BY next_retry_at LIMIT ?4)
             RETURNING id, webhook_type, target_url, payload, headers, attempts, max_attempts,
                 correlation_id, created_at, next_retry_at",
        )
        .bind(executor.to_string())
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("next_retry_at")?,
                    Claimed {
                        id: ExecutionId(uuid(r.try_get("id")?)?),
                        webhook_type: r.try_get("webhook_type")?,
                        target_url: r.try_get("target_url")?,
                        payload: json_text(r.try_get("payload")?)?,
                        headers: json_text(r.try_get("headers")?)?,
                        attempt: r.try_get("attempts")?,
                        max_attempts: r.try_get("max_attempts")?,
                        correlation_id: opt_uuid(r.try_get("correlation_id")?)?,
                        created_at: time(r.try_get("created_at")?)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING has no order: give rows out in due order, as Postgres does.
        claimed.sort_by_key(|(due, _)| *due);
        Ok(claimed.into_iter().map(|(_, c)| c).collect())
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
        let input: Vec<serde_json::Value> = completions
            .iter()
            .map(|c| {
                let (status, retry_at) = match c.resolution {
                    Resolution::Sent => (Status::Sent, None),
                    Resolution::Retry(at) => (Status::Failed, Some(micros(at))),
                    Resolution::DeadLetter => (Status::DeadLetter, None),
                };
                json!({
                    "id": c.id.to_string(), "attempt": c.attempt, "status": status.as_str(),
                    "retry_at": retry_at, "response_status": c.response_status,
                    "response_body": c.response_body, "error_message": c.error_message,
                    "started_at": micros(c.started_at), "duration_ms": c.duration_ms,
                    "external_id": c.external_id,
                })
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE webhook_executions AS e
             SET status = i.value ->> 'status', response_status = i.value ->> 'response_status',
                 response_body = i.value ->> 'response_body', error_message = i.value ->> 'error_message',
                 next_retry_at = COALESCE(i.value ->> 'retry_at', e.next_retry_at),
                 sent_at = CASE WHEN i.value ->> 'status' = 'sent' THEN ?1 ELSE e.sent_at END,
                 updated_at = ?1, claimed_by = NULL, lease_expires_at = NULL
             FROM json_each(?2) AS i
             WHERE e.id = i.value ->> 'id' AND e.attempts = i.value ->> 'attempt' AND e.status = 'sending'
             RETURNING id, status, webhook_type, correlation_id, response_status, response_body,
                 error_message",
        )
        .bind(micros(now))
        .bind(serde_json::Value::from(input.clone()).to_string())
        .fetch_all(&mut *tx)
        .await?;
        let updated_ids: HashSet<String> = updated
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let logged: Vec<serde_json::Value> = input
            .into_iter()
            .filter(|i| i["id"].as_str().is_some_and(|id| updated_ids.contains(id)))
            .collect();
        if !logged.is_empty() {
            sqlx::query(
                "INSERT INTO webhook_attempts (execution_id, attempt, started_at, duration_ms,
                     response_status, error_message, response_body)
                 SELECT value ->> 'id', value ->> 'attempt', value ->> 'started_at',
                     value ->> 'duration_ms', value ->> 'response_status',
                     value ->> 'error_message', value ->> 'response_body'
                 FROM json_each(?1)",
            )
            .bind(serde_json::to_string(&logged).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .execute(&mut *tx)
            .await?;
        }
        let mapped: Vec<&serde_json::Value> = logged
            .iter()
            .filter(|i| i["status"] == "sent" && !i["external_id"].is_null())
            .collect();
        if !mapped.is_empty() {
            sqlx::query(
                "INSERT INTO message_external_ids (external_id, execution_id, webhook_type, created_at)
                 SELECT i.value ->> 'external_id', e.id, e.webhook_type, ?1
                 FROM json_each(?2) AS i JOIN webhook_executions e ON e.id = i.value ->> 'id'
                 WHERE true
                 ON CONFLICT (external_id) DO NOTHING",
            )
            .bind(micros(now))
            .bind(serde_json::to_string(&mapped).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .execute(&mut *tx)
            .await?;
        }
        if outcomes {
            let finished: Vec<serde_json::Value> = updated
                .iter()
                .map(outcome_json)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|r| matches!(r["status"].as_str(), Some("sent" | "dead_letter")))
                .collect();
            insert_outcomes(&mut tx, now, &finished).await?;
        }
        tx.commit().await?;
        Ok(updated.len() as u64)
    }

    async fn release(&self, now: DateTime<Utc>, rows: &[Release]) -> Result<u64, StoreError> {
        let input: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| json!({"id": r.id.to_string(), "attempt": r.attempt, "started": r.started}))
            .collect();
        let result = sqlx::query(
            "UPDATE webhook_executions AS e
             SET attempts = CASE WHEN r.value ->> 'started' THEN e.attempts ELSE e.attempts - 1 END,
                 status = CASE
                     WHEN r.value ->> 'started' AND e.attempts >= e.max_attempts THEN 'dead_letter'
                     WHEN NOT (r.value ->> 'started') AND e.attempts = 1 THEN 'pending'
                     ELSE 'failed' END,
                 error_message = CASE WHEN r.value ->> 'started'
                     THEN 'interrupted by executor shutdown; the target may have received it'
                     ELSE e.error_message END,
                 next_retry_at = ?1, updated_at = ?1, claimed_by = NULL, lease_expires_at = NULL
             FROM json_each(?2) AS r
             WHERE e.id = r.value ->> 'id' AND e.attempts = r.value ->> 'attempt' AND e.status = 'sending'",
        )
        .bind(micros(now))
        .bind(serde_json::Value::from(input).to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn rescue(&self, now: DateTime<Utc>, outcomes: bool) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rescued = sqlx::query(
            "UPDATE webhook_executions
             SET status = CASE WHEN attempts >= max_attempts THEN 'dead_letter' ELSE 'failed' END,
                 error_message = CASE WHEN attempts >= max_attempts
                     THEN 'the executor stopped during the last attempt (its lease expired); the outcome is unknown'
                     ELSE 'the executor stopped during the attempt (its lease expired)' END,
                 next_retry_at = ?1, updated_at = ?1, claimed_by = NULL, lease_expires_at = NULL
             WHERE status = 'sending' AND lease_expires_at < ?1
             RETURNING id, status, webhook_type, correlation_id, response_status, response_body, error_message",
        )
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
        if outcomes {
            let dead: Vec<serde_json::Value> = rescued
                .iter()
                .map(outcome_json)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|r| r["status"] == "dead_letter")
                .map(|mut r| {
                    // Like Postgres, a rescue's event reports no response.
                    r["response_status"] = serde_json::Value::Null;
                    r["response_body"] = serde_json::Value::Null;
                    r
                })
                .collect();
            insert_outcomes(&mut tx, now, &dead).await?;
        }
        tx.commit().await?;
        Ok(rescued.len() as u64)
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT min(next_retry_at) FROM webhook_executions WHERE status IN ('pending', 'failed')",
        )
        .fetch_one(&self.pool)
        .await?;
        due.map(time).transpose()
    }

    async fn execution(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions WHERE id = ?1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(execution).transpose()
    }

    async fn executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions
             WHERE (?1 IS NULL OR webhook_type = ?1)
               AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR correlation_id = ?3)
             ORDER BY created_at DESC, id DESC LIMIT ?4"
        ))
        .bind(filter.webhook_type.as_deref())
        .bind(filter.status.map(Status::as_str))
        .bind(filter.correlation_id.map(|c| c.to_string()))
        .bind(i64::try_from(filter.limit.min(500)).unwrap_or(500))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(execution).collect()
    }

    async fn attempts(&self, id: ExecutionId) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, started_at, duration_ms, response_status, error_message, response_body
             FROM webhook_attempts WHERE execution_id = ?1 ORDER BY attempt",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Attempt {
                    attempt: r.try_get(0)?,
                    started_at: time(r.try_get(1)?)?,
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
        let result = sqlx::query(&format!(
            "UPDATE webhook_executions
             SET status = 'pending', max_attempts = attempts + {}, next_retry_at = ?2, updated_at = ?2
             WHERE id = ?1 AND status = 'dead_letter'",
            budget("?3")
        ))
        .bind(id.to_string())
        .bind(micros(now))
        .bind(budgets_json(budgets))
        .execute(&self.pool)
        .await?;
        self.signal.notify_one();
        Ok(result.rows_affected() == 1)
    }

    async fn retry_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        now: DateTime<Utc>,
        budgets: &AttemptBudgets,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(&format!(
            "UPDATE webhook_executions
             SET status = 'pending', max_attempts = attempts + {}, next_retry_at = ?1, updated_at = ?1
             WHERE status = 'dead_letter'
               AND (?2 IS NULL OR webhook_type = ?2)
               AND (?3 IS NULL OR application = ?3)
               AND (?4 IS NULL OR created_at >= ?4)
               AND (?5 IS NULL OR created_at < ?5)
               AND (?6 IS NULL OR instr(error_message, ?6) > 0)",
            budget("?7")
        ))
        .bind(micros(now))
        .bind(filter.webhook_type.as_deref())
        .bind(filter.application.as_deref())
        .bind(filter.created_after.map(micros))
        .bind(filter.created_before.map(micros))
        .bind(filter.error_contains.as_deref())
        .bind(budgets_json(budgets))
        .execute(&self.pool)
        .await?;
        self.signal.notify_one();
        Ok(result.rows_affected())
    }

    async fn prune_delivered(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM webhook_executions WHERE id IN (
                 SELECT id FROM webhook_executions WHERE status = 'sent' AND sent_at < ?1
                 ORDER BY sent_at LIMIT ?2)",
        )
        .bind(micros(before))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn find_external_id(&self, external_id: &str) -> Result<Option<ExecutionId>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT execution_id FROM message_external_ids WHERE external_id = ?1",
        )
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        id.map(|id| uuid(&id).map(ExecutionId)).transpose()
    }

    async fn find_embedded_id(&self, id: Uuid) -> Result<Option<ExecutionId>, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM (
                 SELECT id, 0 AS rank, 0 AS created_at FROM webhook_executions WHERE id = ?1
                 UNION ALL
                 SELECT id, 1, created_at FROM webhook_executions WHERE correlation_id = ?1)
             ORDER BY rank, created_at DESC, id DESC LIMIT 1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        found.map(|id| uuid(&id).map(ExecutionId)).transpose()
    }

    async fn record_inbound(
        &self,
        event: &InboundRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO inbound_events (provider, event_id, kind, execution_id, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind(&event.provider)
        .bind(&event.event_id)
        .bind(&event.kind)
        .bind(event.execution_id.map(|id| id.to_string()))
        .bind(micros(now))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn forget_inbound(&self, provider: &str, event_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM inbound_events WHERE provider = ?1 AND event_id = ?2")
            .bind(provider)
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_inbound(&self, before: DateTime<Utc>, limit: usize) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM inbound_events WHERE rowid IN (
                 SELECT rowid FROM inbound_events WHERE received_at < ?1
                 ORDER BY received_at LIMIT ?2)",
        )
        .bind(micros(before))
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
            "UPDATE webhook_outcomes SET available_at = ?2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM webhook_outcomes WHERE available_at <= ?1 ORDER BY id LIMIT ?3)
             RETURNING id, execution_id, kind, webhook_type, correlation_id, response_status,
                 response_body, error_message, created_at, attempts",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut events = rows
            .iter()
            .map(|r| {
                Ok(OutcomeRow {
                    id: r.try_get(0)?,
                    execution_id: ExecutionId(uuid(r.try_get(1)?)?),
                    success: r.try_get::<&str, _>(2)? == "success",
                    webhook_type: r.try_get(3)?,
                    correlation_id: opt_uuid(r.try_get(4)?)?,
                    response_status: r.try_get(5)?,
                    response_body: r.try_get(6)?,
                    error_message: r.try_get(7)?,
                    created_at: time(r.try_get(8)?)?,
                    deliveries: r.try_get(9)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn ack_outcome(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_outcomes WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_outcome(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhook_outcomes SET available_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(micros(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    async fn listen(&self) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(None) // one process: inserts signal the executor directly
    }
}

/// Enqueues inside the caller's own SQLite transaction. Get one from `Runtime::transaction`.
pub struct SqliteTransactionQueue<'c> {
    pub(crate) conn: &'c mut SqliteConnection,
    pub(crate) env: &'c (dyn Env + Send + Sync),
    pub(crate) clock: &'c dyn Clock,
    pub(crate) signal: Arc<Notify>,
}

impl Enqueue for SqliteTransactionQueue<'_> {
    async fn enqueue(
        self,
        execution: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        let now = self.clock.now();
        let row = crate::prepare::row(execution, self.env, now);
        let mut enqueued = insert_rows(self.conn, now, vec![row]).await?;
        // A hint only: if the caller rolls back, the executor finds nothing and waits again.
        self.signal.notify_one();
        Ok(enqueued.pop().expect("one row in, one result out"))
    }
}
