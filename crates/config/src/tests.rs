use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn err(pairs: &[(&str, &str)]) -> ConfigError {
    Config::from_map(&env(pairs)).expect_err("should be rejected")
}

fn var_of(e: &ConfigError) -> &str {
    match e {
        ConfigError::Missing { var, .. } | ConfigError::Invalid { var, .. } => var,
        ConfigError::NotUnicode { var } => var,
        ConfigError::DotEnv { .. } => ".env",
    }
}

const PEM: &str =
    "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----";

#[test]
fn defaults_from_an_empty_environment() {
    let c = Config::from_map(&HashMap::new()).unwrap();
    assert_eq!(c.database_url.expose(), "sqlite://crmsync.db");
    assert!(c.database_url.is_sqlite());
    assert_eq!(c.mapping_path, PathBuf::from("mapping.toml"));
    assert!(c.salesforce.is_none());
    assert_eq!(c.monday.api_url.as_str(), "https://api.monday.com/v2");
    assert!(c.monday.api_token.is_none());
    assert!(c.monday.api_version.is_none());
    assert!(!c.monday.can_authenticate_webhooks());
    assert!(c.telegram.is_none());
    assert!(c.status_token.is_none());
}

#[test]
fn empty_values_count_as_unset() {
    let c = Config::from_map(&env(&[
        ("DATABASE_URL", ""),
        ("CRMSYNC_MAPPING", "  "),
        ("SALESFORCE_CLIENT_ID", ""),
        ("TELEGRAM_BOT_TOKEN", ""),
    ]))
    .unwrap();
    assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
    assert_eq!(c.mapping_path, PathBuf::from(DEFAULT_MAPPING));
    assert!(c.salesforce.is_none());
    assert!(c.telegram.is_none());
}

#[test]
fn everything_set() {
    let c = Config::from_map(&env(&[
        ("DATABASE_URL", "postgres://crm:pg-pass-1@db:5432/crmsync"),
        ("CRMSYNC_MAPPING", "/etc/crmsync/mapping.toml"),
        ("SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com"),
        ("SALESFORCE_CLIENT_ID", "3MVG9-consumer-key"),
        ("SALESFORCE_CLIENT_SECRET", "sf-secret-2"),
        ("SALESFORCE_REFRESH_TOKEN", "sf-refresh-3"),
        ("SALESFORCE_API_VERSION", "v61.0"),
        ("MONDAY_API_URL", "http://127.0.0.1:4000/v2"),
        ("MONDAY_API_TOKEN", "monday-token-4"),
        ("MONDAY_API_VERSION", "2026-10"),
        ("MONDAY_SIGNING_SECRET", "monday-signing-5"),
        ("MONDAY_WEBHOOK_TOKEN", "monday-webhook-6"),
        ("TELEGRAM_BOT_TOKEN", "123456:telegram-7"),
        ("TELEGRAM_CHAT_ID", "-1001234567890"),
        ("TELEGRAM_API_URL", "http://127.0.0.1:4001"),
        ("CRMSYNC_STATUS_TOKEN", "status-token-8"),
    ]))
    .unwrap();
    assert_eq!(
        c.database_url.expose(),
        "postgres://crm:pg-pass-1@db:5432/crmsync"
    );
    assert!(!c.database_url.is_sqlite());
    assert_eq!(c.mapping_path, PathBuf::from("/etc/crmsync/mapping.toml"));
    let sf = c.require_salesforce().unwrap();
    assert_eq!(sf.login_url.as_str(), "https://acme.my.salesforce.com/");
    assert_eq!(sf.client_id, "3MVG9-consumer-key");
    assert_eq!(
        sf.client_secret.as_ref().map(|s| s.expose_secret()),
        Some("sf-secret-2")
    );
    assert_eq!(sf.api_version.as_deref(), Some("61.0"));
    match &sf.auth {
        SalesforceAuth::RefreshToken { refresh_token } => {
            assert_eq!(refresh_token.expose_secret(), "sf-refresh-3")
        }
        other => panic!("expected refresh token, got {other:?}"),
    }
    assert_eq!(c.monday.api_url.as_str(), "http://127.0.0.1:4000/v2");
    assert_eq!(
        c.monday.require_api_token().unwrap().expose_secret(),
        "monday-token-4"
    );
    assert_eq!(c.monday.api_version.as_deref(), Some("2026-10"));
    assert!(c.monday.can_authenticate_webhooks());
    let tg = c.telegram.as_ref().unwrap();
    assert_eq!(tg.bot_token.expose_secret(), "123456:telegram-7");
    assert_eq!(tg.chat_id, "-1001234567890");
    assert_eq!(tg.api_url.as_str(), "http://127.0.0.1:4001/");
    assert_eq!(
        c.status_token.as_ref().map(|s| s.expose_secret()),
        Some("status-token-8")
    );
}

#[test]
fn debug_and_display_never_show_secrets() {
    let secrets = [
        "pg-pass-1",
        "sf-secret-2",
        "sf-refresh-3",
        "monday-token-4",
        "monday-signing-5",
        "monday-webhook-6",
        "123456:telegram-7",
        "status-token-8",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ];
    let base = [
        (
            "DATABASE_URL",
            "postgres://crm:pg-pass-1@db:5432/crmsync?password=pg-pass-1",
        ),
        ("SALESFORCE_CLIENT_ID", "3MVG9-consumer-key"),
        ("SALESFORCE_CLIENT_SECRET", "sf-secret-2"),
        ("MONDAY_API_TOKEN", "monday-token-4"),
        ("MONDAY_SIGNING_SECRET", "monday-signing-5"),
        ("MONDAY_WEBHOOK_TOKEN", "monday-webhook-6"),
        ("TELEGRAM_BOT_TOKEN", "123456:telegram-7"),
        ("TELEGRAM_CHAT_ID", "@alerts"),
        ("CRMSYNC_STATUS_TOKEN", "status-token-8"),
    ];
    let mut jwt = env(&base);
    jwt.insert("SALESFORCE_USERNAME".into(), "integration@acme.org".into());
    jwt.insert("SALESFORCE_PRIVATE_KEY".into(), PEM.into());
    let mut refresh = env(&base);
    refresh.insert("SALESFORCE_REFRESH_TOKEN".into(), "sf-refresh-3".into());
    for vars in [jwt, refresh, env(&base)] {
        let c = Config::from_map(&vars).unwrap();
        let debug = format!("{c:?}");
        let pretty = format!("{c:#?}");
        let display = format!("{}", c.database_url);
        for s in secrets {
            assert!(!debug.contains(s), "{s} leaked in {debug}");
            assert!(!pretty.contains(s), "{s} leaked in {pretty}");
            assert!(!display.contains(s), "{s} leaked in {display}");
        }
        assert!(debug.contains("REDACTED"), "{debug}");
        assert!(
            debug.contains("postgres://crm:***@db:5432/crmsync"),
            "{debug}"
        );
        assert!(
            debug.contains("3MVG9-consumer-key"),
            "non-secrets stay visible: {debug}"
        );
    }
}

#[test]
fn salesforce_auth_mode_is_derived() {
    let jwt = Config::from_map(&env(&[
        ("SALESFORCE_CLIENT_ID", "id"),
        ("SALESFORCE_USERNAME", "u@acme.org"),
        ("SALESFORCE_PRIVATE_KEY", PEM),
        // a refresh token too: JWT wins
        ("SALESFORCE_REFRESH_TOKEN", "rt"),
    ]))
    .unwrap();
    let sf = jwt.salesforce.unwrap();
    assert_eq!(sf.auth.name(), "jwt-bearer");
    assert_eq!(sf.login_url.as_str(), "https://login.salesforce.com/");
    assert!(sf.client_secret.is_none());
    match sf.auth {
        SalesforceAuth::JwtBearer {
            username,
            private_key,
        } => {
            assert_eq!(username, "u@acme.org");
            assert!(private_key.expose_secret().contains("-----\nMIIE"));
        }
        other => panic!("{other:?}"),
    }

    let rt = Config::from_map(&env(&[
        ("SALESFORCE_CLIENT_ID", "id"),
        ("SALESFORCE_REFRESH_TOKEN", "rt"),
    ]))
    .unwrap();
    assert_eq!(rt.salesforce.unwrap().auth.name(), "refresh-token");

    let cc = Config::from_map(&env(&[
        ("SALESFORCE_CLIENT_ID", "id"),
        ("SALESFORCE_CLIENT_SECRET", "secret"),
    ]))
    .unwrap();
    assert_eq!(cc.salesforce.unwrap().auth.name(), "client-credentials");
}

#[test]
fn salesforce_missing_pieces_name_the_variable() {
    assert_eq!(
        var_of(&err(&[("SALESFORCE_CLIENT_SECRET", "s")])),
        "SALESFORCE_CLIENT_ID"
    );
    assert_eq!(
        var_of(&err(&[("SALESFORCE_CLIENT_ID", "id")])),
        "SALESFORCE_CLIENT_SECRET"
    );
    assert_eq!(
        var_of(&err(&[
            ("SALESFORCE_CLIENT_ID", "id"),
            ("SALESFORCE_USERNAME", "u")
        ])),
        "SALESFORCE_PRIVATE_KEY"
    );
    assert_eq!(
        var_of(&err(&[
            ("SALESFORCE_CLIENT_ID", "id"),
            ("SALESFORCE_PRIVATE_KEY", PEM)
        ])),
        "SALESFORCE_USERNAME"
    );
    let e = err(&[
        ("SALESFORCE_CLIENT_ID", "id"),
        ("SALESFORCE_USERNAME", "u"),
        ("SALESFORCE_PRIVATE_KEY", "not-a-key-sekrit"),
    ]);
    assert_eq!(var_of(&e), "SALESFORCE_PRIVATE_KEY");
    assert!(!e.to_string().contains("sekrit"), "{e}");
    let no_sf = Config::from_map(&HashMap::new()).unwrap();
    assert_eq!(
        var_of(&no_sf.require_salesforce().unwrap_err()),
        "SALESFORCE_CLIENT_ID"
    );
}

#[test]
fn malformed_values_name_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("DATABASE_URL", "mysql://u:hunter2@h/db", "DATABASE_URL"),
        ("DATABASE_URL", "crmsync.db", "DATABASE_URL"),
        ("MONDAY_API_URL", "not a url", "MONDAY_API_URL"),
        (
            "MONDAY_API_URL",
            "ftp://api.monday.com/v2",
            "MONDAY_API_URL",
        ),
        ("MONDAY_API_VERSION", "2026-13", "MONDAY_API_VERSION"),
        ("MONDAY_API_VERSION", "v2", "MONDAY_API_VERSION"),
        ("MONDAY_API_VERSION", "2026-1", "MONDAY_API_VERSION"),
    ];
    for (var, value, expected) in cases {
        let e = err(&[(var, value)]);
        assert_eq!(var_of(&e), *expected, "{var}={value}: {e}");
        assert!(e.to_string().starts_with(expected), "{e}");
    }
    for bad in ["62", "latest", "v62", "62.0.1", "6x.0", "62.10"] {
        let e = err(&[
            ("SALESFORCE_CLIENT_ID", "id"),
            ("SALESFORCE_REFRESH_TOKEN", "rt"),
            ("SALESFORCE_API_VERSION", bad),
        ]);
        assert_eq!(var_of(&e), "SALESFORCE_API_VERSION", "{bad}: {e}");
    }
    let e = err(&[
        ("SALESFORCE_CLIENT_ID", "id"),
        ("SALESFORCE_REFRESH_TOKEN", "rt"),
        ("SALESFORCE_LOGIN_URL", "login.salesforce.com"),
    ]);
    assert_eq!(var_of(&e), "SALESFORCE_LOGIN_URL");
    // a bad DATABASE_URL is shown masked
    let e = err(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]);
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn salesforce_version_forms() {
    for (raw, want) in [("62.0", "62.0"), ("v61.0", "61.0"), ("V9.0", "9.0")] {
        assert_eq!(parse_salesforce_version(raw).unwrap(), want);
    }
}

#[test]
fn telegram_needs_token_and_chat() {
    assert_eq!(
        var_of(&err(&[("TELEGRAM_BOT_TOKEN", "t")])),
        "TELEGRAM_CHAT_ID"
    );
    assert_eq!(
        var_of(&err(&[("TELEGRAM_CHAT_ID", "42")])),
        "TELEGRAM_BOT_TOKEN"
    );
    assert_eq!(
        var_of(&err(&[("TELEGRAM_API_URL", "http://127.0.0.1:1")])),
        "TELEGRAM_BOT_TOKEN"
    );
    assert_eq!(
        var_of(&err(&[
            ("TELEGRAM_BOT_TOKEN", "t"),
            ("TELEGRAM_CHAT_ID", "my chat")
        ])),
        "TELEGRAM_CHAT_ID"
    );
    let c = Config::from_map(&env(&[
        ("TELEGRAM_BOT_TOKEN", "t"),
        ("TELEGRAM_CHAT_ID", "42"),
    ]))
    .unwrap();
    let tg = c.telegram.unwrap();
    assert_eq!(tg.api_url.as_str(), "https://api.telegram.org/");
    assert_eq!(tg.chat_id, "42");
}

#[test]
fn monday_require_api_token_names_it() {
    let c = Config::from_map(&env(&[("MONDAY_WEBHOOK_TOKEN", "w")])).unwrap();
    assert!(c.monday.can_authenticate_webhooks());
    assert_eq!(
        var_of(&c.monday.require_api_token().unwrap_err()),
        "MONDAY_API_TOKEN"
    );
}

#[test]
fn dotenv_fills_gaps_and_real_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "# comment").unwrap();
    writeln!(f, "DATABASE_URL=sqlite://from-dotenv.db").unwrap();
    writeln!(f, "MONDAY_API_TOKEN=\"token from file\"").unwrap();
    writeln!(f, "CRMSYNC_MAPPING=dotenv-mapping.toml").unwrap();
    drop(f);
    let c = Config::load(
        env(&[("CRMSYNC_MAPPING", "real-mapping.toml")]),
        Some(&path),
    )
    .unwrap();
    assert_eq!(c.database_url.expose(), "sqlite://from-dotenv.db");
    assert_eq!(
        c.monday.api_token.unwrap().expose_secret(),
        "token from file"
    );
    assert_eq!(c.mapping_path, PathBuf::from("real-mapping.toml"));
}

#[test]
fn broken_dotenv_names_the_file_but_not_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, "MONDAY_API_TOKEN='unterminated-sekrit\n").unwrap();
    let e = Config::load(HashMap::new(), Some(&path)).unwrap_err();
    assert!(matches!(e, ConfigError::DotEnv { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(".env"), "{msg}");
    assert!(!msg.contains("sekrit"), "{msg}");
    let missing = Config::load(HashMap::new(), Some(&dir.path().join("absent.env"))).unwrap_err();
    assert!(matches!(missing, ConfigError::DotEnv { .. }), "{missing}");
}

// ---- telemetry ----

fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn log_format_rules() {
    // terminal → human, pipe → json
    assert_eq!(
        log_format_from(lookup(&[]), true).unwrap(),
        LogFormat::Human
    );
    assert_eq!(
        log_format_from(lookup(&[]), false).unwrap(),
        LogFormat::Json
    );
    // Lambda → json even on a terminal
    let lambda = [("AWS_LAMBDA_FUNCTION_NAME", "crmsync-webhook")];
    assert_eq!(
        log_format_from(lookup(&lambda), true).unwrap(),
        LogFormat::Json
    );
    // explicit choice wins over everything
    let forced_json = [("CRMSYNC_LOG_FORMAT", "JSON")];
    assert_eq!(
        log_format_from(lookup(&forced_json), true).unwrap(),
        LogFormat::Json
    );
    let forced_human = [
        ("CRMSYNC_LOG_FORMAT", "human"),
        ("AWS_LAMBDA_FUNCTION_NAME", "f"),
    ];
    assert_eq!(
        log_format_from(lookup(&forced_human), false).unwrap(),
        LogFormat::Human
    );
    // empty = unset
    let empty = [("CRMSYNC_LOG_FORMAT", ""), ("AWS_LAMBDA_FUNCTION_NAME", "")];
    assert_eq!(
        log_format_from(lookup(&empty), true).unwrap(),
        LogFormat::Human
    );
    // anything else names the variable
    let bad = [("CRMSYNC_LOG_FORMAT", "xml")];
    match log_format_from(lookup(&bad), true) {
        Err(TelemetryError::Invalid { var, .. }) => assert_eq!(var, "CRMSYNC_LOG_FORMAT"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn filter_defaults_and_rejects_garbage() {
    assert_eq!(
        parse_filter(None).unwrap().to_string(),
        EnvFilter::new(DEFAULT_FILTER).to_string()
    );
    assert_eq!(
        parse_filter(Some(" ")).unwrap().to_string(),
        EnvFilter::new(DEFAULT_FILTER).to_string()
    );
    let mixed = parse_filter(Some("crmsync=debug,warn")).unwrap();
    // The most verbose directive is `crmsync=debug`.
    assert_eq!(
        mixed.max_level_hint(),
        Some(tracing_subscriber::filter::LevelFilter::DEBUG)
    );
    assert_eq!(
        mixed.to_string(),
        EnvFilter::new("crmsync=debug,warn").to_string()
    );
    match parse_filter(Some("crmsync=[[[")) {
        Err(TelemetryError::Invalid { var, .. }) => assert_eq!(var, "RUST_LOG"),
        other => panic!("{other:?}"),
    }
}

use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn capture(format: LogFormat, filter: &str) -> String {
    let out = Capture::default();
    let sub = subscriber(format, EnvFilter::new(filter), out.clone(), false);
    tracing::subscriber::with_default(sub, || {
        let span = tracing::info_span!("webhook", trigger_uuid = "abc-123");
        let _g = span.enter();
        tracing::info!(board_id = 42, "event stored");
        tracing::debug!("hidden at info");
    });
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn json_format_writes_one_json_object_per_line() {
    let text = capture(LogFormat::Json, "info");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["message"], "event stored");
    assert_eq!(v["board_id"], 42);
    assert_eq!(v["span"]["trigger_uuid"], "abc-123");
}

#[test]
fn human_format_is_plain_text_and_filtered() {
    let text = capture(LogFormat::Human, "info");
    assert!(text.contains("event stored"), "{text}");
    assert!(text.contains("board_id=42"), "{text}");
    assert!(!text.contains("hidden at info"), "{text}");
    assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    let debug = capture(LogFormat::Human, "debug");
    assert!(debug.contains("hidden at info"), "{debug}");
}

#[test]
fn processing_timings_have_defaults_parse_and_name_the_variable() {
    let c = Config::from_map(&HashMap::new()).unwrap();
    assert_eq!(c.processing.lease, Duration::from_secs(60));
    assert_eq!(c.processing.event_deadline, Duration::from_secs(45));
    assert_eq!(c.processing.inline_budget, Duration::from_millis(5000));

    let c = Config::from_map(&env(&[
        ("CRMSYNC_LEASE_SECS", "900"),
        ("CRMSYNC_EVENT_DEADLINE_SECS", "600"),
        ("CRMSYNC_INLINE_BUDGET_MS", "2500"),
    ]))
    .unwrap();
    assert_eq!(c.processing.lease, Duration::from_secs(900));
    assert_eq!(c.processing.event_deadline, Duration::from_secs(600));
    assert_eq!(c.processing.inline_budget, Duration::from_millis(2500));

    for (pairs, var, needle) in [
        (
            &[("CRMSYNC_LEASE_SECS", "1m")][..],
            "CRMSYNC_LEASE_SECS",
            "whole number",
        ),
        (
            &[("CRMSYNC_LEASE_SECS", "0")][..],
            "CRMSYNC_LEASE_SECS",
            "at least 1",
        ),
        (
            &[("CRMSYNC_LEASE_SECS", "18446744073709551615")][..],
            "CRMSYNC_LEASE_SECS",
            "more than a day",
        ),
        (
            &[("CRMSYNC_EVENT_DEADLINE_SECS", "-3")][..],
            "CRMSYNC_EVENT_DEADLINE_SECS",
            "whole number",
        ),
        (
            &[
                ("CRMSYNC_LEASE_SECS", "30"),
                ("CRMSYNC_EVENT_DEADLINE_SECS", "30"),
            ][..],
            "CRMSYNC_EVENT_DEADLINE_SECS",
            "shorter than CRMSYNC_LEASE_SECS (30 s)",
        ),
        (
            &[
                ("CRMSYNC_LEASE_SECS", "10"),
                ("CRMSYNC_EVENT_DEADLINE_SECS", "5"),
                ("CRMSYNC_INLINE_BUDGET_MS", "10000"),
            ][..],
            "CRMSYNC_INLINE_BUDGET_MS",
            "shorter than CRMSYNC_LEASE_SECS (10 s)",
        ),
        (
            &[("CRMSYNC_INLINE_BUDGET_MS", "0")][..],
            "CRMSYNC_INLINE_BUDGET_MS",
            "at least 1",
        ),
    ] {
        let e = err(pairs);
        assert_eq!(var_of(&e), var, "{pairs:?}: {e}");
        assert!(e.to_string().contains(needle), "{pairs:?}: {e}");
    }
}

#[test]
fn sweep_interval_defaults_to_15_minutes_0_turns_it_off_and_junk_names_the_variable() {
    let c = Config::from_map(&HashMap::new()).unwrap();
    assert_eq!(c.sweep_every, Some(Duration::from_secs(15 * 60)));
    let c = Config::from_map(&env(&[("CRMSYNC_SWEEP_MINUTES", "5")])).unwrap();
    assert_eq!(c.sweep_every, Some(Duration::from_secs(300)));
    let c = Config::from_map(&env(&[("CRMSYNC_SWEEP_MINUTES", "0")])).unwrap();
    assert_eq!(c.sweep_every, None);
    for (raw, needle) in [
        ("15m", "whole number of minutes"),
        ("99999999", "more than a week"),
    ] {
        let e = err(&[("CRMSYNC_SWEEP_MINUTES", raw)]);
        assert_eq!(var_of(&e), "CRMSYNC_SWEEP_MINUTES", "{raw}: {e}");
        assert!(e.to_string().contains(needle), "{raw}: {e}");
    }
}

#[test]
fn mutations_per_minute_defaults_to_mondays_limit_and_zero_turns_pacing_off() {
    let c = Config::from_map(&env(&[])).unwrap();
    assert_eq!(c.monday.mutations_per_minute, Some(2_000));
    let c = Config::from_map(&env(&[("MONDAY_MUTATIONS_PER_MINUTE", "120")])).unwrap();
    assert_eq!(c.monday.mutations_per_minute, Some(120));
    let c = Config::from_map(&env(&[("MONDAY_MUTATIONS_PER_MINUTE", "0")])).unwrap();
    assert_eq!(c.monday.mutations_per_minute, None);
    let e = Config::from_map(&env(&[("MONDAY_MUTATIONS_PER_MINUTE", "fast")])).unwrap_err();
    assert_eq!(var_of(&e), "MONDAY_MUTATIONS_PER_MINUTE");
}
