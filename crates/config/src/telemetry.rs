//! `tracing` setup: human-readable output in a terminal, JSON lines for Lambda/CloudWatch and pipes.

use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Forces the log format: `json` or `human`.
pub const LOG_FORMAT_VAR: &str = "CRMSYNC_LOG_FORMAT";
/// Set by AWS Lambda in every function's environment.
const LAMBDA_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Output format of the logs (always written to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Compact human-readable lines (with colours when stderr is a terminal).
    Human,
    /// One JSON object per line (CloudWatch, log shippers).
    Json,
}

impl LogFormat {
    /// The format for this process: see [`log_format_from`].
    pub fn detect() -> Result<LogFormat, TelemetryError> {
        log_format_from(|k| std::env::var(k).ok(), std::io::stderr().is_terminal())
    }
}

/// Telemetry setup errors.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `CRMSYNC_LOG_FORMAT` (or `RUST_LOG`) has a value that is not understood.
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    /// A global subscriber is already installed (telemetry was initialised before).
    #[error("telemetry is already initialised: {0}")]
    AlreadyInitialized(String),
}

/// The rules, first that applies: `CRMSYNC_LOG_FORMAT=json|human` (case-insensitive; anything else is
/// an error naming it); running in AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) → JSON; stderr is a
/// terminal → human; otherwise (piped, redirected, a service) → JSON.
pub fn log_format_from(
    lookup: impl Fn(&str) -> Option<String>,
    stderr_is_terminal: bool,
) -> Result<LogFormat, TelemetryError> {
    let set = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
    if let Some(v) = set(LOG_FORMAT_VAR) {
        return match v.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "human" | "text" | "pretty" => Ok(LogFormat::Human),
            _ => Err(TelemetryError::Invalid {
                var: LOG_FORMAT_VAR,
                reason: format!("{v:?} is neither json nor human"),
            }),
        };
    }
    if set(LAMBDA_VAR).is_some() {
        return Ok(LogFormat::Json);
    }
    Ok(if stderr_is_terminal {
        LogFormat::Human
    } else {
        LogFormat::Json
    })
}

/// The `RUST_LOG`-style filter: `rust_log` when set and non-empty, else [`DEFAULT_FILTER`].
pub fn parse_filter(rust_log: Option<&str>) -> Result<EnvFilter, TelemetryError> {
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(EnvFilter::new(DEFAULT_FILTER)),
        Some(directives) => EnvFilter::try_new(directives).map_err(|e| TelemetryError::Invalid {
            var: "RUST_LOG",
            reason: format!("{directives:?}: {e}"),
        }),
    }
}

/// A subscriber writing `format` to `writer`, filtered by `filter`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Human => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_ansi(ansi)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_ansi(false)
                    .with_writer(writer),
            ),
        ),
    }
}

/// Installs the global subscriber: `format` on stderr, filtered by `RUST_LOG` (default
/// [`DEFAULT_FILTER`]). Calling it again returns [`TelemetryError::AlreadyInitialized`]; it never panics.
pub fn init_telemetry(format: LogFormat) -> Result<(), TelemetryError> {
    let filter = parse_filter(std::env::var("RUST_LOG").ok().as_deref())?;
    let ansi = format == LogFormat::Human && std::io::stderr().is_terminal();
    subscriber(format, filter, std::io::stderr, ansi)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInitialized(e.to_string()))
}
