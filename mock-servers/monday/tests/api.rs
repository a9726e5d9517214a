//! The GraphQL endpoint over a real socket: transport rules, reads, writes, errors.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn reads_me_boards_columns_groups() {
    let m = start().await;
    let (s, b) = gql(
        &m,
        "query { me { id name email } boards(ids: [9378000505, \"9378000036\"]) { id name board_kind state columns { id title type settings_str } groups { id title } } complexity { before after query reset_in_x_seconds } }",
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["me"]["id"], "58200001");
    let boards = b["data"]["boards"].as_array().expect("boards");
    assert_eq!(boards.len(), 2);
    assert_eq!(boards[0]["id"], "9378000505");
    let cols = boards[0]["columns"].as_array().expect("columns");
    assert!(cols
        .iter()
        .any(|c| c["id"] == "text_mkryhch5" && c["type"] == "text"));
    assert!(cols
        .iter()
        .any(|c| c["id"] == "color_mksj2adq" && c["type"] == "status"));
    assert!(b["extensions"]["request_id"].as_str().is_some());
    let cx = &b["data"]["complexity"];
    assert_eq!(
        cx["before"].as_i64().unwrap() - cx["query"].as_i64().unwrap(),
        cx["after"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn transport_errors_have_real_statuses() {
    let m = start().await;
    let q = json!({ "query": "{ me { id } }" });
    let (s, _, b) = gql_raw(&m, &[], q.clone()).await;
    assert_eq!(s, 401);
    assert_eq!(b["errors"][0]["extensions"]["code"], "NOT_AUTHENTICATED");
    let (s, _, _) = gql_raw(
        &m,
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        q.clone(),
    )
    .await;
    assert_eq!(s, 401, "the token is sent raw, without Bearer");
    let (s, _, b) = gql_raw(
        &m,
        &[("Authorization", TOKEN), ("API-Version", "2025-03")],
        q.clone(),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, h, _) = gql_raw(
        &m,
        &[("Authorization", TOKEN), ("API-Version", "current")],
        q.clone(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["api-version"], "current");
    let (s, _, b) = gql_raw(
        &m,
        &[("Authorization", TOKEN)],
        json!({ "query": "{ me { id " }),
    )
    .await;
    assert_eq!(s, 400, "parse errors are 400: {b}");
    assert!(b["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Parse error"));
    assert!(b["errors"][0]["locations"][0]["line"].is_number());
}

#[tokio::test]
async fn validation_errors_are_200_with_graphql_ruby_codes() {
    let m = start().await;
    let (s, b) = gql(&m, "{ me { id nickname } }", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["errors"][0]["message"],
        "Field 'nickname' doesn't exist on type 'User'"
    );
    assert_eq!(b["errors"][0]["extensions"]["code"], "undefinedField");
    assert!(b.get("data").is_none(), "{b}");
    let (s, b) = gql(
        &m,
        "query ($ids: [ID!]) { boards(ids: $ids) { id } }",
        json!({ "ids": { "x": 1 } }),
    )
    .await;
    assert_eq!(s, 200);
    assert!(b["errors"][0]["message"].as_str().is_some(), "{b}");
}

#[tokio::test]
async fn items_page_pages_with_cursor_then_null() {
    let m = start().await;
    let (_, b) = gql(
        &m,
        "{ boards(ids: [9378000505]) { items_page(limit: 25) { cursor items { id name } } } }",
        json!({}),
    )
    .await;
    let page = &b["data"]["boards"][0]["items_page"];
    assert_eq!(page["items"].as_array().unwrap().len(), 25);
    let mut cursor = page["cursor"].as_str().expect("cursor").to_string();
    let mut total = 25;
    let mut pages = 1;
    loop {
        let (_, b) = gql(&m, "query ($c: String!) { next_items_page(cursor: $c, limit: 25) { cursor items { id } } }", json!({ "c": cursor })).await;
        let p = &b["data"]["next_items_page"];
        total += p["items"].as_array().unwrap_or_else(|| panic!("{b}")).len();
        pages += 1;
        match p["cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(total, 64);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn expired_cursor_gives_cursor_exception() {
    let m = builder()
        .cursor_ttl(std::time::Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let (_, b) = gql(
        &m,
        "{ boards(ids: [9378000505]) { items_page(limit: 5) { cursor } } }",
        json!({}),
    )
    .await;
    let c = b["data"]["boards"][0]["items_page"]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    let (s, b) = gql(
        &m,
        "query ($c: String!) { next_items_page(cursor: $c) { items { id } } }",
        json!({ "c": c }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"], Value::Null);
    assert_eq!(b["errors"][0]["extensions"]["code"], "CursorException");
    assert!(b["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    assert_eq!(b["errors"][0]["path"][0], "next_items_page");
}

#[tokio::test]
async fn create_change_read_back_and_errors() {
    let m = start().await;
    let cv = json!({
        "text_mkry13cw": "Ada",
        "color_mksj2adq": { "label": "Working - Contacted" },
        "dropdown_mkt48t9a": { "labels": ["Education", "Health"] },
        "email_mksx3vtp": { "email": "ada@example.org", "text": "Ada" },
        "numeric_mkt1e5c2": "42",
        "date_mkt1f0l1": { "date": "2026-03-01", "time": "09:30:00" },
        "phone_mkt1q2w3": { "phone": "12125551234", "countryShortName": "US" },
        "link_mkt1r8s2": { "url": "https://example.org", "text": "Site" },
        "check_mkt1x9k4": { "checked": "true" },
        "country_mkt1c0un": { "countryCode": "US", "countryName": "United States" },
        "person": { "personsAndTeams": [{ "id": 58200002, "kind": "person" }] },
        "timerange_mkt1t1m3": { "from": "2026-01-01", "to": "2026-02-01" },
        "rating_mkt1r4t5": { "rating": 4 },
        "board_relation_mks9cjfs": { "item_ids": [9378100095u64] },
        "long_text_mksfhq35": { "text": "Many challenges" }
    });
    let (s, b) = gql(
        &m,
        "mutation ($b: ID!, $cv: JSON) { create_item(board_id: $b, item_name: \"Acme\", column_values: $cv) { id name column_values { id type text value } } }",
        json!({ "b": LEADS, "cv": cv.to_string() }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let item = &b["data"]["create_item"];
    let text = |id: &str| -> Value {
        item["column_values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["text"]
            .clone()
    };
    assert_eq!(text("color_mksj2adq"), "Working - Contacted");
    assert_eq!(text("dropdown_mkt48t9a"), "Education, Health");
    assert_eq!(text("date_mkt1f0l1"), "2026-03-01 09:30");
    assert_eq!(text("link_mkt1r8s2"), "Site - https://example.org");
    assert_eq!(text("check_mkt1x9k4"), "v");
    assert_eq!(text("person"), "Daniel Okafor");
    assert_eq!(text("timerange_mkt1t1m3"), "2026-01-01 - 2026-02-01");
    assert_eq!(text("board_relation_mks9cjfs"), Value::Null);
    let id = item["id"].as_str().unwrap().to_string();

    // Unknown status label → ColumnValueException; unknown column → InvalidColumnIdException.
    let (s, b) = gql(
        &m,
        "mutation ($b: ID!, $i: ID!) { change_column_value(board_id: $b, item_id: $i, column_id: \"color_mksj2adq\", value: \"{\\\"label\\\":\\\"Nope\\\"}\") { id } }",
        json!({ "b": LEADS, "i": id }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["change_column_value"], Value::Null);
    let e = &b["errors"][0];
    assert_eq!(e["extensions"]["code"], "ColumnValueException", "{b}");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("This status label doesn't exist"));
    assert_eq!(e["path"][0], "change_column_value");
    assert_eq!(e["extensions"]["status_code"], 200);
    let (_, b) = gql(
        &m,
        "mutation ($b: ID!, $i: ID!) { change_multiple_column_values(board_id: $b, item_id: $i, column_values: \"{\\\"nope\\\":\\\"x\\\"}\") { id } }",
        json!({ "b": LEADS, "i": id }),
    )
    .await;
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        "InvalidColumnIdException"
    );
    assert_eq!(
        b["errors"][0]["message"],
        "This column ID doesn't exist for the board"
    );
    // Malformed column_values JSON.
    let (s, b) = gql(
        &m,
        "mutation ($b: ID!, $i: ID!) { change_multiple_column_values(board_id: $b, item_id: $i, column_values: \"{bad json\") { id } }",
        json!({ "b": LEADS, "i": id }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["errors"][0]["extensions"]["code"], "JsonParseException");
    // Unknown board.
    let (_, b) = gql(
        &m,
        "mutation { create_item(board_id: 123, item_name: \"x\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        "InvalidBoardIdException"
    );
    assert_eq!(b["errors"][0]["extensions"]["error_data"]["board_id"], 123);
    // Link without protocol.
    let (_, b) = gql(
        &m,
        "mutation ($b: ID!, $i: ID!) { change_simple_column_value(board_id: $b, item_id: $i, column_id: \"link_mkt1r8s2\", value: \"example.org\") { id } }",
        json!({ "b": LEADS, "i": id }),
    )
    .await;
    assert_eq!(
        b["errors"][0]["extensions"]["code"], "ColumnValueException",
        "{b}"
    );
}

#[tokio::test]
async fn aliased_mutations_run_in_one_request() {
    let m = start().await;
    let (s, b) = gql(
        &m,
        "mutation { a: create_item(board_id: 9378000326, item_name: \"One\") { id } b: create_item(board_id: 9378000326, item_name: \"Two\") { id } c: create_item(board_id: 1, item_name: \"Bad\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(b["data"]["a"]["id"].is_string());
    assert!(b["data"]["b"]["id"].is_string());
    assert_eq!(b["data"]["c"], Value::Null);
    assert_eq!(b["errors"][0]["path"][0], "c");
}

#[tokio::test]
async fn complexity_budget_exhaustion_429_then_200_body() {
    let m = builder()
        .budget(25_000, std::time::Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let q = "mutation { create_item(board_id: 9378000326, item_name: \"x\") { id } }";
    let (s, _) = gql(&m, q, json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = gql(&m, q, json!({})).await;
    assert_eq!(s, 200);
    let (s, h, b) = gql_raw(
        &m,
        &[("Authorization", TOKEN), ("API-Version", "2026-10")],
        json!({ "query": q }),
    )
    .await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        "COMPLEXITY_BUDGET_EXHAUSTED"
    );
    assert!(
        b["errors"][0]["extensions"]["retry_in_seconds"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(h.get("retry-after").is_some());
    m.admin
        .set_faults(&mock_monday::Faults {
            budget_error_mode: Some(mock_monday::BudgetErrorMode::Status200),
            ..Default::default()
        })
        .await
        .unwrap();
    let (s, b) = gql(&m, q, json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        "COMPLEXITY_BUDGET_EXHAUSTED"
    );
    let (s, b) = gql(&m, "query { complexity { before } }", json!({})).await;
    assert_eq!(s, 200, "cheap queries still fit: {b}");
}

#[tokio::test]
async fn mutations_per_minute_limit_refuses_the_whole_request_with_429() {
    // Monday's default is 2,000 mutations a minute; the same counting at 5 per window.
    assert_eq!(mock_monday::Config::default().mutations_per_window, 2_000);
    let m = builder().mutations_per_window(5).start().await.unwrap();
    let three = "mutation { a: create_item(board_id: 9378000326, item_name: \"A\") { id } b: create_item(board_id: 9378000326, item_name: \"B\") { id } c: create_item(board_id: 9378000326, item_name: \"C\") { id } }";
    let count = |b: &Value| {
        b["data"]["boards"][0]["items_page"]["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let items = "query { boards(ids: [9378000326]) { items_page(limit: 500) { items { id } } } }";
    let (_, before) = gql(&m, items, json!({})).await;
    let (s, b) = gql(&m, three, json!({})).await;
    assert_eq!(s, 200, "{b}");
    // Queries are not mutations: they still run.
    let (s, _) = gql(&m, items, json!({})).await;
    assert_eq!(s, 200);
    // 3 + 3 > 5: refused whole, before anything runs.
    let (s, h, b) = gql_raw(
        &m,
        &[("Authorization", TOKEN), ("API-Version", "2026-10")],
        json!({ "query": three }),
    )
    .await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(
        b["errors"][0]["message"],
        "Call limit exceeded for CreateItem"
    );
    assert_eq!(b["errors"][0]["extensions"]["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(b["errors"][0]["extensions"]["status_code"], 429);
    assert!(
        b["errors"][0]["extensions"]["retry_in_seconds"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(h.get("retry-after").is_some());
    let (_, after) = gql(&m, items, json!({})).await;
    assert_eq!(
        count(&after),
        count(&before) + 3,
        "the refused batch created nothing"
    );
    // Two more fit.
    let two = "mutation { a: create_item(board_id: 9378000326, item_name: \"D\") { id } b: create_item(board_id: 9378000326, item_name: \"E\") { id } }";
    let (s, b) = gql(&m, two, json!({})).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn per_query_cap_and_request_limit() {
    let m = builder()
        .per_query_cap(1000)
        .request_limits(3, 250)
        .start()
        .await
        .unwrap();
    let (s, b) = gql(
        &m,
        "{ boards(limit: 100) { items_page(limit: 500) { items { id name } } } }",
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        b["errors"][0]["extensions"]["code"], "maxComplexityExceeded",
        "{b}"
    );
    let _ = gql(&m, "{ me { id } }", json!({})).await;
    let _ = gql(&m, "{ me { id } }", json!({})).await;
    let (s, b) = gql(&m, "{ me { id } }", json!({})).await;
    assert_eq!(s, 429);
    assert_eq!(b["errors"][0]["extensions"]["code"], "RATE_LIMIT_EXCEEDED");
}

/// A document whose fragments each spread the previous one twice: `levels` levels expand to
/// 2^levels copies of `leaf`.
fn fragment_bomb(levels: u32, leaf: &str) -> String {
    let mut q = format!("query {{ ...F{levels} }}\nfragment F0 on Query {{ {leaf} }}\n");
    for i in 1..=levels {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    q
}

#[tokio::test]
async fn fragment_bombs_are_refused_with_the_complexity_error() {
    // Default cap (5,000,000). 2^30 copies of `me { id }` would take the estimator (and the
    // executor) forever; the estimator bounds its own work and the query is refused before it runs.
    let m = start().await;
    for leaf in ["me { id }", "__typename"] {
        let (s, b) = gql(&m, &fragment_bomb(30, leaf), json!({})).await;
        assert_eq!(s, 200, "{leaf}: {b}");
        let e = &b["errors"][0];
        assert_eq!(
            e["extensions"]["code"], "maxComplexityExceeded",
            "{leaf}: {b}"
        );
        assert_eq!(e["extensions"]["maxComplexity"], 5_000_000, "{leaf}: {b}");
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|msg| msg.contains("exceeds max complexity of 5000000")),
            "{leaf}: {b}"
        );
        assert!(b.get("data").is_none(), "nothing was executed: {b}");
    }
    // The journal records the refusal, and the budget was not charged.
    let journal = m.admin.requests().await.unwrap();
    assert_eq!(journal.len(), 2);
    let (_, b) = gql(&m, "{ complexity { before } }", json!({})).await;
    assert_eq!(b["data"]["complexity"]["before"], 10_000_000, "{b}");
    // A small fragment tree is still served.
    let (s, b) = gql(&m, &fragment_bomb(3, "me { id }"), json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["me"]["id"], "58200001", "{b}");
}

#[tokio::test]
async fn introspection_is_enabled() {
    let m = start().await;
    let (s, b) = gql(
        &m,
        "{ __type(name: \"Item\") { fields { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = b["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"column_values"));
}

#[tokio::test]
async fn complexity_is_served_on_the_mutation_root_too() {
    let m = start().await;
    let (s, b) = gql(
        &m,
        "mutation { complexity { before query after reset_in_x_seconds } create_item(board_id: 9378000326, item_name: \"C\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = &b["data"]["complexity"];
    assert!(c["query"].as_i64().unwrap() >= 10_000, "{b}");
    assert_eq!(
        c["before"].as_i64().unwrap() - c["query"].as_i64().unwrap(),
        c["after"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn concurrency_limit_answers_429() {
    let m = builder().request_limits(1000, 1).start().await.unwrap();
    m.admin
        .set_faults(&mock_monday::Faults {
            latency_ms: 300,
            ..Default::default()
        })
        .await
        .unwrap();
    let (a, b) = tokio::join!(gql(&m, "{ me { id } }", json!({})), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gql(&m, "{ me { id } }", json!({})).await
    });
    let statuses = [a.0, b.0];
    assert!(
        statuses.contains(&200) && statuses.contains(&429),
        "{statuses:?} {a:?} {b:?}"
    );
    let limited = if a.0 == 429 { a.1 } else { b.1 };
    assert_eq!(
        limited["errors"][0]["extensions"]["code"],
        "maxConcurrencyExceeded"
    );
}

#[tokio::test]
async fn admin_state_item_view_and_reset() {
    let m = start().await;
    let created = m
        .admin
        .create_item(
            ACCOUNTS,
            "Reset Me",
            Some("group_mksjv7k2"),
            json!({ "color_mkstk7e5": "Education", "numeric_mkt0emp1": 5 }),
        )
        .await
        .unwrap();
    assert_eq!(created.item.group_id, "group_mksjv7k2");
    assert_eq!(
        created
            .item
            .column("color_mkstk7e5")
            .unwrap()
            .text
            .as_deref(),
        Some("Education")
    );
    assert_eq!(
        created
            .item
            .column("numeric_mkt0emp1")
            .unwrap()
            .value
            .as_deref(),
        Some("\"5\"")
    );
    let view = m.admin.item(&created.item.id).await.unwrap();
    assert_eq!(view, created.item);
    let state = m.admin.state().await.unwrap();
    assert_eq!(state["items"].as_array().unwrap().len(), 180);
    assert_eq!(state["boards"].as_array().unwrap().len(), 4);
    // Errors from the admin API name the problem.
    let err = m
        .admin
        .change_column_value(&created.item.id, "nope", json!("x"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("InvalidColumnIdException"),
        "{err}"
    );
    m.admin.reset().await.unwrap();
    let state = m.admin.state().await.unwrap();
    assert_eq!(state["items"].as_array().unwrap().len(), 179);
    assert!(m.admin.item(&created.item.id).await.is_err());
    assert!(m.admin.requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn board_relation_value_is_returned_before_2025_04_only() {
    let m = start().await;
    let q = json!({ "query": "{ items(ids: [9378100095]) { id } boards(ids: [9429890440]) { items_page(limit: 1) { items { column_values(ids: [\"board_relation_mks98dnn\"]) { text value ... on BoardRelationValue { linked_item_ids display_value } } } } } }" });
    let (_, _, new) = gql_raw(
        &m,
        &[("Authorization", TOKEN), ("API-Version", "2025-04")],
        q.clone(),
    )
    .await;
    let (_, _, old) = gql_raw(
        &m,
        &[("Authorization", TOKEN), ("API-Version", "2025-01")],
        q,
    )
    .await;
    let cv =
        |b: &Value| b["data"]["boards"][0]["items_page"]["items"][0]["column_values"][0].clone();
    assert_eq!(cv(&new)["value"], Value::Null);
    assert_eq!(cv(&new)["text"], Value::Null);
    assert!(
        cv(&new)["display_value"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{new}"
    );
    let old_value: Value =
        serde_json::from_str(cv(&old)["value"].as_str().expect("value before 2025-04")).unwrap();
    assert_eq!(
        old_value["linkedPulseIds"][0]["linkedPulseId"].to_string(),
        cv(&new)["linked_item_ids"][0].as_str().unwrap()
    );
}

#[tokio::test]
async fn lookups_by_column_value() {
    let m = start().await;
    let created = m
        .admin
        .create_item(
            LEADS,
            "Lookup Co",
            None,
            json!({ "text_mkryhch5": "00Q000000000042AAA" }),
        )
        .await
        .unwrap();
    let (s, b) = gql(
        &m,
        "query ($cols: [ItemsPageByColumnValuesQuery!]) { items_page_by_column_values(board_id: 9378000505, columns: $cols) { cursor items { id name } } }",
        json!({ "cols": [{ "column_id": "text_mkryhch5", "column_values": ["00Q000000000042AAA"] }] }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"]["items_page_by_column_values"]["items"],
        json!([{ "id": created.item.id, "name": "Lookup Co" }])
    );
    let (_, b) = gql(
        &m,
        "{ boards(ids: [9378000505]) { items_page(limit: 100, query_params: { rules: [{ column_id: \"color_mksj2adq\", compare_value: [6] }], order_by: [{ column_id: \"name\" }] }) { items { name column_values(ids: [\"color_mksj2adq\"]) { text } } } } }",
        json!({}),
    )
    .await;
    let items = b["data"]["boards"][0]["items_page"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"));
    assert!(items
        .iter()
        .all(|i| i["column_values"][0]["text"] == "Nurturing"));
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    // Exactly the seeded Leads whose status index is 6 ("Nurturing"), read from the seed file
    // itself, in name order.
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(seed_dir().join("items.json")).expect("seed items.json"),
    )
    .expect("seed items.json is JSON");
    let mut expected: Vec<&str> = seed
        .as_array()
        .expect("seed items are a list")
        .iter()
        .filter(|i| {
            i["board_id"] == "9378000505" && i["column_values"]["color_mksj2adq"]["index"] == 6
        })
        .map(|i| i["name"].as_str().expect("seed item name"))
        .collect();
    expected.sort();
    assert!(!expected.is_empty(), "the seed has Nurturing leads");
    assert_eq!(names, expected);
    let (_, b) = gql(
        &m,
        "{ boards(ids: [9378000505]) { items_page(query_params: { rules: [{ column_id: \"nope\", compare_value: [1] }] }) { items { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        b["errors"][0]["extensions"]["code"],
        "InvalidColumnIdException"
    );
}
