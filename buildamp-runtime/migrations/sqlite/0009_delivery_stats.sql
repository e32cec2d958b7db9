-- Attempts rolled up per minute and per hour (`span`, in seconds; `minute` is the period's
-- start), webhook and endpoint ('' for a #[target]), written in the statement that records
-- them: what analytics read instead of the attempt log (a month is 720 hourly rows a series).
-- `b0`..`b10` count attempts per latency bucket (bounds in `store::stats::LATENCY_BOUNDS_MS`,
-- the last unbounded).
CREATE TABLE delivery_stats (
    span         INTEGER NOT NULL,
    minute       INTEGER NOT NULL,
    webhook_type TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    sent         INTEGER NOT NULL,
    retried      INTEGER NOT NULL,
    dead_letter  INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL,
    b4 INTEGER NOT NULL, b5 INTEGER NOT NULL, b6 INTEGER NOT NULL, b7 INTEGER NOT NULL,
    b8 INTEGER NOT NULL, b9 INTEGER NOT NULL, b10 INTEGER NOT NULL,
    PRIMARY KEY (span, minute, webhook_type, endpoint)
);
