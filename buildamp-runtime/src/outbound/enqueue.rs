//! Enqueueing and publishing inside the caller's own database transaction (the outbox pattern):
//! rolled back, nothing is sent; committed, it will be. Get one from `Runtime::transaction`.

use super::prepare;
use super::trigger::{Enqueue, NewExecution};
use crate::clock::Clock;
use crate::env::Env;
use crate::service::publish::{EventToPublish, Plan, Publish, PublishError, plan};
use crate::service::state::ServiceState;
use crate::store::{Enqueued, PgStore, Published, SqliteStore};

/// Enqueues inside the caller's own Postgres transaction.
pub struct PgTransactionQueue<'c> {
    pub(crate) conn: &'c mut sqlx::PgConnection,
    pub(crate) env: &'c (dyn Env + Send + Sync),
    pub(crate) clock: &'c dyn Clock,
    pub(crate) service: &'c ServiceState,
}

impl Enqueue for PgTransactionQueue<'_> {
    async fn enqueue(
        self,
        execution: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        let now = self.clock.now();
        let row = prepare::row(execution, self.env, now);
        let mut enqueued = PgStore::insert_in(self.conn, now, vec![row]).await?;
        Ok(enqueued.pop().expect("one row in, one result out"))
    }
}

/// Enqueues inside the caller's own SQLite transaction.
pub struct SqliteTransactionQueue<'c> {
    pub(crate) conn: &'c mut sqlx::SqliteConnection,
    pub(crate) store: &'c SqliteStore,
    pub(crate) env: &'c (dyn Env + Send + Sync),
    pub(crate) clock: &'c dyn Clock,
    pub(crate) service: &'c ServiceState,
}

impl Enqueue for SqliteTransactionQueue<'_> {
    async fn enqueue(
        self,
        execution: NewExecution,
    ) -> Result<Enqueued, Box<dyn std::error::Error + Send + Sync>> {
        let now = self.clock.now();
        let row = prepare::row(execution, self.env, now);
        let mut enqueued = self.store.insert_in(self.conn, now, vec![row]).await?;
        Ok(enqueued.pop().expect("one row in, one result out"))
    }
}

impl Publish for PgTransactionQueue<'_> {
    async fn publish_event(self, event: EventToPublish) -> Result<Published, PublishError> {
        let now = self.clock.now();
        let Plan { event, deliveries } = plan(event, now);
        let route = |row: &_| deliveries.route(self.service, row, now);
        Ok(PgStore::publish_in(self.conn, now, event, &route).await?)
    }
}

impl Publish for SqliteTransactionQueue<'_> {
    async fn publish_event(self, event: EventToPublish) -> Result<Published, PublishError> {
        let now = self.clock.now();
        let Plan { event, deliveries } = plan(event, now);
        let route = |row: &_| deliveries.route(self.service, row, now);
        Ok(self.store.publish_in(self.conn, now, event, &route).await?)
    }
}
