-- The delivery queue. One row per triggered webhook, across all its attempts.
--
-- States (see buildamp_runtime::store::Status):
--   pending     -> due at next_retry_at (now, or a scheduled time); claimable
--   sending     -> claimed by an executor (claimed_by) until lease_expires_at; an expired lease is
--                  rescued back to failed (or dead_letter when no attempt is left)
--   sent        -> delivered (2xx); pruned after the retention period
--   failed      -> a retryable failure; due again at next_retry_at
--   dead_letter -> given up (permanent failure or attempts exhausted), with the reason; retried
--                  only by hand
--
-- Secrets are never stored: `headers` holds only headers whose values are literal in the model.
-- Authorization and any header with a {VAR} are resolved when the request is built.
CREATE TABLE webhook_executions (
    id               UUID PRIMARY KEY,
    webhook_type     TEXT        NOT NULL,
    target_url       TEXT        NOT NULL,
    payload          JSONB       NOT NULL,
    headers          JSONB       NOT NULL DEFAULT '{}',
    status           TEXT        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead_letter')),
    response_status  INTEGER,
    response_body    TEXT,
    error_message    TEXT,
    attempts         INTEGER     NOT NULL DEFAULT 0,
    max_attempts     INTEGER     NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    next_retry_at    TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    correlation_id   UUID,
    application      TEXT        NOT NULL DEFAULT '',
    host             TEXT        NOT NULL DEFAULT '',
    idempotency_key  TEXT,
    -- The executor holding the row while it is `sending`, and until when.
    claimed_by       UUID,
    lease_expires_at TIMESTAMPTZ
);

-- The claim path: only claimable rows, in due order. Small because delivered rows leave it.
CREATE INDEX webhook_executions_due ON webhook_executions (next_retry_at)
    WHERE status IN ('pending', 'failed');
-- The rescuer: rows whose lease may have expired.
CREATE INDEX webhook_executions_leased ON webhook_executions (lease_expires_at)
    WHERE status = 'sending';
-- Idempotent triggers: one execution per key and application.
CREATE UNIQUE INDEX webhook_executions_idempotency ON webhook_executions (application, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The documented lookups: by status, by tenant, by correlation id.
CREATE INDEX webhook_executions_status ON webhook_executions (status, webhook_type);
CREATE INDEX webhook_executions_app_host ON webhook_executions (application, host);
CREATE INDEX webhook_executions_correlation ON webhook_executions (correlation_id)
    WHERE correlation_id IS NOT NULL;
-- Retention prunes delivered rows oldest first.
CREATE INDEX webhook_executions_delivered ON webhook_executions (sent_at)
    WHERE status = 'sent';

-- One row per HTTP attempt, kept out of the hot rows above.
CREATE TABLE webhook_attempts (
    execution_id    UUID        NOT NULL REFERENCES webhook_executions (id) ON DELETE CASCADE,
    attempt         INTEGER     NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    duration_ms     INTEGER     NOT NULL,
    response_status INTEGER,
    error_message   TEXT,
    response_body   TEXT,
    PRIMARY KEY (execution_id, attempt)
);

-- Outcome events, written in the same statement as the outcome itself, so none is lost; handed
-- to the app's handlers at least once, and deleted once a handler has taken them.
CREATE TABLE webhook_outcomes (
    id               BIGSERIAL PRIMARY KEY,
    execution_id     UUID        NOT NULL,
    kind             TEXT        NOT NULL CHECK (kind IN ('success', 'failed')),
    webhook_type     TEXT        NOT NULL,
    correlation_id   UUID,
    response_status  INTEGER,
    response_body    TEXT,
    error_message    TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    attempts         INTEGER     NOT NULL DEFAULT 0,
    available_at     TIMESTAMPTZ NOT NULL,
    lease_expires_at TIMESTAMPTZ
);
CREATE INDEX webhook_outcomes_available ON webhook_outcomes (available_at);

-- A hint to idle executors that work arrived: one notification per inserting statement
-- (Postgres folds repeats within a transaction). Executors poll as well, so a lost hint only
-- delays, never loses, a delivery.
CREATE FUNCTION buildamp_notify_executions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('buildamp_executions', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER webhook_executions_notify
    AFTER INSERT ON webhook_executions
    FOR EACH STATEMENT EXECUTE FUNCTION buildamp_notify_executions();
