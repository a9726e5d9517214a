//! The test kit (not published): everything tests, the demo and (later) replay, benchmarks and
//! the chaos suite need to run crmsync against the in-repo mocks.
//!
//! * [`harness`] — [`spawn_app`]: both mocks, a fresh store, the app on a socket, a store proxy,
//!   a fake Telegram, webhooks installed; [`both_stores!`] runs one test body on SQLite and
//!   PostgreSQL.
//! * [`seed`] — `fixtures/seed` and its ids (board ids, the mock's OAuth client), named once.
//! * [`pg`] — fresh PostgreSQL databases that are dropped afterwards, and the store proxy.
//! * [`telegram`] — a fake Telegram Bot API.
//! * [`sf_rest`] — reads the mock Salesforce through its REST API, independently of crmsync's client.
//! * [`lambda_emulator`] — the AWS Lambda Runtime API, to run the built `bootstrap` as Lambda would;
//!   [`lambda_suite`] — the artifact suite on it (binary `crmsync-lambda-test`, `cargo xtask lambda test`).
//! * [`replay`] — replays `fixtures/` scenarios through the receiver and engine and compares the
//!   outcome with their insta snapshots (binary `crmsync-replay`, `cargo xtask replay`).
//! * [`bench`] — `cargo xtask bench` (binary `crmsync-bench`): webhook → Salesforce, mapping
//!   and planning, BENCHMARKS.md and its plot.
//! * [`chaos`] — `cargo xtask chaos` (binary `crmsync-chaos`): the fault matrix, RELIABILITY.md.
//! * [`demo`] — the scripted demo behind `cargo xtask demo` (binary `crmsync-demo`).
//!
//! This is the only crate outside `mock-servers/` that depends on the mocks other than as a
//! dev-dependency (`cargo xtask tidy` checks it).

pub mod bench;
pub mod chaos;
pub mod demo;
pub mod harness;
pub mod lambda_emulator;
pub mod lambda_suite;
pub mod moto;
pub mod pg;
pub mod replay;
pub mod seed;
pub mod sf_rest;
pub mod telegram;

pub use harness::{
    jwt_for, spawn_app, spawn_app_with, Db, Options, TestApp, SIGNING_SECRET, STATUS_TOKEN,
};
pub use pg::{pg_database_exists, pg_url, PgDatabase, Proxy};
pub use seed::boards::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
pub use seed::{seed_dir, seed_mapping};
pub use sf_rest::SfRest;
pub use telegram::FakeTelegram;
