//! The drift report: every mapped field where Salesforce and Monday disagree for linked items,
//! and the items on either side with no partner, each with what would fix it.
//!
//! Per board: every Monday item is read page by page and the linked Salesforce records in chunks
//! of 200 (`SELECT <mapped fields> FROM <object> WHERE Id IN (…)`); with an external-id field,
//! records that carry a Monday item id but have no link are the Salesforce side's unpartnered
//! ones. What the mapping would write from the item's current values
//! ([`crmsync_core::drift::expected_fields`]) is compared field by field with the record.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use crmsync_core::drift::{compare, expected_fields};
use crmsync_core::BoardMapping;
use crmsync_monday::{ItemsPageOptions, MAX_PAGE_SIZE};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::reconcile::{core_item, parse, read_columns, select_boards};

/// Records read per SOQL `IN (…)`.
const SOQL_CHUNK: usize = 200;

/// One mapped field that differs on a linked item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub item_id: String,
    pub item_name: String,
    pub salesforce_id: String,
    pub field: String,
    /// The Monday column (None: the item name).
    pub monday_column: Option<String>,
    /// What the mapping writes from Monday's current value.
    pub monday: Value,
    /// What Salesforce holds.
    pub salesforce: Value,
    pub fix: String,
}

/// An item or record with no partner.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpartnered {
    /// Monday item id (None: a Salesforce record).
    pub item_id: Option<String>,
    pub name: Option<String>,
    /// Salesforce Id (None: a Monday item).
    pub salesforce_id: Option<String>,
    pub reason: String,
    pub fix: String,
}

/// One board's drift.
#[derive(Debug, Clone, Serialize)]
pub struct BoardDrift {
    pub board_id: String,
    pub board_name: Option<String>,
    pub object: String,
    pub items: u64,
    pub linked: u64,
    pub fields: Vec<FieldDiff>,
    pub unpartnered: Vec<Unpartnered>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub generated_at: DateTime<Utc>,
    /// Differing fields plus unpartnered items and records.
    pub drifted: u64,
    pub boards: Vec<BoardDrift>,
    /// The stored report's id.
    pub id: Option<i64>,
}

/// Builds the drift report for `boards` (None: every mapped board) and stores it.
pub async fn drift(engine: &Engine, boards: Option<&[String]>) -> Result<DriftReport, EngineError> {
    let mapping = engine.mapping();
    let selected = select_boards(&mapping, boards)?;
    let mut out = Vec::new();
    for bm in &selected {
        out.push(board_drift(engine, bm).await?);
    }
    let drifted = out
        .iter()
        .map(|b| (b.fields.len() + b.unpartnered.len()) as u64)
        .sum();
    let mut report = DriftReport {
        generated_at: Utc::now(),
        drifted,
        boards: out,
        id: None,
    };
    let json = serde_json::to_string(&report)
        .map_err(|e| EngineError::Invalid(format!("drift report: {e}")))?;
    let list = selected
        .iter()
        .map(|b| b.board_id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    report.id = Some(
        engine
            .store()
            .save_drift_report(&list, drifted, &json)
            .await?,
    );
    Ok(report)
}

async fn board_drift(engine: &Engine, bm: &BoardMapping) -> Result<BoardDrift, EngineError> {
    let store = engine.store();
    let board_n = parse(&bm.board_id)?;
    let links: HashMap<i64, String> = store
        .links_for_board(board_n)
        .await?
        .into_iter()
        .map(|l| (l.monday_item_id, l.sf_id))
        .collect();
    let mut items = Vec::new();
    let mut stream = engine.monday().items_stream(
        &bm.board_id,
        ItemsPageOptions {
            limit: MAX_PAGE_SIZE,
            column_ids: Some(read_columns(bm)),
            ..ItemsPageOptions::default()
        },
    );
    while let Some(item) = stream.next().await {
        items.push(core_item(item.map_err(EngineError::Monday)?, &bm.board_id)?);
    }
    let fields = bm.salesforce_fields().join(", ");
    let mut records: HashMap<String, Map<String, Value>> = HashMap::new();
    let ids: Vec<&String> = links
        .values()
        .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    for chunk in ids.chunks(SOQL_CHUNK) {
        let list = chunk
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let soql = format!("SELECT {fields} FROM {} WHERE Id IN ({list})", bm.object);
        let mut rs = engine.salesforce().query::<Map<String, Value>>(soql);
        while let Some(r) = rs.next().await {
            let r = r.map_err(EngineError::Salesforce)?;
            if let Some(id) = r.get("Id").and_then(Value::as_str) {
                records.insert(id.to_string(), r);
            }
        }
    }
    let mut board = BoardDrift {
        board_id: bm.board_id.clone(),
        board_name: bm.name.clone(),
        object: bm.object.clone(),
        items: items.len() as u64,
        linked: 0,
        fields: Vec::new(),
        unpartnered: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for item in &items {
        let item_n = parse(&item.id)?;
        seen.insert(item_n);
        let Some(sf_id) = links.get(&item_n) else {
            board.unpartnered.push(Unpartnered {
                item_id: Some(item.id.clone()),
                name: Some(item.name.clone()),
                salesforce_id: None,
                reason: "the Monday item has no Salesforce record".into(),
                fix: format!(
                    "`crmsync reconcile --boards {} --since last` creates it; if it was tried, see `crmsync dead-letters list`",
                    bm.board_id
                ),
            });
            continue;
        };
        board.linked += 1;
        let Some(record) = records.get(sf_id) else {
            board.unpartnered.push(Unpartnered {
                item_id: Some(item.id.clone()),
                name: Some(item.name.clone()),
                salesforce_id: Some(sf_id.clone()),
                reason: format!("the linked {} {sf_id} no longer exists in Salesforce", bm.object),
                fix: format!(
                    "clear column {} of the item (the link stays) or restore the record from the Salesforce recycle bin",
                    bm.salesforce_id_column
                ),
            });
            continue;
        };
        let lookups = engine
            .lookups_for(bm, item)
            .await
            .map_err(|e| EngineError::Invalid(format!("item {}: {e}", item.id)))?;
        let expected = expected_fields(bm, item, &lookups)
            .map_err(|e| EngineError::Invalid(format!("item {}: {e}", item.id)))?;
        for d in compare(&expected, record) {
            let source = d
                .monday_column
                .as_deref()
                .map(|c| format!("column {c}"))
                .unwrap_or_else(|| "the item name".into());
            board.fields.push(FieldDiff {
                item_id: item.id.clone(),
                item_name: item.name.clone(),
                salesforce_id: sf_id.clone(),
                fix: format!(
                    "Monday is the source of {}.{}: set it to {} in Salesforce, or re-enter {source} on the Monday item so crmsync writes it",
                    bm.object, d.field, d.monday
                ),
                field: d.field,
                monday_column: d.monday_column,
                monday: d.monday,
                salesforce: d.salesforce,
            });
        }
    }
    // Linked items that are gone from the board (deleted on Monday).
    let mut gone: Vec<(&i64, &String)> = links.iter().filter(|(i, _)| !seen.contains(*i)).collect();
    gone.sort();
    for (item, sf_id) in gone {
        let closed = bm.on_delete != crmsync_core::DeletePolicy::Delete;
        if closed {
            // Deleting keeps the record (ignore / set fields): a record without a live item is
            // what the mapping asks for.
            continue;
        }
        board.unpartnered.push(Unpartnered {
            item_id: Some(item.to_string()),
            name: None,
            salesforce_id: Some(sf_id.clone()),
            reason: "the Monday item was deleted but its Salesforce record is still linked".into(),
            fix: format!(
                "`crmsync reconcile --boards {} --since last` applies the delete",
                bm.board_id
            ),
        });
    }
    // Salesforce records that carry a Monday item id but no link.
    if let Some(ext) = &bm.external_id_field {
        let linked: BTreeSet<&String> = links.values().collect();
        let soql = format!("SELECT Id, {ext} FROM {} WHERE {ext} != null", bm.object);
        let mut rs = engine.salesforce().query::<Map<String, Value>>(soql);
        while let Some(r) = rs.next().await {
            let r = r.map_err(EngineError::Salesforce)?;
            let Some(id) = r.get("Id").and_then(Value::as_str) else {
                continue;
            };
            if linked.contains(&id.to_string()) {
                continue;
            }
            let item = r
                .get(ext.as_str())
                .and_then(Value::as_str)
                .map(str::to_string);
            board.unpartnered.push(Unpartnered {
                item_id: item.clone(),
                name: None,
                salesforce_id: Some(id.to_string()),
                reason: format!(
                    "the {} carries Monday item {} but no item is linked to it",
                    bm.object,
                    item.as_deref().unwrap_or("?")
                ),
                fix: format!(
                    "type {id} into column {} of the Monday item to link it, or delete the record",
                    bm.salesforce_id_column
                ),
            });
        }
    }
    Ok(board)
}
