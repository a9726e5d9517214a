//! Access tokens: checking the `Authorization` header and minting tokens.

use std::time::Instant;

use axum::http::{header, HeaderMap};
use rand::Rng;

use super::MockHandle;
use crate::error::ApiError;

impl MockHandle {
    pub(super) fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("OAuth "))
            .map(str::trim);
        let Some(token) = token else {
            return Err(ApiError::invalid_session());
        };
        let mut m = self.lock();
        match m.sessions.get(token) {
            Some(s) if s.expires > Instant::now() => Ok(s.user_id.clone()),
            Some(_) => {
                m.sessions.remove(token);
                Err(ApiError::invalid_session())
            }
            None => Err(ApiError::invalid_session()),
        }
    }
}

pub(crate) fn random_token(org_id: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::thread_rng();
    let tail: String = (0..96)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("{}!{tail}", &org_id[..15.min(org_id.len())])
}
