//! Liveness of the worker loops of [`crate::Engine::run_worker`], for `/healthz`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What `/healthz` reports about the background worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerHealth {
    /// No worker runs in this process (e.g. a receiver without a worker, like the Lambda): nothing
    /// to report.
    NotRunning,
    /// Every worker loop iterates.
    Healthy,
    /// A worker loop died (panicked) or stopped iterating; the reason in plain words.
    Unhealthy(String),
}

#[derive(Debug)]
struct LoopState {
    last_beat: Instant,
    died: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    running: bool,
    loops: Vec<LoopState>,
}

/// Heartbeats of the worker loops (one slot per loop).
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    state: Mutex<State>,
}

impl Monitor {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The worker starts `n` loops.
    pub(crate) fn start(&self, n: usize) {
        let mut st = self.lock();
        st.running = true;
        st.loops = (0..n)
            .map(|_| LoopState {
                last_beat: Instant::now(),
                died: None,
            })
            .collect();
    }

    /// The worker stopped (shutdown).
    pub(crate) fn stop(&self) {
        let mut st = self.lock();
        st.running = false;
        st.loops.clear();
    }

    /// Loop `n` began an iteration.
    pub(crate) fn beat(&self, n: usize) {
        if let Some(l) = self.lock().loops.get_mut(n) {
            l.last_beat = Instant::now();
        }
    }

    /// Loop `n` died.
    pub(crate) fn died(&self, n: usize, reason: String) {
        if let Some(l) = self.lock().loops.get_mut(n) {
            l.died = Some(reason);
        }
    }

    /// The report: unhealthy when a loop died or has not begun an iteration for `stall_after`.
    pub(crate) fn health(&self, stall_after: Duration) -> WorkerHealth {
        let st = self.lock();
        if !st.running {
            return WorkerHealth::NotRunning;
        }
        for (n, l) in st.loops.iter().enumerate() {
            if let Some(reason) = &l.died {
                return WorkerHealth::Unhealthy(format!("worker loop {n} died: {reason}"));
            }
            let idle = l.last_beat.elapsed();
            if idle > stall_after {
                return WorkerHealth::Unhealthy(format!(
                    "worker loop {n} has not run for {} s (limit {} s)",
                    idle.as_secs(),
                    stall_after.as_secs()
                ));
            }
        }
        WorkerHealth::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_or_dead_loop_is_unhealthy_and_no_worker_is_not_reported() {
        let m = Monitor::default();
        assert_eq!(m.health(Duration::from_secs(1)), WorkerHealth::NotRunning);
        m.start(2);
        assert_eq!(m.health(Duration::from_secs(60)), WorkerHealth::Healthy);
        std::thread::sleep(Duration::from_millis(20));
        m.beat(0);
        match m.health(Duration::from_millis(10)) {
            WorkerHealth::Unhealthy(r) => {
                assert!(r.starts_with("worker loop 1 has not run"), "{r}")
            }
            other => panic!("{other:?}"),
        }
        m.died(0, "boom".into());
        assert_eq!(
            m.health(Duration::from_secs(60)),
            WorkerHealth::Unhealthy("worker loop 0 died: boom".into())
        );
        m.stop();
        assert_eq!(m.health(Duration::from_secs(60)), WorkerHealth::NotRunning);
    }
}
