//! The seed the mocks start from (`fixtures/seed`), and its ids, named once.

use std::path::PathBuf;

/// The repository's `fixtures/seed` (seed data of both mocks and the example mapping).
pub fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed")
}

/// The example mapping, `fixtures/seed/mapping.toml`.
pub fn seed_mapping() -> PathBuf {
    seed_dir().join("mapping.toml")
}

/// Monday board ids of the seed (the real deployment's boards).
pub mod boards {
    /// The Leads board (→ Salesforce Lead).
    pub const LEADS: &str = "9378000505";
    /// The Accounts board (→ Account).
    pub const ACCOUNTS: &str = "9378000326";
    /// The Contacts board (→ Contact).
    pub const CONTACTS: &str = "9429890440";
    /// The Opportunities board (→ Opportunity).
    pub const OPPORTUNITIES: &str = "9378000036";
}

/// OAuth client of the mock Salesforce's default client-credentials app.
pub const MOCK_SF_CLIENT_ID: &str = "mock-client-id";
/// Its secret.
pub const MOCK_SF_CLIENT_SECRET: &str = "mock-client-secret";
