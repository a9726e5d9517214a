//! Router + background worker + graceful shutdown: what `crmsync serve`, the demo and the test
//! harness run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use crate::App;

/// Time for an event that reached its deadline to settle, and for the store to close.
const SETTLE_MARGIN: Duration = Duration::from_secs(5);

/// How [`serve`] runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Run the engine's background worker next to the receiver (default). Off in tests that drive
    /// processing themselves.
    pub worker: bool,
    /// How long shutdown waits for in-flight requests, and then for inline processing and the
    /// worker — at least the engine's per-event deadline plus a few seconds — before giving up
    /// (claims left behind expire with their lease; the store is then left open). Default 30 s.
    pub drain_timeout: Duration,
    /// Close the store once everything stopped (default). The test harness keeps it open to read
    /// the final state.
    pub close_store: bool,
    /// Run a reconciliation sweep (`--since last`) this often (None: never).
    /// `crmsync serve` takes it from `CRMSYNC_SWEEP_MINUTES`.
    pub sweep_every: Option<Duration>,
    /// Queue mode's polling consumer (`crmsync serve` with `CRMSYNC_QUEUE_URL`), run next to
    /// the receiver until shutdown and awaited like the worker. With a consumer and no worker,
    /// each scheduled sweep is followed by a drain of what it stored (sweep events are not sent
    /// to the queue).
    pub consumer: Option<QueueConsumer>,
}

/// What a [`QueueConsumer`] runs: given the engine and the stop flag, the consuming task.
pub type ConsumerFn = dyn Fn(
        crmsync_sync::Engine,
        tokio::sync::watch::Receiver<bool>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>
    + Send
    + Sync;

/// A task that consumes the queue with the engine until the stop flag turns true.
#[derive(Clone)]
pub struct QueueConsumer(pub Arc<ConsumerFn>);

impl std::fmt::Debug for QueueConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueConsumer")
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            worker: true,
            drain_timeout: Duration::from_secs(30),
            close_store: true,
            sweep_every: None,
            consumer: None,
        }
    }
}

/// Serves the router on `listener` and (with [`ServeOptions::worker`]) runs the engine's worker
/// until `shutdown` completes; then stops accepting connections, waits (bounded) for in-flight
/// requests, for inline processing still running and for the worker, flushes pending alert
/// summaries and closes the store.
pub async fn serve(
    listener: TcpListener,
    app: App,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_inner(listener, app, options, None, shutdown).await
}

/// [`serve`], recording every webhook delivery (and what Monday and Salesforce held for the
/// touched items) into a replay scenario (`crmsync serve --record DIR`); `recorded.json` is
/// written once everything stopped.
pub async fn serve_recording(
    listener: TcpListener,
    app: App,
    options: ServeOptions,
    recorder: crate::record::Recorder,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_inner(listener, app, options, Some(recorder), shutdown).await
}

async fn serve_inner(
    listener: TcpListener,
    app: App,
    options: ServeOptions,
    recorder: Option<crate::record::Recorder>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let state = app.state()?;
    let ingest = state.ingest().clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = options.worker.then(|| {
        let engine = app.engine.clone();
        let mut worker_rx = stop_rx.clone();
        tokio::spawn(async move {
            engine
                .run_worker(async move {
                    let _ = worker_rx.wait_for(|s| *s).await;
                })
                .await;
        })
    });
    let consumer = options.consumer.as_ref().map(|c| {
        let run = (c.0)(app.engine.clone(), stop_rx.clone());
        tokio::spawn(run)
    });
    let drain_after_sweep = !options.worker && consumer.is_some();
    let sweeper = options.sweep_every.map(|every| {
        let engine = app.engine.clone();
        let rx = stop_rx.clone();
        tokio::spawn(sweep_on_timer(engine, every, rx, drain_after_sweep))
    });
    let mut server_rx = stop_rx;
    let mut router = crmsync_http::router(state);
    if let Some(rec) = recorder.clone() {
        router = router.layer(axum::middleware::from_fn_with_state(
            rec,
            crate::record::layer,
        ));
    }
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = server_rx.wait_for(|s| *s).await;
    });
    let mut server = tokio::spawn(async move { server.await });

    // The server ends on its own only when it fails; otherwise at the shutdown signal.
    let early = tokio::select! {
        r = &mut server => Some(r),
        () = shutdown => None,
    };
    let _ = stop_tx.send(true);
    let served = match early {
        Some(r) => r,
        None => match tokio::time::timeout(options.drain_timeout, &mut server).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(
                    timeout_s = options.drain_timeout.as_secs(),
                    "in-flight requests did not finish in time"
                );
                server.abort();
                Ok(Ok(()))
            }
        },
    };
    // An event in progress ends within the engine's per-event deadline, and then settles: wait at
    // least that long for inline processing (tasks of its own, never cancelled half-way) and for
    // the worker, so that nothing applied to Salesforce is left unsettled by a closed store.
    let work_timeout = options
        .drain_timeout
        .max(app.engine.config().event_deadline + SETTLE_MARGIN);
    let mut all_stopped = true;
    if !ingest.drain(work_timeout).await {
        all_stopped = false;
        tracing::warn!(
            in_flight = ingest.in_flight(),
            "inline processing did not finish in time; its claims expire with their lease"
        );
    }
    if let Some(worker) = worker {
        if tokio::time::timeout(work_timeout, worker).await.is_err() {
            all_stopped = false;
            tracing::warn!("the worker did not stop in time; its claims expire with their lease");
        }
    }
    if let Some(consumer) = consumer {
        if tokio::time::timeout(work_timeout, consumer).await.is_err() {
            all_stopped = false;
            tracing::warn!(
                "the queue consumer did not stop in time; its claims expire with their lease"
            );
        }
    }
    if let Some(sweeper) = sweeper {
        // A sweep in progress only reads Monday and stores events: stopping it half-way loses
        // nothing (the next one starts where the last passed one ended).
        sweeper.abort();
        let _ = sweeper.await;
    }
    app.engine.alerter().flush().await;
    // The recorded outcome reads the store and Salesforce: before the store closes.
    let recorded = match &recorder {
        Some(r) if all_stopped => r
            .finish()
            .await
            .with_context(|| format!("writing {}/recorded.json", r.dir().display())),
        Some(r) => Err(anyhow::anyhow!(
            "not writing {}/recorded.json: processing did not stop in time",
            r.dir().display()
        )),
        None => Ok(()),
    };
    // Closing waits for every connection to come back: only when nothing runs any more, and
    // bounded (a connection stuck on a half-open socket must not hold up the exit).
    if options.close_store
        && all_stopped
        && tokio::time::timeout(SETTLE_MARGIN, app.engine.store().close())
            .await
            .is_err()
    {
        tracing::warn!("closing the store's connections timed out; exiting anyway");
    }
    match served {
        Ok(Ok(())) => recorded,
        Ok(Err(e)) => Err(e).context("serving HTTP"),
        Err(e) => Err(e).context("the HTTP server task failed"),
    }
}

/// Runs a sweep every `every` (the first one after `every`) until `stop` turns true; a board
/// never swept gets the activity log of the last two intervals. Each sweep is paced by the
/// Monday client on the complexity budget; a failed sweep is logged (and recorded as failed) and
/// the next one covers its window again (the cursor only moves on success).
async fn sweep_on_timer(
    engine: crmsync_sync::Engine,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    drain_after: bool,
) {
    use crmsync_sync::reconcile::{sweep, Since, SweepOptions};
    let opts = SweepOptions {
        since: Since::LastOr(every.saturating_mul(2)),
        boards: None,
        dry_run: false,
        trigger: crmsync_store::SweepTrigger::Schedule,
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let run = sweep(&engine, &opts, &|_| {});
        tokio::select! {
            r = run => match r {
                Ok(report) => tracing::info!(
                    items_checked = report.items_checked,
                    events_stored = report.events_stored,
                    complexity = report.complexity,
                    elapsed_ms = report.elapsed_ms,
                    "scheduled reconciliation sweep done"
                ),
                Err(e) => tracing::warn!(error = %e, "scheduled reconciliation sweep failed; the next one retries its window"),
            },
            _ = stop.wait_for(|s| *s) => return,
        }
        if drain_after {
            match engine.drain().await {
                Ok(n) => tracing::info!(processed = n, "applied what the sweep stored"),
                Err(e) => tracing::warn!(error = %e, "could not apply what the sweep stored"),
            }
        }
    }
}
