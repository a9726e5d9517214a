//! Durable store (SQLite or PostgreSQL): event log, record links, dead letters, migration checkpoints.
