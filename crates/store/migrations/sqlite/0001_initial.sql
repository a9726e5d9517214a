-- crmsync store schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql:
-- same tables, columns, constraints and indexes; only the dialect differs.
-- Every timestamp is an INTEGER: Unix epoch milliseconds, UTC.

-- Every webhook delivery received, keyed by Monday's triggerUuid.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_uuid     TEXT    NOT NULL UNIQUE,
    board_id         INTEGER NOT NULL,
    item_id          INTEGER NOT NULL,
    -- 1, 2, 3… per (board_id, item_id) in order of receipt; events of an item are applied in this order.
    item_seq         INTEGER NOT NULL,
    event_type       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'failed', 'done', 'skipped', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    processed_at     INTEGER,
    lease_token      TEXT,
    claimed_by       TEXT,
    lease_expires_at INTEGER,
    UNIQUE (board_id, item_id, item_seq)
);
CREATE INDEX events_open_due ON events (status, next_attempt_at);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_updated_at ON events (updated_at);

-- At most one live lease per Monday item: the per-item mutex for claiming events.
CREATE TABLE item_locks (
    board_id         INTEGER NOT NULL,
    item_id          INTEGER NOT NULL,
    token            TEXT    NOT NULL,
    worker           TEXT    NOT NULL,
    lease_expires_at INTEGER NOT NULL,
    acquired_at      INTEGER NOT NULL,
    PRIMARY KEY (board_id, item_id)
);

-- Monday item <-> Salesforce record, unique in both directions.
CREATE TABLE record_links (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    monday_board_id INTEGER NOT NULL,
    monday_item_id  INTEGER NOT NULL,
    sf_object       TEXT    NOT NULL,
    sf_id           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (monday_board_id, monday_item_id),
    UNIQUE (sf_object, sf_id)
);

-- One dead letter per event; a replayed event that dies again reopens its letter.
CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      INTEGER NOT NULL UNIQUE REFERENCES events (id),
    payload       TEXT    NOT NULL,
    error         TEXT    NOT NULL,
    sf_error_body TEXT,
    status        TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed')),
    replay_count  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    replayed_at   INTEGER
);
CREATE INDEX dead_letters_status ON dead_letters (status, id);

CREATE TABLE migration_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    stage           TEXT    NOT NULL CHECK (stage IN ('rehearsal', 'production')),
    plan_hash       TEXT    NOT NULL,
    outcome         TEXT    NOT NULL DEFAULT 'running'
                    CHECK (outcome IN ('running', 'passed', 'failed', 'aborted')),
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    records_read    INTEGER NOT NULL DEFAULT 0,
    items_created   INTEGER NOT NULL DEFAULT 0,
    items_updated   INTEGER NOT NULL DEFAULT 0,
    records_skipped INTEGER NOT NULL DEFAULT 0,
    records_failed  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX migration_runs_lookup ON migration_runs (stage, plan_hash, outcome, id);

-- Every Monday item a migration run created or matched, so a killed run resumes without duplicates.
CREATE TABLE migration_checkpoints (
    run_id         INTEGER NOT NULL REFERENCES migration_runs (id),
    sf_object      TEXT    NOT NULL,
    sf_id          TEXT    NOT NULL,
    monday_item_id INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (run_id, sf_object, sf_id)
);
