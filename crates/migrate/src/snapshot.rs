//! `snapshot --out DIR [--redact]`: what a rehearsal needs, in the mocks' seed format
//! (`salesforce/{org.json,sobjects/*.describe.json,records/*.json}`,
//! `monday/{boards.json,items.json,users.json}`).

use std::collections::BTreeSet;
use std::path::Path;

use crmsync_monday::ItemsPageOptions;
use crmsync_salesforce::{QueryOptions, Soql};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::{MigrateError, Migrator, Result};

/// What a snapshot wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotReport {
    /// Records per object.
    pub records: Vec<(String, u64)>,
    /// Items per board.
    pub items: Vec<(String, u64)>,
    /// Whether personal data was replaced.
    pub redacted: bool,
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| MigrateError::Data(format!("creating {}: {e}", dir.display())))?;
    }
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| MigrateError::Data(format!("serialising {}: {e}", path.display())))?;
    std::fs::write(path, text)
        .map_err(|e| MigrateError::Data(format!("writing {}: {e}", path.display())))
}

/// A stable fake for a personal value: the same input always gives the same fake (so uniqueness
/// and matches across both sides survive), and nothing of the input can be read from it.
pub fn fake(kind: &str, original: &str) -> String {
    let d = Sha256::digest(original.trim().to_lowercase().as_bytes());
    let h: String = d.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let n = u64::from_str_radix(&h[..8], 16).unwrap_or(0);
    match kind {
        "email" => format!("person.{h}@example.invalid"),
        "phone" => format!("+1 555 {:03} {:04}", n % 1000, (n / 1000) % 10000),
        _ => format!("{kind}-{h}"),
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// A stable fake for a Salesforce Id: the same key prefix (so it names the same object), a body
/// derived from the whole Id by a one-way hash, and the case-safe checksum of an 18-character
/// Id. The same Id always gives the same fake (in records, references, and the items' Id
/// columns alike), so relations and links between the redacted records still hold. Anything that
/// is not a Salesforce Id is returned unchanged.
pub fn fake_id(id: &str) -> String {
    if !looks_like_id(id) {
        return id.to_string();
    }
    // 15- and 18-character forms of one Id give the same fake.
    let id15 = &id[..15];
    let d = Sha256::digest(format!("crmsync-redact-id:{id15}").as_bytes());
    let mut out: String = id15[..3].to_string();
    out.extend(d.iter().take(12).map(|b| BASE62[*b as usize % 62] as char));
    let bytes = out.as_bytes();
    let mut suffix = String::with_capacity(3);
    for chunk in bytes.chunks(5) {
        let mut bits = 0usize;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        suffix.push(ID_SUFFIX[bits] as char);
    }
    out + &suffix
}

/// A stable fake for a URL (a web site, a link column): nothing of the original is kept.
fn fake_url(original: &str) -> String {
    format!("https://{}.example.invalid/", fake("site", original))
}

/// Salesforce field types holding personal data, and the fake kind for each.
fn personal_field(name: &str, field_type: &str) -> Option<&'static str> {
    match field_type {
        "email" => Some("email"),
        "phone" => Some("phone"),
        "url" => Some("url"),
        "textarea" => Some("text"),
        "string" => {
            let n = name.to_ascii_lowercase();
            let personal = [
                "name",
                "firstname",
                "lastname",
                "company",
                "street",
                "city",
                "title",
                "postal",
                "description",
                "website",
                "alias",
                "signature",
            ];
            personal.iter().any(|p| n.contains(p)).then_some("text")
        }
        _ => None,
    }
}

fn redact_column(column_type: &str, v: &mut Value) {
    match (column_type, v) {
        // A Salesforce Id column: the record's fake Id, so the link to the redacted record holds.
        ("text" | "name", Value::String(s)) if looks_like_id(s) => *s = fake_id(s),
        ("text" | "name", Value::String(s)) if !s.is_empty() => *s = fake("text", s),
        ("link", Value::Object(o)) => {
            if let Some(Value::String(s)) = o.get_mut("url") {
                *s = fake_url(s);
            }
            if let Some(Value::String(s)) = o.get_mut("text") {
                *s = fake("text", s);
            }
        }
        ("email", Value::Object(o)) => {
            for k in ["email", "text"] {
                if let Some(Value::String(s)) = o.get_mut(k) {
                    *s = fake("email", s);
                }
            }
        }
        ("phone", Value::Object(o)) => {
            if let Some(Value::String(s)) = o.get_mut("phone") {
                *s = fake("phone", s);
            }
        }
        ("long_text", Value::Object(o)) => {
            if let Some(Value::String(s)) = o.get_mut("text") {
                *s = fake("text", s);
            }
        }
        _ => {}
    }
}

/// A Salesforce Id (15 or 18 alphanumerics with a digit): kept, it is not personal data.
fn looks_like_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18)
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_digit())
}

impl Migrator {
    /// Writes the snapshot to `out`.
    pub async fn snapshot(&self, out: &Path, redact: bool) -> Result<SnapshotReport> {
        let mut report = SnapshotReport {
            records: Vec::new(),
            items: Vec::new(),
            redacted: redact,
        };
        let mut objects: BTreeSet<String> = self
            .mapping
            .boards
            .iter()
            .map(|b| b.object.clone())
            .collect();
        objects.insert("User".into());
        let mut integration_user = String::new();
        for object in &objects {
            let d = self.sf.describe(object).await?;
            write_json(
                &out.join(format!("salesforce/sobjects/{object}.describe.json")),
                &d.raw,
            )?;
            let fields: Vec<(String, String)> = d
                .fields()
                .iter()
                .filter(|f| !matches!(f.field_type.as_str(), "address" | "location" | "base64"))
                .map(|f| (f.name.clone(), f.field_type.as_str().to_string()))
                .collect();
            let mut q = Soql::from(object.clone()).select(fields.iter().map(|(n, _)| n.clone()));
            if let Some(bm) = self.mapping.board_for_object(object) {
                if let Some(w) = &bm.migration.where_clause {
                    q = q.filter(crmsync_salesforce::Cond::Raw(w.clone()));
                }
            }
            let mut stream = self
                .sf
                .query_records(&q, QueryOptions::default())
                .await?
                .records;
            let mut records = Vec::new();
            while let Some(r) = stream.next().await {
                let mut r = r?;
                if object == "User" && integration_user.is_empty() {
                    if let Some(Value::String(id)) = r.get("Id") {
                        integration_user = if redact { fake_id(id) } else { id.clone() };
                    }
                }
                if redact {
                    redact_record(&mut r, &fields);
                }
                records.push(Value::Object(r));
            }
            report.records.push((object.clone(), records.len() as u64));
            write_json(
                &out.join(format!("salesforce/records/{object}.json")),
                &Value::Array(records),
            )?;
        }
        write_json(
            &out.join("salesforce/org.json"),
            &json!({
                "organizationId": "00D000000000001AAA",
                "name": "crmsync snapshot",
                "integrationUserId": integration_user,
                "dailyApiRequests": 15000,
            }),
        )?;

        let ids: Vec<String> = self
            .mapping
            .boards
            .iter()
            .map(|b| b.board_id.clone())
            .collect();
        let boards = self.monday.boards(&ids).await?;
        let mut boards_json = Vec::new();
        let mut items_json = Vec::new();
        for b in &boards {
            boards_json.push(json!({
                "id": b.id,
                "name": b.name,
                "board_kind": "public",
                "state": "active",
                "groups": b.groups.iter().map(|g| json!({"id": g.id, "title": g.title})).collect::<Vec<_>>(),
                "columns": b.columns.iter().map(|c| json!({
                    "id": c.id, "title": c.title, "type": c.column_type, "settings_str": c.settings_str,
                })).collect::<Vec<_>>(),
            }));
            let mut stream = self.monday.items_stream(&b.id, ItemsPageOptions::default());
            let mut n = 0u64;
            while let Some(it) = stream.next().await {
                let it = it?;
                n += 1;
                let mut values = Map::new();
                for cv in &it.column_values {
                    let mut v = match (&cv.linked_item_ids, &cv.value) {
                        (Some(linked), _) if !linked.is_empty() => json!({
                            "linkedPulseIds": linked.iter().map(|l| json!({"linkedPulseId": l.parse::<u64>().map(Value::from).unwrap_or(Value::String(l.clone()))})).collect::<Vec<_>>()
                        }),
                        (_, Some(raw)) => match serde_json::from_str::<Value>(raw) {
                            Ok(Value::Null) | Err(_) => continue,
                            Ok(v) => v,
                        },
                        _ => continue,
                    };
                    if redact {
                        redact_column(&cv.column_type, &mut v);
                    }
                    values.insert(cv.id.clone(), v);
                }
                let name = if redact {
                    fake("text", &it.name)
                } else {
                    it.name.clone()
                };
                items_json.push(json!({
                    "id": it.id,
                    "board_id": b.id,
                    "group_id": it.group.as_ref().map(|g| g.id.clone()),
                    "name": name,
                    "column_values": values,
                }));
            }
            report.items.push((b.id.clone(), n));
        }
        write_json(&out.join("monday/boards.json"), &Value::Array(boards_json))?;
        write_json(&out.join("monday/items.json"), &Value::Array(items_json))?;
        let mut users = self.monday_users().await?;
        if redact {
            users.iter_mut().for_each(redact_user);
        }
        write_json(&out.join("monday/users.json"), &Value::Array(users))?;
        Ok(report)
    }
}

fn redact_record(r: &mut Map<String, Value>, fields: &[(String, String)]) {
    let original_id = r.get("Id").and_then(Value::as_str).map(str::to_string);
    for (name, field_type) in fields {
        let Some(Value::String(s)) = r.get_mut(name) else {
            continue;
        };
        if s.is_empty() {
            continue;
        }
        match field_type.as_str() {
            // Ids and references: stable fakes, so every relation between records still holds.
            "id" | "reference" => *s = fake_id(s),
            _ => match personal_field(name, field_type) {
                Some("url") => *s = fake_url(s),
                Some(kind) => *s = fake(kind, s),
                None => {}
            },
        }
    }
    // `attributes.url` names the record by its Id.
    if let (Some(id), Some(Value::Object(attrs))) = (original_id, r.get_mut("attributes")) {
        if let Some(Value::String(url)) = attrs.get_mut("url") {
            *url = url.replace(&id, &fake_id(&id));
        }
    }
}

/// A Monday user with its name and email replaced (the email the same fake as the Salesforce
/// user's, so people columns still match by email).
fn redact_user(u: &mut Value) {
    if let Some(Value::String(s)) = u.get_mut("email") {
        *s = fake("email", s);
    }
    if let Some(Value::String(s)) = u.get_mut("name") {
        *s = fake("text", s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fakes_are_stable_unique_and_hide_the_input() {
        let a = fake("email", "Ann@Example.org");
        assert_eq!(a, fake("email", "ann@example.org"));
        assert_ne!(a, fake("email", "bob@example.org"));
        assert!(!a.contains("ann"));
        assert!(a.ends_with("@example.invalid"));
        assert!(fake("phone", "+1 202 555 0100").starts_with("+1 555 "));
        assert!(looks_like_id("0015g00000000G9AAI"));
        assert!(!looks_like_id("Harbor Housing"));
    }

    #[test]
    fn fake_ids_are_stable_keep_the_object_and_carry_a_valid_checksum() {
        let a = fake_id("0015g00000000G9AAI");
        assert_eq!(a, fake_id("0015g00000000G9AAI"));
        // The 15-character form of the same Id gives the same fake.
        assert_eq!(a, fake_id("0015g00000000G9"));
        assert_ne!(a, fake_id("0015g00000000GAAAY"));
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("001"));
        assert!(!a.contains("5g00000000G9"));
        // The suffix is the case-safe checksum of the first 15 characters (a recorded real Id:
        // 001D000000IRFma -> IAH).
        let check = |id15: &str| -> String {
            id15.as_bytes()
                .chunks(5)
                .map(|c| {
                    let bits = c
                        .iter()
                        .enumerate()
                        .filter(|(_, b)| b.is_ascii_uppercase())
                        .fold(0usize, |m, (i, _)| m | 1 << i);
                    ID_SUFFIX[bits] as char
                })
                .collect()
        };
        assert_eq!(check("001D000000IRFma"), "IAH");
        assert_eq!(&a[15..], check(&a[..15]));
        assert_eq!(fake_id("not an id"), "not an id");
        let url = fake_url("https://harborhousing.org/about");
        assert!(url.ends_with(".example.invalid/") && !url.contains("harbor"));
    }
}
