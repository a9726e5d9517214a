//! Mapping and planning throughput (`crmsync-core`, pure): a measured loop, the median of several
//! batches (no criterion/divan: their compile cost on this 2-core machine buys nothing a median of
//! batches does not give here).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crmsync_core::{plan, plan_item, Item, Mapping, PlanContext, StaticLookups, WebhookDelivery};
use serde_json::{json, Map, Value};

use super::stats::median;
use crate::seed::boards::LEADS;
use crate::seed::seed_dir;

/// Operations per second, the median of `batches`.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// What was measured.
    pub what: &'static str,
    /// Median operations per second.
    pub per_s: f64,
    /// Median microseconds per operation.
    pub us_per_op: f64,
}

/// Measures `f` in `batches` batches of `iters` calls; the median batch.
fn measure(what: &'static str, batches: usize, iters: usize, mut f: impl FnMut()) -> Throughput {
    let mut rates = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let secs = start.elapsed().max(Duration::from_nanos(1)).as_secs_f64();
        rates.push(iters as f64 / secs);
    }
    let per_s = median(&rates);
    Throughput {
        what,
        per_s,
        us_per_op: 1e6 / per_s,
    }
}

/// A Lead item of the seed board with every mapped text field set (the snapshot a fresh read returns).
fn lead_item() -> Result<Item> {
    serde_json::from_value(json!({
        "id": "123456", "name": "Acme Housing", "board_id": LEADS,
        "column_values": [
            {"id": "text_mkry13cw", "type": "text", "text": "Ada", "value": "\"Ada\""},
            {"id": "text_mkry1xy1", "type": "text", "text": "Lovelace", "value": "\"Lovelace\""},
            {"id": "email_mksx3vtp", "type": "email", "text": "ada@example.org",
             "value": "{\"email\":\"ada@example.org\",\"text\":\"ada@example.org\"}"},
            {"id": "color_mksj2adq", "type": "status", "text": "Nurturing", "value": "{\"index\":1}"},
            {"id": "text_mkryhch5", "type": "text", "text": "00Q000000000001AAA", "value": "\"00Q000000000001AAA\""}
        ]
    }))
    .context("building the sample item")
}

/// Runs the loops; `quick` shortens them (the smoke run in `cargo xtask test`).
pub fn run(quick: bool) -> Result<Vec<Throughput>> {
    let (batches, scale) = if quick { (3, 1) } else { (15, 10) };
    let path = seed_dir().join("mapping.toml");
    let src =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mapping = Mapping::parse(&src, "mapping.toml")
        .map_err(|e| anyhow::anyhow!("the seed mapping does not parse: {e}"))?;
    let delivery: WebhookDelivery = serde_json::from_value(json!({"event": {
        "type": "update_column_value", "boardId": LEADS.parse::<i64>()?, "pulseId": 123456,
        "pulseName": "Acme Housing", "columnId": "text_mkry13cw", "columnType": "text",
        "value": {"value": "Ada"}, "previousValue": {"value": "Ad"}, "triggerUuid": "bench-1"
    }}))
    .context("building the sample delivery")?;
    let item = lead_item()?;
    let mut lookups = StaticLookups::default();
    lookups
        .links
        .insert("123456".to_owned(), "00Q000000000001AAA".to_owned());
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).context("a date")?;
    let ctx = PlanContext {
        lookups: &lookups,
        today,
    };
    let bm = mapping
        .board(LEADS)
        .context("the seed mapping has the Leads board")?;
    let record: Map<String, Value> = serde_json::from_value(json!({
        "Id": "00Q000000000002AAA", "Company": "Acme Housing", "FirstName": "Ada",
        "LastName": "Lovelace", "Email": "ada@example.org", "Status": "Working - Contacted",
        "LeadSource": "Web", "Website": "https://example.org"
    }))?;
    // Fail loudly rather than time an error path.
    plan(&delivery.event, Some(&item), &mapping, &ctx)
        .map_err(|e| anyhow::anyhow!("planning the sample event: {e}"))?;
    plan_item(&record, None, bm, &lookups)
        .map_err(|e| anyhow::anyhow!("planning the sample record: {e}"))?;

    Ok(vec![
        measure(
            "parse mapping.toml (seed, 4 boards)",
            batches,
            20 * scale,
            || {
                std::hint::black_box(
                    Mapping::parse(std::hint::black_box(&src), "mapping.toml").ok(),
                );
            },
        ),
        measure(
            "parse a webhook delivery (JSON → WebhookDelivery)",
            batches,
            1000 * scale,
            || {
                let body = std::hint::black_box(
                br#"{"event":{"type":"update_column_value","boardId":9378000505,"pulseId":123456,"columnId":"text_mkry13cw","value":{"value":"Ada"},"previousValue":{"value":"Ad"},"triggerUuid":"b1"}}"#,
            );
                std::hint::black_box(serde_json::from_slice::<WebhookDelivery>(body).ok());
            },
        ),
        measure(
            "plan one real-time event (update, with item snapshot)",
            batches,
            1000 * scale,
            || {
                std::hint::black_box(
                    plan(
                        std::hint::black_box(&delivery.event),
                        Some(&item),
                        &mapping,
                        &ctx,
                    )
                    .ok(),
                );
            },
        ),
        measure(
            "plan one migrated record (Lead → Monday item)",
            batches,
            1000 * scale,
            || {
                std::hint::black_box(
                    plan_item(std::hint::black_box(&record), None, bm, &lookups).ok(),
                );
            },
        ),
    ])
}
