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
