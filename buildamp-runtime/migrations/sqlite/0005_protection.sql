-- Limits, circuits and ordering (see migrations/postgres/0006_protection.sql); times are
-- microseconds since the epoch.

CREATE TABLE delivery_limits (
    key TEXT PRIMARY KEY,
    next_turn INTEGER
);

CREATE TABLE delivery_slots (
    execution_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    key TEXT NOT NULL,
    admitted_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    released_at INTEGER,
    PRIMARY KEY (execution_id, attempt)
);
CREATE INDEX delivery_slots_by_key ON delivery_slots (key);

CREATE TABLE circuits (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    failures INTEGER NOT NULL,
    failing_since INTEGER,
    cool_down_ms INTEGER NOT NULL,
    until_at INTEGER,
    probe_id TEXT,
    changed_at INTEGER NOT NULL
);

CREATE TABLE circuit_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    change TEXT NOT NULL,
    at INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    cool_down_ms INTEGER NOT NULL
);
CREATE INDEX circuit_changes_by_key ON circuit_changes (key, id);

ALTER TABLE webhook_executions ADD COLUMN ordering_key TEXT;
ALTER TABLE webhook_executions ADD COLUMN sequence INTEGER;
CREATE INDEX webhook_executions_ordered ON webhook_executions (endpoint_id, ordering_key, sequence)
    WHERE ordering_key IS NOT NULL AND status IN ('pending', 'sending', 'failed');

CREATE TABLE ordering_sequences (
    endpoint_id TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    last INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, ordering_key)
);

CREATE TABLE replays (
    id TEXT PRIMARY KEY,
    filter TEXT NOT NULL,
    after_id TEXT,
    total INTEGER NOT NULL,
    replayed INTEGER NOT NULL,
    done BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX replays_running ON replays (created_at) WHERE NOT done;
