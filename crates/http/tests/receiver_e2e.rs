//! The receiver end to end: the app on a socket (test kit), the mock Monday, PostgreSQL behind a
//! proxy that can go down.

use std::time::Duration;

use crmsync_testkit::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_down_answers_503_and_redelivery_applies_later() {
    let app = spawn_app(Db::Postgres).await;
    let proxy = app.proxy.clone().unwrap();
    proxy.set_down(true);
    let item = app
        .create_item(LEADS, "Offline Org", json!({"text_mkry1xy1": "Off"}))
        .await;
    // Monday gets 503s while the store is down.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = app.monday.admin.deliveries().await.unwrap();
        if d.iter()
            .any(|d| d.attempts.iter().any(|a| a.status == Some(503)))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no 503 seen: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    proxy.set_down(false);
    app.settle().await;
    assert_eq!(app.sf.by_item("Lead", "Company", &item).await.len(), 1);
    let health = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_or_expired_jwt_is_401_and_oversized_is_413() {
    let app = spawn_app(Db::Postgres).await;
    let body = json!({"event": {"type": "create_pulse", "boardId": LEADS.parse::<i64>().unwrap(), "pulseId": 1, "triggerUuid": "forged"}});
    let c = reqwest::Client::new();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"aud": app.webhook_url, "exp": chrono::Utc::now().timestamp() + 300}),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-secret"),
    )
    .unwrap();
    for auth in [forged, jwt_for(&app.webhook_url, -3600)] {
        let r = c
            .post(&app.webhook_url)
            .header("Authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = c.post(&app.webhook_url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "no credentials");
    let big = "x".repeat(crmsync_http::DEFAULT_MAX_BODY_BYTES + 1);
    let r = c
        .post(&app.webhook_url)
        .header("Authorization", jwt_for(&app.webhook_url, 300))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(
        app.store.recent_events(10).await.unwrap().is_empty(),
        "nothing stored"
    );
    app.stop().await;
}

/// A create_pulse delivery for `item` on the Leads board, as Monday sends it.
fn create_delivery(item: &str, trigger: &str) -> serde_json::Value {
    json!({"event": {
        "app": "monday", "type": "create_pulse", "triggerTime": "2026-11-27T10:15:00.000Z",
        "subscriptionId": 1, "isRetry": false, "userId": 58200001, "originalTriggerUuid": null,
        "boardId": LEADS.parse::<i64>().unwrap(), "groupId": "topics",
        "pulseId": item.parse::<i64>().unwrap(), "pulseName": "Burst", "groupName": "Leads",
        "groupColor": "#579bfc", "isTopGroup": true, "columnValues": {}, "triggerUuid": trigger,
    }})
}

// A burst with a slow Salesforce: 200 deliveries at once, every Salesforce call 300 ms late.
// Inline processing is bounded (the rest goes to the worker) and storing is bounded, so every
// delivery is answered well within Monday's 10 s timeout, and every event is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_with_slow_salesforce_is_answered_in_time_and_applied_once() {
    let app = spawn_app_with(Options {
        inline_concurrency: Some(8),
        ..Options::new(Db::Postgres)
    })
    .await;
    app.drop_all_webhooks().await;
    let mut items = Vec::new();
    for n in 0..200 {
        items.push(
            app.create_item(
                LEADS,
                &format!("Burst Org {n}"),
                json!({"text_mkry1xy1": format!("Burst {n}")}),
            )
            .await,
        );
    }
    app.salesforce.handle.add_fault(
        serde_json::from_value(json!({"path": "/services/data/*", "latencyMs": 300})).unwrap(),
    );
    let started = std::time::Instant::now();
    let answers = futures::future::join_all(items.iter().enumerate().map(|(n, item)| {
        let app = &app;
        let body = create_delivery(item, &format!("burst-{n}"));
        async move {
            let t = std::time::Instant::now();
            let r = app.post_signed(&body).await;
            (r.status().as_u16(), t.elapsed())
        }
    }))
    .await;
    let slowest = answers.iter().map(|(_, d)| *d).max().unwrap();
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "statuses: {:?}",
        answers.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
    assert!(
        slowest < Duration::from_secs(10),
        "slowest answer {slowest:?} (Monday gives up at 10 s); all 200 in {:?}",
        started.elapsed()
    );
    app.salesforce.handle.clear_faults();
    app.settle().await;
    for item in &items {
        assert_eq!(
            app.sf.by_item("Lead", "Company", item).await.len(),
            1,
            "item {item}"
        );
    }
    // Applied once: one Salesforce write per item (the upsert by its Monday item id).
    let writes = app.salesforce.handle.requests();
    for item in &items {
        let n = writes
            .iter()
            .filter(|r| {
                r.method == "PATCH" && r.path.ends_with(&format!("/Monday_Item_Id__c/{item}"))
            })
            .count();
        assert_eq!(n, 1, "item {item}: {n} upserts");
    }
    let counts = app
        .store
        .event_counts_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(counts.dead, 0, "{counts:?}");
    assert_eq!(counts.done, 200, "{counts:?}");
    app.stop().await;
}

// Shutdown waits for inline processing that is still running (it is never cancelled half-way and
// the store is not closed under it): once `serve` has returned, the event is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_waits_for_inline_processing_in_flight() {
    let mut app = spawn_app_with(Options {
        worker: false,
        inline_budget: Duration::from_millis(100),
        ..Options::new(Db::Postgres)
    })
    .await;
    app.drop_all_webhooks().await;
    let item = app
        .create_item(LEADS, "Late Org", json!({"text_mkry1xy1": "Late"}))
        .await;
    app.salesforce.handle.add_fault(
        serde_json::from_value(
            json!({"path": "/services/data/*/sobjects/Lead/*", "latencyMs": 1500}),
        )
        .unwrap(),
    );
    let r = app.post_signed(&create_delivery(&item, "late-1")).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_ne!(
        body["status"], "done",
        "answered before the slow write: {body}"
    );
    app.stop_serving().await;
    let ev = app
        .store
        .recent_events(5)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.trigger_uuid == "late-1")
        .unwrap();
    assert_eq!(ev.status, crmsync_store::EventStatus::Done, "{ev:?}");
    app.stop().await;
}

// On PostgreSQL (whose text cannot hold a NUL) a NUL in `triggerUuid` used to be a store error
// answered 503, which Monday redelivers for 30 minutes; it is the sender's mistake: 400, recorded
// with its body byte for byte, and nothing in the event log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nul_in_the_trigger_uuid_is_400_and_recorded_on_postgres() {
    let app = spawn_app(Db::Postgres).await;
    let body = r#"{"event":{"type":"create_pulse","boardId":9378000505,"pulseId":5,"triggerUuid":"x\u0000y"}}"#;
    let r = reqwest::Client::new()
        .post(&app.webhook_url)
        .header("Authorization", jwt_for(&app.webhook_url, 300))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let rows = app.store.list_rejected_deliveries(5).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].reason.as_str(), "invalid_field");
    assert_eq!(rows[0].body_text(), body);
    assert!(app.store.recent_events(5).await.unwrap().is_empty());
    app.stop().await;
}

// Monday may send the URL-verification challenge of an app webhook without a JWT: installing the
// webhooks still works (the challenge is echoed whatever the authentication), and the signed event
// deliveries that follow are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_install_with_unsigned_challenges_and_signed_events_apply() {
    let app = spawn_app_with(Options {
        sign_challenge: false,
        ..Options::new(Db::Sqlite)
    })
    .await;
    let hooks = app.monday_client.webhooks(LEADS).await.unwrap();
    assert!(!hooks.is_empty(), "no webhook installed");
    let item = app
        .create_item(
            LEADS,
            "Unsigned Challenge Org",
            json!({"text_mkry1xy1": "Unsigned"}),
        )
        .await;
    let lead = app.wait_for_record("Lead", "Company", &item).await;
    assert_eq!(lead["Company"], "Unsigned Challenge Org");
    app.stop().await;
}

async fn healthz(app: &TestApp) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_worker_loop_makes_healthz_unhealthy() {
    let mut app = spawn_app(Db::Sqlite).await;
    let (status, body) = healthz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    app.engine.panic_next_worker_iteration();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = healthz(&app).await;
        if status == 503 {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "unhealthy", "{body}");
    let worker = body["worker"].as_str().unwrap();
    assert!(
        worker.contains("died") && worker.contains("injected worker failure"),
        "{worker}"
    );
    app.stop_serving().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_without_a_worker_reports_no_worker_health() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::new(Db::Sqlite)
    })
    .await;
    app.engine.panic_next_worker_iteration();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = healthz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("worker").is_none(), "{body}");
    app.stop().await;
}
