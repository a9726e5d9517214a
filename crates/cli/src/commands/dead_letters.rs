//! `crmsync dead-letters list|show|replay`.

use anyhow::{bail, Context, Result};
use crmsync_store::{
    Attempt, DeadLetter, DeadLetterFilter, DeadLetterId, DeadLetterStatus, EventStatus,
};
use serde_json::{json, Value};

use crate::cli::DeadLettersCmd;
use crate::output::{ellipsize, Table};
use crmsync_app::clients as context;

/// Runs a `dead-letters` subcommand.
pub async fn run(cmd: DeadLettersCmd) -> Result<()> {
    let config = context::config()?;
    match cmd {
        DeadLettersCmd::List { all, limit, json } => {
            let store = context::store(&config).await?;
            let filter = DeadLetterFilter {
                status: (!all).then_some(DeadLetterStatus::Open),
                limit,
                ..DeadLetterFilter::default()
            };
            let dls = store
                .list_dead_letters(&filter)
                .await
                .context("listing dead letters")?;
            if json {
                let v: Vec<Value> = dls.iter().map(|d| to_json(d, false)).collect();
                crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            } else if dls.is_empty() {
                crate::outln!("no {}dead letters", if all { "" } else { "open " });
            } else {
                let names = board_names(&config);
                let mut t = Table::new(&[
                    "ID",
                    "STATUS",
                    "CREATED (UTC)",
                    "BOARD",
                    "ITEM",
                    "EVENT",
                    "ERROR",
                ]);
                for d in &dls {
                    t.row(vec![
                        d.id.to_string(),
                        d.status.as_str().to_owned(),
                        d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        names
                            .iter()
                            .find(|(id, _)| *id == d.board_id.to_string())
                            .map(|(_, n)| format!("{n} ({})", d.board_id))
                            .unwrap_or_else(|| d.board_id.to_string()),
                        d.item_id.to_string(),
                        d.event_type.clone(),
                        ellipsize(&short_error(d), 80),
                    ]);
                }
                crate::out!("{}", t.render());
                crate::outln!(
                    "{} dead letter{}; `crmsync dead-letters show ID` for details, \
                     `crmsync dead-letters replay` after fixing the cause",
                    dls.len(),
                    if dls.len() == 1 { "" } else { "s" }
                );
            }
            store.close().await;
            Ok(())
        }
        DeadLettersCmd::Show { id, json } => {
            let store = context::store(&config).await?;
            let d = store
                .get_dead_letter(DeadLetterId(id))
                .await
                .with_context(|| format!("reading dead letter {id}"))?
                .with_context(|| {
                    format!(
                        "dead letter {id} does not exist (see `crmsync dead-letters list --all`)"
                    )
                })?;
            let attempts = store
                .attempts_for_event(d.event_id)
                .await
                .with_context(|| format!("reading the attempts of event {}", d.event_id))?;
            if json {
                let mut v = to_json(&d, true);
                v["attempts"] = attempts.iter().map(attempt_json).collect();
                crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                crate::out!("{}", show_text(&d, &attempts));
            }
            store.close().await;
            Ok(())
        }
        DeadLettersCmd::Replay { ids } => replay(config, ids).await,
    }
}

/// Board id → name from the mapping file, when it can be read (names are only a convenience here).
fn board_names(config: &crmsync_config::Config) -> Vec<(String, String)> {
    crmsync_sync::read_mapping(&config.mapping_path)
        .map(|m| {
            m.boards
                .into_iter()
                .filter_map(|b| b.name.map(|n| (b.board_id, n)))
                .collect()
        })
        .unwrap_or_default()
}

/// The most telling part of the error: Salesforce's first `errorCode: message` when it answered,
/// crmsync's description otherwise.
pub fn short_error(d: &DeadLetter) -> String {
    let from_sf = d
        .sf_error_body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| {
            let first = match &v {
                Value::Array(a) => a.first().cloned(),
                Value::Object(_) => Some(v.clone()),
                _ => None,
            }?;
            let code = first.get("errorCode")?.as_str()?.to_owned();
            let msg = first.get("message").and_then(Value::as_str).unwrap_or("");
            Some(format!("{code}: {msg}"))
        });
    from_sf.unwrap_or_else(|| d.error.clone())
}

fn to_json(d: &DeadLetter, full: bool) -> Value {
    let mut v = json!({
        "id": d.id.0,
        "status": d.status.as_str(),
        "event_id": d.event_id.0,
        "trigger_uuid": d.trigger_uuid,
        "board_id": d.board_id,
        "item_id": d.item_id,
        "event_type": d.event_type,
        "error": d.error,
        "replay_count": d.replay_count,
        "created_at": d.created_at.to_rfc3339(),
        "updated_at": d.updated_at.to_rfc3339(),
        "replayed_at": d.replayed_at.map(|t| t.to_rfc3339()),
    });
    if full {
        v["salesforce_error"] = match &d.sf_error_body {
            Some(b) => serde_json::from_str(b).unwrap_or_else(|_| Value::String(b.clone())),
            None => Value::Null,
        };
        v["payload"] =
            serde_json::from_str(&d.payload).unwrap_or_else(|_| Value::String(d.payload.clone()));
    }
    v
}

fn attempt_json(a: &Attempt) -> Value {
    json!({
        "attempt": a.attempt,
        "started_at": a.started_at.to_rfc3339(),
        "finished_at": a.finished_at.to_rfc3339(),
        "worker": a.worker,
        "operation": a.operation,
        "outcome": a.outcome.as_str(),
        "error_class": a.error_class,
        "error": a.error,
        "http_status": a.http_status,
    })
}

/// One line per attempt: `#2 2026-… UTC  failed  HTTP 503  DEADLINE  create_pulse: upsert …`.
fn attempt_line(a: &Attempt) -> String {
    let mut line = format!(
        "  #{} {} {:<10}",
        a.attempt,
        a.started_at.format("%Y-%m-%d %H:%M:%S"),
        a.outcome.as_str()
    );
    if let Some(s) = a.http_status {
        line.push_str(&format!(" HTTP {s}"));
    }
    if let Some(c) = &a.error_class {
        line.push_str(&format!(" {c}"));
    }
    line.push_str(&format!(
        " {} ({} ms, {})",
        a.operation,
        (a.finished_at - a.started_at).num_milliseconds(),
        a.worker
    ));
    line
}

fn show_text(d: &DeadLetter, attempts: &[Attempt]) -> String {
    let pretty = |s: &str| {
        serde_json::from_str::<Value>(s)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| s.to_owned())
    };
    let mut out = String::new();
    let mut kv = |k: &str, v: String| out.push_str(&format!("{k:<17} {v}\n"));
    kv("dead letter", d.id.to_string());
    kv("status", d.status.as_str().to_owned());
    kv(
        "created (UTC)",
        d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    );
    kv("replays", d.replay_count.to_string());
    kv(
        "event",
        format!(
            "{} ({}, trigger {})",
            d.event_id, d.event_type, d.trigger_uuid
        ),
    );
    kv("Monday board", d.board_id.to_string());
    kv("Monday item", d.item_id.to_string());
    kv("error", d.error.clone());
    kv(
        "what to do",
        "fix the cause (often the mapping file), then `crmsync dead-letters replay`".to_owned(),
    );
    if !attempts.is_empty() {
        out.push_str("\nattempts (UTC):\n");
        for a in attempts {
            out.push_str(&attempt_line(a));
            out.push('\n');
        }
    }
    if let Some(b) = &d.sf_error_body {
        out.push_str("\nSalesforce answered:\n");
        out.push_str(&pretty(b));
        out.push('\n');
    }
    out.push_str("\nwebhook payload as received:\n");
    out.push_str(&pretty(&d.payload));
    out.push('\n');
    out
}

async fn replay(config: crmsync_config::Config, ids: Vec<i64>) -> Result<()> {
    let engine = context::engine(&config, true, context::engine_config(&config)).await?;
    let store = engine.store().clone();
    let ids: Vec<DeadLetterId> = if ids.is_empty() {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_dead_letters(&DeadLetterFilter {
                    status: Some(DeadLetterStatus::Open),
                    before,
                    limit: 500,
                    ..DeadLetterFilter::default()
                })
                .await
                .context("listing open dead letters")?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            all.extend(page.iter().map(|d| d.id));
        }
        // Oldest first: the order the events were received in.
        all.reverse();
        all
    } else {
        ids.into_iter().map(DeadLetterId).collect()
    };
    if ids.is_empty() {
        crate::outln!("no open dead letters to replay");
        return Ok(());
    }
    let mut failed = 0usize;
    for id in &ids {
        match engine.replay_dead_letter(*id).await {
            Ok(ev) => {
                let ok = matches!(ev.status, EventStatus::Done | EventStatus::Skipped);
                if !ok {
                    failed += 1;
                }
                let detail = match ev.status {
                    EventStatus::Done => "applied to Salesforce".to_owned(),
                    EventStatus::Skipped => format!(
                        "nothing to apply ({})",
                        ev.last_error.as_deref().unwrap_or("skipped")
                    ),
                    EventStatus::Dead => format!(
                        "failed again, dead letter reopened: {}",
                        ev.last_error.as_deref().unwrap_or("unknown error")
                    ),
                    EventStatus::Failed => format!(
                        "temporary failure, will be retried by `crmsync serve`: {}",
                        ev.last_error.as_deref().unwrap_or("unknown error")
                    ),
                    EventStatus::Pending | EventStatus::Processing => {
                        "still being processed by another worker".to_owned()
                    }
                };
                crate::outln!(
                    "dead letter {id}: event {} ({}, item {}) -> {}: {detail}",
                    ev.id,
                    ev.event_type,
                    ev.item_id,
                    ev.status.as_str()
                );
            }
            Err(e) => {
                failed += 1;
                crate::outln!("dead letter {id}: FAILED to replay: {e}");
            }
        }
    }
    engine.alerter().flush().await;
    store.close().await;
    if failed > 0 {
        bail!("{failed} of {} replays did not succeed", ids.len());
    }
    crate::outln!("{} replayed successfully", ids.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use crmsync_store::EventId;

    fn dl(error: &str, body: Option<&str>) -> DeadLetter {
        DeadLetter {
            id: DeadLetterId(1),
            event_id: EventId(2),
            trigger_uuid: "t".into(),
            board_id: 3,
            item_id: 4,
            event_type: "create_pulse".into(),
            payload: r#"{"event":{"type":"create_pulse"}}"#.into(),
            error: error.into(),
            sf_error_body: body.map(str::to_owned),
            status: DeadLetterStatus::Open,
            replay_count: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            replayed_at: None,
        }
    }

    #[test]
    fn short_error_prefers_salesforce_code_and_message() {
        let d = dl(
            "Salesforce PATCH /x answered HTTP 400: …",
            Some(
                r#"[{"errorCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid","fields":["Email"]}]"#,
            ),
        );
        assert_eq!(short_error(&d), "INVALID_EMAIL_ADDRESS: Email: invalid");
        assert_eq!(
            short_error(&dl("mapping: no such field", None)),
            "mapping: no such field"
        );
        assert_eq!(short_error(&dl("e", Some("<html>"))), "e");
    }

    #[test]
    fn json_of_a_dead_letter_parses_payload_and_salesforce_error() {
        let d = dl("e", Some(r#"[{"errorCode":"X","message":"m"}]"#));
        let v = to_json(&d, true);
        assert_eq!(v["payload"]["event"]["type"], "create_pulse");
        assert_eq!(v["salesforce_error"][0]["errorCode"], "X");
        assert!(to_json(&d, false).get("payload").is_none());
        let text = show_text(&d, &[]);
        assert!(
            text.contains("\"errorCode\": \"X\"") && text.contains("webhook payload as received")
        );
    }
}
