//! Monday.com GraphQL client, webhook payload types and webhook authentication.
