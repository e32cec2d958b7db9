-- The queue core: every value the store writes is decided in Rust (buildamp_runtime::queue).

-- No column chooses a value by itself: the store writes every one it inserts.
ALTER TABLE webhook_executions
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN attempts DROP DEFAULT,
    ALTER COLUMN max_attempts DROP DEFAULT,
    ALTER COLUMN headers DROP DEFAULT,
    ALTER COLUMN application DROP DEFAULT,
    ALTER COLUMN host DROP DEFAULT;

-- The `if_env!` branches chosen when the trigger was stored ({"DEVELOPMENT": true}), so the
-- request's auth and headers come from the same branch as its stored URL. Rows from before
-- chose nothing (`{}`): they are built from the executor's environment, as they were.
ALTER TABLE webhook_executions ADD COLUMN branches JSONB NOT NULL DEFAULT '{}';
ALTER TABLE webhook_executions ALTER COLUMN branches DROP DEFAULT;

-- Idempotency keys are scoped to one webhook (and application): the same key used for two
-- webhooks makes two executions.
DROP INDEX webhook_executions_idempotency;
CREATE UNIQUE INDEX webhook_executions_idempotency
    ON webhook_executions (application, webhook_type, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Inbound events are recorded before they are acknowledged, then handed to the handlers with a
-- lease (like outcome events): an interrupted handler's event is handed over again. Rows from
-- before were handled already.
ALTER TABLE inbound_events
    ADD COLUMN event JSONB NOT NULL DEFAULT 'null',
    ADD COLUMN available_at TIMESTAMPTZ,
    ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN handled_at TIMESTAMPTZ;
UPDATE inbound_events SET available_at = received_at, handled_at = received_at;
ALTER TABLE inbound_events
    ALTER COLUMN event DROP DEFAULT,
    ALTER COLUMN deliveries DROP DEFAULT,
    ALTER COLUMN available_at SET NOT NULL;
CREATE INDEX inbound_events_unhandled ON inbound_events (available_at) WHERE handled_at IS NULL;
