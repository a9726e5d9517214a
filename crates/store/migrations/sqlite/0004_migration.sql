-- Migration (Salesforce -> Monday) state beyond runs and checkpoints. Keep the sqlite and postgres
-- versions of this file identical in tables, columns and keys.

-- The plans `crmsync migrate plan` computed, by hash (mapping + queries + the boards' column ids and
-- types): what the operator saw before rehearsing.
CREATE TABLE migration_plans (
    plan_hash  TEXT    NOT NULL PRIMARY KEY,
    plan_json  TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- An intent is written before a batch of creates is sent, a checkpoint after: an intent of a run
-- without a checkpoint is a create whose outcome is unknown, reconciled (by looking the item up on
-- Monday by the Salesforce Id column) before anything is created again.
CREATE TABLE migration_intents (
    run_id     BIGINT  NOT NULL REFERENCES migration_runs (id),
    sf_object  TEXT    NOT NULL,
    sf_id      TEXT    NOT NULL,
    board_id   BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (run_id, sf_object, sf_id)
);

-- The delta cursor of `--since last`: the (SystemModstamp, Id) of the last record of the last
-- successful run of a plan, per object. Saved only when a run succeeds.
CREATE TABLE migration_cursors (
    plan_hash  TEXT    NOT NULL,
    sf_object  TEXT    NOT NULL,
    modstamp   TEXT    NOT NULL,
    last_id    TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (plan_hash, sf_object)
);
