//! What the planner needs to look up outside the event: record links and users.
//!
//! The engine answers these from its store and from user lists it fetched beforehand; the planner
//! stays pure. [`StaticLookups`] is a ready-made in-memory implementation.

use std::collections::BTreeMap;

/// Lookups the engine provides to the planner. Every method answers from data already in memory.
pub trait Lookups {
    /// The Salesforce record linked to a Monday item.
    fn salesforce_id_for_item(&self, item_id: &str) -> Option<String>;
    /// The Monday item linked to a Salesforce record.
    fn item_id_for_salesforce_id(&self, salesforce_id: &str) -> Option<String>;
    /// A Monday user's email.
    fn monday_user_email(&self, user_id: &str) -> Option<String>;
    /// The active Salesforce user with this email (case-insensitive).
    fn salesforce_user_by_email(&self, email: &str) -> Option<String>;
    /// A Salesforce user's email.
    fn salesforce_user_email(&self, user_id: &str) -> Option<String>;
    /// The Monday user with this email (case-insensitive).
    fn monday_user_by_email(&self, email: &str) -> Option<String>;
}

/// In-memory [`Lookups`]: links item id -> Salesforce id, and user id -> email on each side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticLookups {
    /// Monday item id -> Salesforce record id.
    pub links: BTreeMap<String, String>,
    /// Monday user id -> email.
    pub monday_users: BTreeMap<String, String>,
    /// Salesforce user id -> email.
    pub salesforce_users: BTreeMap<String, String>,
}

impl StaticLookups {
    /// Record a link.
    pub fn link(mut self, item_id: &str, salesforce_id: &str) -> Self {
        self.links
            .insert(item_id.to_string(), salesforce_id.to_string());
        self
    }
}

impl Lookups for StaticLookups {
    fn salesforce_id_for_item(&self, item_id: &str) -> Option<String> {
        self.links.get(item_id).cloned()
    }
    fn item_id_for_salesforce_id(&self, salesforce_id: &str) -> Option<String> {
        // Salesforce ids compare on their first 15 characters (the 18-character form adds a checksum).
        let key = |s: &str| s.get(..15).unwrap_or(s).to_string();
        self.links
            .iter()
            .find(|(_, sf)| key(sf) == key(salesforce_id))
            .map(|(item, _)| item.clone())
    }
    fn monday_user_email(&self, user_id: &str) -> Option<String> {
        self.monday_users.get(user_id).cloned()
    }
    fn salesforce_user_by_email(&self, email: &str) -> Option<String> {
        self.salesforce_users
            .iter()
            .find(|(_, e)| e.eq_ignore_ascii_case(email))
            .map(|(id, _)| id.clone())
    }
    fn salesforce_user_email(&self, user_id: &str) -> Option<String> {
        self.salesforce_users.get(user_id).cloned()
    }
    fn monday_user_by_email(&self, email: &str) -> Option<String> {
        self.monday_users
            .iter()
            .find(|(_, e)| e.eq_ignore_ascii_case(email))
            .map(|(id, _)| id.clone())
    }
}
