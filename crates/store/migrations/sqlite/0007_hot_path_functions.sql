-- Issue #16 made the event log's hot path one round trip per claim and per settlement on PostgreSQL
-- (../postgres/0007_hot_path_functions.sql: the functions crmsync_claim and crmsync_settle). SQLite
-- runs in-process, so it keeps the same statements in Rust (crates/store/src/events.rs) and its
-- schema is unchanged; this file keeps the migration numbers of both backends in step.
SELECT 1;
