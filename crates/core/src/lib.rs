//! Pure domain model: mapping configuration, value transforms and sync planning (no I/O).
