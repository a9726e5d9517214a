-- crmsync store schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_initial.sql:
-- same tables, columns, constraints and indexes; only the dialect differs.
-- Every timestamp is a BIGINT: Unix epoch milliseconds, UTC.

-- Every webhook delivery received, keyed by Monday's triggerUuid.
CREATE TABLE events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_uuid     TEXT    NOT NULL UNIQUE,
    board_id         BIGINT  NOT NULL,
    item_id          BIGINT  NOT NULL,
    -- 1, 2, 3… per (board_id, item_id) in order of receipt; events of an item are applied in this order.
    item_seq         BIGINT  NOT NULL,
    event_type       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'failed', 'done', 'skipped', 'dead')),
    attempts         BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  BIGINT  NOT NULL,
    received_at      BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    processed_at     BIGINT,
    lease_token      TEXT,
    claimed_by       TEXT,
    lease_expires_at BIGINT,
    UNIQUE (board_id, item_id, item_seq)
);
CREATE INDEX events_open_due ON events (status, next_attempt_at);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_updated_at ON events (updated_at);

-- At most one live lease per Monday item: the per-item mutex for claiming events.
CREATE TABLE item_locks (
    board_id         BIGINT  NOT NULL,
    item_id          BIGINT  NOT NULL,
    token            TEXT    NOT NULL,
    worker           TEXT    NOT NULL,
    lease_expires_at BIGINT  NOT NULL,
    acquired_at      BIGINT  NOT NULL,
    PRIMARY KEY (board_id, item_id)
);

-- Monday item <-> Salesforce record, unique in both directions.
CREATE TABLE record_links (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monday_board_id BIGINT  NOT NULL,
    monday_item_id  BIGINT  NOT NULL,
    sf_object       TEXT    NOT NULL,
    sf_id           TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    UNIQUE (monday_board_id, monday_item_id),
    UNIQUE (sf_object, sf_id)
);

-- One dead letter per event; a replayed event that dies again reopens its letter.
CREATE TABLE dead_letters (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      BIGINT  NOT NULL UNIQUE REFERENCES events (id),
    payload       TEXT    NOT NULL,
    error         TEXT    NOT NULL,
    sf_error_body TEXT,
    status        TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed')),
    replay_count  BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    replayed_at   BIGINT
);
CREATE INDEX dead_letters_status ON dead_letters (status, id);

CREATE TABLE migration_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stage           TEXT    NOT NULL CHECK (stage IN ('rehearsal', 'production')),
    plan_hash       TEXT    NOT NULL,
    outcome         TEXT    NOT NULL DEFAULT 'running'
                    CHECK (outcome IN ('running', 'passed', 'failed', 'aborted')),
    started_at      BIGINT  NOT NULL,
    finished_at     BIGINT,
    records_read    BIGINT  NOT NULL DEFAULT 0,
    items_created   BIGINT  NOT NULL DEFAULT 0,
    items_updated   BIGINT  NOT NULL DEFAULT 0,
    records_skipped BIGINT  NOT NULL DEFAULT 0,
    records_failed  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX migration_runs_lookup ON migration_runs (stage, plan_hash, outcome, id);

-- Every Monday item a migration run created or matched, so a killed run resumes without duplicates.
CREATE TABLE migration_checkpoints (
    run_id         BIGINT  NOT NULL REFERENCES migration_runs (id),
    sf_object      TEXT    NOT NULL,
    sf_id          TEXT    NOT NULL,
    monday_item_id BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    PRIMARY KEY (run_id, sf_object, sf_id)
);
