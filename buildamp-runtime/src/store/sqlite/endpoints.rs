//! `endpoints` and `events` on SQLite.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::executions::insert_rows;
use super::{SqliteStore, json_text, limit, micros, time, uuid};
use crate::store::{
    Callback, EndpointRow, EndpointStore, HealthRecord, NewEvent, Published, Route, StoreError,
};

const COLUMNS: &str = "id, application, url, description, status, environment, config, secrets, created_at, updated_at";

fn endpoint(r: &SqliteRow) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        id: uuid(r.try_get(0)?)?,
        application: r.try_get(1)?,
        url: r.try_get(2)?,
        description: r.try_get(3)?,
        status: r.try_get(4)?,
        environment: r.try_get(5)?,
        config: json_text(r.try_get(6)?)?,
        secrets: r.try_get(7)?,
        created_at: time(r.try_get(8)?)?,
        updated_at: time(r.try_get(9)?)?,
    })
}

/// Publishes `event` on `conn` (inside the caller's transaction, or the store's own); whether it
/// queued a delivery. The event row is written first: on SQLite a transaction that read before
/// writing must upgrade its lock, which fails at once (busy) when another writer got in between,
/// so the first statement takes the write lock.
pub(super) async fn publish_on(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    event: NewEvent,
    route: Route<'_>,
) -> Result<(Published, bool), StoreError> {
    let inserted: Option<String> = sqlx::query_scalar(
        "INSERT INTO events (id, application, event_type, version, occurred_at, data, metadata,
             idempotency_key, deliveries, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&event.id)
    .bind(&event.application)
    .bind(event.event_type)
    .bind(event.version)
    .bind(micros(event.occurred_at))
    .bind(event.data.to_string())
    .bind(event.metadata.to_string())
    .bind(&event.idempotency_key)
    .bind(micros(now))
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        let row = sqlx::query(
            "SELECT id, deliveries FROM events
             WHERE id = ?1 OR (application = ?2 AND idempotency_key = ?3) LIMIT 1",
        )
        .bind(&event.id)
        .bind(&event.application)
        .bind(&event.idempotency_key)
        .fetch_one(&mut *conn)
        .await?;
        return Ok((
            Published {
                event_id: row.try_get(0)?,
                deliveries: row.try_get(1)?,
                duplicate: true,
            },
            false,
        ));
    }
    let endpoints = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM endpoints WHERE application = ?1"
    ))
    .bind(&event.application)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = Vec::new();
    for r in &endpoints {
        if let Some(row) = route(&endpoint(r)?) {
            rows.push(row);
        }
    }
    let deliveries = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    let any = !rows.is_empty();
    if any {
        insert_rows(conn, now, rows).await?;
        sqlx::query("UPDATE events SET deliveries = ?2 WHERE id = ?1")
            .bind(&event.id)
            .bind(deliveries)
            .execute(&mut *conn)
            .await?;
    }
    Ok((
        Published {
            event_id: event.id,
            deliveries,
            duplicate: false,
        },
        any,
    ))
}

impl SqliteStore {
    /// Publishes `event` inside the caller's transaction on `conn`; see
    /// [`EndpointStore::publish`].
    ///
    /// # Errors
    /// The database refused a statement.
    pub async fn publish_in(
        &self,
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
        event: NewEvent,
        route: Route<'_>,
    ) -> Result<Published, StoreError> {
        let (published, queued) = publish_on(conn, now, event, route).await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(published)
    }
}

impl EndpointStore for SqliteStore {
    async fn insert_endpoint(&self, row: &EndpointRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO endpoints ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))
        .bind(row.id.to_string())
        .bind(&row.application)
        .bind(&row.url)
        .bind(&row.description)
        .bind(&row.status)
        .bind(&row.environment)
        .bind(row.config.to_string())
        .bind(&row.secrets)
        .bind(micros(row.created_at))
        .bind(micros(row.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn replace_endpoint(
        &self,
        row: &EndpointRow,
        seen: DateTime<Utc>,
        log: Option<(&str, &HealthRecord)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE endpoints SET url = ?2, description = ?3, status = ?4, environment = ?5,
                 config = ?6, secrets = ?7, updated_at = ?8
             WHERE id = ?1 AND updated_at = ?9",
        )
        .bind(row.id.to_string())
        .bind(&row.url)
        .bind(&row.description)
        .bind(&row.status)
        .bind(&row.environment)
        .bind(row.config.to_string())
        .bind(&row.secrets)
        .bind(micros(row.updated_at))
        .bind(micros(seen))
        .execute(&mut *tx)
        .await?;
        let replaced = done.rows_affected() == 1;
        if let (true, Some((key, record))) = (replaced, log) {
            super::circuits::log_change(&mut tx, key, record).await?;
        }
        tx.commit().await?;
        Ok(replaced)
    }

    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM endpoints WHERE id = ?1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn endpoint(&self, id: Uuid) -> Result<Option<EndpointRow>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM endpoints WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(endpoint)
            .transpose()
    }

    async fn endpoints(
        &self,
        application: Option<&str>,
        after: Option<Uuid>,
        n: usize,
    ) -> Result<Vec<EndpointRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM endpoints
             WHERE (?1 IS NULL OR application = ?1) AND (?2 IS NULL OR id > ?2)
             ORDER BY id LIMIT ?3"
        ))
        .bind(application)
        .bind(after.map(|a| a.to_string()))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint).collect()
    }

    async fn endpoints_outside(
        &self,
        prefix: &str,
        after: Option<Uuid>,
        n: usize,
    ) -> Result<Vec<EndpointRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM endpoints
             WHERE substr(application, 1, length(?1)) <> ?1 AND (?2 IS NULL OR id > ?2)
             ORDER BY id LIMIT ?3"
        ))
        .bind(prefix)
        .bind(after.map(|a| a.to_string()))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint).collect()
    }

    async fn prune_events(&self, before: DateTime<Utc>, n: usize) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM events WHERE id IN (
                 SELECT id FROM events WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
        )
        .bind(micros(before))
        .bind(limit(n))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn publish(
        &self,
        now: DateTime<Utc>,
        event: NewEvent,
        route: Route<'_>,
    ) -> Result<Published, StoreError> {
        // Immediate: the writer lock is taken (waiting for it if need be) before anything runs.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (published, queued) = publish_on(&mut tx, now, event, route).await?;
        tx.commit().await?;
        if queued {
            self.signal.notify_one();
        }
        Ok(published)
    }
}

/// Publishes every callback on `conn`; whether any queued a delivery.
pub(super) async fn publish_all(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    callbacks: Vec<Callback<'_>>,
) -> Result<bool, StoreError> {
    let mut queued = false;
    for (event, route) in callbacks {
        queued |= publish_on(conn, now, event, route).await?.1;
    }
    Ok(queued)
}
