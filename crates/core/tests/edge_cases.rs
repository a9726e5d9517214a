//! Phone, date and multi-select edge cases.

mod common;

use crmsync_core::{
    normalize_phone, to_monday, to_salesforce, ColumnMapping, Converted, MondayInput, MondayWrite,
    StaticLookups, Transform,
};
use serde_json::{json, Map, Value};

fn sf(cm: &ColumnMapping, v: Value) -> Result<Converted, String> {
    to_salesforce(
        cm,
        MondayInput::Webhook(Some(&v)),
        &StaticLookups::default(),
    )
    .map_err(|e| e.to_string())
}

fn monday(cm: &ColumnMapping, field: &str, v: Value) -> Result<MondayWrite, String> {
    let rec: Map<String, Value> = [(field.to_string(), v)].into_iter().collect();
    to_monday(cm, &rec, &StaticLookups::default()).map_err(|e| e.to_string())
}

fn one(field: &str, v: Value) -> Result<Converted, String> {
    Ok(Converted::Fields(vec![(field.to_string(), v)]))
}

#[test]
fn phone_edge_cases() {
    let ok = |raw: &str, c: Option<&str>| normalize_phone(raw, c).map_err(|e| e.to_string());
    assert_eq!(ok("0044 20 7946 0958", None), Ok("+442079460958".into()));
    assert_eq!(ok(" +1 (415) 555-0100 ", None), Ok("+14155550100".into()));
    assert_eq!(ok("612345678", Some("NL")), Ok("+31612345678".into()));
    assert_eq!(ok("0031 6 12345678", Some("US")), Ok("+31612345678".into()));
    assert_eq!(ok("+39 06 6982 1234", None), Ok("+390669821234".into()));
    assert_eq!(ok("4155550100", Some("us")), Ok("+14155550100".into()));
    assert_eq!(
        ok("", Some("US")),
        Err("phone number \"\" has 1 digits with its country code; E.164 allows 8 to 15".into())
    );
    assert_eq!(
        ok("+", None),
        Err("phone number \"+\" has 0 digits with its country code; E.164 allows 8 to 15".into())
    );
    assert_eq!(
        ok("+1234567890123456", None),
        Err("phone number \"+1234567890123456\" has 16 digits with its country code; E.164 allows 8 to 15".into())
    );
    assert_eq!(
        ok("415-555-0100 x12", Some("US")),
        Err("phone number \"415-555-0100 x12\" contains 'x', which is not a digit, space or one of + - . ( ) /".into())
    );
    assert_eq!(ok("1+415", Some("US")), Err("phone number \"1+415\" contains '+', which is not a digit, space or one of + - . ( ) /".into()));

    // A column without a country falls back to the mapping's default_country.
    let mut cm = ColumnMapping::new("phone", "Phone", Transform::Phone);
    assert_eq!(
        sf(&cm, json!({"phone": "020 7946 0958", "countryShortName": ""})),
        Err("column `phone`: phone number \"020 7946 0958\" has no international prefix and no country was given".into())
    );
    cm.default_country = Some("GB".into());
    assert_eq!(
        sf(
            &cm,
            json!({"phone": "020 7946 0958", "countryShortName": ""})
        ),
        one("Phone", json!("+442079460958"))
    );
    // Monday's simple string format "number country".
    assert_eq!(
        sf(&cm, json!("+1 415 555 0100 US")),
        one("Phone", json!("+14155550100"))
    );
    // And back: the country comes from the calling code.
    assert_eq!(
        monday(&cm, "Phone", json!("+44 20 7946 0958")),
        Ok(MondayWrite::Value(
            json!({"phone": "+442079460958", "countryShortName": "GB"})
        ))
    );
}

#[test]
fn date_edge_cases() {
    let date = ColumnMapping::new("date", "Follow_Up__c", Transform::Date);
    assert_eq!(
        sf(&date, json!({"date": "2024-02-29", "time": null})),
        one("Follow_Up__c", json!("2024-02-29"))
    );
    assert_eq!(
        sf(&date, json!({"date": "2023-02-29", "time": null})),
        Err(
            "column `date` (date): not a YYYY-MM-DD date: {\"date\":\"2023-02-29\",\"time\":null}"
                .into()
        )
    );
    assert_eq!(
        sf(&date, json!({"date": "2025-02-10", "time": "25:00:00"})),
        Err("column `date` (date): not a HH:MM:SS time: {\"date\":\"2025-02-10\",\"time\":\"25:00:00\"}".into())
    );
    assert_eq!(
        sf(&date, json!("2025-02-10 14:30")),
        one("Follow_Up__c", json!("2025-02-10"))
    );
    // Monday stores times in UTC: 23:30 UTC is the next day at +02:00, the same day at UTC.
    let mut east = date.clone();
    east.timezone = chrono::FixedOffset::east_opt(2 * 3600);
    assert_eq!(
        sf(&east, json!({"date": "2025-12-31", "time": "23:30:00"})),
        one("Follow_Up__c", json!("2026-01-01"))
    );
    assert_eq!(
        sf(&date, json!({"date": "2025-12-31", "time": "23:30:00"})),
        one("Follow_Up__c", json!("2025-12-31"))
    );
    // DateTime: a date without time is midnight in the mapping's offset.
    let mut dt = ColumnMapping::new("date", "Last_Touch__c", Transform::DateTime);
    dt.timezone = chrono::FixedOffset::west_opt(5 * 3600);
    assert_eq!(
        sf(&dt, json!({"date": "2025-02-10", "time": null})),
        one("Last_Touch__c", json!("2025-02-10T05:00:00.000+0000"))
    );
    assert_eq!(
        sf(&dt, json!({"date": "2025-02-10", "time": "04:05"})),
        one("Last_Touch__c", json!("2025-02-10T04:05:00.000+0000"))
    );
    // Salesforce DateTimes in any offset reach Monday in UTC.
    assert_eq!(
        monday(&dt, "Last_Touch__c", json!("2025-02-10T23:30:00.000-0500")),
        Ok(MondayWrite::Value(
            json!({"date": "2025-02-11", "time": "04:30:00"})
        ))
    );
    assert_eq!(
        monday(&dt, "Last_Touch__c", json!("yesterday")),
        Err("column `date` (datetime): Salesforce field `Last_Touch__c` is not a DateTime: \"yesterday\"".into())
    );
    // A text column feeding a date field accepts ISO and US dates only.
    let mut text = ColumnMapping::new("text_mks69r6r", "Birthdate", Transform::Text);
    text.field_meta = Some(crmsync_core::FieldMeta {
        field_type: "date".into(),
        length: None,
    });
    assert_eq!(
        sf(&text, json!({"value": "12/07/1978"})),
        one("Birthdate", json!("1978-12-07"))
    );
    assert_eq!(
        sf(&text, json!({"value": "7 Dec 1978"})),
        Err("column `text_mks69r6r` (text): \"7 Dec 1978\" is not a date (YYYY-MM-DD or MM/DD/YYYY) for date field `Birthdate`".into())
    );
}

#[test]
fn multi_select_edge_cases() {
    let mapping = common::full_mapping();
    let cm = mapping.boards[0].column("dropdown").expect("dropdown");
    // Empty selections clear the field.
    assert_eq!(
        sf(cm, json!({"chosenValues": []})),
        one("Industry__c", Value::Null)
    );
    // Two Monday labels mapping to one value give it once.
    assert_eq!(
        sf(
            cm,
            json!({"chosenValues": [{"id": 2, "name": "Health"}, {"id": 1, "name": "Education"}, {"id": 2, "name": "Health"}]})
        ),
        one("Industry__c", json!("Healthcare;Education"))
    );
    // Salesforce values with stray separators and spaces.
    assert_eq!(
        monday(cm, "Industry__c", json!(" Education ;;Healthcare; ")),
        Ok(MondayWrite::Value(
            json!({"labels": ["Education", "Health"]})
        ))
    );
    assert_eq!(
        monday(cm, "Industry__c", json!(";")),
        Ok(MondayWrite::Value(Value::Null))
    );
    // Label ids with no names and no label table: the planner asks for the item.
    let bare = ColumnMapping::new("dropdown", "Industry__c", Transform::Dropdown);
    assert_eq!(
        sf(&bare, json!({"ids": [1, 3]})),
        Ok(Converted::NeedsItem(
            "dropdown column `dropdown` has label ids [1, 3] and no label names".into()
        ))
    );
    // Monday's simple string format "a, b".
    assert_eq!(
        sf(cm, json!("Education, Housing")),
        one("Industry__c", json!("Education;Housing"))
    );
}
