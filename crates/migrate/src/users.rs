//! People columns: the Salesforce user directory (`User` Id → Email) and Monday's (user id →
//! email), so that an `OwnerId` becomes the Monday user with the same email. A record whose
//! owner has no Monday user of that email keeps its people column empty and is reported (by
//! `plan` and `run`), never dropped silently.

use std::collections::BTreeMap;

use crmsync_core::{BoardMapping, StaticLookups, Transform};
use crmsync_salesforce::{QueryOptions, Soql};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use crate::{record_text, MigrateError, Migrator, Result};

/// Users Monday pages at most this many at a time.
const USERS_PAGE: usize = 1000;

/// A Salesforce user whose records' people column could not be set: no Monday user has the
/// user's email (or the user has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedUser {
    /// Salesforce object of the records.
    pub object: String,
    /// The people column left empty.
    pub column: String,
    /// The Salesforce user Id (the records' owner).
    pub user_id: String,
    /// The user's email in Salesforce, when it has one.
    pub email: Option<String>,
    /// Records of this object owned by the user.
    pub records: u64,
}

/// Whether a board maps a people column toward Monday.
pub(crate) fn has_people(bm: &BoardMapping) -> bool {
    bm.columns
        .iter()
        .any(|c| c.transform == Transform::People && c.direction.to_monday())
}

impl Migrator {
    /// Every Monday user as `(id, name, email)`, paged (`users(limit, page)`).
    pub(crate) async fn monday_users(&self) -> Result<Vec<Value>> {
        const Q: &str = "query Users($limit: Int, $page: Int) { users(limit: $limit, page: $page) { id name email } complexity { before after query reset_in_x_seconds } }";
        let mut out = Vec::new();
        for page in 1.. {
            let data = self
                .monday
                .graphql("Users", Q, json!({"limit": USERS_PAGE, "page": page}), true)
                .await?;
            let users = match data.get("users") {
                Some(Value::Array(a)) => a.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(other) => {
                    return Err(MigrateError::Data(format!(
                        "Monday's users answer is not a list: {other}"
                    )))
                }
            };
            let n = users.len();
            out.extend(users);
            if n < USERS_PAGE {
                break;
            }
        }
        Ok(out)
    }

    /// Both user directories, when any migrated board has a people column (else empty).
    pub(crate) async fn user_lookups(&self, boards: &[&BoardMapping]) -> Result<StaticLookups> {
        let mut lookups = StaticLookups::default();
        if !boards.iter().any(|b| has_people(b)) {
            return Ok(lookups);
        }
        let q = Soql::from("User").select(["Id", "Email"]);
        let mut users = self
            .sf
            .query_records(&q, QueryOptions::default())
            .await?
            .records;
        while let Some(u) = users.next().await {
            let u = u?;
            if let (Some(id), Some(email)) = (record_text(&u, "Id"), record_text(&u, "Email")) {
                lookups.salesforce_users.insert(id, email);
            }
        }
        for u in self.monday_users().await? {
            let id = match u.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            if let Some(email) = u.get("email").and_then(Value::as_str) {
                lookups.monday_users.insert(id, email.to_string());
            }
        }
        Ok(lookups)
    }
}

/// Counts, per people column and owner, the records whose owner has no Monday user.
#[derive(Debug, Default)]
pub(crate) struct Unmatched(BTreeMap<(String, String), u64>);

impl Unmatched {
    /// Notes the people columns of `record` that the first pass had to leave empty.
    pub(crate) fn note(
        &mut self,
        bm: &BoardMapping,
        record: &serde_json::Map<String, Value>,
        deferred: &[crmsync_core::plan::DeferredColumn],
    ) {
        for d in deferred {
            let Some(cm) = bm
                .columns
                .iter()
                .find(|c| c.column == d.column_id && c.transform == Transform::People)
            else {
                continue;
            };
            if let Some(owner) = record_text(record, &cm.field) {
                *self.0.entry((cm.column.clone(), owner)).or_default() += 1;
            }
        }
    }

    /// The report, with the owners' emails from `users`.
    pub(crate) fn report(&self, object: &str, users: &StaticLookups) -> Vec<UnmatchedUser> {
        self.0
            .iter()
            .map(|((column, user_id), records)| UnmatchedUser {
                object: object.to_string(),
                column: column.clone(),
                user_id: user_id.clone(),
                email: users.salesforce_users.get(user_id).cloned(),
                records: *records,
            })
            .collect()
    }
}
