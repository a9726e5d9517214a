//! The admin API under `/__mock/` (not journaled, not authenticated, not counted).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::http::{Req, Resp};
use super::{Fault, MockHandle};

pub(super) fn admin(h: &MockHandle, req: &Req) -> Resp {
    let path = req.path.trim_end_matches('/');
    let ok = || Resp::json(StatusCode::OK, json!({"ok": true}));
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    match (req.method.clone(), path) {
        (Method::POST, "/__mock/reset") => {
            h.reset();
            ok()
        }
        (Method::GET, "/__mock/state") => {
            let (used, max) = h.api_usage();
            let m = h.lock();
            let sessions = m.sessions.len();
            drop(m);
            let mut dump = h.dump();
            if let Some(o) = req.param("object") {
                dump =
                    h.0.schema
                        .object(o)
                        .and_then(|obj| dump.get(&obj.name).cloned())
                        .unwrap_or(Value::Null);
                return Resp::json(StatusCode::OK, dump);
            }
            Resp::json(
                StatusCode::OK,
                json!({"apiUsage": {"used": used, "max": max}, "sessions": sessions, "records": dump}),
            )
        }
        (Method::GET, "/__mock/requests") => Resp::json(StatusCode::OK, json!(h.requests())),
        (Method::DELETE, "/__mock/requests") => {
            h.lock().journal.clear();
            ok()
        }
        (Method::GET, "/__mock/faults") => {
            Resp::json(StatusCode::OK, json!(h.lock().faults.clone()))
        }
        (Method::POST, "/__mock/faults") => {
            let list: Result<Vec<Fault>, _> = if body.is_array() {
                serde_json::from_value(body)
            } else {
                serde_json::from_value(body).map(|f| vec![f])
            };
            match list {
                Ok(fs) => {
                    for f in fs {
                        h.add_fault(f);
                    }
                    ok()
                }
                Err(e) => Resp::json(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("invalid fault: {e}")}),
                ),
            }
        }
        (Method::DELETE, "/__mock/faults") => {
            h.clear_faults();
            ok()
        }
        (Method::POST, "/__mock/sessions/expire") => {
            h.expire_sessions();
            ok()
        }
        (Method::POST, "/__mock/limits") => {
            if body
                .get("exhaust")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                h.exhaust_daily_limit();
            } else {
                h.set_api_usage(
                    body.get("used").and_then(Value::as_u64),
                    body.get("max").and_then(Value::as_u64),
                );
            }
            let (used, max) = h.api_usage();
            Resp::json(StatusCode::OK, json!({"used": used, "max": max}))
        }
        (Method::POST, "/__mock/limits/exhaust") => {
            h.exhaust_daily_limit();
            ok()
        }
        (Method::POST, "/__mock/locks") => {
            let list: Vec<String> = body
                .get("ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            h.lock_rows(list);
            ok()
        }
        (Method::DELETE, "/__mock/locks") => {
            h.unlock_rows();
            ok()
        }
        (Method::POST, "/__mock/refresh-tokens") => Resp::json(
            StatusCode::OK,
            json!({"refresh_token": h.issue_refresh_token()}),
        ),
        _ => Resp::json(
            StatusCode::NOT_FOUND,
            json!({"error": format!("unknown admin endpoint {} {path}", req.method)}),
        ),
    }
}
