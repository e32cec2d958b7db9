-- Inbound webhooks (provider status events about what we sent).

-- The database strategy: a provider's id for a delivered message (read from its response, where
-- the target's `external_id` says), so its status events map back to the execution. Written in
-- the same statement that marks the execution sent.
CREATE TABLE message_external_ids (
    external_id  TEXT        PRIMARY KEY,
    execution_id UUID        NOT NULL REFERENCES webhook_executions (id) ON DELETE CASCADE,
    webhook_type TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX message_external_ids_execution ON message_external_ids (execution_id);

-- Provider events already processed: a repeated delivery (same provider and event id) is
-- acknowledged without being processed again.
CREATE TABLE inbound_events (
    provider     TEXT        NOT NULL,
    event_id     TEXT        NOT NULL,
    kind         TEXT        NOT NULL,
    execution_id UUID,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX inbound_events_received ON inbound_events (received_at);
