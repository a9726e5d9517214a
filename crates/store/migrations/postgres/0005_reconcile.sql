-- Reconciliation sweeps and drift reports. Keep in step with ../sqlite/0005_reconcile.sql: same
-- tables, columns, constraints and indexes; only the dialect differs.

-- What crmsync last applied to Salesforce per Monday item: a hash of each mapped column's value
-- (key "name" for the item name), as a JSON object, and one hash over all of them. A sweep compares
-- the item's current values with these; equal means "nothing to apply" (also for crmsync's own
-- writes and for changes a webhook already brought).
CREATE TABLE applied_values (
    board_id    BIGINT NOT NULL,
    item_id     BIGINT NOT NULL,
    hashes      TEXT   NOT NULL,
    values_hash TEXT   NOT NULL,
    applied_at  BIGINT NOT NULL,
    PRIMARY KEY (board_id, item_id)
);

-- Per board: the end of the window the last passed sweep covered (`--since last` starts there).
CREATE TABLE sweep_cursors (
    board_id     BIGINT NOT NULL PRIMARY KEY,
    swept_until  BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- One row per sweep (CLI or schedule), with its summary.
CREATE TABLE sweep_runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_kind  TEXT   NOT NULL,
    dry_run       BIGINT NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    boards        TEXT   NOT NULL,
    since_ms      BIGINT,
    until_ms      BIGINT NOT NULL,
    outcome       TEXT   NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'passed', 'failed')),
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    items_checked BIGINT NOT NULL DEFAULT 0,
    events_stored BIGINT NOT NULL DEFAULT 0,
    log_entries   BIGINT NOT NULL DEFAULT 0,
    full_reads    BIGINT NOT NULL DEFAULT 0,
    complexity    BIGINT NOT NULL DEFAULT 0,
    error         TEXT
);
CREATE INDEX sweep_runs_started ON sweep_runs (started_at);

-- The result of each `crmsync drift` (the status page links the last one).
CREATE TABLE drift_reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    boards      TEXT   NOT NULL,
    drifted     BIGINT NOT NULL,
    report      TEXT   NOT NULL
);
