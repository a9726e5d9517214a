//! Salesforce REST client: OAuth, sObjects, upsert, query paging, collections, limits.
