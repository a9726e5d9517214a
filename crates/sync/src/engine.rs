//! The engine: applies stored Monday events to Salesforce, one item at a time.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use crmsync_core::{
    follow_up_plan, freshen, id_column_repair, id_column_state, needs_user_directory, plan,
    related_item_ids, BoardMapping, FindBy, FollowUp, FollowUpOutcome, Item, Mapping, Operation,
    Plan, PlanContext, PlanError, PlanOutcome, RecordRef, SkipReason, StaticLookups,
    TransformError, WebhookDelivery, WebhookEvent, FOLLOW_UP_EVENT_TYPE,
};
use crmsync_monday::{ChangeColumnValues, MondayClient};
use crmsync_salesforce::soql::{Cond, Order, Soql};
use crmsync_salesforce::{SalesforceClient, SalesforceError};
use crmsync_store::{
    AttemptOutcome, Claim, ClaimedEvent, DeadLetterFilter, DeadLetterId, DeadLetterStatus, EventId,
    InsertOutcome, Link, NewAttempt, NewEvent, Store, StoreError,
};
use rand::Rng;
use serde_json::json;

use crate::alerts::{Alert, AlertKind, Alerter};
use crate::error::{ApplyError, EngineError, FailureClass};
use crate::health::{Monitor, WorkerHealth};
use crate::lookups::{self, DirectoryCache};

/// The scope of the store pause set on Salesforce's `REQUEST_LIMIT_EXCEEDED`; every worker on the
/// store honours it.
pub const SALESFORCE_PAUSE: &str = "salesforce";

/// The attempt being applied in this task: its claim (the fence checked before every external
/// write) and the external writes it attempted (the attempt row's `operation`).
struct AttemptCtx {
    claim: Claim,
    writes: Mutex<Vec<String>>,
}

tokio::task_local! {
    static ATTEMPT: Arc<AttemptCtx>;
}

/// Retry schedule of transient failures: exponential backoff with "equal jitter" — the delay before
/// attempt `n + 1` is uniform in `[c/2, c]` with `c = min(max, base * 2^(n-1))`. After
/// `max_attempts` failed attempts the event is dead-lettered (and alerted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Ceiling of the first delay. Default 2 s.
    pub base: Duration,
    /// Largest delay. Default 10 minutes.
    pub max: Duration,
    /// Failed attempts before giving up. Default 20 (about two and a half hours with the defaults).
    pub max_attempts: u32,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
            max_attempts: 20,
        }
    }
}

impl RetrySchedule {
    /// The ceiling of the delay after `attempts` failed attempts (1-based).
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// A jittered delay after `attempts` failed attempts: uniform in `[ceiling/2, ceiling]`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let c = self.ceiling(attempts);
        let hi = u64::try_from(c.as_millis()).unwrap_or(u64::MAX);
        if hi == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::thread_rng().gen_range(hi / 2..=hi))
    }
}

/// Tuning of an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Name of this worker in claims (shown in the event log). Default `crmsync-<pid>`.
    pub worker_id: String,
    /// Item lease per claim; a crashed worker's item is taken over after this. While an event is
    /// applied a heartbeat renews it every `lease / 3`. Default 60 s (`CRMSYNC_LEASE_SECS`).
    pub lease: Duration,
    /// Longest time one event may take (Monday reads and pacing, Salesforce calls and retries);
    /// then it is abandoned as a transient failure and retried. Shorter than `lease`
    /// ([`Engine::new`] replaces one that is not by three quarters of the lease). Default 45 s
    /// (`CRMSYNC_EVENT_DEADLINE_SECS`).
    pub event_deadline: Duration,
    /// Transient-failure schedule.
    pub retry: RetrySchedule,
    /// How often an idle worker looks for due events. Default 500 ms.
    pub poll_interval: Duration,
    /// How long processing pauses after Salesforce's `REQUEST_LIMIT_EXCEEDED`. Default 15 minutes.
    pub rate_limit_pause: Duration,
    /// Read the item from Monday before applying a create/column/name event, and write the item's
    /// *current* value (not the event's): events applied in any order then converge to Monday's
    /// latest state ("last write wins in Monday's order"), and an event for an item deleted since
    /// is skipped. Costs one Monday query per event. Default `true`.
    pub fresh_reads: bool,
    /// Worker loops [`Engine::run_worker`] runs concurrently (each claims a different item).
    /// Default 4.
    pub concurrency: usize,
    /// How long user directories (Monday and Salesforce users, for people columns) are cached.
    /// Default 10 minutes.
    pub user_cache_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            worker_id: format!("crmsync-{}", std::process::id()),
            lease: Duration::from_secs(60),
            event_deadline: Duration::from_secs(45),
            retry: RetrySchedule::default(),
            poll_interval: Duration::from_millis(500),
            rate_limit_pause: Duration::from_secs(900),
            fresh_reads: true,
            concurrency: 4,
            user_cache_ttl: Duration::from_secs(600),
        }
    }
}

impl EngineConfig {
    /// Fast settings for tests and the demo: short lease (5 s, deadline 4 s), quick retries (50 ms … 400 ms, 30
    /// attempts), 25 ms polling, a 1 s rate-limit pause, 2 worker loops. Tests override single
    /// fields with `..EngineConfig::for_tests()`, so a new field never breaks them.
    pub fn for_tests() -> Self {
        EngineConfig {
            worker_id: "test".into(),
            lease: Duration::from_secs(5),
            event_deadline: Duration::from_secs(4),
            retry: RetrySchedule {
                base: Duration::from_millis(50),
                max: Duration::from_millis(400),
                max_attempts: 30,
            },
            poll_interval: Duration::from_millis(25),
            rate_limit_pause: Duration::from_secs(1),
            fresh_reads: true,
            concurrency: 2,
            user_cache_ttl: Duration::from_secs(600),
        }
    }
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Applied to Salesforce (`summary` says what was written).
    Done {
        /// E.g. `upsert Lead 00Q… (created); link; write-back`.
        summary: String,
    },
    /// Deliberately not applied (unknown board, no change, write-back echo, …).
    Skipped {
        /// Why, in plain words.
        reason: String,
    },
    /// A transient failure; retried at `next_attempt_at`.
    Retrying {
        /// Failed attempts so far.
        attempts: u32,
        /// When it is retried.
        next_attempt_at: DateTime<Utc>,
        /// The error.
        error: String,
    },
    /// A permanent failure: dead-lettered and alerted.
    Dead {
        /// The dead letter.
        dead_letter_id: DeadLetterId,
        /// The error.
        error: String,
    },
    /// Salesforce's request limit: processing paused until `until`; the event is retried then
    /// without counting an attempt.
    Paused {
        /// End of the pause.
        until: DateTime<Utc>,
        /// The error.
        error: String,
    },
    /// The worker lost the item's lease while applying the event (another worker took it over):
    /// the event was abandoned without settling it; its new owner applies it.
    LeaseLost {
        /// What found the lease lost.
        error: String,
    },
}

impl EventOutcome {
    /// Whether the event reached a final state (done, skipped or dead).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            EventOutcome::Done { .. } | EventOutcome::Skipped { .. } | EventOutcome::Dead { .. }
        )
    }

    /// `done`, `skipped`, `retrying`, `dead` or `paused`.
    pub fn label(&self) -> &'static str {
        match self {
            EventOutcome::Done { .. } => "done",
            EventOutcome::Skipped { .. } => "skipped",
            EventOutcome::Retrying { .. } => "retrying",
            EventOutcome::Dead { .. } => "dead",
            EventOutcome::Paused { .. } => "paused",
            EventOutcome::LeaseLost { .. } => "lease_lost",
        }
    }
}

/// One processed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// Event id.
    pub event_id: EventId,
    /// Monday board.
    pub board_id: i64,
    /// Monday item.
    pub item_id: i64,
    /// Monday event type.
    pub event_type: String,
    /// What happened.
    pub outcome: EventOutcome,
}

enum Applied {
    Done(String),
    Skipped(String),
}

struct Inner {
    store: Store,
    mapping: RwLock<Arc<Mapping>>,
    salesforce: SalesforceClient,
    monday: MondayClient,
    alerter: Alerter,
    config: EngineConfig,
    directories: DirectoryCache,
    monitor: Monitor,
    fail_next_iteration: AtomicBool,
    /// The store pause as last read, and when: claims re-read it once it is older than the poll
    /// interval, so the claim path costs no extra round trip per event.
    pause_seen: Mutex<Option<(std::time::Instant, Option<DateTime<Utc>>)>>,
}

/// The sync engine. Cheap to clone (shared state); share one per process.
///
/// Events are claimed per item through the store ([`Store::claim_for_item`] /
/// [`Store::claim_next`]), so two events of one item are never applied concurrently, across
/// processes too, and they are applied in order of receipt. While an event is applied a heartbeat
/// renews the lease every `lease / 3`, every external write (Salesforce create, update, upsert,
/// delete; the Monday write-back) is preceded by the fence ([`Store::check_fence`]), and the event
/// is bounded by [`EngineConfig::event_deadline`]; a lost lease abandons the event unsettled (its
/// new owner applies it). Every claim still held is settled: `mark_done`, `mark_skipped`,
/// `mark_failed_after` (transient, the next attempt scheduled on the database clock), `mark_dead`
/// (permanent, dead letter + alert). On `REQUEST_LIMIT_EXCEEDED` a store pause
/// ([`SALESFORCE_PAUSE`]) is set, which every engine on the store honours before claiming, and the
/// claim's lease is extended to the end of the pause (the event is retried then, no attempt
/// counted). One attempt row is recorded per attempt ([`Store::record_attempt`]).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store.masked_url())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over a migrated store, a **validated** mapping (see [`crate::load_mapping`]) and
    /// the two API clients.
    pub fn new(
        store: Store,
        mapping: Mapping,
        salesforce: SalesforceClient,
        monday: MondayClient,
        alerter: Alerter,
        config: EngineConfig,
    ) -> Engine {
        let ttl = config.user_cache_ttl;
        let mut config = config;
        if config.event_deadline.is_zero() || config.event_deadline >= config.lease {
            let cap = config.lease.mul_f64(0.75);
            tracing::warn!(
                deadline_ms = config.event_deadline.as_millis() as u64,
                lease_ms = config.lease.as_millis() as u64,
                "the event deadline must be shorter than the lease; using three quarters of the lease"
            );
            config.event_deadline = cap;
        }
        alerter.share_windows_through(store.clone());
        Engine {
            inner: Arc::new(Inner {
                store,
                mapping: RwLock::new(Arc::new(mapping)),
                salesforce,
                monday,
                alerter,
                config,
                directories: DirectoryCache::new(ttl),
                monitor: Monitor::default(),
                fail_next_iteration: AtomicBool::new(false),
                pause_seen: Mutex::new(None),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The mapping in use.
    pub fn mapping(&self) -> Arc<Mapping> {
        Arc::clone(&self.inner.mapping.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the mapping (e.g. after fixing it, before replaying dead letters).
    pub fn set_mapping(&self, mapping: Mapping) {
        *self
            .inner
            .mapping
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(mapping);
    }

    /// The alerter.
    pub fn alerter(&self) -> &Alerter {
        &self.inner.alerter
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The Monday client.
    pub fn monday(&self) -> &MondayClient {
        &self.inner.monday
    }

    /// The Salesforce client.
    pub fn salesforce(&self) -> &SalesforceClient {
        &self.inner.salesforce
    }

    /// End of the current rate-limit pause (the store's [`SALESFORCE_PAUSE`] row, database
    /// clock), if processing is paused — by this engine or any other on the store.
    pub async fn paused_until(&self) -> Result<Option<DateTime<Utc>>, EngineError> {
        let until = self
            .inner
            .store
            .active_pause(SALESFORCE_PAUSE)
            .await?
            .map(|p| p.until);
        self.saw_pause(until);
        Ok(until)
    }

    fn saw_pause(&self, until: Option<DateTime<Utc>>) {
        *lock(&self.inner.pause_seen) = Some((std::time::Instant::now(), until));
    }

    /// Resumes processing before the rate-limit pause ends (e.g. after the limit was raised), for
    /// every engine on the store. Returns whether a pause was in force.
    pub async fn resume(&self) -> Result<bool, EngineError> {
        let was = self.inner.store.clear_pause(SALESFORCE_PAUSE).await?;
        self.saw_pause(None);
        Ok(was)
    }

    /// Whether the store pause is in force, read at most once per poll interval (a pause set by
    /// another process is honoured within one poll interval; one set here at once).
    async fn is_paused(&self) -> Result<bool, EngineError> {
        let seen = *lock(&self.inner.pause_seen);
        match seen {
            Some((at, until)) if at.elapsed() < self.inner.config.poll_interval => {
                Ok(until.is_some_and(|t| t > Utc::now()))
            }
            _ => Ok(self.paused_until().await?.is_some()),
        }
    }

    /// Liveness of [`Engine::run_worker`]'s loops (for `/healthz`): [`WorkerHealth::NotRunning`]
    /// when no worker runs in this process; unhealthy when a loop died or has not begun an
    /// iteration for longer than the event deadline plus five poll intervals plus 30 s (store
    /// calls and alert sends around an event).
    pub fn worker_health(&self) -> WorkerHealth {
        let c = &self.inner.config;
        self.inner
            .monitor
            .health(c.event_deadline + c.poll_interval * 5 + Duration::from_secs(30))
    }

    /// Makes the next worker loop iteration panic (tests of worker health only).
    #[doc(hidden)]
    pub fn panic_next_worker_iteration(&self) {
        self.inner.fail_next_iteration.store(true, Ordering::SeqCst);
    }

    /// Processes the open events of one item, oldest first, until the item has no due event, the
    /// item is held by another worker, an event stays open (retrying or paused), or event `until`
    /// has been processed. Returns what was processed.
    pub async fn process_item(
        &self,
        board_id: i64,
        item_id: i64,
        until: Option<EventId>,
    ) -> Result<Vec<Processed>, EngineError> {
        self.process_queue(Queue::Item { board_id, item_id }, until)
            .await
    }

    /// Processes the open events of the queue that event `event_id` belongs to (its item's, or
    /// its own for an event without an item id), oldest first, until `event_id` has been
    /// processed, the queue is held by another worker, or an event stays open. The one entry
    /// point of ingest (HTTP, Lambda, queue consumers, replay).
    pub async fn process_event(&self, event_id: EventId) -> Result<Vec<Processed>, EngineError> {
        self.process_queue(Queue::OfEvent(event_id), Some(event_id))
            .await
    }

    /// The loop of [`Engine::process_item`] and [`Engine::process_event`]: claim the queue's
    /// oldest open event and process it, until the queue is empty or held, an event stays open,
    /// processing is paused, or `until` has been processed.
    async fn process_queue(
        &self,
        queue: Queue,
        until: Option<EventId>,
    ) -> Result<Vec<Processed>, EngineError> {
        let (worker, lease) = (&self.inner.config.worker_id, self.inner.config.lease);
        let store = &self.inner.store;
        let mut out = Vec::new();
        // Bounded: a queue cannot have more open events than this in one call.
        for _ in 0..1000 {
            if self.is_paused().await? {
                break;
            }
            let claimed = match queue {
                Queue::Item { board_id, item_id } => {
                    store
                        .claim_for_item(board_id, item_id, worker, lease)
                        .await?
                }
                Queue::OfEvent(id) => store.claim_for_event(id, worker, lease).await?,
            };
            let Some(claimed) = claimed else {
                break;
            };
            let p = self.process_claimed(claimed).await?;
            let stop = !p.outcome.is_final() || Some(p.event_id) == until;
            out.push(p);
            if stop {
                break;
            }
        }
        Ok(out)
    }

    /// Claims and processes the next due event of any item; `None` when nothing is due (or while
    /// paused).
    pub async fn process_next(&self) -> Result<Option<Processed>, EngineError> {
        if self.is_paused().await? {
            return Ok(None);
        }
        let Some(claimed) = self
            .inner
            .store
            .claim_next(&self.inner.config.worker_id, self.inner.config.lease)
            .await?
        else {
            return Ok(None);
        };
        self.process_claimed(claimed).await.map(Some)
    }

    /// Processes due events until none is left; returns how many were processed.
    pub async fn drain(&self) -> Result<usize, EngineError> {
        let mut n = 0;
        while self.process_next().await?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// The background worker: [`EngineConfig::concurrency`] loops that claim due events (new ones,
    /// retries whose time has come, expired leases) until `shutdown` completes, and send the alert
    /// summaries that are due ([`Alerter::flush`]). Store errors are logged and retried after the
    /// poll interval. A loop that panics is reported by [`Engine::worker_health`] (and so
    /// `/healthz`) until the worker stops.
    pub async fn run_worker(&self, shutdown: impl Future<Output = ()> + Send) {
        use futures::FutureExt;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let n_loops = self.inner.config.concurrency.max(1);
        self.inner.monitor.start(n_loops);
        let mut loops = Vec::new();
        for n in 0..n_loops {
            let me = self.clone();
            let mut rx = rx.clone();
            let body = {
                let me = me.clone();
                async move {
                    tracing::debug!(worker = n, "worker loop started");
                    let mut last_prune: Option<tokio::time::Instant> = None;
                    loop {
                        if *rx.borrow() {
                            break;
                        }
                        me.inner.monitor.beat(n);
                        if me.inner.fail_next_iteration.swap(false, Ordering::SeqCst) {
                            panic!("injected worker failure");
                        }
                        let idle = match me.process_next().await {
                            Ok(Some(_)) => false,
                            Ok(None) => true,
                            Err(e) => {
                                tracing::error!(error = %e, "worker: store error; retrying shortly");
                                true
                            }
                        };
                        if n == 0 {
                            me.inner.alerter.flush().await;
                            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                                last_prune = Some(tokio::time::Instant::now());
                                me.prune_rejected_deliveries().await;
                            }
                        }
                        if idle {
                            let wait = me.inner.config.poll_interval;
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = rx.changed() => {}
                            }
                        }
                    }
                }
            };
            loops.push(tokio::spawn(async move {
                if let Err(payload) = std::panic::AssertUnwindSafe(body).catch_unwind().await {
                    let reason = panic_message(payload.as_ref());
                    tracing::error!(worker = n, panic = %reason, "worker loop died");
                    me.inner.monitor.died(n, reason);
                }
            }));
        }
        shutdown.await;
        let _ = tx.send(true);
        for l in loops {
            let _ = l.await;
        }
        self.inner.monitor.stop();
    }

    /// Gives up on an open event (queue mode: the queue's last receive): makes it due, claims its
    /// item and, when it is the item's head, dead-letters it with `why` and sends one alert
    /// (`RetriesExhausted`, code `SQS_MAX_RECEIVES`). When an older event of the item heads the
    /// queue, that one is processed instead (its own message decides its fate) and `None` is
    /// returned; also `None` when another worker holds the item.
    pub async fn give_up(
        &self,
        event_id: EventId,
        why: &str,
    ) -> Result<Option<DeadLetterId>, EngineError> {
        let store = &self.inner.store;
        store.make_due_now(event_id).await?;
        let (worker, lease) = (&self.inner.config.worker_id, self.inner.config.lease);
        let Some(claimed) = store.claim_for_event(event_id, worker, lease).await? else {
            return Ok(None);
        };
        if claimed.event.id != event_id {
            self.process_claimed(claimed).await?;
            return Ok(None);
        }
        let event = &claimed.event;
        let error = match &event.last_error {
            Some(last) => format!("{why} (last error: {last})"),
            None => why.to_string(),
        };
        let dl = store.mark_dead(&claimed.claim, &error, None).await?;
        tracing::error!(%event_id, board_id = event.board_id, item_id = event.item_id,
            dead_letter_id = %dl, error = %error, "event dead-lettered by the queue");
        let board = event.board_id.to_string();
        let board_name = self
            .mapping()
            .board(&board)
            .and_then(|b| b.name.clone().or_else(|| Some(b.object.clone())));
        self.inner
            .alerter
            .alert(Alert {
                kind: AlertKind::RetriesExhausted,
                board_id: Some(board),
                board_name,
                item_id: Some(event.item_id.to_string()),
                event_id: Some(event.id.0),
                dead_letter_id: Some(dl.0),
                code: "SQS_MAX_RECEIVES".into(),
                error,
                what_to_do: format!(
                    "Check the error, fix its cause, then run `crmsync dead-letters replay {dl}`."
                ),
            })
            .await;
        Ok(Some(dl))
    }

    /// Deletes refused-delivery records older than [`REJECTED_DELIVERY_RETENTION`] (the worker
    /// does it hourly), so a stranger probing the webhook URL cannot grow the store for good.
    pub async fn prune_rejected_deliveries(&self) {
        let keep = chrono::Duration::from_std(REJECTED_DELIVERY_RETENTION)
            .unwrap_or_else(|_| chrono::Duration::days(30));
        match self
            .inner
            .store
            .prune_rejected_deliveries(Utc::now() - keep)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "old refused-delivery records deleted"),
            Err(e) => tracing::warn!(error = %e, "could not delete old refused-delivery records"),
        }
    }

    /// Replays a dead letter: puts its event back as pending (store, attempts reset), then
    /// processes the item until that event has been handled — by this call, or by a worker that
    /// claimed it first (waited for up to the lease duration). Returns the event as it ends up:
    /// `done`/`skipped` when the replay succeeded, `dead` when it failed again (the same dead letter
    /// reopens), `failed` when a transient error left it to the retry schedule, or still open when
    /// another worker is busy with the item.
    pub async fn replay_dead_letter(
        &self,
        id: DeadLetterId,
    ) -> Result<crmsync_store::Event, EngineError> {
        let event_id = self.inner.store.requeue_dead_letter(id).await?;
        let ev = self.event(event_id).await?;
        tracing::info!(dead_letter_id = %id, %event_id, "dead letter requeued for replay");
        if !FollowUp::is_follow_up_key(&ev.trigger_uuid) {
            self.reopen_follow_ups(&ev).await?;
        }
        let deadline = tokio::time::Instant::now() + self.inner.config.lease;
        loop {
            self.process_item(ev.board_id, ev.item_id, Some(event_id))
                .await?;
            let now = self.event(event_id).await?;
            let settled = !matches!(
                now.status,
                crmsync_store::EventStatus::Pending | crmsync_store::EventStatus::Processing
            );
            if settled || tokio::time::Instant::now() >= deadline || self.is_paused().await? {
                return Ok(now);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn event(&self, id: EventId) -> Result<crmsync_store::Event, EngineError> {
        self.inner
            .store
            .get_event(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("event {id}")))
    }

    /// Applies one claimed event — with the lease heartbeat, the fence before every external write
    /// and the event deadline — settles its claim (unless the lease was lost meanwhile: then the
    /// event is left to its new owner), and records the attempt.
    pub async fn process_claimed(&self, claimed: ClaimedEvent) -> Result<Processed, EngineError> {
        let ClaimedEvent { event, claim } = claimed;
        let started = std::time::Instant::now();
        // A follow-up (ours) or a Monday event; follow-ups are recognised first, in both stored
        // formats (see `FollowUp::from_payload`).
        let follow_up = FollowUp::from_payload(&event.payload);
        let parsed: Option<WebhookEvent> = match &follow_up {
            Some(_) => None,
            None => serde_json::from_str::<WebhookDelivery>(&event.payload)
                .map(|d| d.event)
                .or_else(|_| serde_json::from_str::<WebhookEvent>(&event.payload))
                .ok(),
        };
        let write_back = is_write_back(&event.payload);
        let ctx = Arc::new(AttemptCtx {
            claim: claim.clone(),
            writes: Mutex::new(Vec::new()),
        });
        // A panic (a bug on unexpected data) must not kill the worker loop and leave the event to
        // be re-claimed and panic again forever: it is dead-lettered like any permanent failure.
        let result = self
            .guarded(&ctx, async {
                match (&follow_up, &parsed) {
                    (Some(fu), _) => self.apply_follow_up(fu).await,
                    (None, Some(ev)) if write_back => self.apply_write_back(ev).await,
                    (None, Some(ev)) => self.apply(ev, event.id).await,
                    (None, None) => Err(ApplyError::Payload(
                        "the stored body is not a Monday event".into(),
                    )),
                }
            })
            .await;
        let failure = result
            .as_ref()
            .err()
            .map(|e| (e.code(), e.to_string(), e.http_status()));
        let outcome = match self
            .settle(&event, &claim, follow_up.is_some(), result, started)
            .await
        {
            Ok(o) => o,
            Err(e) if e.is_lease_lost() => {
                tracing::warn!(event_id = %event.id, board_id = event.board_id, item_id = event.item_id,
                    error = %e, "lease lost before the event was settled; its new owner applies it");
                EventOutcome::LeaseLost {
                    error: e.to_string(),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let writes = lock(&ctx.writes).join("; ");
        let (error_class, error, http_status) = match (&outcome, failure) {
            (EventOutcome::LeaseLost { error }, None) => {
                (Some("LEASE_LOST".to_string()), Some(error.clone()), None)
            }
            (_, Some((code, text, status))) => (Some(code), Some(text), status),
            (_, None) => (None, None, None),
        };
        let attempt = NewAttempt {
            event_id: event.id,
            worker: self.inner.config.worker_id.clone(),
            operation: if writes.is_empty() {
                format!("{}: no external write", event.event_type)
            } else {
                format!("{}: {writes}", event.event_type)
            },
            outcome: match &outcome {
                EventOutcome::Done { .. } => AttemptOutcome::Done,
                EventOutcome::Skipped { .. } => AttemptOutcome::Skipped,
                EventOutcome::Retrying { .. } => AttemptOutcome::Failed,
                EventOutcome::Dead { .. } => AttemptOutcome::Dead,
                EventOutcome::Paused { .. } => AttemptOutcome::Paused,
                EventOutcome::LeaseLost { .. } => AttemptOutcome::LeaseLost,
            },
            error_class,
            error,
            http_status,
            elapsed: started.elapsed(),
        };
        if let Err(e) = self.inner.store.record_attempt(&attempt).await {
            // History must never undo processing: the event is settled either way.
            tracing::warn!(event_id = %event.id, error = %e, "could not record the attempt");
        }
        Ok(Processed {
            event_id: event.id,
            board_id: event.board_id,
            item_id: event.item_id,
            event_type: event.event_type,
            outcome,
        })
    }

    /// Runs `work` as the attempt of `ctx`'s claim: a heartbeat renews the lease every `lease / 3`,
    /// the fence ([`Engine::fence`]) is available to it, it is bounded by the event deadline, a
    /// panic becomes [`ApplyError::Panicked`], and it is stopped as soon as the heartbeat finds
    /// the lease lost.
    async fn guarded<T>(
        &self,
        ctx: &Arc<AttemptCtx>,
        work: impl Future<Output = Result<T, ApplyError>>,
    ) -> Result<T, ApplyError> {
        let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<String>();
        // Stopped when this future ends or is dropped (a caller's timeout, a cancelled request):
        // a heartbeat outliving its attempt would hold the item's lease for good.
        let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
            self.inner.store.clone(),
            ctx.claim.clone(),
            self.inner.config.lease,
            lost_tx,
        )));
        let deadline = self.inner.config.event_deadline;
        let bounded = ATTEMPT.scope(
            Arc::clone(ctx),
            tokio::time::timeout(deadline, catch_panic(work)),
        );
        let result = tokio::select! {
            r = bounded => r.unwrap_or(Err(ApplyError::DeadlineExceeded(deadline))),
            Ok(why) = lost_rx => Err(ApplyError::LeaseLost(why)),
        };
        result
    }

    /// The fence before an external write (`write` names it for the attempt row, e.g. `upsert Lead
    /// by Monday_Item_Id__c`): [`ApplyError::LeaseLost`] unless this task's claim still holds its
    /// item with a live lease on the database clock. Call it right before every Salesforce or
    /// Monday write. Outside an attempt (no claim in scope) it lets the write through.
    async fn fence(&self, write: String) -> Result<(), ApplyError> {
        let Ok(ctx) = ATTEMPT.try_with(Arc::clone) else {
            return Ok(());
        };
        lock(&ctx.writes).push(write);
        match self.inner.store.check_fence(&ctx.claim).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_lease_lost() => Err(ApplyError::LeaseLost(e.to_string())),
            Err(e) => Err(ApplyError::Store(e)),
        }
    }

    /// Settles the claim after an attempt: done, skipped, failed (retry after a delay on the
    /// database clock), paused (store pause) or dead. A lost lease settles nothing.
    async fn settle(
        &self,
        event: &crmsync_store::Event,
        claim: &Claim,
        is_follow_up: bool,
        result: Result<Applied, ApplyError>,
        started: std::time::Instant,
    ) -> Result<EventOutcome, StoreError> {
        let store = &self.inner.store;
        Ok(match result {
            Ok(Applied::Done(summary)) => {
                store.mark_done(claim).await?;
                tracing::info!(event_id = %event.id, board_id = event.board_id, item_id = event.item_id,
                    event_type = %event.event_type, elapsed_ms = started.elapsed().as_millis() as u64,
                    %summary, "event applied");
                EventOutcome::Done { summary }
            }
            Ok(Applied::Skipped(reason)) => {
                store.mark_skipped(claim, &reason).await?;
                tracing::info!(event_id = %event.id, board_id = event.board_id, item_id = event.item_id,
                    event_type = %event.event_type, outcome = "skipped", %reason, "event skipped");
                EventOutcome::Skipped { reason }
            }
            Err(ApplyError::LeaseLost(why)) => {
                tracing::warn!(event_id = %event.id, board_id = event.board_id, item_id = event.item_id,
                    error = %why, "lease lost while applying the event; abandoned to its new owner");
                EventOutcome::LeaseLost { error: why }
            }
            Err(err) => {
                let error = err.to_string();
                let class = match (is_follow_up, unresolved(&err)) {
                    // A deferred column waits for its related record or user: retried (bounded),
                    // then dead-lettered with advice naming the column.
                    (true, Some(Unresolved::User)) => {
                        self.inner.directories.invalidate();
                        FailureClass::Transient
                    }
                    (true, Some(Unresolved::Link)) => FailureClass::Transient,
                    _ => err.class(),
                };
                match class {
                    FailureClass::Transient
                        if event.attempts + 1 < self.inner.config.retry.max_attempts =>
                    {
                        let attempts_after = event.attempts + 1;
                        let delay = self.inner.config.retry.delay(attempts_after);
                        let attempts = store.mark_failed_after(claim, &error, delay).await?;
                        let next = Utc::now()
                            + chrono::Duration::from_std(delay)
                                .unwrap_or_else(|_| chrono::Duration::seconds(60));
                        tracing::warn!(event_id = %event.id, board_id = event.board_id, item_id = event.item_id,
                            attempts, retry_in_ms = delay.as_millis() as u64, error = %error,
                            "transient failure; will retry");
                        EventOutcome::Retrying {
                            attempts,
                            next_attempt_at: next,
                            error,
                        }
                    }
                    FailureClass::RateLimited => {
                        let pause = store
                            .set_pause(SALESFORCE_PAUSE, self.inner.config.rate_limit_pause, &error)
                            .await?;
                        // Keep the claim until the pause ends: the event is taken over then
                        // without counting an attempt.
                        store.extend_lease(claim, pause.remaining).await?;
                        let until = pause.until;
                        self.saw_pause(Some(until));
                        tracing::error!(event_id = %event.id, error = %error, %until,
                            "Salesforce request limit reached; processing paused on every worker");
                        self.alert(event, &err, AlertKind::RateLimited, None).await;
                        EventOutcome::Paused { until, error }
                    }
                    class => {
                        let body = err.salesforce_body();
                        let dl = store.mark_dead(claim, &error, body.as_deref()).await?;
                        let kind = if class == FailureClass::Transient {
                            AlertKind::RetriesExhausted
                        } else {
                            AlertKind::DeadLetter
                        };
                        tracing::error!(event_id = %event.id, board_id = event.board_id, item_id = event.item_id,
                            dead_letter_id = %dl, error = %error, "event dead-lettered");
                        self.alert(event, &err, kind, Some(dl)).await;
                        EventOutcome::Dead {
                            dead_letter_id: dl,
                            error,
                        }
                    }
                }
            }
        })
    }

    async fn alert(
        &self,
        event: &crmsync_store::Event,
        err: &ApplyError,
        kind: AlertKind,
        dl: Option<DeadLetterId>,
    ) {
        let board = event.board_id.to_string();
        let board_name = self
            .mapping()
            .board(&board)
            .and_then(|b| b.name.clone().or_else(|| Some(b.object.clone())));
        let mut what = err.what_to_do();
        if let Some(dl) = dl {
            what = what.replace("replay ID", &format!("replay {dl}"));
        }
        self.inner
            .alerter
            .alert(Alert {
                kind,
                board_id: Some(board),
                board_name,
                item_id: Some(event.item_id.to_string()),
                event_id: Some(event.id.0),
                dead_letter_id: dl.map(|d| d.0),
                code: err.code(),
                error: err.to_string(),
                what_to_do: what,
            })
            .await;
    }

    async fn fetch_item(&self, board_id: &str, item_id: &str) -> Result<Option<Item>, ApplyError> {
        let items = self
            .inner
            .monday
            .items(&[item_id.to_string()])
            .await
            .map_err(ApplyError::Monday)?;
        let Some(found) = items.into_iter().find(|i| i.id == item_id) else {
            return Ok(None);
        };
        let v = serde_json::to_value(&found)
            .map_err(|e| ApplyError::Payload(format!("item {item_id}: {e}")))?;
        let mut item: Item = serde_json::from_value(v)
            .map_err(|e| ApplyError::Payload(format!("item {item_id}: {e}")))?;
        item.board_id = Some(
            found
                .board
                .map(|b| b.id)
                .unwrap_or_else(|| board_id.to_string()),
        );
        Ok(Some(item))
    }

    /// The planner's lookups for a fresh `item` of board `bm` (its link, its relations' links,
    /// the user directories when the board maps a people column): what a drift report needs to
    /// compute the fields the mapping would write.
    pub(crate) async fn lookups_for(
        &self,
        bm: &BoardMapping,
        item: &Item,
    ) -> Result<StaticLookups, ApplyError> {
        let users = bm
            .columns
            .iter()
            .any(|c| c.transform == crmsync_core::Transform::People);
        self.lookups(bm, Some(&item.id), None, Some(item), users)
            .await
    }

    /// The planner's lookups for `item_id` on board `bm`: its link, the links of the items its
    /// relation values (in `ev` and `item`) point at, and the user directories when `users`.
    async fn lookups(
        &self,
        bm: &BoardMapping,
        item_id: Option<&str>,
        ev: Option<&WebhookEvent>,
        item: Option<&Item>,
        users: bool,
    ) -> Result<StaticLookups, ApplyError> {
        let dirs = if users {
            Some(
                self.inner
                    .directories
                    .get(&self.inner.monday, &self.inner.salesforce)
                    .await?,
            )
        } else {
            None
        };
        let related = related_item_ids(ev, item);
        lookups::prefetch(&self.inner.store, bm, item_id, related, dirs).await
    }

    /// Applies a follow-up: reads the item, plans with core's [`follow_up_plan`], applies the
    /// update. It never plans a create and never stores another follow-up; on an item that has no
    /// record yet it waits ([`ApplyError::WaitingForRecord`], transient and bounded).
    async fn apply_follow_up(&self, fu: &FollowUp) -> Result<Applied, ApplyError> {
        let mapping = self.mapping();
        let Some(bm) = mapping.board(&fu.board_id) else {
            return Ok(Applied::Skipped(
                SkipReason::UnknownBoard {
                    board_id: fu.board_id.clone(),
                }
                .to_string(),
            ));
        };
        let Some(item) = self.fetch_item(&fu.board_id, &fu.item_id).await? else {
            return Ok(Applied::Skipped(format!(
                "item {} no longer exists on Monday; nothing to apply",
                fu.item_id
            )));
        };
        let users = fu.needs_user_directory(&mapping);
        let l = self
            .lookups(bm, Some(&fu.item_id), None, Some(&item), users)
            .await?;
        match follow_up_plan(fu, &mapping, &item, &l).map_err(ApplyError::Plan)? {
            FollowUpOutcome::Ready(plan) => self.execute(Some(&item), plan, true).await,
            FollowUpOutcome::WaitForRecord {
                item_id, column_id, ..
            } => {
                let root = self
                    .inner
                    .store
                    .get_event(EventId(fu.root_event))
                    .await
                    .map_err(ApplyError::Store)?;
                let root_dead = root.is_some_and(|r| r.status == crmsync_store::EventStatus::Dead);
                Err(ApplyError::WaitingForRecord {
                    column: column_id,
                    item_id,
                    root_dead,
                })
            }
        }
    }

    /// Applies a Monday event (a root event: the follow-ups of the columns its plan defers are
    /// stored under its id).
    async fn apply(&self, ev: &WebhookEvent, event_id: EventId) -> Result<Applied, ApplyError> {
        let mapping = self.mapping();
        let Some(board_id) = ev.board_id.clone() else {
            return Err(ApplyError::Payload("the event has no boardId".into()));
        };
        let Some(bm) = mapping.board(&board_id) else {
            return Ok(Applied::Skipped(
                SkipReason::UnknownBoard { board_id }.to_string(),
            ));
        };
        let item_id = ev.item().map(str::to_string);
        let today = Utc::now().date_naive();
        let mutable_event = ev.event_type.changes_item() && ev.parent_item_id.is_none();
        let users = needs_user_directory(bm, ev);
        let mut item: Option<Item> = None;
        let mut fetched = false;
        let from_sweep = ev
            .trigger_uuid
            .as_deref()
            .is_some_and(|t| t.starts_with(crate::reconcile::RECONCILE_PREFIX));
        if (self.inner.config.fresh_reads || from_sweep) && mutable_event {
            if let Some(id) = &item_id {
                item = self.fetch_item(&board_id, id).await?;
                fetched = true;
                if item.is_none() {
                    return Ok(Applied::Skipped(format!(
                        "item {id} no longer exists on Monday; nothing to apply"
                    )));
                }
            }
        }
        let mut l = self
            .lookups(bm, item_id.as_deref(), Some(ev), item.as_ref(), users)
            .await?;
        let mut outcome = plan(
            ev,
            item.as_ref(),
            &mapping,
            &PlanContext { lookups: &l, today },
        )
        .map_err(ApplyError::Plan)?;
        if let PlanOutcome::NeedsItem {
            item_id: need_id,
            reason,
            ..
        } = &outcome
        {
            if fetched {
                return Err(ApplyError::Payload(format!(
                    "the planner still needs more than the item snapshot: {reason}"
                )));
            }
            item = self.fetch_item(&board_id, need_id).await?;
            let Some(_) = &item else {
                return Ok(Applied::Skipped(format!(
                    "item {need_id} no longer exists on Monday; nothing to apply"
                )));
            };
            l = self
                .lookups(bm, item_id.as_deref(), Some(ev), item.as_ref(), users)
                .await?;
            outcome = plan(
                ev,
                item.as_ref(),
                &mapping,
                &PlanContext { lookups: &l, today },
            )
            .map_err(ApplyError::Plan)?;
        }
        let mut plan = match outcome {
            PlanOutcome::Ready(p) => p,
            PlanOutcome::NeedsItem { reason, .. } => {
                return Err(ApplyError::Payload(format!(
                    "the planner still needs more than the item snapshot: {reason}"
                )))
            }
        };
        if let Some(fresh) = &item {
            freshen(&mut plan, ev, bm, fresh, &l).map_err(ApplyError::Plan)?;
        }
        let deferred = std::mem::take(&mut plan.deferred);
        if let Some(id) = &item_id {
            // Stored *before* the create is applied, so a crash or failure in between cannot lose
            // them (idempotent: one follow-up per root event and column).
            for fu in FollowUp::for_deferred(event_id.0, &board_id, id, &deferred) {
                self.store_follow_up(&fu).await?;
            }
        }
        let links_item = plan.ops.iter().any(|o| {
            matches!(
                o,
                Operation::Create { .. } | Operation::Upsert { .. } | Operation::Link { .. }
            )
        });
        let applied = self.execute(item.as_ref(), plan, true).await?;
        if let Some(id) = &item_id {
            let deferred_cols: Vec<&str> = deferred.iter().map(|d| d.column_id.as_str()).collect();
            self.record_applied(
                bm,
                ev,
                id,
                item.as_ref(),
                links_item,
                &deferred_cols,
                &applied,
            )
            .await;
        }
        Ok(match applied {
            Applied::Done(summary) if !deferred.is_empty() => {
                let cols: Vec<&str> = deferred.iter().map(|d| d.column_id.as_str()).collect();
                Applied::Done(format!(
                    "{summary}; deferred to a follow-up: {}",
                    cols.join(", ")
                ))
            }
            other => other,
        })
    }

    /// Records what was applied for the item (`crmsync_core::applied`), so a reconciliation sweep
    /// knows which of its current values Salesforce already holds: every mapped value after a
    /// create or link (except the deferred columns, which their follow-ups apply), the event's
    /// column or name after a change, the state after a delete or archive. Only with the item
    /// snapshot read for this event, and only for a linked item. A failure here is logged, never
    /// undoes the applied event (a sweep then finds the value "changed" and applies it again,
    /// idempotently).
    #[allow(clippy::too_many_arguments)]
    async fn record_applied(
        &self,
        bm: &BoardMapping,
        ev: &WebhookEvent,
        item_id: &str,
        item: Option<&Item>,
        links_item: bool,
        deferred: &[&str],
        applied: &Applied,
    ) {
        use crmsync_core::applied::{hashed_keys, key_hash, NAME_KEY, STATE_KEY};
        use crmsync_core::EventKind;
        let (Ok(board), Ok(item_n)) = (lookups::parse_id(&bm.board_id), lookups::parse_id(item_id))
        else {
            return;
        };
        let store = &self.inner.store;
        let mut hashes = std::collections::BTreeMap::new();
        let mut replace = false;
        if ev.event_type.removes_item() {
            if !matches!(applied, Applied::Done(_)) {
                return;
            }
            let state = if ev.event_type == EventKind::DeletePulse {
                "deleted"
            } else {
                "archived"
            };
            hashes.insert(STATE_KEY.to_string(), state.to_string());
        } else {
            let Some(item) = item else { return };
            let keys: Vec<String> = if links_item && matches!(applied, Applied::Done(_)) {
                replace = true;
                hashed_keys(bm)
                    .into_iter()
                    .filter(|k| !deferred.contains(&k.as_str()))
                    .collect()
            } else {
                match ev.event_type {
                    EventKind::UpdateColumnValue => ev
                        .column_id
                        .iter()
                        .filter(|c| hashed_keys(bm).contains(c))
                        .cloned()
                        .collect(),
                    EventKind::UpdateName => vec![NAME_KEY.to_string()],
                    _ => Vec::new(),
                }
            };
            if keys.is_empty() {
                return;
            }
            for k in keys {
                let h = key_hash(item, &k);
                hashes.insert(k, h);
            }
        }
        match store.find_link_by_monday(board, item_n).await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(board_id = board, item_id = item_n, error = %e,
                    "could not read the link to record the applied values");
                return;
            }
        }
        if let Err(e) = store
            .record_applied_values(board, item_n, &hashes, replace)
            .await
        {
            tracing::warn!(board_id = board, item_id = item_n, error = %e,
                "could not record the applied values; a sweep will apply them again");
        }
    }

    /// Stores a follow-up under its root event's key (a second store of the same key — a retried
    /// or replayed root — stores nothing).
    async fn store_follow_up(&self, fu: &FollowUp) -> Result<(), ApplyError> {
        let outcome = self
            .inner
            .store
            .insert_event_if_new(&NewEvent {
                trigger_uuid: fu.key(),
                board_id: lookups::parse_id(&fu.board_id)?,
                item_id: lookups::parse_id(&fu.item_id)?,
                event_type: FOLLOW_UP_EVENT_TYPE.into(),
                payload: fu.to_payload(),
            })
            .await
            .map_err(ApplyError::Store)?;
        match outcome {
            InsertOutcome::Inserted(id) => {
                tracing::warn!(board_id = %fu.board_id, item_id = %fu.item_id, column = %fu.column_id,
                    reason = %fu.reason, root_event = fu.root_event, follow_up_event = %id,
                    "column left out of the create (its linked record or user is not known yet); \
                     a follow-up event applies it once it is");
            }
            InsertOutcome::Duplicate(id) => {
                tracing::debug!(follow_up_event = %id, key = %fu.key(), "follow-up already stored");
            }
        }
        Ok(())
    }

    /// Replaying a root event re-applies its deferred columns: the open dead letters of its
    /// follow-ups (same item, key `crmsync-deferred:<root>:…`) are requeued too. They sit behind the
    /// root in the item's queue, so they run after it.
    async fn reopen_follow_ups(&self, root: &crmsync_store::Event) -> Result<(), EngineError> {
        let prefix = FollowUp::key_prefix_of_root(root.id.0);
        let mut filter = DeadLetterFilter {
            status: Some(DeadLetterStatus::Open),
            board_id: Some(root.board_id),
            before: None,
            limit: 500,
        };
        let mut reopen = Vec::new();
        loop {
            let page = self.inner.store.list_dead_letters(&filter).await?;
            let Some(last) = page.last() else { break };
            filter.before = Some(last.id);
            reopen.extend(
                page.iter()
                    .filter(|d| d.item_id == root.item_id && d.trigger_uuid.starts_with(&prefix))
                    .map(|d| d.id),
            );
        }
        for dl in reopen {
            match self.inner.store.requeue_dead_letter(dl).await {
                Ok(ev) => tracing::info!(dead_letter_id = %dl, follow_up_event = %ev,
                    root_event = %root.id, "follow-up re-opened with its root event's replay"),
                // Replayed concurrently by someone else: it is open again either way.
                Err(crmsync_store::StoreError::InvalidState { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The oldest record of `object` whose `find_by.field` holds `find_by.value`, if any.
    async fn find_record(
        &self,
        object: &str,
        find_by: Option<&FindBy>,
    ) -> Result<Option<String>, ApplyError> {
        use futures::StreamExt;
        let Some(fb) = find_by else {
            return Ok(None);
        };
        let soql = Soql::from(object)
            .select(["Id"])
            .filter(Cond::eq(fb.field.as_str(), fb.value.as_str()))
            .order_by("CreatedDate", Order::Asc)
            .limit(1)
            .build()
            .map_err(|e| ApplyError::Payload(format!("finding {object} by {}: {e}", fb.field)))?;
        let mut rows = self.inner.salesforce.query::<serde_json::Value>(soql);
        match rows.next().await {
            Some(Ok(r)) => Ok(r.get("Id").and_then(|v| v.as_str()).map(str::to_string)),
            Some(Err(e)) => Err(ApplyError::Salesforce(e)),
            None => Ok(None),
        }
    }

    /// Writes `sf_id` into the item's Id column.
    async fn write_id_column(
        &self,
        board_id: &str,
        item_id: &str,
        column_id: &str,
        sf_id: &str,
    ) -> Result<(), ApplyError> {
        self.fence(format!("monday write-back to {column_id}"))
            .await?;
        self.inner
            .monday
            .change_multiple_column_values(&ChangeColumnValues {
                board_id: board_id.to_string(),
                item_id: item_id.to_string(),
                column_values: json!({ column_id: sf_id }),
                create_labels_if_missing: false,
            })
            .await
            .map(|_| ())
            .map_err(ApplyError::Monday)
    }

    /// Stores the write-back event of a link whose Id column could not be written after the
    /// create: keyed `crmsync-write-back:<board>:<item>:<Salesforce Id>` (idempotent: one per
    /// link), in the item's queue. Returns its id.
    async fn enqueue_write_back(
        &self,
        board_id: &str,
        item_id: &str,
        column_id: &str,
        sf_id: &str,
    ) -> Result<EventId, ApplyError> {
        let trigger_uuid = format!("{WRITE_BACK_PREFIX}{board_id}:{item_id}:{sf_id}");
        let payload = json!({
            "event": {
                "type": WRITE_BACK_EVENT_TYPE,
                "boardId": board_id,
                "pulseId": item_id,
                "columnId": column_id,
                "triggerUuid": trigger_uuid,
            },
            WRITE_BACK_KEY: { "salesforceId": sf_id },
        });
        let outcome = self
            .inner
            .store
            .insert_event_if_new(&NewEvent {
                trigger_uuid,
                board_id: lookups::parse_id(board_id)?,
                item_id: lookups::parse_id(item_id)?,
                event_type: WRITE_BACK_EVENT_TYPE.into(),
                payload: payload.to_string(),
            })
            .await
            .map_err(ApplyError::Store)?;
        Ok(outcome.event_id())
    }

    /// Applies a write-back event: reads the item and its link now, and rewrites the Id column
    /// when the write-back rule says so (`crmsync_core::write_back`). A failure is retried like
    /// any event (it never stores another write-back event).
    async fn apply_write_back(&self, ev: &WebhookEvent) -> Result<Applied, ApplyError> {
        let mapping = self.mapping();
        let (Some(board_id), Some(item_id)) = (ev.board_id.as_deref(), ev.item()) else {
            return Err(ApplyError::Payload(
                "the write-back event has no boardId or pulseId".into(),
            ));
        };
        let Some(bm) = mapping.board(board_id) else {
            return Ok(Applied::Skipped(format!(
                "board {board_id} is not in the mapping (unknown board)"
            )));
        };
        let Some(link) = self
            .inner
            .store
            .find_link_by_monday(lookups::parse_id(board_id)?, lookups::parse_id(item_id)?)
            .await
            .map_err(ApplyError::Store)?
        else {
            return Ok(Applied::Skipped(format!(
                "item {item_id} is not linked any more; nothing to write back"
            )));
        };
        let Some(item) = self.fetch_item(board_id, item_id).await? else {
            return Ok(Applied::Skipped(format!(
                "item {item_id} no longer exists on Monday; nothing to write back"
            )));
        };
        match id_column_repair(bm, item_id, &item, &link.sf_id) {
            Some(op) => self.execute(Some(&item), Plan::new(vec![op]), false).await,
            None => Ok(Applied::Skipped(
                id_column_state(bm, &item, &link.sf_id).to_string(),
            )),
        }
    }

    /// Applies a plan's operations in order. With `defer_write_back`, a Monday error while writing
    /// the Salesforce Id into the item (after a create, or an Id-column repair) does not fail the
    /// event: the write-back becomes its own event (false inside a write-back event itself, so it
    /// never stores another).
    async fn execute(
        &self,
        item: Option<&Item>,
        plan: Plan,
        defer_write_back: bool,
    ) -> Result<Applied, ApplyError> {
        let sf = &self.inner.salesforce;
        let store = &self.inner.store;
        let mut created: Option<String> = None;
        let mut done: Vec<String> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        let resolve = |r: &RecordRef, created: &Option<String>| -> Result<String, ApplyError> {
            match r {
                RecordRef::Id(id) => Ok(id.clone()),
                RecordRef::Created => created.clone().ok_or_else(|| {
                    ApplyError::Payload("plan refers to a record it did not create".into())
                }),
            }
        };
        for op in plan.ops {
            match op {
                Operation::Create {
                    object,
                    fields,
                    find_by,
                } => {
                    // Reconcile before creating: an earlier attempt may have created the record
                    // and lost the answer (timeout, crash before the link was stored).
                    if let Some(found) = self.find_record(&object, find_by.as_ref()).await? {
                        done.push(format!(
                            "found {object} {found} (created by an earlier attempt)"
                        ));
                        created = Some(found);
                        continue;
                    }
                    self.fence(format!("create {object}")).await?;
                    let id = sf
                        .create(&object, &fields)
                        .await
                        .map_err(ApplyError::Salesforce)?;
                    done.push(format!("created {object} {id}"));
                    created = Some(id);
                }
                Operation::Upsert {
                    object,
                    external_id_field,
                    external_id,
                    fields,
                } => {
                    self.fence(format!("upsert {object} by {external_id_field}"))
                        .await?;
                    let r = sf
                        .upsert(&object, &external_id_field, &external_id, &fields)
                        .await
                        .map_err(ApplyError::Salesforce)?;
                    done.push(format!(
                        "upserted {object} {} ({})",
                        r.id,
                        if r.created { "created" } else { "updated" }
                    ));
                    created = Some(r.id);
                }
                Operation::Update { object, id, fields } => {
                    if fields.is_empty() {
                        skipped.push("nothing to write".into());
                        continue;
                    }
                    self.fence(format!("update {object} {id}")).await?;
                    sf.update(&object, &id, &fields)
                        .await
                        .map_err(ApplyError::Salesforce)?;
                    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                    done.push(format!("updated {object} {id} ({})", names.join(", ")));
                }
                Operation::Delete { object, id } => {
                    self.fence(format!("delete {object} {id}")).await?;
                    match sf.delete(&object, &id).await {
                        Ok(()) => done.push(format!("deleted {object} {id}")),
                        Err(e) if already_gone(&e) => {
                            done.push(format!("{object} {id} was already deleted"))
                        }
                        Err(e) => return Err(ApplyError::Salesforce(e)),
                    }
                }
                Operation::Link {
                    board_id: b,
                    item_id: i,
                    object,
                    salesforce_id,
                } => {
                    let sf_id = resolve(&salesforce_id, &created)?;
                    // Links are shared state too: a worker that lost the item must not relink it
                    // after its new owner did.
                    self.fence(format!("link item {i} to {sf_id}")).await?;
                    store
                        .upsert_link(&Link {
                            monday_board_id: lookups::parse_id(&b)?,
                            monday_item_id: lookups::parse_id(&i)?,
                            sf_object: object,
                            sf_id: sf_id.clone(),
                        })
                        .await
                        .map_err(ApplyError::Store)?;
                    done.push(format!("linked item {i} <-> {sf_id}"));
                }
                Operation::Unlink {
                    board_id: b,
                    item_id: i,
                } => {
                    self.fence(format!("unlink item {i}")).await?;
                    store
                        .delete_link_by_monday(lookups::parse_id(&b)?, lookups::parse_id(&i)?)
                        .await
                        .map_err(ApplyError::Store)?;
                    done.push(format!("unlinked item {i}"));
                }
                Operation::WriteBackSalesforceId {
                    board_id: b,
                    item_id: i,
                    column_id,
                    salesforce_id,
                } => {
                    let sf_id = resolve(&salesforce_id, &created)?;
                    let already = item
                        .and_then(|it| it.column(&column_id))
                        .and_then(|cv| cv.decoded_value())
                        .and_then(|v| v.as_str().map(str::to_string))
                        == Some(sf_id.clone());
                    if already {
                        continue;
                    }
                    match self.write_id_column(&b, &i, &column_id, &sf_id).await {
                        Ok(()) => {
                            done.push(format!("wrote the Salesforce Id into column {column_id}"))
                        }
                        // The record and the link exist: the write-back becomes its own durable
                        // step (an event in the item's queue, retried until the column holds
                        // the id) instead of failing — and later skipping — the create, or
                        // failing (and re-sending the Salesforce write of) an event whose plan
                        // only repairs the Id column on the side.
                        Err(ApplyError::Monday(e)) if defer_write_back => {
                            let ev = self.enqueue_write_back(&b, &i, &column_id, &sf_id).await?;
                            tracing::warn!(board_id = %b, item_id = %i, salesforce_id = %sf_id,
                                write_back_event = %ev, error = %e,
                                "writing the Salesforce Id back failed; a write-back event retries it");
                            done.push(format!(
                                "writing the Salesforce Id into column {column_id} failed ({e}); \
                                 event {ev} retries it"
                            ));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Operation::Skip { reason } => skipped.push(reason.to_string()),
            }
        }
        if done.is_empty() {
            Ok(Applied::Skipped(if skipped.is_empty() {
                "nothing to do".into()
            } else {
                skipped.join("; ")
            }))
        } else {
            Ok(Applied::Done(done.join("; ")))
        }
    }
}

/// How often the worker deletes old refused-delivery records.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long refused-delivery records are kept.
pub const REJECTED_DELIVERY_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Which queue [`Engine::process_queue`] works through.
#[derive(Debug, Clone, Copy)]
enum Queue {
    /// An item's queue.
    Item { board_id: i64, item_id: i64 },
    /// The queue event `.0` belongs to (its item's, or its own without an item id).
    OfEvent(EventId),
}

/// Runs `fut`, turning a panic inside it into [`ApplyError::Panicked`] with the panic message.
async fn catch_panic<T>(fut: impl Future<Output = Result<T, ApplyError>>) -> Result<T, ApplyError> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(panic = %message, "applying an event panicked");
            Err(ApplyError::Panicked(message))
        }
    }
}

/// Payload key that marks a write-back event (see [`Engine`]'s write-back rule).
pub const WRITE_BACK_KEY: &str = "crmsyncWriteBack";
/// `triggerUuid` prefix of write-back events.
pub const WRITE_BACK_PREFIX: &str = "crmsync-write-back:";
/// Event type of write-back events.
pub const WRITE_BACK_EVENT_TYPE: &str = "crmsync_write_back";

fn is_write_back(payload: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .is_some_and(|v| v.get(WRITE_BACK_KEY).is_some())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Renews `claim`'s lease every `lease / 3` until aborted; reports a lost lease on `lost` and
/// stops. A store error is logged and retried at the next beat (the fence catches a lease that
/// ran out meanwhile).
async fn heartbeat(
    store: Store,
    claim: Claim,
    lease: Duration,
    lost: tokio::sync::oneshot::Sender<String>,
) {
    let every = (lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        match store.renew_lease(&claim, lease).await {
            Ok(_) => {}
            Err(e) if e.is_lease_lost() => {
                let _ = lost.send(e.to_string());
                return;
            }
            Err(e) => tracing::warn!(event_id = %claim.event_id, error = %e,
                "could not renew the lease; retrying at the next heartbeat"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum Unresolved {
    Link,
    User,
}

/// Whether `err` is a related record or user that is not known yet.
fn unresolved(err: &ApplyError) -> Option<Unresolved> {
    match err {
        ApplyError::Plan(PlanError::Transform(TransformError::UnresolvedLink { .. })) => {
            Some(Unresolved::Link)
        }
        ApplyError::Plan(PlanError::Transform(TransformError::UnresolvedUser { .. })) => {
            Some(Unresolved::User)
        }
        _ => None,
    }
}

fn already_gone(e: &SalesforceError) -> bool {
    match e {
        SalesforceError::Api { status, errors, .. } => {
            *status == 404
                || errors
                    .iter()
                    .any(|d| d.error_code == "ENTITY_IS_DELETED" || d.error_code == "NOT_FOUND")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_with_jitter_and_stay_bounded() {
        let r = RetrySchedule {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            max_attempts: 10,
        };
        assert_eq!(r.ceiling(1), Duration::from_millis(100));
        assert_eq!(r.ceiling(2), Duration::from_millis(200));
        assert_eq!(r.ceiling(5), Duration::from_millis(1000));
        assert_eq!(r.ceiling(40), Duration::from_millis(1000));
        for n in 1..12 {
            let d = r.delay(n);
            assert!(d <= r.ceiling(n) && d >= r.ceiling(n) / 2, "{n}: {d:?}");
        }
    }

    #[tokio::test]
    async fn a_panic_while_applying_becomes_a_permanent_error_not_a_dead_worker() {
        let err = catch_panic(async {
            let cells: Vec<u8> = Vec::new();
            #[allow(clippy::indexing_slicing)]
            let _ = cells[3];
            Ok::<(), ApplyError>(())
        })
        .await
        .unwrap_err();
        match &err {
            ApplyError::Panicked(m) => assert!(m.contains("index out of bounds"), "{m}"),
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(err.class(), FailureClass::Permanent);
        assert_eq!(err.code(), "PANIC");
        assert_eq!(
            catch_panic(async { Ok::<u8, ApplyError>(7) })
                .await
                .unwrap(),
            7
        );
        let fmt_panic = catch_panic(async {
            if err.code() == "PANIC" {
                panic!("bad value {}", 42);
            }
            Ok::<(), ApplyError>(())
        })
        .await
        .unwrap_err();
        assert_eq!(
            fmt_panic.to_string(),
            "applying the event panicked (a crmsync bug): bad value 42"
        );
    }
}
