//! Small hand-written describes and boards (real shapes, few fields) shared by the tests.
#![allow(dead_code)]

use crmsync_core::{
    Board, ColumnMapping, ColumnValue, Mapping, SObjectDescribe, Schema, Transform,
};
use serde_json::json;
use serde_json::Value;

fn field(name: &str, ty: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut f = json!({
        "name": name, "label": name, "type": ty, "length": 0, "nillable": true, "createable": true,
        "updateable": true, "defaultedOnCreate": false, "externalId": false, "unique": false,
        "calculated": false, "picklistValues": [], "restrictedPicklist": false, "referenceTo": []
    });
    if let (Some(o), Some(e)) = (f.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    f
}

fn picklist(values: &[&str]) -> serde_json::Value {
    json!(values
        .iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
        .collect::<Vec<_>>())
}

pub fn lead_describe() -> SObjectDescribe {
    serde_json::from_value(json!({
        "name": "Lead",
        "recordTypeInfos": [{"recordTypeId": "0123p000000EILJAA4", "name": "Organization", "available": true},
                            {"recordTypeId": "012000000000000AAA", "name": "Master", "available": true}],
        "fields": [
            field("Id", "id", json!({"length": 18, "nillable": false, "createable": false, "updateable": false, "defaultedOnCreate": true})),
            field("LastName", "string", json!({"length": 80, "nillable": false})),
            field("FirstName", "string", json!({"length": 40})),
            field("Company", "string", json!({"length": 255, "nillable": false})),
            field("Status", "picklist", json!({"length": 255, "nillable": false, "defaultedOnCreate": true,
                "restrictedPicklist": true, "picklistValues": picklist(&["Open", "Working", "Closed"])})),
            field("Email", "email", json!({"length": 80})),
            field("Phone", "phone", json!({"length": 40})),
            field("Description", "textarea", json!({"length": 32000})),
            field("Title", "string", json!({"length": 10})),
            field("NumberOfEmployees", "int", json!({})),
            field("Industry__c", "multipicklist", json!({"length": 4099, "picklistValues": picklist(&["Education", "Healthcare", "Housing"])})),
            field("Sector__c", "picklist", json!({"length": 255, "picklistValues": picklist(&["Nonprofit", "Government"])})),
            field("Follow_Up__c", "date", json!({})),
            field("Last_Touch__c", "datetime", json!({})),
            field("Opt_In__c", "boolean", json!({"nillable": false, "defaultedOnCreate": true})),
            field("Country", "string", json!({"length": 80})),
            field("Website", "url", json!({"length": 255})),
            field("OwnerId", "reference", json!({"length": 18, "nillable": false, "defaultedOnCreate": true, "referenceTo": ["Group", "User"]})),
            field("Linked_Account__c", "reference", json!({"length": 18, "referenceTo": ["Account"]})),
            field("Start__c", "date", json!({})),
            field("End__c", "date", json!({})),
            field("Score__c", "double", json!({})),
            field("RecordTypeId", "reference", json!({"length": 18, "referenceTo": ["RecordType"]})),
            field("Formula__c", "string", json!({"length": 50, "createable": false, "updateable": false, "calculated": true})),
            field("Monday_Item_Id__c", "string", json!({"length": 40, "externalId": true, "unique": true})),
        ]
    }))
    .expect("lead describe")
}

pub fn account_describe() -> SObjectDescribe {
    serde_json::from_value(json!({
        "name": "Account",
        "fields": [
            field("Id", "id", json!({"length": 18, "nillable": false, "createable": false, "updateable": false, "defaultedOnCreate": true})),
            field("Name", "string", json!({"length": 255, "nillable": false})),
            field("Monday_Item_Id__c", "string", json!({"length": 40, "externalId": true, "unique": true})),
        ]
    }))
    .expect("account describe")
}

fn col(id: &str, ty: &str, settings: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "title": id, "type": ty, "settings_str": settings.to_string()})
}

pub fn boards() -> Vec<Board> {
    serde_json::from_value(json!([
        {"id": "100", "name": "Leads", "columns": [
            col("name", "name", json!({})),
            col("text_sfid", "text", json!({})),
            col("text_last", "text", json!({})),
            col("text_title", "text", json!({})),
            col("status", "status", json!({"labels": {"0": "New", "1": "Working", "2": "Done", "11": "Lost"}})),
            col("sector", "status", json!({"labels": {"0": "Nonprofit", "3": "Government"}})),
            col("dropdown", "dropdown", json!({"labels": [{"id": 1, "name": "Education"}, {"id": 2, "name": "Health"}, {"id": 3, "name": "Housing"}]})),
            col("email", "email", json!({})),
            col("phone", "phone", json!({})),
            col("long_text", "long_text", json!({})),
            col("numbers", "numbers", json!({})),
            col("date", "date", json!({})),
            col("date_time", "date", json!({})),
            col("checkbox", "checkbox", json!({})),
            col("country", "country", json!({})),
            col("link", "link", json!({})),
            col("person", "people", json!({})),
            col("account", "board_relation", json!({"boardIds": [200]})),
            col("timeline", "timeline", json!({})),
            col("rating", "rating", json!({})),
            col("formula", "formula", json!({"formula": "{numbers}*2"})),
        ]},
        {"id": "200", "name": "Accounts", "columns": [
            col("name", "name", json!({})),
            col("text_sfid", "text", json!({})),
        ]}
    ]))
    .expect("boards")
}

pub fn schema() -> Schema {
    Schema {
        describes: vec![lead_describe(), account_describe()],
        boards: boards(),
    }
}

/// A mapping exercising every transform, valid against [`schema`].
pub const FULL_MAPPING: &str = r#"
[[board]]
name = "Leads"
board_id = "100"
object = "Lead"
salesforce_id_column = "text_sfid"
external_id_field = "Monday_Item_Id__c"
record_type_id = "0123p000000EILJAA4"
item_name = { field = "Company" }
defaults = { LastName = "Unknown", Follow_Up__c = "today+30d" }
on_delete = { set = { Status = "Closed" } }
on_archive = "delete"

[[board.column]]
column = "text_last"
field = "LastName"
transform = "text"

[[board.column]]
column = "text_title"
field = "Title"
transform = "text"
truncate = true

[[board.column]]
column = "status"
field = "Status"
transform = "status"
values = { "New" = "Open", "Done" = "Closed", "Lost" = "Closed" }

[[board.column]]
column = "sector"
field = "Sector__c"
transform = "status"

[[board.column]]
column = "dropdown"
field = "Industry__c"
transform = "dropdown"
values = { "Health" = "Healthcare" }

[[board.column]]
column = "email"
field = "Email"
transform = "email"

[[board.column]]
column = "phone"
field = "Phone"
transform = "phone"
default_country = "US"

[[board.column]]
column = "long_text"
field = "Description"
transform = "long_text"

[[board.column]]
column = "numbers"
field = "NumberOfEmployees"
transform = "numbers"

[[board.column]]
column = "date"
field = "Follow_Up__c"
transform = "date"
timezone = "-05:00"

[[board.column]]
column = "date_time"
field = "Last_Touch__c"
transform = "datetime"

[[board.column]]
column = "checkbox"
field = "Opt_In__c"
transform = "checkbox"

[[board.column]]
column = "country"
field = "Country"
transform = "country"

[[board.column]]
column = "link"
field = "Website"
transform = "link"

[[board.column]]
column = "person"
field = "OwnerId"
transform = "people"

[[board.column]]
column = "account"
field = "Linked_Account__c"
transform = "board_relation"
target_board = "200"

[[board.column]]
column = "timeline"
field = "Start__c"
end_field = "End__c"
transform = "timeline"

[[board.column]]
column = "rating"
field = "Score__c"
transform = "rating"

[[board]]
name = "Accounts"
board_id = "200"
object = "Account"
salesforce_id_column = "text_sfid"
item_name = { field = "Name" }
on_delete = "ignore"
"#;

pub fn full_mapping() -> Mapping {
    let m = Mapping::parse(FULL_MAPPING, "full.toml").expect("full mapping parses");
    crmsync_core::validate(&m, &schema()).expect("full mapping validates")
}

// ------------------------------------------------------------------ seed fixtures

use std::path::{Path, PathBuf};

pub fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The seed schema: every `salesforce/sobjects/*.describe.json` and `monday/boards.json`.
pub fn seed_schema() -> Schema {
    let dir = seed().join("salesforce/sobjects");
    let mut describes = Vec::new();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.to_string_lossy().ends_with(".describe.json") {
            let d: SObjectDescribe = serde_json::from_str(&read(&path))
                .unwrap_or_else(|e| panic!("{} is not a describe: {e}", path.display()));
            describes.push(d);
        }
    }
    assert!(
        describes.len() >= 4,
        "expected the seed describes in {}",
        dir.display()
    );
    let boards: Vec<Board> =
        serde_json::from_str(&read(&seed().join("monday/boards.json"))).expect("boards.json");
    Schema { describes, boards }
}

/// `fixtures/seed/mapping.toml`, validated against the seed schema (and so enriched).
pub fn seed_mapping() -> Mapping {
    let path = seed().join("mapping.toml");
    let m = Mapping::parse(&read(&path), "fixtures/seed/mapping.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    crmsync_core::validate(&m, &seed_schema()).unwrap_or_else(|e| panic!("{e}"))
}

// ------------------------------------------------------------------ Monday storage simulation

/// What Monday stores after `change_multiple_column_values` with `write`, returned the way GraphQL
/// returns it (`value` JSON-encoded, `text` rendered): status/dropdown labels become indexes/ids.
pub fn store(cm: &ColumnMapping, write: &Value) -> ColumnValue {
    // A label the column does not have is created (`create_labels_if_missing`) with a fresh index.
    let index_of = |label: &str| {
        cm.column_labels
            .iter()
            .find(|(_, l)| l.as_str() == label)
            .map(|(i, _)| *i)
            .unwrap_or(1000 + label.len() as u64)
    };
    let (value, text): (Value, Option<String>) = match (cm.transform, write) {
        (_, Value::Null) => (Value::Null, None),
        (Transform::Status, w) => {
            let label = w["label"].as_str().unwrap_or_default().to_string();
            (
                json!({"index": index_of(&label), "post_id": null}),
                Some(label),
            )
        }
        (Transform::Dropdown, w) => {
            let labels: Vec<String> = w["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect();
            let ids: Vec<u64> = labels.iter().map(|l| index_of(l)).collect();
            (json!({"ids": ids}), Some(labels.join(", ")))
        }
        (Transform::Checkbox, _) => (
            json!({"checked": true, "changed_at": "2026-11-27T10:00:00.000Z"}),
            Some("v".into()),
        ),
        (Transform::Numbers, Value::String(s)) => (Value::String(s.clone()), Some(s.clone())),
        (_, w) => {
            let mut w = w.clone();
            if let Some(o) = w.as_object_mut() {
                o.insert("changed_at".into(), json!("2026-11-27T10:00:00.000Z"));
            }
            (w, None)
        }
    };
    ColumnValue {
        id: cm.column.clone(),
        column_type: Some(cm.transform.column_kind().api_name().to_string()),
        text,
        value: (!value.is_null()).then(|| Value::String(value.to_string())),
        linked_item_ids: None,
    }
}
