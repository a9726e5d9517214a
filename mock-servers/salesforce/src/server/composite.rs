//! `/composite`: subrequests with `@{ref}` substitution and `allOrNone`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};

use super::http::{json_body, percent_decode, Req, Resp, RespBody};
use super::routes::parse_version;
use super::{Ctx, MockHandle, Mutable};
use crate::error::ApiError;

impl MockHandle {
    pub(super) fn composite(
        &self,
        m: &mut Mutable,
        ctx: &Ctx,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        let body = json_body(req)?;
        let all_or_none = body
            .get("allOrNone")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let subs = body
            .get("compositeRequest")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    "Missing required field compositeRequest",
                )
            })?;
        if subs.len() > 25 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "LIMIT_EXCEEDED",
                "Composite request subrequest limit exceeded: a composite request can contain at most 25 subrequests",
            ));
        }
        let snapshot = m.data.clone();
        let mut refs: HashMap<String, Value> = HashMap::new();
        let mut failed = false;
        let mut out = Vec::new();
        for sub in subs {
            let ref_id = sub
                .get("referenceId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if failed && all_or_none {
                out.push(json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref_id}));
                continue;
            }
            let method = sub.get("method").and_then(Value::as_str).unwrap_or("GET");
            let url = sub.get("url").and_then(Value::as_str).unwrap_or("");
            let url = match substitute(url, &refs) {
                Ok(u) => u,
                Err(missing) => {
                    failed = true;
                    out.push(halted_ref(&ref_id, &missing));
                    continue;
                }
            };
            let body_value = match sub.get("body").map(|b| substitute_json(b, &refs)) {
                Some(Ok(v)) => Some(v),
                Some(Err(missing)) => {
                    failed = true;
                    out.push(halted_ref(&ref_id, &missing));
                    continue;
                }
                None => None,
            };
            let (path, query) = match url.split_once('?') {
                Some((p, q)) => (
                    p.to_string(),
                    serde_urlencoded::from_str(q).unwrap_or_default(),
                ),
                None => (url.to_string(), vec![]),
            };
            let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(h) = sub.get("httpHeaders").and_then(Value::as_object) {
                for (k, v) in h {
                    if let (Ok(name), Some(Ok(val))) = (
                        header::HeaderName::from_bytes(k.as_bytes()),
                        v.as_str().map(HeaderValue::from_str),
                    ) {
                        headers.insert(name, val);
                    }
                }
            }
            let sub_req = Req {
                method,
                path: path.clone(),
                query,
                headers,
                body: body_value
                    .map(|v| Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
                    .unwrap_or_default(),
                base_url: req.base_url.clone(),
            };
            let resp = match path.trim_end_matches('/').strip_prefix("/services/data/") {
                Some(rest) => {
                    let mut segs: Vec<String> = rest
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(percent_decode)
                        .collect();
                    let v = if segs.is_empty() {
                        String::new()
                    } else {
                        segs.remove(0)
                    };
                    match parse_version(&v) {
                        Some(version) => {
                            let sub_ctx = Ctx {
                                version,
                                user_id: ctx.user_id.clone(),
                            };
                            self.dispatch(m, &sub_ctx, &sub_req, &segs)
                                .unwrap_or_else(Resp::from)
                        }
                        None => ApiError::not_found().into(),
                    }
                }
                None => ApiError::not_found().into(),
            };
            let body_json = resp.body_json();
            if resp.status.as_u16() >= 400 {
                failed = true;
            } else {
                refs.insert(ref_id.clone(), body_json.clone());
            }
            let headers: Map<String, Value> = resp
                .headers
                .iter()
                .filter(|(k, _)| k == "Location")
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            out.push(json!({"body": if matches!(resp.body, RespBody::Empty) { Value::Null } else { body_json }, "httpHeaders": headers, "httpStatusCode": resp.status.as_u16(), "referenceId": ref_id}));
        }
        if failed && all_or_none {
            m.data = snapshot;
            for item in out.iter_mut() {
                if item
                    .get("httpStatusCode")
                    .and_then(Value::as_u64)
                    .is_some_and(|s| s < 400)
                {
                    *item = json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": item.get("referenceId").cloned().unwrap_or(Value::Null)});
                }
            }
        }
        Ok(Resp::json(
            StatusCode::OK,
            json!({"compositeResponse": out}),
        ))
    }
}

fn halted_ref(ref_id: &str, missing: &str) -> Value {
    let base = missing.split('.').next().unwrap_or("");
    json!({"body": [{"errorCode": "PROCESSING_HALTED", "message": format!("Invalid reference specified. No value for {missing} found in {base}. Provided referenceId ('{base}') must match a referenceId of a previous successful subrequest.")}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref_id})
}

/// Replaces `@{ref.path}` in a string; Err(reference) when a reference cannot be resolved.
fn substitute(s: &str, refs: &HashMap<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("@{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let expr = &after[..end];
        let v = lookup_ref(expr, refs).ok_or_else(|| expr.to_string())?;
        match v {
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(v: &Value, refs: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            // A string that is exactly one reference keeps the referenced JSON type.
            if s.starts_with("@{") && s.ends_with('}') && s.matches("@{").count() == 1 {
                lookup_ref(&s[2..s.len() - 1], refs).ok_or_else(|| s[2..s.len() - 1].to_string())?
            } else {
                Value::String(substitute(s, refs)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_json(x, refs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), substitute_json(x, refs)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

fn lookup_ref(expr: &str, refs: &HashMap<String, Value>) -> Option<Value> {
    let mut parts = expr.split('.');
    let mut cur = refs.get(parts.next()?)?.clone();
    for p in parts {
        let (name, idx) = match p.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (p, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?.clone();
        }
        if let Some(i) = idx {
            cur = cur.get(i)?.clone();
        }
    }
    Some(cur)
}
