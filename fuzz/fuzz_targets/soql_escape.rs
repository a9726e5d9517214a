//! The SOQL literal escaper: any text quoted by `quote_string` is one string literal — it starts
//! and ends with a quote and no unescaped quote closes it early, so the text cannot leave it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let q = crmsync_salesforce::soql::quote_string(s);
    assert!(
        q.len() >= 2 && q.starts_with('\'') && q.ends_with('\''),
        "{q:?}"
    );
    let inner = &q[1..q.len() - 1];
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            assert_ne!(c, '\'', "an unescaped quote in {q:?} (from {s:?})");
        }
    }
    assert!(!escaped, "a dangling backslash ends {q:?}");
    let _ = crmsync_salesforce::soql::escape_like_fragment(s);
});
