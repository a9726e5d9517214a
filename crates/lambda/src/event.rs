//! What an invocation is: an HTTP request (API Gateway REST v1, HTTP API v2, a Function URL) or
//! the scheduled drain (EventBridge). Pure functions of the invocation's JSON.

use serde_json::Value;

/// The kind of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// An EventBridge schedule (`"detail-type": "Scheduled Event"`, `"source": "aws.events"`) or
    /// an explicit `{"crmsync": "drain"}` (EventBridge Scheduler with a fixed input, or a manual
    /// `aws lambda invoke`): drain due events and flush alert summaries.
    Drain,
    /// `{"crmsync": "reconcile"}`: the scheduled reconciliation sweep of the SAM template (what
    /// `crmsync reconcile --since last` does), then a drain of what it stored.
    Reconcile,
    /// `{"crmsync": "migrate-delta"}`: the optional hourly delta migration of the SAM template
    /// (`crmsync migrate run --stage production --since last`).
    MigrateDelta,
    /// `{"crmsync": "backup"}`: the scheduled backup of the SAM template (`crmsync backup --to
    /// $CRMSYNC_BACKUP_TO`).
    Backup,
    /// A batch of queue mode's SQS messages (`{"Records": [{"eventSource": "aws:sqs", …}]}`),
    /// answered with `{"batchItemFailures": [{"itemIdentifier": messageId}, …]}`.
    Sqs,
    /// An HTTP request; `stage` is API Gateway's stage (`None` or `$default` for Function URLs
    /// and the default stage), whose `/{stage}` prefix the path carries.
    Http { stage: Option<String> },
    /// Anything else (answered with an invocation error that names what was expected).
    Unknown(String),
}

/// Classifies an invocation payload.
pub fn classify(payload: &Value) -> Invocation {
    match payload.get("crmsync").and_then(Value::as_str) {
        Some("drain") => return Invocation::Drain,
        Some("reconcile") => return Invocation::Reconcile,
        Some("migrate-delta") => return Invocation::MigrateDelta,
        Some("backup") => return Invocation::Backup,
        _ => {}
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        if !records.is_empty()
            && records
                .iter()
                .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
        {
            return Invocation::Sqs;
        }
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && payload.get("source").and_then(Value::as_str) == Some("aws.events")
    {
        return Invocation::Drain;
    }
    let ctx = payload.get("requestContext");
    let is_http = ctx.is_some()
        && (payload.get("httpMethod").is_some()
            || ctx.and_then(|c| c.get("http")).is_some()
            || payload.get("rawPath").is_some());
    if is_http {
        let stage = ctx
            .and_then(|c| c.get("stage"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "$default")
            .map(str::to_owned);
        return Invocation::Http { stage };
    }
    let keys: Vec<&str> = payload
        .as_object()
        .map(|o| o.keys().map(String::as_str).take(8).collect())
        .unwrap_or_default();
    Invocation::Unknown(format!(
        "expected an API Gateway / Function URL request or a scheduled drain \
         ({{\"crmsync\":\"drain\"}} or an EventBridge \"Scheduled Event\"), a sweep \
         ({{\"crmsync\":\"reconcile\"}}), an SQS batch ({{\"Records\": [...]}}) or a delta \
         migration ({{\"crmsync\":\"migrate-delta\"}}); \
         got an object with keys {keys:?}"
    ))
}

/// The path the router sees: `path` without API Gateway's `/{stage}` prefix (lambda_http puts
/// the stage in front of the path; the Router's routes have none).
pub fn strip_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    let Some(stage) = stage else {
        return path;
    };
    let prefix_len = stage.len() + 1;
    if path.len() >= prefix_len
        && path.as_bytes()[0] == b'/'
        && path.get(1..prefix_len) == Some(stage)
    {
        let rest = &path[prefix_len..];
        if rest.is_empty() {
            return "/";
        }
        if rest.starts_with('/') {
            return rest;
        }
    }
    path
}

/// A body marked `isBase64Encoded` that is not base64 (API Gateway never sends one; a direct
/// invoke can): `Some(reason)`. lambda_http would panic on it, so it is refused first.
pub fn invalid_base64_body(payload: &Value) -> Option<String> {
    use base64::Engine;
    if payload.get("isBase64Encoded").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let body = payload.get("body").and_then(Value::as_str)?;
    match base64::engine::general_purpose::STANDARD.decode(body) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "the body is marked isBase64Encoded but is not base64: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_eventbridge_schedule_is_a_drain() {
        let ev = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-12-01T11:00:00Z", "detail": {}});
        assert_eq!(classify(&ev), Invocation::Drain);
        assert_eq!(classify(&json!({"crmsync": "drain"})), Invocation::Drain);
        assert_eq!(
            classify(&json!({"crmsync": "migrate-delta"})),
            Invocation::MigrateDelta
        );
        assert_eq!(
            classify(&json!({"crmsync": "reconcile"})),
            Invocation::Reconcile
        );
    }

    #[test]
    fn another_eventbridge_event_is_not_a_drain() {
        let ev = json!({"detail-type": "Object Created", "source": "aws.s3"});
        assert!(matches!(classify(&ev), Invocation::Unknown(_)));
    }

    #[test]
    fn http_payloads_carry_their_stage() {
        let v1 = json!({"httpMethod": "POST", "path": "/webhooks/monday",
            "requestContext": {"stage": "prod"}});
        assert_eq!(
            classify(&v1),
            Invocation::Http {
                stage: Some("prod".into())
            }
        );
        let v2 = json!({"version": "2.0", "rawPath": "/webhooks/monday",
            "requestContext": {"http": {"method": "POST"}, "stage": "$default"}});
        assert_eq!(classify(&v2), Invocation::Http { stage: None });
        let url = json!({"version": "2.0", "rawPath": "/healthz",
            "requestContext": {"http": {"method": "GET"}}});
        assert_eq!(classify(&url), Invocation::Http { stage: None });
    }

    #[test]
    fn unknown_payloads_are_named() {
        let Invocation::Unknown(why) = classify(&json!({"Records": []})) else {
            panic!("not unknown")
        };
        assert!(why.contains("Records"), "{why}");
        assert!(matches!(classify(&json!(42)), Invocation::Unknown(_)));
    }

    #[test]
    fn the_stage_prefix_is_stripped_once() {
        assert_eq!(
            strip_stage("/prod/webhooks/monday", Some("prod")),
            "/webhooks/monday"
        );
        assert_eq!(strip_stage("/prod", Some("prod")), "/");
        assert_eq!(strip_stage("/production/x", Some("prod")), "/production/x");
        assert_eq!(
            strip_stage("/webhooks/monday", Some("prod")),
            "/webhooks/monday"
        );
        assert_eq!(strip_stage("/webhooks/monday", None), "/webhooks/monday");
        assert_eq!(strip_stage("/é", Some("p")), "/é");
    }

    #[test]
    fn a_body_that_is_not_base64_is_caught() {
        let bad = json!({"isBase64Encoded": true, "body": "not base64!"});
        assert!(invalid_base64_body(&bad).is_some());
        let good = json!({"isBase64Encoded": true, "body": "eyJhIjoxfQ=="});
        assert_eq!(invalid_base64_body(&good), None);
        assert_eq!(invalid_base64_body(&json!({"body": "{}"})), None);
    }
}
