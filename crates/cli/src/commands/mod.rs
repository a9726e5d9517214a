//! One module per command.

pub mod backup;
pub mod db;
pub mod dead_letters;
pub mod mapping;
pub mod migrate;
pub mod reconcile;
pub mod serve;
pub mod webhooks;
