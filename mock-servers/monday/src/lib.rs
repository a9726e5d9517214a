//! Mock Monday.com GraphQL API with webhooks and complexity budget (independent of crmsync's client).
