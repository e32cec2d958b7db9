-- Limits shared by every executor (see migrations/postgres/0006_shared_limits.sql); times are
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
