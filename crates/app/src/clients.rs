//! Config → runtime adapters: the store, the two API clients, the alerter and the engine, each
//! built from the typed configuration. The only place these conversions exist.

use anyhow::{Context, Result};
use crmsync_config::{Config, SalesforceAuth};
use crmsync_monday::{MondayClient, MondayConfig};
use crmsync_salesforce::{AuthMode, SalesforceClient, SalesforceConfig};
use crmsync_store::{Store, StoreOptions};
use crmsync_sync::{AlertConfig, Alerter, Engine, EngineConfig};
use secrecy::SecretString;

/// Reads the configuration (environment and `.env`); errors name the variable.
pub fn config() -> Result<Config> {
    Config::from_env().context("reading the configuration")
}

/// Installs the log subscriber (stderr; `RUST_LOG`, `CRMSYNC_LOG_FORMAT`). A second call is a no-op.
pub fn init_logs() -> Result<()> {
    let format = crmsync_config::LogFormat::detect().context("setting up logs")?;
    match crmsync_config::init_telemetry(format) {
        Ok(()) | Err(crmsync_config::TelemetryError::AlreadyInitialized(_)) => Ok(()),
        Err(e) => Err(e).context("setting up logs"),
    }
}

/// Connects to `DATABASE_URL` (shown masked in errors).
pub async fn store(config: &Config) -> Result<Store> {
    store_with(config, &StoreOptions::default()).await
}

/// Connects to `DATABASE_URL` with these pool options (shown masked in errors).
pub async fn store_with(config: &Config, options: &StoreOptions) -> Result<Store> {
    Store::connect_with(config.database_url.expose(), options)
        .await
        .with_context(|| format!("connecting to the database {}", config.database_url))
}

/// Connects to `DATABASE_URL` and applies pending schema migrations.
pub async fn migrated_store(config: &Config) -> Result<Store> {
    let store = store(config).await?;
    store
        .migrate()
        .await
        .with_context(|| format!("migrating the database {}", config.database_url))?;
    Ok(store)
}

/// The Salesforce client (`SALESFORCE_*`).
pub fn salesforce(config: &Config) -> Result<SalesforceClient> {
    let s = config
        .require_salesforce()
        .context("configuring the Salesforce client")?;
    let auth = match &s.auth {
        SalesforceAuth::JwtBearer {
            username,
            private_key,
        } => AuthMode::JwtBearer {
            username: username.clone(),
            private_key_pem: private_key.clone(),
        },
        SalesforceAuth::RefreshToken { refresh_token } => AuthMode::RefreshToken {
            refresh_token: refresh_token.clone(),
        },
        SalesforceAuth::ClientCredentials => AuthMode::ClientCredentials,
    };
    let secret = s
        .client_secret
        .clone()
        .unwrap_or_else(|| SecretString::from(String::new()));
    let mut sc = SalesforceConfig::new(s.login_url.clone(), s.client_id.clone(), secret, auth);
    if let Some(v) = &s.api_version {
        sc = sc.with_api_version(v.clone());
    }
    SalesforceClient::new(sc).context("configuring the Salesforce client")
}

/// The Monday client (`MONDAY_API_URL`, `MONDAY_API_TOKEN`, `MONDAY_API_VERSION`,
/// `MONDAY_MUTATIONS_PER_MINUTE`).
pub fn monday(config: &Config) -> Result<MondayClient> {
    let token = config
        .monday
        .require_api_token()
        .context("configuring the Monday client")?;
    let mut mc = MondayConfig::new(token.clone()).with_api_url(config.monday.api_url.as_str());
    if let Some(v) = &config.monday.api_version {
        mc = mc.with_api_version(v.clone());
    }
    mc = mc.with_mutation_limit(mutation_limit(config));
    MondayClient::new(mc).context("configuring the Monday client")
}

/// The mutation limit the Monday client paces itself under (`MONDAY_MUTATIONS_PER_MINUTE`).
pub fn mutation_limit(config: &Config) -> Option<crmsync_monday::MutationLimit> {
    config
        .monday
        .mutations_per_minute
        .map(|n| crmsync_monday::MutationLimit {
            per_window: n,
            window: std::time::Duration::from_secs(60),
        })
}

/// The alerter: Telegram when `TELEGRAM_*` is set, the log otherwise.
pub fn alerter(config: &Config) -> Alerter {
    Alerter::new(AlertConfig::from_config(config))
}

/// The engine tuning of the configuration: [`EngineConfig::default`] with the lease and the
/// per-event deadline from `CRMSYNC_LEASE_SECS` and `CRMSYNC_EVENT_DEADLINE_SECS`.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        lease: config.processing.lease,
        event_deadline: config.processing.event_deadline,
        ..EngineConfig::default()
    }
}

/// Store (migrated when `migrate`), both clients, the mapping at `CRMSYNC_MAPPING` validated
/// against the live APIs, the alerter, and one engine over them.
pub async fn engine(config: &Config, migrate: bool, engine_config: EngineConfig) -> Result<Engine> {
    engine_with(config, migrate, engine_config, &StoreOptions::default()).await
}

/// [`engine`] with these store pool options.
pub async fn engine_with(
    config: &Config,
    migrate: bool,
    engine_config: EngineConfig,
    store_options: &StoreOptions,
) -> Result<Engine> {
    let sf = salesforce(config)?;
    let monday = monday(config)?;
    let store = store_with(config, store_options).await?;
    if migrate {
        store
            .migrate()
            .await
            .with_context(|| format!("migrating the database {}", config.database_url))?;
    }
    let mapping = crmsync_sync::load_mapping(&config.mapping_path, &sf, &monday)
        .await
        .with_context(|| {
            format!(
                "loading the mapping {} (CRMSYNC_MAPPING); `crmsync mapping check` shows every problem",
                config.mapping_path.display()
            )
        })?;
    Ok(Engine::new(
        store,
        mapping,
        sf,
        monday,
        alerter(config),
        engine_config,
    ))
}

/// Reads the mapping at `path`, validates it for the migration against the live describes and
/// boards (labels and field lengths filled in), and returns it with the file's text (part of the
/// migration's plan hash).
pub async fn migration_mapping(
    path: &std::path::Path,
    sf: &SalesforceClient,
    monday: &MondayClient,
) -> Result<(crmsync_core::Mapping, String)> {
    let src = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the mapping file {} (CRMSYNC_MAPPING)",
            path.display()
        )
    })?;
    let parsed = crmsync_core::Mapping::parse(&src, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let schema = crmsync_sync::fetch_schema(&parsed, sf, monday)
        .await
        .context("reading the Salesforce describes and Monday boards the mapping refers to")?;
    let mapping = crmsync_core::validate(&parsed, &schema).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((mapping, src))
}

/// The migration over `store` and the two clients, with the mapping at `path`.
pub async fn migrator(
    path: &std::path::Path,
    store: Store,
    sf: SalesforceClient,
    monday: MondayClient,
    sink: crmsync_migrate::ProgressSink,
) -> Result<crmsync_migrate::Migrator> {
    let (mapping, src) = migration_mapping(path, &sf, &monday).await?;
    Ok(crmsync_migrate::Migrator::new(
        store,
        sf,
        monday,
        mapping,
        &src,
        crmsync_migrate::MigrateOptions::default(),
        sink,
    ))
}
