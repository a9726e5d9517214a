-- Shared state for many processes on one store, and history as data. Keep in step with
-- ../postgres/0003_shared_state.sql: same tables, columns, constraints and indexes; only the dialect
-- differs. SQLite's database clock is an expression in the queries (strftime('%s'/'%f', 'now')), not a
-- function: SQLite has no CREATE FUNCTION.

-- Events without an item id used to share the queue "item 0"; each one gets its own queue, keyed by
-- the negative of its event id (Monday item ids are positive).
UPDATE events SET item_id = -id WHERE item_id = 0;

-- A pause every worker honours (e.g. Salesforce REQUEST_LIMIT_EXCEEDED), one row per scope.
CREATE TABLE pauses (
    scope        TEXT    NOT NULL PRIMARY KEY,
    paused_until INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    set_at       INTEGER NOT NULL
);

-- Alert deduplication windows: the first alert of a key in a window is sent, the rest counted; once
-- the window has closed, one process claims the summary.
CREATE TABLE alert_windows (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key          TEXT    NOT NULL,
    -- 1 for the newest window of the key (open or not yet replaced), else 0
    is_current         INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
    opened_at          INTEGER NOT NULL,
    closes_at          INTEGER NOT NULL,
    suppressed         INTEGER NOT NULL DEFAULT 0,
    summary_claimed_at INTEGER
);
CREATE UNIQUE INDEX alert_windows_current ON alert_windows (alert_key) WHERE is_current = 1;
CREATE INDEX alert_windows_due ON alert_windows (closes_at) WHERE summary_claimed_at IS NULL AND suppressed > 0;

-- One row per attempt to apply an event.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    outcome     TEXT    NOT NULL
                CHECK (outcome IN ('done', 'skipped', 'failed', 'dead', 'paused', 'lease_lost')),
    error_class TEXT,
    error       TEXT,
    http_status INTEGER,
    UNIQUE (event_id, attempt)
);
CREATE INDEX attempts_finished_at ON attempts (finished_at);

-- Every webhook delivery that was refused, with what is needed to understand it.
CREATE TABLE rejected_deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at    INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    http_status    INTEGER NOT NULL,
    detail         TEXT,
    -- JSON array of [name, value] pairs, secrets removed by the caller
    headers        TEXT    NOT NULL,
    -- the body's bytes (at most the store's cap); a blob, like PostgreSQL's bytea
    body           BLOB    NOT NULL,
    body_len       INTEGER NOT NULL,
    body_truncated INTEGER NOT NULL CHECK (body_truncated IN (0, 1))
);
CREATE INDEX rejected_deliveries_received_at ON rejected_deliveries (received_at);
