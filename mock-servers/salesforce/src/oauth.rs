//! `POST /services/oauth2/token` (four grants), `/services/oauth2/revoke` and the identity URL.

use std::time::Instant;

use axum::http::{header, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::server::{now_millis, random_token, MockHandle, Req, Resp, Session};

fn oauth_error(error: &str, description: &str) -> Resp {
    Resp::json(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

fn params(req: &Req) -> Result<Vec<(String, String)>, Resp> {
    if let Some(ct) = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
    {
        if !ct
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
            && !req.body.is_empty()
        {
            return Err(oauth_error("invalid_request", "invalid content type"));
        }
    }
    let mut out = req.query.clone();
    let body: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body)
        .map_err(|_| oauth_error("invalid_request", "malformed request body"))?;
    out.extend(body);
    Ok(out)
}

fn basic_auth(req: &Req) -> Option<(String, String)> {
    let h = req.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = h.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn constant_eq(a: &str, b: &str) -> bool {
    constant_eq_bytes(a.as_bytes(), b.as_bytes())
}

fn constant_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token endpoint.
pub(crate) fn token(h: &MockHandle, req: &Req) -> Resp {
    if req.method != axum::http::Method::POST {
        return oauth_error("invalid_request", "must use HTTP POST");
    }
    let p = match params(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let get = |k: &str| p.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let cfg = &h.0.cfg;
    let (client_id, client_secret) = match basic_auth(req) {
        Some((i, s)) => (Some(i), Some(s)),
        None => (get("client_id"), get("client_secret")),
    };
    let Some(grant) = get("grant_type") else {
        return oauth_error("invalid_request", "grant type is missing");
    };
    let check_client = |secret_required: bool| -> Result<(), Resp> {
        match client_id.as_deref() {
            Some(id) if constant_eq(id, &cfg.client_id) => {}
            _ => {
                return Err(oauth_error(
                    "invalid_client_id",
                    "client identifier invalid",
                ))
            }
        }
        match client_secret.as_deref() {
            Some(s) if constant_eq(s, &cfg.client_secret) => Ok(()),
            None if !secret_required => Ok(()),
            _ => Err(oauth_error("invalid_client", "invalid client credentials")),
        }
    };
    let user = match grant.as_str() {
        "client_credentials" => {
            if let Err(r) = check_client(true) {
                return r;
            }
            cfg.integration_user.clone()
        }
        "password" => {
            if let Err(r) = check_client(true) {
                return r;
            }
            let (Some(username), Some(password)) = (get("username"), get("password")) else {
                return oauth_error("invalid_grant", "authentication failure");
            };
            let Some(uid) = user_by_username(h, &username) else {
                return oauth_error("invalid_grant", "authentication failure");
            };
            // The password may carry the user's security token appended.
            // Compared as bytes: the request's password may hold multi-byte characters.
            let presented = password.as_bytes().get(..cfg.password.len());
            if !presented.is_some_and(|p| constant_eq_bytes(p, cfg.password.as_bytes())) {
                return oauth_error("invalid_grant", "authentication failure");
            }
            uid
        }
        "refresh_token" => {
            if let Err(r) = check_client(false) {
                return r;
            }
            let Some(rt) = get("refresh_token") else {
                return oauth_error("invalid_grant", "expired access/refresh token");
            };
            let mut m = h.0.m.lock().unwrap_or_else(|e| e.into_inner());
            let Some(uid) = m.refresh_tokens.get(&rt).cloned() else {
                return oauth_error("invalid_grant", "expired access/refresh token");
            };
            if cfg.rotate {
                m.refresh_tokens.remove(&rt);
            }
            uid
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            match jwt_user(h, req, get("assertion").as_deref()) {
                Ok(u) => u,
                Err(r) => return r,
            }
        }
        "authorization_code" => return oauth_error("invalid_grant", "invalid authorization code"),
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    let access_token = random_token(&cfg.org_id);
    let issued_at = now_millis();
    let base = &req.base_url;
    let id_url = format!("{base}/id/{}/{user}", cfg.org_id);
    let signature = {
        let mut mac = match Hmac::<Sha256>::new_from_slice(cfg.client_secret.as_bytes()) {
            Ok(m) => m,
            Err(_) => return oauth_error("invalid_client", "invalid client credentials"),
        };
        mac.update(format!("{id_url}{issued_at}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let mut m = h.0.m.lock().unwrap_or_else(|e| e.into_inner());
    m.sessions.insert(
        access_token.clone(),
        Session {
            user_id: user.clone(),
            expires: Instant::now() + cfg.ttl,
        },
    );
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), json!(access_token));
    if grant == "refresh_token" && cfg.rotate {
        let new_rt = random_token(&cfg.org_id);
        m.refresh_tokens.insert(new_rt.clone(), user.clone());
        body.insert("refresh_token".into(), json!(new_rt));
    }
    body.insert("signature".into(), json!(signature));
    body.insert(
        "scope".into(),
        json!(if grant == "refresh_token" {
            "refresh_token api"
        } else {
            "api"
        }),
    );
    body.insert("instance_url".into(), json!(base));
    body.insert("id".into(), json!(id_url));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("issued_at".into(), json!(issued_at));
    Resp::json(StatusCode::OK, Value::Object(body))
}

fn user_by_username(h: &MockHandle, username: &str) -> Option<String> {
    let obj = h.0.schema.object("User")?;
    let m = h.0.m.lock().unwrap_or_else(|e| e.into_inner());
    let found = m
        .data
        .table(obj)
        .find(|r| {
            r.get("Username")
                .and_then(Value::as_str)
                .is_some_and(|u| u.eq_ignore_ascii_case(username))
        })
        .filter(|r| r.get("IsActive").and_then(Value::as_bool).unwrap_or(true))
        .and_then(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned));
    found
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Value,
}

fn jwt_user(h: &MockHandle, req: &Req, assertion: Option<&str>) -> Result<String, Resp> {
    let cfg = &h.0.cfg;
    let Some(assertion) = assertion else {
        return Err(oauth_error("invalid_grant", "invalid assertion"));
    };
    let Some(key) = &cfg.jwt_key else {
        return Err(oauth_error("invalid_grant", "invalid assertion"));
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.validate_aud = false;
    validation.leeway = 0;
    let data = match jsonwebtoken::decode::<Claims>(assertion, key, &validation) {
        Ok(d) => d,
        Err(e) => {
            return Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    oauth_error("invalid_grant", "expired authorization code")
                }
                _ => oauth_error("invalid_grant", "invalid assertion"),
            })
        }
    };
    let c = data.claims;
    if !constant_eq(&c.iss, &cfg.client_id) {
        return Err(oauth_error(
            "invalid_client_id",
            "client identifier invalid",
        ));
    }
    let auds: Vec<String> = match &c.aud {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    };
    let accepted = [
        "https://login.salesforce.com",
        "https://test.salesforce.com",
        req.base_url.as_str(),
    ];
    if !auds
        .iter()
        .any(|a| accepted.contains(&a.trim_end_matches('/')))
    {
        return Err(oauth_error("invalid_grant", "audience is invalid"));
    }
    user_by_username(h, &c.sub)
        .ok_or_else(|| oauth_error("invalid_grant", "user hasn't approved this consumer"))
}

/// `POST /services/oauth2/revoke`.
pub(crate) fn revoke(h: &MockHandle, req: &Req) -> Resp {
    let p = params(req).unwrap_or_default();
    let Some(token) = p.iter().find(|(k, _)| k == "token").map(|(_, v)| v.clone()) else {
        return oauth_error("unsupported_token_type", "this token type is not supported");
    };
    let mut m = h.0.m.lock().unwrap_or_else(|e| e.into_inner());
    let a = m.sessions.remove(&token).is_some();
    let b = m.refresh_tokens.remove(&token).is_some();
    if a || b {
        Resp::json(StatusCode::OK, Value::Null)
    } else {
        oauth_error("invalid_token", "invalid token")
    }
}

/// `GET /id/{org}/{user}` — the identity URL returned as `id`.
pub(crate) fn identity(h: &MockHandle, req: &Req, rest: &str) -> Resp {
    let auth = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("OAuth "))
        .unwrap_or("")
        .trim();
    let valid = {
        let m = h.0.m.lock().unwrap_or_else(|e| e.into_inner());
        m.sessions
            .get(token)
            .is_some_and(|s| s.expires > Instant::now())
    };
    if !valid {
        return Resp::json(StatusCode::FORBIDDEN, json!("Bad_OAuth_Token"));
    }
    let mut parts = rest.split('/');
    let (Some(org), Some(user)) = (parts.next(), parts.next()) else {
        return Resp::json(StatusCode::NOT_FOUND, json!("Bad_Id"));
    };
    let record = h.record("User", user);
    let Some(record) = record else {
        return Resp::json(StatusCode::NOT_FOUND, json!("Bad_Id"));
    };
    let s = |k: &str| record.get(k).cloned().unwrap_or(Value::Null);
    Resp::json(
        StatusCode::OK,
        json!({
            "id": format!("{}/id/{org}/{user}", req.base_url), "asserted_user": true, "user_id": user,
            "organization_id": org, "username": s("Username"), "nick_name": s("Alias"), "display_name": s("Name"),
            "email": s("Email"), "first_name": s("FirstName"), "last_name": s("LastName"), "active": s("IsActive"),
            "user_type": "STANDARD", "language": "en_US", "locale": "en_US", "utcOffset": 0,
            "urls": {
                "rest": format!("{}/services/data/v{{version}}/", req.base_url),
                "sobjects": format!("{}/services/data/v{{version}}/sobjects/", req.base_url),
                "query": format!("{}/services/data/v{{version}}/query/", req.base_url),
            }
        }),
    )
}
