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
