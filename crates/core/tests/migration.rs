//! Migration planning (Salesforce -> Monday) over the seed records and the example mapping:
//! creates carry the Salesforce Id (loop prevention), re-running is a no-op, and a changed field
//! updates only its column.

mod common;

use std::collections::BTreeMap;

use crmsync_core::{plan_item, ColumnValue, Item, ItemOperation, MondayInput, StaticLookups};
use serde_json::{json, Map, Value};

fn records(object: &str) -> Vec<Map<String, Value>> {
    let path = common::seed().join(format!("salesforce/records/{object}.json"));
    serde_json::from_str(&common::read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Links for every seed record of the four objects (as if the first pass created all items).
fn all_linked() -> StaticLookups {
    let mut l = StaticLookups::default();
    for (n, object) in ["Lead", "Account", "Contact", "Opportunity"]
        .iter()
        .enumerate()
    {
        for (i, r) in records(object).iter().enumerate() {
            let id = r["Id"].as_str().expect("Id");
            l.links
                .insert(format!("{}{:06}", 9_100 + n, i), id.to_string());
        }
    }
    l
}

/// The item Monday would hold after `create_item` with these column values.
fn created_item(
    board: &crmsync_core::BoardMapping,
    item_id: &str,
    name: &str,
    values: &BTreeMap<String, Value>,
) -> Item {
    let column_values = values
        .iter()
        .map(|(id, write)| match board.column(id) {
            Some(cm) => common::store(cm, write),
            None => ColumnValue {
                id: id.clone(),
                value: Some(Value::String(write.to_string())),
                ..ColumnValue::default()
            },
        })
        .collect();
    Item {
        id: item_id.to_string(),
        board_id: Some(board.board_id.clone()),
        name: name.to_string(),
        column_values,
    }
}

#[test]
fn first_records_of_each_object() {
    let mapping = common::seed_mapping();
    let lookups = StaticLookups::default();
    let mut out = BTreeMap::new();
    for object in ["Lead", "Account", "Contact", "Opportunity"] {
        let board = mapping.board_for_object(object).expect("board");
        let r = &records(object)[0];
        out.insert(
            object,
            serde_json::to_value(plan_item(r, None, board, &lookups).expect("plan")).expect("json"),
        );
    }
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn rerunning_the_migration_changes_nothing_and_edits_update_only_their_column() {
    let mapping = common::seed_mapping();
    let lookups = all_linked();
    let mut checked = 0;
    for object in ["Lead", "Account", "Contact", "Opportunity"] {
        let board = mapping.board_for_object(object).expect("board");
        for r in records(object) {
            let item_id = lookups
                .links
                .iter()
                .find(|(_, sf)| sf.as_str() == r["Id"].as_str().unwrap_or_default())
                .map(|(i, _)| i.clone())
                .expect("linked");
            let (name, values) = match plan_item(&r, None, board, &lookups).expect("create plan") {
                ItemOperation::Create {
                    item_name,
                    column_values,
                    deferred,
                    ..
                } => {
                    // Every relation resolves once both ends exist; only owners stay deferred
                    // (the seed's Salesforce users and Monday users share no email).
                    assert!(
                        deferred.iter().all(|d| d.column_id == "person"),
                        "{object} {}: {deferred:?}",
                        r["Id"]
                    );
                    assert_eq!(
                        column_values.get(&board.salesforce_id_column),
                        Some(&r["Id"])
                    );
                    (item_name, column_values)
                }
                other => panic!("expected a create, got {other:?}"),
            };
            let item = created_item(board, &item_id, &name, &values);
            match plan_item(&r, Some(&item), board, &lookups).expect("re-plan") {
                ItemOperation::Unchanged { .. } => {}
                other => panic!(
                    "{object} {}: re-running should change nothing, got {other:?}",
                    r["Id"]
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} records checked");

    // One edited field -> one column.
    let board = mapping.board_for_object("Opportunity").expect("board");
    let mut r = records("Opportunity")[0].clone();
    let item_id = lookups.item_id_for(r["Id"].as_str().unwrap_or_default());
    let ItemOperation::Create {
        item_name,
        column_values,
        ..
    } = plan_item(&r, None, board, &lookups).expect("plan")
    else {
        panic!("expected a create")
    };
    let item = created_item(board, &item_id, &item_name, &column_values);
    r.insert("Amount".into(), json!(123456.5));
    r.insert("StageName".into(), json!("Closed Won"));
    insta::assert_yaml_snapshot!(plan_item(&r, Some(&item), board, &lookups).expect("plan"));
    // The engine can compare a fetched value the same way.
    let cm = board.column("numeric_mksjdntv").expect("amount");
    let cv = item.column("numeric_mksjdntv").expect("amount column");
    assert!(matches!(
        crmsync_core::to_salesforce(cm, MondayInput::Column(cv), &lookups),
        Ok(crmsync_core::Converted::Fields(_))
    ));
}

trait ItemFor {
    fn item_id_for(&self, sf: &str) -> String;
}

impl ItemFor for StaticLookups {
    fn item_id_for(&self, sf: &str) -> String {
        use crmsync_core::Lookups;
        self.item_id_for_salesforce_id(sf).expect("linked")
    }
}
