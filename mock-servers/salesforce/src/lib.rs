//! Mock Salesforce REST API (independent of crmsync's client).
