-- Transactions (seed 000): messages grouped under a customer's callback endpoint. The state is
-- what Rust decided (status, counts, timings, summary), stored as JSON; `version` fences updates.
CREATE TABLE transactions (
    id           UUID PRIMARY KEY,
    endpoint_id  UUID NOT NULL,
    state        JSONB NOT NULL,
    deadline     TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    version      BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX transactions_open ON transactions (deadline) WHERE completed_at IS NULL;
CREATE INDEX transactions_completed ON transactions (completed_at) WHERE completed_at IS NOT NULL;

-- Each message's delivery state, as its timeline adds up to (`events`: how many timeline events
-- it was computed from; a write with fewer is stale and is dropped).
CREATE TABLE transaction_messages (
    transaction_id UUID NOT NULL,
    execution_id   UUID NOT NULL,
    state          TEXT NOT NULL,
    final          BOOLEAN NOT NULL,
    events         INTEGER NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (transaction_id, execution_id)
);
