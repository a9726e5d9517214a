//! Runtime configuration of the mock (built from [`crate::Args`] or [`crate::MockMondayBuilder`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How an exhausted complexity budget is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BudgetErrorMode {
    /// HTTP 429 with `Retry-After` (the documented behaviour).
    #[value(name = "429")]
    #[serde(rename = "429")]
    Status429,
    /// HTTP 200 with the error in the body (as Monday sometimes answers).
    #[value(name = "200")]
    #[serde(rename = "200")]
    Status200,
    /// Alternate: 429, then 200, then 429, ...
    Alternate,
}

/// Configuration of one mock Monday instance. `Debug` redacts the token and the signing secret.
#[derive(Clone)]
pub struct Config {
    /// The API token clients must send raw in `Authorization`.
    pub token: String,
    /// Signing secret for app-webhook JWTs (`None`: deliveries carry no `Authorization`).
    pub signing_secret: Option<String>,
    /// Whether the `create_webhook` challenge carries the JWT too (default true). Monday documents
    /// the JWT for app webhooks' event deliveries, not for the challenge: `false` sends the
    /// challenge without `Authorization` while event deliveries stay signed.
    pub sign_challenge: bool,
    /// Complexity budget per window (Monday: 10,000,000 per minute for personal tokens).
    pub budget_points: u64,
    /// Length of the budget and request-limit window (Monday: one minute).
    pub budget_window: Duration,
    /// Maximum complexity of a single query (Monday: 5,000,000).
    pub per_query_cap: u64,
    /// Requests allowed per window (Monday's minute rate limit; default 5,000).
    pub requests_per_window: u64,
    /// Mutations allowed per window (Monday: 2,000 per minute, besides the complexity budget);
    /// past it a request with mutations is refused whole with 429 `Call limit exceeded for …`.
    pub mutations_per_window: u64,
    /// Concurrent requests allowed (default 250).
    pub max_concurrency: u64,
    /// How long an `items_page` cursor stays valid (Monday: 60 minutes).
    pub cursor_ttl: Duration,
    /// Interval between webhook delivery retries (Monday: one minute).
    pub webhook_retry_interval: Duration,
    /// Retries after the first failed attempt (Monday: 30, i.e. 30 minutes).
    pub webhook_retry_attempts: u32,
    /// Timeout of one webhook delivery attempt.
    pub webhook_timeout: Duration,
    /// How budget exhaustion is answered.
    pub budget_error_mode: BudgetErrorMode,
    /// Account id reported in JWTs and `me { account }`.
    pub account_id: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &"[redacted]")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("sign_challenge", &self.sign_challenge)
            .field("budget_points", &self.budget_points)
            .field("budget_window", &self.budget_window)
            .field("per_query_cap", &self.per_query_cap)
            .field("requests_per_window", &self.requests_per_window)
            .field("mutations_per_window", &self.mutations_per_window)
            .field("max_concurrency", &self.max_concurrency)
            .field("cursor_ttl", &self.cursor_ttl)
            .field("webhook_retry_interval", &self.webhook_retry_interval)
            .field("webhook_retry_attempts", &self.webhook_retry_attempts)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("budget_error_mode", &self.budget_error_mode)
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token: "mock-monday-token".to_string(),
            signing_secret: None,
            sign_challenge: true,
            budget_points: 10_000_000,
            budget_window: Duration::from_secs(60),
            per_query_cap: 5_000_000,
            requests_per_window: 5_000,
            mutations_per_window: 2_000,
            max_concurrency: 250,
            cursor_ttl: Duration::from_secs(60 * 60),
            webhook_retry_interval: Duration::from_secs(60),
            webhook_retry_attempts: 30,
            webhook_timeout: Duration::from_secs(10),
            budget_error_mode: BudgetErrorMode::Status429,
            account_id: 24_308_083,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn debug_redacts_the_token_and_the_signing_secret() {
        let config = Config {
            token: "tok-visible-if-leaked".to_owned(),
            signing_secret: Some("sig-visible-if-leaked".to_owned()),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("tok-visible-if-leaked"), "{shown}");
        assert!(!shown.contains("sig-visible-if-leaked"), "{shown}");
        assert!(shown.contains("budget_points: 10000000"), "{shown}");
    }
}
