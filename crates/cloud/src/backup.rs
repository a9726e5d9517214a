//! `crmsync backup --to s3://…` and `crmsync restore --from s3://…`.
//!
//! **Layout.** Under the prefix, each backup is a folder `backups/<id>/` (the id is the
//! database's UTC time, `YYYYMMDDTHHMMSSmmmZ`, so names sort by age) with one or more gzipped
//! JSON Lines parts per table (`<table>-0001.jsonl.gz`, at most [`ROWS_PER_PART`] rows each) and
//! `manifest.json`, written last: a folder without a manifest (a backup killed half-way) is
//! ignored. The manifest holds the format, the previous backup's id, the watermark, the payload
//! policy and, per part, its table, row count, size and sha256.
//!
//! **Incremental.** A backup reads the latest manifest and exports the rows of incremental tables
//! (events, dead letters, checkpoints, applied-value hashes) changed after that backup's
//! watermark; snapshot tables (links — which may also be deleted —, migration runs, plans,
//! intents and cursors, sweep cursors) are exported whole. **Under traffic** the watermark is the
//! database time at the start minus [`WATERMARK_SLACK`], so a row whose transaction committed
//! after it was read is exported again next time (restore upserts by key: later rows win); and
//! tables are read referencing-first (dead letters before events, checkpoints before runs), so
//! every row a part refers to is in the same backup or an earlier one.
//!
//! **Restore** takes every manifest of the chain (each must name the one before it), checks every
//! part's sha256, gzip and row count before writing anything (a corrupted part fails the restore
//! naming it), refuses a store that is not empty unless forced, then upserts the incremental
//! tables' parts in chain order and the snapshot tables' latest parts, releases the leases of
//! events that were being processed, and moves PostgreSQL's identity sequences past the restored
//! ids.
//!
//! **Personal data.** Event and dead-letter payloads are kept, redacted (only the ids, the event
//! type and the column id survive) or excluded (`CRMSYNC_BACKUP_PAYLOADS`); refused deliveries
//! (which hold request headers), leases, locks, alert windows and pauses are never backed up, and
//! the manifest names no database URL or credential.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use crmsync_store::backup::{backup_table, BackupTable, BACKUP_TABLES};
use crmsync_store::Store;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::s3::{Objects, S3Error};

/// The manifest's `format`.
pub const FORMAT: &str = "crmsync-backup/1";
/// Rows per part.
pub const ROWS_PER_PART: usize = 10_000;
/// How far before a backup's start its watermark lies (rows committed late are exported again).
pub const WATERMARK_SLACK_MS: i64 = 120_000;
/// Rows upserted per statement on restore.
const RESTORE_BATCH: usize = 500;

/// What a backup keeps of event and dead-letter payloads (`CRMSYNC_BACKUP_PAYLOADS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Payloads {
    /// As received (dead letters can be replayed after a restore). The default.
    #[default]
    Keep,
    /// Only ids, the event type and the column id (no column values, names or user data).
    Redact,
    /// Empty.
    Exclude,
}

impl std::str::FromStr for Payloads {
    type Err = String;
    fn from_str(s: &str) -> Result<Payloads, String> {
        match s.trim() {
            "" | "keep" => Ok(Payloads::Keep),
            "redact" => Ok(Payloads::Redact),
            "exclude" => Ok(Payloads::Exclude),
            other => Err(format!(
                "CRMSYNC_BACKUP_PAYLOADS: expected keep, redact or exclude, got {other:?}"
            )),
        }
    }
}

/// One part of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The table.
    pub table: String,
    /// File name in the backup's folder.
    pub name: String,
    /// Rows (lines).
    pub rows: u64,
    /// Size of the gzipped file.
    pub bytes: u64,
    /// sha256 of the gzipped file, hex.
    pub sha256: String,
}

/// A backup's manifest (`backups/<id>/manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// This backup's id (its folder).
    pub id: String,
    /// The previous backup of the chain (`None` for a full backup).
    pub previous: Option<String>,
    /// Database time at the start (ms).
    pub started_at_ms: i64,
    /// Rows of incremental tables changed after this (ms) are in this backup (`None`: all).
    pub since_ms: Option<i64>,
    /// The next backup's `since_ms`.
    pub watermark_ms: i64,
    /// The payload policy used.
    pub payloads: Payloads,
    /// Tables and whether each is incremental (`true`) or a snapshot.
    pub tables: BTreeMap<String, bool>,
    /// Rows per table.
    pub counts: BTreeMap<String, u64>,
    /// The parts.
    pub parts: Vec<Part>,
}

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// S3.
    #[error(transparent)]
    S3(#[from] S3Error),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] crmsync_store::StoreError),
    /// A part does not match its manifest.
    #[error("backup part {name} is corrupted: {problem}")]
    CorruptPart {
        /// `backups/<id>/<part>`.
        name: String,
        /// What does not match.
        problem: String,
    },
    /// A manifest is unreadable or the chain is broken.
    #[error("backup manifest {name}: {problem}")]
    BadManifest {
        /// `backups/<id>/manifest.json`.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Nothing to restore.
    #[error("no backup under {0} (no backups/*/manifest.json)")]
    NoBackup(String),
    /// The store is not empty.
    #[error("the store is not empty ({0} rows in events, links, dead letters and migration runs); restore only into an empty store, or pass --force to upsert over it")]
    NotEmpty(u64),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn folder(id: &str) -> String {
    format!("backups/{id}")
}

/// The backup ids under the location that have a manifest, oldest first.
pub async fn backup_ids(objects: &Objects) -> Result<Vec<String>, BackupError> {
    let names = objects.list("backups").await?;
    let mut ids: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix("backups/")?.strip_suffix("/manifest.json"))
        .filter(|id| !id.contains('/'))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Reads and checks one manifest.
pub async fn read_manifest(objects: &Objects, id: &str) -> Result<Manifest, BackupError> {
    let name = format!("{}/manifest.json", folder(id));
    let bytes = objects
        .get(&name)
        .await?
        .ok_or_else(|| BackupError::BadManifest {
            name: name.clone(),
            problem: "missing".into(),
        })?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| BackupError::BadManifest {
        name: name.clone(),
        problem: format!("not a manifest: {e}"),
    })?;
    if m.format != FORMAT {
        return Err(BackupError::BadManifest {
            name,
            problem: format!("format {:?}, expected {FORMAT:?}", m.format),
        });
    }
    if m.id != id {
        return Err(BackupError::BadManifest {
            name,
            problem: format!("names backup {:?}", m.id),
        });
    }
    Ok(m)
}

/// Payload of one exported row under `policy`.
fn apply_payload_policy(table: &str, row: &mut Value, policy: Payloads) {
    if !matches!(table, "events" | "dead_letters") || policy == Payloads::Keep {
        return;
    }
    if table == "dead_letters" {
        if let Some(obj) = row.as_object_mut() {
            if obj.get("sf_error_body").is_some_and(|v| !v.is_null()) {
                obj.insert("sf_error_body".into(), Value::String(String::new()));
            }
        }
    }
    let Some(text) = row.get("payload").and_then(Value::as_str) else {
        return;
    };
    let replaced = match policy {
        Payloads::Keep => return,
        Payloads::Exclude => String::new(),
        Payloads::Redact => redact_payload(text),
    };
    if let Some(obj) = row.as_object_mut() {
        obj.insert("payload".into(), Value::String(replaced));
    }
}

/// A webhook payload with only what identifies the event: `event.{type, boardId, pulseId,
/// itemId, triggerUuid, columnId, groupId}` (follow-up payloads hold only ids and are kept).
pub fn redact_payload(text: &str) -> String {
    const KEEP: &[&str] = &[
        "type",
        "boardId",
        "pulseId",
        "itemId",
        "triggerUuid",
        "originalTriggerUuid",
        "columnId",
        "columnType",
        "groupId",
    ];
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return r#"{"crmsyncRedacted":true}"#.into();
    };
    if v.get(crmsync_sync::FOLLOW_UP_KEY).is_some() {
        return text.to_string();
    }
    let mut event = serde_json::Map::new();
    if let Some(src) = v.get("event").and_then(Value::as_object) {
        for k in KEEP {
            if let Some(x) = src.get(*k) {
                event.insert((*k).to_string(), x.clone());
            }
        }
    }
    serde_json::json!({ "event": event, "crmsyncRedacted": true }).to_string()
}

/// What a backup did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The manifest written.
    pub manifest: Manifest,
    /// Where.
    pub location: String,
}

fn gzip(lines: &[String]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    for l in lines {
        enc.write_all(l.as_bytes())?;
        enc.write_all(b"\n")?;
    }
    enc.finish()
}

/// Writes a backup of `store` to `objects` (see the module docs).
pub async fn backup(
    store: &Store,
    objects: &Objects,
    payloads: Payloads,
) -> Result<BackupReport, BackupError> {
    let previous = match backup_ids(objects).await?.last() {
        Some(id) => Some(read_manifest(objects, id).await?),
        None => None,
    };
    let now = store.db_now().await?;
    let started_at_ms = now.timestamp_millis();
    let mut id = now.format("%Y%m%dT%H%M%S%3fZ").to_string();
    if previous.as_ref().is_some_and(|p| p.id >= id) {
        // Two backups in one millisecond, or a clock behind: still sorted after the previous.
        id = format!(
            "{}-1",
            previous.as_ref().map(|p| p.id.as_str()).unwrap_or("")
        );
    }
    let since_ms = previous.as_ref().map(|p| p.watermark_ms);
    let mut manifest = Manifest {
        format: FORMAT.into(),
        id: id.clone(),
        previous: previous.as_ref().map(|p| p.id.clone()),
        started_at_ms,
        since_ms,
        watermark_ms: started_at_ms - WATERMARK_SLACK_MS,
        payloads,
        tables: BTreeMap::new(),
        counts: BTreeMap::new(),
        parts: Vec::new(),
    };
    // Referencing tables first: what they refer to is read later, so it is in this backup.
    let mut parts_by_table: BTreeMap<&str, Vec<Part>> = BTreeMap::new();
    for table in BACKUP_TABLES.iter().rev() {
        let since = table.changed.and(since_ms);
        let mut n_part = 0usize;
        let mut count = 0u64;
        let mut after_id = 0i64;
        let mut pending: Vec<String> = Vec::new();
        let mut parts = Vec::new();
        loop {
            let page = store
                .export_rows(table, since, after_id, ROWS_PER_PART as i64)
                .await?;
            let got = page.len();
            for text in page {
                let mut row: Value = serde_json::from_str(&text).map_err(|e| {
                    BackupError::Store(crmsync_store::StoreError::NotFound {
                        op: "export_rows",
                        key: format!("a JSON row of {}: {e}", table.name),
                    })
                })?;
                if let Some(i) = row.get("id").and_then(Value::as_i64) {
                    after_id = after_id.max(i);
                }
                apply_payload_policy(table.name, &mut row, payloads);
                pending.push(row.to_string());
            }
            let last_page = got < ROWS_PER_PART || !table.key.eq(&["id"]);
            while pending.len() >= ROWS_PER_PART || (last_page && !pending.is_empty()) {
                let take = pending.len().min(ROWS_PER_PART);
                let lines: Vec<String> = pending.drain(..take).collect();
                n_part += 1;
                let part = write_part(objects, &id, table.name, n_part, &lines).await?;
                count += part.rows;
                parts.push(part);
            }
            // Tables not keyed by id come in one read; id tables page until a short page.
            if last_page {
                break;
            }
        }
        manifest
            .tables
            .insert(table.name.to_string(), table.changed.is_some());
        manifest.counts.insert(table.name.to_string(), count);
        parts_by_table.insert(table.name, parts);
    }
    for table in BACKUP_TABLES {
        manifest
            .parts
            .extend(parts_by_table.remove(table.name).unwrap_or_default());
    }
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::BadManifest {
        name: format!("{}/manifest.json", folder(&id)),
        problem: e.to_string(),
    })?;
    objects
        .put(
            &format!("{}/manifest.json", folder(&id)),
            body,
            "application/json",
        )
        .await?;
    Ok(BackupReport {
        manifest,
        location: objects.location.to_string(),
    })
}

async fn write_part(
    objects: &Objects,
    id: &str,
    table: &str,
    n: usize,
    lines: &[String],
) -> Result<Part, BackupError> {
    let name = format!("{table}-{n:04}.jsonl.gz");
    let bytes = gzip(lines).map_err(|e| BackupError::CorruptPart {
        name: format!("{}/{name}", folder(id)),
        problem: format!("could not compress: {e}"),
    })?;
    let part = Part {
        table: table.to_string(),
        name: name.clone(),
        rows: lines.len() as u64,
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(&bytes)),
    };
    objects
        .put(&format!("{}/{name}", folder(id)), bytes, "application/gzip")
        .await?;
    Ok(part)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The backups applied, oldest first.
    pub backups: Vec<String>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
}

/// Downloads a part and checks it against the manifest; its rows.
async fn fetch_part(objects: &Objects, id: &str, part: &Part) -> Result<Vec<Value>, BackupError> {
    let name = format!("{}/{}", folder(id), part.name);
    let corrupt = |problem: String| BackupError::CorruptPart {
        name: name.clone(),
        problem,
    };
    let bytes = objects
        .get(&name)
        .await?
        .ok_or_else(|| corrupt("missing".into()))?;
    let sha = hex(&Sha256::digest(&bytes));
    if sha != part.sha256 {
        return Err(corrupt(format!(
            "sha256 {sha}, the manifest says {}",
            part.sha256
        )));
    }
    let mut text = String::new();
    GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| corrupt(format!("not gzipped JSON Lines: {e}")))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| corrupt(format!("line {}: not JSON: {e}", i + 1)))?;
        if !v.is_object() {
            return Err(corrupt(format!("line {}: not a JSON object", i + 1)));
        }
        rows.push(v);
    }
    if rows.len() as u64 != part.rows {
        return Err(corrupt(format!(
            "{} rows, the manifest says {}",
            rows.len(),
            part.rows
        )));
    }
    Ok(rows)
}

/// The manifests of the chain ending at the latest backup, oldest first.
async fn chain(objects: &Objects) -> Result<Vec<Manifest>, BackupError> {
    let ids = backup_ids(objects).await?;
    let Some(last) = ids.last() else {
        return Err(BackupError::NoBackup(objects.location.to_string()));
    };
    let mut out = vec![read_manifest(objects, last).await?];
    while let Some(prev) = out.last().and_then(|m| m.previous.clone()) {
        if !ids.contains(&prev) {
            let name = format!(
                "{}/manifest.json",
                folder(&out.last().map(|m| m.id.clone()).unwrap_or_default())
            );
            return Err(BackupError::BadManifest {
                name,
                problem: format!("its previous backup {prev} is missing (the chain is broken)"),
            });
        }
        out.push(read_manifest(objects, &prev).await?);
    }
    out.reverse();
    Ok(out)
}

/// The parts a restore applies, in order: per table (restore order), the incremental tables'
/// parts of every backup of the chain, the snapshot tables' parts of the latest.
fn plan(chain: &[Manifest]) -> Result<Vec<(&'static BackupTable, String, Part)>, BackupError> {
    let mut out = Vec::new();
    let Some(latest) = chain.last() else {
        return Ok(out);
    };
    for m in chain {
        for p in &m.parts {
            if backup_table(&p.table).is_none() {
                return Err(BackupError::BadManifest {
                    name: format!("{}/manifest.json", folder(&m.id)),
                    problem: format!("part {} is of an unknown table {:?}", p.name, p.table),
                });
            }
        }
    }
    for table in BACKUP_TABLES {
        let sources: Vec<&Manifest> = match table.changed {
            Some(_) => chain.iter().collect(),
            None => vec![latest],
        };
        for m in sources {
            for p in m.parts.iter().filter(|p| p.table == table.name) {
                out.push((table, m.id.clone(), p.clone()));
            }
        }
    }
    Ok(out)
}

/// Restores the latest backup chain under `objects` into `store` (see the module docs).
pub async fn restore(
    store: &Store,
    objects: &Objects,
    force: bool,
) -> Result<RestoreReport, BackupError> {
    let chain = chain(objects).await?;
    let parts = plan(&chain)?;
    // Check everything before writing anything.
    for (_, id, part) in &parts {
        fetch_part(objects, id, part).await?;
    }
    let existing = store.restore_target_rows().await?;
    if existing > 0 && !force {
        return Err(BackupError::NotEmpty(existing));
    }
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for (table, id, part) in &parts {
        let data = fetch_part(objects, id, part).await?;
        for batch in data.chunks(RESTORE_BATCH) {
            store.import_rows(table, batch).await?;
        }
        *rows.entry(table.name.to_string()).or_default() += data.len() as u64;
    }
    store.finish_restore().await?;
    Ok(RestoreReport {
        backups: chain.iter().map(|m| m.id.clone()).collect(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_ids_and_types() {
        let p = r#"{"event":{"type":"update_column_value","boardId":1,"pulseId":2,"triggerUuid":"t","columnId":"email","value":{"email":"ana@example.org"},"pulseName":"Ana Lima"}}"#;
        let r = redact_payload(p);
        assert!(
            !r.contains("ana@example.org") && !r.contains("Ana Lima"),
            "{r}"
        );
        let v: Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["event"]["columnId"], "email");
        assert_eq!(v["event"]["pulseId"], 2);
        assert_eq!(v["crmsyncRedacted"], true);
    }

    #[test]
    fn payload_policies_parse() {
        assert_eq!("".parse::<Payloads>(), Ok(Payloads::Keep));
        assert_eq!("redact".parse::<Payloads>(), Ok(Payloads::Redact));
        assert_eq!("exclude".parse::<Payloads>(), Ok(Payloads::Exclude));
        assert!("drop".parse::<Payloads>().is_err());
    }

    #[test]
    fn a_restore_plan_takes_increments_from_every_backup_and_snapshots_from_the_latest() {
        let part = |t: &str, n: &str| Part {
            table: t.into(),
            name: n.into(),
            rows: 1,
            bytes: 1,
            sha256: String::new(),
        };
        let m = |id: &str, prev: Option<&str>| Manifest {
            format: FORMAT.into(),
            id: id.into(),
            previous: prev.map(str::to_owned),
            started_at_ms: 0,
            since_ms: None,
            watermark_ms: 0,
            payloads: Payloads::Keep,
            tables: BTreeMap::new(),
            counts: BTreeMap::new(),
            parts: vec![
                part("events", "events-0001.jsonl.gz"),
                part("record_links", "record_links-0001.jsonl.gz"),
            ],
        };
        let chain = vec![m("a", None), m("b", Some("a"))];
        let p = plan(&chain).unwrap();
        let got: Vec<(String, String)> = p
            .iter()
            .map(|(t, id, _)| (t.name.to_string(), id.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("events".into(), "a".into()),
                ("events".into(), "b".into()),
                ("record_links".into(), "b".into()),
            ]
        );
    }
}
