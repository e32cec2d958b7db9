-- The webhooks service: customers' endpoints, published events, and the link from a delivery
-- (a row of the same queue) to its endpoint and event.

CREATE TABLE endpoints (
    id UUID PRIMARY KEY,
    -- The tenant (customer) the endpoint belongs to; '' when the app has one.
    application TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- enabled, paused or disabled (see service::endpoint::EndpointStatus).
    status TEXT NOT NULL,
    environment TEXT NOT NULL,
    -- Subscriptions, filter, headers, timeout, retry policy, signing scheme and the auth kind:
    -- nothing secret.
    config JSONB NOT NULL,
    -- Signing secrets and credentials, sealed with BUILDAMP_SECRET_KEY (`v1:<key id>:...`).
    secrets TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX endpoints_by_application ON endpoints (application, created_at);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    application TEXT NOT NULL,
    event_type TEXT NOT NULL,
    version TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    data JSONB NOT NULL,
    metadata JSONB NOT NULL,
    idempotency_key TEXT,
    -- How many deliveries the fan-out created.
    deliveries INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events (application, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_by_time ON events (created_at);

ALTER TABLE webhook_executions ADD COLUMN endpoint_id UUID;
ALTER TABLE webhook_executions ADD COLUMN event_id TEXT;
-- No index over every delivery's endpoint: each status change of a row writes a new entry into
-- every index whose predicate it matches (0002_hot_path), and the hot path (pending, sending,
-- sent) must stay as light for an endpoint's row as for a `#[target]` row (measured with
-- `bench --mode fanout`). The listings that must be fast, an endpoint's failures and dead
-- letters (for retry and replay), get a partial index; an event reaches an endpoint once by
-- construction (the event's id is the primary key of `events`, inserted in the same transaction
-- as its fan-out), so no unique index is needed on the queue either.
CREATE INDEX webhook_executions_endpoint_attention ON webhook_executions (endpoint_id, created_at)
    WHERE endpoint_id IS NOT NULL AND status IN ('failed', 'dead_letter');
