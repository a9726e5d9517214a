//! Typed configuration of crmsync, read from environment variables and an optional `.env` file (a
//! variable set in the real environment wins over the file), plus telemetry setup ([`init_telemetry`]).
//!
//! Variables (see DESIGN.md "Configuration"); an empty value counts as unset:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DATABASE_URL` | `sqlite://PATH` or `postgres://…` | `sqlite://crmsync.db` |
//! | `CRMSYNC_MAPPING` | mapping file | `mapping.toml` |
//! | `SALESFORCE_LOGIN_URL` | login / My Domain URL (JWT audience) | `https://login.salesforce.com` |
//! | `SALESFORCE_CLIENT_ID` | connected app consumer key | required once any `SALESFORCE_*` is set |
//! | `SALESFORCE_CLIENT_SECRET` | consumer secret | required for client credentials |
//! | `SALESFORCE_USERNAME` + `SALESFORCE_PRIVATE_KEY` | JWT bearer flow (PEM; literal `\n` allowed) | |
//! | `SALESFORCE_REFRESH_TOKEN` | refresh token flow | |
//! | `SALESFORCE_API_VERSION` | e.g. `62.0` (or `v62.0`) | the client's default |
//! | `MONDAY_API_URL` | GraphQL endpoint | `https://api.monday.com/v2` |
//! | `MONDAY_API_TOKEN` | API token | |
//! | `MONDAY_API_VERSION` | e.g. `2026-10` | the client's default |
//! | `MONDAY_SIGNING_SECRET` | app signing secret (webhook JWTs) | |
//! | `MONDAY_WEBHOOK_TOKEN` | shared token in the webhook URL | |
//! | `MONDAY_MUTATIONS_PER_MINUTE` | mutations the client sends per minute at most (0 = unpaced) | `2000` (Monday's limit) |
//! | `TELEGRAM_BOT_TOKEN`, `TELEGRAM_CHAT_ID` | alerts (both, or neither) | |
//! | `TELEGRAM_API_URL` | Bot API base URL | `https://api.telegram.org` |
//! | `CRMSYNC_STATUS_TOKEN` | protects `GET /status` | (status page disabled) |
//! | `CRMSYNC_LEASE_SECS` | item lease of a worker (renewed while working) | `60` |
//! | `CRMSYNC_EVENT_DEADLINE_SECS` | longest time one event may take (< lease) | `45` |
//! | `CRMSYNC_INLINE_BUDGET_MS` | how long a webhook request waits for inline processing (< lease) | `5000` |
//! | `CRMSYNC_SWEEP_MINUTES` | reconciliation sweep interval of `crmsync serve` (0 = off) | `15` |
//!
//! Secrets are [`SecretString`]s: `Debug` prints `[REDACTED]`, and `DATABASE_URL` is shown with its
//! password masked. Errors name the variable and never contain a secret value.

mod telemetry;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crmsync_redact::mask_url;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use secrecy;
pub use telemetry::{
    init_telemetry, log_format_from, parse_filter, subscriber, LogFormat, TelemetryError,
    DEFAULT_FILTER, LOG_FORMAT_VAR,
};

/// Default of `DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://crmsync.db";
/// Default of `CRMSYNC_MAPPING`.
pub const DEFAULT_MAPPING: &str = "mapping.toml";
/// Default of `SALESFORCE_LOGIN_URL`.
pub const DEFAULT_SALESFORCE_LOGIN_URL: &str = "https://login.salesforce.com";
/// Default of `MONDAY_API_URL`.
pub const DEFAULT_MONDAY_API_URL: &str = "https://api.monday.com/v2";
/// Default of `TELEGRAM_API_URL`.
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// A configuration problem, naming the variable. Never contains a secret value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("{var} is not set: {reason}")]
    Missing { var: &'static str, reason: String },
    /// A variable is set but its value is not valid.
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    /// A variable's value is not valid Unicode.
    #[error("{var} is not valid UTF-8")]
    NotUnicode { var: String },
    /// The `.env` file exists but cannot be read or parsed.
    #[error("cannot read {path}: {reason}")]
    DotEnv { path: PathBuf, reason: String },
}

/// `DATABASE_URL`: a secret (it may hold a password) whose `Debug`/`Display` show it masked.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(SecretString::from(url.into()))
    }

    /// The real URL, to connect with. Do not log it; log [`DatabaseUrl::masked`].
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`.
    pub fn masked(&self) -> String {
        mask_url(self.0.expose_secret())
    }

    /// Whether this selects the SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        self.expose().to_ascii_lowercase().starts_with("sqlite:")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.masked())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// How crmsync obtains Salesforce tokens, derived from which variables are set.
#[derive(Clone, Debug)]
pub enum SalesforceAuth {
    /// OAuth 2.0 JWT bearer: `SALESFORCE_USERNAME` + `SALESFORCE_PRIVATE_KEY` (PEM).
    JwtBearer {
        username: String,
        private_key: SecretString,
    },
    /// OAuth 2.0 refresh token: `SALESFORCE_REFRESH_TOKEN`.
    RefreshToken { refresh_token: SecretString },
    /// OAuth 2.0 client credentials (`SALESFORCE_CLIENT_ID` + `SALESFORCE_CLIENT_SECRET` only).
    ClientCredentials,
}

impl SalesforceAuth {
    /// `jwt-bearer`, `refresh-token` or `client-credentials`.
    pub fn name(&self) -> &'static str {
        match self {
            SalesforceAuth::JwtBearer { .. } => "jwt-bearer",
            SalesforceAuth::RefreshToken { .. } => "refresh-token",
            SalesforceAuth::ClientCredentials => "client-credentials",
        }
    }
}

/// The `SALESFORCE_*` section.
#[derive(Clone, Debug)]
pub struct SalesforceSettings {
    pub login_url: Url,
    pub client_id: String,
    /// Required for client credentials; optional for the other flows.
    pub client_secret: Option<SecretString>,
    pub auth: SalesforceAuth,
    /// `NN.N` without the `v`; `None` = the client's default.
    pub api_version: Option<String>,
}

/// The `MONDAY_*` section. Always present (the API URL has a default); each consumer asks for what it
/// needs with the `require_*` methods, which name the missing variable.
#[derive(Clone, Debug)]
pub struct MondaySettings {
    pub api_url: Url,
    pub api_token: Option<SecretString>,
    /// `YYYY-MM`; `None` = the client's default.
    pub api_version: Option<String>,
    pub signing_secret: Option<SecretString>,
    pub webhook_token: Option<SecretString>,
    /// `MONDAY_MUTATIONS_PER_MINUTE`: the client paces mutations under it; `None` (0) = unpaced.
    pub mutations_per_minute: Option<u32>,
}

/// Default of `MONDAY_MUTATIONS_PER_MINUTE` (Monday's limit of mutations per minute).
pub const DEFAULT_MONDAY_MUTATIONS_PER_MINUTE: u32 = 2_000;

impl MondaySettings {
    /// `MONDAY_API_TOKEN`, or an error naming it.
    pub fn require_api_token(&self) -> Result<&SecretString, ConfigError> {
        self.api_token.as_ref().ok_or_else(|| ConfigError::Missing {
            var: "MONDAY_API_TOKEN",
            reason: "needed to call the Monday API".to_owned(),
        })
    }

    /// Whether incoming webhooks can be authenticated (signing secret or webhook token set).
    pub fn can_authenticate_webhooks(&self) -> bool {
        self.signing_secret.is_some() || self.webhook_token.is_some()
    }
}

/// The `TELEGRAM_*` section (alerts).
#[derive(Clone, Debug)]
pub struct TelegramSettings {
    pub api_url: Url,
    pub bot_token: SecretString,
    /// Numeric chat id or `@channelusername`.
    pub chat_id: String,
}

/// Timings of event processing (`CRMSYNC_LEASE_SECS`, `CRMSYNC_EVENT_DEADLINE_SECS`,
/// `CRMSYNC_INLINE_BUDGET_MS`); the deadline and the inline budget are shorter than the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessingSettings {
    /// Item lease of a worker; renewed every third of it while an event is applied, taken over by
    /// another worker this long after a crash. Default 60 s.
    pub lease: Duration,
    /// Longest time one event may take before it is abandoned and retried. Default 45 s.
    pub event_deadline: Duration,
    /// How long a webhook request waits for inline processing before answering. Default 5 s
    /// (Monday times out at 10 s; keep it below a Lambda's timeout).
    pub inline_budget: Duration,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            lease: Duration::from_secs(60),
            event_deadline: Duration::from_secs(45),
            inline_budget: Duration::from_millis(5000),
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub mapping_path: PathBuf,
    /// `None` when no `SALESFORCE_*` variable is set.
    pub salesforce: Option<SalesforceSettings>,
    pub monday: MondaySettings,
    /// `None` when neither `TELEGRAM_BOT_TOKEN` nor `TELEGRAM_CHAT_ID` is set (alerts go to the log).
    pub telegram: Option<TelegramSettings>,
    /// `None` disables `GET /status`.
    pub status_token: Option<SecretString>,
    /// Lease, per-event deadline and inline budget.
    pub processing: ProcessingSettings,
    /// How often `crmsync serve` runs a reconciliation sweep (`CRMSYNC_SWEEP_MINUTES`, default
    /// 15); `None` when set to 0 (off).
    pub sweep_every: Option<Duration>,
}

/// Default of `CRMSYNC_SWEEP_MINUTES`.
pub const DEFAULT_SWEEP_MINUTES: u64 = 15;

const SALESFORCE_VARS: &[&str] = &[
    "SALESFORCE_LOGIN_URL",
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_USERNAME",
    "SALESFORCE_PRIVATE_KEY",
    "SALESFORCE_REFRESH_TOKEN",
    "SALESFORCE_API_VERSION",
];

/// Every variable this crate reads.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "CRMSYNC_MAPPING",
    "SALESFORCE_LOGIN_URL",
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_USERNAME",
    "SALESFORCE_PRIVATE_KEY",
    "SALESFORCE_REFRESH_TOKEN",
    "SALESFORCE_API_VERSION",
    "MONDAY_API_URL",
    "MONDAY_API_TOKEN",
    "MONDAY_API_VERSION",
    "MONDAY_SIGNING_SECRET",
    "MONDAY_WEBHOOK_TOKEN",
    "MONDAY_MUTATIONS_PER_MINUTE",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
    "TELEGRAM_API_URL",
    "CRMSYNC_STATUS_TOKEN",
    "CRMSYNC_LEASE_SECS",
    "CRMSYNC_EVENT_DEADLINE_SECS",
    "CRMSYNC_INLINE_BUDGET_MS",
    "CRMSYNC_SWEEP_MINUTES",
];

struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn get(&self, var: &str) -> Option<String> {
        self.0
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn secret(&self, var: &str) -> Option<SecretString> {
        self.get(var).map(SecretString::from)
    }

    fn url(&self, var: &'static str, default: &str) -> Result<Url, ConfigError> {
        let raw = self.get(var).unwrap_or_else(|| default.to_owned());
        parse_http_url(var, &raw)
    }
}

fn parse_http_url(var: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let shown = mask_url(raw);
    let url = Url::parse(raw).map_err(|e| ConfigError::Invalid {
        var,
        reason: format!("{shown:?} is not a URL ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(ConfigError::Invalid {
            var,
            reason: format!("{shown:?} is not an http(s) URL"),
        });
    }
    Ok(url)
}

impl Config {
    /// Reads the process environment, plus `./.env` if it exists (real environment wins).
    pub fn from_env() -> Result<Config, ConfigError> {
        let dotenv = Path::new(".env");
        Config::load(process_env()?, dotenv.exists().then_some(dotenv))
    }

    /// Reads `env`, plus the `.env`-format file at `dotenv` if given (entries of `env` win).
    /// Does not touch the process environment.
    pub fn load(
        mut env: HashMap<String, String>,
        dotenv: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        if let Some(path) = dotenv {
            for (k, v) in read_dotenv(path)? {
                env.entry(k).or_insert(v);
            }
        }
        Config::from_map(&env)
    }

    /// Builds the configuration from a map of variables (tests, or any other source).
    pub fn from_map(env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let vars = Vars(env);

        let database_url = vars
            .get("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let lower = database_url.to_ascii_lowercase();
        if !(lower.starts_with("sqlite:")
            || lower.starts_with("postgres://")
            || lower.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                var: "DATABASE_URL",
                reason: format!(
                    "{:?} is neither sqlite://PATH nor postgres://USER:PASSWORD@HOST:PORT/DB",
                    mask_url(&database_url)
                ),
            });
        }
        if !lower.starts_with("sqlite:") {
            Url::parse(&database_url).map_err(|e| ConfigError::Invalid {
                var: "DATABASE_URL",
                reason: format!("{:?} is not a URL ({e})", mask_url(&database_url)),
            })?;
        }

        let mapping_path = PathBuf::from(
            vars.get("CRMSYNC_MAPPING")
                .unwrap_or_else(|| DEFAULT_MAPPING.to_owned()),
        );

        Ok(Config {
            database_url: DatabaseUrl::new(database_url),
            mapping_path,
            salesforce: salesforce_section(&vars)?,
            monday: monday_section(&vars)?,
            telegram: telegram_section(&vars)?,
            status_token: vars.secret("CRMSYNC_STATUS_TOKEN"),
            processing: processing_section(&vars)?,
            sweep_every: sweep_section(&vars)?,
        })
    }

    /// The Salesforce section, or an error naming `SALESFORCE_CLIENT_ID` when none is configured.
    pub fn require_salesforce(&self) -> Result<&SalesforceSettings, ConfigError> {
        self.salesforce.as_ref().ok_or_else(|| ConfigError::Missing {
            var: "SALESFORCE_CLIENT_ID",
            reason: "Salesforce is not configured (set SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID and \
                     the variables of one auth flow)"
                .to_owned(),
        })
    }
}

fn salesforce_section(vars: &Vars<'_>) -> Result<Option<SalesforceSettings>, ConfigError> {
    if !SALESFORCE_VARS.iter().any(|v| vars.get(v).is_some()) {
        return Ok(None);
    }
    let login_url = vars.url("SALESFORCE_LOGIN_URL", DEFAULT_SALESFORCE_LOGIN_URL)?;
    let client_id = vars
        .get("SALESFORCE_CLIENT_ID")
        .ok_or_else(|| ConfigError::Missing {
            var: "SALESFORCE_CLIENT_ID",
            reason: "required once any SALESFORCE_* variable is set".to_owned(),
        })?;
    let client_secret = vars.secret("SALESFORCE_CLIENT_SECRET");
    let auth = match (
        vars.get("SALESFORCE_USERNAME"),
        vars.secret("SALESFORCE_PRIVATE_KEY"),
    ) {
        (Some(username), Some(key)) => {
            // A PEM in an environment variable often has its newlines written as `\n`.
            let pem = key.expose_secret().replace("\\n", "\n");
            if !pem.contains("-----BEGIN") || !pem.contains("PRIVATE KEY-----") {
                return Err(ConfigError::Invalid {
                    var: "SALESFORCE_PRIVATE_KEY",
                    reason: "not a PEM private key (expected -----BEGIN … PRIVATE KEY-----)"
                        .to_owned(),
                });
            }
            SalesforceAuth::JwtBearer {
                username,
                private_key: SecretString::from(pem),
            }
        }
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                var: "SALESFORCE_PRIVATE_KEY",
                reason: "SALESFORCE_USERNAME is set; the JWT bearer flow needs both".to_owned(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                var: "SALESFORCE_USERNAME",
                reason: "SALESFORCE_PRIVATE_KEY is set; the JWT bearer flow needs both".to_owned(),
            })
        }
        (None, None) => match vars.secret("SALESFORCE_REFRESH_TOKEN") {
            Some(refresh_token) => SalesforceAuth::RefreshToken { refresh_token },
            None => {
                if client_secret.is_none() {
                    return Err(ConfigError::Missing {
                        var: "SALESFORCE_CLIENT_SECRET",
                        reason: "the client credentials flow (chosen because neither \
                                 SALESFORCE_USERNAME + SALESFORCE_PRIVATE_KEY nor \
                                 SALESFORCE_REFRESH_TOKEN is set) needs it"
                            .to_owned(),
                    });
                }
                SalesforceAuth::ClientCredentials
            }
        },
    };
    let api_version = vars
        .get("SALESFORCE_API_VERSION")
        .map(|v| parse_salesforce_version(&v))
        .transpose()?;
    Ok(Some(SalesforceSettings {
        login_url,
        client_id,
        client_secret,
        auth,
        api_version,
    }))
}

/// `62.0` or `v62.0` → `62.0`.
fn parse_salesforce_version(raw: &str) -> Result<String, ConfigError> {
    let v = raw.strip_prefix(['v', 'V']).unwrap_or(raw);
    let ok = v.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && major.len() <= 3
            && minor.len() == 1
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
    });
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ConfigError::Invalid {
            var: "SALESFORCE_API_VERSION",
            reason: format!("{raw:?} is not a version like 62.0"),
        })
    }
}

/// `YYYY-MM`.
fn parse_monday_version(raw: &str) -> Result<String, ConfigError> {
    let ok = raw.len() == 7
        && raw.as_bytes()[4] == b'-'
        && raw[..4].bytes().all(|b| b.is_ascii_digit())
        && raw[5..].bytes().all(|b| b.is_ascii_digit())
        && matches!(raw[5..].parse::<u8>(), Ok(1..=12));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ConfigError::Invalid {
            var: "MONDAY_API_VERSION",
            reason: format!("{raw:?} is not a version like 2026-10 (YYYY-MM)"),
        })
    }
}

fn monday_section(vars: &Vars<'_>) -> Result<MondaySettings, ConfigError> {
    Ok(MondaySettings {
        api_url: vars.url("MONDAY_API_URL", DEFAULT_MONDAY_API_URL)?,
        api_token: vars.secret("MONDAY_API_TOKEN"),
        api_version: vars
            .get("MONDAY_API_VERSION")
            .map(|v| parse_monday_version(&v))
            .transpose()?,
        signing_secret: vars.secret("MONDAY_SIGNING_SECRET"),
        webhook_token: vars.secret("MONDAY_WEBHOOK_TOKEN"),
        mutations_per_minute: mutations_per_minute(vars)?,
    })
}

/// `MONDAY_MUTATIONS_PER_MINUTE`: a whole number, 0 = unpaced.
fn mutations_per_minute(vars: &Vars<'_>) -> Result<Option<u32>, ConfigError> {
    const VAR: &str = "MONDAY_MUTATIONS_PER_MINUTE";
    let Some(raw) = vars.get(VAR) else {
        return Ok(Some(DEFAULT_MONDAY_MUTATIONS_PER_MINUTE));
    };
    let n: u32 = raw.trim().parse().map_err(|_| ConfigError::Invalid {
        var: VAR,
        reason: format!("{raw:?} is not a whole number of mutations (0 turns pacing off)"),
    })?;
    Ok((n > 0).then_some(n))
}

/// A positive whole number of `unit`s (`s` or `ms`) in `var`, or `default`.
fn positive(
    vars: &Vars<'_>,
    var: &'static str,
    unit: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = vars.get(var) else {
        return Ok(default);
    };
    let n: u64 = raw.parse().map_err(|_| ConfigError::Invalid {
        var,
        reason: format!("{raw:?} is not a whole number of {unit}"),
    })?;
    if n == 0 {
        return Err(ConfigError::Invalid {
            var,
            reason: format!("must be at least 1 {unit}"),
        });
    }
    Ok(n)
}

/// `CRMSYNC_SWEEP_MINUTES`: whole minutes, 0 = off, at most a week.
fn sweep_section(vars: &Vars<'_>) -> Result<Option<Duration>, ConfigError> {
    const VAR: &str = "CRMSYNC_SWEEP_MINUTES";
    let Some(raw) = vars.get(VAR) else {
        return Ok(Some(Duration::from_secs(DEFAULT_SWEEP_MINUTES * 60)));
    };
    let n: u64 = raw.trim().parse().map_err(|_| ConfigError::Invalid {
        var: VAR,
        reason: format!("{raw:?} is not a whole number of minutes (0 turns sweeps off)"),
    })?;
    if n > 7 * 24 * 60 {
        return Err(ConfigError::Invalid {
            var: VAR,
            reason: format!("{n} minutes is more than a week"),
        });
    }
    Ok((n > 0).then(|| Duration::from_secs(n * 60)))
}

/// The longest item lease accepted (`CRMSYNC_LEASE_SECS`): one day.
pub const MAX_LEASE_SECS: u64 = 24 * 3600;

fn processing_section(vars: &Vars<'_>) -> Result<ProcessingSettings, ConfigError> {
    let d = ProcessingSettings::default();
    let lease_s = positive(vars, "CRMSYNC_LEASE_SECS", "seconds", d.lease.as_secs())?;
    // A lease longer than a day is a typo, and would overflow the clocks it is added to.
    if lease_s > MAX_LEASE_SECS {
        return Err(ConfigError::Invalid {
            var: "CRMSYNC_LEASE_SECS",
            reason: format!("{lease_s} s is more than a day ({MAX_LEASE_SECS} s)"),
        });
    }
    let deadline_s = positive(
        vars,
        "CRMSYNC_EVENT_DEADLINE_SECS",
        "seconds",
        // Default: 45 s, or three quarters of a shorter lease.
        d.event_deadline.as_secs().min(lease_s * 3 / 4).max(1),
    )?;
    let budget_ms = positive(
        vars,
        "CRMSYNC_INLINE_BUDGET_MS",
        "milliseconds",
        u64::try_from(d.inline_budget.as_millis()).unwrap_or(u64::MAX),
    )?;
    if deadline_s >= lease_s {
        return Err(ConfigError::Invalid {
            var: "CRMSYNC_EVENT_DEADLINE_SECS",
            reason: format!(
                "{deadline_s} s must be shorter than CRMSYNC_LEASE_SECS ({lease_s} s), so an event \
                 ends before another worker could take its item over"
            ),
        });
    }
    if budget_ms >= lease_s.saturating_mul(1000) {
        return Err(ConfigError::Invalid {
            var: "CRMSYNC_INLINE_BUDGET_MS",
            reason: format!("{budget_ms} ms must be shorter than CRMSYNC_LEASE_SECS ({lease_s} s)"),
        });
    }
    Ok(ProcessingSettings {
        lease: Duration::from_secs(lease_s),
        event_deadline: Duration::from_secs(deadline_s),
        inline_budget: Duration::from_millis(budget_ms),
    })
}

fn telegram_section(vars: &Vars<'_>) -> Result<Option<TelegramSettings>, ConfigError> {
    let token = vars.secret("TELEGRAM_BOT_TOKEN");
    let chat = vars.get("TELEGRAM_CHAT_ID");
    let url_set = vars.get("TELEGRAM_API_URL").is_some();
    let (bot_token, chat_id) =
        match (token, chat) {
            (None, None) if !url_set => return Ok(None),
            (Some(t), Some(c)) => (t, c),
            (None, _) => return Err(ConfigError::Missing {
                var: "TELEGRAM_BOT_TOKEN",
                reason:
                    "other TELEGRAM_* variables are set; alerts need the bot token and the chat id"
                        .to_owned(),
            }),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "TELEGRAM_CHAT_ID",
                    reason: "TELEGRAM_BOT_TOKEN is set; alerts need the chat id too".to_owned(),
                })
            }
        };
    let chat_ok = chat_id
        .strip_prefix('-')
        .unwrap_or(&chat_id)
        .parse::<i64>()
        .is_ok()
        || (chat_id.starts_with('@') && chat_id.len() > 1);
    if !chat_ok {
        return Err(ConfigError::Invalid {
            var: "TELEGRAM_CHAT_ID",
            reason: format!("{chat_id:?} is neither a numeric chat id nor @channelname"),
        });
    }
    Ok(Some(TelegramSettings {
        api_url: vars.url("TELEGRAM_API_URL", DEFAULT_TELEGRAM_API_URL)?,
        bot_token,
        chat_id,
    }))
}

/// The process environment as a map; a non-Unicode value of one of our variables is an error naming
/// it, other non-Unicode variables are ignored.
fn process_env() -> Result<HashMap<String, String>, ConfigError> {
    let mut map = HashMap::new();
    for (k, v) in std::env::vars_os() {
        let Ok(k) = k.into_string() else { continue };
        match v.into_string() {
            Ok(v) => {
                map.insert(k, v);
            }
            Err(_) if is_ours(&k) => return Err(ConfigError::NotUnicode { var: k }),
            Err(_) => {}
        }
    }
    Ok(map)
}

fn is_ours(var: &str) -> bool {
    VARIABLES.contains(&var) || var == LOG_FORMAT_VAR
}

/// Parses a `.env` file without touching the process environment. Parse errors give the position
/// only: the offending line may hold a secret.
fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let dotenv_err = |reason: String| ConfigError::DotEnv {
        path: path.to_owned(),
        reason,
    };
    let iter = dotenvy::from_path_iter(path).map_err(|e| dotenv_err(describe_dotenv_error(&e)))?;
    let mut out = Vec::new();
    for item in iter {
        out.push(item.map_err(|e| dotenv_err(describe_dotenv_error(&e)))?);
    }
    Ok(out)
}

fn describe_dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => {
            format!(
                "syntax error at character {index} (line content not shown: it may hold a secret)"
            )
        }
        dotenvy::Error::Io(io) => io.to_string(),
        dotenvy::Error::EnvVar(v) => v.to_string(),
        _ => "unreadable .env file".to_owned(),
    }
}

#[cfg(test)]
mod tests;
