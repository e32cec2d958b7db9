-- Transactions (seed 000): messages grouped under a customer's callback endpoint. The state is
-- what Rust decided (status, counts, timings, summary), stored as JSON; `version` fences updates.
CREATE TABLE transactions (
    id           TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL,
    state        TEXT NOT NULL,
    deadline     INTEGER NOT NULL,
    completed_at INTEGER,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX transactions_open ON transactions (deadline) WHERE completed_at IS NULL;
CREATE INDEX transactions_completed ON transactions (completed_at) WHERE completed_at IS NOT NULL;

-- Each message's delivery state, as its timeline adds up to (`events`: how many timeline events
-- it was computed from; a write with fewer is stale and is dropped).
CREATE TABLE transaction_messages (
    transaction_id TEXT NOT NULL,
    execution_id   TEXT NOT NULL,
    state          TEXT NOT NULL,
    final          INTEGER NOT NULL,
    events         INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, execution_id)
);
