//! `webhook_executions`, `webhook_attempts` and `message_external_ids` on Postgres.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{PgStore, limit};
use crate::queue::{ExecutionId, Status, Write};
use crate::store::{
    Attempt, Candidate, Claimed, DeadLetterFilter, Enqueued, Execution, ExecutionFilter,
    ExecutionStore, Move, NewRow, StoreError,
};
use crate::store::{ordered_head, status_list};

/// Inserts `rows` on `conn`; shared by the pool path and the caller's-transaction path.
pub(super) async fn insert_rows(
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
    let mut branches = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    let mut max_attempts = Vec::with_capacity(n);
    let mut due = Vec::with_capacity(n);
    let mut correlations = Vec::with_capacity(n);
    let mut applications = Vec::with_capacity(n);
    let mut hosts = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut endpoints = Vec::with_capacity(n);
    let mut events = Vec::with_capacity(n);
    for row in &rows {
        ids.push(row.id.0);
        types.push(row.webhook_type);
        urls.push(row.target_url.as_str());
        payloads.push(&row.payload);
        headers.push(&row.headers);
        branches.push(&row.branches);
        statuses.push(row.status.as_str());
        errors.push(row.error_message.as_deref());
        max_attempts.push(row.max_attempts);
        due.push(row.due_at);
        correlations.push(row.correlation_id);
        applications.push(row.application.as_str());
        hosts.push(row.host.as_str());
        keys.push(row.idempotency_key.as_deref());
        endpoints.push(row.endpoint_id);
        events.push(row.event_id.as_deref());
    }
    // An ordered endpoint's rows are numbered within their endpoint and key, in this
    // transaction: a rolled-back publish leaves no gap, and concurrent publishers of one key
    // queue on its counter row, so numbers follow commit order.
    let mut sequences = Vec::with_capacity(n);
    let mut ordering_keys = Vec::with_capacity(n);
    for row in &rows {
        let sequence: Option<i64> = match (&row.ordering_key, row.endpoint_id) {
            (Some(key), Some(endpoint)) => Some(
                sqlx::query_scalar(
                    "INSERT INTO ordering_sequences (endpoint_id, ordering_key, last, updated_at)
                     VALUES ($1, $2, 1, $3)
                     ON CONFLICT (endpoint_id, ordering_key)
                         DO UPDATE SET last = ordering_sequences.last + 1, updated_at = $3
                     RETURNING last",
                )
                .bind(endpoint)
                .bind(key)
                .bind(now)
                .fetch_one(&mut *conn)
                .await?,
            ),
            _ => None,
        };
        sequences.push(sequence);
        ordering_keys.push(row.ordering_key.as_deref());
    }
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO webhook_executions (id, webhook_type, target_url, payload, headers, branches,
             status, error_message, attempts, max_attempts, next_retry_at, created_at, updated_at,
             correlation_id, application, host, idempotency_key, endpoint_id, event_id,
             ordering_key, sequence)
         SELECT t.id, t.webhook_type, t.target_url, t.payload, t.headers, t.branches, t.status,
             t.error_message, 0, t.max_attempts, t.due_at, $15, $15, t.correlation_id,
             t.application, t.host, t.key, t.endpoint_id, t.event_id, t.ordering_key, t.sequence
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::jsonb[],
             $7::text[], $8::text[], $9::int4[], $10::timestamptz[], $11::uuid[], $12::text[],
             $13::text[], $14::text[], $16::uuid[], $17::text[], $18::text[], $19::int8[])
             AS t(id, webhook_type, target_url, payload, headers, branches, status, error_message,
                  max_attempts, due_at, correlation_id, application, host, key, endpoint_id,
                  event_id, ordering_key, sequence)
         ON CONFLICT (application, webhook_type, idempotency_key)
             WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&urls)
    .bind(&payloads)
    .bind(&headers)
    .bind(&branches)
    .bind(&statuses)
    .bind(&errors)
    .bind(&max_attempts)
    .bind(&due)
    .bind(&correlations)
    .bind(&applications)
    .bind(&hosts)
    .bind(&keys)
    .bind(now)
    .bind(&endpoints)
    .bind(&events)
    .bind(&ordering_keys)
    .bind(&sequences)
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
    // Some keys were used already: answer those with the execution that holds the key.
    let inserted: HashSet<Uuid> = inserted.into_iter().collect();
    let mut dup_apps = Vec::new();
    let mut dup_types = Vec::new();
    let mut dup_keys = Vec::new();
    for row in rows.iter().filter(|r| !inserted.contains(&r.id.0)) {
        if let Some(key) = row.idempotency_key.as_deref() {
            dup_apps.push(row.application.as_str());
            dup_types.push(row.webhook_type);
            dup_keys.push(key);
        }
    }
    let existing: HashMap<(String, String, String), Uuid> = sqlx::query(
        "SELECT e.application, e.webhook_type, e.idempotency_key, e.id FROM webhook_executions e
         JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(application, webhook_type, key)
           ON e.application = k.application AND e.webhook_type = k.webhook_type
          AND e.idempotency_key = k.key",
    )
    .bind(&dup_apps)
    .bind(&dup_types)
    .bind(&dup_keys)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
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
                row.webhook_type.to_owned(),
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

const EXECUTION_COLUMNS: &str = "id, webhook_type, target_url, payload, headers, status,
    response_status, response_body, error_message, attempts, max_attempts, next_retry_at,
    created_at, updated_at, sent_at, correlation_id, application, host, idempotency_key,
    endpoint_id, event_id, ordering_key, sequence";

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
        endpoint_id: row.try_get("endpoint_id")?,
        event_id: row.try_get("event_id")?,
        ordering_key: row.try_get("ordering_key")?,
        sequence: row.try_get("sequence")?,
    })
}

fn candidate(row: &PgRow) -> Result<Candidate, StoreError> {
    Ok(Candidate {
        id: ExecutionId(row.try_get(0)?),
        webhook_type: row.try_get(1)?,
        attempts: row.try_get(2)?,
        max_attempts: row.try_get(3)?,
        endpoint_id: row.try_get(4)?,
    })
}

/// Statements naming states, their text built once from [`Status`] (see `status_list`).
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH due AS (
             SELECT id FROM webhook_executions c
             WHERE status IN ({claimable}) AND next_retry_at <= $1 AND {head}
             ORDER BY next_retry_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
         )
         UPDATE webhook_executions e
         SET status = {sending}, attempts = e.attempts + 1, claimed_by = $3,
             lease_expires_at = $4, updated_at = $1
         FROM due WHERE e.id = due.id
         RETURNING e.id, e.webhook_type, e.target_url, e.payload, e.headers, e.branches,
             e.attempts, e.max_attempts, e.correlation_id, e.created_at, e.endpoint_id,
             e.ordering_key, e.sequence",
        claimable = status_list(&Status::CLAIMABLE),
        head = ordered_head("c"),
        sending = status_list(&[Status::Sending]),
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
         WHERE status = {} AND lease_expires_at < $1
         ORDER BY lease_expires_at LIMIT $2",
        status_list(&[Status::Sending])
    )
});
static DEAD_LETTERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, webhook_type, attempts, max_attempts, endpoint_id FROM webhook_executions
         WHERE status = {}
           AND ($1::uuid IS NULL OR id > $1)
           AND ($2::text IS NULL OR webhook_type = $2)
           AND ($3::text IS NULL OR application = $3)
           AND ($4::timestamptz IS NULL OR created_at >= $4)
           AND ($5::timestamptz IS NULL OR created_at < $5)
           AND ($6::text IS NULL OR strpos(error_message, $6) > 0)
           AND ($8::uuid IS NULL OR endpoint_id = $8)
           AND ($9::text IS NULL OR event_id = $9)
         ORDER BY id LIMIT $7",
        status_list(&[Status::DeadLetter])
    )
});
static PRUNE_DELIVERED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM webhook_executions WHERE id IN (
             SELECT id FROM webhook_executions
             WHERE status = {} AND sent_at < $1
             ORDER BY sent_at LIMIT $2)",
        status_list(&[Status::Sent])
    )
});

impl ExecutionStore for PgStore {
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
        n: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        let rows = sqlx::query(&CLAIM)
            .bind(now)
            .bind(limit(n))
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
                    branches: r.try_get(5)?,
                    attempt: r.try_get(6)?,
                    max_attempts: r.try_get(7)?,
                    correlation_id: r.try_get(8)?,
                    created_at: r.try_get(9)?,
                    endpoint_id: r.try_get(10)?,
                    ordering: match (r.try_get::<Option<String>, _>(11)?, r.try_get(12)?) {
                        (Some(key), Some(sequence)) => Some((key, sequence)),
                        _ => None,
                    },
                })
            })
            .collect()
    }

    async fn record(&self, now: DateTime<Utc>, moves: &[Move]) -> Result<u64, StoreError> {
        if moves.is_empty() {
            return Ok(0);
        }
        let updated = record_on(&self.transitions, now, moves).await?;
        if moves.iter().any(|m| m.to.status == Status::Pending) {
            self.announce();
        }
        Ok(updated)
    }

    async fn expired_leases(
        &self,
        now: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        let rows = sqlx::query(&EXPIRED)
            .bind(now)
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
            .bind(after.map(|id| id.0))
            .bind(filter.webhook_type.as_deref())
            .bind(filter.application.as_deref())
            .bind(filter.created_after)
            .bind(filter.created_before)
            .bind(filter.error_contains.as_deref())
            .bind(limit(n))
            .bind(filter.endpoint_id)
            .bind(filter.event_id.as_deref())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(candidate).collect()
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(&NEXT_DUE).fetch_one(&self.pool).await?)
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

    async fn executions_by_id(&self, ids: &[ExecutionId]) -> Result<Vec<Execution>, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions WHERE id = ANY($1)"
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(execution).collect()
    }

    async fn executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM webhook_executions
             WHERE ($1::text IS NULL OR webhook_type = $1)
               AND ($2::text IS NULL OR status = $2)
               AND ($3::uuid IS NULL OR correlation_id = $3)
               AND ($5::uuid IS NULL OR endpoint_id = $5)
               AND ($6::timestamptz IS NULL OR created_at >= $6)
               AND ($7::timestamptz IS NULL OR created_at < $7)
               AND (NOT $8 OR endpoint_id IS NOT NULL)
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(filter.webhook_type.as_deref())
        .bind(filter.status.map(Status::as_str))
        .bind(filter.correlation_id)
        .bind(limit(filter.limit.min(500)))
        .bind(filter.endpoint_id)
        .bind(filter.created_after)
        .bind(filter.created_before)
        .bind(filter.endpoint_deliveries)
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

    async fn prune_delivered(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let result = sqlx::query(&PRUNE_DELIVERED)
            .bind(before)
            .bind(limit(n))
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
}

/// Records moves: the rows, their attempt log, outcome events, providers' ids and the per-minute
/// rollup ([`crate::store::tally`]), in one statement.
static ROLLUP_RECORD: LazyLock<String> = LazyLock::new(|| {
    let b = |f: &dyn Fn(usize) -> String| {
        (0..crate::store::BUCKETS)
            .map(f)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "WITH updated AS (
             UPDATE webhook_executions e
             SET status = i.status, attempts = i.attempts, max_attempts = i.max_attempts,
                 next_retry_at = COALESCE(i.due_at, e.next_retry_at),
                 error_message = CASE WHEN i.set_error THEN i.error_message
                                      ELSE e.error_message END,
                 response_status = CASE WHEN i.reported THEN i.response_status
                                        ELSE e.response_status END,
                 response_body = CASE WHEN i.reported THEN i.response_body
                                      ELSE e.response_body END,
                 sent_at = COALESCE(i.sent_at, e.sent_at),
                 updated_at = $1, claimed_by = NULL, lease_expires_at = NULL
             FROM UNNEST($2::uuid[], $3::int4[], $4::text[], $5::text[], $6::int4[],
                 $7::int4[], $8::timestamptz[], $9::bool[], $10::text[], $11::timestamptz[],
                 $12::text[], $13::bool[], $14::int4[], $15::text[], $16::timestamptz[],
                 $17::int4[], $18::text[], $19::timestamptz[], $20::int4[], $21::int4[],
                 $22::timestamptz[])
                 AS i(id, fence_attempt, fence_status, status, attempts, max_attempts, due_at,
                      set_error, error_message, sent_at, outcome, reported, response_status,
                      response_body, started_at, duration_ms, external_id, minute, bucket,
                      tally, hour)
             WHERE e.id = i.id AND e.attempts = i.fence_attempt AND e.status = i.fence_status
             RETURNING e.id, e.webhook_type, e.correlation_id, e.response_status,
                 e.response_body, e.error_message, i.fence_attempt, i.outcome, i.reported,
                 i.started_at, i.duration_ms, i.external_id, i.error_message AS logged_error,
                 e.endpoint_id, i.minute, i.bucket, i.tally, i.hour
         ), logged AS (
             INSERT INTO webhook_attempts (execution_id, attempt, started_at, duration_ms,
                 response_status, error_message, response_body)
             SELECT u.id, u.fence_attempt, u.started_at, u.duration_ms, u.response_status,
                 u.logged_error, u.response_body
             FROM updated u WHERE u.reported
         ), events AS (
             INSERT INTO webhook_outcomes (execution_id, kind, webhook_type, correlation_id,
                 response_status, response_body, error_message, created_at, available_at)
             SELECT u.id, u.outcome, u.webhook_type, u.correlation_id, u.response_status,
                 u.response_body, u.error_message, $1, $1
             FROM updated u WHERE u.outcome IS NOT NULL
         ), mapped AS (
             INSERT INTO message_external_ids (external_id, execution_id, webhook_type,
                 created_at)
             SELECT u.external_id, u.id, u.webhook_type, $1
             FROM updated u WHERE u.external_id IS NOT NULL
             ON CONFLICT (external_id) DO NOTHING
         ), rolled AS (
             INSERT INTO delivery_stats (span, minute, webhook_type, endpoint, attempts, sent,
                 retried, dead_letter, duration_ms, {columns})
             SELECT p.span, p.start, u.webhook_type, COALESCE(u.endpoint_id::text, ''), count(*),
                 count(*) FILTER (WHERE u.tally = 0), count(*) FILTER (WHERE u.tally = 1),
                 count(*) FILTER (WHERE u.tally = 2), sum(u.duration_ms), {counts}
             FROM updated u CROSS JOIN LATERAL (VALUES ({minute_span}, u.minute),
                 ({hour_span}, u.hour)) AS p(span, start)
             WHERE u.minute IS NOT NULL
             GROUP BY p.span, p.start, u.webhook_type, COALESCE(u.endpoint_id::text, '')
             ON CONFLICT (span, minute, webhook_type, endpoint) DO UPDATE SET
                 attempts = delivery_stats.attempts + excluded.attempts,
                 sent = delivery_stats.sent + excluded.sent,
                 retried = delivery_stats.retried + excluded.retried,
                 dead_letter = delivery_stats.dead_letter + excluded.dead_letter,
                 duration_ms = delivery_stats.duration_ms + excluded.duration_ms, {sums}
         )
         SELECT count(*) FROM updated",
        columns = b(&|k| format!("b{k}")),
        counts = b(&|k| format!("count(*) FILTER (WHERE u.bucket = {k})")),
        sums = b(&|k| format!("b{k} = delivery_stats.b{k} + excluded.b{k}")),
        minute_span = crate::store::SPANS[0],
        hour_span = crate::store::SPANS[1],
    )
});

/// Applies `moves` with `executor` (the transitions pool, or the caller's transaction), fenced
/// on each move's id, attempt and state; returns how many applied.
pub(super) async fn record_on<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    now: DateTime<Utc>,
    moves: &[Move],
) -> Result<u64, StoreError> {
    let n = moves.len();
    let mut ids = Vec::with_capacity(n);
    let mut fence_attempts = Vec::with_capacity(n);
    let mut fence_statuses = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut attempts = Vec::with_capacity(n);
    let mut max_attempts = Vec::with_capacity(n);
    let mut due = Vec::with_capacity(n);
    let mut set_errors = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    let mut sent_at = Vec::with_capacity(n);
    let mut outcomes = Vec::with_capacity(n);
    let mut reported = Vec::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    let mut bodies = Vec::with_capacity(n);
    let mut started = Vec::with_capacity(n);
    let mut durations = Vec::with_capacity(n);
    let mut external_ids = Vec::with_capacity(n);
    let mut minutes = Vec::with_capacity(n);
    let mut hours = Vec::with_capacity(n);
    let mut buckets = Vec::with_capacity(n);
    let mut tallies = Vec::with_capacity(n);
    for m in moves {
        let tally = crate::store::tally(m);
        minutes.push(tally.map(|t| t.minute));
        hours.push(tally.map(|t| t.hour));
        buckets.push(tally.map(|t| i32::try_from(t.bucket).unwrap_or(i32::MAX)));
        tallies.push(tally.map(|t| i32::from(t.outcome)));
        ids.push(m.id.0);
        fence_attempts.push(m.attempt);
        fence_statuses.push(m.from.as_str());
        statuses.push(m.to.status.as_str());
        attempts.push(m.to.attempts);
        max_attempts.push(m.to.max_attempts);
        due.push(m.to.due_at);
        let (set, error) = match &m.to.error {
            Write::Keep => (false, None),
            Write::Set(error) => (true, error.as_deref()),
        };
        set_errors.push(set);
        errors.push(error);
        sent_at.push(m.to.sent_at);
        outcomes.push(m.to.outcome.map(|o| o.as_str()));
        let report = m.report.as_ref();
        reported.push(report.is_some());
        codes.push(report.and_then(|r| r.response_status));
        bodies.push(report.and_then(|r| r.response_body.as_deref()));
        started.push(report.map(|r| r.started_at));
        durations.push(report.map(|r| r.duration_ms));
        external_ids.push(report.and_then(|r| r.external_id.as_deref()));
    }
    // RETURNING names the input row too, so the log, the events and the ids need no join.
    let updated: i64 = sqlx::query_scalar(&ROLLUP_RECORD)
        .bind(now)
        .bind(&ids)
        .bind(&fence_attempts)
        .bind(&fence_statuses)
        .bind(&statuses)
        .bind(&attempts)
        .bind(&max_attempts)
        .bind(&due)
        .bind(&set_errors)
        .bind(&errors)
        .bind(&sent_at)
        .bind(&outcomes)
        .bind(&reported)
        .bind(&codes)
        .bind(&bodies)
        .bind(&started)
        .bind(&durations)
        .bind(&external_ids)
        .bind(&minutes)
        .bind(&buckets)
        .bind(&tallies)
        .bind(&hours)
        .fetch_one(executor)
        .await?;
    Ok(u64::try_from(updated).unwrap_or(0))
}
