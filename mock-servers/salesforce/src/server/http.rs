//! Request and response plumbing shared by every resource: [`Req`], [`Resp`], bodies, errors.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A response before conversion.
pub(crate) struct Resp {
    pub status: StatusCode,
    pub body: RespBody,
    pub headers: Vec<(String, String)>,
}

pub(crate) enum RespBody {
    Empty,
    Json(Value),
    Csv(String),
}

impl Resp {
    pub fn json(status: StatusCode, v: Value) -> Resp {
        Resp {
            status,
            body: RespBody::Json(v),
            headers: vec![],
        }
    }
    pub(super) fn empty(status: StatusCode) -> Resp {
        Resp {
            status,
            body: RespBody::Empty,
            headers: vec![],
        }
    }
    pub(super) fn header(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub(super) fn body_json(&self) -> Value {
        match &self.body {
            RespBody::Json(v) => v.clone(),
            RespBody::Csv(s) => Value::String(s.clone()),
            RespBody::Empty => Value::Null,
        }
    }
}

impl From<ApiError> for Resp {
    fn from(e: ApiError) -> Resp {
        Resp::json(e.status, e.body())
    }
}

pub(super) fn into_response(r: Resp) -> Response {
    let mut builder = Response::builder().status(r.status);
    let body = match r.body {
        RespBody::Empty => Body::empty(),
        RespBody::Json(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json;charset=UTF-8");
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        RespBody::Csv(s) => {
            builder = builder.header(header::CONTENT_TYPE, "text/csv");
            Body::from(s)
        }
    };
    for (k, v) in r.headers {
        if let Ok(hv) = HeaderValue::from_str(&v) {
            builder = builder.header(k, hv);
        }
    }
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The parts of a request the dispatcher needs.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub base_url: String,
}

impl Req {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or(if tls { "https" } else { "http" });
    format!("{proto}://{host}")
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn method_not_allowed(m: &Method, allowed: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{m}' not allowed. Allowed are {allowed}"),
    )
}

/// Parses a JSON body with Salesforce's errors for wrong content types and malformed JSON.
pub(super) fn json_body(req: &Req) -> Result<Value, ApiError> {
    if let Some(ct) = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
    {
        let mt = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(mt == "application/json" || mt.ends_with("+json")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("MediaType of '{mt}' is not supported by this resource"),
            ));
        }
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "No content to map due to end-of-input at [line:1, column:0]",
        ));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!(
                "{} at [line:{}, column:{}]",
                json_error_text(&e),
                e.line(),
                e.column()
            ),
        )
    })
}

pub(super) fn json_error_text(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub(super) fn object_body(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from START_ARRAY value [line:1, column:1]",
        )
    })
}
