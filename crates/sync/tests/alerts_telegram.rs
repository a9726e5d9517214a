//! Alerts against a fake Telegram Bot API (axum on 127.0.0.1:0).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::routing::post;
use axum::Json;
use crmsync_sync::{Alert, AlertConfig, AlertKind, Alerter, TelegramConfig};
use secrecy::SecretString;
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn fake_telegram() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/{bot}/sendMessage",
        post(move |Path(bot): Path<String>, Json(v): Json<Value>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((bot, v));
                Json(json!({"ok": true}))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, seen)
}

fn failure(item: u32) -> Alert {
    Alert {
        kind: AlertKind::DeadLetter,
        board_id: Some("9378000036".into()),
        board_name: Some("Opportunities".into()),
        item_id: Some(item.to_string()),
        event_id: Some(i64::from(item)),
        dead_letter_id: Some(i64::from(item)),
        code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
        error: "Amount must be positive".into(),
        what_to_do: "Fix it, then replay".into(),
    }
}

const WINDOW: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_storm_is_one_message_then_one_summary_with_the_count() {
    let (url, seen) = fake_telegram().await;
    let a = Alerter::new(AlertConfig {
        telegram: Some(TelegramConfig {
            api_url: url,
            bot_token: SecretString::from("123:SECRET-TOKEN"),
            chat_id: "-100200".into(),
        }),
        // Long enough that the 25 alerts and the first flush surely fall inside it even on a
        // loaded machine; the sleep below only has to outlast it (monotonic clock).
        window: WINDOW,
        ..AlertConfig::default()
    });
    for n in 0..25 {
        a.alert(failure(n)).await;
    }
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.len(), 1, "one message for 25 failures");
        assert_eq!(s[0].0, "bot123:SECRET-TOKEN", "token only in the URL path");
        assert_eq!(s[0].1["chat_id"], "-100200");
        let text = s[0].1["text"].as_str().unwrap();
        assert!(text.contains("Opportunities") && text.contains("Amount must be positive"));
        assert!(!text.contains("SECRET"));
    }
    assert_eq!(a.flush().await, 0);
    tokio::time::sleep(WINDOW + Duration::from_millis(50)).await;
    assert_eq!(a.flush().await, 1);
    let s = seen.lock().unwrap();
    assert_eq!(s.len(), 2);
    let summary = s[1].1["text"].as_str().unwrap();
    assert!(summary.contains("24 more alert(s)"), "{summary}");
    assert!(!summary.contains("SECRET"));
}

#[tokio::test]
async fn telegram_down_does_not_lose_the_alert_from_the_log_or_panic() {
    let a = Alerter::new(AlertConfig {
        telegram: Some(TelegramConfig {
            api_url: "http://127.0.0.1:9".into(),
            bot_token: SecretString::from("123:SECRET-TOKEN"),
            chat_id: "1".into(),
        }),
        send_timeout: Duration::from_secs(2),
        ..AlertConfig::default()
    });
    a.alert(failure(1)).await;
    assert_eq!(a.sent_messages().len(), 1);
}
