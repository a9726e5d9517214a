//! The scenario format (documented in `fixtures/README.md`): `scenario.json` in a directory,
//! its expected outcome in `expected.snap` next to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// File name of a scenario inside its directory.
pub const SCENARIO_FILE: &str = "scenario.json";
/// File name of its expected outcome (an insta snapshot).
pub const EXPECTED_FILE: &str = "expected.snap";

/// One scenario: starting state, mapping, ordered steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What behaviour it pins, in one or two sentences.
    pub description: String,
    /// Mapping file, relative to the scenario directory (default: `fixtures/seed/mapping.toml`,
    /// or the runner's `--mapping`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<PathBuf>,
    /// The starting state as deltas on `fixtures/seed`.
    #[serde(default, skip_serializing_if = "SeedDelta::is_empty")]
    pub seed: SeedDelta,
    /// Ordered steps: deliveries (and what happened on Monday right before each), or actions.
    pub steps: Vec<Step>,
}

/// Deltas on `fixtures/seed` (applied to a copy; the seed itself is never written).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDelta {
    /// Salesforce records by object, upserted by `Id` into `records/<Object>.json` (fields given
    /// replace the seed's; a new `Id` adds a record).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub salesforce: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Salesforce record Ids to remove, by object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub salesforce_remove: BTreeMap<String, Vec<String>>,
    /// Monday items (seed format: `id`, `board_id`, `group_id`, `name`, `column_values`),
    /// upserted by `id` into `items.json`; `column_values` given are merged into the seed item's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monday_items: Vec<Map<String, Value>>,
    /// Monday item ids to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monday_remove: Vec<String>,
    /// Links already in the store (item ↔ record), as a recorded session found them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<SeedLink>,
}

/// A link in the store at the start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedLink {
    /// Monday board id.
    pub board: String,
    /// Monday item id.
    pub item: String,
    /// Salesforce object.
    pub object: String,
    /// Salesforce record Id.
    pub salesforce_id: String,
}

impl SeedDelta {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.salesforce.is_empty()
            && self.salesforce_remove.is_empty()
            && self.monday_items.is_empty()
            && self.monday_remove.is_empty()
            && self.links.is_empty()
    }
}

/// How a delivery is authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// Monday's app JWT, signed with the harness's signing secret, for the receiver's URL.
    #[default]
    Jwt,
    /// A JWT that expired ten minutes ago.
    ExpiredJwt,
    /// A JWT signed with another secret.
    ForgedJwt,
    /// A JWT for another audience (URL).
    WrongAudience,
    /// No `Authorization` header.
    None,
}

impl Auth {
    fn is_default(&self) -> bool {
        *self == Auth::Jwt
    }
}

/// What happened on Monday right before a delivery (applied through the mock's admin API, which
/// fires no webhook: the scenario's deliveries are the only ones).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MondayChange {
    /// The item.
    pub item: String,
    /// Column values in the API's write formats (`{"color_x": {"label": "Done"}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Map<String, Value>>,
    /// Stored values as Monday answered them (the seed's format: `value` of the API, parsed),
    /// set directly in the mock; `null` empties a column. What `serve --record` writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Map<String, Value>>,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The item was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete: bool,
    /// The item was archived.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archive: bool,
}

/// Faults injected right before a step's delivery and cleared once it settled.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFaults {
    /// Mock Salesforce faults (`/__mock/faults` format: `method`, `path`, `status`, `body`,
    /// `times`, `after`, `latencyMs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub salesforce: Vec<Value>,
    /// Mock Monday canned answers (`status`, `body`, `count`, `query_contains`, `after`,
    /// `retry_after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monday: Vec<Value>,
    /// Every Salesforce access token answers `401 INVALID_SESSION_ID` from now on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expire_salesforce_sessions: bool,
}

impl StepFaults {
    fn is_empty(&self) -> bool {
        self.salesforce.is_empty() && self.monday.is_empty() && !self.expire_salesforce_sessions
    }
}

/// A step that is not a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `crmsync dead-letters replay` of every open dead letter (after a fix).
    ReplayDeadLetters,
}

/// One step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A label for the table and diffs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What changed on Monday before Monday sent this delivery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monday: Vec<MondayChange>,
    /// The delivery's JSON body (`{"event": {…}}` or `{"challenge": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Value>,
    /// The body in a file relative to the scenario (sent byte for byte), instead of `delivery`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_file: Option<PathBuf>,
    /// Request headers as recorded (`Authorization` is never stored: see `auth`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// How the delivery is authenticated.
    #[serde(default, skip_serializing_if = "Auth::is_default")]
    pub auth: Auth,
    /// Extra copies sent right after it (Monday's redeliveries).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate: u32,
    /// Wait this long before sending.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub delay_ms: u64,
    /// Hold this delivery back until step N (1-based, later) was sent: out-of-order delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_after: Option<usize>,
    /// Faults injected for this step.
    #[serde(default, skip_serializing_if = "StepFaults::is_empty")]
    pub faults: StepFaults,
    /// An action instead of a delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl Step {
    /// The body to send (from `delivery` or `delivery_file`).
    pub fn body(&self, dir: &Path) -> Result<Option<Vec<u8>>> {
        match (&self.delivery, &self.delivery_file) {
            (Some(_), Some(_)) => bail!("a step has both `delivery` and `delivery_file`"),
            (Some(v), None) => Ok(Some(serde_json::to_vec(v)?)),
            (None, Some(f)) => {
                let p = dir.join(f);
                Ok(Some(
                    std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                ))
            }
            (None, None) => Ok(None),
        }
    }

    /// Whether it sends a delivery.
    pub fn is_delivery(&self) -> bool {
        self.delivery.is_some() || self.delivery_file.is_some()
    }
}

/// A scenario and where it lives.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its directory name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its content.
    pub scenario: Scenario,
}

impl Loaded {
    /// Reads `dir/scenario.json` and checks it.
    pub fn read(dir: &Path) -> Result<Loaded> {
        let path = dir.join(SCENARIO_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let scenario: Scenario =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let n = scenario.steps.len();
        for (i, s) in scenario.steps.iter().enumerate() {
            let at = || format!("{}: step {}", path.display(), i + 1);
            if s.is_delivery() == s.action.is_some() {
                bail!(
                    "{}: needs exactly one of `delivery`, `delivery_file`, `action`",
                    at()
                );
            }
            if let Some(k) = s.deliver_after {
                if k <= i + 1 || k > n {
                    bail!("{}: `deliver_after` must name a later step (2..={n})", at());
                }
            }
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Loaded {
            name,
            dir: dir.to_path_buf(),
            scenario,
        })
    }
}

/// Every scenario under `paths` (a scenario directory, or a directory searched recursively for
/// `scenario.json`), sorted by name.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Loaded>> {
    let mut dirs = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!("{} does not exist", p.display());
        }
        walk(p, &mut dirs)?;
    }
    dirs.sort();
    dirs.dedup();
    let mut out = dirs
        .iter()
        .map(|d| Loaded::read(d))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.dir.cmp(&b.dir)));
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if dir.join(SCENARIO_FILE).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if !dir.is_dir() {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        if e.file_type()?.is_dir() {
            walk(&e.path(), out)?;
        }
    }
    Ok(())
}

/// Writes the starting state (the seed with the scenario's deltas) into `out` (`monday/`,
/// `salesforce/`).
pub fn build_seed(seed: &Path, delta: &SeedDelta, out: &Path) -> Result<()> {
    copy_dir(seed, out)?;
    let items_path = out.join("monday/items.json");
    let mut items: Vec<Map<String, Value>> = read_json(&items_path)?;
    items.retain(|i| {
        !delta
            .monday_remove
            .iter()
            .any(|r| i.get("id").and_then(Value::as_str) == Some(r))
    });
    for item in &delta.monday_items {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            bail!("a seed.monday_items entry has no string `id`");
        };
        match items
            .iter_mut()
            .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
        {
            Some(existing) => {
                for (k, v) in item {
                    match (k.as_str(), existing.get_mut(k), v) {
                        ("column_values", Some(Value::Object(have)), Value::Object(new)) => {
                            for (c, cv) in new {
                                if cv.is_null() {
                                    have.remove(c);
                                } else {
                                    have.insert(c.clone(), cv.clone());
                                }
                            }
                        }
                        _ => {
                            existing.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            None => items.push(item.clone()),
        }
    }
    write_json(&items_path, &items)?;

    let objects: std::collections::BTreeSet<&String> = delta
        .salesforce
        .keys()
        .chain(delta.salesforce_remove.keys())
        .collect();
    for object in objects {
        let path = out.join(format!("salesforce/records/{object}.json"));
        let mut records: Vec<Map<String, Value>> = if path.exists() {
            read_json(&path)?
        } else {
            Vec::new()
        };
        if let Some(remove) = delta.salesforce_remove.get(object) {
            records.retain(|r| {
                !remove
                    .iter()
                    .any(|id| r.get("Id").and_then(Value::as_str) == Some(id))
            });
        }
        for rec in delta.salesforce.get(object).into_iter().flatten() {
            let Some(id) = rec.get("Id").and_then(Value::as_str) else {
                bail!("a seed.salesforce.{object} record has no string `Id`");
            };
            match records
                .iter_mut()
                .find(|r| r.get("Id").and_then(Value::as_str) == Some(id))
            {
                Some(existing) => existing.extend(rec.clone()),
                None => records.push(rec.clone()),
            }
        }
        write_json(&path, &records)?;
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    std::fs::write(path, serde_json::to_vec(v)?)
        .with_context(|| format!("writing {}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)
                .with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}
