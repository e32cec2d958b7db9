-- Health events (see store::circuits): the log of destinations' health changes (a circuit's
-- changes, an endpoint disabled or enabled again) is also the outbox of the app's health
-- handlers, written in the transaction that makes the change.
ALTER TABLE circuit_changes RENAME TO health_changes;
DROP INDEX circuit_changes_by_key;
CREATE INDEX health_changes_by_key ON health_changes (key, id);
-- Why, when an endpoint was disabled.
ALTER TABLE health_changes ADD COLUMN reason TEXT;
-- When handlers may take the change next; NULL once every handler has taken it (changes logged
-- before this migration count as taken).
ALTER TABLE health_changes ADD COLUMN available_at INTEGER;
ALTER TABLE health_changes ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 0;
CREATE INDEX health_changes_due ON health_changes (available_at, id) WHERE available_at IS NOT NULL;
