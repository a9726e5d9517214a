//! Data-driven: every delivery in the reference `webhook-samples.json` parses into the expected
//! variant, and parsing never panics on arbitrary or mutated JSON.

use crmsync_monday::webhook::{
    challenge_response, parse_body, parse_value, EventPayload, WebhookBody, WebhookEvent,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const SAMPLES: &str = "/work/shared/reference/monday/webhook-samples.json";

fn load() -> Map<String, Value> {
    let text = std::fs::read_to_string(SAMPLES)
        .unwrap_or_else(|e| panic!("reference file {SAMPLES} is required for this test: {e}"));
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        other => panic!("{SAMPLES} is not a JSON object: {other:?}"),
    }
}

/// All deliveries: (section/name, body).
fn deliveries(samples: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for section in ["official", "captured_2025"] {
        let Some(Value::Object(entries)) = samples.get(section) else {
            panic!("section `{section}` missing from {SAMPLES}");
        };
        for (name, body) in entries {
            out.push((format!("{section}/{name}"), body.clone()));
        }
    }
    out
}

fn variant(p: &EventPayload) -> &'static str {
    match p {
        EventPayload::CreatePulse(_) => "CreatePulse",
        EventPayload::UpdateColumnValue(_) => "UpdateColumnValue",
        EventPayload::UpdateName(_) => "UpdateName",
        EventPayload::DeletePulse(_) => "DeletePulse",
        EventPayload::ArchivePulse(_) => "ArchivePulse",
        EventPayload::RestorePulse(_) => "RestorePulse",
        EventPayload::MovePulseIntoGroup(_) => "MovePulseIntoGroup",
        EventPayload::CreateUpdate(_) => "CreateUpdate",
        EventPayload::Unknown => "Unknown",
    }
}

fn event(body: &Value) -> WebhookEvent {
    match parse_value(body) {
        Ok(WebhookBody::Event(e)) => *e,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn every_sample_parses_into_the_expected_variant() {
    let samples = load();
    let expected = [
        ("official/create_item", "CreatePulse"),
        ("official/create_subitem", "CreatePulse"),
        ("official/change_column_value_date", "UpdateColumnValue"),
        ("official/create_update", "CreateUpdate"),
        ("official/change_status_column_value", "UpdateColumnValue"),
        ("captured_2025/change_name", "UpdateName"),
        ("captured_2025/create_item", "CreatePulse"),
        ("captured_2025/item_archived", "ArchivePulse"),
        ("captured_2025/item_restored", "RestorePulse"),
        ("captured_2025/item_deleted", "DeletePulse"),
        ("captured_2025/subitem_deleted", "DeletePulse"),
        (
            "captured_2025/item_moved_to_any_group",
            "MovePulseIntoGroup",
        ),
        ("captured_2025/create_column", "Unknown"),
        ("captured_2025/create_update", "CreateUpdate"),
        (
            "captured_2025/change_status_column_value",
            "UpdateColumnValue",
        ),
        (
            "captured_2025/change_column_value_people",
            "UpdateColumnValue",
        ),
        (
            "captured_2025/change_subitem_column_value_date",
            "UpdateColumnValue",
        ),
    ];
    let all = deliveries(&samples);
    for (name, body) in &all {
        let want = expected
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("sample `{name}` has no expected variant in this test"));
        let ev = event(body);
        assert_eq!(variant(&ev.payload), want, "sample `{name}`");
        // Common fields are read from every sample.
        let inner = &body["event"];
        assert_eq!(ev.trigger_uuid(), inner["triggerUuid"].as_str(), "{name}");
        assert_eq!(
            ev.meta.event_type,
            inner["type"].as_str().unwrap_or_default(),
            "{name}"
        );
        assert_eq!(
            ev.board_id().map(str::to_owned),
            inner
                .get("boardId")
                .map(|b| b.to_string().trim_matches('"').to_owned()),
            "{name}"
        );
        assert_eq!(&ev.raw, inner, "{name}: raw keeps the event exactly");
        if want != "Unknown" {
            assert!(ev.item_id().is_some(), "{name}: item id");
        }
    }
    assert_eq!(all.len(), expected.len(), "every expected sample exists");
}

#[test]
fn field_details_of_representative_samples() {
    let samples = load();
    let get = |section: &str, name: &str| event(&samples[section][name]);

    let EventPayload::DeletePulse(d) = get("captured_2025", "item_deleted").payload else {
        panic!("delete")
    };
    assert_eq!(d.item_id, "8409778368", "itemId, not pulseId, on deletes");
    assert_eq!(d.board_id, "7786783342");
    assert_eq!(d.item_name.as_deref(), Some("New item 1"));

    let EventPayload::DeletePulse(sub) = get("captured_2025", "subitem_deleted").payload else {
        panic!("subitem delete")
    };
    assert_eq!(sub.parent_item_id.as_deref(), Some("7786784079"));
    assert_eq!(sub.parent_board_id.as_deref(), Some("7786783342"));

    let status = get("captured_2025", "change_status_column_value");
    assert_eq!(status.meta.is_retry, Some(false));
    assert_eq!(status.meta.subscription_id.as_deref(), Some("466701570"));
    assert_eq!(status.meta.user_id.as_deref(), Some("67214742"));
    assert_eq!(status.meta.app.as_deref(), Some("monday"));
    assert_eq!(
        status.meta.trigger_time.as_deref(),
        Some("2025-02-05T17:52:53.186Z")
    );
    let EventPayload::UpdateColumnValue(u) = status.payload else {
        panic!("update")
    };
    assert_eq!(u.column_id, "status_mkmwnxnk");
    assert_eq!(u.column_type.as_deref(), Some("color"));
    assert_eq!(
        u.value.as_ref().map(|v| v["label"]["index"].clone()),
        Some(json!(0))
    );
    assert_eq!(u.previous_value, None);
    assert_eq!(u.changed_at, Some(1738777972.386279));

    let EventPayload::UpdateColumnValue(people) =
        get("captured_2025", "change_column_value_people").payload
    else {
        panic!("people")
    };
    assert_eq!(people.previous_value, Some(json!({})));

    let EventPayload::UpdateColumnValue(sub_date) =
        get("captured_2025", "change_subitem_column_value_date").payload
    else {
        panic!("subitem date")
    };
    assert_eq!(sub_date.parent_item_id.as_deref(), Some("7786784156"));
    assert_eq!(sub_date.parent_item_board_id.as_deref(), Some("7786783342"));

    let EventPayload::UpdateName(n) = get("captured_2025", "change_name").payload else {
        panic!("name")
    };
    assert_eq!(n.new_name(), Some("New Name 2"));
    assert_eq!(n.previous_name(), Some("New Name"));

    let EventPayload::MovePulseIntoGroup(m) =
        get("captured_2025", "item_moved_to_any_group").payload
    else {
        panic!("move")
    };
    assert_eq!(m.source_group_id.as_deref(), Some("topics"));
    assert_eq!(m.dest_group_id.as_deref(), Some("new_group_mkmwnd8t"));

    let EventPayload::RestorePulse(r) = get("captured_2025", "item_restored").payload else {
        panic!("restore")
    };
    assert_eq!(r.value, Some(json!({"state": 1, "is_undo": true})));

    let EventPayload::CreateUpdate(c) = get("official", "create_update").payload else {
        panic!("create_update")
    };
    assert_eq!(c.update_id.as_deref(), Some("1190616585"));
    assert_eq!(c.text_body.as_deref(), Some("create_update webhook"));

    let EventPayload::CreatePulse(sub) = get("official", "create_subitem").payload else {
        panic!("subitem")
    };
    assert_eq!(sub.parent_item_id.as_deref(), Some("1771812716"));
    assert_eq!(sub.group_name.as_deref(), Some("Subitems"));
}

#[test]
fn challenge_sample_round_trips() {
    let samples = load();
    let body = serde_json::to_vec(&samples["challenge_request"]).expect("serialise");
    let WebhookBody::Challenge(c) = parse_body(&body).expect("challenge") else {
        panic!("not a challenge")
    };
    assert_eq!(challenge_response(&c), samples["challenge_response"]);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z_]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "create_pulse",
            "update_column_value",
            "update_name",
            "delete_pulse",
            "archive_pulse",
            "restore_pulse",
            "move_pulse_into_group",
            "create_update",
            "challenge",
            "event",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let keys = prop::sample::select(vec![
            "event",
            "type",
            "challenge",
            "boardId",
            "pulseId",
            "itemId",
            "columnId",
            "value",
            "previousValue",
            "triggerUuid",
            "changedAt",
            "groupId",
            "destGroup",
            "userId",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

/// Replaces the value at a pseudo-random path of `v` with `replacement`, or deletes a key.
fn mutate(v: &mut Value, choices: &[usize], replacement: Value, delete: bool) {
    let Some((c, rest)) = choices.split_first() else {
        *v = replacement;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(c % m.len()).cloned().unwrap_or_default();
            if rest.is_empty() {
                if delete {
                    m.remove(&key);
                } else {
                    m.insert(key, replacement);
                }
            } else if let Some(child) = m.get_mut(&key) {
                mutate(child, rest, replacement, delete);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = c % a.len();
            mutate(&mut a[i], rest, replacement, delete);
        }
        other => *other = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_json_never_panics(v in arb_json()) {
        let _ = parse_value(&v);
        let _ = parse_value(&json!({ "event": v.clone() }));
        let bytes = serde_json::to_vec(&v).expect("serialise");
        let _ = parse_body(&bytes);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_body(&bytes);
    }

    #[test]
    fn mutated_real_samples_never_panic_and_unknown_types_stay_raw(
        idx in any::<prop::sample::Index>(),
        path in prop::collection::vec(any::<usize>(), 1..4),
        replacement in arb_json(),
        delete in any::<bool>(),
    ) {
        let samples = load();
        let all = deliveries(&samples);
        let (_, mut body) = all[idx.index(all.len())].clone();
        mutate(&mut body, &path, replacement, delete);
        match parse_value(&body) {
            Ok(WebhookBody::Event(ev)) => {
                if variant(&ev.payload) == "Unknown" {
                    // Unknown types keep the whole event.
                    prop_assert!(ev.raw.is_object());
                }
            }
            Ok(WebhookBody::Challenge(_)) | Err(_) => {}
        }
    }

    #[test]
    fn unknown_types_are_never_an_error(t in "[a-z_]{1,20}", extra in arb_json()) {
        prop_assume!(![
            "create_pulse", "update_column_value", "update_name", "delete_pulse", "archive_pulse",
            "restore_pulse", "move_pulse_into_group", "create_update",
        ].contains(&t.as_str()));
        let body = json!({"event": {"type": t, "extra": extra}});
        let parsed = parse_value(&body);
        prop_assert!(matches!(parsed, Ok(WebhookBody::Event(ref e)) if e.payload == EventPayload::Unknown));
    }
}
