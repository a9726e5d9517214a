//! The "SQS queue mode" row: the real `crmsync serve` with `CRMSYNC_QUEUE_URL` on a FIFO queue of
//! moto's server mode (the receiver stores each delivery and sends it to the queue; the polling
//! consumer applies it), under Salesforce 503s and duplicate deliveries, the process SIGKILLed in
//! the middle of the edits and restarted on the same port.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::{
    clear_sf_faults, count, create_items, edit_rounds, monday_faults, post_json, process_options,
    serve_receiving, sf_admin, Fault, Restart, Row, Size, Spec,
};
use crate::harness::spawn_app_with;
use crate::moto::Moto;

pub(super) const NAME: &str = "SQS queue mode";
pub(super) const WORDS: &str =
    "`crmsync serve` in queue mode (a FIFO queue on moto's server mode, \
    visibility 3 s, DLQ after 10 receives): Salesforce 503 at 20 %, every delivery sent twice, the \
    process killed -9 in the middle of the edits and restarted on the same port";

/// Why the row cannot run here, if it cannot.
pub(super) fn unavailable() -> Option<String> {
    crate::moto::moto_server().err().map(|e| {
        format!(
            "not run: no moto server ({e:#}); `cargo xtask chaos` passes the venv's python \
             (CRMSYNC_TEST_PYTHON)"
        )
    })
}

pub(super) async fn row(size: Size, bin: &std::path::Path) -> Result<Row> {
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .context("the moto task")??;
    let queue = moto.fifo_queue("crmsync-chaos", 10, 3).await?;
    let mut env = moto.env();
    env.extend(
        [
            ("CRMSYNC_QUEUE_URL", queue.url.as_str()),
            ("CRMSYNC_QUEUE_WAIT_SECS", "1"),
            ("CRMSYNC_QUEUE_VISIBILITY_SECS", "3"),
            ("CRMSYNC_EVENT_DEADLINE_SECS", "2"),
            ("CRMSYNC_INLINE_BUDGET_MS", "1000"),
            ("CRMSYNC_SWEEP_MINUTES", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let app = spawn_app_with(process_options()).await;
    let result = async {
        let (port, first) = serve_receiving(bin, &app, &env).await?;
        let mut serving = first;
        post_json(
            &sf_admin(&app),
            &json!({"path": "/services/data/*", "status": 503, "probability": 0.2}),
        )
        .await?;
        monday_faults(
            &app,
            json!({"latency_ms": 0, "fail_next": [], "budget_error_mode": null,
                   "webhooks": {"duplicate": true, "reverse_batch": 0, "delay_ms": 0, "hold": false}}),
        )
        .await?;
        let items = create_items(&app, size.items).await?;
        // Killed while messages are in the queue and in flight in the consumer.
        let restart = Restart {
            bin,
            port,
            env: &env,
        };
        edit_rounds(&app, &items, size, Some(restart), &mut serving).await?;
        clear_sf_faults(&app).await?;
        app.monday.admin.clear_faults().await?;
        let mut row = count(
            &app,
            &Spec {
                name: NAME,
                fault: Fault::None,
                words: WORDS,
            },
        )
        .await?;
        // Settled in the store; the queue must be drained too (the consumer deletes a message
        // once its event is settled), and what reached the DLQ is said.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let left = loop {
            let (visible, in_flight) = moto.depth(&queue.url).await?;
            if visible + in_flight == 0 || tokio::time::Instant::now() > deadline {
                break visible + in_flight;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let (dv, df) = moto.depth(&queue.dlq_url).await?;
        let mut notes = Vec::new();
        if !row.note.is_empty() {
            notes.push(row.note.clone());
        }
        if left > 0 {
            notes.push(format!("{left} message(s) still in the queue after 30 s"));
        }
        if dv + df > 0 {
            notes.push(format!(
                "{} message(s) in the DLQ ({} dead-lettered event(s))",
                dv + df,
                row.dead
            ));
        }
        row.note = notes.join("; ");
        serving.kill9().await?;
        Ok(row)
    }
    .await;
    app.stop().await;
    drop(moto);
    result
}
