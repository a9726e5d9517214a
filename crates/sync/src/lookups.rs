//! The planner's [`Lookups`], answered from data fetched before planning: record links from the
//! store and user directories from Monday and Salesforce (cached).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crmsync_core::{BoardMapping, StaticLookups, Transform};
use crmsync_monday::MondayClient;
use crmsync_salesforce::SalesforceClient;
use crmsync_store::Store;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::error::ApplyError;

/// Users of both sides, by id -> email.
#[derive(Debug, Clone, Default)]
pub(crate) struct Directories {
    pub monday: BTreeMap<String, String>,
    pub salesforce: BTreeMap<String, String>,
}

/// Caches user directories for `ttl`.
#[derive(Debug)]
pub(crate) struct DirectoryCache {
    ttl: Duration,
    cached: Mutex<Option<(Instant, Directories)>>,
}

impl DirectoryCache {
    pub fn new(ttl: Duration) -> Self {
        DirectoryCache {
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// Forgets the cached directories (the next [`DirectoryCache::get`] fetches them again).
    pub fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub async fn get(
        &self,
        monday: &MondayClient,
        salesforce: &SalesforceClient,
    ) -> Result<Directories, ApplyError> {
        if let Some((at, d)) = self
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if at.elapsed() < self.ttl {
                return Ok(d.clone());
            }
        }
        let data = monday
            .graphql(
                "users",
                "query Users { users(limit: 1000) { id email } complexity { before after query reset_in_x_seconds } }",
                json!({}),
                true,
            )
            .await
            .map_err(ApplyError::Monday)?;
        let mut dirs = Directories::default();
        for u in data["users"].as_array().into_iter().flatten() {
            let id = match &u["id"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if let Some(email) = u["email"].as_str() {
                dirs.monday.insert(id, email.to_string());
            }
        }
        let mut stream =
            salesforce.query::<Value>("SELECT Id, Email FROM User WHERE IsActive = true");
        while let Some(rec) = stream.next().await {
            let rec = rec.map_err(ApplyError::Salesforce)?;
            if let (Some(id), Some(email)) = (rec["Id"].as_str(), rec["Email"].as_str()) {
                dirs.salesforce.insert(id.to_string(), email.to_string());
            }
        }
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), dirs.clone()));
        Ok(dirs)
    }
}

/// Builds the lookups for planning one event of board `bm` about `item_id`: the item's own link,
/// the links of the `related` items its board_relation values point at (see
/// [`crmsync_core::related_item_ids`]), and the user directories when given.
pub(crate) async fn prefetch(
    store: &Store,
    bm: &BoardMapping,
    item_id: Option<&str>,
    related: BTreeSet<String>,
    directories: Option<Directories>,
) -> Result<StaticLookups, ApplyError> {
    let mut l = StaticLookups::default();
    let board: i64 = parse_id(&bm.board_id)?;
    if let Some(item_id) = item_id {
        let iid = parse_id(item_id)?;
        if let Some(link) = store
            .find_link_by_monday(board, iid)
            .await
            .map_err(ApplyError::Store)?
        {
            l.links.insert(item_id.to_string(), link.sf_id);
        }
    }
    let targets: BTreeSet<&str> = bm
        .columns
        .iter()
        .filter(|c| c.transform == Transform::BoardRelation)
        .filter_map(|c| c.target_board.as_deref())
        .collect();
    if !targets.is_empty() {
        for id in related {
            let Ok(iid) = id.parse::<i64>() else { continue };
            for t in &targets {
                let tb = parse_id(t)?;
                if let Some(link) = store
                    .find_link_by_monday(tb, iid)
                    .await
                    .map_err(ApplyError::Store)?
                {
                    l.links.insert(id.clone(), link.sf_id);
                    break;
                }
            }
        }
    }
    if let Some(d) = directories {
        l.monday_users = d.monday;
        l.salesforce_users = d.salesforce;
    }
    Ok(l)
}

pub(crate) fn parse_id(s: &str) -> Result<i64, ApplyError> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| ApplyError::Payload(format!("`{s}` is not a numeric Monday id")))
}
