//! Webhook authentication.
//!
//! * App webhooks: Monday sends a JWT in `Authorization` (raw; a `Bearer ` prefix is tolerated),
//!   HS256-signed with the app's signing secret, with `exp` and `aud` (= the webhook URL).
//!   [`WebhookVerifier`] checks the algorithm (only HS256; `none` and others are refused before
//!   any signature work), the signature (constant-time HMAC comparison inside `jsonwebtoken`),
//!   `exp` and `aud` against a configured list of accepted URLs.
//! * Webhooks created with a personal token carry no JWT; crmsync puts a shared secret in the
//!   webhook URL instead, checked with [`verify_shared_token`] (constant time, `subtle`).
//!
//! Neither the secret nor the presented token ever appears in an [`AuthError`] or a `Debug`
//! output.

use std::fmt;

use base64::Engine;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a webhook request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header (or no token in the URL).
    #[error("missing webhook credentials")]
    Missing,
    /// The token is not a well-formed JWT (the reason never includes the token).
    #[error("malformed webhook JWT: {0}")]
    Malformed(String),
    /// The JWT's `alg` is not HS256 (e.g. `none`).
    #[error("webhook JWT uses unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The signature does not match the signing secret.
    #[error("webhook JWT signature is invalid")]
    InvalidSignature,
    /// `exp` is in the past.
    #[error("webhook JWT has expired")]
    Expired,
    /// `aud` is missing or not one of the accepted webhook URLs.
    #[error("webhook JWT audience is not accepted")]
    WrongAudience,
    /// A required claim (`exp`, `aud`) is missing.
    #[error("webhook JWT lacks required claim `{0}`")]
    MissingClaim(String),
    /// The shared URL token does not match.
    #[error("webhook token does not match")]
    TokenMismatch,
}

/// Claims of Monday's webhook JWT.
#[derive(Clone, Deserialize)]
pub struct JwtClaims {
    /// `accountId`.
    #[serde(rename = "accountId", default)]
    pub account_id: Option<Value>,
    /// `userId`.
    #[serde(rename = "userId", default)]
    pub user_id: Option<Value>,
    /// `aud` (string or array).
    #[serde(default)]
    pub aud: Option<Value>,
    /// `exp` (Unix seconds).
    pub exp: u64,
    /// `iat` (Unix seconds).
    #[serde(default)]
    pub iat: Option<u64>,
    /// `shortLivedToken`: an API token valid for a few minutes. Secret.
    #[serde(rename = "shortLivedToken", default)]
    pub short_lived_token: Option<SecretString>,
}

impl fmt::Debug for JwtClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtClaims")
            .field("account_id", &self.account_id)
            .field("user_id", &self.user_id)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field(
                "short_lived_token",
                &self.short_lived_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Verifies Monday's webhook JWTs.
#[derive(Clone)]
pub struct WebhookVerifier {
    secret: SecretString,
    audiences: Vec<String>,
    leeway_secs: u64,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secret", &"[redacted]")
            .field("audiences", &self.audiences)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

impl WebhookVerifier {
    /// A verifier for the signing secret, accepting tokens whose `aud` is one of `audiences`
    /// (the public webhook URL(s)). With an empty list every token is refused
    /// ([`AuthError::WrongAudience`]). Clock leeway defaults to 30 seconds.
    pub fn new(signing_secret: SecretString, audiences: Vec<String>) -> Self {
        WebhookVerifier {
            secret: signing_secret,
            audiences,
            leeway_secs: 30,
        }
    }

    /// Sets the clock leeway for `exp`.
    pub fn with_leeway_secs(mut self, leeway_secs: u64) -> Self {
        self.leeway_secs = leeway_secs;
        self
    }

    /// Verifies the value of the `Authorization` header (raw JWT or `Bearer <jwt>`).
    pub fn verify_authorization(&self, header: Option<&str>) -> Result<JwtClaims, AuthError> {
        let raw = header.map(str::trim).filter(|h| !h.is_empty());
        let Some(raw) = raw else {
            return Err(AuthError::Missing);
        };
        let token = strip_bearer(raw);
        self.verify_token(token)
    }

    /// Verifies a bare JWT.
    pub fn verify_token(&self, token: &str) -> Result<JwtClaims, AuthError> {
        check_algorithm(token)?;
        if self.audiences.is_empty() {
            return Err(AuthError::WrongAudience);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "aud"]);
        let key = DecodingKey::from_secret(self.secret.expose_secret().as_bytes());
        // `jsonwebtoken` deserializes the claims before it checks the required ones, so decode
        // into a shape where `exp` is optional: a token without `exp` is then reported as
        // `MissingClaim("exp")`, not as malformed JSON.
        let claims = decode::<RawClaims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(map_jwt_error)?;
        let exp = claims
            .exp
            .ok_or_else(|| AuthError::MissingClaim("exp".to_owned()))?;
        Ok(JwtClaims {
            account_id: claims.account_id,
            user_id: claims.user_id,
            aud: claims.aud,
            exp,
            iat: claims.iat,
            short_lived_token: claims.short_lived_token,
        })
    }
}

/// [`JwtClaims`] as decoded, before the required claims are known to be present.
#[derive(Deserialize)]
struct RawClaims {
    #[serde(rename = "accountId", default)]
    account_id: Option<Value>,
    #[serde(rename = "userId", default)]
    user_id: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(rename = "shortLivedToken", default)]
    short_lived_token: Option<SecretString>,
}

fn strip_bearer(raw: &str) -> &str {
    let lower_prefix = raw.get(..7).map(str::to_ascii_lowercase);
    if lower_prefix.as_deref() == Some("bearer ") {
        raw[7..].trim_start()
    } else {
        raw
    }
}

/// Reads the JOSE header and refuses anything but HS256 before signature checking.
fn check_algorithm(token: &str) -> Result<(), AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("header is not base64url".into()))?;
    let header: Value = serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("header is not JSON".into()))?;
    match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => Ok(()),
        Some(other) => Err(AuthError::UnsupportedAlgorithm(
            other.chars().take(16).collect(),
        )),
        None => Err(AuthError::Malformed("header has no alg".into())),
    }
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => AuthError::InvalidSignature,
        K::ExpiredSignature => AuthError::Expired,
        K::InvalidAudience => AuthError::WrongAudience,
        K::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
        K::InvalidAlgorithm | K::InvalidAlgorithmName => {
            AuthError::UnsupportedAlgorithm("unsupported".into())
        }
        K::ImmatureSignature => AuthError::Malformed("token not yet valid".into()),
        K::Json(_) => {
            AuthError::Malformed("claims are not valid JSON of the expected shape".into())
        }
        K::Base64(_) | K::Utf8(_) | K::InvalidToken => {
            AuthError::Malformed("token is not a valid JWT".into())
        }
        _ => AuthError::Malformed("token could not be verified".into()),
    }
}

/// Compares a token presented in the webhook URL with the configured shared token in constant
/// time, whatever the lengths: both are hashed with SHA-256 and the fixed-size digests are
/// compared with `subtle`, so neither the content nor the length of the expected token leaks
/// through timing.
pub fn verify_shared_token(
    expected: &SecretString,
    presented: Option<&str>,
) -> Result<(), AuthError> {
    let Some(presented) = presented.filter(|p| !p.is_empty()) else {
        return Err(AuthError::Missing);
    };
    let expected = expected.expose_secret().as_bytes();
    if expected.is_empty() {
        return Err(AuthError::TokenMismatch);
    }
    let expected_digest = Sha256::digest(expected);
    let presented_digest = Sha256::digest(presented.as_bytes());
    if bool::from(
        expected_digest
            .as_slice()
            .ct_eq(presented_digest.as_slice()),
    ) {
        Ok(())
    } else {
        Err(AuthError::TokenMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_prefix_is_optional_and_case_insensitive() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer  abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Bear"), "Bear");
    }

    #[test]
    fn shared_token_comparison() {
        let s = SecretString::from("s3cret-token".to_owned());
        assert_eq!(verify_shared_token(&s, Some("s3cret-token")), Ok(()));
        assert_eq!(
            verify_shared_token(&s, Some("s3cret-tokeX")),
            Err(AuthError::TokenMismatch)
        );
        assert_eq!(
            verify_shared_token(&s, Some("short")),
            Err(AuthError::TokenMismatch)
        );
        assert_eq!(
            verify_shared_token(&s, Some("s3cret-token-and-more")),
            Err(AuthError::TokenMismatch)
        );
        assert_eq!(verify_shared_token(&s, None), Err(AuthError::Missing));
        assert_eq!(verify_shared_token(&s, Some("")), Err(AuthError::Missing));
    }

    /// Tokens of every length around the expected one, including its prefixes and extensions,
    /// go through the same digest comparison and are refused; only the exact token passes.
    #[test]
    fn shared_token_of_any_length_is_refused_unless_equal() {
        let expected = "0123456789abcdef";
        let s = SecretString::from(expected.to_owned());
        for len in 1..=expected.len() * 2 {
            let presented: String = expected.chars().cycle().take(len).collect();
            let want = if presented == expected {
                Ok(())
            } else {
                Err(AuthError::TokenMismatch)
            };
            assert_eq!(verify_shared_token(&s, Some(&presented)), want, "len {len}");
        }
        // Same length, one byte off at either end.
        assert_eq!(
            verify_shared_token(&s, Some("X123456789abcdef")),
            Err(AuthError::TokenMismatch)
        );
        assert_eq!(
            verify_shared_token(&s, Some("0123456789abcdeX")),
            Err(AuthError::TokenMismatch)
        );
    }

    #[test]
    fn empty_expected_token_refuses_everything() {
        let s = SecretString::from(String::new());
        assert_eq!(
            verify_shared_token(&s, Some("anything")),
            Err(AuthError::TokenMismatch)
        );
    }
}
