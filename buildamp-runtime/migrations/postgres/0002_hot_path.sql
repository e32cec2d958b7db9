-- Lighter state transitions, measured with the bench harness (examples/bench.rs).

-- NOTIFY from every inserting statement serialised concurrent commits behind Postgres's
-- notification lock (single-row triggers ran at half speed). Notifications now come from the
-- application, coalesced to at most one per process per few milliseconds, and from inside a
-- caller's transaction for transactional enqueues. They remain a hint: executors also poll.
DROP TRIGGER webhook_executions_notify ON webhook_executions;
DROP FUNCTION buildamp_notify_executions();

-- Every status change writes a new row version into each index whose predicate matches it. An
-- index over all rows' five-valued status paid that on every transition and served little:
-- pending and sending rows have their own partial indexes, sent rows theirs. The statuses worth
-- listing (failures, dead letters) keep one, in the order their listings and bulk retries use.
DROP INDEX webhook_executions_status;
CREATE INDEX webhook_executions_attention ON webhook_executions (webhook_type, created_at)
    WHERE status IN ('failed', 'dead_letter');
