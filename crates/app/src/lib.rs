//! The composition root of crmsync: the one place that turns a typed [`Config`] into running
//! parts.
//!
//! * [`clients`] — config → store, Salesforce client, Monday client, alerter adapters.
//! * [`App`] — the engine (store, clients, validated mapping, alerter) and the receiver's
//!   configuration, built once by [`App::from_config`] (production) or [`App::from_parts`] (the
//!   demo and the test kit, which bring clients pointed at the mocks).
//! * [`serve`] — router + background worker + graceful shutdown on one listener.
//! * [`record`] — `crmsync serve --record DIR`: deliveries and API answers as a replay scenario.
//! * [`webhooks`] — idempotent webhook installation (`crmsync webhooks install`, the demo, tests).
//!
//! `crmsync` (cli), the Lambda `bootstrap`, the demo and the test harness all build through this
//! crate; nothing else assembles these parts.

pub mod clients;
pub mod record;
mod serve;
pub mod webhooks;

use std::sync::Arc;

use anyhow::{Context, Result};
use crmsync_config::Config;
use crmsync_http::{AppState, PendingPolicy, ReceiverConfig};
use crmsync_store::StoreOptions;
use crmsync_sync::{Alerter, Engine, EngineConfig};
use secrecy::ExposeSecret;

pub use serve::{serve, serve_recording, QueueConsumer, ServeOptions};

/// How [`App::from_config`] builds the receiver and the engine.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The public base URL Monday posts to (e.g. `https://sync.example.org`): pins the JWT
    /// audience to the URLs `crmsync webhooks install` registers. Without it the audience is
    /// rebuilt from the request's `Host` header (logged as a warning).
    pub public_url: Option<url::Url>,
    /// Accept webhooks without authentication (local experiments only).
    pub allow_unauthenticated_webhooks: bool,
    /// What the receiver answers for an event still open after the inline budget.
    pub pending_policy: PendingPolicy,
    /// Apply pending schema migrations while connecting (`crmsync serve` does; a Lambda never
    /// does: `crmsync db migrate` is a deploy step).
    pub migrate: bool,
    /// Engine tuning ([`AppOptions::for_config`] takes the lease and the event deadline from the
    /// configuration).
    pub engine: EngineConfig,
    /// Connection pool of the store (the Lambda uses a pool of 2 without a prepared-statement
    /// cache).
    pub store: StoreOptions,
}

impl AppOptions {
    /// The defaults, with the engine's lease and event deadline from the configuration
    /// (`CRMSYNC_LEASE_SECS`, `CRMSYNC_EVENT_DEADLINE_SECS`, see [`clients::engine_config`]). The
    /// inline budget (`CRMSYNC_INLINE_BUDGET_MS`) reaches the receiver through
    /// [`receiver_config`].
    pub fn for_config(config: &Config) -> AppOptions {
        AppOptions {
            engine: clients::engine_config(config),
            ..AppOptions::default()
        }
    }
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            public_url: None,
            allow_unauthenticated_webhooks: false,
            pending_policy: PendingPolicy::AckWhenStored,
            migrate: true,
            engine: EngineConfig::default(),
            store: StoreOptions::default(),
        }
    }
}

/// The running parts of crmsync: the engine (store, clients, mapping, alerter) and the receiver's
/// configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    /// The engine (holds the store, both clients, the mapping and the alerter).
    pub engine: Engine,
    /// The webhook receiver's configuration (authentication, budget, pending policy, status token).
    pub receiver: ReceiverConfig,
    /// Queue mode's producer (`CRMSYNC_QUEUE_URL`; the binaries build it with `crmsync-cloud`):
    /// the receiver stores each event and sends it there instead of processing it inline.
    pub queue: Option<Arc<dyn crmsync_sync::queue::Enqueue>>,
}

impl App {
    /// Builds everything from the configuration: the store (migrated when `options.migrate`), both
    /// clients, the mapping at `CRMSYNC_MAPPING` validated against the live APIs, the alerter, the
    /// engine and the receiver configuration. Fails with a message naming what is missing.
    pub async fn from_config(config: &Config, options: AppOptions) -> Result<App> {
        let receiver = receiver_config(config, &options)?;
        let engine = clients::engine_with(
            config,
            options.migrate,
            options.engine.clone(),
            &options.store,
        )
        .await?;
        Ok(App {
            engine,
            receiver,
            queue: None,
        })
    }

    /// An app from parts built elsewhere (the demo and the test kit point the clients at mocks).
    pub fn from_parts(engine: Engine, receiver: ReceiverConfig) -> App {
        App {
            engine,
            receiver,
            queue: None,
        }
    }

    /// Queue mode: the receiver sends stored events to `queue` (see [`crmsync_sync::queue`]).
    pub fn with_queue(mut self, queue: Arc<dyn crmsync_sync::queue::Enqueue>) -> App {
        self.queue = Some(queue);
        self
    }

    /// The router's state (the receiver configuration checked).
    pub fn state(&self) -> Result<AppState> {
        let state = AppState::new(self.engine.clone(), self.receiver.clone())
            .context("configuring the receiver")?;
        Ok(match &self.queue {
            Some(q) => state.with_queue(Arc::clone(q)),
            None => state,
        })
    }

    /// The alerter.
    pub fn alerter(&self) -> &Alerter {
        self.engine.alerter()
    }
}

/// The receiver configuration of `options`: JWT audiences from the public URL (with and without
/// `?token=`), the pending policy, unauthenticated mode; an error when no authentication is set.
pub fn receiver_config(config: &Config, options: &AppOptions) -> Result<ReceiverConfig> {
    // Monday puts the webhook's URL in `aud`: the URL `crmsync webhooks install` registered,
    // with `?token=` when MONDAY_WEBHOOK_TOKEN is set. Without a public URL, the URL the request
    // reached is expected instead.
    let audiences = match &options.public_url {
        Some(base) => {
            let mut a = vec![webhooks::receiver_url(base, None).to_string()];
            if let Some(t) = &config.monday.webhook_token {
                a.push(webhooks::receiver_url(base, Some(t.expose_secret())).to_string());
            }
            a
        }
        None => Vec::new(),
    };
    if config.monday.signing_secret.is_some() && audiences.is_empty() {
        // Without a public URL the expected `aud` is rebuilt from the request's Host and
        // X-Forwarded-Proto headers, which the sender controls: a JWT that the same Monday app
        // signed for another URL would then pass. Say so; the fix is one setting.
        tracing::warn!(
            "MONDAY_SIGNING_SECRET is set but no public URL is: the JWT audience is taken from \
             the request's Host header; pass --public-url https://your-host to pin it"
        );
    }
    let mut rc = ReceiverConfig::from_config(config, audiences);
    rc.auth = rc
        .auth
        .allow_unauthenticated(options.allow_unauthenticated_webhooks);
    rc.pending_policy = options.pending_policy;
    if !rc.auth.is_usable() {
        anyhow::bail!(
            "no webhook authentication configured: set MONDAY_SIGNING_SECRET (app webhooks) or \
             MONDAY_WEBHOOK_TOKEN (webhooks created with a personal token), or pass \
             --allow-unauthenticated-webhooks for a local experiment"
        );
    }
    Ok(rc)
}
