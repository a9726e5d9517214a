//! The `crmsync` command line: a thin clap layer over the composition root (`crmsync-app`).
//!
//! * [`cli`] — the clap definitions of every command (`--help` on each).
//! * [`commands`] — one module per command: `serve`, `dead-letters`, `db`, `mapping`, `webhooks`,
//!   `reconcile`, `drift`;
//!   each builds what it needs through `crmsync_app` (`App::from_config`, `clients::*`).
//! * [`output`] — tables and JSON on stdout.
//!
//! Every command returns `anyhow::Result<()>`; `main` prints the error chain (`error: …: …`) and
//! exits 1. Secrets are only ever handled as `SecretString`s and never printed.

pub mod cli;
pub mod commands;
pub mod output;

pub use cli::{Cli, Command};

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => commands::serve::run(args).await,
        Command::DeadLetters(cmd) => commands::dead_letters::run(cmd).await,
        Command::Db(cmd) => commands::db::run(cmd).await,
        Command::Mapping(cmd) => commands::mapping::run(cmd).await,
        Command::Webhooks(cmd) => commands::webhooks::run(cmd).await,
        Command::Reconcile(args) => commands::reconcile::run(args).await,
        Command::Drift(args) => commands::reconcile::drift(args).await,
        Command::Migrate(cmd) => commands::migrate::run(cmd).await,
        Command::Backup(args) => commands::backup::backup(args).await,
        Command::Restore(args) => commands::backup::restore(args).await,
    }
}

/// An error that ends `crmsync` with a specific exit status (`main` prints the message and exits
/// with `code`; every other error exits 1).
#[derive(Debug)]
pub struct Exit {
    /// Exit status.
    pub code: i32,
    /// What to print.
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}
