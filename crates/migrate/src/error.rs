//! What can fail in a migration command (a failed *record* is not an error: it is in the report).

use thiserror::Error;

/// A migration command failed as a whole.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crmsync_store::StoreError),
    /// Salesforce failed.
    #[error("Salesforce: {0}")]
    Salesforce(#[from] crmsync_salesforce::SalesforceError),
    /// Monday failed.
    #[error("Monday: {0}")]
    Monday(#[from] crmsync_monday::MondayError),
    /// The mapping does not fit the systems (see `crmsync mapping check`).
    #[error("mapping: {0}")]
    Mapping(String),
    /// A SOQL query could not be built.
    #[error("query for {object}: {source}")]
    Soql {
        /// Object.
        object: String,
        /// Why.
        source: crmsync_salesforce::soql::SoqlError,
    },
    /// A value Monday or Salesforce returned is not what the migration expects.
    #[error("unexpected data: {0}")]
    Data(String),
    /// `run --stage production` without a passing rehearsal of this plan.
    #[error("refused: no rehearsal of plan {plan_hash} passed; run `crmsync migrate run --stage rehearsal` first (the plan hash covers the mapping, the queries and the boards' column ids and types)")]
    NotRehearsed {
        /// The plan hash.
        plan_hash: String,
    },
}
