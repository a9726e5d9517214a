//! What the function needs beyond the shared configuration (`CRMSYNC_PUBLIC_URL`,
//! `CRMSYNC_FUNCTION_TIMEOUT_SECS`), and the checks that make the shared configuration safe on
//! Lambda. A refused configuration is an init error naming the variable.

use std::collections::HashMap;
use std::time::Duration;

use crmsync_config::Config;
use crmsync_store::StoreOptions;
use crmsync_sync::EngineConfig;
use url::Url;

/// The function's public base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`:
/// pins the JWT audience (API Gateway's stage is part of the URL Monday signs for).
pub const PUBLIC_URL_VAR: &str = "CRMSYNC_PUBLIC_URL";
/// The function's timeout in seconds, as configured on the function (the SAM template sets both
/// from one parameter). Default 30.
pub const FUNCTION_TIMEOUT_VAR: &str = "CRMSYNC_FUNCTION_TIMEOUT_SECS";
/// Connections in the function's PostgreSQL pool: one invocation at a time needs one for the
/// queries and one for the lease heartbeat.
pub const POOL_SIZE: u32 = 2;
/// Time kept free at the end of an invocation for an event to settle and for the answer.
pub const SETTLE_SECS: u64 = 2;

/// A configuration the function refuses to start with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LambdaConfigError {
    /// SQLite on Lambda.
    #[error(
        "DATABASE_URL is {0}: SQLite cannot be used on AWS Lambda (the disk is read-only except \
         an ephemeral /tmp that every container has its own copy of); set DATABASE_URL to \
         PostgreSQL (through RDS Proxy) and run `crmsync db migrate` as a deploy step"
    )]
    Sqlite(String),
    /// A lease that a frozen or timed-out invocation could outlive.
    #[error(
        "CRMSYNC_LEASE_SECS ({lease}s) must be longer than the function timeout \
         ({FUNCTION_TIMEOUT_VAR}={timeout}s), so that no other invocation takes over an item \
         while this one may still be applying it"
    )]
    LeaseTooShort { lease: u64, timeout: u64 },
    /// An event deadline that leaves no time to settle inside the invocation.
    #[error(
        "CRMSYNC_EVENT_DEADLINE_SECS ({deadline}s) must be at least {SETTLE_SECS}s shorter than the \
         function timeout ({FUNCTION_TIMEOUT_VAR}={timeout}s), so that an event in progress settles \
         inside the invocation"
    )]
    DeadlineTooLong { deadline: u64, timeout: u64 },
    /// An inline budget that leaves no time to answer.
    #[error(
        "CRMSYNC_INLINE_BUDGET_MS ({budget_ms}ms) must be shorter than the function timeout \
         ({FUNCTION_TIMEOUT_VAR}={timeout}s)"
    )]
    BudgetTooLong { budget_ms: u128, timeout: u64 },
    /// JWT authentication without a pinned audience.
    #[error(
        "MONDAY_SIGNING_SECRET is set but {PUBLIC_URL_VAR} is not: behind API Gateway the URL \
         Monday signs for (with its stage) cannot be rebuilt from the request; set \
         {PUBLIC_URL_VAR} to the API's base URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    )]
    NoPublicUrl,
    /// A malformed variable.
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// The Lambda-only settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaSettings {
    /// `CRMSYNC_PUBLIC_URL`.
    pub public_url: Option<Url>,
    /// `CRMSYNC_FUNCTION_TIMEOUT_SECS` (default 30 s).
    pub function_timeout: Duration,
    /// Name of this container in claims: `lambda-<log stream>` (`AWS_LAMBDA_LOG_STREAM_NAME`).
    pub worker_id: String,
}

impl LambdaSettings {
    /// Reads them from a map of variables (the process environment in `bootstrap`).
    pub fn from_map(env: &HashMap<String, String>) -> Result<LambdaSettings, LambdaConfigError> {
        let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let public_url = get(PUBLIC_URL_VAR)
            .map(|raw| {
                Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
                    .ok_or_else(|| LambdaConfigError::Invalid {
                        var: PUBLIC_URL_VAR,
                        reason: format!("{raw:?} is not an http(s) URL"),
                    })
            })
            .transpose()?;
        let function_timeout = match get(FUNCTION_TIMEOUT_VAR) {
            None => Duration::from_secs(30),
            Some(raw) => match raw.parse::<u64>() {
                Ok(s) if (1..=900).contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(LambdaConfigError::Invalid {
                        var: FUNCTION_TIMEOUT_VAR,
                        reason: format!("{raw:?} is not a number of seconds from 1 to 900"),
                    })
                }
            },
        };
        let worker_id = format!(
            "lambda-{}",
            get("AWS_LAMBDA_LOG_STREAM_NAME")
                .map(str::to_owned)
                .unwrap_or_else(|| std::process::id().to_string())
        );
        Ok(LambdaSettings {
            public_url,
            function_timeout,
            worker_id,
        })
    }

    /// Refuses what cannot work on Lambda (see [`LambdaConfigError`]).
    pub fn check(&self, config: &Config) -> Result<(), LambdaConfigError> {
        if config.database_url.is_sqlite() {
            return Err(LambdaConfigError::Sqlite(config.database_url.masked()));
        }
        let timeout = self.function_timeout;
        if config.processing.lease <= timeout {
            return Err(LambdaConfigError::LeaseTooShort {
                lease: config.processing.lease.as_secs(),
                timeout: timeout.as_secs(),
            });
        }
        if config.processing.event_deadline + Duration::from_secs(SETTLE_SECS) > timeout {
            return Err(LambdaConfigError::DeadlineTooLong {
                deadline: config.processing.event_deadline.as_secs(),
                timeout: timeout.as_secs(),
            });
        }
        if config.processing.inline_budget >= timeout {
            return Err(LambdaConfigError::BudgetTooLong {
                budget_ms: config.processing.inline_budget.as_millis(),
                timeout: timeout.as_secs(),
            });
        }
        if config.monday.signing_secret.is_some() && self.public_url.is_none() {
            return Err(LambdaConfigError::NoPublicUrl);
        }
        Ok(())
    }

    /// The store's options on Lambda: a pool of [`POOL_SIZE`], no prepared-statement cache (RDS
    /// Proxy pins a connection to a client that prepares named statements), quick timeouts.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            max_connections: POOL_SIZE,
            pg_statement_cache: false,
            ..StoreOptions::default()
        }
    }

    /// The engine's tuning on Lambda: the configured lease and event deadline ([`Self::check`]
    /// keeps the deadline inside the function timeout, so an event still running when the
    /// request answers settles inside the invocation); one loop; this container's worker id.
    pub fn engine_config(&self, config: &Config) -> EngineConfig {
        EngineConfig {
            worker_id: self.worker_id.clone(),
            concurrency: 1,
            ..crmsync_app::clients::engine_config(config)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration of `vars`, with a 20 s event deadline unless they set one.
    fn config(vars: &[(&str, &str)]) -> Config {
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.entry("CRMSYNC_EVENT_DEADLINE_SECS".into())
            .or_insert_with(|| "20".into());
        Config::from_map(&env).expect("a valid configuration")
    }

    fn settings(vars: &[(&str, &str)]) -> Result<LambdaSettings, LambdaConfigError> {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LambdaSettings::from_map(&env)
    }

    const PG: (&str, &str) = ("DATABASE_URL", "postgres://crmsync:pw@db:5432/crmsync");
    const LEASE: (&str, &str) = ("CRMSYNC_LEASE_SECS", "90");

    #[test]
    fn the_sqlite_default_is_refused_with_the_reason() {
        let s = settings(&[]).unwrap();
        let e = s.check(&config(&[LEASE])).unwrap_err();
        assert!(matches!(e, LambdaConfigError::Sqlite(_)));
        let text = e.to_string();
        assert!(text.contains("sqlite://crmsync.db"), "{text}");
        assert!(text.contains("crmsync db migrate"), "{text}");
    }

    #[test]
    fn the_lease_must_outlive_the_function_timeout() {
        let s = settings(&[(FUNCTION_TIMEOUT_VAR, "30")]).unwrap();
        // The default lease (60 s) against a 30 s timeout is fine…
        assert_eq!(s.check(&config(&[PG])), Ok(()));
        // …a 20 s lease is not.
        let c = config(&[
            PG,
            ("CRMSYNC_LEASE_SECS", "20"),
            ("CRMSYNC_EVENT_DEADLINE_SECS", "10"),
            ("CRMSYNC_INLINE_BUDGET_MS", "5000"),
        ]);
        assert_eq!(
            s.check(&c),
            Err(LambdaConfigError::LeaseTooShort {
                lease: 20,
                timeout: 30
            })
        );
        let long = settings(&[(FUNCTION_TIMEOUT_VAR, "60")]).unwrap();
        assert!(matches!(
            long.check(&config(&[PG])),
            Err(LambdaConfigError::LeaseTooShort { .. })
        ));
    }

    #[test]
    fn the_inline_budget_must_end_before_the_function() {
        let s = settings(&[(FUNCTION_TIMEOUT_VAR, "5")]).unwrap();
        let c = config(&[
            PG,
            ("CRMSYNC_INLINE_BUDGET_MS", "5000"),
            ("CRMSYNC_EVENT_DEADLINE_SECS", "2"),
        ]);
        assert!(matches!(
            s.check(&c),
            Err(LambdaConfigError::BudgetTooLong { .. })
        ));
    }

    #[test]
    fn jwt_authentication_needs_the_public_url() {
        let c = config(&[PG, ("MONDAY_SIGNING_SECRET", "s3cret")]);
        let without = settings(&[]).unwrap();
        assert_eq!(without.check(&c), Err(LambdaConfigError::NoPublicUrl));
        assert!(!LambdaConfigError::NoPublicUrl
            .to_string()
            .contains("s3cret"));
        let with = settings(&[(PUBLIC_URL_VAR, "https://x.example.org/prod")]).unwrap();
        assert_eq!(with.check(&c), Ok(()));
    }

    #[test]
    fn malformed_settings_name_the_variable() {
        let e = settings(&[(FUNCTION_TIMEOUT_VAR, "soon")]).unwrap_err();
        assert!(e.to_string().contains(FUNCTION_TIMEOUT_VAR), "{e}");
        let e = settings(&[(FUNCTION_TIMEOUT_VAR, "901")]).unwrap_err();
        assert!(e.to_string().contains(FUNCTION_TIMEOUT_VAR), "{e}");
        let e = settings(&[(PUBLIC_URL_VAR, "ftp://x")]).unwrap_err();
        assert!(e.to_string().contains(PUBLIC_URL_VAR), "{e}");
    }

    #[test]
    fn the_pool_is_small_without_a_statement_cache() {
        let s = settings(&[]).unwrap();
        let o = s.store_options();
        assert!((1..=2).contains(&o.max_connections));
        assert!(!o.pg_statement_cache);
    }

    #[test]
    fn the_event_deadline_must_fit_in_the_function_timeout() {
        let s = settings(&[(FUNCTION_TIMEOUT_VAR, "30")]).unwrap();
        let c = config(&[PG, ("CRMSYNC_EVENT_DEADLINE_SECS", "29")]);
        assert_eq!(
            s.check(&c),
            Err(LambdaConfigError::DeadlineTooLong {
                deadline: 29,
                timeout: 30
            })
        );
        let ok = config(&[PG, ("CRMSYNC_EVENT_DEADLINE_SECS", "28")]);
        assert_eq!(s.check(&ok), Ok(()));
    }

    #[test]
    fn the_engine_keeps_the_configured_lease_and_deadline() {
        let s = settings(&[("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]abc")]).unwrap();
        let c = config(&[PG, ("CRMSYNC_EVENT_DEADLINE_SECS", "20")]);
        let e = s.engine_config(&c);
        assert_eq!(e.event_deadline, Duration::from_secs(20));
        assert_eq!(e.lease, Duration::from_secs(60));
        assert_eq!(e.concurrency, 1);
        assert_eq!(e.worker_id, "lambda-2026/12/01/[$LATEST]abc");
    }
}
