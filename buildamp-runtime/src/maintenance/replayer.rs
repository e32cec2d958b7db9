//! The replayer: runs replay jobs ([`crate::store::ReplayStore`]) step by step, each step one
//! batch of dead letters retried by hand and the job's cursor moved past them, in one
//! transaction. A job created through the API or the CLI is run by whichever process gets to it
//! (every runtime's replayer looks for unfinished jobs each pass), so a replay whose process
//! stopped is finished by another; two replayers on one job never retry a row twice, and none is
//! skipped.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::Service;
use crate::clock::{Clock, Jitter};
use crate::outbound::rules::RowRules;
use crate::store::{
    DeadLetterFilter, EndpointStore, ExecutionStore, ReplayRow, ReplayStore, StoreError,
};

/// The replayer's settings.
#[derive(Clone, Copy, Debug)]
pub struct ReplayerConfig {
    /// Time between looks for unfinished jobs (default 1 s).
    pub interval: Duration,
    /// Dead letters per step (default 500).
    pub batch: usize,
}

impl Default for ReplayerConfig {
    fn default() -> Self {
        ReplayerConfig {
            interval: Duration::from_secs(1),
            batch: 500,
        }
    }
}

/// Creates and runs replay jobs.
pub struct Replayer<S> {
    store: S,
    clock: Arc<dyn Clock>,
    jitter: Arc<Jitter>,
    config: ReplayerConfig,
}

impl<S: ExecutionStore + EndpointStore + ReplayStore> Replayer<S> {
    pub(crate) fn new(
        store: S,
        clock: Arc<dyn Clock>,
        jitter: Arc<Jitter>,
        config: ReplayerConfig,
    ) -> Self {
        Replayer {
            store,
            clock,
            jitter,
            config,
        }
    }

    /// Creates a job retrying every dead letter `filter` matches, counting them first (those
    /// that appear while it runs, after its cursor, are retried too). It runs on the next pass
    /// of any runtime's replayer, or at once with [`Replayer::run`].
    ///
    /// # Errors
    /// The store failed; no job was created.
    pub async fn create(&self, filter: DeadLetterFilter) -> Result<ReplayRow, StoreError> {
        let mut total = 0u64;
        let mut after = None;
        loop {
            let page = self.store.dead_letters(&filter, after, 5_000).await?;
            total += page.len() as u64;
            match page.last() {
                Some(last) if page.len() == 5_000 => after = Some(last.id),
                _ => break,
            }
        }
        let now = self.clock.now();
        let row = ReplayRow {
            id: Uuid::now_v7(),
            filter,
            after: None,
            total,
            replayed: 0,
            done: false,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_replay(&row).await?;
        Ok(row)
    }

    /// One step of job `id`: the next batch of its dead letters retried and its cursor moved,
    /// unless another replayer took the step first (then nothing is written here). Returns the
    /// job as it stands after, `None` if there is no such job.
    ///
    /// # Errors
    /// The store failed; the step was not taken (a later one takes it).
    pub async fn step(&self, id: Uuid) -> Result<Option<ReplayRow>, StoreError> {
        let Some(job) = self.store.replay(id).await? else {
            return Ok(None);
        };
        if job.done {
            return Ok(Some(job));
        }
        let batch = self
            .store
            .dead_letters(&job.filter, job.after, self.config.batch)
            .await?;
        let next = batch.last().map(|c| c.id).or(job.after);
        let done = batch.len() < self.config.batch;
        let now = self.clock.now();
        let rules = RowRules::load(&self.store, &batch).await?;
        let moves = rules.retried_by_hand(&batch, now, &self.jitter);
        self.store
            .advance_replay(id, job.after, next, done, now, &moves)
            .await?;
        self.store.replay(id).await
    }

    /// Runs job `id` to its end, calling `progress` after each step (its own or another
    /// replayer's); returns the finished job, `None` if there is no such job.
    ///
    /// # Errors
    /// The store failed; the job stays where it was, for any replayer to finish.
    pub async fn run(
        &self,
        id: Uuid,
        mut progress: impl FnMut(&ReplayRow),
    ) -> Result<Option<ReplayRow>, StoreError> {
        loop {
            match self.step(id).await? {
                None => return Ok(None),
                Some(job) if job.done => {
                    progress(&job);
                    return Ok(Some(job));
                }
                Some(job) => progress(&job),
            }
        }
    }
}

impl<S: ExecutionStore + EndpointStore + ReplayStore + Clone + 'static> Service for Replayer<S> {
    const NAME: &'static str = "replayer";

    fn interval(&self) -> Duration {
        self.config.interval
    }

    /// Runs every unfinished job (ten at a time) to its end. Returns how many dead letters it
    /// retried.
    async fn run_once(&self) -> Result<u64, StoreError> {
        let mut replayed = 0;
        for job in self.store.running_replays(10).await? {
            let before = job.replayed;
            if let Some(done) = self.run(job.id, |_| {}).await? {
                replayed += done.replayed.saturating_sub(before);
            }
        }
        Ok(replayed)
    }
}
