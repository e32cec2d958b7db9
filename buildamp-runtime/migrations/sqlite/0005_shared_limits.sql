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
