-- Shared state for many processes on one store, and history as data. Keep in step with
-- ../sqlite/0003_shared_state.sql: same tables, columns, constraints and indexes; only the dialect differs.

-- The database clock in Unix epoch milliseconds. Every lease, due time and window is computed from it,
-- never from the clock of the process that calls the store, so processes with skewed clocks agree.
-- STABLE (one value per statement: the statement's start), so it can bound index scans.
CREATE FUNCTION crmsync_now_ms() RETURNS BIGINT
    LANGUAGE sql STABLE
    AS $$ SELECT CAST(floor(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT) $$;

-- Events without an item id used to share the queue "item 0"; each one gets its own queue, keyed by
-- the negative of its event id (Monday item ids are positive).
UPDATE events SET item_id = -id WHERE item_id = 0;

-- A pause every worker honours (e.g. Salesforce REQUEST_LIMIT_EXCEEDED), one row per scope.
CREATE TABLE pauses (
    scope       TEXT    NOT NULL PRIMARY KEY,
    paused_until BIGINT NOT NULL,
    reason      TEXT    NOT NULL,
    set_at      BIGINT  NOT NULL
);

-- Alert deduplication windows: the first alert of a key in a window is sent, the rest counted; once
-- the window has closed, one process claims the summary.
CREATE TABLE alert_windows (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_key          TEXT    NOT NULL,
    -- 1 for the newest window of the key (open or not yet replaced), else 0
    is_current         BIGINT  NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
    opened_at          BIGINT  NOT NULL,
    closes_at          BIGINT  NOT NULL,
    suppressed         BIGINT  NOT NULL DEFAULT 0,
    summary_claimed_at BIGINT
);
CREATE UNIQUE INDEX alert_windows_current ON alert_windows (alert_key) WHERE is_current = 1;
CREATE INDEX alert_windows_due ON alert_windows (closes_at) WHERE summary_claimed_at IS NULL AND suppressed > 0;

-- One row per attempt to apply an event.
CREATE TABLE attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    BIGINT  NOT NULL REFERENCES events (id),
    attempt     BIGINT  NOT NULL,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL,
    worker      TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    outcome     TEXT    NOT NULL
                CHECK (outcome IN ('done', 'skipped', 'failed', 'dead', 'paused', 'lease_lost')),
    error_class TEXT,
    error       TEXT,
    http_status BIGINT,
    UNIQUE (event_id, attempt)
);
CREATE INDEX attempts_finished_at ON attempts (finished_at);

-- Every webhook delivery that was refused, with what is needed to understand it.
CREATE TABLE rejected_deliveries (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    BIGINT  NOT NULL,
    reason         TEXT    NOT NULL,
    http_status    BIGINT  NOT NULL,
    detail         TEXT,
    -- JSON array of [name, value] pairs, secrets removed by the caller
    headers        TEXT    NOT NULL,
    -- the body's bytes (at most the store's cap); bytea, because text cannot hold NUL
    body           BYTEA   NOT NULL,
    body_len       BIGINT  NOT NULL,
    body_truncated BIGINT  NOT NULL CHECK (body_truncated IN (0, 1))
);
CREATE INDEX rejected_deliveries_received_at ON rejected_deliveries (received_at);
