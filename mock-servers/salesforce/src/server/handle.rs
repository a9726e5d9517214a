//! [`MockHandle`]: the mock's shared state and its in-process admin API.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use super::auth::random_token;
use super::{Config, Fault, Inner, JournalEntry, Mutable};
use crate::ids;
use crate::schema::Schema;
use crate::store::{self, Data};
use crate::{Args, MockError, Shared, CURRENT_VERSION};

/// A handle on a mock's state: the in-process form of the `/__mock/` admin API.
#[derive(Clone)]
pub struct MockHandle(pub(crate) Shared);

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle")
            .field("org_id", &self.0.cfg.org_id)
            .finish_non_exhaustive()
    }
}

impl MockHandle {
    pub(crate) fn new(
        args: &Args,
        jwt_pem: Option<&str>,
        seed_dir: &Path,
    ) -> Result<MockHandle, MockError> {
        let schema = Schema::load(seed_dir)?;
        let mut seed = Data::load(&schema, seed_dir)?;
        seed.scale(&schema, args.scale)?;
        let org_path = seed_dir.join("org.json");
        let org: Value = if org_path.exists() {
            let text = std::fs::read_to_string(&org_path).map_err(|source| MockError::Io {
                path: org_path.clone(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|source| MockError::Json {
                path: org_path.clone(),
                source,
            })?
        } else {
            Value::Null
        };
        let user_obj = schema.object("User");
        let integration_user = org
            .get("integrationUserId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                user_obj
                    .and_then(|u| seed.table(u).next())
                    .and_then(|r| r.get("Id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| ids::make_id("005", 1));
        let org_id = org
            .get("organizationId")
            .and_then(Value::as_str)
            .and_then(ids::to_18)
            .unwrap_or_else(|| ids::make_id("00D", 1));
        let jwt_key = match jwt_pem {
            Some(pem) => Some(
                jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                    MockError::JwtKey {
                        path: "(pem)".into(),
                        message: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let cfg = Config {
            client_id: args.client_id.clone(),
            client_secret: args.client_secret.clone(),
            password: args.password.clone(),
            rotate: args.rotate_refresh_tokens,
            ttl: Duration::from_secs(args.token_ttl_secs),
            daily_limit: args.daily_limit,
            jwt_key,
            max_body: args.max_body_bytes,
            org_id,
            https: args.tls.is_some(),
            integration_user: integration_user.clone(),
        };
        let mut refresh_tokens = HashMap::new();
        refresh_tokens.insert(args.refresh_token.clone(), integration_user);
        let m = Mutable {
            data: seed.clone(),
            sessions: HashMap::new(),
            refresh_tokens,
            used: 0,
            max: args.daily_limit,
            journal: Vec::new(),
            journal_seq: 0,
            faults: Vec::new(),
            locked: HashSet::new(),
            cursors: IndexMap::new(),
            jobs: IndexMap::new(),
            seq: 0,
        };
        Ok(MockHandle(Arc::new(Inner {
            cfg,
            schema,
            seed,
            m: Mutex::new(m),
        })))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Mutable> {
        self.0.m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Restores the seed records, clears the journal, faults, locks, cursors, jobs and API usage.
    /// Sessions and refresh tokens stay valid.
    pub fn reset(&self) {
        let mut m = self.lock();
        m.data = self.0.seed.clone();
        m.journal.clear();
        m.faults.clear();
        m.locked.clear();
        m.cursors.clear();
        m.jobs.clear();
        m.used = 0;
        m.max = self.0.cfg.daily_limit;
    }

    /// The journal of requests received so far.
    pub fn requests(&self) -> Vec<JournalEntry> {
        self.lock().journal.clone()
    }

    /// Adds a fault.
    pub fn add_fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Invalidates every access token now.
    pub fn expire_sessions(&self) {
        self.lock().sessions.clear();
    }

    /// Uses up the daily allocation: further REST calls get `403 REQUEST_LIMIT_EXCEEDED`.
    pub fn exhaust_daily_limit(&self) {
        let mut m = self.lock();
        m.used = m.max;
    }

    /// Sets API usage and/or the allocation.
    pub fn set_api_usage(&self, used: Option<u64>, max: Option<u64>) {
        let mut m = self.lock();
        if let Some(u) = used {
            m.used = u;
        }
        if let Some(x) = max {
            m.max = x;
        }
    }

    /// `(used, max)` of the daily allocation.
    pub fn api_usage(&self) -> (u64, u64) {
        let m = self.lock();
        (m.used, m.max)
    }

    /// Writes to these record Ids fail with `UNABLE_TO_LOCK_ROW` until [`MockHandle::unlock_rows`].
    pub fn lock_rows<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, ids_: I) {
        let mut m = self.lock();
        for id in ids_ {
            if let Some(id18) = ids::to_18(id.as_ref()) {
                m.locked.insert(id18);
            }
        }
    }

    /// Releases every locked row.
    pub fn unlock_rows(&self) {
        self.lock().locked.clear();
    }

    /// Issues a refresh token for the integration user (as a web-server flow would).
    pub fn issue_refresh_token(&self) -> String {
        let token = random_token(&self.0.cfg.org_id);
        self.lock()
            .refresh_tokens
            .insert(token.clone(), self.0.cfg.integration_user.clone());
        token
    }

    /// A live (non-deleted) record by object and Id, rendered like `GET /sobjects/{Object}/{id}`.
    pub fn record(&self, object: &str, id: &str) -> Option<Value> {
        let obj = self.0.schema.object(object)?;
        let m = self.lock();
        m.data
            .get(obj, id)
            .filter(|r| !store::is_deleted(r))
            .map(|r| store::render(obj, r, None, &format!("{CURRENT_VERSION}.0")))
    }

    /// All records of every object (including deleted ones): `{"Lead":[…],…}`.
    pub fn dump(&self) -> Value {
        let m = self.lock();
        let mut out = Map::new();
        for obj in self.0.schema.objects() {
            let rows: Vec<Value> = m.data.table(obj).map(|r| json!(r)).collect();
            out.insert(obj.name.clone(), Value::Array(rows));
        }
        Value::Object(out)
    }
}
