-- Limits every executor process shares (see protect::limit): one row per limited destination
-- (its lock and turn pointer), one row per admitted attempt.

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
