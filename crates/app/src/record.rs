//! `crmsync serve --record DIR`: every delivery the receiver gets becomes a step of a replay
//! scenario (`DIR/scenario.json`, format in `fixtures/README.md`), with what Monday and
//! Salesforce held for the touched items and records, so that `cargo xtask replay DIR` rebuilds
//! the starting state. At shutdown `DIR/recorded.json` holds the live outcome (the answers and
//! the final Salesforce fields of the touched items) that the replay is checked against.
//!
//! Redacted before anything is written: `Authorization`, cookies and API-key headers are dropped
//! (the replay signs its deliveries itself), every configured secret is replaced wherever it
//! appears, and the configured personal-data fields (Monday column ids or Salesforce field names)
//! become `"<redacted>"`. Deliveries are recorded one at a time, in arrival order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use crmsync_store::Link;
use crmsync_sync::Engine;
use serde_json::{json, Map, Value};

/// Bodies larger than this are passed on unrecorded (the receiver refuses them anyway).
const MAX_RECORDED_BODY: usize = 4 * 1024 * 1024;
/// What a redacted value becomes.
pub const REDACTED: &str = "<redacted>";

/// Headers never written.
const DROPPED_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "host",
    "content-length",
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    // Hop-by-hop: they describe the connection, not the delivery.
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// What to redact.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// Secret values (tokens, signing secrets, client secrets): replaced wherever they appear.
    pub secrets: Vec<String>,
    /// Personal-data fields: Monday column ids (`email_mksx3vtp`, `name` for the item name) and
    /// Salesforce field names (`Email`); their values become `"<redacted>"`.
    pub personal_fields: Vec<String>,
}

/// Records deliveries into a scenario directory (cheap to clone).
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    engine: Engine,
    options: RecordOptions,
    state: tokio::sync::Mutex<Recording>,
}

#[derive(Default)]
struct Recording {
    steps: Vec<Value>,
    /// First capture of each item (seed format).
    first_items: BTreeMap<String, Map<String, Value>>,
    /// Latest capture of each item.
    last_items: BTreeMap<String, Map<String, Value>>,
    /// Salesforce records as they were before the session touched them.
    records: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
    links: BTreeMap<(i64, i64), Link>,
    /// Touched (board, item) of mapped boards.
    touched: BTreeSet<(String, String)>,
    /// Items captured at least once.
    touched_before: BTreeSet<(String, String)>,
    /// Items first seen without a Salesforce record: a link found later was made in-session.
    unlinked_at_start: BTreeSet<(String, String)>,
    statuses: Vec<u16>,
    /// Values of personal-data fields seen: scrubbed wherever they appear (also inside derived
    /// fields such as a Contact's `Name`, or a create's `columnValues`).
    personal_values: BTreeSet<String>,
}

impl Recorder {
    /// A recorder writing into `dir` (created if missing).
    pub fn new(dir: &Path, engine: Engine, options: RecordOptions) -> Result<Recorder> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut options = options;
        options.secrets.retain(|s| s.len() >= 4);
        Ok(Recorder {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                engine,
                options,
                state: tokio::sync::Mutex::new(Recording::default()),
            }),
        })
    }

    /// The directory recorded into.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Writes `recorded.json`: the answers and the final Salesforce fields of every touched item.
    pub async fn finish(&self) -> Result<()> {
        let mut rec = self.inner.state.lock().await;
        let mut items = Vec::new();
        let mapping = self.inner.engine.mapping();
        let touched = rec.touched.clone();
        for (board, item) in &touched {
            let Some(bm) = mapping.board(board) else {
                continue;
            };
            let (Ok(b), Ok(i)) = (board.parse::<i64>(), item.parse::<i64>()) else {
                continue;
            };
            let link = self.inner.engine.store().find_link_by_monday(b, i).await?;
            let fields = match &link {
                Some(l) => {
                    let names = bm.salesforce_fields();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    match self
                        .inner
                        .engine
                        .salesforce()
                        .get(&l.sf_object, &l.sf_id, &names)
                        .await
                    {
                        Ok(mut r) => {
                            r.remove("attributes");
                            r.remove("Id");
                            for (k, v) in r.iter_mut() {
                                if self.personal(k) && !v.is_null() {
                                    remember(&mut rec.personal_values, v);
                                    *v = json!(REDACTED);
                                }
                            }
                            Value::Object(r)
                        }
                        Err(e) => json!({ "(unreadable)": e.to_string() }),
                    }
                }
                None => Value::Null,
            };
            items
                .push(json!({"board": board, "item": item, "object": bm.object, "fields": fields}));
        }
        let out = json!({
            "note": "The live outcome of the recorded session: what the receiver answered and the final Salesforce fields of each touched item. `cargo xtask replay` checks the replay against it while there is no expected.snap.",
            "deliveries": rec.statuses,
            "items": items,
        });
        self.write("recorded.json", &out, &rec.personal_values)
    }

    fn write(&self, name: &str, v: &Value, personal: &BTreeSet<String>) -> Result<()> {
        let text = serde_json::to_string_pretty(v)?;
        let text = self.scrub(&text, personal);
        let path = self.inner.dir.join(name);
        let tmp = self.inner.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, format!("{text}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Replaces every configured secret, and every personal-data value seen, wherever they
    /// appear (plain and JSON-escaped).
    fn scrub(&self, text: &str, personal: &BTreeSet<String>) -> String {
        let mut out = text.to_string();
        let mut replace = |from: &str, to: &str| {
            let escaped = serde_json::to_string(from).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            for f in [from, escaped] {
                if !f.is_empty() && out.contains(f) {
                    out = out.replace(f, to);
                }
            }
        };
        for s in &self.inner.options.secrets {
            replace(s, "<secret>");
        }
        // Longest first, so that a value containing another is replaced whole.
        let mut values: Vec<&String> = personal.iter().collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        for v in values {
            replace(v, REDACTED);
        }
        out
    }

    fn personal(&self, key: &str) -> bool {
        self.inner.options.personal_fields.iter().any(|f| f == key)
    }

    /// Records one delivery around `next` (the receiver).
    async fn around(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        run: impl AsyncFnOnce(Bytes) -> Response,
    ) -> Response {
        let mut rec = self.inner.state.lock().await;
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let target = parsed.as_ref().and_then(item_of);
        let mut changes = Vec::new();
        if let Some((board, item)) = &target {
            if let Err(e) = self.capture(&mut rec, board, item, &mut changes).await {
                tracing::warn!(error = %format!("{e:#}"), "recording: capturing the item failed");
            }
        }
        let had_auth = headers.contains_key("authorization");
        let resp = run(body.clone()).await;
        let status = resp.status().as_u16();
        rec.statuses.push(status);
        let mut step = Map::new();
        let event_type = parsed
            .as_ref()
            .and_then(|v| v["event"]["type"].as_str())
            .unwrap_or("delivery");
        let name = match &target {
            Some((b, i)) => format!("{event_type} {b}/{i}"),
            None => event_type.to_string(),
        };
        step.insert("name".into(), json!(name));
        if !changes.is_empty() {
            step.insert("monday".into(), Value::Array(changes));
        }
        match &parsed {
            Some(v) => {
                let redacted = self.redact_delivery(v.clone(), &mut rec.personal_values);
                step.insert("delivery".into(), redacted);
            }
            None => {
                let file = format!("deliveries/{:03}.body", rec.steps.len() + 1);
                let path = self.inner.dir.join(&file);
                let text = String::from_utf8_lossy(&body);
                let written = std::fs::create_dir_all(self.inner.dir.join("deliveries"))
                    .and_then(|()| std::fs::write(&path, self.scrub(&text, &rec.personal_values)));
                if let Err(e) = written {
                    tracing::warn!(error = %e, "recording: writing a delivery body failed");
                }
                step.insert("delivery_file".into(), json!(file));
            }
        }
        let mut hs = Map::new();
        for (k, v) in headers {
            let name = k.as_str().to_ascii_lowercase();
            if DROPPED_HEADERS.contains(&name.as_str()) {
                continue;
            }
            if let Ok(v) = v.to_str() {
                hs.insert(name, json!(v));
            }
        }
        if !hs.is_empty() {
            step.insert("headers".into(), Value::Object(hs));
        }
        let auth = match (had_auth, status) {
            (true, 401) => Some("forged-jwt"),
            (false, 401) => Some("none"),
            _ => None,
        };
        if let Some(a) = auth {
            step.insert("auth".into(), json!(a));
        }
        rec.steps.push(Value::Object(step));
        if let Err(e) = self.write_scenario(&rec) {
            tracing::warn!(error = %format!("{e:#}"), "recording: writing scenario.json failed");
        }
        resp
    }

    fn write_scenario(&self, rec: &Recording) -> Result<()> {
        let mut seed = Map::new();
        if !rec.first_items.is_empty() {
            seed.insert(
                "monday_items".into(),
                Value::Array(
                    rec.first_items
                        .values()
                        .map(|i| Value::Object(i.clone()))
                        .collect(),
                ),
            );
        }
        if !rec.records.is_empty() {
            let sf: Map<String, Value> = rec
                .records
                .iter()
                .map(|(o, rs)| {
                    (
                        o.clone(),
                        Value::Array(rs.values().map(|r| Value::Object(r.clone())).collect()),
                    )
                })
                .collect();
            seed.insert("salesforce".into(), Value::Object(sf));
        }
        if !rec.links.is_empty() {
            seed.insert(
                "links".into(),
                Value::Array(
                    rec.links
                        .values()
                        .map(|l| {
                            json!({"board": l.monday_board_id.to_string(), "item": l.monday_item_id.to_string(), "object": l.sf_object, "salesforce_id": l.sf_id})
                        })
                        .collect(),
                ),
            );
        }
        let scenario = json!({
            "description": "Recorded by `crmsync serve --record`: describe the behaviour it pins, and rename the directory after it.",
            "seed": seed,
            "steps": rec.steps,
        });
        self.write("scenario.json", &scenario, &rec.personal_values)
    }

    /// Captures the item (and, the first time, its link, its record and its related items'
    /// links), and the Monday changes since the last capture.
    async fn capture(
        &self,
        rec: &mut Recording,
        board: &str,
        item: &str,
        changes: &mut Vec<Value>,
    ) -> Result<()> {
        let engine = &self.inner.engine;
        let mapping = engine.mapping();
        let Some(bm) = mapping.board(board) else {
            return Ok(());
        };
        rec.touched.insert((board.to_string(), item.to_string()));
        let found = engine
            .monday()
            .items(&[item.to_string()])
            .await
            .context("reading the item from Monday")?
            .into_iter()
            .next();
        let Some(found) = found else {
            if rec.last_items.remove(item).is_some() {
                changes.push(json!({"item": item, "delete": true}));
            }
            return Ok(());
        };
        let mut values = Map::new();
        let mut related = Vec::new();
        for cv in &found.column_values {
            if let Some(ids) = &cv.linked_item_ids {
                related.extend(ids.iter().cloned());
            }
            let Some(raw) = &cv.value else { continue };
            let v: Value = serde_json::from_str(raw).unwrap_or_else(|_| json!(raw));
            let v = if self.personal(&cv.id) {
                remember(&mut rec.personal_values, &v);
                if let Some(t) = &cv.text {
                    rec.personal_values.insert(t.clone());
                }
                json!(REDACTED)
            } else {
                v
            };
            values.insert(cv.id.clone(), v);
        }
        let name = if self.personal("name") {
            rec.personal_values.insert(found.name.clone());
            REDACTED.to_string()
        } else {
            found.name.clone()
        };
        let mut snapshot = Map::new();
        snapshot.insert("id".into(), json!(found.id));
        snapshot.insert("board_id".into(), json!(board));
        if let Some(g) = &found.group {
            snapshot.insert("group_id".into(), json!(g.id));
        }
        snapshot.insert("name".into(), json!(name));
        snapshot.insert("column_values".into(), Value::Object(values.clone()));
        match rec.last_items.get(item) {
            None => {
                if !rec.first_items.contains_key(item) {
                    rec.first_items.insert(item.to_string(), snapshot.clone());
                }
            }
            Some(prev) => {
                let mut set = Map::new();
                let before = prev["column_values"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in &values {
                    if before.get(k) != Some(v) {
                        set.insert(k.clone(), v.clone());
                    }
                }
                for k in before.keys() {
                    if !values.contains_key(k) {
                        set.insert(k.clone(), Value::Null);
                    }
                }
                let mut change = Map::new();
                change.insert("item".into(), json!(item));
                if !set.is_empty() {
                    change.insert("set".into(), Value::Object(set));
                }
                if prev["name"] != json!(name) {
                    change.insert("name".into(), json!(name));
                }
                if change.len() > 1 {
                    changes.push(Value::Object(change));
                }
            }
        }
        rec.last_items.insert(item.to_string(), snapshot);

        // The item's record as it was before the session changed it, and the links the engine
        // will look up (the item's own and those of related items).
        let id_column = found
            .column_value(&bm.salesforce_id_column)
            .and_then(|c| c.text.clone())
            .filter(|t| !t.trim().is_empty());
        let key = (board.to_string(), item.to_string());
        let first_sight = !rec.touched_before.contains(&key);
        rec.touched_before.insert(key.clone());
        if !rec.unlinked_at_start.contains(&key) {
            let own = self.link_of(rec, board, item).await?;
            let record = own
                .map(|l| (l.sf_object.clone(), l.sf_id.clone()))
                .or_else(|| id_column.map(|id| (bm.object.clone(), id)));
            match record {
                Some((object, id)) => self.capture_record(rec, &object, &id).await,
                // Whatever links it later was made during the session.
                None if first_sight => {
                    rec.unlinked_at_start.insert(key);
                }
                None => {}
            }
        }
        for other in related {
            if rec.unlinked_at_start.iter().any(|(_, i)| i == &other) {
                continue;
            }
            for b in [board.to_string()]
                .into_iter()
                .chain(mapping.boards.iter().map(|b| b.board_id.clone()))
            {
                if let Some(l) = self.link_of(rec, &b, &other).await? {
                    let (o, id) = (l.sf_object.clone(), l.sf_id.clone());
                    self.capture_record(rec, &o, &id).await;
                    break;
                }
            }
        }
        Ok(())
    }

    async fn link_of(&self, rec: &mut Recording, board: &str, item: &str) -> Result<Option<Link>> {
        let (Ok(b), Ok(i)) = (board.parse::<i64>(), item.parse::<i64>()) else {
            return Ok(None);
        };
        if let Some(l) = rec.links.get(&(b, i)) {
            return Ok(Some(l.clone()));
        }
        let link = self.inner.engine.store().find_link_by_monday(b, i).await?;
        if let Some(l) = &link {
            rec.links.insert((b, i), l.clone());
        }
        Ok(link)
    }

    async fn capture_record(&self, rec: &mut Recording, object: &str, id: &str) {
        if rec.records.get(object).is_some_and(|m| m.contains_key(id)) {
            return;
        }
        match self.inner.engine.salesforce().get(object, id, &[]).await {
            Ok(mut r) => {
                r.remove("attributes");
                for (k, v) in r.iter_mut() {
                    if self.personal(k) && !v.is_null() {
                        remember(&mut rec.personal_values, v);
                        *v = json!(REDACTED);
                    }
                }
                rec.records
                    .entry(object.to_string())
                    .or_default()
                    .insert(id.to_string(), r);
            }
            Err(e) => tracing::warn!(%object, error = %e, "recording: reading a record failed"),
        }
    }

    fn redact_delivery(&self, mut v: Value, personal: &mut BTreeSet<String>) -> Value {
        let Some(ev) = v.get_mut("event").filter(|e| e.is_object()) else {
            return v;
        };
        if let Some(col) = ev["columnId"].as_str().map(str::to_string) {
            if self.personal(&col) {
                for k in ["value", "previousValue"] {
                    if !ev[k].is_null() {
                        remember(personal, &ev[k]);
                        ev[k] = json!({ "value": REDACTED });
                    }
                }
            }
        }
        if let Some(cvs) = ev.get_mut("columnValues").and_then(Value::as_object_mut) {
            for (k, cv) in cvs.iter_mut() {
                if self.personal(k) {
                    remember(personal, cv);
                    *cv = json!({ "value": REDACTED });
                }
            }
        }
        if self.personal("name") {
            for k in ["pulseName", "itemName"] {
                if let Some(n) = ev.get(k).and_then(Value::as_str) {
                    personal.insert(n.to_string());
                }
                if ev.get(k).is_some() {
                    ev[k] = json!(REDACTED);
                }
            }
            for k in ["value", "previousValue"] {
                if let Some(n) = ev[k]["name"].as_str() {
                    personal.insert(n.to_string());
                }
            }
            if ev["type"] == "update_name" {
                ev["value"] = json!({ "name": REDACTED });
                ev["previousValue"] = json!({ "name": REDACTED });
            }
        }
        v
    }
}

/// Remembers every string (of at least three characters) inside `v` as a personal value.
fn remember(into: &mut BTreeSet<String>, v: &Value) {
    match v {
        Value::String(s) if s.chars().count() >= 3 && s != REDACTED => {
            into.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| remember(into, x)),
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "changed_at" | "changedAt"))
            .for_each(|(_, x)| remember(into, x)),
        _ => {}
    }
}

/// `(board, item)` of a delivery.
fn item_of(v: &Value) -> Option<(String, String)> {
    let ev = v.get("event")?;
    let id = |x: &Value| -> Option<String> {
        match x {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    };
    let board = id(&ev["boardId"])?;
    let item = id(&ev["pulseId"]).or_else(|| id(&ev["itemId"]))?;
    Some((board, item))
}

/// The middleware: records `POST /webhooks/monday`, passes everything else through.
pub async fn layer(State(rec): State<Recorder>, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST || req.uri().path() != "/webhooks/monday" {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_RECORDED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            )
                .into_response()
        }
    };
    let headers = parts.headers.clone();
    rec.around(&headers, bytes, async move |b: Bytes| {
        next.run(Request::from_parts(parts, Body::from(b))).await
    })
    .await
}

/// Every secret value of `config` (for [`RecordOptions::secrets`]): the Salesforce client
/// secret, refresh token and private key, the Monday API token, signing secret and webhook
/// token, the Telegram bot token, the status token, and the database URL's password.
pub fn config_secrets(config: &crmsync_config::Config) -> Vec<String> {
    use secrecy::ExposeSecret;
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &secrecy::SecretString| out.push(s.expose_secret().to_string());
    if let Some(sf) = &config.salesforce {
        if let Some(s) = &sf.client_secret {
            push(s);
        }
        match &sf.auth {
            crmsync_config::SalesforceAuth::JwtBearer { private_key, .. } => push(private_key),
            crmsync_config::SalesforceAuth::RefreshToken { refresh_token } => push(refresh_token),
            crmsync_config::SalesforceAuth::ClientCredentials => {}
        }
    }
    for s in [
        &config.monday.api_token,
        &config.monday.signing_secret,
        &config.monday.webhook_token,
        &config.status_token,
    ]
    .into_iter()
    .flatten()
    {
        push(s);
    }
    if let Some(t) = &config.telegram {
        push(&t.bot_token);
    }
    if let Ok(url) = url::Url::parse(config.database_url.expose()) {
        if let Some(p) = url.password() {
            out.push(p.to_string());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}
