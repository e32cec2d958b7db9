-- Attempts rolled up per minute and per hour (`span`, in seconds; `minute` is the period's
-- start), webhook and endpoint ('' for a #[target]), written in the statement that records
-- them: what analytics read instead of the attempt log (a month is 720 hourly rows a series).
-- `b0`..`b10` count attempts per latency bucket (bounds in `store::stats::LATENCY_BOUNDS_MS`,
-- the last unbounded).
CREATE TABLE delivery_stats (
    span         INTEGER NOT NULL,
    minute       TIMESTAMPTZ NOT NULL,
    webhook_type TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    sent         BIGINT NOT NULL,
    retried      BIGINT NOT NULL,
    dead_letter  BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    b0 BIGINT NOT NULL, b1 BIGINT NOT NULL, b2 BIGINT NOT NULL, b3 BIGINT NOT NULL,
    b4 BIGINT NOT NULL, b5 BIGINT NOT NULL, b6 BIGINT NOT NULL, b7 BIGINT NOT NULL,
    b8 BIGINT NOT NULL, b9 BIGINT NOT NULL, b10 BIGINT NOT NULL,
    PRIMARY KEY (span, minute, webhook_type, endpoint)
);
