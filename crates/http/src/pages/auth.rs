//! Who may read the status pages: `CRMSYNC_STATUS_TOKEN`, presented once.
//!
//! * Browsers sign in with a small form (`POST /status/sign-in`, the token in the body) that sets
//!   a session cookie: `HttpOnly`, `SameSite=Strict`, `Path=/status`, 12 hours, and `Secure`
//!   unless the page is served on loopback over plain HTTP. The cookie holds no token: it is
//!   `v1.<expiry>.<HMAC-SHA256(token, expiry)>`, so it works on the Lambda as well (no session
//!   store), expires by itself, and every session ends when the token is changed.
//! * Scripts send `Authorization: Bearer TOKEN`.
//! * `?token=TOKEN` (the old way) is still accepted for scripts; a browser that comes with it is
//!   given the cookie and redirected to the same page without it, so the token leaves the address
//!   bar. No page ever puts the token in a link.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Form;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{esc, html, layout, PageOpts};
use crate::AppState;

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "crmsync_status";
/// Lifetime of a session.
const SESSION_SECS: i64 = 12 * 3600;

fn token_matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

fn mac(token: &str, expiry: i64) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    m.update(format!("crmsync-status-session/v1/{expiry}").as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A session cookie value valid until `expiry` (unix seconds).
fn session_value(token: &str, expiry: i64) -> String {
    format!("v1.{expiry}.{}", mac(token, expiry))
}

fn session_valid(token: &str, value: &str, now: i64) -> bool {
    let mut parts = value.splitn(3, '.');
    let (Some("v1"), Some(exp), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(expiry) = exp.parse::<i64>() else {
        return false;
    };
    expiry > now
        && expiry <= now + SESSION_SECS + 60
        && !token.is_empty()
        && bool::from(mac(token, expiry).as_bytes().ct_eq(sig.as_bytes()))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Whether the request carries a session cookie (valid or not: only to offer "Sign out").
pub(crate) fn has_cookie(headers: &HeaderMap) -> bool {
    cookie_value(headers).is_some()
}

/// Whether the page is served on loopback over plain HTTP (then the cookie cannot be `Secure`).
fn is_loopback_http(headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    !forwarded_https && matches!(name, "127.0.0.1" | "localhost" | "::1")
}

fn set_cookie(headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    let secure = if is_loopback_http(headers) {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/status; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie text is ASCII")
}

/// How a request is allowed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Bearer header or `?token=` (scripts).
    Token,
    /// Session cookie (a browser that signed in).
    Session,
}

/// Checks the request; the answer to send instead when it may not see the page: 404 when the
/// status pages are disabled, 401 (JSON, or the sign-in page for a browser) otherwise. A browser
/// that came with a valid `?token=` is redirected to the same page without it, with a cookie.
pub(crate) fn check(
    st: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    query: &HashMap<String, String>,
) -> Result<Access, Box<Response>> {
    let Some(expected) = &st.config.status_token else {
        return Err(Box::new(crate::error(
            StatusCode::NOT_FOUND,
            "the status page is disabled: set CRMSYNC_STATUS_TOKEN",
        )));
    };
    let expected = expected.expose_secret();
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let bearer = authz.and_then(|v| {
        v.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .map(|_| v[7..].trim())
    });
    let is_browser =
        authz.is_none() && !super::wants_json(headers, query.get("format").map(String::as_str));
    if let Some(b) = bearer {
        if token_matches(expected, b) {
            return Ok(Access::Token);
        }
    } else if let Some(t) = query.get("token") {
        if token_matches(expected, t) {
            if is_browser {
                let now = chrono::Utc::now().timestamp();
                let mut r = super::html(StatusCode::SEE_OTHER, String::new());
                r.headers_mut().insert(
                    header::SET_COOKIE,
                    set_cookie(
                        headers,
                        &session_value(expected, now + SESSION_SECS),
                        SESSION_SECS,
                    ),
                );
                r.headers_mut().insert(
                    header::LOCATION,
                    HeaderValue::from_str(&without_token(uri))
                        .unwrap_or(HeaderValue::from_static("/status")),
                );
                return Err(Box::new(r));
            }
            return Ok(Access::Token);
        }
    } else if let Some(c) = cookie_value(headers) {
        if session_valid(expected, &c, chrono::Utc::now().timestamp()) {
            return Ok(Access::Session);
        }
    }
    if is_browser {
        let next = without_token(uri);
        return Err(Box::new(sign_in_page(
            headers,
            StatusCode::UNAUTHORIZED,
            &next,
            has_cookie(headers).then_some("Your session has ended. Please sign in again."),
        )));
    }
    let mut r = super::json(&serde_json::json!({
        "error": "a valid status token is required: send `Authorization: Bearer TOKEN`, or sign in at /status/sign-in"
    }));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"crmsync status\""),
    );
    Err(Box::new(r))
}

/// The request's path and query without any `token` parameter.
fn without_token(uri: &Uri) -> String {
    let path = uri.path();
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("token"))
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// Where to go after signing in: a status page of this server, nothing else.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/status")
                && !n.contains("//")
                && !n.contains('\\')
                && n.chars().all(|c| c.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/status".to_owned(),
    }
}

fn sign_in_page(
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    message: Option<&str>,
) -> Response {
    if super::wants_json(headers, None) {
        let mut r = super::json(&serde_json::json!({
            "error": message.unwrap_or("sign in with the status token")
        }));
        *r.status_mut() = status;
        return r;
    }
    let alert = message
        .map(|m| format!("<p class=\"banner bad\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{alert}\
         <p>This page shows what crmsync copied from Monday to Salesforce. Enter the status token \
         (<code>CRMSYNC_STATUS_TOKEN</code>) you were given. Your browser keeps you signed in for \
         12 hours.</p>\
         <form class=\"search\" method=\"post\" action=\"/status/sign-in\">\
         <label for=\"token\">Status token</label>\
         <input type=\"password\" id=\"token\" name=\"token\" required autocomplete=\"current-password\" autofocus>\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <button class=\"primary\" type=\"submit\">Sign in</button></form>",
        esc(&safe_next(Some(next)))
    );
    html(status, layout("Sign in", &body, &PageOpts::default()))
}

/// `GET /status/sign-in`.
pub(crate) async fn sign_in_form(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if st.config.status_token.is_none() {
        return crate::error(
            StatusCode::NOT_FOUND,
            "the status page is disabled: set CRMSYNC_STATUS_TOKEN",
        );
    }
    sign_in_page(
        &headers,
        StatusCode::OK,
        &safe_next(q.get("next").map(String::as_str)),
        None,
    )
}

/// `POST /status/sign-in` (form: `token`, `next`): sets the cookie and redirects (303) to `next`,
/// or shows the form again with 401.
pub(crate) async fn sign_in(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(expected) = &st.config.status_token else {
        return crate::error(
            StatusCode::NOT_FOUND,
            "the status page is disabled: set CRMSYNC_STATUS_TOKEN",
        );
    };
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let next = safe_next(form.get("next").map(String::as_str));
    let presented = form.get("token").map(|t| t.trim()).unwrap_or("");
    if !token_matches(expected.expose_secret(), presented) {
        tracing::warn!("status sign-in refused: wrong token");
        return sign_in_page(
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That token is not right. Check it and try again."),
        );
    }
    let now = chrono::Utc::now().timestamp();
    let value = session_value(expected.expose_secret(), now + SESSION_SECS);
    let mut r = (StatusCode::SEE_OTHER, "").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&headers, &value, SESSION_SECS),
    );
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&next).unwrap_or(HeaderValue::from_static("/status")),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /status/sign-out`: clears the cookie, back to the sign-in page.
pub(crate) async fn sign_out(headers: HeaderMap) -> Response {
    let mut r = (StatusCode::SEE_OTHER, "").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&headers, "", 0));
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_static("/status/sign-in"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_bound_to_the_token_and_expire() {
        let v = session_value("tok", 1_000 + 3600);
        assert!(!v.contains("tok"));
        assert!(session_valid("tok", &v, 1_000));
        assert!(
            !session_valid("other", &v, 1_000),
            "a new token ends sessions"
        );
        assert!(!session_valid("tok", &v, 1_000 + 3600), "expired");
        let forged = v.replace("v1.4600.", "v1.9999999999.");
        assert!(!session_valid("tok", &forged, 1_000));
        for junk in ["", "v1", "v1..", "v2.4600.aa", "v1.x.aa"] {
            assert!(!session_valid("tok", junk, 1_000), "{junk}");
        }
    }

    #[test]
    fn next_stays_on_the_status_pages() {
        assert_eq!(safe_next(Some("/status/items/1/2")), "/status/items/1/2");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/status//evil",
            "/other",
            "/status\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/status", "{bad}");
        }
        assert_eq!(
            without_token(&"/status/search?q=a&token=s3cret&x=1".parse().unwrap()),
            "/status/search?q=a&x=1"
        );
    }

    #[test]
    fn the_cookie_is_secure_except_on_loopback_http() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let c = set_cookie(&h, "v", 10);
        let c = c.to_str().unwrap();
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"),
            "{c}"
        );
        h.insert(header::HOST, HeaderValue::from_static("sync.example.org"));
        assert!(set_cookie(&h, "v", 10)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        h.insert(header::HOST, HeaderValue::from_static("localhost:3000"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(set_cookie(&h, "v", 10)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
    }
}
