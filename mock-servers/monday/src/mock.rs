//! The shared core of one mock instance: state, limits, journal, faults and webhook delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::activity::{self, ActivityRec};
use crate::complexity::Window;
use crate::config::{BudgetErrorMode, Config};
use crate::model::Seed;
use crate::state::{ApiError, Event, State};
use crate::webhooks::{self, Attempt, Delivery, DeliveryState, WebhookFaults};

/// A canned answer for the next requests to `/v2` (fault injection).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CannedResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    #[serde(default)]
    pub body: Value,
    /// `Retry-After` header, if any.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// How many requests get this answer.
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests whose GraphQL query text contains this string get this answer (e.g.
    /// `"change_multiple_column_values"`); others pass it by. Absent: the next requests, whatever
    /// they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_contains: Option<String>,
    /// Apply, then fail: the request is executed for real first (items created or changed,
    /// webhooks fired, budget charged), then the client gets this status and body instead of the
    /// real answer. Default false: the canned answer replaces the request, nothing is executed.
    #[serde(default)]
    pub after: bool,
}

fn one() -> u32 {
    1
}

/// Faults of the API and of webhook delivery (`GET`/`PUT`/`DELETE /__mock/faults`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Faults {
    /// Added latency per `/v2` request.
    pub latency_ms: u64,
    /// Canned answers for the next requests, in order.
    pub fail_next: Vec<CannedResponse>,
    /// Override of how budget exhaustion is answered.
    pub budget_error_mode: Option<BudgetErrorMode>,
    /// Webhook delivery faults.
    pub webhooks: WebhookFaults,
}

/// One `/v2` request as received (the token is never recorded).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Sequence number.
    pub seq: u64,
    /// Receipt time.
    pub at: String,
    /// `API-Version` as sent (None if absent).
    pub api_version: Option<String>,
    /// Whether `Authorization` carried the right token.
    pub authorized: bool,
    /// `operationName`.
    pub operation_name: Option<String>,
    /// The query text.
    pub query: Option<String>,
    /// Variables.
    pub variables: Value,
    /// Complexity charged.
    pub complexity: Option<u64>,
    /// HTTP status answered.
    pub status: u16,
    /// Body answered.
    pub response: Value,
}

/// One mock Monday account.
pub struct Mock {
    /// Configuration.
    pub config: Config,
    /// The seed (for resets).
    pub seed: Seed,
    state: Mutex<State>,
    pub(crate) budget: Mutex<Window>,
    pub(crate) requests: Mutex<Window>,
    pub(crate) mutations: Mutex<Window>,
    pub(crate) in_flight: AtomicU64,
    pub(crate) alternate: AtomicU64,
    pub(crate) journal: Mutex<Vec<JournalEntry>>,
    pub(crate) faults: Mutex<Faults>,
    deliveries: Mutex<Vec<Delivery>>,
    activity: Mutex<Vec<ActivityRec>>,
    reorder: Mutex<Vec<u64>>,
    queue: mpsc::UnboundedSender<u64>,
    http: reqwest::Client,
    seq: AtomicU64,
    delivery_seq: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock would poison it; the data is still consistent for a mock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Mock {
    /// Creates the mock and starts its webhook dispatcher (needs a tokio runtime).
    pub fn start(config: Config, seed: Seed) -> Arc<Mock> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mock = Arc::new(Mock {
            state: Mutex::new(State::from_seed(&seed)),
            config,
            seed,
            budget: Mutex::new(Window::default()),
            requests: Mutex::new(Window::default()),
            mutations: Mutex::new(Window::default()),
            in_flight: AtomicU64::new(0),
            alternate: AtomicU64::new(0),
            journal: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::default()),
            deliveries: Mutex::new(Vec::new()),
            activity: Mutex::new(Vec::new()),
            reorder: Mutex::new(Vec::new()),
            queue: tx,
            http: reqwest::Client::builder().build().unwrap_or_default(),
            seq: AtomicU64::new(0),
            delivery_seq: AtomicU64::new(0),
        });
        tokio::spawn(dispatcher(Arc::downgrade(&mock), rx));
        mock
    }

    /// Locks the account state.
    pub fn lock_state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Current faults.
    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Replaces the faults.
    pub fn set_faults(&self, f: Faults) {
        *lock(&self.faults) = f;
    }

    /// Takes the first canned response that applies to a request with this query text, if any.
    pub(crate) fn take_canned(&self, query: Option<&str>) -> Option<CannedResponse> {
        let mut f = lock(&self.faults);
        let i = f.fail_next.iter().position(|c| match &c.query_contains {
            Some(needle) => query.is_some_and(|q| q.contains(needle.as_str())),
            None => true,
        })?;
        let chosen = &mut f.fail_next[i];
        let out = chosen.clone();
        if chosen.count <= 1 {
            f.fail_next.remove(i);
        } else {
            chosen.count -= 1;
        }
        Some(out)
    }

    /// Resets state, budget, journal, deliveries and faults to the seed.
    pub fn reset(&self) {
        *lock(&self.state) = State::from_seed(&self.seed);
        *lock(&self.budget) = Window::default();
        *lock(&self.requests) = Window::default();
        *lock(&self.mutations) = Window::default();
        lock(&self.journal).clear();
        lock(&self.deliveries).clear();
        lock(&self.activity).clear();
        lock(&self.reorder).clear();
        *lock(&self.faults) = Faults::default();
    }

    /// Appends to the request journal.
    pub(crate) fn record(&self, mut entry: JournalEntry) {
        entry.seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut j = lock(&self.journal);
        if j.len() >= 10_000 {
            j.remove(0);
        }
        j.push(entry);
    }

    /// The request journal.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.journal).clone()
    }

    /// Clears the request journal.
    pub fn clear_journal(&self) {
        lock(&self.journal).clear();
    }

    /// The webhook delivery log.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.deliveries).clone()
    }

    /// Remaining complexity budget in the current window.
    pub fn budget_remaining(&self) -> u64 {
        lock(&self.budget).remaining(
            self.config.budget_points,
            self.config.budget_window,
            std::time::Instant::now(),
        )
    }

    /// Charges one request against the per-window request limit.
    pub(crate) fn charge_request(&self) -> crate::complexity::Charge {
        lock(&self.requests).charge(
            1,
            self.config.requests_per_window,
            self.config.budget_window,
            std::time::Instant::now(),
        )
    }

    /// Charges `n` mutations against the per-window mutation limit.
    pub(crate) fn charge_mutations(&self, n: u64) -> crate::complexity::Charge {
        lock(&self.mutations).charge(
            n,
            self.config.mutations_per_window,
            self.config.budget_window,
            std::time::Instant::now(),
        )
    }

    /// Charges `cost` complexity points against the budget.
    pub(crate) fn charge_budget(&self, cost: u64) -> crate::complexity::Charge {
        lock(&self.budget).charge(
            cost,
            self.config.budget_points,
            self.config.budget_window,
            std::time::Instant::now(),
        )
    }

    /// Forces the remaining complexity budget (the window restarts now).
    pub fn set_budget_remaining(&self, remaining: u64) {
        lock(&self.budget).set_remaining(
            remaining,
            self.config.budget_points,
            std::time::Instant::now(),
        );
    }

    /// The activity log of every board, oldest first (see [`crate::activity`]).
    pub fn activity_log(&self) -> Vec<ActivityRec> {
        lock(&self.activity).clone()
    }

    /// Entries of one board's activity log matching `filter`, newest first.
    pub fn activity_logs(&self, board_id: &str, filter: &activity::Filter) -> Vec<ActivityRec> {
        activity::select(&lock(&self.activity), board_id, filter)
    }

    /// Queues webhook deliveries (and activity log entries) for events (called after every change).
    pub fn emit(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut new_ids = Vec::new();
        {
            let st = self.lock_state();
            let mut log = lock(&self.deliveries);
            let mut activity = lock(&self.activity);
            for ev in &events {
                let Ok(board) = st.board(&ev.item.board_id) else {
                    continue;
                };
                activity.push(activity::entry(
                    ev,
                    board,
                    &st.users,
                    self.config.account_id,
                ));
                for w in st
                    .webhooks
                    .iter()
                    .filter(|w| webhooks::subscribed(w, ev, board))
                {
                    let trigger = uuid::Uuid::new_v4().simple().to_string();
                    let body = webhooks::payload(ev, w, board, &trigger);
                    // Monotonic across resets, so a retry still running for an old delivery can
                    // never be confused with a new one.
                    let id = self.delivery_seq.fetch_add(1, Ordering::SeqCst) + 1;
                    log.push(Delivery {
                        id,
                        webhook_id: w.id,
                        subscription_event: w.event.clone(),
                        url: w.url.clone(),
                        event_type: webhooks::event_type(&ev.change).to_string(),
                        trigger_uuid: trigger,
                        body,
                        app_webhook: w.app_webhook,
                        attempts: Vec::new(),
                        state: DeliveryState::Pending,
                    });
                    new_ids.push(id);
                }
            }
        }
        for id in new_ids {
            // The dispatcher lives as long as the mock; a send can only fail during shutdown.
            let _ = self.queue.send(id);
        }
    }

    /// Sends held deliveries, in order. Returns how many were released.
    pub fn release_held(self: &Arc<Self>) -> usize {
        let ids: Vec<u64> = {
            let mut log = lock(&self.deliveries);
            log.iter_mut()
                .filter(|d| d.state == DeliveryState::Held)
                .map(|d| {
                    d.state = DeliveryState::Pending;
                    d.id
                })
                .collect()
        };
        let n = ids.len();
        let me = Arc::clone(self);
        tokio::spawn(async move {
            for id in ids {
                deliver(&me, id).await;
            }
        });
        n
    }

    /// The acting user id for JWT claims.
    fn user_id_num(&self) -> u64 {
        self.lock_state()
            .me()
            .and_then(|u| u.id.parse().ok())
            .unwrap_or(0)
    }

    /// Performs the URL-verification challenge of `create_webhook`.
    pub async fn challenge(&self, url: &str, app_webhook: bool) -> Result<(), ApiError> {
        let token: String = {
            use rand::Rng;
            rand::thread_rng()
                .sample_iter(&rand::distributions::Alphanumeric)
                .take(52)
                .map(char::from)
                .collect()
        };
        let mut req = self
            .http
            .post(url)
            .timeout(self.config.webhook_timeout)
            .json(&json!({ "challenge": token }));
        if app_webhook && self.config.sign_challenge {
            if let Some(secret) = &self.config.signing_secret {
                let jwt =
                    webhooks::sign_jwt(secret, self.config.account_id, self.user_id_num(), url)
                        .map_err(|e| ApiError::WebhookChallenge {
                            reason: format!("signing the JWT: {e}"),
                        })?;
                req = req.header("Authorization", jwt);
            }
        }
        let resp = req.send().await.map_err(|e| ApiError::WebhookChallenge {
            reason: e.to_string(),
        })?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| ApiError::WebhookChallenge {
            reason: format!("status {status}, body is not JSON: {e}"),
        })?;
        if status.as_u16() != 200
            || body.get("challenge").and_then(Value::as_str) != Some(token.as_str())
        {
            return Err(ApiError::WebhookChallenge {
                reason: format!("status {status}; the challenge was not echoed"),
            });
        }
        Ok(())
    }

    async fn attempt(&self, id: u64, is_retry: bool) -> bool {
        let Some((url, mut body, app)) = lock(&self.deliveries)
            .iter()
            .find(|d| d.id == id)
            .map(|d| (d.url.clone(), d.body.clone(), d.app_webhook))
        else {
            return true;
        };
        body["event"]["isRetry"] = json!(is_retry);
        let mut req = self
            .http
            .post(&url)
            .timeout(self.config.webhook_timeout)
            .json(&body);
        if app {
            if let Some(secret) = &self.config.signing_secret {
                let user = body["event"]["userId"].as_u64().unwrap_or(0);
                if let Ok(jwt) = webhooks::sign_jwt(secret, self.config.account_id, user, &url) {
                    req = req.header("Authorization", jwt);
                }
            }
        }
        let result = req.send().await;
        let (status, error) = match &result {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = status == Some(200);
        let mut log = lock(&self.deliveries);
        if let Some(d) = log.iter_mut().find(|d| d.id == id) {
            d.attempts.push(Attempt {
                at: crate::state::ts(chrono::Utc::now()),
                status,
                error,
                is_retry,
            });
            if ok {
                d.state = DeliveryState::Delivered;
            }
        }
        ok
    }
}

/// First attempt (and the duplicate, when faulted), then the retry schedule in the background.
async fn deliver(mock: &Arc<Mock>, id: u64) {
    let duplicate = mock.faults().webhooks.duplicate;
    let mut ok = mock.attempt(id, false).await;
    if duplicate {
        ok = mock.attempt(id, false).await || ok;
    }
    if !ok {
        let me = Arc::clone(mock);
        tokio::spawn(async move {
            for _ in 0..me.config.webhook_retry_attempts {
                tokio::time::sleep(me.config.webhook_retry_interval).await;
                if me.attempt(id, true).await {
                    return;
                }
            }
            let mut log = lock(&me.deliveries);
            if let Some(d) = log.iter_mut().find(|d| d.id == id) {
                d.state = DeliveryState::Failed;
            }
        });
    }
}

async fn dispatcher(mock: Weak<Mock>, mut rx: mpsc::UnboundedReceiver<u64>) {
    while let Some(id) = rx.recv().await {
        let Some(m) = mock.upgrade() else { return };
        let faults = m.faults().webhooks;
        if faults.hold {
            if let Some(d) = lock(&m.deliveries).iter_mut().find(|d| d.id == id) {
                d.state = DeliveryState::Held;
            }
            continue;
        }
        if faults.reverse_batch > 0 {
            let batch: Option<Vec<u64>> = {
                let mut buf = lock(&m.reorder);
                buf.push(id);
                if buf.len() >= faults.reverse_batch {
                    let mut b: Vec<u64> = std::mem::take(&mut *buf);
                    b.reverse();
                    Some(b)
                } else {
                    None
                }
            };
            if let Some(batch) = batch {
                {
                    let mut f = lock(&m.faults);
                    f.webhooks.reverse_batch = 0;
                }
                for id in batch {
                    deliver(&m, id).await;
                }
            }
            continue;
        }
        if faults.delay_ms > 0 {
            let me = Arc::clone(&m);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
                deliver(&me, id).await;
            });
            continue;
        }
        deliver(&m, id).await;
    }
}
