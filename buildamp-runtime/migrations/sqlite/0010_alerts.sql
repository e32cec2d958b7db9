-- Alerts: one row per incident (a rule's condition about one subject, from the evaluation that
-- found it to the one that found it cleared). At most one open incident per key, whichever
-- process evaluates.
CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL,
    rule        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    summary     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    fired_at    INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE UNIQUE INDEX alerts_open ON alerts (key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_recent ON alerts (fired_at);

-- Each firing and resolution, written with it: the outbox of the app's alert handlers.
CREATE TABLE alert_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id     TEXT NOT NULL,
    change       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    available_at INTEGER,
    deliveries   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_events_due ON alert_events (available_at, id) WHERE available_at IS NOT NULL;
CREATE INDEX alert_events_alert ON alert_events (alert_id);
