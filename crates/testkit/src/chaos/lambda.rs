//! The "Lambda artifact" row: the built `bootstrap` (unpacked from the artifact's zip) as a real
//! process behind the Runtime API [`Emulator`]. A loopback front door plays the Function URL:
//! Monday's deliveries arrive there, become the Function URL's invocation event, and the function's
//! answer (status and body) is Monday's answer, so a non-200 is redelivered. Salesforce answers
//! 503 at 20 %, and every Lead write 503 for 8 s mid-run while Monday redelivers only 3 times, so
//! the drain has to apply what Monday gave up on; the EventBridge schedule (`fixtures/lambda/eventbridge-schedule.json`) fires a drain
//! every second until everything settled.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{
    app_db_url, clear_sf_faults, count, create_items, install_hooks, post_json, process_options,
    sf_admin, Fault, Row, Size, Spec, FIRST_NAME,
};
use crate::harness::spawn_app_with;
use crate::lambda_emulator::Emulator;
use crate::lambda_suite::{answer, fixture, function_env, http_event, spawn, Front};

pub(super) const NAME: &str = "Lambda artifact";
pub(super) const WORDS: &str = "the built `bootstrap` behind the Runtime API emulator, deliveries \
    through a Function URL front door: Salesforce 503 at 20 %, and every Lead write 503 for 8 s in \
    the middle of the edits while Monday redelivers only 3 times (300 ms apart); the EventBridge \
    schedule's drain every second until settled";

/// The bootstrap to run: `CRMSYNC_CHAOS_BOOTSTRAP` (set by `cargo xtask chaos` when the artifact
/// was built and unpacked).
pub fn bootstrap_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os("CRMSYNC_CHAOS_BOOTSTRAP").map(std::path::PathBuf::from)
}

pub(super) const NOT_GIVEN: &str = "not run: no Lambda bootstrap given (CRMSYNC_CHAOS_BOOTSTRAP \
    unset; `cargo xtask chaos` sets it when target/lambda/crmsync/unpacked/bootstrap exists, i.e. \
    after `cargo xtask lambda build` and `cargo xtask lambda test`)";

/// The Function URL in front of the emulator: one invocation per request, its answer returned.
async fn front_door(emulator: Emulator, headers: HeaderMap, body: Bytes) -> Response {
    let pass: Vec<(&str, String)> = ["authorization", "content-type", "user-agent"]
        .into_iter()
        .filter_map(|k| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(|v| (k, v.to_owned()))
        })
        .collect();
    let event = match http_event(
        Front::FunctionUrl,
        "POST",
        "/webhooks/monday",
        &pass,
        &body,
        false,
    ) {
        Ok(e) => e,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response(),
    };
    // What Lambda answers when the function fails or times out: 502, and Monday redelivers.
    let outcome = match emulator.invoke(event).await {
        Ok(f) => f.outcome,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    };
    match answer(&outcome) {
        Ok(a) => {
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
            match a.body {
                Value::String(s) => (status, s).into_response(),
                other => (status, axum::Json(other)).into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    }
}

pub(super) async fn row(size: Size, bootstrap: &Path) -> Result<Row> {
    let bootstrap = std::fs::canonicalize(bootstrap)
        .with_context(|| format!("finding {}", bootstrap.display()))?;
    let mut opts = process_options();
    // Monday redelivers a failed delivery only 3 times, 300 ms apart (Monday: 30 times, a
    // minute apart): an outage outlasts them, as a long one outlasts Monday's.
    opts.webhook_retries = (Duration::from_millis(300), 3);
    let app = spawn_app_with(opts).await;
    let logs: Arc<Mutex<Vec<String>>> = Arc::default();
    let result = async {
        app.drop_all_webhooks().await;
        let emulator = Emulator::start(Duration::from_secs(30)).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let public = format!("http://{}", listener.local_addr()?);
        let e = emulator.clone();
        let router = axum::Router::new().route(
            "/webhooks/monday",
            axum::routing::post(move |h: HeaderMap, b: Bytes| front_door(e.clone(), h, b)),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let mut env = emulator.lambda_env();
        env.extend(function_env(
            &app_db_url(&app)?,
            &app.salesforce.base_url,
            &app.monday,
            &app.telegram.url,
        ));
        for (k, v) in [
            ("CRMSYNC_PUBLIC_URL", public.clone()),
            ("CRMSYNC_EVENT_DEADLINE_SECS", "3".into()),
            ("CRMSYNC_INLINE_BUDGET_MS", "1500".into()),
            ("RUST_LOG", "warn".into()),
        ] {
            env.retain(|(kk, _)| kk != k);
            env.push((k.to_owned(), v));
        }
        let mut child = spawn(&bootstrap, &env, logs.clone())?;
        let hook =
            url::Url::parse(&format!("{public}/webhooks/monday")).context("the webhook URL")?;
        install_hooks(&app, &hook).await?;
        post_json(
            &sf_admin(&app),
            &json!({"path": "/services/data/*", "status": 503, "probability": 0.2}),
        )
        .await?;
        // The schedule: a drain every second, as EventBridge would fire it (every minute there).
        let schedule = fixture("lambda/eventbridge-schedule.json")?;
        let e = emulator.clone();
        let failed: Arc<Mutex<Vec<String>>> = Arc::default();
        let f = failed.clone();
        // Drains answered, and the events they processed.
        let drained: Arc<Mutex<(usize, u64)>> = Arc::default();
        let d = drained.clone();
        let drains = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let why = match e.invoke(schedule.clone()).await {
                    Ok(done) => match done.outcome {
                        crate::lambda_emulator::Outcome::Error { body, .. } => {
                            Some(body.to_string())
                        }
                        crate::lambda_emulator::Outcome::Response(r) => {
                            let mut d = d.lock().unwrap_or_else(|p| p.into_inner());
                            d.0 += 1;
                            d.1 += r["processed"].as_u64().unwrap_or(0);
                            None
                        }
                    },
                    Err(err) => Some(format!("{err:#}")),
                };
                if let Some(why) = why {
                    f.lock().unwrap_or_else(|p| p.into_inner()).push(why);
                }
            }
        });
        let items = create_items(&app, size.items).await?;
        let sf503 = json!({"path": "/services/data/*", "status": 503, "probability": 0.2});
        for round in 1..=size.edits {
            let outage = round == size.edits.div_ceil(2);
            if outage {
                post_json(
                    &sf_admin(&app),
                    &json!({"path": "/services/data/*/sobjects/Lead/Monday_Item_Id__c/*", "status": 503}),
                )
                .await?;
            }
            for (i, item) in items.iter().enumerate() {
                app.monday
                    .admin
                    .change_column_value(item, FIRST_NAME, json!(format!("F{i} r{round}")))
                    .await?;
            }
            if outage {
                // Longer than Monday's few redeliveries: what it gave up on is the drain's.
                tokio::time::sleep(Duration::from_secs(8)).await;
                clear_sf_faults(&app).await?;
                post_json(&sf_admin(&app), &sf503).await?;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        clear_sf_faults(&app).await?;
        let row = count(
            &app,
            &Spec {
                name: NAME,
                fault: Fault::None,
                words: WORDS,
            },
        )
        .await;
        drains.abort();
        let drain_failures = failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
        server.abort();
        let _ = child.start_kill();
        let _ = child.wait().await;
        let mut row = row?;
        let (ran, processed) = *drained.lock().unwrap_or_else(|p| p.into_inner());
        row.fault = format!(
            "{WORDS} ({ran} drains ran; they processed {processed} event(s) left for them)"
        );
        if !drain_failures.is_empty() {
            row.note = format!(
                "{} scheduled drain(s) failed, e.g. {}",
                drain_failures.len(),
                drain_failures[0]
            );
        }
        Ok(row)
    }
    .await;
    app.stop().await;
    result.map_err(|e: anyhow::Error| {
        let logs = logs.lock().unwrap_or_else(|p| p.into_inner());
        let tail: Vec<&String> = logs.iter().rev().take(10).collect();
        e.context(format!(
            "bootstrap log (last lines, newest first): {}",
            tail.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        ))
    })
}
