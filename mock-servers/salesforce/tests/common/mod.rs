//! Shared helpers for the mock Salesforce tests.
#![allow(dead_code)]

use mock_salesforce::{MockSalesforce, MockSalesforceBuilder, RunningMock};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

pub const V: &str = "/services/data/v66.0";

pub struct Api {
    pub mock: RunningMock,
    pub http: Client,
    pub token: String,
}

pub struct Out {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Out {
    pub fn header(&self, k: &str) -> Option<String> {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

pub async fn start() -> Api {
    start_with(MockSalesforce::builder()).await
}

pub async fn start_with(b: MockSalesforceBuilder) -> Api {
    let mock = b.start().await.expect("mock starts");
    let http = Client::new();
    let resp = http
        .post(format!("{}/services/oauth2/token", mock.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mock-client-id"),
            ("client_secret", "mock-client-secret"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let token = body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Api { mock, http, token }
}

impl Api {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Out {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Out {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.mock.base_url)
        };
        let mut rb = self.http.request(method, url).bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        to_out(rb.send().await.unwrap()).await
    }

    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Out {
        let rb = self
            .http
            .request(method, format!("{}{path}", self.mock.base_url))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body);
        to_out(rb.send().await.unwrap()).await
    }

    pub async fn query(&self, soql: &str) -> Out {
        let url = format!("{}{V}/query?q={}", self.mock.base_url, urlencode(soql));
        self.call(Method::GET, &url, None).await
    }

    pub async fn create(&self, object: &str, body: Value) -> String {
        let out = self
            .call(Method::POST, &format!("{V}/sobjects/{object}"), Some(body))
            .await;
        assert_eq!(out.status, StatusCode::CREATED, "{}", out.text);
        out.body["id"].as_str().unwrap().to_string()
    }
}

pub async fn to_out(resp: reqwest::Response) -> Out {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Out {
        status,
        headers,
        body,
        text,
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replaces record Ids, timestamps, tokens and ports so snapshots are stable.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact_str(s)),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let red = match k.as_str() {
                        "access_token" | "refresh_token" | "signature" | "issued_at" => {
                            json!(format!("[{k}]"))
                        }
                        _ => redact(x),
                    };
                    (k.clone(), red)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

pub fn redact_str(s: &str) -> String {
    if mock_salesforce::store::parse_datetime(s).is_some() {
        return "[timestamp]".into();
    }
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // 18-char Ids made by the mock (…5g00000…) or seed
        if i + 18 <= chars.len() {
            let cand: String = chars[i..i + 18].iter().collect();
            let boundary_before = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
            let boundary_after = i + 18 == chars.len() || !chars[i + 18].is_ascii_alphanumeric();
            if boundary_before
                && boundary_after
                && mock_salesforce::ids::is_valid(&cand)
                && cand.chars().any(|c| c.is_ascii_digit())
            {
                out.push_str(&format!("[{}-id]", &cand[..3]));
                i += 18;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    // ports
    if let Some(p) = out.find("http://127.0.0.1:") {
        let end = out[p + 17..]
            .find(|c: char| !c.is_ascii_digit())
            .map(|e| p + 17 + e)
            .unwrap_or(out.len());
        out.replace_range(p..end, "http://127.0.0.1:[port]");
    }
    out
}
