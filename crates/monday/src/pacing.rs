//! Complexity-budget pacing, retry policy and an injectable timer.
//!
//! Monday meters API use with a per-minute *complexity budget*. Every operation sent by
//! [`crate::MondayClient`] also selects `complexity { before after query reset_in_x_seconds }`;
//! [`ComplexityBudget`] remembers the remaining budget (`after`), when it resets, and the last
//! observed cost of each operation, and makes the client wait for the reset when the next
//! request is expected to cost more than what is left. When Monday nevertheless refuses a request
//! (`COMPLEXITY_BUDGET_EXHAUSTED`, with HTTP 200 or 429), the client waits `retry_in_seconds`
//! (or `Retry-After`, or the legacy "reset in N seconds") and retries, up to
//! [`RetryPolicy::max_total_wait`] in total per call.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Source of time for the client: the current instant and sleeping. Injected so tests can run
/// without real waits (see [`ManualTimer`]).
pub trait Timer: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Sleeps for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// The real timer (`tokio::time::sleep`; respects `tokio::time::pause`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A timer for tests: sleeping returns immediately, advances the manual clock by the requested
/// duration and records it, so tests can assert on the waits the client chose.
#[derive(Debug, Clone)]
pub struct ManualTimer {
    start: Instant,
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug, Default)]
struct ManualState {
    offset: Duration,
    sleeps: Vec<Duration>,
}

impl Default for ManualTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualTimer {
    /// A manual clock starting now.
    pub fn new() -> Self {
        ManualTimer {
            start: Instant::now(),
            inner: Arc::new(Mutex::new(ManualState::default())),
        }
    }

    /// Every sleep requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Sum of all sleeps.
    pub fn total_slept(&self) -> Duration {
        self.lock().sleeps.iter().sum()
    }

    /// Moves the clock forward without recording a sleep.
    pub fn advance(&self, by: Duration) {
        self.lock().offset += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // A poisoned lock only means another test thread panicked; the data is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Timer for ManualTimer {
    fn now(&self) -> Instant {
        self.start + self.lock().offset
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        {
            let mut st = self.lock();
            st.offset += duration;
            st.sleeps.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}

/// Retry and waiting bounds for one client call.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts for transient failures (network, 5xx, locked resources), including the first.
    pub max_attempts: u32,
    /// First backoff delay for transient failures; doubles each attempt, with ±50 % jitter.
    pub base_backoff: Duration,
    /// Cap for one backoff delay.
    pub max_backoff: Duration,
    /// Total time one call may spend waiting (budget pacing, rate limits and backoff). When the
    /// next wait would exceed it, the call fails with the last error.
    pub max_total_wait: Duration,
    /// Wait used for a rate-limit error that says nothing about how long to wait.
    pub default_rate_limit_wait: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_total_wait: Duration::from_secs(180),
            default_rate_limit_wait: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `attempt` (1-based: the wait after the first failure is
    /// `backoff(1)`), with jitter in [50 %, 150 %] of the exponential delay, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        use rand::Rng;
        let exp = self
            .base_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.max_backoff);
        let factor: f64 = rand::thread_rng().gen_range(0.5..1.5);
        capped.mul_f64(factor).min(self.max_backoff)
    }
}

/// The `complexity` selection returned with every operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Complexity {
    /// Budget remaining before the query ran.
    #[serde(default)]
    pub before: Option<i64>,
    /// Budget remaining after the query ran.
    #[serde(default)]
    pub after: Option<i64>,
    /// This query's cost.
    #[serde(default)]
    pub query: Option<i64>,
    /// Seconds until the budget resets.
    #[serde(default)]
    pub reset_in_x_seconds: Option<i64>,
}

/// A snapshot of what the client knows about the complexity budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSnapshot {
    /// Remaining budget after the last request, if known.
    pub remaining: Option<i64>,
    /// Time until the budget resets, if known (relative to the snapshot).
    pub resets_in: Option<Duration>,
}

/// The longest time until a budget reset that the tracker records (Monday's window is one
/// minute). Reset times read from a response are clamped to it, so that absurd values
/// (`reset_in_x_seconds` or `retry_in_seconds` near the integer maximum) cannot overflow the
/// clock arithmetic.
pub const MAX_RESET_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// Monday reports the time to the reset in whole seconds (`reset_in_x_seconds`,
/// `retry_in_seconds`), rounded up. A response read at `now` saying `n` therefore bounds the
/// reset from above by `now + n` (the server computed it before `now`), and a bound more than
/// this much later than the one already known can only come from a new window.
const RESET_ROUNDING: Duration = Duration::from_secs(1);

fn reset_time(now: Instant, resets_in: Duration) -> Option<Instant> {
    now.checked_add(resets_in.min(MAX_RESET_WAIT))
}

/// Tracks the complexity budget across calls of one client (shared by its clones).
///
/// The reset time is the tightest upper bound the responses of the current window gave
/// (see [`RESET_ROUNDING`]): taking only the last response's whole seconds would wait up to a
/// second too long at every window, a tenth of a ten-second window.
#[derive(Debug, Default)]
pub struct ComplexityBudget {
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    remaining: Option<i64>,
    reset_at: Option<Instant>,
    /// Last observed cost per operation label and unit (batches: per mutation).
    cost_per_unit: HashMap<String, i64>,
}

impl ComplexityBudget {
    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the `complexity` object of a successful response.
    pub fn observe(&self, now: Instant, label: &str, units: u32, c: &Complexity) {
        let mut st = self.lock();
        if let Some(after) = c.after {
            st.remaining = Some(after);
        }
        if let Some(reset) = c.reset_in_x_seconds {
            let bound = reset_time(now, Duration::from_secs(reset.max(0).unsigned_abs()));
            st.reset_at = match (st.reset_at, bound) {
                // The same window: keep the tightest bound seen.
                (Some(known), Some(bound)) if known > now && bound < known + RESET_ROUNDING => {
                    Some(known.min(bound))
                }
                // No window known, the known one is over, or this bound is more than the
                // rounding later: a new window began.
                (_, bound) => bound,
            };
        }
        if let Some(cost) = c.query {
            let per_unit = cost.max(0) / i64::from(units.max(1));
            st.cost_per_unit.insert(label.to_owned(), per_unit.max(1));
        }
    }

    /// Records that Monday said the budget is exhausted and resets in `retry_in`, and returns
    /// how long to wait: `retry_in`, or less when an earlier response already bounded this
    /// window's reset more tightly (Monday's `retry_in_seconds` is whole seconds too).
    pub fn exhausted(&self, now: Instant, retry_in: Duration) -> Duration {
        let mut st = self.lock();
        st.remaining = Some(0);
        let wait = match st.reset_at {
            Some(known) if known > now => retry_in.min(known - now),
            _ => retry_in,
        };
        st.reset_at = reset_time(now, wait);
        wait
    }

    /// How long to wait before sending `units` of operation `label`, if the last known
    /// remaining budget is smaller than its last observed cost and the reset is in the future.
    /// Once the reset time has passed the remaining budget is forgotten (a new window began).
    pub fn wait_before(&self, now: Instant, label: &str, units: u32) -> Option<Duration> {
        let mut st = self.lock();
        if let Some(reset_at) = st.reset_at {
            if reset_at <= now {
                st.remaining = None;
                st.reset_at = None;
                return None;
            }
        }
        let remaining = st.remaining?;
        let estimate = st
            .cost_per_unit
            .get(label)
            .copied()
            .unwrap_or(1)
            .saturating_mul(i64::from(units.max(1)));
        if estimate <= remaining {
            return None;
        }
        let reset_at = st.reset_at?;
        Some(reset_at.saturating_duration_since(now))
    }

    /// Marks the budget as unknown after a wait for its reset.
    pub fn after_reset_wait(&self) {
        let mut st = self.lock();
        st.remaining = None;
        st.reset_at = None;
    }

    /// What is known about the budget.
    pub fn snapshot(&self, now: Instant) -> BudgetSnapshot {
        let st = self.lock();
        BudgetSnapshot {
            remaining: st.remaining,
            resets_in: st.reset_at.map(|r| r.saturating_duration_since(now)),
        }
    }
}

/// Monday's limit of mutations per minute, besides the complexity budget (developer.monday.com,
/// "Rate limits": 2,000 mutations per minute, except a few mutations with lower limits of their
/// own).
pub const MONDAY_MUTATIONS_PER_MINUTE: u32 = 2_000;

/// A limit of `per_window` mutations in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutationLimit {
    /// Mutations allowed.
    pub per_window: u32,
    /// Length of the window.
    pub window: Duration,
}

impl MutationLimit {
    /// Monday's: [`MONDAY_MUTATIONS_PER_MINUTE`] per 60 s.
    pub fn monday() -> Self {
        MutationLimit {
            per_window: MONDAY_MUTATIONS_PER_MINUTE,
            window: Duration::from_secs(60),
        }
    }
}

/// Paces mutations under a [`MutationLimit`] with a sliding window: any interval of the
/// window's length (plus a small margin for the time requests take to arrive) holds at most the
/// limit, so a server counting in fixed windows of that length never sees more.
#[derive(Debug)]
pub struct MutationPacer {
    limit: MutationLimit,
    sent: Mutex<std::collections::VecDeque<(Instant, u32)>>,
}

impl MutationPacer {
    /// A pacer for `limit`.
    pub fn new(limit: MutationLimit) -> Self {
        MutationPacer {
            limit,
            sent: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The limit.
    pub fn limit(&self) -> MutationLimit {
        self.limit
    }

    fn span(&self) -> Duration {
        // Margin: requests sent a window apart may arrive a little closer together.
        self.limit.window + (self.limit.window / 50).min(Duration::from_millis(500))
    }

    /// Reserves `n` mutations to be sent at `now`: `None` when they fit (they are recorded),
    /// else how long to wait before asking again. A batch larger than the whole limit is let
    /// through once the window is empty (the server then answers with its error).
    pub fn reserve(&self, now: Instant, n: u32) -> Option<Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let span = self.span();
        while let Some((at, _)) = sent.front() {
            if now.saturating_duration_since(*at) >= span {
                sent.pop_front();
            } else {
                break;
            }
        }
        let mut used: u64 = sent.iter().map(|(_, k)| u64::from(*k)).sum();
        let limit = u64::from(self.limit.per_window);
        if used + u64::from(n) <= limit || sent.is_empty() {
            sent.push_back((now, n));
            return None;
        }
        // The earliest moment enough of the oldest sends have left the window.
        for (at, k) in sent.iter() {
            used -= u64::from(*k);
            if used + u64::from(n) <= limit {
                return Some((*at + span).saturating_duration_since(now));
            }
        }
        sent.back()
            .map(|(at, _)| (*at + span).saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_pacer_keeps_every_window_within_the_limit() {
        let p = MutationPacer::new(MutationLimit {
            per_window: 10,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        assert_eq!(p.reserve(t0, 4), None);
        assert_eq!(p.reserve(t0 + Duration::from_secs(10), 6), None);
        // Full: the next batch waits until the first send leaves the window (60 s + margin).
        let wait = p.reserve(t0 + Duration::from_secs(20), 3).unwrap();
        assert_eq!(wait, Duration::from_millis(60_000 + 500 - 20_000));
        // After that wait the first send's 4 have left; 3 fit.
        assert_eq!(p.reserve(t0 + Duration::from_millis(60_500), 3), None);
        // 6 + 3 = 9 of 10 in the window now: 2 more must wait for the second send to leave.
        let wait = p.reserve(t0 + Duration::from_millis(60_500), 2).unwrap();
        assert_eq!(wait, Duration::from_millis(10_000));
        // A batch larger than the limit goes once the window is empty.
        assert_eq!(p.reserve(t0 + Duration::from_secs(600), 50), None);
        assert_eq!(MutationLimit::monday().per_window, 2_000);
    }

    #[test]
    fn waits_for_reset_only_when_estimate_exceeds_remaining() {
        let b = ComplexityBudget::default();
        let t0 = Instant::now();
        b.observe(
            t0,
            "op",
            1,
            &Complexity {
                before: Some(1000),
                after: Some(900),
                query: Some(100),
                reset_in_x_seconds: Some(30),
            },
        );
        assert_eq!(b.wait_before(t0, "op", 1), None);
        assert_eq!(b.wait_before(t0, "op", 10), Some(Duration::from_secs(30)));
        // After the reset the remaining budget is unknown again.
        assert_eq!(b.wait_before(t0 + Duration::from_secs(31), "op", 10), None);
        assert_eq!(b.snapshot(t0).remaining, None);
    }

    fn observed(b: &ComplexityBudget, at: Instant, after: i64, reset: i64) {
        b.observe(
            at,
            "op",
            1,
            &Complexity {
                before: None,
                after: Some(after),
                query: Some(100),
                reset_in_x_seconds: Some(reset),
            },
        );
    }

    #[test]
    fn the_reset_is_the_tightest_bound_of_the_window() {
        // The server's window resets at t0 + 9.3 s; it reports whole seconds, rounded up.
        let b = ComplexityBudget::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        observed(&b, t0, 500, 10); // 9.3 s left → 10: bound t0 + 10 s
        observed(&b, t0 + ms(500), 400, 9); // 8.8 s left → 9: bound t0 + 9.5 s
        observed(&b, t0 + ms(800), 300, 9); // 8.5 s left → 9: bound t0 + 9.8 s, looser
        assert_eq!(b.snapshot(t0).resets_in, Some(ms(9_500)));
        // Too little left for 10 more: wait until the tightest bound, not the last one.
        assert_eq!(b.wait_before(t0 + ms(1_000), "op", 10), Some(ms(8_500)));
        // Monday refuses a request anyway and says 9 s (8.1 s left, rounded up): the known
        // bound is earlier, so that is the wait.
        assert_eq!(
            b.exhausted(t0 + ms(1_200), Duration::from_secs(9)),
            ms(8_300)
        );
        // A refusal when no bound is known waits what Monday said.
        let fresh = ComplexityBudget::default();
        assert_eq!(
            fresh.exhausted(t0, Duration::from_secs(4)),
            Duration::from_secs(4)
        );
    }

    #[test]
    fn a_later_bound_beyond_the_rounding_starts_a_new_window() {
        let b = ComplexityBudget::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        observed(&b, t0, 500, 10);
        // The server rolled over early (its reset was before our bound): 10 s again at t0 + 9 s.
        observed(&b, t0 + ms(9_000), 900, 10);
        assert_eq!(b.snapshot(t0).resets_in, Some(ms(19_000)));
        // Once the known reset has passed, the next response sets the new one whatever it is.
        observed(&b, t0 + ms(19_500), 800, 10);
        assert_eq!(b.snapshot(t0).resets_in, Some(ms(29_500)));
    }

    #[test]
    fn batch_cost_is_tracked_per_unit() {
        let b = ComplexityBudget::default();
        let t0 = Instant::now();
        b.observe(
            t0,
            "batch",
            10,
            &Complexity {
                before: None,
                after: Some(250),
                query: Some(300),
                reset_in_x_seconds: Some(5),
            },
        );
        assert_eq!(b.wait_before(t0, "batch", 8), None); // 8 * 30 = 240 <= 250
        assert_eq!(b.wait_before(t0, "batch", 9), Some(Duration::from_secs(5)));
    }

    #[test]
    fn backoff_is_capped_and_jittered_within_bounds() {
        let p = RetryPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for attempt in 1..10 {
            let d = p.backoff(attempt);
            assert!(d <= Duration::from_millis(1000), "{d:?}");
            assert!(d >= Duration::from_millis(50), "{d:?}");
        }
    }
}
