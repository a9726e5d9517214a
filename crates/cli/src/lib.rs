//! The `crmsync` command line (and the `crmsync-demo` binary behind `cargo xtask demo`).
//!
//! * [`cli`] — the clap definitions of every command (`--help` on each).
//! * [`context`] — builds the store, the two API clients, the alerter and the engine from the typed
//!   configuration (`crmsync-config`: environment variables and `.env`).
//! * [`commands`] — one module per command: `serve`, `dead-letters`, `db`, `mapping`, `webhooks`.
//! * [`webhooks`] — idempotent webhook installation shared by `crmsync webhooks install` and the demo.
//! * [`demo`] — the scripted end-to-end demo against the in-process mocks.
//!
//! Every command returns `anyhow::Result<()>`; `main` prints the error chain (`error: …: …`) and
//! exits 1. Secrets are only ever handled as `SecretString`s and never printed.

pub mod cli;
pub mod commands;
pub mod context;
pub mod demo;
pub mod output;
pub mod webhooks;

pub use cli::{Cli, Command};

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => commands::serve::run(args).await,
        Command::DeadLetters(cmd) => commands::dead_letters::run(cmd).await,
        Command::Db(cmd) => commands::db::run(cmd).await,
        Command::Mapping(cmd) => commands::mapping::run(cmd).await,
        Command::Webhooks(cmd) => commands::webhooks::run(cmd).await,
    }
}
