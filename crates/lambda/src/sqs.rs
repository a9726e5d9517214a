//! Queue mode's SQS event: the records as received messages. Pure.

use serde_json::Value;

/// The messages of an SQS event (`Records[]`: `messageId`, `body`,
/// `attributes.ApproximateReceiveCount`, `attributes.MessageGroupId`); a record without a
/// `messageId` cannot be reported back and is left out (Lambda then treats it as processed only if
/// the whole batch succeeds — it never does with such a record, see [`has_record_without_id`]).
pub fn messages(payload: &Value) -> Vec<crmsync_sync::queue::Received> {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    let attrs = r.get("attributes");
                    let attr = |k: &str| attrs.and_then(|a| a.get(k)).and_then(Value::as_str);
                    Some(crmsync_sync::queue::Received {
                        id: r.get("messageId")?.as_str()?.to_string(),
                        body: r
                            .get("body")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        receive_count: attr("ApproximateReceiveCount")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(1),
                        group_id: attr("MessageGroupId").map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether some record of an SQS event has no `messageId` (the invocation then fails as a whole,
/// so every message returns).
pub fn has_record_without_id(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|rs| {
            rs.iter()
                .any(|r| r.get("messageId").and_then(Value::as_str).is_none())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{classify, Invocation};

    // The shape Lambda's SQS event source sends (AWS documentation's example, FIFO attributes).
    fn event() -> Value {
        serde_json::json!({"Records": [{
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": "{\"eventId\":7,\"boardId\":12,\"itemId\":34}",
            "attributes": {
                "ApproximateReceiveCount": "2",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
                "SequenceNumber": "18849496460467696128",
                "MessageGroupId": "12:34",
                "MessageDeduplicationId": "trigger-uuid-1"
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:crmsync-events.fifo",
            "awsRegion": "us-east-2"
        }]})
    }

    #[test]
    fn an_sqs_event_is_classified_and_read() {
        let ev = event();
        assert_eq!(classify(&ev), Invocation::Sqs);
        let m = messages(&ev);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].id, "059f36b4-87a3-44ab-83d2-661975830a7d");
        assert_eq!(m[0].receive_count, 2);
        assert_eq!(m[0].group_id.as_deref(), Some("12:34"));
        assert!(!has_record_without_id(&ev));
    }

    #[test]
    fn records_of_another_source_are_not_an_sqs_batch() {
        let mut ev = event();
        ev["Records"][0]["eventSource"] = serde_json::json!("aws:s3");
        assert!(matches!(classify(&ev), Invocation::Unknown(_)));
    }

    #[test]
    fn a_record_without_message_id_is_noticed() {
        let mut ev = event();
        ev["Records"][0]
            .as_object_mut()
            .unwrap()
            .remove("messageId");
        assert!(has_record_without_id(&ev));
        assert!(messages(&ev).is_empty());
    }
}
