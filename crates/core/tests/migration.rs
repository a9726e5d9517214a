//! Migration planning (Salesforce -> Monday) over the seed records and the example mapping:
//! creates carry the Salesforce Id (loop prevention), owners resolve to the Monday user with the
//! owner's email, re-running is a no-op, and a changed field updates only its column.

mod common;

use std::collections::BTreeMap;

use crmsync_core::{plan_item, ColumnValue, Item, ItemOperation, MondayInput, StaticLookups};
use serde_json::{json, Map, Value};

fn records(object: &str) -> Vec<Map<String, Value>> {
    let path = common::seed().join(format!("salesforce/records/{object}.json"));
    serde_json::from_str(&common::read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn monday_users() -> Vec<Map<String, Value>> {
    let path = common::seed().join("monday/users.json");
    serde_json::from_str(&common::read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Both user directories, as the engine loads them before a run: Monday user id -> email and
/// Salesforce User Id -> email.
fn users() -> StaticLookups {
    let mut l = StaticLookups::default();
    for u in monday_users() {
        let id = match &u["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let email = u["email"].as_str().expect("Monday user email");
        l.monday_users.insert(id, email.to_string());
    }
    for u in records("User") {
        let id = u["Id"].as_str().expect("User Id");
        let email = u["Email"].as_str().expect("User Email");
        l.salesforce_users.insert(id.to_string(), email.to_string());
    }
    assert!(
        !l.monday_users.is_empty() && !l.salesforce_users.is_empty(),
        "seed user directories are empty"
    );
    l
}

/// The Monday user id that should own an item whose record has this OwnerId, computed straight
/// from the seed files: the Salesforce User's email, then the Monday user with that email.
fn expected_monday_owner(owner_id: &str) -> u64 {
    let email = records("User")
        .into_iter()
        .find(|u| u["Id"].as_str() == Some(owner_id))
        .and_then(|u| u["Email"].as_str().map(str::to_lowercase))
        .unwrap_or_else(|| panic!("no seed User {owner_id}"));
    let id = monday_users()
        .into_iter()
        .find(|u| u["email"].as_str().map(str::to_lowercase).as_deref() == Some(email.as_str()))
        .map(|u| u["id"].clone())
        .unwrap_or_else(|| panic!("no seed Monday user with email {email}"));
    match id {
        Value::String(s) => s.parse().expect("numeric Monday user id"),
        Value::Number(n) => n.as_u64().expect("numeric Monday user id"),
        other => panic!("unexpected Monday user id {other}"),
    }
}

/// The single person a people column write names.
fn written_person(write: &Value) -> u64 {
    let people = write["personsAndTeams"]
        .as_array()
        .unwrap_or_else(|| panic!("not a people write: {write}"));
    assert_eq!(people.len(), 1, "{write}");
    assert_eq!(people[0]["kind"], "person", "{write}");
    people[0]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("person id is not a number: {write}"))
}

/// Links for every seed record of the four objects (as if the first pass created all items), and
/// both user directories.
fn all_linked() -> StaticLookups {
    let mut l = users();
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
    let lookups = users();
    let mut out = BTreeMap::new();
    let mut owners_checked = 0;
    for object in ["Lead", "Account", "Contact", "Opportunity"] {
        let board = mapping.board_for_object(object).expect("board");
        let r = &records(object)[0];
        let plan = plan_item(r, None, board, &lookups).expect("plan");
        if board.column("person").is_some() {
            let ItemOperation::Create { column_values, .. } = &plan else {
                panic!("{object}: expected a create, got {plan:?}")
            };
            let owner = r["OwnerId"].as_str().expect("OwnerId");
            let write = column_values
                .get("person")
                .unwrap_or_else(|| panic!("{object}: owner {owner} not resolved: {plan:?}"));
            assert_eq!(
                written_person(write),
                expected_monday_owner(owner),
                "{object}"
            );
            owners_checked += 1;
        }
        out.insert(object, serde_json::to_value(plan).expect("json"));
    }
    assert!(owners_checked >= 1, "no mapped board has a people column");
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn rerunning_the_migration_changes_nothing_and_edits_update_only_their_column() {
    let mapping = common::seed_mapping();
    let lookups = all_linked();
    let mut checked = 0;
    let mut owners_checked = 0;
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
                    // Every relation resolves once both ends exist, and every owner resolves:
                    // the seed's Salesforce Users and Monday users share emails, and both user
                    // directories are loaded, so nothing stays deferred.
                    assert!(deferred.is_empty(), "{object} {}: {deferred:?}", r["Id"]);
                    if board.column("person").is_some() {
                        let owner = r["OwnerId"].as_str().expect("OwnerId");
                        let write = column_values
                            .get("person")
                            .unwrap_or_else(|| panic!("{object} {}: no owner written", r["Id"]));
                        assert_eq!(
                            written_person(write),
                            expected_monday_owner(owner),
                            "{object} {}",
                            r["Id"]
                        );
                        owners_checked += 1;
                    }
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
    assert!(owners_checked > 100, "only {owners_checked} owners checked");

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
