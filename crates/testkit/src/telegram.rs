//! A fake Telegram Bot API that records what the alerter sends.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Fake Telegram Bot API: records every `sendMessage` body.
#[derive(Clone, Default)]
pub struct FakeTelegram {
    /// Every `sendMessage` body received.
    pub messages: Arc<Mutex<Vec<Value>>>,
    /// Base URL to configure as the Telegram API URL.
    pub url: String,
}

impl FakeTelegram {
    /// Starts it on 127.0.0.1:0.
    pub async fn start() -> FakeTelegram {
        use axum::routing::post;
        let messages: Arc<Mutex<Vec<Value>>> = Arc::default();
        let m = messages.clone();
        let app = axum::Router::new().route(
            "/{bot}/sendMessage",
            post(move |axum::Json(v): axum::Json<Value>| {
                let m = m.clone();
                async move {
                    m.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                    axum::Json(json!({"ok": true, "result": {}}))
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { messages, url }
    }

    /// The `text` of every message, in order.
    pub fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}
