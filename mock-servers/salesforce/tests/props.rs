//! Property tests: round trips through the API, Id checksums, SOQL printer.

mod common;

use common::*;
use mock_salesforce::soql::{
    self, CompareOp, Condition, DateLiteral, FieldRef, Literal, OrderItem, Pos, Query, Select,
};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{json, Map, Value};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_generated_id_has_a_valid_checksum(prefix in "[0-9a-zA-Z]{3}", n in 0u64..916_132_832) {
        let id = mock_salesforce::ids::make_id(&prefix, n);
        prop_assert_eq!(id.len(), 18);
        prop_assert!(id.starts_with(&prefix));
        prop_assert!(mock_salesforce::ids::is_valid(&id));
        prop_assert_eq!(mock_salesforce::ids::to_18(&id[..15]), Some(id.clone()));
        // flipping the case of one letter changes the checksum
        if let Some(pos) = id[..15].find(|c: char| c.is_ascii_alphabetic()) {
            let mut flipped: Vec<char> = id.chars().collect();
            flipped[pos] = if flipped[pos].is_ascii_uppercase() { flipped[pos].to_ascii_lowercase() } else { flipped[pos].to_ascii_uppercase() };
            let flipped: String = flipped.into_iter().collect();
            prop_assert!(!mock_salesforce::ids::is_valid(&flipped));
        }
    }
}

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_]{0,12}".prop_filter("not a keyword", |s| {
        ![
            "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc",
            "desc", "nulls", "first", "last", "limit", "offset", "null", "true", "false", "group",
            "having", "includes", "excludes", "with", "for", "using", "typeof",
        ]
        .contains(&s.to_ascii_lowercase().as_str())
    })
}

fn field_ref() -> impl Strategy<Value = FieldRef> {
    prop::collection::vec(ident(), 1..4).prop_map(|path| FieldRef { path, pos: Pos(0) })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        tricky_text(12).prop_map(Literal::String),
        (-100000i64..100000, prop::option::of(0u32..1000)).prop_map(|(a, b)| Literal::Number(
            match b {
                Some(f) => format!("{a}.{f}"),
                None => a.to_string(),
            }
        )),
        (2000u32..2030, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| Literal::Date(format!("{y}-{m:02}-{d:02}"))),
        (2000u32..2030, 1u32..13, 1u32..29, 0u32..24)
            .prop_map(|(y, m, d, h)| Literal::DateTime(format!("{y}-{m:02}-{d:02}T{h:02}:00:00Z"))),
        prop::sample::select(soql::FIXED_DATE_LITERALS)
            .prop_map(|s| Literal::DateLiteral(DateLiteral::Fixed(s.to_string()))),
        (prop::sample::select(soql::N_DATE_LITERALS), 0u32..500)
            .prop_map(|(s, n)| Literal::DateLiteral(DateLiteral::WithN(s.to_string(), n))),
    ]
}

/// Text that exercises every escape: quotes, backslashes, `%`/`_`, control characters (printed as
/// `\n \r \t \b \f` or `\uXXXX`), non-BMP characters (surrogate pairs in `\u` form) and `u`.
fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        3 => prop::sample::select(vec![
            '\'', '\\', '"', '%', '_', 'u', 'n', 'b', ' ', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}',
            '\u{7}', '\u{1f}', '\u{7f}', '\u{85}', 'é', '😀',
        ]),
        2 => any::<char>(),
    ];
    prop::collection::vec(ch, 0..max).prop_map(|v| v.into_iter().collect())
}

fn like_pattern() -> impl Strategy<Value = soql::LikePattern> {
    let tok = prop_oneof![
        1 => Just(soql::LikeToken::Any),
        1 => Just(soql::LikeToken::One),
        4 => tricky_text(2).prop_filter_map("one char", |s| s.chars().next()).prop_map(soql::LikeToken::Char),
    ];
    prop::collection::vec(tok, 0..10).prop_map(soql::LikePattern)
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ])
}

fn condition() -> impl Strategy<Value = Condition> {
    let leaf = prop_oneof![
        (field_ref(), op(), literal()).prop_map(|(field, op, value)| Condition::Compare {
            field,
            op,
            value
        }),
        (field_ref(), like_pattern()).prop_map(|(field, p)| Condition::Compare {
            field,
            op: CompareOp::Like,
            value: Literal::Pattern(p)
        }),
        (
            field_ref(),
            any::<bool>(),
            prop::collection::vec(literal(), 1..4)
        )
            .prop_map(|(field, negated, values)| Condition::In {
                field,
                negated,
                values
            }),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            // AND/OR are left-associative in the grammar, so the right operand of a chain is never
            // itself an AND/OR without parentheses; generate that canonical shape.
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(wrap_and(b)))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::Or(Box::new(wrap_or(a)), Box::new(wrap_or(b)))),
            inner
                .clone()
                .prop_map(|a| Condition::Not(Box::new(wrap_not(a)))),
            inner.prop_map(|a| Condition::Group(Box::new(a))),
        ]
    })
}

fn group(c: Condition) -> Condition {
    Condition::Group(Box::new(c))
}
fn wrap_and(c: Condition) -> Condition {
    match c {
        Condition::And(..) | Condition::Or(..) => group(c),
        c => c,
    }
}
fn wrap_or(c: Condition) -> Condition {
    match c {
        Condition::Or(..) => group(c),
        c => c,
    }
}
fn wrap_not(c: Condition) -> Condition {
    match c {
        Condition::And(..) | Condition::Or(..) => group(c),
        c => c,
    }
}

/// Left operands: AND binds tighter than OR, so an OR inside an AND needs parentheses.
fn normalise(c: Condition) -> Condition {
    match c {
        Condition::And(a, b) => {
            let a = normalise(*a);
            let a = if matches!(a, Condition::Or(..)) {
                group(a)
            } else {
                a
            };
            Condition::And(Box::new(a), Box::new(normalise(*b)))
        }
        Condition::Or(a, b) => Condition::Or(Box::new(normalise(*a)), Box::new(normalise(*b))),
        Condition::Not(a) => Condition::Not(Box::new(normalise(*a))),
        Condition::Group(a) => Condition::Group(Box::new(normalise(*a))),
        c => c,
    }
}

fn query() -> impl Strategy<Value = Query> {
    (
        prop_oneof![
            Just(Select::Count),
            prop::collection::vec(field_ref(), 1..5).prop_map(Select::Fields)
        ],
        ident(),
        prop::option::of(condition().prop_map(normalise)),
        prop::collection::vec(
            (field_ref(), any::<bool>(), prop::option::of(any::<bool>())).prop_map(
                |(field, descending, nulls_first)| OrderItem {
                    field,
                    descending,
                    nulls_first,
                },
            ),
            0..3,
        ),
        prop::option::of(0u64..100_000),
        prop::option::of(0u64..2_000),
    )
        .prop_map(|(select, from, where_, order_by, limit, offset)| Query {
            select,
            from,
            from_pos: Pos(0),
            where_,
            order_by,
            limit,
            offset,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printed_queries_parse_back_to_the_same_query(q in query()) {
        let printed = q.to_string();
        let parsed = soql::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&parsed, &q, "{}", printed);
        prop_assert_eq!(parsed.to_string(), printed);
    }

    #[test]
    fn any_string_literal_decodes_to_itself(v in tricky_text(40)) {
        let q = format!("SELECT Id FROM Lead WHERE Name = {}", Literal::String(v.clone()));
        let parsed = soql::parse(&q).map_err(|e| TestCaseError::fail(format!("{q:?}: {e}")))?;
        match parsed.where_ {
            Some(Condition::Compare { value: Literal::String(s), .. }) => prop_assert_eq!(s, v),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn a_literal_like_pattern_matches_exactly_its_text(v in tricky_text(20), other in tricky_text(20)) {
        let q = format!("SELECT Id FROM Lead WHERE Name LIKE {}", soql::LikePattern::literal(&v));
        let parsed = soql::parse(&q).map_err(|e| TestCaseError::fail(format!("{q:?}: {e}")))?;
        let Some(Condition::Compare { value: Literal::Pattern(p), .. }) = parsed.where_ else {
            return Err(TestCaseError::fail(format!("no LIKE in {q:?}")));
        };
        prop_assert!(soql::like_matches(&p, &v), "{:?} !~ {:?}", q, v);
        // Same length and each character equal ignoring case.
        let same = other.chars().count() == v.chars().count()
            && other.chars().zip(v.chars()).all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()));
        prop_assert_eq!(soql::like_matches(&p, &other), same, "{:?} vs {:?}", q, other);
        prop_assert!(soql::like_matches(&p, &v.to_ascii_uppercase()), "{:?} !~ upper-case {:?}", q, v);
    }

    #[test]
    fn any_accepted_text_round_trips(text in "[ -~]{0,60}") {
        if let Ok(q) = soql::parse(&text) {
            let printed = q.to_string();
            let again = soql::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
            prop_assert_eq!(again, q);
        }
    }

    /// Literals made of raw characters and escape sequences, valid or not: whatever is accepted
    /// round-trips through the printer; whatever is rejected is rejected at a position inside it.
    #[test]
    fn any_accepted_escape_sequence_round_trips(
        op in "(=|!=|LIKE)",
        body in "([ -~]|\\\\[nNrRtTbBfF\"'\\\\%_ua-z0-9]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-fA-F]{2}|\\\\u[dD][c-fC-F][0-9a-fA-F]{2}|[\\x00-\\x1f]|é){0,30}",
    ) {
        let text = format!("SELECT Id FROM Lead WHERE Name {op} '{body}'");
        match soql::parse(&text) {
            Ok(q) => {
                let printed = q.to_string();
                let again = soql::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
                prop_assert_eq!(again, q);
            }
            Err(e) => prop_assert!(e.offset >= 31 && e.offset <= text.len(), "{:?}: {:?}", text, e),
        }
    }

    #[test]
    fn parser_never_panics_on_query_like_text(text in "(SELECT|select|FROM|WHERE|AND|OR|NOT|IN|LIKE|ORDER BY|LIMIT|OFFSET|COUNT\\(\\)|[(),.=<>!']|[A-Za-z_]{1,6}|[0-9]{1,4}|-| ){0,24}") {
        let _ = soql::parse(&text);
    }
}

/// Fields a generated Program__c / Lead record may carry, with value strategies.
fn program_record() -> impl Strategy<Value = Map<String, Value>> {
    (
        "[A-Za-z][A-Za-z0-9 '&-]{0,40}",
        prop::option::of(prop::sample::select(vec![
            "Planned",
            "Active",
            "Completed",
            "Paused",
        ])),
        prop::option::of("[ -~\\n]{1,200}"),
        prop::option::of((2000i32..2040, 1u32..13, 1u32..29)),
        prop::option::of(-99_999_999_999i64..99_999_999_999i64),
        prop::option::of(0u32..999_999),
        any::<bool>(),
        prop::option::of("[a-z]{1,10}@[a-z]{1,10}\\.(org|com)"),
        prop::option::of("[A-Za-z0-9-]{1,40}"),
    )
        .prop_map(
            |(name, status, desc, start, budget_cents, participants, flagship, email, ext)| {
                let mut m = Map::new();
                m.insert("Name".into(), json!(name.trim().to_string() + "x"));
                if let Some(s) = status {
                    m.insert("Status__c".into(), json!(s));
                }
                if let Some(d) = desc {
                    m.insert("Description__c".into(), json!(d));
                }
                if let Some((y, mo, d)) = start {
                    m.insert("Start_Date__c".into(), json!(format!("{y}-{mo:02}-{d:02}")));
                }
                if let Some(c) = budget_cents {
                    m.insert("Budget__c".into(), json!(c as f64 / 100.0));
                }
                if let Some(p) = participants {
                    m.insert("Participants__c".into(), json!(p as f64));
                }
                m.insert("Is_Flagship__c".into(), json!(flagship));
                if let Some(e) = email {
                    m.insert("Contact_Email__c".into(), json!(e));
                }
                if let Some(x) = ext {
                    m.insert("Monday_Item_Id__c".into(), json!(x));
                }
                m
            },
        )
}

#[test]
fn written_records_read_back_identically_through_get_and_soql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(start());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    runner
        .run(&program_record(), |rec| {
            rt.block_on(async {
                api.mock.handle.reset();
                let out = api
                    .call(
                        Method::POST,
                        &format!("{V}/sobjects/Program__c"),
                        Some(Value::Object(rec.clone())),
                    )
                    .await;
                prop_assert_eq!(out.status.as_u16(), 201, "{}", out.text);
                let id = out.body["id"].as_str().unwrap().to_string();
                let fields: Vec<&str> = rec.keys().map(String::as_str).collect();
                let got = api
                    .call(
                        Method::GET,
                        &format!("{V}/sobjects/Program__c/{id}?fields={}", fields.join(",")),
                        None,
                    )
                    .await;
                let q = api
                    .query(&format!(
                        "SELECT {} FROM Program__c WHERE Id = '{id}'",
                        fields.join(", ")
                    ))
                    .await;
                prop_assert_eq!(q.body["totalSize"].as_u64(), Some(1));
                for (k, v) in &rec {
                    let expected = match v {
                        Value::String(s) if s.is_empty() => Value::Null,
                        other => other.clone(),
                    };
                    prop_assert_eq!(&got.body[k], &expected, "GET {}", k);
                    prop_assert_eq!(&q.body["records"][0][k], &expected, "SOQL {}", k);
                }
                Ok(())
            })
        })
        .unwrap();
}

/// Random requests (methods, paths built from real and bogus segments, bodies of JSON, garbage and
/// wrong types) never get a 5xx or a non-JSON error body.
#[test]
fn random_requests_never_get_a_server_error() {
    use tower::ServiceExt;
    let (router, _handle) = mock_salesforce::MockSalesforce::builder().build().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(async {
        let resp = router
            .clone()
            .oneshot(
                axum::http::Request::post("/services/oauth2/token")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(axum::body::Body::from("grant_type=client_credentials&client_id=mock-client-id&client_secret=mock-client-secret"))
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["access_token"].as_str().unwrap().to_string()
    });
    let segment = prop::sample::select(vec![
        "services",
        "data",
        "v66.0",
        "v46.0",
        "v99.0",
        "sobjects",
        "Lead",
        "Account",
        "Program__c",
        "Nope",
        "describe",
        "query",
        "queryAll",
        "composite",
        "jobs",
        "limits",
        "00Q5g00000000G9EAI",
        "0015g00000zzzzzAAA",
        "Monday_Item_Id__c",
        "Email",
        "x",
        "%FF",
        "",
        "..",
        "results",
        "01g5g0000001zzzAAA-200",
    ]);
    let path = prop::collection::vec(segment, 0..7).prop_map(|s| format!("/{}", s.join("/")));
    let prefixed = prop_oneof![
        path.clone(),
        path.prop_map(|p| format!("/services/data/v66.0{p}"))
    ];
    let query = prop::option::of(prop_oneof![
        Just("q=SELECT+Id+FROM+Lead".to_string()),
        "[ -~]{0,30}".prop_map(|q| format!("q={}", urlencode(&q))),
        Just("fields=Name,Bogus".to_string()),
        Just("ids=00Q5g00000000G9EAI,bad&allOrNone=true".to_string()),
    ]);
    let method = prop::sample::select(vec!["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]);
    let body = prop_oneof![
        Just(Vec::new()),
        any::<Vec<u8>>(),
        Just(b"{\"LastName\":\"X\",\"Company\":\"Y\"}".to_vec()),
        Just(b"{\"records\":[{\"attributes\":{\"type\":\"Lead\"}}],\"allOrNone\":true}".to_vec()),
        Just(b"{\"compositeRequest\":[{\"method\":\"GET\",\"url\":\"/services/data/v66.0/sobjects/Lead/@{x.id}\",\"referenceId\":\"r\"}]}".to_vec()),
        Just(b"[1,2,3]".to_vec()),
        Just(b"{\"Title\": {\"nested\": true}}".to_vec()),
    ];
    let content_type = prop::sample::select(vec![
        "application/json",
        "text/plain",
        "application/json; charset=UTF-8",
        "text/csv",
    ]);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(method, prefixed, query, body, content_type),
            |(method, path, query, body, ct)| {
                let uri = match query {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                let Ok(req) = axum::http::Request::builder()
                    .method(method)
                    .uri(&uri)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", ct)
                    .body(axum::body::Body::from(body))
                else {
                    return Ok(());
                };
                let (status, bytes) = rt.block_on(async {
                    let resp = router.clone().oneshot(req).await.unwrap();
                    let status = resp.status();
                    (
                        status,
                        axum::body::to_bytes(resp.into_body(), usize::MAX)
                            .await
                            .unwrap(),
                    )
                });
                prop_assert!(
                    status.as_u16() < 500,
                    "{} {} -> {}: {}",
                    method,
                    uri,
                    status,
                    String::from_utf8_lossy(&bytes)
                );
                if status.is_client_error() && method != "HEAD" {
                    let v: Value = serde_json::from_slice(&bytes)
                        .map_err(|e| TestCaseError::fail(format!("{uri}: {e}")))?;
                    prop_assert!(v.is_array() || v.is_object(), "{}", v);
                }
                Ok(())
            },
        )
        .unwrap();
}
