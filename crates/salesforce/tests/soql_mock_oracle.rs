//! Property tests with the mock Salesforce's SOQL parser as the oracle: a query built with
//! any literal parses into exactly the intended condition, with the literal decoded back to
//! the original value. (The mock's parser is an independent implementation of the documented
//! grammar; it shares no code with the builder.)

use crmsync_salesforce::soql::{Cond, Soql};
use mock_salesforce::soql::{parse, CompareOp, Condition, Literal, Select};
use proptest::prelude::*;

/// Characters that stress escaping: quotes, backslashes, LIKE wildcards, every kind of control
/// character (the builder writes `\n \r \t \f` or `\uXXXX`, all of which the mock decodes),
/// `u` (so `\u` sequences sit next to literal `u`s), non-ASCII and non-BMP text.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\'', '\\', '"', '\n', '\r', '\t', '\u{0}', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}',
        '\u{1f}', '\u{7f}', '\u{85}', '%', '_', ' ', ',', '(', ')', '=', '!', 'u', 'n', 'é', '日',
        '😀', '\u{2028}', 'A', 'z', '0',
    ]);
    let ch = prop_oneof![
        3 => special,
        2 => any::<char>(),
    ];
    prop::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect())
}

fn where_of(q: &str) -> Result<Condition, TestCaseError> {
    let parsed =
        parse(q).map_err(|e| TestCaseError::fail(format!("mock parser rejected {q:?}: {e}")))?;
    prop_assert_eq!(parsed.from.as_str(), "Lead");
    prop_assert!(
        matches!(parsed.select, Select::Fields(ref f) if f.len() == 1 && f[0].dotted() == "Id")
    );
    parsed
        .where_
        .ok_or_else(|| TestCaseError::fail(format!("no WHERE in {q:?}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn equality_literal_parses_back_to_the_value(v in text()) {
        let q = Soql::from("Lead").select(["Id"]).filter(Cond::eq("Email", v.as_str())).build().unwrap();
        match where_of(&q)? {
            Condition::Compare { field, op: CompareOp::Eq, value: Literal::String(s) } => {
                prop_assert_eq!(field.dotted(), "Email");
                prop_assert_eq!(s, v);
            }
            other => prop_assert!(false, "unexpected condition {:?} for {:?}", other, q),
        }
    }

    #[test]
    fn two_literals_stay_two_conditions(a in text(), b in text()) {
        let q = Soql::from("Lead")
            .select(["Id"])
            .filter(Cond::eq("FirstName", a.as_str()).or(Cond::ne("LastName", b.as_str())))
            .build()
            .unwrap();
        let cond = where_of(&q)?;
        let inner = match cond {
            Condition::Group(inner) => *inner,
            other => other,
        };
        match inner {
            Condition::Or(l, r) => {
                prop_assert_eq!(
                    *l,
                    Condition::Compare { field: field("FirstName"), op: CompareOp::Eq, value: Literal::String(a) }
                );
                prop_assert_eq!(
                    *r,
                    Condition::Compare { field: field("LastName"), op: CompareOp::Ne, value: Literal::String(b) }
                );
            }
            other => prop_assert!(false, "unexpected condition {:?} for {:?}", other, q),
        }
    }

    #[test]
    fn in_list_values_parse_back_one_by_one(vals in prop::collection::vec(text(), 1..6)) {
        let q = Soql::from("Lead").select(["Id"]).filter(Cond::is_in("Company", vals.iter())).build().unwrap();
        match where_of(&q)? {
            Condition::In { field, negated: false, values } => {
                prop_assert_eq!(field.dotted(), "Company");
                let expected: Vec<Literal> = vals.iter().cloned().map(Literal::String).collect();
                prop_assert_eq!(values, expected);
            }
            other => prop_assert!(false, "unexpected condition {:?} for {:?}", other, q),
        }
    }

    /// Includes backslashes: the mock keeps an escaped backslash followed by a wildcard
    /// (`'\\%'`) apart from an escaped percent (`'\%'`).
    #[test]
    fn starts_with_matches_the_value_literally(
        v in text(),
        tail in text(),
    ) {
        let q = Soql::from("Lead").select(["Id"]).filter(Cond::starts_with("Name", &v)).build().unwrap();
        match where_of(&q)? {
            Condition::Compare { op: CompareOp::Like, value: Literal::Pattern(pattern), .. } => {
                prop_assert!(mock_salesforce::soql::like_matches(&pattern, &v), "{:?} !~ {:?}", pattern, v);
                let longer = format!("{v}{tail}");
                prop_assert!(mock_salesforce::soql::like_matches(&pattern, &longer));
                // A wildcard in the value must not match other characters.
                if v.contains('%') || v.contains('_') {
                    let other = v.replace(['%', '_'], "Q");
                    prop_assert!(!mock_salesforce::soql::like_matches(&pattern, &other), "{:?} matched {:?}", pattern, other);
                }
            }
            other => prop_assert!(false, "unexpected condition {:?} for {:?}", other, q),
        }
    }
}

fn field(name: &str) -> mock_salesforce::soql::FieldRef {
    mock_salesforce::soql::FieldRef {
        path: vec![name.to_string()],
        pos: mock_salesforce::soql::Pos(0),
    }
}
