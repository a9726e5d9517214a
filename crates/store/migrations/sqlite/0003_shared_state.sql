-- Shared state for many processes on one store, and history as data. Keep in step with
-- ../postgres/0003_shared_state.sql: same tables, columns, constraints and indexes; only the dialect
-- differs. SQLite's database clock is an expression in the queries (strftime('%s'/'%f', 'now')), not a
-- function: SQLite has no CREATE FUNCTION.

-- Events without an item id used to share the queue "item 0"; each one gets its own queue, keyed by
-- the negative of its event id (Monday item ids are positive).
UPDATE events SET item_id = -id WHERE item_id = 0;
