//! `webhook_executions`, `webhook_attempts` and `message_external_ids` on SQLite.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{SqliteStore, json_param, json_text, limit, micros, opt_uuid, time, uuid};
use crate::queue::{ExecutionId, Status, Write};
use crate::store::{
    Attempt, Candidate, Claimed, DeadLetterFilter, Enqueued, Execution, ExecutionFilter,
    ExecutionStore, Move, NewRow, StoreError,
};
use crate::store::{ordered_head, status_list};

/// Inserts `rows` on `conn`; shared by the pool path and the caller's-transaction path.
pub(super) async fn insert_rows(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    rows: Vec<NewRow>,
) -> Result<Vec<Enqueued>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // An ordered endpoint's rows are numbered within their endpoint and key, in this
    // transaction (see the Postgres store).
    let mut sequences = Vec::with_capacity(rows.len());
    for row in &rows {
        let sequence: Option<i64> = match (&row.ordering_key, row.endpoint_id) {
            (Some(key), Some(endpoint)) => Some(
                sqlx::query_scalar(
                    "INSERT INTO ordering_sequences (endpoint_id, ordering_key, last, updated_at)
                     VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (endpoint_id, ordering_key)
                         DO UPDATE SET last = ordering_sequences.last + 1, updated_at = ?3
                     RETURNING last",
                )
                .bind(endpoint.to_string())
                .bind(key)
                .bind(micros(now))
                .fetch_one(&mut *conn)
                .await?,
            ),
            _ => None,
        };
        sequences.push(sequence);
    }
    let batch: Vec<serde_json::Value> = rows
        .iter()
        .zip(&sequences)
        .map(|(r, sequence)| {
            json!({
                "id": r.id.to_string(), "webhook_type": r.webhook_type, "target_url": r.target_url,
                "payload": r.payload, "headers": r.headers, "branches": r.branches,
                "status": r.status.as_str(), "error_message": r.error_message,
                "max_attempts": r.max_attempts, "due_at": micros(r.due_at),
                "correlation_id": r.correlation_id.map(|c| c.to_string()),
                "application": r.application, "host": r.host, "idempotency_key": r.idempotency_key,
                "endpoint_id": r.endpoint_id.map(|e| e.to_string()), "event_id": r.event_id,
                "ordering_key": r.ordering_key, "sequence": sequence,
            })
        })
        .collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO webhook_executions (id, webhook_type, target_url, payload, headers, branches,
             status, error_message, attempts, max_attempts, next_retry_at, created_at, updated_at,
             correlation_id, application, host, idempotency_key, endpoint_id, event_id,
             ordering_key, sequence)
         SELECT value ->> 'id', value ->> 'webhook_type', value ->> 'target_url', value -> 'payload',
             value -> 'headers', value -> 'branches', value ->> 'status', value ->> 'error_message',
             0, value ->> 'max_attempts', value ->> 'due_at', ?2, ?2, value ->> 'correlation_id',
             value ->> 'application', value ->> 'host', value ->> 'idempotency_key',
             value ->> 'endpoint_id', value ->> 'event_id', value ->> 'ordering_key',
             value ->> 'sequence'
         FROM json_each(?1) WHERE true
         ON CONFLICT (application, webhook_type, idempotency_key)
             WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(json_param(batch))
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
            "SELECT id FROM webhook_executions
             WHERE application = ?1 AND webhook_type = ?2 AND idempotency_key = ?3",
        )
        .bind(&row.application)
        .bind(row.webhook_type)
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
    created_at, updated_at, sent_at, correlation_id, application, host, idempotency_key,
    endpoint_id, event_id, ordering_key, sequence";

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
        endpoint_id: opt_uuid(r.try_get("endpoint_id")?)?,
        event_id: r.try_get("event_id")?,
        ordering_key: r.try_get("ordering_key")?,
        sequence: r.try_get("sequence")?,
    })
}

fn candidate(r: &SqliteRow) -> Result<Candidate, StoreError> {
    Ok(Candidate {
        id: ExecutionId(uuid(r.try_get(0)?)?),
        webhook_type: r.try_get(1)?,
        attempts: r.try_get(2)?,
        max_attempts: r.try_get(3)?,
        endpoint_id: opt_uuid(r.try_get(4)?)?,
    })
}

/// Statements naming states, their text built once from [`Status`] (see `status_list`).
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE webhook_executions
         SET status = {sending}, attempts = attempts + 1, claimed_by = ?1,
             lease_expires_at = ?3, updated_at = ?2
         WHERE id IN (SELECT id FROM webhook_executions c
                      WHERE status IN ({claimable}) AND next_retry_at <= ?2 AND {head}
                      ORDER BY next_retry_at LIMIT ?4)
         RETURNING id, webhook_type, target_url, payload, headers, branches, attempts,
             max_attempts, correlation_id, created_at, next_retry_at, endpoint_id,
             ordering_key, sequence",
        claimable = status_list(&Status::CLAIMABLE),
        head = ordered_head("c"),
        sending = status_list(&[Status::Sending]),
    )
});
/// Adds summed tallies (`[span, start, webhook, endpoint, [attempts, sent, retried, dead
/// letters, duration, buckets...]]`) to the rollup.
static ROLLUP: LazyLock<String> = LazyLock::new(|| {
    let b = |f: &dyn Fn(usize) -> String| {
        (0..crate::store::BUCKETS)
            .map(f)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "INSERT INTO delivery_stats (span, minute, webhook_type, endpoint, attempts, sent,
             retried, dead_letter, duration_ms, {columns})
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value -> 4 ->> 0,
             value -> 4 ->> 1, value -> 4 ->> 2, value -> 4 ->> 3, value -> 4 ->> 4, {values}
         FROM json_each(?1) WHERE true
         ON CONFLICT (span, minute, webhook_type, endpoint) DO UPDATE SET
             attempts = attempts + excluded.attempts, sent = sent + excluded.sent,
             retried = retried + excluded.retried, dead_letter = dead_letter + excluded.dead_letter,
             duration_ms = duration_ms + excluded.duration_ms, {sums}",
        columns = b(&|k| format!("b{k}")),
        values = b(&|k| format!("value -> 4 ->> {}", 5 + k)),
        sums = b(&|k| format!("b{k} = b{k} + excluded.b{k}")),
    )
});
static NEXT_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT min(next_retry_at) FROM webhook_executions c WHERE status IN ({}) AND {}",
        status_list(&Status::CLAIMABLE),
        ordered_head("c")
    )
});
static EXPIRED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, webhook_type, attempts, max_attempts, endpoint_id FROM webhook_executions
         WHERE status = {} AND lease_expires_at < ?1
         ORDER BY lease_expires_at LIMIT ?2",
        status_list(&[Status::Sending])
    )
});
static DEAD_LETTERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, webhook_type, attempts, max_attempts, endpoint_id FROM webhook_executions
         WHERE status = {}
           AND (?1 IS NULL OR id > ?1)
           AND (?2 IS NULL OR webhook_type = ?2)
           AND (?3 IS NULL OR application = ?3)
           AND (?4 IS NULL OR created_at >= ?4)
           AND (?5 IS NULL OR created_at < ?5)
           AND (?6 IS NULL OR instr(error_message, ?6) > 0)
           AND (?8 IS NULL OR endpoint_id = ?8)
           AND (?9 IS NULL OR event_id = ?9)
         ORDER BY id LIMIT ?7",
        status_list(&[Status::DeadLetter])
    )
});
static PRUNE_DELIVERED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM webhook_executions WHERE id IN (
             SELECT id FROM webhook_executions WHERE status = {} AND sent_at < ?1
             ORDER BY sent_at LIMIT ?2)",
        status_list(&[Status::Sent])
    )
});

impl ExecutionStore for SqliteStore {
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
        n: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let rows = sqlx::query(&CLAIM)
            .bind(executor.to_string())
            .bind(micros(now))
            .bind(micros(lease_until))
            .bind(limit(n))
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
                        branches: json_text(r.try_get("branches")?)?,
                        attempt: r.try_get("attempts")?,
                        max_attempts: r.try_get("max_attempts")?,
                        correlation_id: opt_uuid(r.try_get("correlation_id")?)?,
                        created_at: time(r.try_get("created_at")?)?,
                        endpoint_id: opt_uuid(r.try_get("endpoint_id")?)?,
                        ordering: match (
                            r.try_get::<Option<String>, _>("ordering_key")?,
                            r.try_get("sequence")?,
                        ) {
                            (Some(key), Some(sequence)) => Some((key, sequence)),
                            _ => None,
                        },
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING has no order: give rows out in due order, as Postgres does.
        claimed.sort_by_key(|(due, _)| *due);
        Ok(claimed.into_iter().map(|(_, c)| c).collect())
    }

    async fn record(&self, now: DateTime<Utc>, moves: &[Move]) -> Result<u64, StoreError> {
        if moves.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let moved = record_on(&mut tx, now, moves).await?;
        tx.commit().await?;
        if moved.iter().any(|m| m.to.status == Status::Pending) {
            self.signal.notify_one();
        }
        Ok(moved.len() as u64)
    }

    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        let rows = sqlx::query(&EXPIRED)
            .bind(micros(now))
            .bind(limit(n))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(candidate).collect()
    }

    async fn dead_letters(
        &self,
        filter: &DeadLetterFilter,
        after: Option<ExecutionId>,
        n: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        let rows = sqlx::query(&DEAD_LETTERS)
            .bind(after.map(|id| id.to_string()))
            .bind(filter.webhook_type.as_deref())
            .bind(filter.application.as_deref())
            .bind(filter.created_after.map(micros))
            .bind(filter.created_before.map(micros))
            .bind(filter.error_contains.as_deref())
            .bind(limit(n))
            .bind(filter.endpoint_id.map(|e| e.to_string()))
            .bind(filter.event_id.as_deref())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(candidate).collect()
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let due: Option<i64> = sqlx::query_scalar(&NEXT_DUE).fetch_one(&self.pool).await?;
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

    async fn executions_by_id(&self, ids: &[ExecutionId]) -> Result<Vec<Execution>, StoreError> {
        let ids: Vec<serde_json::Value> = ids.iter().map(|id| id.to_string().into()).collect();
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions
             WHERE id IN (SELECT value FROM json_each(?1))"
        ))
        .bind(json_param(ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(execution).collect()
    }

    async fn executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions
             WHERE (?1 IS NULL OR webhook_type = ?1)
               AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR correlation_id = ?3)
               AND (?5 IS NULL OR endpoint_id = ?5)
               AND (?6 IS NULL OR created_at >= ?6)
               AND (?7 IS NULL OR created_at < ?7)
               AND (NOT ?8 OR endpoint_id IS NOT NULL)
             ORDER BY created_at DESC, id DESC LIMIT ?4"
        ))
        .bind(filter.webhook_type.as_deref())
        .bind(filter.status.map(Status::as_str))
        .bind(filter.correlation_id.map(|c| c.to_string()))
        .bind(limit(filter.limit.min(500)))
        .bind(filter.endpoint_id.map(|e| e.to_string()))
        .bind(filter.created_after.map(micros))
        .bind(filter.created_before.map(micros))
        .bind(filter.endpoint_deliveries)
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

    async fn prune_delivered(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let result = sqlx::query(&PRUNE_DELIVERED)
            .bind(micros(before))
            .bind(limit(n))
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
}

/// Applies `moves` on `conn` (inside the caller's transaction), fenced on each move's id,
/// attempt and state; returns the moves that applied. Each attempt is added to the per-minute
/// rollup ([`crate::store::tally`]).
pub(super) async fn record_on<'m>(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    moves: &'m [Move],
) -> Result<Vec<&'m Move>, StoreError> {
    let input: Vec<serde_json::Value> = moves
        .iter()
        .map(|m| {
            let (set_error, error) = match &m.to.error {
                Write::Keep => (false, None),
                Write::Set(error) => (true, error.as_deref()),
            };
            let report = m.report.as_ref();
            json!({
                "id": m.id.to_string(), "fence_attempt": m.attempt,
                "fence_status": m.from.as_str(), "status": m.to.status.as_str(),
                "attempts": m.to.attempts, "max_attempts": m.to.max_attempts,
                "due_at": m.to.due_at.map(micros), "set_error": set_error,
                "error_message": error, "sent_at": m.to.sent_at.map(micros),
                "reported": report.is_some(),
                "response_status": report.and_then(|r| r.response_status),
                "response_body": report.and_then(|r| r.response_body.as_deref()),
            })
        })
        .collect();
    // SQLite's RETURNING names only the updated table: the rest is matched by id below.
    let updated = sqlx::query(
        "UPDATE webhook_executions AS e
         SET status = i.value ->> 'status', attempts = i.value ->> 'attempts',
             max_attempts = i.value ->> 'max_attempts',
             next_retry_at = COALESCE(i.value ->> 'due_at', e.next_retry_at),
             error_message = CASE WHEN i.value ->> 'set_error'
                                  THEN i.value ->> 'error_message' ELSE e.error_message END,
             response_status = CASE WHEN i.value ->> 'reported'
                                    THEN i.value ->> 'response_status' ELSE e.response_status END,
             response_body = CASE WHEN i.value ->> 'reported'
                                  THEN i.value ->> 'response_body' ELSE e.response_body END,
             sent_at = COALESCE(i.value ->> 'sent_at', e.sent_at),
             updated_at = ?1, claimed_by = NULL, lease_expires_at = NULL
         FROM json_each(?2) AS i
         WHERE e.id = i.value ->> 'id' AND e.attempts = i.value ->> 'fence_attempt'
           AND e.status = i.value ->> 'fence_status'
         RETURNING id, webhook_type, correlation_id, response_status, response_body,
             error_message, endpoint_id",
    )
    .bind(micros(now))
    .bind(json_param(input))
    .fetch_all(&mut *conn)
    .await?;
    let rows: HashMap<String, &SqliteRow> = updated
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("id")?, r)))
        .collect::<Result<_, StoreError>>()?;
    let moved: Vec<&Move> = moves
        .iter()
        .filter(|m| rows.contains_key(&m.id.to_string()))
        .collect();
    let mut logged = Vec::new();
    let mut mapped = Vec::new();
    let mut events = Vec::new();
    let mut rolled: BTreeMap<(i64, i64, String, String), [i64; 5 + crate::store::BUCKETS]> =
        BTreeMap::new();
    for m in &moved {
        let id = m.id.to_string();
        if let Some(t) = crate::store::tally(m) {
            let r = rows[&id];
            let webhook = r.try_get::<String, _>("webhook_type")?;
            let endpoint = r
                .try_get::<Option<String>, _>("endpoint_id")?
                .unwrap_or_default();
            for (span, start) in crate::store::SPANS.into_iter().zip([t.minute, t.hour]) {
                let key = (span, micros(start), webhook.clone(), endpoint.clone());
                // attempts, sent, retried, dead letters, duration, then the buckets.
                let sums = rolled.entry(key).or_insert([0; 5 + crate::store::BUCKETS]);
                sums[0] += 1;
                sums[1 + usize::from(t.outcome)] += 1;
                sums[4] += t.duration_ms;
                sums[5 + t.bucket] += 1;
            }
        }
        if let Some(report) = &m.report {
            logged.push(json!({
                "id": id, "attempt": m.attempt, "started_at": micros(report.started_at),
                "duration_ms": report.duration_ms, "response_status": report.response_status,
                "error_message": m.logged_error(), "response_body": report.response_body,
            }));
            if let Some(external_id) = &report.external_id {
                mapped.push(json!({"id": id, "external_id": external_id}));
            }
        }
        if let Some(kind) = m.to.outcome {
            let r = rows[&id];
            events.push(json!({
                "id": id, "kind": kind.as_str(),
                "webhook_type": r.try_get::<String, _>("webhook_type")?,
                "correlation_id": r.try_get::<Option<String>, _>("correlation_id")?,
                "response_status": r.try_get::<Option<i32>, _>("response_status")?,
                "response_body": r.try_get::<Option<String>, _>("response_body")?,
                "error_message": r.try_get::<Option<String>, _>("error_message")?,
            }));
        }
    }
    if !logged.is_empty() {
        sqlx::query(
            "INSERT INTO webhook_attempts (execution_id, attempt, started_at, duration_ms,
                 response_status, error_message, response_body)
             SELECT value ->> 'id', value ->> 'attempt', value ->> 'started_at',
                 value ->> 'duration_ms', value ->> 'response_status',
                 value ->> 'error_message', value ->> 'response_body'
             FROM json_each(?1)",
        )
        .bind(json_param(logged))
        .execute(&mut *conn)
        .await?;
    }
    if !mapped.is_empty() {
        sqlx::query(
            "INSERT INTO message_external_ids (external_id, execution_id, webhook_type, created_at)
             SELECT i.value ->> 'external_id', e.id, e.webhook_type, ?1
             FROM json_each(?2) AS i JOIN webhook_executions e ON e.id = i.value ->> 'id'
             WHERE true
             ON CONFLICT (external_id) DO NOTHING",
        )
        .bind(micros(now))
        .bind(json_param(mapped))
        .execute(&mut *conn)
        .await?;
    }
    if !rolled.is_empty() {
        let rows: Vec<serde_json::Value> = rolled
            .into_iter()
            .map(|((span, start, webhook, endpoint), sums)| {
                json!([span, start, webhook, endpoint, sums])
            })
            .collect();
        sqlx::query(&ROLLUP)
            .bind(json_param(rows))
            .execute(&mut *conn)
            .await?;
    }
    if !events.is_empty() {
        sqlx::query(
            "INSERT INTO webhook_outcomes (execution_id, kind, webhook_type, correlation_id,
                 response_status, response_body, error_message, created_at, available_at)
             SELECT value ->> 'id', value ->> 'kind', value ->> 'webhook_type',
                 value ->> 'correlation_id', value ->> 'response_status',
                 value ->> 'response_body', value ->> 'error_message', ?2, ?2
             FROM json_each(?1)",
        )
        .bind(json_param(events))
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(moved)
}
