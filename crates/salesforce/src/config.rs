//! Typed configuration of [`crate::SalesforceClient`].

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::error::{Result, SalesforceError};

/// Default REST API version.
pub const DEFAULT_API_VERSION: &str = "62.0";

/// Default cap on the size of one response body (256 MiB: a Bulk API 2.0 results page of
/// 50,000 wide rows fits); see [`SalesforceConfig::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// How the client obtains access tokens from `{login_url}/services/oauth2/token`.
#[derive(Clone, Debug)]
pub enum AuthMode {
    /// OAuth 2.0 client credentials flow (`grant_type=client_credentials`, client id + secret).
    ClientCredentials,
    /// OAuth 2.0 JWT bearer flow: an RS256-signed assertion with `iss` = client id,
    /// `sub` = username, `aud` = login URL and a short `exp`.
    JwtBearer {
        /// The Salesforce username the token is issued for.
        username: String,
        /// PKCS#1 or PKCS#8 PEM of the RSA private key whose certificate is on the connected app.
        private_key_pem: SecretString,
    },
    /// OAuth 2.0 refresh token flow. When Salesforce rotates the refresh token (returns a new
    /// `refresh_token`), the client keeps using the new one and reports it to the callback set
    /// with [`crate::ClientBuilder::on_refresh_token_rotated`].
    RefreshToken {
        /// The initial refresh token.
        refresh_token: SecretString,
    },
}

impl AuthMode {
    /// Short name for logs and errors.
    pub fn grant_name(&self) -> &'static str {
        match self {
            AuthMode::ClientCredentials => "client_credentials",
            AuthMode::JwtBearer { .. } => "jwt_bearer",
            AuthMode::RefreshToken { .. } => "refresh_token",
        }
    }
}

/// Retry schedule for transient failures: exponential backoff with full jitter
/// (`sleep = uniform(0, min(max_backoff, initial_backoff * 2^(attempt-1)))`), bounded both by
/// the number of attempts and by total elapsed time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Maximum number of attempts of one request (the first try included). `1` disables retries.
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of a single backoff.
    pub max_backoff: Duration,
    /// No retry is started when it would begin after this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy without retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The upper bound of the backoff before retry number `retry` (1-based).
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let factor = 1u32 << exp;
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// A full-jitter backoff before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::Rng::gen_range(&mut rand::thread_rng(), 0..=nanos))
    }
}

/// Bulk API 2.0 query settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkConfig {
    /// [`crate::QueryMode::Auto`] switches to Bulk API 2.0 when `SELECT COUNT()` of the query
    /// is at least this many records.
    pub threshold: u64,
    /// Delay between job status polls.
    pub poll_interval: Duration,
    /// Give up (with [`SalesforceError::BulkJobTimeout`]) after waiting this long for a job.
    pub max_wait: Duration,
    /// `maxRecords` per results page.
    pub page_size: u32,
}

impl Default for BulkConfig {
    fn default() -> Self {
        BulkConfig {
            threshold: 50_000,
            poll_interval: Duration::from_secs(2),
            max_wait: Duration::from_secs(30 * 60),
            page_size: 50_000,
        }
    }
}

/// Configuration of a [`crate::SalesforceClient`]. Secrets are [`SecretString`]s, so the
/// derived `Debug` prints `[REDACTED]` for them.
#[derive(Clone, Debug)]
pub struct SalesforceConfig {
    /// `https://login.salesforce.com`, `https://test.salesforce.com` or the My Domain URL.
    /// Also the JWT `aud`.
    pub login_url: Url,
    /// Connected app consumer key.
    pub client_id: String,
    /// Connected app consumer secret (unused by the JWT bearer flow; may be empty there).
    pub client_secret: SecretString,
    /// How tokens are obtained.
    pub auth: AuthMode,
    /// REST API version without the `v`, e.g. `"62.0"`.
    pub api_version: String,
    /// Timeout of every HTTP call (whole request including reading the body).
    pub request_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Refuse new operations with [`SalesforceError::LimitReserve`] once fewer than this many
    /// API requests remain in the org's daily allocation (as last reported by
    /// `Sforce-Limit-Info`). `0` disables the check.
    pub api_reserve: u64,
    /// Bulk API 2.0 query settings.
    pub bulk: BulkConfig,
    /// REST query page size requested with `Sforce-Query-Options: batchSize=N` (Salesforce
    /// accepts 200–2000 and treats it as a hint). `None` leaves Salesforce's default (2000).
    pub query_batch_size: Option<u32>,
    /// Largest response body the client reads (by `Content-Length` up front, or while
    /// streaming); a larger one fails with [`SalesforceError::Decode`] instead of being
    /// buffered. Default [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
}

impl SalesforceConfig {
    /// A configuration with default version, timeouts, retries and no reserve.
    pub fn new(
        login_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
        auth: AuthMode,
    ) -> Self {
        SalesforceConfig {
            login_url,
            client_id: client_id.into(),
            client_secret,
            auth,
            api_version: DEFAULT_API_VERSION.to_string(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            api_reserve: 0,
            bulk: BulkConfig::default(),
            query_batch_size: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Sets the API version (`"62.0"`; a leading `v` is accepted and dropped).
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        let v: String = version.into();
        self.api_version = v.trim_start_matches(['v', 'V']).to_string();
        self
    }

    /// Sets the per-request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the API request reserve.
    pub fn with_api_reserve(mut self, reserve: u64) -> Self {
        self.api_reserve = reserve;
        self
    }

    /// Sets the REST query page size hint (`Sforce-Query-Options: batchSize=N`).
    pub fn with_query_batch_size(mut self, batch_size: u32) -> Self {
        self.query_batch_size = Some(batch_size);
        self
    }

    /// Sets the largest response body the client reads.
    pub fn with_max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Sets the Bulk API settings.
    pub fn with_bulk(mut self, bulk: BulkConfig) -> Self {
        self.bulk = bulk;
        self
    }

    /// Reads the configuration from a variable lookup (e.g. `|k| std::env::var(k).ok()`):
    /// `SALESFORCE_LOGIN_URL` (default `https://login.salesforce.com`),
    /// `SALESFORCE_CLIENT_ID`, `SALESFORCE_CLIENT_SECRET`, `SALESFORCE_API_VERSION`, and
    /// the auth mode: `SALESFORCE_USERNAME` + `SALESFORCE_PRIVATE_KEY` → JWT bearer (literal
    /// `\n` in the key are turned into newlines), else `SALESFORCE_REFRESH_TOKEN` → refresh
    /// token, else client credentials.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let login = get("SALESFORCE_LOGIN_URL")
            .unwrap_or_else(|| "https://login.salesforce.com".to_string());
        let login_url = Url::parse(login.trim()).map_err(|e| {
            SalesforceError::Config(format!("SALESFORCE_LOGIN_URL {login:?} is not a URL: {e}"))
        })?;
        let client_id = get("SALESFORCE_CLIENT_ID")
            .ok_or_else(|| SalesforceError::Config("SALESFORCE_CLIENT_ID is not set".into()))?;
        let client_secret = SecretString::from(get("SALESFORCE_CLIENT_SECRET").unwrap_or_default());
        let auth = match (get("SALESFORCE_USERNAME"), get("SALESFORCE_PRIVATE_KEY")) {
            (Some(username), Some(key)) => AuthMode::JwtBearer {
                username,
                private_key_pem: SecretString::from(key.replace("\\n", "\n")),
            },
            (Some(_), None) => {
                return Err(SalesforceError::Config(
                    "SALESFORCE_USERNAME is set but SALESFORCE_PRIVATE_KEY is not (JWT bearer needs both)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(SalesforceError::Config(
                    "SALESFORCE_PRIVATE_KEY is set but SALESFORCE_USERNAME is not (JWT bearer needs both)".into(),
                ))
            }
            (None, None) => match get("SALESFORCE_REFRESH_TOKEN") {
                Some(rt) => AuthMode::RefreshToken {
                    refresh_token: SecretString::from(rt),
                },
                None => AuthMode::ClientCredentials,
            },
        };
        let mut cfg = SalesforceConfig::new(login_url, client_id, client_secret, auth);
        if let Some(v) = get("SALESFORCE_API_VERSION") {
            cfg = cfg.with_api_version(v);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the settings that would otherwise fail later.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.login_url.scheme(), "http" | "https") {
            return Err(SalesforceError::Config(format!(
                "login URL {} must be http(s)",
                self.login_url
            )));
        }
        if self.client_id.trim().is_empty() {
            return Err(SalesforceError::Config("client id is empty".into()));
        }
        let v = &self.api_version;
        let ok = v.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        });
        if !ok {
            return Err(SalesforceError::Config(format!(
                "API version {v:?} is not of the form 62.0"
            )));
        }
        if self.retry.max_attempts == 0 {
            return Err(SalesforceError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        if self.max_response_bytes == 0 {
            return Err(SalesforceError::Config(
                "max_response_bytes must be positive".into(),
            ));
        }
        if self.bulk.page_size == 0 {
            return Err(SalesforceError::Config(
                "bulk.page_size must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The login URL without a trailing slash (the JWT `aud`).
    pub(crate) fn audience(&self) -> String {
        self.login_url.as_str().trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn backoff_is_bounded_by_exponential_ceiling() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            max_elapsed: Duration::from_secs(10),
        };
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(p.backoff_ceiling(5), Duration::from_millis(1000));
        assert_eq!(p.backoff_ceiling(100), Duration::from_millis(1000));
        for retry in 1..12 {
            assert!(p.backoff(retry) <= p.backoff_ceiling(retry));
        }
        let huge = RetryPolicy {
            max_backoff: Duration::MAX,
            initial_backoff: Duration::MAX,
            ..p
        };
        assert!(huge.backoff(3) <= Duration::MAX);
    }

    #[test]
    fn env_lookup_selects_auth_mode_and_hides_secrets() {
        let vars: HashMap<&str, &str> = [
            ("SALESFORCE_CLIENT_ID", "cid"),
            ("SALESFORCE_CLIENT_SECRET", "topsecret-value"),
            ("SALESFORCE_REFRESH_TOKEN", "refresh-secret-value"),
            ("SALESFORCE_API_VERSION", "v61.0"),
        ]
        .into_iter()
        .collect();
        let cfg = SalesforceConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert!(matches!(cfg.auth, AuthMode::RefreshToken { .. }));
        assert_eq!(cfg.api_version, "61.0");
        assert_eq!(cfg.login_url.as_str(), "https://login.salesforce.com/");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("topsecret-value"), "{dbg}");
        assert!(!dbg.contains("refresh-secret-value"), "{dbg}");
    }

    #[test]
    fn env_lookup_requires_both_jwt_parts() {
        let vars: HashMap<&str, &str> = [
            ("SALESFORCE_CLIENT_ID", "cid"),
            ("SALESFORCE_USERNAME", "u@example.com"),
        ]
        .into_iter()
        .collect();
        let err =
            SalesforceConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(err.to_string().contains("SALESFORCE_PRIVATE_KEY"), "{err}");
    }

    #[test]
    fn bad_version_is_rejected() {
        let cfg = SalesforceConfig::new(
            Url::parse("https://login.salesforce.com").unwrap(),
            "cid",
            SecretString::from("s"),
            AuthMode::ClientCredentials,
        )
        .with_api_version("latest");
        assert!(cfg.validate().is_err());
    }
}
