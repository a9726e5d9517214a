//! Errors of the engine and their classification.

use crmsync_core::PlanError;
use crmsync_monday::MondayError;
use crmsync_salesforce::SalesforceError;
use crmsync_store::StoreError;

/// How the engine reacts to a failure while applying an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Retry later with backoff and jitter (network, 5xx, `UNABLE_TO_LOCK_ROW`, session still
    /// invalid after the one refresh, store hiccup, a linked record not synced yet).
    Transient,
    /// Salesforce's `REQUEST_LIMIT_EXCEEDED` (or the API reserve): pause processing, alert, do not
    /// count an attempt.
    RateLimited,
    /// Will fail the same way again (validation error, unknown field, bad value): dead letter +
    /// alert; replay after a fix.
    Permanent,
}

/// Why applying one event failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A Salesforce call failed.
    #[error("{0}")]
    Salesforce(#[source] SalesforceError),
    /// A Monday call failed.
    #[error("{0}")]
    Monday(#[source] MondayError),
    /// Planning failed.
    #[error("planning failed: {0}")]
    Plan(#[source] PlanError),
    /// The store failed while applying (reading or writing links).
    #[error("{0}")]
    Store(#[source] StoreError),
    /// The stored payload cannot be read as a Monday event.
    #[error("unreadable event payload: {0}")]
    Payload(String),
    /// A follow-up's item has no Salesforce record yet (the create it follows failed or has not
    /// run): the follow-up waits (transient, bounded) and never creates the record itself.
    /// Once the root event (the create) is itself dead, waiting is pointless (it would only
    /// hold up the item's later events): the follow-up fails permanently at once, and replaying
    /// the root's dead letter re-opens it.
    #[error("follow-up of column `{column}`: item {item_id} has no Salesforce record yet (the create it follows {})", if *.root_dead { "failed and is a dead letter" } else { "has not succeeded; waiting for it" })]
    WaitingForRecord {
        /// The deferred column.
        column: String,
        /// The item.
        item_id: String,
        /// Whether the root event is dead-lettered.
        root_dead: bool,
    },
    /// Applying the event panicked (a bug in crmsync on unexpected data); the panic message.
    #[error("applying the event panicked (a crmsync bug): {0}")]
    Panicked(String),
    /// The worker no longer holds the item's lease (the heartbeat or the fence before an external
    /// write found it taken over or expired): the event is abandoned, unsettled, to its new owner.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// The event took longer than [`crate::EngineConfig::event_deadline`]; retried later.
    #[error("the event took longer than its deadline of {} ms; retried later", .0.as_millis())]
    DeadlineExceeded(std::time::Duration),
}

impl ApplyError {
    /// The engine's reaction to this error.
    pub fn class(&self) -> FailureClass {
        match self {
            ApplyError::Salesforce(e) => match e.kind() {
                crmsync_salesforce::ErrorKind::Transient
                | crmsync_salesforce::ErrorKind::Session => FailureClass::Transient,
                crmsync_salesforce::ErrorKind::RateLimited => FailureClass::RateLimited,
                crmsync_salesforce::ErrorKind::Permanent => FailureClass::Permanent,
            },
            ApplyError::Monday(e) => match e.kind() {
                crmsync_monday::ErrorKind::Transient
                | crmsync_monday::ErrorKind::RateLimited { .. } => FailureClass::Transient,
                crmsync_monday::ErrorKind::Auth | crmsync_monday::ErrorKind::Permanent => {
                    FailureClass::Permanent
                }
            },
            ApplyError::Plan(p) if p.is_retryable() => FailureClass::Transient,
            ApplyError::WaitingForRecord {
                root_dead: true, ..
            } => FailureClass::Permanent,
            ApplyError::WaitingForRecord { .. }
            | ApplyError::LeaseLost(_)
            | ApplyError::DeadlineExceeded(_) => FailureClass::Transient,
            ApplyError::Plan(_) | ApplyError::Payload(_) | ApplyError::Panicked(_) => {
                FailureClass::Permanent
            }
            ApplyError::Store(StoreError::LinkConflict { .. }) => FailureClass::Permanent,
            ApplyError::Store(_) => FailureClass::Transient,
        }
    }

    /// A short code for alert deduplication (Salesforce `errorCode`, or the error family).
    pub fn code(&self) -> String {
        match self {
            ApplyError::Salesforce(SalesforceError::Api { errors, status, .. }) => errors
                .first()
                .map(|e| e.error_code.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| format!("HTTP_{status}")),
            ApplyError::Salesforce(_) => "SALESFORCE".into(),
            ApplyError::Monday(e) => e.code().unwrap_or("MONDAY").to_string(),
            ApplyError::Plan(_) => "MAPPING".into(),
            ApplyError::Store(_) => "STORE".into(),
            ApplyError::Payload(_) => "PAYLOAD".into(),
            ApplyError::Panicked(_) => "PANIC".into(),
            ApplyError::WaitingForRecord { .. } => "WAITING_FOR_RECORD".into(),
            ApplyError::LeaseLost(_) => "LEASE_LOST".into(),
            ApplyError::DeadlineExceeded(_) => "DEADLINE".into(),
        }
    }

    /// The HTTP status Salesforce or Monday answered, when the failure was such an answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ApplyError::Salesforce(e) => e.status(),
            ApplyError::Monday(MondayError::Http { status, .. }) => Some(*status),
            ApplyError::Monday(MondayError::GraphQl { http_status, .. }) => Some(*http_status),
            _ => None,
        }
    }

    /// Salesforce's error body (JSON array of `{errorCode, message, fields}`), when Salesforce
    /// rejected the request.
    pub fn salesforce_body(&self) -> Option<String> {
        match self {
            ApplyError::Salesforce(SalesforceError::Api { errors, .. }) => {
                serde_json::to_string(errors).ok()
            }
            _ => None,
        }
    }

    /// Advice for a person reading the alert or the status page.
    pub fn what_to_do(&self) -> String {
        match self {
            ApplyError::Plan(PlanError::Transform(crmsync_core::TransformError::UnresolvedLink {
                column,
                item_id,
            })) => {
                return format!(
                    "Column `{column}` links Monday item {item_id}, which has no Salesforce record yet: link the contact's account first (sync item {item_id} to Salesforce: edit it on Monday, fill its Salesforce Id column, or replay its own dead letter). crmsync retries by itself for a while; if this is a dead letter, replay it afterwards with `crmsync dead-letters replay ID`."
                )
            }
            ApplyError::Plan(PlanError::Transform(crmsync_core::TransformError::UnresolvedUser {
                column,
                ..
            })) => {
                return format!(
                    "Column `{column}` names a Monday user with no active Salesforce user of the same email: add the user to Salesforce (or fix the email on either side), then replay the dead letter with `crmsync dead-letters replay ID` (a column left out of a create is retried by itself for a while first)."
                )
            }
            ApplyError::WaitingForRecord {
                column, item_id, ..
            } => {
                return format!(
                    "Item {item_id} has no Salesforce record because its create failed, so column `{column}` (left out of that create) cannot be written yet. Fix the create's error and replay the item's other dead letter (`crmsync dead-letters list`, then `crmsync dead-letters replay ID`): replaying it re-opens this follow-up, so it need not be replayed by hand."
                )
            }
            _ => {}
        }
        match self.class() {
            FailureClass::Permanent => match self {
                ApplyError::Plan(_) => "The mapping cannot convert this value. Fix the value on Monday or the mapping (mapping.toml), then replay the dead letter with `crmsync dead-letters replay ID`.".into(),
                ApplyError::Panicked(_) => "crmsync hit a bug on this event (see the error and the log). Report it with the dead letter (`crmsync dead-letters show ID`); replay it with `crmsync dead-letters replay ID` once fixed.".into(),
                ApplyError::Monday(_) => "Monday refused crmsync's request (token or permissions?). Fix the Monday API token or access, then replay the dead letter with `crmsync dead-letters replay ID`.".into(),
                _ => "Salesforce rejected the change. Fix the value on Monday, the mapping, or the Salesforce field/validation rule, then replay the dead letter with `crmsync dead-letters replay ID`.".into(),
            },
            FailureClass::RateLimited => "Salesforce's daily API limit is used up. Syncing resumes by itself when the limit resets; ask your Salesforce admin to raise it if this repeats.".into(),
            FailureClass::Transient => "Nothing yet: crmsync retries automatically. If this keeps happening, check that Salesforce and Monday are reachable.".into(),
        }
    }
}

/// Errors of the engine's own bookkeeping (the store), as opposed to failures of an event.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed; the event stays open and is retried (its lease expires).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The dead letter or event does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Mapping loading or validation failed.
    #[error("{0}")]
    Mapping(String),
    /// A Monday call outside event processing failed (e.g. installing webhooks).
    #[error("{0}")]
    Monday(#[from] MondayError),
    /// A Salesforce call outside event processing failed (e.g. describes for validation).
    #[error("{0}")]
    Salesforce(#[from] SalesforceError),
    /// Data from Monday (or an argument) that a sweep or report cannot use, with what it was.
    #[error("{0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_core::TransformError;

    #[test]
    fn advice_for_an_unknown_related_record_or_user_names_the_column() {
        let link = ApplyError::Plan(PlanError::Transform(TransformError::UnresolvedLink {
            column: "board_relation_mks98dnn".into(),
            item_id: "123".into(),
        }));
        assert_eq!(link.class(), FailureClass::Transient);
        let advice = link.what_to_do();
        assert!(advice.contains("`board_relation_mks98dnn`"), "{advice}");
        assert!(advice.contains("item 123"), "{advice}");
        assert!(
            advice.contains("link the contact's account first"),
            "{advice}"
        );

        let user = ApplyError::Plan(PlanError::Transform(TransformError::UnresolvedUser {
            column: "person".into(),
            detail: "no Salesforce user with email a@example.org".into(),
        }));
        assert_eq!(user.class(), FailureClass::Permanent);
        let advice = user.what_to_do();
        assert!(advice.contains("`person`"), "{advice}");
        assert!(advice.contains("add the user to Salesforce"), "{advice}");
        assert!(
            advice.contains("crmsync dead-letters replay ID"),
            "{advice}"
        );
    }

    #[test]
    fn a_follow_up_waiting_for_its_items_record_is_transient_and_says_to_replay_the_create() {
        let e = ApplyError::WaitingForRecord {
            column: "board_relation_mks98dnn".into(),
            item_id: "501".into(),
            root_dead: false,
        };
        assert_eq!(e.class(), FailureClass::Transient);
        assert_eq!(e.code(), "WAITING_FOR_RECORD");
        assert!(e.to_string().contains("no Salesforce record yet"), "{e}");
        let advice = e.what_to_do();
        assert!(advice.contains("`board_relation_mks98dnn`"), "{advice}");
        assert!(advice.contains("Item 501"), "{advice}");
        assert!(advice.contains("re-opens this follow-up"), "{advice}");
        // Once the create it follows is a dead letter, waiting stops: a permanent failure.
        let dead = ApplyError::WaitingForRecord {
            column: "board_relation_mks98dnn".into(),
            item_id: "501".into(),
            root_dead: true,
        };
        assert_eq!(dead.class(), FailureClass::Permanent);
        assert!(dead.to_string().contains("is a dead letter"), "{dead}");
        assert!(dead.what_to_do().contains("re-opens this follow-up"));
    }
}
