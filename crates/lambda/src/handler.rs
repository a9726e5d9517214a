//! One invocation: an HTTP request answered by the shared Router, the scheduled drain, the
//! scheduled reconciliation sweep or the scheduled delta migration.
//!
//! Every invocation runs in a `tracing` span carrying Lambda's request id (the JSON log lines
//! show it as `span.request_id`). Nothing is left running when an invocation returns: inline
//! processing that outlived the request's budget (answered 503, so Monday redelivers) is awaited
//! before the response is handed back, bounded by the invocation's deadline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use crmsync_app::App;
use crmsync_migrate::{RunOptions, Stage};
use crmsync_store::SweepTrigger;
use crmsync_sync::ingest::Ingest;
use crmsync_sync::reconcile::{Since, SweepOptions};
use crmsync_sync::Engine;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Service};
use serde_json::Value;
use tower::ServiceExt;
use tracing::Instrument;

use crate::event::{classify, invalid_base64_body, strip_stage, Invocation};

/// Kept free at the end of an invocation: time to settle the event in hand and to answer.
const SETTLE_MARGIN: Duration = Duration::from_secs(2);

/// The activity-log window of a board's first scheduled sweep (two of the template's 15-minute
/// intervals, as `crmsync serve`'s timer does): a first sweep never turns every unlinked item of
/// a board into a create.
const FIRST_SWEEP_WINDOW: Duration = Duration::from_secs(30 * 60);

/// An invocation's failure (reported to Lambda through `/invocation/{id}/error`).
pub type Error = lambda_http::Error;

/// What [`Handler::drain`] did.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct DrainReport {
    /// Events processed (claimed and settled or left for a retry).
    pub processed: usize,
    /// How many ended in each outcome (`applied`, `skipped`, `retrying`, `dead`, …).
    pub outcomes: BTreeMap<String, usize>,
    /// Whether it stopped because the invocation's deadline came near (more may be due).
    pub stopped_at_deadline: bool,
    /// Alert summaries sent.
    pub alerts_flushed: usize,
}

/// The function: the router over the app's state, its ingest path and the engine.
#[derive(Clone)]
pub struct Handler {
    router: axum::Router,
    ingest: Ingest,
    engine: Engine,
    mapping_path: PathBuf,
    max_receives: u32,
}

impl Handler {
    /// The handler of `app` (built by [`App::from_config`] with the Lambda's options);
    /// `mapping_path` is `CRMSYNC_MAPPING` (the delta migration reads the mapping's text for its
    /// plan hash).
    pub fn new(app: &App, mapping_path: PathBuf) -> anyhow::Result<Handler> {
        let state = app.state()?;
        Ok(Handler {
            ingest: state.ingest().clone(),
            engine: app.engine.clone(),
            router: crmsync_http::router(state),
            mapping_path,
            max_receives: crmsync_cloud::sqs::DEFAULT_MAX_RECEIVES,
        })
    }

    /// Queue mode: the SQS event source's `maxReceiveCount` (`CRMSYNC_QUEUE_MAX_RECEIVES`, the
    /// redrive policy of the template's queue): on that receive an event still open is given up.
    pub fn with_max_receives(mut self, n: u32) -> Handler {
        self.max_receives = n.max(1);
        self
    }

    /// One invocation, in a span with its request id.
    pub async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let LambdaEvent { payload, context } = event;
        let span = tracing::info_span!("invocation", request_id = %context.request_id);
        self.dispatch(payload, context).instrument(span).await
    }

    async fn dispatch(&self, payload: Value, context: Context) -> Result<Value, Error> {
        let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
        match classify(&payload) {
            Invocation::Drain => {
                let report = self.drain(deadline).await?;
                tracing::info!(processed = report.processed, outcomes = ?report.outcomes,
                    stopped_at_deadline = report.stopped_at_deadline,
                    alerts_flushed = report.alerts_flushed, "scheduled drain done");
                Ok(serde_json::to_value(report)?)
            }
            Invocation::Reconcile => {
                let report = self.reconcile(deadline).await?;
                tracing::info!(sweep = %report["sweep"], drain = %report["drain"],
                    "scheduled reconciliation sweep done");
                Ok(report)
            }
            Invocation::MigrateDelta => {
                let report = self.migrate_delta().await?;
                tracing::info!(report = %report, "scheduled delta migration done");
                Ok(report)
            }
            Invocation::Backup => {
                let report = self.backup().await?;
                tracing::info!(report = %report, "scheduled backup done");
                Ok(report)
            }
            Invocation::Sqs => {
                let response = self.sqs(&payload, deadline).await?;
                Ok(response)
            }
            Invocation::Http { stage } => self.http(payload, context, stage, deadline).await,
            Invocation::Unknown(why) => {
                tracing::error!(%why, "unsupported invocation");
                Err(why.into())
            }
        }
    }

    async fn http(
        &self,
        payload: Value,
        context: Context,
        stage: Option<String>,
        deadline: SystemTime,
    ) -> Result<Value, Error> {
        if let Some(why) = invalid_base64_body(&payload) {
            tracing::warn!(%why, "request refused");
            return Err(why.into());
        }
        let request: LambdaRequest = serde_json::from_value(payload)
            .map_err(|e| format!("not an API Gateway or Function URL request: {e}"))?;
        let router = self.router.clone();
        let service = tower::service_fn(move |req: lambda_http::Request| {
            let router = router.clone();
            let stage = stage.clone();
            async move {
                let req = without_stage(req, stage.as_deref());
                router.oneshot(req.map(axum::body::Body::new)).await
            }
        });
        let mut adapter = Adapter::from(service);
        let response = adapter.call(LambdaEvent::new(request, context)).await?;
        // Inline processing still running after the budget (the answer was 503): settle it
        // here, inside the invocation, before the container may be frozen.
        if self.ingest.in_flight() > 0 {
            let left = time_left(deadline).saturating_sub(SETTLE_MARGIN);
            if !self.ingest.drain(left).await {
                tracing::error!(
                    in_flight = self.ingest.in_flight(),
                    "inline processing did not settle before the invocation's deadline; its \
                     claim expires with the lease and a later invocation takes over"
                );
            }
        }
        Ok(serde_json::to_value(response)?)
    }

    /// The scheduled drain: processes due events (new ones left behind, retries whose time has
    /// come, events queued behind a busy item, expired leases) until none is due or the
    /// invocation's deadline is one event deadline away; then sends due alert summaries and
    /// prunes old refused-delivery records.
    pub async fn drain(&self, deadline: SystemTime) -> anyhow::Result<DrainReport> {
        let reserve = self.engine.config().event_deadline + SETTLE_MARGIN;
        let mut report = DrainReport {
            processed: 0,
            outcomes: BTreeMap::new(),
            stopped_at_deadline: false,
            alerts_flushed: 0,
        };
        let mut failure = None;
        loop {
            if time_left(deadline) < reserve {
                report.stopped_at_deadline = true;
                break;
            }
            match self.engine.process_next().await {
                Ok(Some(p)) => {
                    report.processed += 1;
                    *report
                        .outcomes
                        .entry(p.outcome.label().to_owned())
                        .or_default() += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        report.alerts_flushed = self.engine.alerter().flush().await;
        self.engine.prune_rejected_deliveries().await;
        match failure {
            None => Ok(report),
            Some(e) => Err(e).context(format!(
                "draining due events (after {} processed)",
                report.processed
            )),
        }
    }
}

impl Handler {
    /// The scheduled backup (`crmsync backup --to $CRMSYNC_BACKUP_TO`, payloads per
    /// `CRMSYNC_BACKUP_PAYLOADS`): the manifest, or an invocation error naming what failed.
    pub async fn backup(&self) -> anyhow::Result<Value> {
        let to = std::env::var("CRMSYNC_BACKUP_TO")
            .context("CRMSYNC_BACKUP_TO is not set (s3://bucket/prefix of the backups)")?;
        let payloads: crmsync_cloud::backup::Payloads = std::env::var("CRMSYNC_BACKUP_PAYLOADS")
            .unwrap_or_default()
            .parse()
            .map_err(anyhow::Error::msg)?;
        let location: crmsync_cloud::s3::S3Location = to.parse()?;
        let objects = crmsync_cloud::s3::Objects::new(crmsync_cloud::s3::client().await, location);
        let report = crmsync_cloud::backup::backup(self.engine.store(), &objects, payloads)
            .await
            .with_context(|| format!("backing up to {to}"))?;
        Ok(serde_json::json!({
            "id": report.manifest.id,
            "previous": report.manifest.previous,
            "counts": report.manifest.counts,
            "parts": report.manifest.parts.len(),
        }))
    }

    /// Queue mode's SQS batch: each message's event processed in order (see
    /// `crmsync_sync::queue`), answered with the partial batch response
    /// `{"batchItemFailures": [{"itemIdentifier": messageId}]}` (the event source mapping has
    /// `ReportBatchItemFailures`), so only the messages not done return to the queue. Messages
    /// left when the deadline is one event deadline away are reported too. Then due alert
    /// summaries are sent.
    pub async fn sqs(&self, payload: &Value, deadline: SystemTime) -> Result<Value, Error> {
        if crate::sqs::has_record_without_id(payload) {
            return Err("an SQS record without a messageId: failing the whole batch".into());
        }
        let messages = crate::sqs::messages(payload);
        let reserve = self.engine.config().event_deadline + SETTLE_MARGIN;
        let stop_at = std::time::Instant::now() + time_left(deadline).saturating_sub(reserve);
        let results = crmsync_sync::queue::consume_batch(
            &self.engine,
            &messages,
            self.max_receives,
            Some(stop_at),
        )
        .await;
        let mut failures = Vec::new();
        let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (id, d) in &results {
            let label = match d {
                crmsync_sync::queue::Disposition::Done { .. } => "done",
                crmsync_sync::queue::Disposition::Retry { .. } => "returned",
                crmsync_sync::queue::Disposition::GaveUp { .. } => "gave_up",
                crmsync_sync::queue::Disposition::Invalid { .. } => "invalid",
            };
            *outcomes.entry(label).or_default() += 1;
            if !d.is_done() {
                failures.push(serde_json::json!({ "itemIdentifier": id }));
            }
        }
        self.engine.alerter().flush().await;
        tracing::info!(
            messages = messages.len(),
            ?outcomes,
            failures = failures.len(),
            "SQS batch done"
        );
        Ok(serde_json::json!({ "batchItemFailures": failures }))
    }

    /// The scheduled reconciliation sweep (`crmsync reconcile --since last`: Monday's activity
    /// log since each board's last sweep; a board never swept gets [`FIRST_SWEEP_WINDOW`]), then
    /// a drain that applies what it stored, in order per item, within the deadline.
    pub async fn reconcile(&self, deadline: SystemTime) -> anyhow::Result<Value> {
        let opts = SweepOptions {
            since: Since::LastOr(FIRST_SWEEP_WINDOW),
            boards: None,
            dry_run: false,
            trigger: SweepTrigger::Schedule,
        };
        let sweep = crmsync_sync::reconcile::sweep(&self.engine, &opts, &|_| {})
            .await
            .context("the reconciliation sweep failed")?;
        let drain = self.drain(deadline).await?;
        Ok(serde_json::json!({ "sweep": sweep, "drain": drain }))
    }

    /// The scheduled delta migration (`crmsync migrate run --stage production --since last`):
    /// refused unless a rehearsal of the current plan hash passed; an invocation error when any
    /// record failed (the report is in the error and in the store's run).
    pub async fn migrate_delta(&self) -> anyhow::Result<Value> {
        let sink: crmsync_migrate::ProgressSink = Arc::new(|_| {});
        let migrator = crmsync_app::clients::migrator(
            &self.mapping_path,
            self.engine.store().clone(),
            self.engine.salesforce().clone(),
            self.engine.monday().clone(),
            sink,
        )
        .await?;
        let report = migrator
            .run(&RunOptions {
                stage: Stage::Production,
                resume: false,
                dry_run: false,
                since_last: true,
                objects: None,
            })
            .await
            .context("the delta migration failed")?;
        let value = serde_json::to_value(&report)?;
        if !report.failures.is_empty() || report.outcome == "failed" {
            anyhow::bail!(
                "the delta migration finished with {} failed record(s): {value}",
                report.failures.len()
            );
        }
        Ok(value)
    }
}

/// `req` with API Gateway's `/{stage}` prefix removed from its path (query kept).
fn without_stage(mut req: lambda_http::Request, stage: Option<&str>) -> lambda_http::Request {
    let uri = req.uri();
    let path = uri.path();
    let stripped = strip_stage(path, stage);
    if stripped.len() != path.len() {
        let pq = match uri.query() {
            Some(q) => format!("{stripped}?{q}"),
            None => stripped.to_owned(),
        };
        let mut parts = uri.clone().into_parts();
        match pq.parse() {
            Ok(pq) => {
                parts.path_and_query = Some(pq);
                if let Ok(u) = http::Uri::from_parts(parts) {
                    *req.uri_mut() = u;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not strip the stage from the path"),
        }
    }
    req
}

fn time_left(deadline: SystemTime) -> Duration {
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}
