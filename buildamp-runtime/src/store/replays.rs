//! Replays: durable jobs that retry every dead letter a filter matches, in id order, with a
//! cursor that moves in the same transaction as the retries it covers. So a replay resumes where
//! it stopped after a crash, and several replayers (in one process or many) can run one job at
//! once: each step applies only if the cursor is still where its replayer read it.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{DeadLetterFilter, Move, StoreError};
use crate::queue::ExecutionId;

/// A replay job as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayRow {
    /// Its id.
    pub id: Uuid,
    /// Which dead letters it retries.
    pub filter: DeadLetterFilter,
    /// The last dead letter it covered (ids are time-ordered); `None` before the first step.
    pub after: Option<ExecutionId>,
    /// How many dead letters matched when it was created (those that appear later are retried
    /// too).
    pub total: u64,
    /// How many it has retried.
    pub replayed: u64,
    /// Whether it reached the end.
    pub done: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last moved.
    pub updated_at: DateTime<Utc>,
}

/// Storage of replay jobs. Every backend passes the same tests.
pub trait ReplayStore {
    /// Stores a new job.
    fn insert_replay(&self, row: &ReplayRow)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One job.
    fn replay(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<ReplayRow>, StoreError>> + Send;

    /// Up to `limit` jobs not done, oldest first.
    fn running_replays(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ReplayRow>, StoreError>> + Send;

    /// One step of job `id`, in one transaction, if its cursor is still `seen`: applies `moves`
    /// (fenced as [`super::ExecutionStore::record`] does), moves the cursor to `next`, adds
    /// what applied to `replayed`, and marks the job done when `done`. `None` when the cursor
    /// had moved (another replayer took this step): nothing is written.
    fn advance_replay(
        &self,
        id: Uuid,
        seen: Option<ExecutionId>,
        next: Option<ExecutionId>,
        done: bool,
        now: DateTime<Utc>,
        moves: &[Move],
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
}
