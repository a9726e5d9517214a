//! Webhook deliveries: every event type snapshotted (insta) and compared field by field with the
//! real deliveries in ../shared/reference/monday/webhook-samples.json; JWT, retries and faults.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use mock_monday::{DeliveryState, Faults, JwtClaims, WebhookFaults};
use serde_json::{json, Value};

fn samples() -> Value {
    let text = std::fs::read_to_string(reference_file("monday/webhook-samples.json")).unwrap_or_else(|e| {
        panic!("reference file monday/webhook-samples.json is required by this test (the real webhook deliveries) but could not be read: {e}")
    });
    serde_json::from_str(&text).expect("webhook-samples.json is JSON")
}

/// Replaces volatile values (ids of deliveries, times) so snapshots are stable.
fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let r = match k.as_str() {
                        "triggerUuid" => json!("[trigger-uuid]"),
                        "triggerTime" | "changed_at" => json!("[time]"),
                        "changedAt" => json!("[epoch-seconds]"),
                        _ => redact(v),
                    };
                    (k.clone(), r)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// JSON type skeleton: objects keep keys, leaves become type names.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// Same key set as the sample, and the same JSON type wherever both are non-null.
fn assert_same_shape(ours: &Value, sample: &Value, ctx: &str) {
    match (ours, sample) {
        // An empty sample object is a map keyed by ids (`columnValues`): only the type is checked.
        (Value::Object(_), Value::Object(b)) if b.is_empty() => {}
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a
                .keys()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let kb: Vec<&String> = b
                .keys()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            assert_eq!(
                ka, kb,
                "{ctx}: key sets differ\nours:   {ours}\nsample: {sample}"
            );
            for (k, v) in a {
                assert_same_shape(v, &b[k], &format!("{ctx}.{k}"));
            }
        }
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                assert_same_shape(x, y, &format!("{ctx}[0]"));
            }
        }
        (a, b) => assert_eq!(
            shape(a),
            shape(b),
            "{ctx}: types differ (ours {a}, sample {b})"
        ),
    }
}

async fn setup(events: &[&str]) -> (mock_monday::RunningMock, Receiver) {
    let m = builder()
        .webhook_retries(Duration::from_millis(50), 3)
        .start()
        .await
        .unwrap();
    let r = Receiver::start(true).await;
    for e in events {
        subscribe(&m, LEADS, &r.url, e, None).await;
    }
    (m, r)
}

#[tokio::test]
async fn every_event_type_matches_the_real_deliveries() {
    let samples = samples();
    let (m, r) = setup(&[
        "create_item",
        "change_column_value",
        "change_name",
        "item_deleted",
        "item_archived",
        "item_restored",
        "item_moved_to_any_group",
    ])
    .await;
    let created = m
        .admin
        .create_item(
            LEADS,
            "Harbor Literacy",
            None,
            json!({ "text_mkry13cw": "Ana", "color_mksj2adq": { "label": "Nurturing" } }),
        )
        .await
        .unwrap();
    assert_eq!(created.events, vec!["create_pulse"]);
    let id = created.item.id.clone();
    let ev = r.wait_events(1).await;
    let body = &ev[0];
    assert_same_shape(
        &body["event"],
        &samples["captured_2025"]["create_item"]["event"],
        "create_pulse",
    );
    insta::assert_json_snapshot!("create_pulse", redact(body));

    // One update per column type, in a fixed order.
    let writes: Vec<(&str, &str, Value)> = vec![
        ("text", "text_mkry1xy1", json!("Lopez")),
        (
            "long_text",
            "long_text_mksfhq35",
            json!({ "text": "Grant reporting takes weeks." }),
        ),
        ("numbers", "numeric_mkt1e5c2", json!("12.5")),
        (
            "status",
            "color_mksj2adq",
            json!({ "label": "Working - Contacted" }),
        ),
        (
            "dropdown",
            "dropdown_mkt48t9a",
            json!({ "labels": ["Housing", "Youth Services"] }),
        ),
        (
            "date",
            "date_mkt1f0l1",
            json!({ "date": "2026-05-04", "time": "16:00:00" }),
        ),
        (
            "email",
            "email_mksx3vtp",
            json!({ "email": "ana@harbor.org", "text": "Ana L." }),
        ),
        (
            "phone",
            "phone_mkt1q2w3",
            json!({ "phone": "14155550123", "countryShortName": "US" }),
        ),
        (
            "link",
            "link_mkt1r8s2",
            json!({ "url": "https://harbor.org", "text": "Harbor" }),
        ),
        ("checkbox", "check_mkt1x9k4", json!({ "checked": "true" })),
        (
            "country",
            "country_mkt1c0un",
            json!({ "countryCode": "CA", "countryName": "Canada" }),
        ),
        (
            "people",
            "person",
            json!({ "personsAndTeams": [{ "id": 58200003, "kind": "person" }] }),
        ),
        (
            "board_relation",
            "board_relation_mks9cjfs",
            json!({ "item_ids": [9378100095u64] }),
        ),
        (
            "timeline",
            "timerange_mkt1t1m3",
            json!({ "from": "2026-06-01", "to": "2026-08-31" }),
        ),
        ("rating", "rating_mkt1r4t5", json!({ "rating": 5 })),
    ];
    let mut n = 1;
    let status_sample = &samples["captured_2025"]["change_status_column_value"]["event"];
    for (kind, col, value) in &writes {
        let res = m
            .admin
            .change_column_value(&id, col, value.clone())
            .await
            .unwrap();
        assert_eq!(res.events, vec!["update_column_value"], "{kind}");
        n += 1;
        let ev = r.wait_events(n).await;
        let body = ev[n - 1].clone();
        assert_eq!(body["event"]["columnId"], *col);
        // The envelope matches the real delivery; value shapes are per type (checked below where
        // the samples show them).
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("value");
                o.remove("previousValue");
            }
            v
        };
        assert_same_shape(
            &strip(&body["event"]),
            &strip(status_sample),
            &format!("update_column_value ({kind})"),
        );
        assert!(body["event"]["value"].is_object(), "{kind}: {body}");
        insta::assert_json_snapshot!(format!("update_column_value_{kind}"), redact(&body));
    }
    // Value shapes where the samples show them.
    let by_col: BTreeMap<String, Value> = r
        .events()
        .into_iter()
        .filter(|b| b["event"]["type"] == "update_column_value")
        .map(|b| (b["event"]["columnId"].as_str().unwrap().to_string(), b))
        .collect();
    assert_same_shape(
        &by_col["color_mksj2adq"]["event"]["value"],
        &status_sample["value"],
        "status value",
    );
    assert_eq!(by_col["color_mksj2adq"]["event"]["columnType"], "color");
    assert_eq!(
        by_col["color_mksj2adq"]["event"]["previousValue"]["label"]["text"],
        "Nurturing"
    );
    assert_same_shape(
        &by_col["date_mkt1f0l1"]["event"]["value"],
        &samples["captured_2025"]["change_subitem_column_value_date"]["event"]["value"],
        "date value",
    );
    assert_same_shape(
        &by_col["person"]["event"]["value"],
        &samples["captured_2025"]["change_column_value_people"]["event"]["value"],
        "people value",
    );
    assert_eq!(by_col["person"]["event"]["columnType"], "multiple-person");
    // The person column was empty: the real 2025 capture of that case carries `previousValue: {}`
    // (not null, unlike an empty status or date).
    let captured_previous =
        &samples["captured_2025"]["change_column_value_people"]["event"]["previousValue"];
    assert_eq!(
        captured_previous,
        &json!({}),
        "the reference sample changed"
    );
    assert_eq!(
        &by_col["person"]["event"]["previousValue"], captured_previous,
        "previousValue of a people column that was empty"
    );
    assert_eq!(
        by_col["date_mkt1f0l1"]["event"]["previousValue"],
        Value::Null,
        "an empty date's previousValue stays null, as in the captures"
    );

    // Rename, move, archive, restore, delete.
    let steps: Vec<(&str, &str)> = vec![
        ("update_name", "change_name"),
        ("move_pulse_into_group", "item_moved_to_any_group"),
        ("archive_pulse", "item_archived"),
        ("restore_pulse", "item_restored"),
        ("delete_pulse", "item_deleted"),
    ];
    for (ty, sample_key) in steps {
        let res = match ty {
            "update_name" => m.admin.rename(&id, "Harbor Literacy Project").await,
            "move_pulse_into_group" => m.admin.move_to_group(&id, "group_mksjq4vd").await,
            "archive_pulse" => m.admin.archive(&id).await,
            "restore_pulse" => m.admin.restore(&id).await,
            _ => m.admin.delete(&id).await,
        }
        .unwrap();
        assert_eq!(res.events, vec![ty]);
        n += 1;
        let ev = r.wait_events(n).await;
        let body = ev[n - 1].clone();
        assert_eq!(body["event"]["type"], ty);
        assert_same_shape(
            &body["event"],
            &samples["captured_2025"][sample_key]["event"],
            ty,
        );
        insta::assert_json_snapshot!(ty, redact(&body));
    }
    let log = m.admin.deliveries().await.unwrap();
    assert_eq!(log.len(), n);
    assert!(log.iter().all(|d| d.state == DeliveryState::Delivered));
}

#[tokio::test]
async fn api_mutations_fire_webhooks_like_ui_edits() {
    let (m, r) = setup(&["create_item", "change_specific_column_value"]).await;
    // A specific-column subscription only sees its column.
    subscribe(
        &m,
        LEADS,
        &r.url,
        "change_specific_column_value",
        Some(json!({ "columnId": "text_mkryhch5" })),
    )
    .await;
    let (_, b) = gql(
        &m,
        "mutation { create_item(board_id: 9378000505, item_name: \"From API\", column_values: \"{\\\"text_mkryhch5\\\":\\\"00Q000000000001AAA\\\"}\") { id } }",
        json!({}),
    )
    .await;
    let id = b["data"]["create_item"]["id"].as_str().unwrap().to_string();
    let ev = r.wait_events(1).await;
    assert_eq!(ev[0]["event"]["type"], "create_pulse");
    assert_eq!(
        ev[0]["event"]["userId"], 58200001,
        "API edits are by the token's user"
    );
    assert_eq!(
        ev[0]["event"]["columnValues"]["text_mkryhch5"]["value"],
        "00Q000000000001AAA"
    );
    gql(&m, &format!("mutation {{ change_simple_column_value(board_id: 9378000505, item_id: {id}, column_id: \"text_mkry13cw\", value: \"X\") {{ id }} }}"), json!({})).await;
    gql(&m, &format!("mutation {{ change_simple_column_value(board_id: 9378000505, item_id: {id}, column_id: \"text_mkryhch5\", value: \"00Q000000000002AAA\") {{ id }} }}"), json!({})).await;
    let ev = r.wait_events(2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        r.events().len(),
        2,
        "only the Salesforce Id column change is delivered: {ev:?}"
    );
    assert_eq!(ev[1]["event"]["columnId"], "text_mkryhch5");
    assert_eq!(
        ev[1]["event"]["previousValue"]["value"],
        "00Q000000000001AAA"
    );
}

#[tokio::test]
async fn challenge_must_be_echoed() {
    let m = start().await;
    let bad = Receiver::start(false).await;
    let (s, b) = gql(
        &m,
        "mutation ($u: String!) { create_webhook(board_id: 9378000505, url: $u, event: create_item) { id } }",
        json!({ "u": bad.url }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["create_webhook"], Value::Null);
    assert_eq!(b["errors"][0]["extensions"]["code"], "InvalidUrlException");
    assert_eq!(bad.all().len(), 1);
    assert!(bad.all()[0].1["challenge"].as_str().unwrap().len() > 20);
    let (_, b) = gql(
        &m,
        "{ webhooks(board_id: 9378000505) { id event board_id config } }",
        json!({}),
    )
    .await;
    assert_eq!(b["data"]["webhooks"], json!([]));
}

#[tokio::test]
async fn app_webhooks_carry_an_hs256_jwt_with_the_url_as_audience() {
    let m = builder().signing_secret("s3cret").start().await.unwrap();
    let r = Receiver::start(true).await;
    subscribe(&m, LEADS, &r.url, "create_item", None).await;
    m.admin
        .create_item(LEADS, "Signed", None, json!({}))
        .await
        .unwrap();
    r.wait_events(1).await;
    for (headers, _) in r.all() {
        let jwt = headers
            .get("authorization")
            .expect("Authorization header")
            .to_str()
            .unwrap();
        assert!(!jwt.starts_with("Bearer"), "raw JWT");
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&[r.url.as_str()]);
        let claims = jsonwebtoken::decode::<JwtClaims>(
            jwt,
            &jsonwebtoken::DecodingKey::from_secret(b"s3cret"),
            &v,
        )
        .expect("valid JWT")
        .claims;
        assert_eq!(claims.aud, r.url);
        assert!(claims.exp > chrono::Utc::now().timestamp());
        let wrong = jsonwebtoken::decode::<JwtClaims>(
            jwt,
            &jsonwebtoken::DecodingKey::from_secret(b"other"),
            &v,
        );
        assert!(wrong.is_err());
    }
}

#[tokio::test]
async fn non_200_answers_are_retried_on_the_schedule() {
    let (m, r) = setup(&["create_item"]).await;
    r.fail_next.store(2, std::sync::atomic::Ordering::SeqCst);
    m.admin
        .create_item(LEADS, "Retry me", None, json!({}))
        .await
        .unwrap();
    let ev = r.wait_events(3).await;
    assert_eq!(ev[0]["event"]["isRetry"], false);
    assert_eq!(ev[1]["event"]["isRetry"], true);
    assert_eq!(ev[2]["event"]["triggerUuid"], ev[0]["event"]["triggerUuid"]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = m.admin.deliveries().await.unwrap();
    assert_eq!(
        log[0].attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![Some(500), Some(500), Some(200)]
    );
    assert_eq!(log[0].state, DeliveryState::Delivered);

    // A receiver that never answers 200 exhausts the schedule (3 retries here).
    r.fail_next.store(100, std::sync::atomic::Ordering::SeqCst);
    m.admin
        .create_item(LEADS, "Never", None, json!({}))
        .await
        .unwrap();
    for _ in 0..100 {
        if m.admin.deliveries().await.unwrap()[1].state == DeliveryState::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = m.admin.deliveries().await.unwrap();
    assert_eq!(log[1].state, DeliveryState::Failed);
    assert_eq!(log[1].attempts.len(), 4);
}

#[tokio::test]
async fn delivery_faults_twice_reversed_held_late() {
    let (m, r) = setup(&["create_item"]).await;
    // Twice.
    m.admin
        .set_faults(&Faults {
            webhooks: WebhookFaults {
                duplicate: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    m.admin
        .create_item(LEADS, "Dup", None, json!({}))
        .await
        .unwrap();
    let ev = r.wait_events(2).await;
    assert_eq!(ev[0]["event"]["triggerUuid"], ev[1]["event"]["triggerUuid"]);
    // Reversed batch of three.
    m.admin
        .set_faults(&Faults {
            webhooks: WebhookFaults {
                reverse_batch: 3,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    for name in ["R1", "R2", "R3"] {
        m.admin
            .create_item(LEADS, name, None, json!({}))
            .await
            .unwrap();
    }
    let ev = r.wait_events(5).await;
    let names: Vec<&str> = ev[2..5]
        .iter()
        .map(|e| e["event"]["pulseName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["R3", "R2", "R1"]);
    // Held until released.
    m.admin
        .set_faults(&Faults {
            webhooks: WebhookFaults {
                hold: true,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    m.admin
        .create_item(LEADS, "Held", None, json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.events().len(), 5);
    assert_eq!(
        m.admin.deliveries().await.unwrap().last().unwrap().state,
        DeliveryState::Held
    );
    m.admin.clear_faults().await.unwrap();
    assert_eq!(m.admin.release_held().await.unwrap(), 1);
    let ev = r.wait_events(6).await;
    assert_eq!(ev[5]["event"]["pulseName"], "Held");
    // Late: a delayed delivery is overtaken by the next one.
    m.admin
        .set_faults(&Faults {
            webhooks: WebhookFaults {
                delay_ms: 300,
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    m.admin
        .create_item(LEADS, "Late", None, json!({}))
        .await
        .unwrap();
    m.admin.clear_faults().await.unwrap();
    m.admin
        .create_item(LEADS, "Early", None, json!({}))
        .await
        .unwrap();
    let ev = r.wait_events(8).await;
    assert_eq!(ev[6]["event"]["pulseName"], "Early");
    assert_eq!(ev[7]["event"]["pulseName"], "Late");
}

/// The `Authorization` of the challenge request and of every event delivery `r` received.
fn challenge_and_event_auth(r: &Receiver) -> (Option<String>, Vec<Option<String>>) {
    let auth = |h: &reqwest::header::HeaderMap| {
        h.get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let all = r.all();
    let challenges: Vec<_> = all
        .iter()
        .filter(|(_, b)| b.get("challenge").is_some())
        .collect();
    assert_eq!(challenges.len(), 1, "{all:?}");
    let events = all
        .iter()
        .filter(|(_, b)| b.get("event").is_some())
        .map(|(h, _)| auth(h))
        .collect();
    (auth(&challenges[0].0), events)
}

fn assert_valid_jwt(jwt: &str, url: &str) {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_audience(&[url]);
    jsonwebtoken::decode::<JwtClaims>(jwt, &jsonwebtoken::DecodingKey::from_secret(b"s3cret"), &v)
        .expect("valid JWT");
}

#[tokio::test]
async fn app_webhook_challenges_are_signed_by_default() {
    let m = builder().signing_secret("s3cret").start().await.unwrap();
    let r = Receiver::start(true).await;
    subscribe(&m, LEADS, &r.url, "create_item", None).await;
    m.admin
        .create_item(LEADS, "Signed challenge", None, json!({}))
        .await
        .unwrap();
    r.wait_events(1).await;
    let (challenge, events) = challenge_and_event_auth(&r);
    assert_valid_jwt(&challenge.expect("signed challenge"), &r.url);
    assert_eq!(events.len(), 1);
    assert_valid_jwt(events[0].as_deref().expect("signed event"), &r.url);
}

#[tokio::test]
async fn sign_challenge_false_sends_the_challenge_unsigned_and_events_signed() {
    let m = builder()
        .signing_secret("s3cret")
        .sign_challenge(false)
        .start()
        .await
        .unwrap();
    let r = Receiver::start(true).await;
    subscribe(&m, LEADS, &r.url, "create_item", None).await;
    m.admin
        .create_item(LEADS, "Unsigned challenge", None, json!({}))
        .await
        .unwrap();
    r.wait_events(1).await;
    let (challenge, events) = challenge_and_event_auth(&r);
    assert_eq!(challenge, None, "the challenge carries no Authorization");
    assert_eq!(events.len(), 1);
    assert_valid_jwt(events[0].as_deref().expect("signed event"), &r.url);
}

#[test]
fn the_unsigned_challenge_flag_maps_to_sign_challenge_false() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        monday: mock_monday::Args,
    }
    let default = Cli::try_parse_from(["mock"]).unwrap();
    assert!(default.monday.config().sign_challenge);
    let unsigned = Cli::try_parse_from(["mock", "--monday-unsigned-challenge"]).unwrap();
    assert!(!unsigned.monday.config().sign_challenge);
}
