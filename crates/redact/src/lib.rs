//! Secret masking for display, in one place: every crmsync crate and xtask that shows a URL which
//! may hold a secret (`DATABASE_URL`, a webhook receiver URL with `?token=`) calls this crate.
//!
//! - [`mask_url`] replaces the password of a URL's user-info and the values of the query
//!   parameters in [`SECRET_QUERY_PARAMS`] with [`MASK`].
//! - [`redact_query_params`] masks the values of the query parameters one names.
//!
//! The functions work on the text, not on a parsed URL: a URL parser reads a password holding
//! `#`, `?` or `/` as the end of the authority and then sees no password at all, and it
//! re-encodes what it prints. Here everything that is not masked is returned byte for byte, and
//! when the text is ambiguous, more is masked rather than less. The result is for people (logs,
//! errors, `Debug`); never connect with it.
//!
//! Std only and no dependencies, so that xtask can use it and still compile in seconds.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Query parameters whose values [`mask_url`] masks (compared case-insensitively, after
/// percent-decoding the name): libpq's `password=` and the webhook receiver's `token=`.
pub const SECRET_QUERY_PARAMS: &[&str] = &["password", "token"];

/// `url` with the user-info password and the values of [`SECRET_QUERY_PARAMS`] replaced by
/// [`MASK`]; anything else is returned unchanged (a URL without a password, a relative URL
/// without secret parameters, text that is no URL).
///
/// The user-info ends at the *last* `@` after `scheme://`, so a password may hold `@`, `#`, `?`,
/// `/` or `:`; it starts after the first `:`, which must come before the first `/`, `?` or `#`.
/// A user name alone (`postgres://crm@db/x`) is not a secret and stays visible.
///
/// ```
/// use crmsync_redact::mask_url;
/// assert_eq!(mask_url("postgres://crm:s3cr3t@db:5432/crm"), "postgres://crm:***@db:5432/crm");
/// assert_eq!(mask_url("postgres://crm:12#3@db/crm"), "postgres://crm:***@db/crm");
/// assert_eq!(mask_url("https://h/webhooks/monday?token=abc"), "https://h/webhooks/monday?token=***");
/// assert_eq!(mask_url("sqlite://crmsync.db"), "sqlite://crmsync.db");
/// ```
pub fn mask_url(url: &str) -> String {
    match password_range(url) {
        Some((start, end)) => {
            let mut out = String::with_capacity(url.len());
            out.push_str(&url[..start]);
            out.push_str(MASK);
            out.push_str(&redact_query_params(&url[end..], SECRET_QUERY_PARAMS));
            out
        }
        None => redact_query_params(url, SECRET_QUERY_PARAMS),
    }
}

/// `text` with the value of every query parameter named in `names` replaced by [`MASK`]. The
/// query starts at the first `?`; names are compared case-insensitively after percent-decoding
/// (`%74oken` is `token`, as the server reading the URL sees it).
///
/// A masked value runs to the next `&` (a `#` inside it is taken as part of the secret), and the
/// `&`-separated pieces right after it that hold no `=` are masked with it: they are most likely
/// a secret that contained a raw `&` (`password=a&b&sslmode=require`).
///
/// ```
/// use crmsync_redact::redact_query_params;
/// assert_eq!(redact_query_params("/cb?code=1&state=x", &["code"]), "/cb?code=***&state=x");
/// ```
pub fn redact_query_params(text: &str, names: &[&str]) -> String {
    let Some(q) = text.find('?') else {
        return text.to_owned();
    };
    let (head, query) = text.split_at(q + 1);
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    let mut in_secret = false;
    for (i, piece) in query.split('&').enumerate() {
        match piece.split_once('=') {
            Some((name, _)) if is_named(name, names) => {
                if i > 0 {
                    out.push('&');
                }
                out.push_str(name);
                out.push('=');
                out.push_str(MASK);
                in_secret = true;
            }
            // A piece without `=` right after a secret: the rest of that secret.
            None if in_secret => {}
            _ => {
                if i > 0 {
                    out.push('&');
                }
                out.push_str(piece);
                in_secret = false;
            }
        }
    }
    out
}

/// The byte range of the user-info password in `url` (between the first `:` and the last `@`
/// after `scheme://`), if it has one.
fn password_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    // `[` opens an IPv6 host: there is no user-info before it.
    if rest.starts_with('[') {
        return None;
    }
    let at = rest.rfind('@')?;
    let colon = rest[..at].find(':')?;
    // The `:` must be inside what could be the authority: a `:` after the path began
    // (`https://h/p?t=12:00&mail=a@b`) is not a user-info separator.
    if rest[..colon].contains(['/', '?', '#']) {
        return None;
    }
    Some((start + colon + 1, start + at))
}

fn is_named(raw_name: &str, names: &[&str]) -> bool {
    let name = percent_decode(raw_name);
    names.iter().any(|n| n.eq_ignore_ascii_case(&name))
}

/// `%XX` escapes and `+` decoded as in `application/x-www-form-urlencoded`; invalid escapes are
/// kept as they are.
fn percent_decode(s: &str) -> String {
    let hex = |c: u8| char::from(c).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match escaped {
            // Two hex digits are at most 0xFF.
            Some(v) => {
                out.push(u8::try_from(v).unwrap_or(b'%'));
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
