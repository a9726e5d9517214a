//! Salesforce REST client: OAuth, sObjects, upsert, query paging, collections, limits.
//!
//! [`SalesforceClient`] is built from a typed [`SalesforceConfig`] and is cheap to clone.
//! Every call goes through one request path that
//!
//! * obtains and caches an access token (client credentials, JWT bearer or refresh token,
//!   see [`AuthMode`]); on `INVALID_SESSION_ID` it refreshes **once** — concurrent callers
//!   that failed with the same token share a single token request — and retries the failed
//!   request once;
//! * retries transient failures (network, timeouts, HTTP 5xx, `UNABLE_TO_LOCK_ROW`,
//!   `SERVER_UNAVAILABLE`) with exponential backoff and full jitter, bounded by attempts and
//!   total time ([`RetryPolicy`]); `REQUEST_LIMIT_EXCEEDED` is never retried;
//! * applies a timeout to every HTTP call;
//! * reads `Sforce-Limit-Info` from every response ([`SalesforceClient::api_usage`]) and
//!   refuses new operations once fewer requests than [`SalesforceConfig::api_reserve`] remain
//!   ([`SalesforceError::LimitReserve`]).
//!
//! Errors are [`SalesforceError`]; [`SalesforceError::kind`] classifies them as
//! [`ErrorKind::Transient`], [`ErrorKind::Session`], [`ErrorKind::RateLimited`] or
//! [`ErrorKind::Permanent`]. No error, log line or `Debug` output contains a token, secret
//! or private key.
//!
//! SOQL is built with [`soql::Soql`], which escapes every literal, so record data can never
//! change a query's structure.
//!
//! # Lost create responses: upsert by external id
//!
//! A `POST` create whose response is lost (connection dropped, timeout) may or may not have
//! created the record. Retrying the create could make a duplicate, so
//! [`SalesforceClient::create`] and [`SalesforceClient::create_many`] are only retried
//! automatically when Salesforce certainly did not process them (connection refused,
//! `UNABLE_TO_LOCK_ROW`, `SERVER_UNAVAILABLE`); after a timeout they return
//! [`SalesforceError::Timeout`] (transient) and leave the decision to the caller.
//!
//! The safe pattern is to write every record with a stable external id (for crmsync, the
//! Monday item id in an external id field such as `Monday_Item_Id__c`) and to write it with
//! [`SalesforceClient::upsert`] (or [`SalesforceClient::upsert_many`]) instead of create.
//! Upsert is idempotent: if the first attempt did create the record, the repeat finds it by
//! the external id and updates it (`created: false`, same id); if not, it creates it. Only if
//! the external id is not unique does Salesforce answer HTTP 300, reported as
//! [`SalesforceError::MultipleMatches`] (nothing written). Because upsert is idempotent the
//! client retries it after any transient failure, timeouts included.
//!
//! ```no_run
//! # async fn demo(sf: &crmsync_salesforce::SalesforceClient) -> Result<(), crmsync_salesforce::SalesforceError> {
//! use serde_json::json;
//! let fields = json!({"LastName": "Lovelace", "Company": "Analytical Engines"});
//! // Not `sf.create("Lead", &fields)`: its response could be lost after Salesforce saved it.
//! let saved = sf.upsert("Lead", "Monday_Item_Id__c", "1234567890", &fields).await?;
//! println!("{} (created: {})", saved.id, saved.created);
//! # Ok(()) }
//! ```
//!
//! If a plain create did time out, recover the same way: upsert by the external id the create
//! carried (or look it up with [`SalesforceClient::get_by_external_id`]) before creating
//! again.
//!
//! Mark the external id field **Unique** in Salesforce. A timed-out create may still be running
//! on the server when the recovery upsert arrives; the upsert then creates the record and the
//! late create fails with `DUPLICATE_VALUE` instead of adding a second record. Without the
//! Unique attribute that race can leave two records, and later upserts fail with
//! [`SalesforceError::MultipleMatches`] (HTTP 300) rather than silently picking one.

mod auth;
mod client;
mod collections;
mod config;
mod describe;
mod error;
mod limits;
mod query;
pub mod soql;

pub use auth::{JwtBearerClaims, RefreshTokenCallback};
pub use client::{ClientBuilder, Record, SalesforceClient, UpsertResult};
pub use collections::{RecordFailure, RecordOutcome, RecordSaved, COLLECTION_CHUNK};
pub use config::{
    AuthMode, BulkConfig, RetryPolicy, SalesforceConfig, DEFAULT_API_VERSION,
    DEFAULT_MAX_RESPONSE_BYTES,
};
pub use describe::{
    FieldDescribe, FieldType, GlobalDescribe, PicklistValue, SObjectDescribe, SObjectDescribeTyped,
    SObjectSummary,
};
pub use error::{ApiErrorDetail, ErrorKind, Result, SalesforceError};
pub use limits::{parse_limit_info, ApiUsage, LimitValue, OrgLimits};
pub use query::{field_value, strip_attributes, QueryApi, QueryMode, QueryOptions, QueryStream};
pub use soql::{Cond, Soql, SoqlValue};
