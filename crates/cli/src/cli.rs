//! Command-line definitions (clap derive).

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Configuration comes from environment variables (and a .env file in the current directory):
  DATABASE_URL (default sqlite://crmsync.db), CRMSYNC_MAPPING (default mapping.toml),
  SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET (or SALESFORCE_USERNAME +
  SALESFORCE_PRIVATE_KEY, or SALESFORCE_REFRESH_TOKEN), SALESFORCE_API_VERSION,
  MONDAY_API_URL, MONDAY_API_TOKEN, MONDAY_API_VERSION, MONDAY_SIGNING_SECRET, MONDAY_WEBHOOK_TOKEN,
  TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID, TELEGRAM_API_URL, CRMSYNC_STATUS_TOKEN.
Logs go to stderr (RUST_LOG filters them; CRMSYNC_LOG_FORMAT=json for JSON lines).";

/// crmsync: keeps Monday.com boards and Salesforce in sync.
#[derive(Debug, Parser)]
#[command(name = "crmsync", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the webhook receiver (POST /webhooks/monday, GET /healthz, GET /status) and the
    /// background worker that applies events to Salesforce. Stops cleanly on Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// List, inspect and replay events that failed permanently.
    #[command(subcommand)]
    DeadLetters(DeadLettersCmd),
    /// Database administration.
    #[command(subcommand)]
    Db(DbCmd),
    /// Check the mapping file.
    #[command(subcommand)]
    Mapping(MappingCmd),
    /// Register, list and remove the Monday webhooks of the mapped boards.
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Find what changed on the mapped boards without webhooks (Monday's activity log, or a paged
    /// read compared with what crmsync last applied) and store it as events that the engine
    /// applies like webhooks. Safe to repeat: a second sweep stores nothing.
    Reconcile(ReconcileArgs),
    /// Report every mapped field where Salesforce and Monday disagree for linked items, and the
    /// items on either side with no partner, with what would fix each. Exits 1 when anything
    /// drifts.
    Drift(DriftArgs),
    /// Migrate Salesforce records to Monday items: snapshot, plan, rehearse against mocks, run
    /// resumably, verify, re-run for deltas.
    #[command(subcommand)]
    Migrate(MigrateCmd),
    /// Back up the sync state (events, links, dead letters, migration runs and checkpoints) to
    /// S3: what changed since the last backup there, as gzipped JSON Lines parts with a manifest
    /// (row counts and sha256 per part). Safe while crmsync runs. Payloads are kept, redacted or
    /// excluded per CRMSYNC_BACKUP_PAYLOADS (keep|redact|exclude).
    Backup(BackupArgs),
    /// Rebuild the sync state from the backups under an S3 prefix into an empty store (the
    /// manifest and every part's sha256 are checked first; a non-empty store is refused unless
    /// --force).
    Restore(RestoreArgs),
}

/// `crmsync backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where: `s3://bucket/prefix`.
    #[arg(long)]
    pub to: String,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `crmsync restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// From where: `s3://bucket/prefix` (the chain ending at its latest backup).
    #[arg(long)]
    pub from: String,
    /// Upsert over a store that is not empty.
    #[arg(long)]
    pub force: bool,
}

/// `crmsync reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Window start: `last` (where the board's last sweep ended; a board never swept is read in
    /// full), a duration such as `90m`, `6h`, `3d`, or `all` (read every item).
    #[arg(long, default_value = "last")]
    pub since: String,
    /// Only these board ids (comma-separated; default every mapped board).
    #[arg(long, value_delimiter = ',')]
    pub boards: Vec<String>,
    /// Compare and list what would be stored; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not apply the stored events here (a running `crmsync serve` applies them).
    #[arg(long)]
    pub no_apply: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `crmsync drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only these board ids (comma-separated; default every mapped board).
    #[arg(long, value_delimiter = ',')]
    pub boards: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The stage of `crmsync migrate run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StageArg {
    /// Against mocks seeded from a snapshot (the `mock-crm` binary, started as a child process on
    /// loopback); records that this plan hash passed.
    Rehearsal,
    /// Against the configured Salesforce and Monday; refused (exit 2) unless a rehearsal of the
    /// same plan hash passed.
    Production,
}

/// `crmsync migrate …`.
#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Pull what a rehearsal needs from the configured Salesforce and Monday (the records the plan
    /// selects, the describes, the boards' columns and items) into DIR, in the mocks' seed format.
    Snapshot {
        /// Output directory (created).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
        /// Replace personal data (names, emails, phones, addresses, free text) with stable fakes
        /// that keep uniqueness and relations.
        #[arg(long)]
        redact: bool,
    },
    /// Per object: the SOQL, the record count, the target board, existing items, how many would be
    /// created / updated / unchanged, problems, estimates and missing labels. Stores the plan hash.
    Plan {
        /// Only these objects (comma-separated, e.g. Lead,Account).
        #[arg(long, value_delimiter = ',')]
        objects: Option<Vec<String>>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Run the migration (see --stage). Exit 0 when every record was migrated, 1 when any failed
    /// (with the report), 2 when refused.
    Run {
        /// rehearsal or production.
        #[arg(long, value_enum)]
        stage: StageArg,
        /// Rehearsal: the snapshot directory the mocks start from (default: a fresh snapshot of the
        /// configured systems, taken first).
        #[arg(long, value_name = "DIR")]
        snapshot: Option<std::path::PathBuf>,
        /// Continue the latest unfinished run of this plan (any later run reconciles too).
        #[arg(long)]
        resume: bool,
        /// Print the diff (items to create, columns to change) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// `last`: only records modified since the last successful run of this plan.
        #[arg(long, value_name = "last")]
        since: Option<String>,
        /// Only these objects (comma-separated).
        #[arg(long, value_delimiter = ',')]
        objects: Option<Vec<String>>,
        /// Where the JSON report goes.
        #[arg(long, value_name = "FILE", default_value = "migration-report.json")]
        report: std::path::PathBuf,
        /// The `mock-crm` binary for the rehearsal (default: CRMSYNC_MOCK_CRM, else next to this
        /// executable).
        #[arg(long, value_name = "PATH", env = "CRMSYNC_MOCK_CRM")]
        mock_crm: Option<std::path::PathBuf>,
        /// Print the report as JSON on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compare both sides: counts and every mapped field and relation. Exit 0 when nothing
    /// differs, 1 with a report (object, record Id, item id, field, Salesforce value, Monday value).
    Verify {
        /// Only these objects (comma-separated).
        #[arg(long, value_delimiter = ',')]
        objects: Option<Vec<String>>,
        /// Write the report (JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        report: Option<std::path::PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Migration runs: stage, plan hash, outcome and counts.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `crmsync serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The public base URL Monday calls (e.g. https://sync.example.org). When set, app-webhook
    /// JWTs must have `aud` = PUBLIC_URL/webhooks/monday; otherwise `aud` must match the URL the
    /// request reached (Host header).
    #[arg(long, value_name = "PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// Accept webhooks without any authentication (local experiments only).
    #[arg(long)]
    pub allow_unauthenticated_webhooks: bool,
    /// Record every webhook delivery (headers without credentials) and what Monday and
    /// Salesforce held for the touched items as a replay scenario in DIR (`cargo xtask replay
    /// DIR`); secrets are redacted. Deliveries are then handled one at a time.
    #[arg(long, value_name = "DIR")]
    pub record: Option<std::path::PathBuf>,
    /// With --record: personal-data fields to redact, comma-separated Monday column ids (`name`
    /// for item names) and Salesforce field names, e.g. `email_mksx3vtp,Email,Phone`.
    #[arg(
        long,
        value_name = "FIELDS",
        env = "CRMSYNC_RECORD_REDACT",
        value_delimiter = ',',
        requires = "record"
    )]
    pub record_redact: Vec<String>,
}

/// `crmsync dead-letters …`.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCmd {
    /// List dead letters, newest first (open ones only, unless --all).
    List {
        /// Include dead letters already replayed.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter: the error, Salesforce's answer and the original webhook payload.
    Show {
        /// Dead letter id (from `dead-letters list`).
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay dead letters (after fixing the cause, e.g. the mapping): each is processed again
    /// now and its outcome printed. Without ids, replays every open dead letter.
    Replay {
        /// Dead letter ids; none = all open ones.
        ids: Vec<i64>,
    },
}

/// `crmsync db …`.
#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Apply the schema migrations to DATABASE_URL (safe to run again: it only applies what is missing).
    Migrate,
}

/// `crmsync mapping …`.
#[derive(Debug, Subcommand)]
pub enum MappingCmd {
    /// Validate CRMSYNC_MAPPING against the live Salesforce describes and Monday board columns;
    /// prints every problem as FILE:LINE:COLUMN: message, or an OK line per board.
    Check,
}

/// `crmsync webhooks …`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCmd {
    /// Register every webhook the mapped boards need, pointing at PUBLIC_URL/webhooks/monday
    /// (plus ?token= when MONDAY_WEBHOOK_TOKEN is set). Idempotent: subscriptions that already
    /// exist are kept. The receiver must be running (Monday sends a challenge first).
    Install {
        /// The public base URL of `crmsync serve` (or of the Lambda), e.g. https://sync.example.org.
        #[arg(long, value_name = "PUBLIC_URL")]
        url: url::Url,
    },
    /// List the webhooks of the mapped boards.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove webhooks: by id, or every webhook of the mapped boards with --all.
    Remove {
        /// Remove every webhook on every mapped board.
        #[arg(long, conflicts_with = "ids", required_unless_present = "ids")]
        all: bool,
        /// Webhook ids (from `webhooks list`).
        ids: Vec<String>,
    },
}
