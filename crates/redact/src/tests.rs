//! Every case the former copies (config, store, xtask `mask_url`; http and cli token redactors)
//! tested separately, plus the ones none of them covered.

use super::*;

/// (input, exactly what is shown).
const MASK_URL_CASES: &[(&str, &str)] = &[
    // User-info password (config, store, xtask).
    ("postgres://u:p@h:1/d", "postgres://u:***@h:1/d"),
    (
        "postgres://crm:s3cr3t@db.example.com:5432/crmsync",
        "postgres://crm:***@db.example.com:5432/crmsync",
    ),
    (
        "postgres://u:secret@127.0.0.1:1/db",
        "postgres://u:***@127.0.0.1:1/db",
    ),
    ("mysql://u:hunter2@h/db", "mysql://u:***@h/db"),
    // A password holding URL delimiters: a URL parser sees no password there (config, store, xtask).
    (
        "postgres://crm:12#ss@db.example.com/crmsync",
        "postgres://crm:***@db.example.com/crmsync",
    ),
    (
        "postgres://crm:a?b@db.example.com/crmsync",
        "postgres://crm:***@db.example.com/crmsync",
    ),
    (
        "postgres://crm:x/y@db.example.com:5432/crmsync",
        "postgres://crm:***@db.example.com:5432/crmsync",
    ),
    // A password holding `@` is masked whole (xtask).
    (
        "postgres://u:p@ss@host/db?sslmode=disable",
        "postgres://u:***@host/db?sslmode=disable",
    ),
    // ... and `:`, and all of them at once.
    ("postgres://u:pa:ss@h/db", "postgres://u:***@h/db"),
    (
        "postgres://u:a@b#c?d/e:f&g=h@h:5432/db?sslmode=require",
        "postgres://u:***@h:5432/db?sslmode=require",
    ),
    ("postgres://u:@h/db", "postgres://u:***@h/db"),
    // Unparseable host after the user-info (config, store).
    ("postgres://u:p4ss@[::1/d", "postgres://u:***@[::1/d"),
    (
        "postgres://crm:s3cr3t@[bad/crm",
        "postgres://crm:***@[bad/crm",
    ),
    (
        "postgres://u:pw@[::1]:5432/db",
        "postgres://u:***@[::1]:5432/db",
    ),
    // `password=` query parameter (config, store, xtask), any case.
    (
        "postgres://h/d?password=p4ss",
        "postgres://h/d?password=***",
    ),
    (
        "postgres://db.example.com/crm?user=crm&password=s3cr3t&sslmode=require",
        "postgres://db.example.com/crm?user=crm&password=***&sslmode=require",
    ),
    (
        "postgresql://host/db?user=u&password=hunter2&sslmode=require",
        "postgresql://host/db?user=u&password=***&sslmode=require",
    ),
    (
        "postgres://h/d?PassWord=p4ss",
        "postgres://h/d?PassWord=***",
    ),
    // A raw `&` inside the value: the `=`-less piece after it is masked too.
    (
        "postgres://h/db?password=a&b&sslmode=require",
        "postgres://h/db?password=***&sslmode=require",
    ),
    // Both at once.
    (
        "postgres://u:pw@h/db?password=pw2",
        "postgres://u:***@h/db?password=***",
    ),
    // `token=` query parameter: first, middle, percent-encoded value (http, cli).
    (
        "https://sync.example.org/base/webhooks/monday?token=s3cr%26t",
        "https://sync.example.org/base/webhooks/monday?token=***",
    ),
    (
        "https://sync.example.org/webhooks/monday?a=1&token=s3cr%26t&b=2",
        "https://sync.example.org/webhooks/monday?a=1&token=***&b=2",
    ),
    // ... a relative URL (a request target), another case, a percent-encoded name.
    (
        "/status?token=abc&format=json",
        "/status?token=***&format=json",
    ),
    ("https://h/w?TOKEN=abc", "https://h/w?TOKEN=***"),
    ("https://h/w?%74oken=abc", "https://h/w?%74oken=***"),
    ("https://h/w?token=", "https://h/w?token=***"),
    // A `#` in a secret value is part of the secret; a fragment after other parameters stays.
    ("https://h/w?token=a#b", "https://h/w?token=***"),
    ("https://h/w?a=1#frag", "https://h/w?a=1#frag"),
    // Nothing secret: returned unchanged (config, store, xtask, http).
    ("postgres://u@h/d", "postgres://u@h/d"),
    (
        "postgres://postgres@127.0.0.1:5432/postgres",
        "postgres://postgres@127.0.0.1:5432/postgres",
    ),
    ("postgres://localhost/db", "postgres://localhost/db"),
    ("postgres://[::1]:5432/db", "postgres://[::1]:5432/db"),
    ("sqlite://crmsync.db", "sqlite://crmsync.db"),
    ("sqlite::memory:", "sqlite::memory:"),
    ("sqlite:crmsync.db?mode=rwc", "sqlite:crmsync.db?mode=rwc"),
    (
        "https://sync.example.org/webhooks/monday",
        "https://sync.example.org/webhooks/monday",
    ),
    (
        "https://h/w?tokens=a&mytoken=b&token",
        "https://h/w?tokens=a&mytoken=b&token",
    ),
    // A `:` and an `@` after the path began are no user-info.
    (
        "https://h/p?t=12:00&mail=a@b",
        "https://h/p?t=12:00&mail=a@b",
    ),
    ("not a url", "not a url"),
    ("", ""),
    // Ambiguous: `h:8443/p?mail=a` could be user `h` with password `8443/p?mail=a` (as
    // `crm:12#ss@…` above is). When in doubt, mask more.
    ("https://h:8443/p?mail=a@b", "https://h:***@b"),
];

#[test]
fn mask_url_shows_each_case_exactly() {
    let failures: Vec<String> = MASK_URL_CASES
        .iter()
        .filter_map(|&(input, want)| {
            let got = mask_url(input);
            (got != want).then(|| format!("{input:?}\n   got  {got:?}\n   want {want:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// (input, the secret it holds): the secret never survives, whatever else is shown.
const SECRETS: &[(&str, &str)] = &[
    ("postgres://crm:12#ss@db.example.com/crmsync", "12#ss"),
    ("postgres://crm:a?b@db.example.com/crmsync", "a?b"),
    ("postgres://crm:x/y@db.example.com:5432/crmsync", "x/y"),
    ("postgres://u:p@ss@host/db", "p@ss"),
    ("postgres://u:s3cr:3t@host/db", "s3cr:3t"),
    ("postgres://h/d?password=p4ss", "p4ss"),
    ("postgres://u:p4ss@[::1/d", "p4ss"),
    ("https://h/w?a=1&token=s3cr%26t&b=2", "s3cr"),
    ("https://h/w?token=s3cr&t", "s3cr"),
    ("https://h/w?Token=s3cr#t", "s3cr#t"),
];

#[test]
fn mask_url_never_shows_the_secret() {
    for &(input, secret) in SECRETS {
        let got = mask_url(input);
        assert!(!got.contains(secret), "{input:?} -> {got:?}");
        assert!(got.contains(MASK), "{input:?} -> {got:?}");
    }
}

#[test]
fn redact_query_params_masks_only_the_named_parameters() {
    for (input, names, want) in [
        ("/cb?code=1&state=x", &["code"][..], "/cb?code=***&state=x"),
        (
            "/cb?code=1&state=x",
            &["code", "STATE"][..],
            "/cb?code=***&state=***",
        ),
        ("/cb?code=1&state=x", &[][..], "/cb?code=1&state=x"),
        ("/cb?token=1", &["code"][..], "/cb?token=1"),
        ("/cb", &["code"][..], "/cb"),
        ("/cb?", &["code"][..], "/cb?"),
        ("/cb?a&code=1&&b=2", &["code"][..], "/cb?a&code=***&b=2"),
        (
            "/cb?access+token=1",
            &["access token"][..],
            "/cb?access+token=***",
        ),
        // An invalid escape is compared as written.
        (
            "/cb?c%zzode=1&%=2",
            &["code", "%"][..],
            "/cb?c%zzode=1&%=***",
        ),
    ] {
        assert_eq!(
            redact_query_params(input, names),
            want,
            "{input:?} {names:?}"
        );
    }
}

#[test]
fn percent_decoding_of_names() {
    for (raw, want) in [
        ("token", "token"),
        ("%74oken", "token"),
        ("%54OKEN", "TOKEN"),
        ("a+b", "a b"),
        ("%", "%"),
        ("%4", "%4"),
        ("%zz", "%zz"),
        ("%e2%9c%93", "\u{2713}"),
    ] {
        assert_eq!(percent_decode(raw), want, "{raw:?}");
    }
}
