-- Inbound webhooks (provider status events about what we sent). Times are integer microseconds.

-- The database strategy: a provider's id for a delivered message, so its status events map back
-- to the execution. Written in the transaction that marks the execution sent.
CREATE TABLE message_external_ids (
    external_id  TEXT    PRIMARY KEY,
    execution_id TEXT    NOT NULL REFERENCES webhook_executions (id) ON DELETE CASCADE,
    webhook_type TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX message_external_ids_execution ON message_external_ids (execution_id);

-- Provider events already processed: a repeated delivery is acknowledged, not processed again.
CREATE TABLE inbound_events (
    provider     TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    execution_id TEXT,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX inbound_events_received ON inbound_events (received_at);
