-- Reconciliation sweeps and drift reports. Keep in step with ../postgres/0005_reconcile.sql: same
-- tables, columns, constraints and indexes; only the dialect differs.

-- What crmsync last applied to Salesforce per Monday item: a hash of each mapped column's value
-- (key "name" for the item name), as a JSON object, and one hash over all of them. A sweep compares
-- the item's current values with these; equal means "nothing to apply" (also for crmsync's own
-- writes and for changes a webhook already brought).
CREATE TABLE applied_values (
    board_id    INTEGER NOT NULL,
    item_id     INTEGER NOT NULL,
    hashes      TEXT   NOT NULL,
    values_hash TEXT   NOT NULL,
    applied_at  INTEGER NOT NULL,
    PRIMARY KEY (board_id, item_id)
);

-- Per board: the end of the window the last passed sweep covered (`--since last` starts there).
CREATE TABLE sweep_cursors (
    board_id     INTEGER NOT NULL PRIMARY KEY,
    swept_until  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- One row per sweep (CLI or schedule), with its summary.
CREATE TABLE sweep_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_kind  TEXT   NOT NULL,
    dry_run       INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    boards        TEXT   NOT NULL,
    since_ms      INTEGER,
    until_ms      INTEGER NOT NULL,
    outcome       TEXT   NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'passed', 'failed')),
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    items_checked INTEGER NOT NULL DEFAULT 0,
    events_stored INTEGER NOT NULL DEFAULT 0,
    log_entries   INTEGER NOT NULL DEFAULT 0,
    full_reads    INTEGER NOT NULL DEFAULT 0,
    complexity    INTEGER NOT NULL DEFAULT 0,
    error         TEXT
);
CREATE INDEX sweep_runs_started ON sweep_runs (started_at);

-- The result of each `crmsync drift` (the status page links the last one).
CREATE TABLE drift_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    boards      TEXT   NOT NULL,
    drifted     INTEGER NOT NULL,
    report      TEXT   NOT NULL
);
