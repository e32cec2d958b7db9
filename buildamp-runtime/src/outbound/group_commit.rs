//! Group commit for single triggers: triggers that arrive while an insert is under way wait for
//! the next one, which inserts them all in one statement and one commit. Each caller is answered
//! only after the commit that holds its row, so every guarantee of a single insert holds (a
//! trigger that returned `Ok` is durable), while concurrent callers share the commit's fsync
//! instead of queueing behind one each. A lone trigger waits for no one: it is inserted at once.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::clock::Clock;
use crate::store::{Enqueued, ExecutionStore, NewRow, StoreError};

/// Rows in one insert at most.
const MAX_BATCH: usize = 1000;
/// Inserts under way at once (each on its own connection).
const IN_FLIGHT: usize = 4;

/// What a caller gets back: the result, and the time the insert wrote as `created_at`.
type Inserted = Result<(Enqueued, DateTime<Utc>), Arc<StoreError>>;

type Reply = oneshot::Sender<Inserted>;

/// Gathers concurrent single inserts into shared statements.
pub(crate) struct GroupCommit<S> {
    store: S,
    clock: Arc<dyn Clock>,
    queue: OnceLock<mpsc::UnboundedSender<(NewRow, Reply)>>,
}

impl<S: ExecutionStore + Clone + 'static> GroupCommit<S> {
    pub(crate) fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        GroupCommit {
            store,
            clock,
            queue: OnceLock::new(),
        }
    }

    /// Inserts `row`, sharing the statement with whatever else is waiting; answers after its
    /// commit, with the time it wrote as `created_at`.
    ///
    /// # Errors
    /// The insert failed (`row` is not stored).
    pub(crate) async fn insert(&self, row: NewRow) -> Inserted {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(collect(self.store.clone(), self.clock.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        // The collector runs until this sender (held by the runtime) is dropped.
        let _ = queue.send((row, reply));
        answer.await.unwrap_or_else(|_| {
            Err(Arc::new(StoreError::Setup(
                "the trigger inserter stopped".to_owned(),
            )))
        })
    }
}

/// Takes the first waiting row, then every row already waiting (up to [`MAX_BATCH`]), and inserts
/// them in one statement, at most [`IN_FLIGHT`] statements at once.
async fn collect<S: ExecutionStore + Clone + 'static>(
    store: S,
    clock: Arc<dyn Clock>,
    mut queue: mpsc::UnboundedReceiver<(NewRow, Reply)>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = queue.recv().await {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        // Rows that arrived while we waited for a slot join this batch.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (store, clock) = (store.clone(), clock.clone());
        tokio::spawn(async move {
            insert_batch(&store, &*clock, batch).await;
            drop(slot);
        });
    }
}

async fn insert_batch<S: ExecutionStore>(
    store: &S,
    clock: &dyn Clock,
    batch: Vec<(NewRow, Reply)>,
) {
    let now = clock.now();
    let (rows, replies): (Vec<NewRow>, Vec<Reply>) = batch.into_iter().unzip();
    match store.insert(now, rows.clone()).await {
        Ok(enqueued) => {
            for (reply, result) in replies.into_iter().zip(enqueued) {
                let _ = reply.send(Ok((result, now)));
            }
        }
        // One row the database refuses must not fail its neighbours: each alone, then.
        Err(_) if rows.len() > 1 => {
            for (row, reply) in rows.into_iter().zip(replies) {
                let result = store
                    .insert(now, vec![row])
                    .await
                    .map(|mut one| (one.pop().expect("one row in, one result out"), now))
                    .map_err(Arc::new);
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            let error = Arc::new(error);
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
