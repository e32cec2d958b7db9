-- The queue core (see migrations/postgres/0004_queue_core.sql). SQLite cannot drop a column's
-- default without rebuilding the table; the store writes every column it inserts, so the old
-- defaults are never used.

ALTER TABLE webhook_executions ADD COLUMN branches TEXT NOT NULL DEFAULT '{}';

DROP INDEX webhook_executions_idempotency;
CREATE UNIQUE INDEX webhook_executions_idempotency
    ON webhook_executions (application, webhook_type, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE inbound_events ADD COLUMN event TEXT NOT NULL DEFAULT 'null';
ALTER TABLE inbound_events ADD COLUMN available_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_events ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbound_events ADD COLUMN handled_at INTEGER;
UPDATE inbound_events SET available_at = received_at, handled_at = received_at;
CREATE INDEX inbound_events_unhandled ON inbound_events (available_at) WHERE handled_at IS NULL;
