//! One watcher for every status stream: however many clients follow executions, the store is
//! asked once per interval, in one statement, for all the executions being watched, and each
//! change is published to that execution's subscribers. A stream holds a [`StreamSlot`], so the
//! number open, overall and per caller, is capped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::queue::ExecutionId;
use crate::store::{Execution, Store};

/// The latest state of one watched execution (`None` once it is gone: pruned, or unreadable).
pub(crate) type Latest = watch::Receiver<Option<Execution>>;

/// Polls the store for every watched execution, in one statement per interval.
pub(crate) struct Watcher<S> {
    store: S,
    interval: Duration,
    watched: Mutex<HashMap<ExecutionId, watch::Sender<Option<Execution>>>>,
    wake: Notify,
    task: std::sync::OnceLock<()>,
}

impl<S: Store> Watcher<S> {
    pub(crate) fn new(store: S, interval: Duration) -> Arc<Self> {
        Arc::new(Watcher {
            store,
            interval,
            watched: Mutex::default(),
            wake: Notify::new(),
            task: std::sync::OnceLock::new(),
        })
    }

    /// Follows `execution` (as just read), starting the polling task on first use.
    pub(crate) fn subscribe(self: &Arc<Self>, execution: Execution) -> Latest {
        let receiver = {
            let mut watched = self.watched.lock().expect("watcher lock");
            match watched.get(&execution.id) {
                Some(sender) => sender.subscribe(),
                None => {
                    let id = execution.id;
                    let (sender, receiver) = watch::channel(Some(execution));
                    watched.insert(id, sender);
                    receiver
                }
            }
        };
        self.task.get_or_init(|| {
            tokio::spawn(Self::run(Arc::downgrade(self)));
        });
        self.wake.notify_one();
        receiver
    }

    /// Until the API that owns the watcher is dropped: wait for subscribers, then poll.
    async fn run(this: Weak<Self>) {
        loop {
            let Some(watcher) = this.upgrade() else {
                return;
            };
            let ids: Vec<ExecutionId> = {
                let mut watched = watcher.watched.lock().expect("watcher lock");
                watched.retain(|_, sender| sender.receiver_count() > 0);
                watched.keys().copied().collect()
            };
            if ids.is_empty() {
                // Wake at least once an interval, so a dropped API ends this task.
                tokio::select! {
                    () = watcher.wake.notified() => {}
                    () = tokio::time::sleep(watcher.interval) => {}
                }
                continue;
            }
            tokio::time::sleep(watcher.interval).await;
            match watcher.store.executions_by_id(&ids).await {
                Ok(rows) => {
                    let mut rows: HashMap<ExecutionId, Execution> =
                        rows.into_iter().map(|e| (e.id, e)).collect();
                    let watched = watcher.watched.lock().expect("watcher lock");
                    for id in ids {
                        let Some(sender) = watched.get(&id) else {
                            continue;
                        };
                        let now = rows.remove(&id);
                        sender.send_if_modified(|last| {
                            let changed = *last != now;
                            *last = now;
                            changed
                        });
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %crate::error::error_chain(&error), "status streams: reading executions failed; trying again");
                }
            }
        }
    }
}

/// How many streams are open, overall and per caller.
#[derive(Default)]
pub(crate) struct StreamSlots {
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// Why no stream slot was given.
pub(crate) enum Full {
    /// This caller holds its share.
    Caller(usize),
    /// The API holds as many as it serves.
    Overall(usize),
}

impl StreamSlots {
    /// A slot for `caller`, if it and the API are under their caps.
    pub(crate) fn take(
        self: &Arc<Self>,
        caller: &str,
        per_caller: usize,
        overall: usize,
    ) -> Result<StreamSlot, Full> {
        let mut open = self.open.lock().expect("slots lock");
        if open.0 >= overall {
            return Err(Full::Overall(overall));
        }
        let mine = open.1.entry(caller.to_owned()).or_default();
        if *mine >= per_caller {
            return Err(Full::Caller(per_caller));
        }
        *mine += 1;
        open.0 += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            caller: caller.to_owned(),
        })
    }
}

/// One open stream; given back when the stream is dropped (ended, or the client went away).
pub(crate) struct StreamSlot {
    slots: Arc<StreamSlots>,
    caller: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("slots lock");
        open.0 -= 1;
        if let Some(mine) = open.1.get_mut(&self.caller) {
            *mine -= 1;
            if *mine == 0 {
                open.1.remove(&self.caller);
            }
        }
    }
}
