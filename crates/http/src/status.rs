//! The `GET /status` report: what crmsync did in the last 24 hours (its JSON is the overview's,
//! its HTML sections are part of the overview page in [`crate::pages`]).

use chrono::{DateTime, Duration, Utc};
use crmsync_store::{DeadLetterFilter, DeadLetterStatus, EventStatus};
use serde::Serialize;

use crate::AppState;

/// Counts of events received in the window, by current outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusCountsView {
    /// All events received.
    pub received: u64,
    /// Applied to Salesforce.
    pub done: u64,
    /// Nothing to apply.
    pub skipped: u64,
    /// Failed, retry scheduled.
    pub retrying: u64,
    /// Waiting.
    pub pending: u64,
    /// Being applied now.
    pub processing: u64,
    /// Failed permanently (dead letters).
    pub dead: u64,
}

/// Receipt → applied latency.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LatencyView {
    /// Events measured.
    pub count: u64,
    /// Median, ms.
    pub p50_ms: i64,
    /// 95th percentile, ms.
    pub p95_ms: i64,
    /// 99th percentile, ms.
    pub p99_ms: i64,
    /// Maximum, ms.
    pub max_ms: i64,
}

/// A recent failure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FailureRow {
    /// Event id.
    pub event_id: i64,
    /// Board id.
    pub board_id: i64,
    /// Board name from the mapping.
    pub board_name: Option<String>,
    /// Item id.
    pub item_id: i64,
    /// Event type.
    pub event_type: String,
    /// `failed` (retrying) or `dead`.
    pub status: String,
    /// Failed attempts.
    pub attempts: u32,
    /// The error.
    pub error: String,
    /// Advice.
    pub what_to_do: String,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An open dead letter.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeadLetterRow {
    /// Dead letter id.
    pub id: i64,
    /// Event id.
    pub event_id: i64,
    /// Board id.
    pub board_id: i64,
    /// Board name from the mapping.
    pub board_name: Option<String>,
    /// Item id.
    pub item_id: i64,
    /// Event type.
    pub event_type: String,
    /// The error.
    pub error: String,
    /// Salesforce's error body.
    pub salesforce_error: Option<String>,
    /// When it died.
    pub created_at: DateTime<Utc>,
    /// Command that replays it once fixed.
    pub replay_command: String,
}

/// Processing attempts by outcome (the store's attempt rows).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct AttemptsView {
    /// All attempts.
    pub total: u64,
    /// Applied.
    pub done: u64,
    /// Skipped.
    pub skipped: u64,
    /// Failed transiently (retried).
    pub failed: u64,
    /// Failed permanently (dead-lettered).
    pub dead: u64,
    /// Stopped by the rate-limit pause.
    pub paused: u64,
    /// Abandoned after losing the lease to another worker.
    pub lease_lost: u64,
}

/// The whole report (the JSON form of `/status`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusReport {
    /// When generated.
    pub generated_at: DateTime<Utc>,
    /// Window of the counts and latency, hours.
    pub window_hours: u32,
    /// Counts by outcome.
    pub counts: StatusCountsView,
    /// Latency of applied events, when any.
    pub latency: Option<LatencyView>,
    /// Set while processing is paused by Salesforce's API limit.
    pub paused_until: Option<DateTime<Utc>>,
    /// Processing attempts in the window, by outcome (one per try of an event).
    pub attempts: AttemptsView,
    /// Open dead letters (all time).
    pub open_dead_letters: u64,
    /// Most recent failures.
    pub recent_failures: Vec<FailureRow>,
    /// Most recent open dead letters.
    pub dead_letters: Vec<DeadLetterRow>,
    /// Deliveries refused in the window (bad signature, malformed, too large, …).
    pub rejected_deliveries: u64,
    /// The most recent refused deliveries.
    pub recent_rejections: Vec<RejectionRow>,
}

/// A refused webhook delivery.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RejectionRow {
    /// Record id.
    pub id: i64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Why: `unauthenticated`, `bad_signature`, `malformed_json`, `not_a_webhook`,
    /// `invalid_field`, `too_large`.
    pub reason: String,
    /// The status answered.
    pub http_status: u16,
    /// What exactly was wrong.
    pub detail: Option<String>,
}

/// Gathers the report (the overview page in [`crate::pages`] renders and serves it).
pub(crate) async fn build(st: &AppState) -> Result<StatusReport, crmsync_store::StoreError> {
    let store = st.engine.store();
    let since = Utc::now() - Duration::hours(24);
    let c = store.event_counts_since(since).await?;
    let latency = store.latency_since(since).await?.map(|l| LatencyView {
        count: l.count,
        p50_ms: l.p50_ms,
        p95_ms: l.p95_ms,
        p99_ms: l.p99_ms,
        max_ms: l.max_ms,
    });
    let mapping = st.engine.mapping();
    let board_name = |b: i64| {
        mapping
            .board(&b.to_string())
            .map(|m| m.name.clone().unwrap_or_else(|| m.object.clone()))
    };
    let recent_failures = store
        .recent_failures(50)
        .await?
        .into_iter()
        .filter(|e| matches!(e.status, EventStatus::Failed | EventStatus::Dead))
        .take(20)
        .map(|e| FailureRow {
            what_to_do: if e.status == EventStatus::Dead {
                "Fix the cause (see the dead letter below), then run `crmsync dead-letters replay`."
                    .into()
            } else {
                format!(
                    "Nothing yet: crmsync retries automatically (next try {}).",
                    e.next_attempt_at.format("%H:%M:%S UTC")
                )
            },
            event_id: e.id.0,
            board_id: e.board_id,
            board_name: board_name(e.board_id),
            item_id: e.item_id,
            event_type: e.event_type,
            status: e.status.as_str().to_string(),
            attempts: e.attempts,
            error: e.last_error.unwrap_or_default(),
            updated_at: e.updated_at,
        })
        .collect();
    let dead_letters = store
        .list_dead_letters(&DeadLetterFilter {
            status: Some(DeadLetterStatus::Open),
            limit: 20,
            ..DeadLetterFilter::default()
        })
        .await?
        .into_iter()
        .map(|d| DeadLetterRow {
            replay_command: format!("crmsync dead-letters replay {}", d.id),
            id: d.id.0,
            event_id: d.event_id.0,
            board_id: d.board_id,
            board_name: board_name(d.board_id),
            item_id: d.item_id,
            event_type: d.event_type,
            error: d.error,
            salesforce_error: d.sf_error_body,
            created_at: d.created_at,
        })
        .collect();
    Ok(StatusReport {
        generated_at: Utc::now(),
        window_hours: 24,
        counts: StatusCountsView {
            received: c.total(),
            done: c.done,
            skipped: c.skipped,
            retrying: c.failed,
            pending: c.pending,
            processing: c.processing,
            dead: c.dead,
        },
        latency,
        paused_until: store
            .active_pause(crmsync_sync::SALESFORCE_PAUSE)
            .await?
            .map(|p| p.until),
        attempts: {
            let a = store.attempt_counts_since(since).await?;
            AttemptsView {
                total: a.total(),
                done: a.done,
                skipped: a.skipped,
                failed: a.failed,
                dead: a.dead,
                paused: a.paused,
                lease_lost: a.lease_lost,
            }
        },
        open_dead_letters: store.open_dead_letter_count().await?,
        recent_failures,
        dead_letters,
        rejected_deliveries: store.rejected_delivery_count_since(since).await?,
        recent_rejections: store
            .list_rejected_deliveries(20)
            .await?
            .into_iter()
            .map(|r| RejectionRow {
                id: r.id.0,
                received_at: r.received_at,
                reason: r.reason.as_str().to_owned(),
                http_status: r.http_status,
                detail: r.detail,
            })
            .collect(),
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn board(name: &Option<String>, id: i64) -> String {
    match name {
        Some(n) => format!("{} ({id})", esc(n)),
        None => id.to_string(),
    }
}

/// The report's sections as HTML (health, counts, failures, dead letters, refused deliveries);
/// the overview page puts them in its layout.
pub(crate) fn render(r: &StatusReport) -> String {
    let c = &r.counts;
    let mut h = String::new();
    let health = if c.dead == 0 && r.open_dead_letters == 0 && r.paused_until.is_none() {
        "Everything is working: every change made on Monday in the last 24 hours has been copied to Salesforce or deliberately skipped.".to_string()
    } else {
        format!(
            "Attention needed: {} change(s) could not be copied to Salesforce and wait for a fix (see below).",
            r.open_dead_letters
        )
    };
    h.push_str(&format!("<p><strong>{}</strong></p>", esc(&health)));
    if let Some(p) = r.paused_until {
        h.push_str(&format!(
            "<p class=\"bad\">Syncing is paused until {} because Salesforce's daily API limit was reached. It resumes by itself.</p>",
            p.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    h.push_str(&format!(
        "<h2>Last 24 hours</h2><table>\
         <tr><td>Changes received from Monday</td><td>{}</td></tr>\
         <tr><td>Copied to Salesforce</td><td>{}</td></tr>\
         <tr><td>Nothing to copy (skipped)</td><td>{}</td></tr>\
         <tr><td>Waiting or being copied</td><td>{}</td></tr>\
         <tr><td>Failed for now, will be retried automatically</td><td>{}</td></tr>\
         <tr><td>Failed, need a fix (dead letters)</td><td>{}</td></tr></table>",
        c.received,
        c.done,
        c.skipped,
        c.pending + c.processing,
        c.retrying,
        c.dead
    ));
    match &r.latency {
        Some(l) => h.push_str(&format!(
            "<p>Time from a change on Monday to Salesforce: usually {} ms; 95 % within {} ms; slowest {} ms ({} changes measured).</p>",
            l.p50_ms, l.p95_ms, l.max_ms, l.count
        )),
        None => h.push_str("<p>No change was copied in the last 24 hours, so there is no timing to show.</p>"),
    }
    h.push_str("<h2>Recent failures</h2>");
    if r.recent_failures.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<table><tr><th>Event</th><th>Board</th><th>Item</th><th>Change</th><th>State</th><th>Error</th><th>What to do</th></tr>");
        for f in &r.recent_failures {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} (attempt {})</td><td>{}</td><td>{}</td></tr>",
                f.event_id,
                board(&f.board_name, f.board_id),
                f.item_id,
                esc(&f.event_type),
                esc(&f.status),
                f.attempts,
                esc(&f.error),
                esc(&f.what_to_do)
            ));
        }
        h.push_str("</table>");
    }
    h.push_str(&format!(
        "<h2>Dead letters ({} open)</h2>",
        r.open_dead_letters
    ));
    if r.dead_letters.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<p>These changes failed permanently. Fix the cause (the value on Monday, the mapping, or the Salesforce rule), then replay them.</p>");
        h.push_str("<table><tr><th>#</th><th>Board</th><th>Item</th><th>Change</th><th>Error</th><th>Replay with</th></tr>");
        for d in &r.dead_letters {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                d.id,
                board(&d.board_name, d.board_id),
                d.item_id,
                esc(&d.event_type),
                esc(&d.error),
                esc(&d.replay_command)
            ));
        }
        h.push_str("</table>");
    }
    h.push_str(&format!(
        "<h2>Refused deliveries ({} in {} h)</h2>",
        r.rejected_deliveries, r.window_hours
    ));
    if r.recent_rejections.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<p>Requests to the webhook URL that were not valid Monday deliveries (wrong signature, malformed, too large). Many of them usually mean a misconfigured secret or a stranger probing the URL.</p>");
        h.push_str(
            "<table><tr><th>#</th><th>When</th><th>Reason</th><th>Answer</th><th>Detail</th></tr>",
        );
        for x in &r.recent_rejections {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                x.id,
                x.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
                esc(&x.reason),
                x.http_status,
                esc(x.detail.as_deref().unwrap_or(""))
            ));
        }
        h.push_str("</table>");
    }
    h.push_str(&format!(
        "<p><small>Generated {}.</small></p>",
        crate::pages::time(r.generated_at)
    ));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_errors() {
        let r = StatusReport {
            generated_at: Utc::now(),
            window_hours: 24,
            counts: StatusCountsView {
                received: 3,
                done: 1,
                skipped: 1,
                retrying: 0,
                pending: 0,
                processing: 0,
                dead: 1,
            },
            latency: None,
            paused_until: None,
            attempts: AttemptsView::default(),
            open_dead_letters: 1,
            recent_failures: vec![],
            dead_letters: vec![DeadLetterRow {
                id: 7,
                event_id: 9,
                board_id: 1,
                board_name: Some("Leads".into()),
                item_id: 2,
                event_type: "create_pulse".into(),
                error: "<script>x</script>".into(),
                salesforce_error: None,
                created_at: Utc::now(),
                replay_command: "crmsync dead-letters replay 7".into(),
            }],
            rejected_deliveries: 1,
            recent_rejections: vec![RejectionRow {
                id: 3,
                received_at: Utc::now(),
                reason: "invalid_field".into(),
                http_status: 400,
                detail: Some("boardId \"<b>\" is not a number".into()),
            }],
        };
        let h = render(&r);
        assert!(!h.contains("<script>") && !h.contains("<b>"), "{h}");
        assert!(h.contains("Refused deliveries (1 in 24 h)"), "{h}");
        assert!(h.contains("invalid_field"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("crmsync dead-letters replay 7"));
        assert!(h.contains("Attention needed"));
    }
}
