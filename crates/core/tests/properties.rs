//! Property tests: Salesforce -> Monday -> Salesforce is the identity for every lossless transform;
//! normalisation is idempotent; no input panics.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crmsync_core::{
    country_name, normalize_phone, plan, same_salesforce_value, to_monday, to_salesforce,
    ColumnMapping, ColumnValue, Converted, FieldMeta, Mapping, MondayInput, MondayWrite,
    PlanContext, StaticLookups, Transform, WebhookEvent,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn lookups() -> StaticLookups {
    let mut l = StaticLookups::default().link("9378100955", "001000000000001AAA");
    l.monday_users
        .insert("58200003".into(), "priya.raman@ctn-example.org".into());
    l.salesforce_users.insert(
        "005000000000003AAA".into(),
        "Priya.Raman@ctn-example.org".into(),
    );
    l
}

/// Salesforce fields -> Monday write -> Monday storage -> Salesforce fields.
fn round_trip(cm: &ColumnMapping, record: &Map<String, Value>) -> Vec<(String, Value)> {
    let l = lookups();
    let write = match to_monday(cm, record, &l).expect("to monday") {
        MondayWrite::Value(v) => v,
        MondayWrite::Deferred(why) => panic!("deferred: {why}"),
    };
    match to_salesforce(cm, MondayInput::Column(&common::store(cm, &write)), &l)
        .expect("to salesforce")
    {
        Converted::Fields(f) => f,
        Converted::NeedsItem(why) => panic!("needs item: {why}"),
    }
}

fn assert_identity(cm: &ColumnMapping, record: Map<String, Value>) -> Result<(), TestCaseError> {
    let back = round_trip(cm, &record);
    for (field, value) in &back {
        let original = record.get(field).cloned().unwrap_or(Value::Null);
        prop_assert!(
            same_salesforce_value(cm, &original, value),
            "{}: {field} {original} came back as {value}",
            cm.transform.name()
        );
    }
    Ok(())
}

fn mapping() -> Mapping {
    common::full_mapping()
}

fn column<'a>(m: &'a Mapping, id: &str) -> &'a ColumnMapping {
    m.boards[0].column(id).expect("column")
}

fn rec(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1900i32..2100, 1u32..=12, 1u32..=31)
        .prop_filter_map("valid date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

fn e164() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "1", "44", "31", "49", "33", "254", "91", "61", "353", "972",
        ]),
        "[1-9][0-9]{6,9}",
    )
        .prop_map(|(cc, n)| format!("+{cc}{n}"))
        .prop_filter("E.164 length", |s| (9..=16).contains(&s.len()))
}

fn country_names() -> Vec<&'static str> {
    let mut out = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = String::from_utf8(vec![a, b]).unwrap_or_default();
            if let Some(n) = country_name(&code) {
                out.push(n);
            }
        }
    }
    out
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "label",
            "text",
            "date",
            "time",
            "2025-02-10",
            "14:30:00",
            "US",
            "+14155550100",
            "5"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "value",
                    "text",
                    "label",
                    "index",
                    "ids",
                    "labels",
                    "chosenValues",
                    "name",
                    "date",
                    "time",
                    "email",
                    "phone",
                    "countryShortName",
                    "url",
                    "checked",
                    "countryCode",
                    "countryName",
                    "personsAndTeams",
                    "id",
                    "kind",
                    "linkedPulseIds",
                    "linkedPulseId",
                    "item_ids",
                    "from",
                    "to",
                    "rating",
                    "changed_at"
                ]),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_round_trips(s in "[A-Za-z0-9À-ÿ][A-Za-z0-9À-ÿ .,'&/-]{0,70}[A-Za-z0-9]") {
        let m = mapping();
        assert_identity(column(&m, "text_last"), rec(&[("LastName", json!(s))]))?;
    }

    #[test]
    fn long_text_round_trips(s in "[^\\s]([^\\u{0}]{0,200}[^\\s])?") {
        let m = mapping();
        assert_identity(column(&m, "long_text"), rec(&[("Description", json!(s))]))?;
    }

    #[test]
    fn integers_round_trip(n in -1_000_000_000i64..1_000_000_000) {
        let m = mapping();
        assert_identity(column(&m, "numbers"), rec(&[("NumberOfEmployees", json!(n))]))?;
    }

    #[test]
    fn decimals_round_trip(x in -1.0e12f64..1.0e12) {
        let mut cm = ColumnMapping::new("numbers", "Amount", Transform::Numbers);
        cm.field_meta = Some(FieldMeta { field_type: "currency".into(), length: None });
        let back = round_trip(&cm, &rec(&[("Amount", json!(x))]));
        prop_assert_eq!(back[0].1.as_f64(), Some(x));
    }

    #[test]
    fn status_round_trips(v in prop::sample::select(vec!["Open", "Working", "Closed"])) {
        let m = mapping();
        assert_identity(column(&m, "status"), rec(&[("Status", json!(v))]))?;
    }

    #[test]
    fn multi_select_round_trips(values in prop::sample::subsequence(vec!["Education", "Healthcare", "Housing"], 1..=3).prop_shuffle()) {
        let m = mapping();
        let joined = values.join(";");
        let back = round_trip(column(&m, "dropdown"), &rec(&[("Industry__c", json!(joined))]));
        prop_assert_eq!(back, vec![("Industry__c".to_string(), json!(joined))]);
    }

    #[test]
    fn dates_round_trip(d in date()) {
        let m = mapping();
        let s = d.format("%Y-%m-%d").to_string();
        let back = round_trip(column(&m, "date"), &rec(&[("Follow_Up__c", json!(s))]));
        prop_assert_eq!(back, vec![("Follow_Up__c".to_string(), json!(s))]);
    }

    #[test]
    fn datetimes_round_trip(secs in -2_000_000_000i64..4_000_000_000) {
        let m = mapping();
        let dt: DateTime<Utc> = Utc.timestamp_opt(secs, 0).single().expect("timestamp");
        let s = crmsync_core::format_sf_datetime(dt);
        let back = round_trip(column(&m, "date_time"), &rec(&[("Last_Touch__c", json!(s))]));
        prop_assert_eq!(back, vec![("Last_Touch__c".to_string(), json!(s))]);
    }

    #[test]
    fn emails_round_trip(e in "[a-z0-9][a-z0-9._]{0,20}@[a-z0-9-]{1,20}\\.(org|com)") {
        let m = mapping();
        assert_identity(column(&m, "email"), rec(&[("Email", json!(e))]))?;
    }

    #[test]
    fn phones_round_trip(p in e164()) {
        let m = mapping();
        let back = round_trip(column(&m, "phone"), &rec(&[("Phone", json!(p))]));
        prop_assert_eq!(back, vec![("Phone".to_string(), json!(p))]);
    }

    #[test]
    fn links_round_trip(u in "https://[a-z]{1,20}\\.org(/[a-z0-9-]{0,12})?") {
        let m = mapping();
        assert_identity(column(&m, "link"), rec(&[("Website", json!(u))]))?;
    }

    #[test]
    fn checkboxes_round_trip(b in any::<bool>()) {
        let m = mapping();
        let back = round_trip(column(&m, "checkbox"), &rec(&[("Opt_In__c", json!(b))]));
        prop_assert_eq!(back, vec![("Opt_In__c".to_string(), json!(b))]);
    }

    #[test]
    fn countries_round_trip(name in prop::sample::select(country_names())) {
        let m = mapping();
        let back = round_trip(column(&m, "country"), &rec(&[("Country", json!(name))]));
        prop_assert_eq!(back, vec![("Country".to_string(), json!(name))]);
    }

    #[test]
    fn timelines_round_trip(a in date(), b in date()) {
        let m = mapping();
        let (a, b) = (a.format("%Y-%m-%d").to_string(), b.format("%Y-%m-%d").to_string());
        let back = round_trip(column(&m, "timeline"), &rec(&[("Start__c", json!(a)), ("End__c", json!(b))]));
        prop_assert_eq!(back, vec![("Start__c".to_string(), json!(a)), ("End__c".to_string(), json!(b))]);
    }

    #[test]
    fn ratings_round_trip(n in 1i64..=5) {
        let m = mapping();
        assert_identity(column(&m, "rating"), rec(&[("Score__c", json!(n))]))?;
    }

    #[test]
    fn clearing_round_trips(col in prop::sample::select(vec!["text_last", "status", "dropdown", "email", "phone", "long_text", "numbers", "date", "date_time", "country", "link", "timeline", "rating", "account"])) {
        // A null field clears the column, and an empty column clears the field.
        let m = mapping();
        let cm = column(&m, col);
        let mut record = rec(&[(cm.field.as_str(), Value::Null)]);
        if let Some(end) = &cm.end_field {
            record.insert(end.clone(), Value::Null);
        }
        for (field, value) in round_trip(cm, &record) {
            prop_assert!(value.is_null(), "{col}: {field} = {value}");
        }
    }

    #[test]
    fn phone_normalisation_is_idempotent(raw in "[+0-9 ()./-]{0,20}", country in prop::option::of(prop::sample::select(vec!["US", "GB", "NL", "IT", "KE", "IN", "ZZ"]))) {
        if let Ok(once) = normalize_phone(&raw, country) {
            prop_assert_eq!(normalize_phone(&once, country), Ok(once.clone()));
            prop_assert_eq!(normalize_phone(&once, None), Ok(once.clone()));
            prop_assert!(once.starts_with('+') && once[1..].bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn salesforce_side_normalisation_is_idempotent(col in prop::sample::select(vec!["text_last", "dropdown", "phone", "email", "long_text", "date", "date_time", "country"]), raw in ".{0,30}") {
        // f = Salesforce -> Monday -> Salesforce; wherever f(x) is defined, f(f(x)) = f(x).
        let m = mapping();
        let cm = column(&m, col);
        let l = lookups();
        let f = |v: &Value| -> Option<Value> {
            let write = match to_monday(cm, &rec(&[(cm.field.as_str(), v.clone())]), &l).ok()? {
                MondayWrite::Value(w) => w,
                MondayWrite::Deferred(_) => return None,
            };
            let cv = ColumnValue { id: cm.column.clone(), value: Some(write), ..ColumnValue::default() };
            match to_salesforce(cm, MondayInput::Column(&cv), &l).ok()? {
                Converted::Fields(fs) => fs.into_iter().next().map(|(_, v)| v),
                Converted::NeedsItem(_) => None,
            }
        };
        if let Some(once) = f(&json!(raw)) {
            prop_assert_eq!(f(&once), Some(once.clone()));
        }
    }

    #[test]
    fn no_webhook_value_panics(value in arb_json()) {
        let m = mapping();
        let l = lookups();
        for cm in &m.boards[0].columns {
            let _ = to_salesforce(cm, MondayInput::Webhook(Some(&value)), &l);
            let as_string = ColumnValue { id: cm.column.clone(), value: Some(Value::String(value.to_string())), text: value.as_str().map(str::to_string), ..ColumnValue::default() };
            let _ = to_salesforce(cm, MondayInput::Column(&as_string), &l);
            let raw = ColumnValue { id: cm.column.clone(), value: Some(value.clone()), ..ColumnValue::default() };
            let _ = to_salesforce(cm, MondayInput::Column(&raw), &l);
            let _ = to_monday(cm, &rec(&[(cm.field.as_str(), value.clone())]), &l);
        }
    }

    #[test]
    fn no_event_panics(value in arb_json(), previous in arb_json(), column in prop::sample::select(vec!["status", "dropdown", "text_sfid", "person", "account", "timeline", "unknown"]), ty in prop::sample::select(vec!["create_pulse", "update_column_value", "update_name", "delete_pulse", "archive_pulse", "create_update", ""]), linked in any::<bool>()) {
        let m = mapping();
        let l = if linked { lookups().link("42", "00Q000000000001AAA") } else { lookups() };
        let event = WebhookEvent {
            event_type: ty.into(),
            board_id: Some("100".into()),
            pulse_id: Some("42".into()),
            column_id: Some(column.to_string()),
            value: Some(value.clone()),
            previous_value: Some(previous),
            ..WebhookEvent::default()
        };
        let ctx = PlanContext { lookups: &l, today: NaiveDate::from_ymd_opt(2026, 11, 27).expect("date") };
        let _ = plan(&event, None, &m, &ctx);
        let item: Result<crmsync_core::Item, _> = serde_json::from_value(json!({"id": "42", "name": "x", "column_values": {column: value}}));
        if let Ok(item) = item {
            let _ = plan(&event, Some(&item), &m, &ctx);
        }
    }

    #[test]
    fn arbitrary_delivery_bodies_do_not_panic(body in arb_json()) {
        if let Ok(d) = serde_json::from_value::<crmsync_core::WebhookDelivery>(body) {
            let m = mapping();
            let l = lookups();
            let ctx = PlanContext { lookups: &l, today: NaiveDate::from_ymd_opt(2026, 11, 27).expect("date") };
            let _ = plan(&d.event, None, &m, &ctx);
        }
    }
}

#[test]
fn people_and_relations_round_trip_when_both_sides_are_linked() {
    let m = mapping();
    assert_eq!(
        round_trip(
            column(&m, "person"),
            &rec(&[("OwnerId", json!("005000000000003AAA"))])
        ),
        vec![("OwnerId".to_string(), json!("005000000000003AAA"))]
    );
    assert_eq!(
        round_trip(
            column(&m, "account"),
            &rec(&[("Linked_Account__c", json!("001000000000001AAA"))])
        ),
        vec![("Linked_Account__c".to_string(), json!("001000000000001AAA"))]
    );
}
