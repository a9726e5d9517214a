//! Typed client of the admin API (`/__mock/...`) for other crates' tests and the demo.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::mock::{Faults, JournalEntry};
use crate::state::ItemView;
use crate::webhooks::Delivery;

/// Errors of the admin client.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Transport failure.
    #[error("admin request {path} failed: {source}")]
    Http {
        /// Path requested.
        path: String,
        /// Cause.
        source: reqwest::Error,
    },
    /// The mock refused the request.
    #[error("admin request {path} answered {status}: {body}")]
    Status {
        /// Path requested.
        path: String,
        /// HTTP status.
        status: u16,
        /// Body answered.
        body: Value,
    },
}

/// Result of an "act as a user" edit.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ActResult {
    /// The item after the edit.
    pub item: ItemView,
    /// `event.type` of each event it fired (`create_pulse`, `update_column_value`, ...).
    pub events: Vec<String>,
}

/// Client of one mock's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the mock at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> AdminClient {
        AdminClient {
            base: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, AdminError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|source| AdminError::Http {
            path: path.into(),
            source,
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|source| AdminError::Http {
            path: path.into(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            return Err(AdminError::Status {
                path: path.into(),
                status,
                body: value,
            });
        }
        serde_json::from_value(value.clone()).map_err(|_| AdminError::Status {
            path: path.into(),
            status,
            body: value,
        })
    }

    /// `POST /__mock/reset`: back to the seed; clears webhooks, journal, deliveries, faults, budget.
    pub async fn reset(&self) -> Result<(), AdminError> {
        self.send::<Value>(reqwest::Method::POST, "/__mock/reset", None)
            .await
            .map(|_| ())
    }
    /// `GET /__mock/state`: `{boards, items, users, webhooks}`.
    pub async fn state(&self) -> Result<Value, AdminError> {
        self.send(reqwest::Method::GET, "/__mock/state", None).await
    }
    /// `GET /__mock/requests`: the `/v2` journal.
    pub async fn requests(&self) -> Result<Vec<JournalEntry>, AdminError> {
        self.send(reqwest::Method::GET, "/__mock/requests", None)
            .await
    }
    /// `DELETE /__mock/requests`.
    pub async fn clear_requests(&self) -> Result<(), AdminError> {
        self.send::<Value>(reqwest::Method::DELETE, "/__mock/requests", None)
            .await
            .map(|_| ())
    }
    /// `GET /__mock/webhooks/deliveries`: the delivery log.
    pub async fn deliveries(&self) -> Result<Vec<Delivery>, AdminError> {
        self.send(reqwest::Method::GET, "/__mock/webhooks/deliveries", None)
            .await
    }
    /// `POST /__mock/webhooks/release`: sends held deliveries; returns how many.
    pub async fn release_held(&self) -> Result<u64, AdminError> {
        let v: Value = self
            .send(reqwest::Method::POST, "/__mock/webhooks/release", None)
            .await?;
        Ok(v["released"].as_u64().unwrap_or(0))
    }
    /// `PUT /__mock/faults`: replaces all faults.
    pub async fn set_faults(&self, faults: &Faults) -> Result<(), AdminError> {
        self.send::<Value>(reqwest::Method::PUT, "/__mock/faults", Some(json!(faults)))
            .await
            .map(|_| ())
    }
    /// `DELETE /__mock/faults`.
    pub async fn clear_faults(&self) -> Result<(), AdminError> {
        self.send::<Value>(reqwest::Method::DELETE, "/__mock/faults", None)
            .await
            .map(|_| ())
    }
    /// `POST /__mock/budget {"remaining": n}`: forces the remaining complexity budget.
    pub async fn set_budget_remaining(&self, remaining: u64) -> Result<(), AdminError> {
        self.send::<Value>(
            reqwest::Method::POST,
            "/__mock/budget",
            Some(json!({ "remaining": remaining })),
        )
        .await
        .map(|_| ())
    }
    /// `GET /__mock/items/{id}`: the item with rendered column values.
    pub async fn item(&self, item_id: &str) -> Result<ItemView, AdminError> {
        self.send(
            reqwest::Method::GET,
            &format!("/__mock/items/{item_id}"),
            None,
        )
        .await
    }
    /// Acts as a user: creates an item (fires `create_pulse`). `column_values` takes the API's write formats.
    pub async fn create_item(
        &self,
        board_id: &str,
        name: &str,
        group_id: Option<&str>,
        column_values: Value,
    ) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/create_item",
            Some(json!({ "board_id": board_id, "name": name, "group_id": group_id, "column_values": column_values })),
        )
        .await
    }
    /// Acts as a user: changes column values (fires `update_column_value` per changed column;
    /// a `name` key renames).
    pub async fn change_column_values(
        &self,
        item_id: &str,
        column_values: Value,
    ) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/change_column_values",
            Some(json!({ "item_id": item_id, "column_values": column_values })),
        )
        .await
    }
    /// Acts as a user: changes one column.
    pub async fn change_column_value(
        &self,
        item_id: &str,
        column_id: &str,
        value: Value,
    ) -> Result<ActResult, AdminError> {
        let mut m = Map::new();
        m.insert(column_id.into(), value);
        self.change_column_values(item_id, Value::Object(m)).await
    }
    /// Acts as a user: renames (fires `update_name`).
    pub async fn rename(&self, item_id: &str, name: &str) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/rename",
            Some(json!({ "item_id": item_id, "name": name })),
        )
        .await
    }
    /// Acts as a user: deletes (fires `delete_pulse`).
    pub async fn delete(&self, item_id: &str) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/delete",
            Some(json!({ "item_id": item_id })),
        )
        .await
    }
    /// Acts as a user: archives (fires `archive_pulse`).
    pub async fn archive(&self, item_id: &str) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/archive",
            Some(json!({ "item_id": item_id })),
        )
        .await
    }
    /// Acts as a user: restores an archived or deleted item (fires `restore_pulse`).
    pub async fn restore(&self, item_id: &str) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/restore",
            Some(json!({ "item_id": item_id })),
        )
        .await
    }
    /// Acts as a user: moves to another group (fires `move_pulse_into_group`).
    pub async fn move_to_group(
        &self,
        item_id: &str,
        group_id: &str,
    ) -> Result<ActResult, AdminError> {
        self.send(
            reqwest::Method::POST,
            "/__mock/act/move",
            Some(json!({ "item_id": item_id, "group_id": group_id })),
        )
        .await
    }
}
