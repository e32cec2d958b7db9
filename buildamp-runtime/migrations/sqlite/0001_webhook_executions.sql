-- The delivery queue on SQLite: the same tables and states as on Postgres (see
-- migrations/postgres/0001_webhook_executions.sql for the state machine).
--
-- Types: ids are hyphenated UUID text; JSON is text; times are integer microseconds since the
-- Unix epoch (text timestamps only compare correctly in one fixed format).
CREATE TABLE webhook_executions (
    id               TEXT    PRIMARY KEY,
    webhook_type     TEXT    NOT NULL,
    target_url       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    headers          TEXT    NOT NULL DEFAULT '{}',
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead_letter')),
    response_status  INTEGER,
    response_body    TEXT,
    error_message    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    next_retry_at    INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    correlation_id   TEXT,
    application      TEXT    NOT NULL DEFAULT '',
    host             TEXT    NOT NULL DEFAULT '',
    idempotency_key  TEXT,
    claimed_by       TEXT,
    lease_expires_at INTEGER
);

CREATE INDEX webhook_executions_due ON webhook_executions (next_retry_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_executions_leased ON webhook_executions (lease_expires_at)
    WHERE status = 'sending';
CREATE UNIQUE INDEX webhook_executions_idempotency ON webhook_executions (application, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX webhook_executions_attention ON webhook_executions (webhook_type, created_at)
    WHERE status IN ('failed', 'dead_letter');
CREATE INDEX webhook_executions_app_host ON webhook_executions (application, host);
CREATE INDEX webhook_executions_correlation ON webhook_executions (correlation_id)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX webhook_executions_delivered ON webhook_executions (sent_at)
    WHERE status = 'sent';

CREATE TABLE webhook_attempts (
    execution_id    TEXT    NOT NULL REFERENCES webhook_executions (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    response_status INTEGER,
    error_message   TEXT,
    response_body   TEXT,
    PRIMARY KEY (execution_id, attempt)
);

CREATE TABLE webhook_outcomes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id     TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('success', 'failed')),
    webhook_type     TEXT    NOT NULL,
    correlation_id   TEXT,
    response_status  INTEGER,
    response_body    TEXT,
    error_message    TEXT,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    available_at     INTEGER NOT NULL
);
CREATE INDEX webhook_outcomes_available ON webhook_outcomes (available_at);
