//! Alerts for humans: Telegram Bot API `sendMessage`, deduplicated and rate-limited.
//!
//! Every alert has a *key* (kind, board, error code). The first alert of a key is sent at once;
//! further alerts of the same key within [`AlertConfig::window`] are only counted, and
//! [`Alerter::flush`] (called by the worker loop) sends one summary with the count once the window
//! has passed. A storm of N identical failures therefore becomes one message, then one summary
//! saying "N-1 more". Without Telegram configured, alerts go to the log (at `error` level).
//!
//! Once the engine hands the alerter its store ([`Alerter::share_windows_through`], done by
//! `Engine::new`), the windows are rows of the store ([`Store::alert_window_hit`], database
//! clock), so N processes send one alert per key and window, and each summary is sent by the one
//! process whose flush claims it ([`Store::claim_due_alert_summaries`]). Without a store the
//! windows are kept in this process.
//!
//! Messages never contain secrets: the bot token only appears in the request URL, and transport
//! errors are logged without their URL.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crmsync_store::{AlertDecision, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// Where Telegram alerts go.
#[derive(Clone)]
pub struct TelegramConfig {
    /// Bot API base URL, default `https://api.telegram.org` (`TELEGRAM_API_URL`, overridable for tests).
    pub api_url: String,
    /// Bot token (`TELEGRAM_BOT_TOKEN`).
    pub bot_token: SecretString,
    /// Chat id (`TELEGRAM_CHAT_ID`).
    pub chat_id: String,
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("api_url", &self.api_url)
            .field("bot_token", &"[redacted]")
            .field("chat_id", &self.chat_id)
            .finish()
    }
}

/// Alerting configuration.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// `None`: alerts are written to the log only (said once at startup).
    pub telegram: Option<TelegramConfig>,
    /// Alerts of one key within this window are folded into one summary. Default 10 minutes.
    pub window: Duration,
    /// Timeout of one `sendMessage` call. Default 10 s.
    pub send_timeout: Duration,
}

impl From<&crmsync_config::TelegramSettings> for TelegramConfig {
    fn from(t: &crmsync_config::TelegramSettings) -> Self {
        TelegramConfig {
            api_url: t.api_url.as_str().trim_end_matches('/').to_string(),
            bot_token: t.bot_token.clone(),
            chat_id: t.chat_id.clone(),
        }
    }
}

impl AlertConfig {
    /// Telegram from the `TELEGRAM_*` settings (log only when absent), default window.
    pub fn from_config(config: &crmsync_config::Config) -> AlertConfig {
        AlertConfig {
            telegram: config.telegram.as_ref().map(TelegramConfig::from),
            ..AlertConfig::default()
        }
    }
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            telegram: None,
            window: Duration::from_secs(600),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// What kind of problem an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// An event failed permanently and went to the dead letters.
    DeadLetter,
    /// Salesforce's API request limit was hit; processing is paused.
    RateLimited,
    /// An event kept failing transiently and ran out of retries.
    RetriesExhausted,
}

impl AlertKind {
    fn slug(self) -> &'static str {
        match self {
            AlertKind::DeadLetter => "dead_letter",
            AlertKind::RateLimited => "rate_limited",
            AlertKind::RetriesExhausted => "retries_exhausted",
        }
    }

    fn title(self) -> &'static str {
        match self {
            AlertKind::DeadLetter => "A Monday change could not be copied to Salesforce",
            AlertKind::RateLimited => "Salesforce API limit reached: syncing is paused",
            AlertKind::RetriesExhausted => {
                "A Monday change could not be copied to Salesforce after many retries"
            }
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Kind.
    pub kind: AlertKind,
    /// Board id, when the alert is about an event.
    pub board_id: Option<String>,
    /// Board name from the mapping (e.g. `Leads`).
    pub board_name: Option<String>,
    /// Monday item id.
    pub item_id: Option<String>,
    /// Event id in the event log.
    pub event_id: Option<i64>,
    /// Dead letter id, for dead letters.
    pub dead_letter_id: Option<i64>,
    /// Short error code used for deduplication (e.g. `FIELD_CUSTOM_VALIDATION_EXCEPTION`).
    pub code: String,
    /// The error as Salesforce (or Monday) reported it.
    pub error: String,
    /// What a person should do about it.
    pub what_to_do: String,
}

impl Alert {
    fn key(&self) -> AlertKey {
        (self.kind, self.board_id.clone(), self.code.clone())
    }

    /// The key as the store's alert window key: `kind|board|code`.
    fn store_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.kind.slug(),
            self.board_id.as_deref().unwrap_or("-"),
            self.code
        )
    }

    /// The message text (plain text, no secrets).
    pub fn text(&self) -> String {
        let mut s = format!("⚠️ crmsync: {}\n", self.kind.title());
        if let Some(b) = &self.board_id {
            match &self.board_name {
                Some(n) => s.push_str(&format!("Board: {n} ({b})\n")),
                None => s.push_str(&format!("Board: {b}\n")),
            }
        }
        if let Some(i) = &self.item_id {
            s.push_str(&format!("Item: {i}\n"));
        }
        if let Some(e) = self.event_id {
            s.push_str(&format!("Event: {e}\n"));
        }
        if let Some(d) = self.dead_letter_id {
            s.push_str(&format!("Dead letter: {d}\n"));
        }
        s.push_str(&format!("Error: {}\n", truncate(&self.error, 1500)));
        s.push_str(&format!("What to do: {}", self.what_to_do));
        s
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Deduplication key: kind, board, error code.
type AlertKey = (AlertKind, Option<String>, String);

struct KeyState {
    window_start: Instant,
    suppressed: u64,
    last: Alert,
}

struct Inner {
    config: AlertConfig,
    http: reqwest::Client,
    state: Mutex<HashMap<AlertKey, KeyState>>,
    sent: Mutex<Vec<String>>,
    /// Where the windows live once shared (see [`Alerter::share_windows_through`]).
    store: std::sync::OnceLock<Store>,
    /// The last alert of each store key seen by this process (for the summary's text).
    last: Mutex<HashMap<String, Alert>>,
}

/// Sends alerts (cheap to clone; clones share the deduplication state).
#[derive(Clone)]
pub struct Alerter {
    inner: Arc<Inner>,
}

impl fmt::Debug for Alerter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerter")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Alerter {
    /// An alerter. Logs once whether alerts go to Telegram or to the log only.
    pub fn new(config: AlertConfig) -> Alerter {
        match &config.telegram {
            Some(t) => tracing::info!(chat_id = %t.chat_id, "alerts go to Telegram"),
            None => tracing::warn!(
                "Telegram is not configured (TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID): alerts go to the log only"
            ),
        }
        let http = reqwest::Client::builder()
            .timeout(config.send_timeout)
            .build()
            .unwrap_or_default();
        Alerter {
            inner: Arc::new(Inner {
                config,
                http,
                state: Mutex::new(HashMap::new()),
                sent: Mutex::new(Vec::new()),
                store: std::sync::OnceLock::new(),
                last: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// An alerter that only logs.
    pub fn log_only() -> Alerter {
        Alerter::new(AlertConfig::default())
    }

    /// Keeps the deduplication windows in `store` from now on (shared with every process on it).
    /// The first store given wins; later calls are ignored.
    pub fn share_windows_through(&self, store: Store) {
        let _ = self.inner.store.set(store);
    }

    /// Raises an alert: sent now if it is the first of its key in the window, otherwise counted for
    /// the summary that [`Alerter::flush`] sends.
    pub async fn alert(&self, alert: Alert) {
        let Some(store) = self.inner.store.get() else {
            return self.alert_at(alert, Instant::now()).await;
        };
        let key = alert.store_key();
        lock(&self.inner.last).insert(key.clone(), alert.clone());
        match store.alert_window_hit(&key, self.inner.config.window).await {
            Ok(AlertDecision::Send) => self.send(&alert.text()).await,
            Ok(AlertDecision::Suppressed { .. }) => {}
            Err(e) => {
                // Better a duplicate than a lost alert.
                tracing::warn!(error = %e, "alert window unavailable; sending the alert anyway");
                self.send(&alert.text()).await;
            }
        }
    }

    /// [`Alerter::alert`] at a given instant (tests drive the window without sleeping).
    async fn alert_at(&self, alert: Alert, now: Instant) {
        let send = {
            let mut st = lock(&self.inner.state);
            match st.get_mut(&alert.key()) {
                Some(ks) if now.duration_since(ks.window_start) < self.inner.config.window => {
                    ks.suppressed += 1;
                    ks.last = alert.clone();
                    None
                }
                Some(ks) => {
                    // Window over: send this one, folding in anything still counted.
                    let extra = std::mem::take(&mut ks.suppressed);
                    ks.window_start = now;
                    ks.last = alert.clone();
                    Some(with_count(alert.text(), extra))
                }
                None => {
                    st.insert(
                        alert.key(),
                        KeyState {
                            window_start: now,
                            suppressed: 0,
                            last: alert.clone(),
                        },
                    );
                    Some(alert.text())
                }
            }
        };
        if let Some(text) = send {
            self.send(&text).await;
        }
    }

    /// Sends one summary per key whose window has passed with alerts counted but not sent.
    /// Returns how many summaries were sent.
    pub async fn flush(&self) -> usize {
        let Some(store) = self.inner.store.get() else {
            return self.flush_at(Instant::now()).await;
        };
        let due = match store.claim_due_alert_summaries(50).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not read due alert summaries; retried later");
                return 0;
            }
        };
        for summary in &due {
            let what = lock(&self.inner.last)
                .get(&summary.key)
                .map(Alert::text)
                .unwrap_or_else(|| describe_key(&summary.key));
            let text = format!(
                "crmsync: {} more alert(s) like this in the last {}:\n{what}",
                summary.suppressed,
                human(self.inner.config.window)
            );
            self.send(&text).await;
        }
        due.len()
    }

    /// [`Alerter::flush`] at a given instant.
    async fn flush_at(&self, now: Instant) -> usize {
        let due: Vec<String> = {
            let mut st = lock(&self.inner.state);
            st.values_mut()
                .filter(|ks| {
                    ks.suppressed > 0
                        && now.duration_since(ks.window_start) >= self.inner.config.window
                })
                .map(|ks| {
                    let n = std::mem::take(&mut ks.suppressed);
                    ks.window_start = now;
                    format!(
                        "crmsync: {n} more alert(s) like this in the last {}:\n{}",
                        human(self.inner.config.window),
                        ks.last.text()
                    )
                })
                .collect()
        };
        for text in &due {
            self.send(text).await;
        }
        due.len()
    }

    /// Texts of every message this alerter sent or logged, oldest first (for tests and the demo).
    pub fn sent_messages(&self) -> Vec<String> {
        lock(&self.inner.sent).clone()
    }

    async fn send(&self, text: &str) {
        lock(&self.inner.sent).push(text.to_string());
        let Some(tg) = &self.inner.config.telegram else {
            tracing::error!(alert = %text, "ALERT (Telegram not configured)");
            return;
        };
        let url = format!(
            "{}/bot{}/sendMessage",
            tg.api_url.trim_end_matches('/'),
            tg.bot_token.expose_secret()
        );
        let res = self
            .inner
            .http
            .post(url)
            .json(&json!({ "chat_id": tg.chat_id, "text": text }))
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => tracing::info!("alert sent to Telegram"),
            Ok(r) => {
                let status = r.status();
                tracing::error!(%status, alert = %text, "Telegram refused the alert; it is logged here instead")
            }
            Err(e) => {
                let e = e.without_url();
                tracing::error!(error = %e, alert = %text, "sending the alert to Telegram failed; it is logged here instead")
            }
        }
    }
}

/// A summary's subject when this process never saw the alert itself (another process did).
fn describe_key(key: &str) -> String {
    let mut parts = key.splitn(3, '|');
    let kind = match parts.next() {
        Some("dead_letter") => AlertKind::DeadLetter.title(),
        Some("rate_limited") => AlertKind::RateLimited.title(),
        Some("retries_exhausted") => AlertKind::RetriesExhausted.title(),
        _ => "crmsync alert",
    };
    let board = parts.next().unwrap_or("-");
    let code = parts.next().unwrap_or("");
    format!("⚠️ crmsync: {kind}\nBoard: {board}\nError code: {code}")
}

fn with_count(text: String, extra: u64) -> String {
    if extra == 0 {
        text
    } else {
        format!("{text}\n(+{extra} similar alert(s) in the previous window)")
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} minutes", s / 60)
    } else if s >= 1 {
        format!("{s} seconds")
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(code: &str) -> Alert {
        Alert {
            kind: AlertKind::DeadLetter,
            board_id: Some("1".into()),
            board_name: Some("Leads".into()),
            item_id: Some("2".into()),
            event_id: Some(3),
            dead_letter_id: Some(4),
            code: code.into(),
            error: "FIELD_CUSTOM_VALIDATION_EXCEPTION: Amount must be positive".into(),
            what_to_do: "Fix the mapping, then run `crmsync dead-letters replay 4`.".into(),
        }
    }

    #[tokio::test]
    async fn storm_of_one_key_is_one_message_then_one_summary() {
        let window = Duration::from_secs(60);
        let a = Alerter::new(AlertConfig {
            window,
            ..AlertConfig::default()
        });
        let t0 = Instant::now();
        for n in 0..10 {
            a.alert_at(alert("X"), t0 + Duration::from_secs(n)).await;
        }
        assert_eq!(a.sent_messages().len(), 1);
        assert_eq!(
            a.flush_at(t0 + window - Duration::from_millis(1)).await,
            0,
            "window not over yet"
        );
        assert_eq!(a.flush_at(t0 + window).await, 1);
        let msgs = a.sent_messages();
        assert_eq!(msgs.len(), 2);
        assert!(msgs[1].contains("9 more alert(s)"), "{}", msgs[1]);
        assert_eq!(
            a.flush_at(t0 + window * 3).await,
            0,
            "nothing left to summarise"
        );
    }

    #[tokio::test]
    async fn different_codes_are_separate_alerts() {
        let a = Alerter::log_only();
        a.alert(alert("X")).await;
        a.alert(alert("Y")).await;
        a.alert(alert("X")).await;
        assert_eq!(a.sent_messages().len(), 2);
    }

    #[test]
    fn text_says_what_failed_where_and_what_to_do() {
        let t = alert("X").text();
        for needle in [
            "Board: Leads (1)",
            "Item: 2",
            "Event: 3",
            "Dead letter: 4",
            "Amount must be positive",
            "What to do: Fix the mapping",
        ] {
            assert!(t.contains(needle), "{needle} missing from {t}");
        }
    }

    #[test]
    fn debug_redacts_the_bot_token() {
        let c = TelegramConfig {
            api_url: "http://x".into(),
            bot_token: SecretString::from("123:SECRET"),
            chat_id: "42".into(),
        };
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
