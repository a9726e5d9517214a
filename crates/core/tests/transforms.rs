//! Snapshots of every transform in both directions, for every shape Monday sends (webhook `value`,
//! item `column_values` with `value` + `text`, our own write format), clearing, and errors.

mod common;

use crmsync_core::{to_monday, to_salesforce, ColumnValue, MondayInput, StaticLookups};
use serde_json::{json, Value};

fn lookups() -> StaticLookups {
    let mut l = StaticLookups::default()
        .link("9378100955", "001000000000001AAA")
        .link("9378100956", "001000000000002AAA");
    l.monday_users
        .insert("58200003".into(), "priya.raman@ctn-example.org".into());
    l.monday_users
        .insert("58200009".into(), "nobody@ctn-example.org".into());
    l.salesforce_users.insert(
        "005000000000003AAA".into(),
        "Priya.Raman@ctn-example.org".into(),
    );
    l.salesforce_users.insert(
        "005000000000004AAA".into(),
        "not-on-monday@ctn-example.org".into(),
    );
    l
}

/// (column, how the value arrives, the value / column value)
fn monday_cases() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("text_last", "webhook", json!({"value": "Okafor"})),
        (
            "text_last",
            "column",
            json!({"text": "Okafor", "value": "\"Okafor\""}),
        ),
        ("text_last", "column", json!({"text": "", "value": null})),
        (
            "text_title",
            "webhook",
            json!({"value": "Executive Director of Programs"}),
        ),
        (
            "status",
            "webhook",
            json!({"label": {"index": 0, "text": "New", "style": {"color": "#fdab3d", "border": "#e99729", "var_name": "orange"}, "is_done": false}, "post_id": null}),
        ),
        (
            "status",
            "webhook",
            json!({"label": {"index": 1, "text": "Working", "style": {"color": "#00c875"}}, "post_id": null}),
        ),
        (
            "status",
            "column",
            json!({"text": "Lost", "value": "{\"index\":11,\"post_id\":null,\"changed_at\":\"2025-02-07T09:52:41.753Z\"}"}),
        ),
        (
            "status",
            "column",
            json!({"text": null, "value": "{\"index\":2,\"post_id\":null}"}),
        ),
        (
            "status",
            "column",
            json!({"text": null, "value": "{\"index\":5,\"post_id\":null}"}),
        ),
        ("status", "webhook", null_value()),
        (
            "dropdown",
            "webhook",
            json!({"chosenValues": [{"id": 1, "name": "Education"}, {"id": 2, "name": "Health"}]}),
        ),
        (
            "dropdown",
            "column",
            json!({"text": "Education, Housing", "value": "{\"ids\":[1,3]}"}),
        ),
        (
            "dropdown",
            "column",
            json!({"text": null, "value": {"ids": [2]}}),
        ),
        (
            "dropdown",
            "column",
            json!({"text": null, "value": {"labels": ["Housing", "Health"]}}),
        ),
        ("dropdown", "column", json!({"text": null, "value": null})),
        (
            "email",
            "webhook",
            json!({"email": "maya@ctn-example.org", "text": "Maya Thompson", "changed_at": "2025-08-19T07:57:49.669Z"}),
        ),
        (
            "email",
            "column",
            json!({"text": "maya@ctn-example.org", "value": "{\"email\":\"maya@ctn-example.org\",\"text\":\"maya@ctn-example.org\"}"}),
        ),
        (
            "phone",
            "webhook",
            json!({"phone": "18855556766", "countryShortName": "US", "changed_at": "2025-11-09T15:12:26.746Z"}),
        ),
        (
            "phone",
            "column",
            json!({"text": "31622222222", "value": "{\"phone\":\"31622222222\",\"countryShortName\":\"NL\"}"}),
        ),
        (
            "phone",
            "webhook",
            json!({"phone": "(415) 555-0100", "countryShortName": ""}),
        ),
        (
            "phone",
            "webhook",
            json!({"phone": "call the office", "countryShortName": "US"}),
        ),
        (
            "long_text",
            "webhook",
            json!({"text": "Line one\nLine two", "changed_at": "2025-06-26T02:36:58.418Z"}),
        ),
        (
            "long_text",
            "column",
            json!({"text": "def", "value": "{\"text\":\"def\",\"changed_at\":\"2025-02-17T19:08:02.712Z\"}"}),
        ),
        ("numbers", "webhook", json!({"value": 42, "unit": null})),
        (
            "numbers",
            "column",
            json!({"text": "10", "value": "\"10\""}),
        ),
        ("numbers", "column", json!({"text": "", "value": "530000"})),
        (
            "numbers",
            "column",
            json!({"text": "", "value": "\"12.5\""}),
        ),
        ("numbers", "webhook", json!({"value": "twelve"})),
        (
            "date",
            "webhook",
            json!({"date": "2021-10-11", "icon": null, "time": null}),
        ),
        (
            "date",
            "webhook",
            json!({"date": "2021-10-11", "icon": null, "time": "03:30:00"}),
        ),
        (
            "date",
            "column",
            json!({"text": "2025-02-10", "value": "{\"date\":\"2025-02-10\",\"icon\":null,\"changed_at\":\"2025-02-07T09:49:21.812Z\"}"}),
        ),
        (
            "date",
            "webhook",
            json!({"date": "2021-02-30", "icon": null, "time": null}),
        ),
        (
            "date_time",
            "webhook",
            json!({"date": "2025-02-10", "icon": null, "time": "14:30:00"}),
        ),
        (
            "date_time",
            "webhook",
            json!({"date": "2025-02-10", "icon": null, "time": null}),
        ),
        ("checkbox", "webhook", json!({"checked": true})),
        (
            "checkbox",
            "column",
            json!({"text": "v", "value": "{\"checked\":true,\"changed_at\":\"2025-02-07T09:58:52.214Z\"}"}),
        ),
        (
            "checkbox",
            "column",
            json!({"text": "", "value": "{\"checked\":false}"}),
        ),
        ("checkbox", "webhook", null_value()),
        (
            "country",
            "webhook",
            json!({"countryCode": "US", "countryName": "United States"}),
        ),
        (
            "country",
            "column",
            json!({"text": "Kenya", "value": "{\"countryCode\":\"KE\",\"countryName\":\"Kenya\"}"}),
        ),
        (
            "link",
            "webhook",
            json!({"url": "https://www.brightfutures.org", "text": "Bright Futures"}),
        ),
        (
            "link",
            "column",
            json!({"text": "https://somelink.nl - https://somelink.nl/", "value": "{\"url\":\"https://somelink.nl/\",\"text\":\"https://somelink.nl\"}"}),
        ),
        (
            "person",
            "webhook",
            json!({"personsAndTeams": [{"id": 58200003, "kind": "person"}], "changed_at": "2025-02-05T17:56:58.364Z"}),
        ),
        (
            "person",
            "webhook",
            json!({"personsAndTeams": [{"id": 58200009, "kind": "person"}]}),
        ),
        (
            "person",
            "webhook",
            json!({"personsAndTeams": [{"id": 9, "kind": "team"}]}),
        ),
        (
            "account",
            "webhook",
            json!({"linkedPulseIds": [{"linkedPulseId": 9_378_100_955_i64}], "changed_at": "2025-02-07T09:55:26.603Z"}),
        ),
        (
            "account",
            "column",
            json!({"text": null, "value": "{\"changed_at\":\"2025-02-07T09:55:26.603Z\",\"linkedPulseIds\":[{\"linkedPulseId\":9378100956}]}"}),
        ),
        (
            "account",
            "column",
            json!({"text": null, "value": null, "linked_item_ids": ["9378100955"]}),
        ),
        (
            "account",
            "column",
            json!({"text": null, "value": "{\"changed_at\":\"2025-02-17T19:08:42.391Z\"}"}),
        ),
        (
            "account",
            "webhook",
            json!({"linkedPulseIds": [{"linkedPulseId": 1234}]}),
        ),
        (
            "timeline",
            "webhook",
            json!({"from": "2026-07-01", "to": "2027-07-01", "visualization_type": null}),
        ),
        (
            "timeline",
            "column",
            json!({"text": "2026-07-01 - 2027-07-01", "value": "{\"from\":\"2026-07-01\",\"to\":\"2027-07-01\"}"}),
        ),
        ("timeline", "webhook", null_value()),
        (
            "rating",
            "webhook",
            json!({"rating": 4, "changed_at": "2025-05-23T20:22:06.326Z"}),
        ),
        (
            "rating",
            "column",
            json!({"text": "", "value": "{\"rating\":0}"}),
        ),
    ]
}

fn null_value() -> Value {
    Value::Null
}

#[test]
fn monday_to_salesforce() {
    let mapping = common::full_mapping();
    let board = &mapping.boards[0];
    let lookups = lookups();
    let mut out = Vec::new();
    for (column, how, input) in monday_cases() {
        let cm = board.column(column).expect("column in the mapping");
        let result = match how {
            "webhook" => {
                let v = (!input.is_null()).then_some(&input);
                to_salesforce(cm, MondayInput::Webhook(v), &lookups)
            }
            _ => {
                let mut with_id = input.clone();
                with_id["id"] = json!(column);
                let cv: ColumnValue = serde_json::from_value(with_id).expect("column value");
                to_salesforce(cm, MondayInput::Column(&cv), &lookups)
            }
        };
        out.push(json!({
            "transform": cm.transform.name(),
            "column": column,
            "from": how,
            "input": input,
            "result": match result {
                Ok(r) => serde_json::to_value(r).expect("serialize"),
                Err(e) => json!({"error": e.to_string()}),
            }
        }));
    }
    insta::assert_yaml_snapshot!(out);
}

/// (column, Salesforce record fields)
fn salesforce_cases() -> Vec<(&'static str, Value)> {
    vec![
        ("text_last", json!({"LastName": "Okafor"})),
        ("text_last", json!({"LastName": null})),
        ("status", json!({"Status": "Open"})),
        ("status", json!({"Status": "Closed"})),
        ("status", json!({"Status": "Working"})),
        ("status", json!({"Status": null})),
        ("sector", json!({"Sector__c": "Government"})),
        ("dropdown", json!({"Industry__c": "Education;Healthcare"})),
        ("dropdown", json!({"Industry__c": null})),
        ("email", json!({"Email": "maya@ctn-example.org"})),
        ("phone", json!({"Phone": "(415) 555-0100"})),
        ("phone", json!({"Phone": "+31 6 2222 2222"})),
        ("phone", json!({"Phone": "ext. 12"})),
        ("long_text", json!({"Description": "Line one\nLine two"})),
        ("numbers", json!({"NumberOfEmployees": 42})),
        ("numbers", json!({"NumberOfEmployees": 12.5})),
        ("numbers", json!({"NumberOfEmployees": null})),
        ("date", json!({"Follow_Up__c": "2026-12-27"})),
        (
            "date_time",
            json!({"Last_Touch__c": "2025-02-10T14:30:00.000+0000"}),
        ),
        (
            "date_time",
            json!({"Last_Touch__c": "2025-02-10T09:30:00-05:00"}),
        ),
        ("checkbox", json!({"Opt_In__c": true})),
        ("checkbox", json!({"Opt_In__c": false})),
        ("country", json!({"Country": "Kenya"})),
        ("country", json!({"Country": "US"})),
        ("country", json!({"Country": "Atlantis"})),
        ("link", json!({"Website": "https://www.brightfutures.org"})),
        ("person", json!({"OwnerId": "005000000000003AAA"})),
        ("person", json!({"OwnerId": "005000000000004AAA"})),
        (
            "account",
            json!({"Linked_Account__c": "001000000000001AAA"}),
        ),
        (
            "account",
            json!({"Linked_Account__c": "001000000000009AAA"}),
        ),
        ("account", json!({"Linked_Account__c": null})),
        (
            "timeline",
            json!({"Start__c": "2026-07-01", "End__c": "2027-07-01"}),
        ),
        (
            "timeline",
            json!({"Start__c": "2026-07-01", "End__c": null}),
        ),
        ("timeline", json!({"Start__c": null, "End__c": null})),
        ("rating", json!({"Score__c": 4})),
    ]
}

#[test]
fn salesforce_to_monday() {
    let mapping = common::full_mapping();
    let board = &mapping.boards[0];
    let lookups = lookups();
    let mut out = Vec::new();
    for (column, record) in salesforce_cases() {
        let cm = board.column(column).expect("column in the mapping");
        let fields = record.as_object().cloned().unwrap_or_default();
        out.push(json!({
            "transform": cm.transform.name(),
            "column": column,
            "record": record,
            "column_values": match to_monday(cm, &fields, &lookups) {
                Ok(w) => serde_json::to_value(w).expect("serialize"),
                Err(e) => json!({"error": e.to_string()}),
            }
        }));
    }
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn too_long_strings_fail_unless_the_mapping_truncates() {
    let mapping = common::full_mapping();
    let board = &mapping.boards[0];
    let lookups = lookups();
    let long = "x".repeat(81);
    let email = board.column("email").expect("email");
    let err = to_salesforce(
        email,
        MondayInput::Webhook(Some(&json!({"email": long, "text": long}))),
        &lookups,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `email`: 81 characters do not fit field `Email` (length 80); set `truncate = true` to cut"
    );
    // Title is 10 characters long and mapped with truncate = true.
    let title = board.column("text_title").expect("title");
    let ok = to_salesforce(
        title,
        MondayInput::Webhook(Some(&json!({"value": "Développeuse senior"}))),
        &lookups,
    )
    .unwrap();
    assert_eq!(
        ok,
        crmsync_core::Converted::Fields(vec![("Title".into(), json!("Développeu"))])
    );
}

#[test]
fn a_multi_select_into_a_single_picklist_is_an_error() {
    let src = r#"
[[board]]
board_id = "100"
object = "Lead"
salesforce_id_column = "text_sfid"
item_name = { field = "Company" }
defaults = { LastName = "x" }

[[board.column]]
column = "dropdown"
field = "Sector__c"
transform = "dropdown"
values = { "Education" = "Nonprofit", "Health" = "Government" }
"#;
    let m = crmsync_core::Mapping::parse(src, "m.toml").unwrap();
    let m = crmsync_core::validate(&m, &common::schema()).unwrap();
    let cm = m.boards[0].column("dropdown").unwrap();
    let v = json!({"chosenValues": [{"id": 1, "name": "Education"}, {"id": 2, "name": "Health"}]});
    let err = to_salesforce(cm, MondayInput::Webhook(Some(&v)), &lookups()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `dropdown`: 2 labels selected but `Sector__c` is a single-select picklist"
    );
    let one = json!({"chosenValues": [{"id": 2, "name": "Health"}]});
    assert_eq!(
        to_salesforce(cm, MondayInput::Webhook(Some(&one)), &lookups()).unwrap(),
        crmsync_core::Converted::Fields(vec![("Sector__c".into(), json!("Government"))])
    );
}

#[test]
fn unsupported_column_types_name_the_column() {
    let err = crmsync_core::Transform::for_column(
        "formula_mkmy4vct",
        &crmsync_core::ColumnKind::parse("formula"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported column type `formula` for column `formula_mkmy4vct`"
    );
    for (name, t) in [
        ("color", "status"),
        ("multiple-person", "people"),
        ("board-relation", "board_relation"),
        ("timerange", "timeline"),
        ("numeric", "numbers"),
        ("long-text", "long_text"),
        ("boolean", "checkbox"),
    ] {
        let kind = crmsync_core::ColumnKind::parse(name);
        assert_eq!(
            crmsync_core::Transform::for_column("c", &kind)
                .unwrap()
                .name(),
            t,
            "{name}"
        );
    }
}
