//! `replays` on SQLite (one writer: `BEGIN IMMEDIATE` is the fence's lock).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::executions::record_on;
use super::{SqliteStore, json_text, limit, micros, time, uuid};
use crate::queue::{ExecutionId, Status};
use crate::store::{Move, ReplayRow, ReplayStore, StoreError};

const COLUMNS: &str = "id, filter, after_id, total, replayed, done, created_at, updated_at";

fn replay(r: &SqliteRow) -> Result<ReplayRow, StoreError> {
    Ok(ReplayRow {
        id: uuid(r.try_get(0)?)?,
        filter: serde_json::from_value(json_text(r.try_get(1)?)?)
            .map_err(|e| StoreError::Corrupt(format!("a replay's filter: {e}")))?,
        after: r
            .try_get::<Option<String>, _>(2)?
            .map(|a| uuid(&a).map(ExecutionId))
            .transpose()?,
        total: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
        replayed: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
        done: r.try_get(5)?,
        created_at: time(r.try_get(6)?)?,
        updated_at: time(r.try_get(7)?)?,
    })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl ReplayStore for SqliteStore {
    async fn insert_replay(&self, row: &ReplayRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO replays ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .bind(row.id.to_string())
        .bind(serde_json::to_string(&row.filter).expect("a filter serializes"))
        .bind(row.after.map(|a| a.0.to_string()))
        .bind(count(row.total))
        .bind(count(row.replayed))
        .bind(row.done)
        .bind(micros(row.created_at))
        .bind(micros(row.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn replay(&self, id: Uuid) -> Result<Option<ReplayRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM replays WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(replay).transpose()
    }

    async fn running_replays(&self, n: usize) -> Result<Vec<ReplayRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM replays WHERE NOT done ORDER BY created_at LIMIT ?1"
        ))
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(replay).collect()
    }

    async fn advance_replay(
        &self,
        id: Uuid,
        seen: Option<ExecutionId>,
        next: Option<ExecutionId>,
        done: bool,
        now: chrono::DateTime<chrono::Utc>,
        moves: &[Move],
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let fenced = sqlx::query(
            "UPDATE replays SET after_id = ?3, done = ?4, updated_at = ?5
             WHERE id = ?1 AND after_id IS ?2 AND NOT done",
        )
        .bind(id.to_string())
        .bind(seen.map(|s| s.0.to_string()))
        .bind(next.map(|n| n.0.to_string()))
        .bind(done)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        if fenced.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let moved = if moves.is_empty() {
            0
        } else {
            record_on(&mut tx, now, moves).await?.len() as u64
        };
        sqlx::query("UPDATE replays SET replayed = replayed + ?2 WHERE id = ?1")
            .bind(id.to_string())
            .bind(count(moved))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if moves.iter().any(|m| m.to.status == Status::Pending) {
            self.signal.notify_one();
        }
        Ok(Some(moved))
    }
}
