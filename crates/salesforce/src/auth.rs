//! OAuth token acquisition, caching and the single-flight refresh.
//!
//! The cached session carries a *generation* number. A request that fails with
//! `INVALID_SESSION_ID` asks for a refresh of the generation it used; the refresh happens
//! under a mutex and only if the cached generation is still that one. Concurrent callers whose
//! requests failed with the same expired token therefore wait for, and share, one token
//! request (no stampede).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use crate::config::{AuthMode, SalesforceConfig};
use crate::error::{Result, SalesforceError};

/// Called with the new refresh token whenever Salesforce rotates it.
pub type RefreshTokenCallback = Arc<dyn Fn(&SecretString) + Send + Sync>;

/// An access token together with the instance it is valid for.
#[derive(Clone)]
pub(crate) struct Session {
    pub access_token: SecretString,
    pub instance_url: Url,
    pub generation: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_token", &"[REDACTED]")
            .field("instance_url", &self.instance_url.as_str())
            .field("generation", &self.generation)
            .finish()
    }
}

#[derive(Default)]
struct TokenState {
    current: Option<Session>,
    generation: u64,
}

/// Claims of the JWT bearer assertion.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct JwtBearerClaims {
    /// Client id of the connected app.
    pub iss: String,
    /// Username.
    pub sub: String,
    /// Login URL.
    pub aud: String,
    /// Expiry (seconds since the epoch), three minutes ahead.
    pub exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    instance_url: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

pub(crate) struct TokenManager {
    http: reqwest::Client,
    config: Arc<SalesforceConfig>,
    state: Mutex<TokenState>,
    refresh_token: StdMutex<Option<SecretString>>,
    jwt_key: Option<EncodingKey>,
    on_rotate: Option<RefreshTokenCallback>,
    token_requests: std::sync::atomic::AtomicU64,
}

impl TokenManager {
    pub(crate) fn new(
        http: reqwest::Client,
        config: Arc<SalesforceConfig>,
        on_rotate: Option<RefreshTokenCallback>,
        initial: Option<(SecretString, Url)>,
    ) -> Result<Self> {
        let (jwt_key, refresh_token) = match &config.auth {
            AuthMode::JwtBearer {
                private_key_pem, ..
            } => {
                let key = EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
                    .map_err(|e| {
                        SalesforceError::Config(format!(
                            "the JWT private key is not a usable RSA PEM key ({})",
                            e.kind_name()
                        ))
                    })?;
                (Some(key), None)
            }
            AuthMode::RefreshToken { refresh_token } => (None, Some(refresh_token.clone())),
            AuthMode::ClientCredentials => (None, None),
        };
        let state = match initial {
            Some((access_token, instance_url)) => TokenState {
                current: Some(Session {
                    access_token,
                    instance_url,
                    generation: 1,
                }),
                generation: 1,
            },
            None => TokenState::default(),
        };
        Ok(TokenManager {
            http,
            config,
            state: Mutex::new(state),
            refresh_token: StdMutex::new(refresh_token),
            jwt_key,
            on_rotate,
            token_requests: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The cached session, fetching one if there is none yet.
    pub(crate) async fn session(&self) -> Result<Session> {
        let mut st = self.state.lock().await;
        if let Some(s) = &st.current {
            return Ok(s.clone());
        }
        self.fetch_into(&mut st).await
    }

    /// Replaces the session of generation `failed` (whose token was rejected). If another task
    /// already replaced it, returns the newer session without a token request.
    pub(crate) async fn refresh(&self, failed: u64) -> Result<Session> {
        let mut st = self.state.lock().await;
        if let Some(s) = &st.current {
            if s.generation != failed {
                return Ok(s.clone());
            }
        }
        st.current = None;
        self.fetch_into(&mut st).await
    }

    /// The current refresh token (after rotations), for [`AuthMode::RefreshToken`].
    pub(crate) fn current_refresh_token(&self) -> Option<SecretString> {
        self.refresh_token
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Number of token requests sent so far.
    pub(crate) fn token_requests(&self) -> u64 {
        self.token_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn fetch_into(&self, st: &mut TokenState) -> Result<Session> {
        let resp = self.request_token_with_retries().await?;
        let instance_url = Url::parse(&resp.instance_url).map_err(|e| SalesforceError::Decode {
            method: "POST".into(),
            path: "/services/oauth2/token".into(),
            status: 200,
            reason: format!("instance_url {:?} is not a URL: {e}", resp.instance_url),
        })?;
        if let (AuthMode::RefreshToken { .. }, Some(new_rt)) =
            (&self.config.auth, resp.refresh_token)
        {
            let new_rt = SecretString::from(new_rt);
            let changed = {
                let mut guard = self.refresh_token.lock().unwrap_or_else(|p| p.into_inner());
                let changed = guard
                    .as_ref()
                    .is_none_or(|old| old.expose_secret() != new_rt.expose_secret());
                if changed {
                    *guard = Some(new_rt.clone());
                }
                changed
            };
            if changed {
                tracing::info!("Salesforce rotated the refresh token; using the new one");
                if let Some(cb) = &self.on_rotate {
                    cb(&new_rt);
                }
            }
        }
        st.generation += 1;
        let session = Session {
            access_token: SecretString::from(resp.access_token),
            instance_url,
            generation: st.generation,
        };
        st.current = Some(session.clone());
        Ok(session)
    }

    async fn request_token_with_retries(&self) -> Result<TokenResponse> {
        let policy = &self.config.retry;
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.request_token_once().await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let retryable = e.kind() == crate::ErrorKind::Transient;
                    if !retryable {
                        return Err(e);
                    }
                    let delay = policy.backoff(attempt);
                    if attempt >= policy.max_attempts
                        || start.elapsed().saturating_add(delay) > policy.max_elapsed
                    {
                        return Err(if attempt > 1 {
                            SalesforceError::RetriesExhausted {
                                attempts: attempt,
                                elapsed: start.elapsed(),
                                last: Box::new(e),
                            }
                        } else {
                            e
                        });
                    }
                    tracing::warn!(attempt, error = %e, "token request failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn token_url(&self) -> Result<Url> {
        self.config
            .login_url
            .join("/services/oauth2/token")
            .map_err(|e| SalesforceError::Config(format!("bad login URL: {e}")))
    }

    fn jwt_assertion(&self, username: &str) -> Result<String> {
        let key = self
            .jwt_key
            .as_ref()
            .ok_or_else(|| SalesforceError::Jwt("no private key loaded".into()))?;
        let exp = chrono::Utc::now().timestamp() + 180;
        let claims = JwtBearerClaims {
            iss: self.config.client_id.clone(),
            sub: username.to_string(),
            aud: self.config.audience(),
            exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
            .map_err(|e| SalesforceError::Jwt(e.kind_name()))
    }

    async fn request_token_once(&self) -> Result<TokenResponse> {
        let url = self.token_url()?;
        let grant = self.config.auth.grant_name();
        let client_id = self.config.client_id.as_str();
        let form: Vec<(&str, String)> = match &self.config.auth {
            AuthMode::ClientCredentials => vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", client_id.into()),
                (
                    "client_secret",
                    self.config.client_secret.expose_secret().to_string(),
                ),
            ],
            AuthMode::JwtBearer { username, .. } => vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ),
                ("assertion", self.jwt_assertion(username)?),
            ],
            AuthMode::RefreshToken { .. } => {
                let rt = self
                    .current_refresh_token()
                    .ok_or_else(|| SalesforceError::Config("no refresh token available".into()))?;
                let mut f = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", rt.expose_secret().to_string()),
                    ("client_id", client_id.into()),
                ];
                if !self.config.client_secret.expose_secret().is_empty() {
                    f.push((
                        "client_secret",
                        self.config.client_secret.expose_secret().to_string(),
                    ));
                }
                f
            }
        };
        self.token_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(grant, "requesting Salesforce access token");
        let path = url.path().to_string();
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error("POST", &path, e, self.config.request_timeout))?;
        let status = resp.status().as_u16();
        let body = read_body_capped(
            "POST",
            &path,
            resp,
            self.config.max_response_bytes,
            self.config.request_timeout,
        )
        .await?;
        if (200..300).contains(&status) {
            serde_json::from_slice::<TokenResponse>(&body).map_err(|e| SalesforceError::Decode {
                method: "POST".into(),
                path,
                status,
                // serde's message names the missing/invalid field, never the token value.
                reason: format!("token response: {}", redact_serde(&e)),
            })
        } else {
            let err: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            Err(SalesforceError::Auth {
                grant,
                status,
                error: if err.error.is_empty() {
                    format!("HTTP {status}")
                } else {
                    err.error
                },
                description: err.error_description,
            })
        }
    }
}

/// serde_json errors quote offending *values* only for type mismatches of scalars, which could
/// be a token. Keep the category and position only.
fn redact_serde(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// Reads a response body, refusing one larger than `max` bytes (by its `Content-Length` up
/// front, or as soon as the streamed bytes pass the cap) with [`SalesforceError::Decode`].
pub(crate) async fn read_body_capped(
    method: &str,
    path: &str,
    mut resp: reqwest::Response,
    max: usize,
    timeout: Duration,
) -> Result<bytes::Bytes> {
    let status = resp.status().as_u16();
    let too_large = |size: String| SalesforceError::Decode {
        method: method.to_string(),
        path: path.to_string(),
        status,
        reason: format!("response body of {size} bytes exceeds the limit of {max} bytes"),
    };
    if let Some(len) = resp.content_length() {
        if usize::try_from(len).map_or(true, |len| len > max) {
            return Err(too_large(len.to_string()));
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transport_error(method, path, e, timeout))?
    {
        if chunk.len() > max.saturating_sub(body.len()) {
            return Err(too_large(format!("more than {}", body.len())));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// Maps a reqwest error into the crate's error, without the URL (which can hold record data).
pub(crate) fn transport_error(
    method: &str,
    path: &str,
    e: reqwest::Error,
    timeout: Duration,
) -> SalesforceError {
    if e.is_timeout() {
        SalesforceError::Timeout {
            method: method.to_string(),
            path: path.to_string(),
            timeout,
        }
    } else {
        SalesforceError::Network {
            method: method.to_string(),
            path: path.to_string(),
            connect: e.is_connect(),
            source: e.without_url(),
        }
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    /// The error kind without any key material.
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind())
    }
}
