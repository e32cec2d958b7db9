-- Protecting destinations (see protect): limits and circuits every executor process shares,
-- ordered delivery, and replays.

-- Limits (see protect::limit): one row per limited destination (its lock and turn pointer), one
-- row per admitted attempt.

CREATE TABLE delivery_limits (
    -- `endpoint:<id>` or `target:<WebhookType>`.
    key TEXT PRIMARY KEY,
    -- The next free turn for a delivery that is refused now.
    next_turn TIMESTAMPTZ
);

CREATE TABLE delivery_slots (
    execution_id UUID NOT NULL,
    attempt INTEGER NOT NULL,
    key TEXT NOT NULL,
    admitted_at TIMESTAMPTZ NOT NULL,
    -- Unreleased past this, the slot's executor is presumed dead.
    lease_until TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ,
    PRIMARY KEY (execution_id, attempt)
);
CREATE INDEX delivery_slots_by_key ON delivery_slots (key);

-- Circuit breakers every executor process shares (see protect::breaker): one row per destination
-- that has failed, and the log of state changes for the operator.
CREATE TABLE circuits (
    key TEXT PRIMARY KEY,
    -- closed, open or half_open.
    state TEXT NOT NULL,
    failures INTEGER NOT NULL,
    failing_since TIMESTAMPTZ,
    cool_down_ms BIGINT NOT NULL,
    -- Open: when the cool-down ends; half-open: when the probe's lease ends.
    until_at TIMESTAMPTZ,
    probe_id UUID,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE circuit_changes (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    -- opened, reopened or closed.
    change TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    failures INTEGER NOT NULL,
    cool_down_ms BIGINT NOT NULL
);
CREATE INDEX circuit_changes_by_key ON circuit_changes (key, id);

-- Ordered endpoints: a delivery's ordering key and its number within its endpoint and key. The
-- claim holds back a row while an earlier one of its key is unsettled; the index serves that
-- check and holds only ordered rows that are not settled, so other rows never enter it.
ALTER TABLE webhook_executions ADD COLUMN ordering_key TEXT;
ALTER TABLE webhook_executions ADD COLUMN sequence BIGINT;
CREATE INDEX webhook_executions_ordered ON webhook_executions (endpoint_id, ordering_key, sequence)
    WHERE ordering_key IS NOT NULL AND status IN ('pending', 'sending', 'failed');

CREATE TABLE ordering_sequences (
    endpoint_id UUID NOT NULL,
    ordering_key TEXT NOT NULL,
    last BIGINT NOT NULL,
    -- When a delivery last took a number: counters idle past the retention period (with nothing
    -- of their key unsettled) are pruned.
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (endpoint_id, ordering_key)
);

-- Replays: a job retries every dead letter its filter matches, in id order; the cursor moves in
-- the same transaction as the retries it covers (see store::replays).
CREATE TABLE replays (
    id UUID PRIMARY KEY,
    filter JSONB NOT NULL,
    after_id UUID,
    total BIGINT NOT NULL,
    replayed BIGINT NOT NULL,
    done BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX replays_running ON replays (created_at) WHERE NOT done;
