//! `boards { activity_logs }`: one entry per change (create, column change, rename, delete,
//! archive, restore), whoever made it, in the real 2026-10 shapes (`data` a JSON string with
//! snake_case keys, `created_at` in 100-ns ticks), newest first, with `from`/`to` and id filters.

mod common;

use common::*;
use serde_json::{json, Value};

const Q: &str = "query ($b: [ID!], $from: ISO8601DateTime, $to: ISO8601DateTime, $items: [ID!], $users: [ID!], $limit: Int, $page: Int) { boards(ids: $b) { activity_logs(from: $from, to: $to, item_ids: $items, user_ids: $users, limit: $limit, page: $page) { id event entity user_id account_id created_at data } } }";

async fn logs(m: &mock_monday::RunningMock, vars: Value) -> Vec<Value> {
    let (status, body) = gql(m, Q, vars).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["boards"][0]["activity_logs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn data(e: &Value) -> Value {
    serde_json::from_str(e["data"].as_str().expect("data is a JSON string")).expect("data parses")
}

#[tokio::test]
async fn every_change_is_logged_newest_first_in_the_real_shapes() {
    let m = start().await;
    let before = chrono::Utc::now();
    let created = m
        .admin
        .create_item(
            LEADS,
            "Acme Health",
            None,
            json!({ "text_mkry13cw": "Ada" }),
        )
        .await
        .unwrap();
    let id = created.item.id.clone();
    m.admin
        .change_column_value(&id, "color_mksj2adq", json!({ "label": "Nurturing" }))
        .await
        .unwrap();
    m.admin.rename(&id, "Acme Health Inc").await.unwrap();
    m.admin.archive(&id).await.unwrap();
    m.admin.restore(&id).await.unwrap();
    m.admin.delete(&id).await.unwrap();

    let all = logs(&m, json!({ "b": [LEADS], "items": [id], "limit": 100 })).await;
    let events: Vec<&str> = all.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "delete_pulse",
            "restore_pulse",
            "archive_pulse",
            "update_name",
            "update_column_value",
            "create_pulse"
        ],
        "newest first (values set by the create are part of it): {all:#?}"
    );
    for e in &all {
        assert_eq!(e["entity"], "pulse");
        assert_eq!(
            e["user_id"], "58200002",
            "act-as-user edits are the seeded second user's"
        );
        let ticks = e["created_at"].as_str().unwrap();
        assert_eq!(ticks.len(), 17, "100-ns ticks since the epoch: {ticks}");
        let secs: i64 = ticks[..10].parse().unwrap();
        assert!((secs - before.timestamp()).abs() < 60);
        let d = data(e);
        assert_eq!(d["board_id"], json!(9378000505u64));
        assert_eq!(d["pulse_id"], json!(id.parse::<u64>().unwrap()));
    }
    let rename = data(&all[3]);
    assert_eq!(rename["previous_value"], json!({ "name": "Acme Health" }));
    assert_eq!(rename["value"], json!({ "name": "Acme Health Inc" }));
    let status = all
        .iter()
        .map(data)
        .find(|d| d["column_id"] == "color_mksj2adq")
        .expect("status change logged");
    assert_eq!(status["column_type"], "color");
    assert_eq!(status["value"]["label"]["text"], "Nurturing");
    assert_eq!(status["textual_value"], "Nurturing");
    assert_eq!(data(all.last().unwrap())["pulse_name"], "Acme Health");

    // Paging: limit 2, page 2 is the third and fourth newest.
    let page2 = logs(
        &m,
        json!({ "b": [LEADS], "items": [id], "limit": 2, "page": 2 }),
    )
    .await;
    assert_eq!(page2, all[2..4].to_vec());
    // `to` before everything: nothing; `from` after everything: nothing.
    let past = (before - chrono::Duration::seconds(5)).to_rfc3339();
    assert!(logs(&m, json!({ "b": [LEADS], "to": past }))
        .await
        .is_empty());
    let future = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    assert!(logs(&m, json!({ "b": [LEADS], "from": future }))
        .await
        .is_empty());
    // The API token's own user made none of them.
    assert!(logs(&m, json!({ "b": [LEADS], "users": ["58200001"] }))
        .await
        .is_empty());
}

#[tokio::test]
async fn api_writes_are_logged_as_the_token_user_and_a_bad_time_is_a_clear_error() {
    let m = start().await;
    let (status, body) = gql(
        &m,
        "mutation { create_item(board_id: 9378000505, item_name: \"By API\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, me) = gql(&m, "{ me { id } }", json!({})).await;
    let me = me["data"]["me"]["id"].as_str().unwrap().to_string();
    let mine = logs(&m, json!({ "b": [LEADS], "users": [me] })).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["event"], "create_pulse");

    let (status, body) = gql(&m, Q, json!({ "b": [LEADS], "from": "yesterday" })).await;
    assert_eq!(status, 200);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|s| s.contains("from")),
        "{body}"
    );
}
