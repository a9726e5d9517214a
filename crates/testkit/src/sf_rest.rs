//! Reads the mock Salesforce through its REST API, independently of crmsync's client.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Reads the mock Salesforce through its REST API (OAuth client credentials, SOQL), independently
/// of crmsync's client.
#[derive(Clone)]
pub struct SfRest {
    base: String,
    http: reqwest::Client,
    token: Arc<Mutex<Option<String>>>,
}

impl SfRest {
    /// A reader of the mock Salesforce at `base`.
    pub fn new(base: &str) -> SfRest {
        SfRest {
            base: base.to_owned(),
            http: reqwest::Client::new(),
            token: Arc::default(),
        }
    }

    async fn token(&self) -> String {
        if let Some(t) = self.token.lock().unwrap().clone() {
            return t;
        }
        let v: Value = self
            .http
            .post(format!("{}/services/oauth2/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", crate::seed::MOCK_SF_CLIENT_ID),
                ("client_secret", crate::seed::MOCK_SF_CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["access_token"].as_str().unwrap().to_string();
        *self.token.lock().unwrap() = Some(t.clone());
        t
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        for _ in 0..2 {
            let t = self.token().await;
            let r = self
                .http
                .get(format!("{}/services/data/v62.0{path}", self.base))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if status == 401 {
                *self.token.lock().unwrap() = None;
                continue;
            }
            let body = r.json().await.unwrap_or(Value::Null);
            return (status, body);
        }
        panic!("mock Salesforce keeps refusing the test's token");
    }

    /// Records of a SOQL query, every page (follows `nextRecordsUrl`).
    pub async fn query(&self, soql: &str) -> Vec<Value> {
        let q = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>();
        let (status, mut v) = self.get(&format!("/query?q={q}")).await;
        assert_eq!(status, 200, "query {soql}: {v}");
        let mut out = v["records"].as_array().cloned().unwrap_or_default();
        while let Some(next) = v["nextRecordsUrl"].as_str().map(str::to_owned) {
            // `/services/data/vNN.0/query/<cursor>`: the part after the version.
            let path = next
                .split_once("/query/")
                .map(|(_, cursor)| format!("/query/{cursor}"))
                .unwrap_or(next);
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200, "query {soql} (next page): {page}");
            out.extend(page["records"].as_array().cloned().unwrap_or_default());
            v = page;
        }
        out
    }

    /// Records whose `Monday_Item_Id__c` is `item_id`.
    pub async fn by_item(&self, object: &str, fields: &str, item_id: &str) -> Vec<Value> {
        self.query(&format!(
            "SELECT Id, {fields} FROM {object} WHERE Monday_Item_Id__c = '{item_id}'"
        ))
        .await
    }

    /// One record by id, `None` when it does not exist (deleted).
    pub async fn record(&self, object: &str, id: &str) -> Option<Value> {
        let (status, v) = self.get(&format!("/sobjects/{object}/{id}")).await;
        (status == 200).then_some(v)
    }
}
