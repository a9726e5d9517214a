//! The outcome of a replay, gathered from the mocks, the store and the fake Telegram, with
//! everything that changes from run to run redacted to stable placeholders.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use chrono::NaiveDate;
use regex::Regex;
use serde_json::{json, Map, Value};

use super::Response;
use crate::harness::TestApp;

/// Fields every write changes (timestamps and audit users): never part of an outcome.
const SYSTEM_FIELDS: &[&str] = &[
    "attributes",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastActivityDate",
    "LastViewedDate",
    "LastReferencedDate",
];

/// State taken right after the app started (before the first step).
pub struct Before {
    salesforce: Value,
    sf_journal: usize,
    monday_journal_seq: u64,
}

impl Before {
    /// Salesforce's records and where both journals stand.
    pub fn capture(app: &TestApp) -> Before {
        Before {
            salesforce: app.salesforce.handle.dump(),
            sf_journal: app.salesforce.handle.requests().len(),
            monday_journal_seq: app.monday.mock.journal().last().map(|e| e.seq).unwrap_or(0),
        }
    }
}

/// The outcome (redacted) after the last step.
pub async fn collect(app: &TestApp, before: &Before, responses: Vec<Response>) -> Result<Value> {
    let deliveries: Vec<Value> = responses
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("step".into(), json!(r.step));
            if r.copy > 0 {
                m.insert("copy".into(), json!(r.copy));
            }
            m.insert("status".into(), json!(r.status));
            let challenge = r.body.contains("\"challenge\"");
            if !(200..300).contains(&r.status) || challenge {
                let body: Value =
                    serde_json::from_str(&r.body).unwrap_or_else(|_| Value::String(r.body.clone()));
                m.insert("body".into(), body);
            }
            Value::Object(m)
        })
        .collect();

    let mut events = app.store.recent_events(10_000).await?;
    events.sort_by_key(|e| e.id);
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut m = Map::new();
            m.insert("item".into(), json!(e.item_id));
            m.insert("type".into(), json!(e.event_type));
            m.insert("key".into(), json!(e.trigger_uuid));
            m.insert("status".into(), json!(e.status.as_str()));
            if matches!(
                e.status,
                crmsync_store::EventStatus::Skipped | crmsync_store::EventStatus::Dead
            ) {
                if let Some(err) = &e.last_error {
                    m.insert("reason".into(), json!(err));
                }
            }
            Value::Object(m)
        })
        .collect();

    let mut dead = app
        .store
        .list_dead_letters(&crmsync_store::DeadLetterFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await?;
    dead.sort_by_key(|d| d.id);
    let dead_letters: Vec<Value> = dead
        .iter()
        .map(|d| {
            json!({
                "item": d.item_id,
                "type": d.event_type,
                "key": d.trigger_uuid,
                "status": d.status.as_str(),
                "replays": d.replay_count,
                "error": d.error,
                "salesforce_error": d.sf_error_body.as_deref().map(|b| serde_json::from_str::<Value>(b).unwrap_or_else(|_| json!(b))),
            })
        })
        .collect();

    let mut refused = app.store.list_rejected_deliveries(1000).await?;
    refused.sort_by_key(|r| r.id);
    let refused: Vec<Value> = refused
        .iter()
        .map(|r| json!({"status": r.http_status, "reason": r.reason.as_str(), "detail": r.detail}))
        .collect();

    let alerts = app.telegram.texts();

    let after = app.salesforce.handle.dump();
    let (salesforce, new_ids) = record_changes(&before.salesforce, &after);

    let salesforce_writes: Vec<Value> = app
        .salesforce
        .handle
        .requests()
        .iter()
        .skip(before.sf_journal)
        .filter(|r| r.method != "GET" && !r.path.starts_with("/services/oauth2"))
        .map(|r| {
            let path = strip_version(&r.path);
            let q = r
                .query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            json!(format!("{} {path}{q} -> {}", r.method, r.status))
        })
        .collect();

    let monday_writes: Vec<Value> = app
        .monday
        .mock
        .journal()
        .iter()
        .filter(|e| e.seq > before.monday_journal_seq)
        .filter_map(|e| {
            let q = e.query.as_deref()?.trim_start();
            let rest = q.strip_prefix("mutation")?;
            let (_, body) = rest.split_once('{')?;
            let name: String = body
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            Some(json!({"mutation": name, "variables": e.variables, "status": e.status}))
        })
        .collect();

    let outcome = json!({
        "deliveries": deliveries,
        "events": events,
        "dead_letters": dead_letters,
        "refused_deliveries": refused,
        "alerts": alerts,
        "salesforce": salesforce,
        "salesforce_writes": salesforce_writes,
        "monday_writes": monday_writes,
    });
    let mut r = Redactor::new(new_ids, app)?;
    Ok(r.value(outcome))
}

fn strip_version(path: &str) -> String {
    match path.strip_prefix("/services/data/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, tail)) => format!("/{tail}"),
            None => path.to_string(),
        },
        None => path.to_string(),
    }
}

/// Changed fields of existing records and every field of created ones, by object and Id; and
/// the created records' Ids (in creation order, per object).
fn record_changes(before: &Value, after: &Value) -> (Value, Vec<(String, String)>) {
    let mut out = Map::new();
    let mut new_ids = Vec::new();
    let Some(after) = after.as_object() else {
        return (Value::Object(out), new_ids);
    };
    for (object, rows) in after {
        let old: BTreeMap<&str, &Map<String, Value>> = before[object]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r.get("Id")?.as_str()?, r.as_object()?)))
            .collect();
        let mut changes = Map::new();
        for row in rows.as_array().into_iter().flatten() {
            let Some(rec) = row.as_object() else { continue };
            let Some(id) = rec.get("Id").and_then(Value::as_str) else {
                continue;
            };
            let mut fields = Map::new();
            match old.get(id) {
                Some(prev) => {
                    for (k, v) in rec {
                        if SYSTEM_FIELDS.contains(&k.as_str()) {
                            continue;
                        }
                        if prev.get(k).unwrap_or(&Value::Null) != v {
                            fields.insert(k.clone(), v.clone());
                        }
                    }
                    for k in prev.keys() {
                        if !rec.contains_key(k) && !SYSTEM_FIELDS.contains(&k.as_str()) {
                            fields.insert(k.clone(), Value::Null);
                        }
                    }
                    if fields.is_empty() {
                        continue;
                    }
                }
                None => {
                    new_ids.push((object.clone(), id.to_string()));
                    fields.insert("(created)".into(), Value::Bool(true));
                    for (k, v) in rec {
                        if SYSTEM_FIELDS.contains(&k.as_str()) || k == "Id" || v.is_null() {
                            continue;
                        }
                        if k == "IsDeleted" && v == &Value::Bool(false) {
                            continue;
                        }
                        fields.insert(k.clone(), v.clone());
                    }
                }
            }
            changes.insert(id.to_string(), Value::Object(fields));
        }
        if !changes.is_empty() {
            out.insert(object.clone(), Value::Object(changes));
        }
    }
    (Value::Object(out), new_ids)
}

/// Replaces what differs from run to run: Ids of records the run created, timestamps, dates
/// relative to today, and the loopback URLs of the app and the mocks.
struct Redactor {
    replacements: Vec<(String, String)>,
    datetime: Regex,
    date: Regex,
    today: NaiveDate,
}

impl Redactor {
    fn new(new_ids: Vec<(String, String)>, app: &TestApp) -> Result<Redactor> {
        let mut counters: BTreeMap<String, usize> = BTreeMap::new();
        let mut replacements = Vec::new();
        for (object, id) in new_ids {
            let n = counters.entry(object.clone()).or_default();
            *n += 1;
            replacements.push((id.clone(), format!("<new {object} {n}>")));
            // The 15-character form appears in some error messages.
            if id.len() == 18 {
                replacements.push((id[..15].to_string(), format!("<new {object} {n}>")));
            }
        }
        replacements.push((app.base_url.clone(), "<crmsync>".into()));
        replacements.push((app.salesforce.base_url.clone(), "<salesforce>".into()));
        replacements.push((app.monday.api_url(), "<monday>".into()));
        Ok(Redactor {
            replacements,
            datetime: Regex::new(
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}| UTC)?",
            )
            .map_err(|e| anyhow!("{e}"))?,
            date: Regex::new(r"\b\d{4}-\d{2}-\d{2}\b").map_err(|e| anyhow!("{e}"))?,
            today: chrono::Utc::now().date_naive(),
        })
    }

    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.replacements {
            if out.contains(from.as_str()) {
                out = out.replace(from.as_str(), to);
            }
        }
        let out = self.datetime.replace_all(&out, "<datetime>").into_owned();
        self.date
            .replace_all(&out, |c: &regex::Captures<'_>| {
                let text = &c[0];
                match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                    Ok(d) => {
                        let days = (d - self.today).num_days();
                        if days.abs() <= 60 {
                            format!("<today{days:+}d>")
                        } else {
                            text.to_string()
                        }
                    }
                    Err(_) => text.to_string(),
                }
            })
            .into_owned()
    }

    fn value(&mut self, v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.value(x)).collect()),
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, x)| (self.text(&k), self.value(x)))
                    .collect(),
            ),
            other => other,
        }
    }
}
