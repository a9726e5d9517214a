//! Property tests: whatever the literal, the built query tokenizes into exactly the intended
//! structure, and each string literal decodes back to the original value.
//!
//! The oracle here is a small, independent SOQL lexer written from the documented "Quoted
//! String Escape Sequences" table (it shares no code with the builder). A second property
//! test in `soql_mock_oracle.rs` uses the mock Salesforce's SOQL parser.

use chrono::{DateTime, NaiveDate, Utc};
use crmsync_salesforce::soql::{quote_string, Cond, Soql, SoqlValue};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Op(String),
    Str(Vec<LikeChar>),
    Punct(char),
}

/// A decoded character of a string literal; in LIKE patterns `%` and `_` are wildcards
/// unless escaped.
#[derive(Debug, Clone, PartialEq)]
enum LikeChar {
    Lit(char),
    AnyMany,
    AnyOne,
}

fn decode_plain(chars: &[LikeChar]) -> String {
    chars
        .iter()
        .map(|c| match c {
            LikeChar::Lit(c) => *c,
            LikeChar::AnyMany => '%',
            LikeChar::AnyOne => '_',
        })
        .collect()
}

/// Lexes a SOQL query. String literals: `'...'` with the documented escapes; `\%` and `\_`
/// only valid when `like_ok`. Any other backslash sequence, or an unterminated literal, is an
/// error — as on Salesforce.
fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let mut prev_like = false;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            i += 1;
            continue;
        }
        if c == '\'' {
            i += 1;
            let mut lit = Vec::new();
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err("unterminated string".into());
                };
                i += 1;
                match c {
                    '\'' => break,
                    '\\' => {
                        let Some(&e) = chars.get(i) else {
                            return Err("dangling backslash".into());
                        };
                        i += 1;
                        let decoded = match e {
                            'n' | 'N' => LikeChar::Lit('\n'),
                            'r' | 'R' => LikeChar::Lit('\r'),
                            't' | 'T' => LikeChar::Lit('\t'),
                            'f' | 'F' => LikeChar::Lit('\u{0c}'),
                            'b' | 'B' => {
                                return Err("\\b is ambiguous; builder must not emit it".into())
                            }
                            '"' => LikeChar::Lit('"'),
                            '\'' => LikeChar::Lit('\''),
                            '\\' => LikeChar::Lit('\\'),
                            '%' if prev_like => LikeChar::Lit('%'),
                            '_' if prev_like => LikeChar::Lit('_'),
                            'u' => {
                                let hex: String =
                                    chars.get(i..i + 4).ok_or("short \\u")?.iter().collect();
                                i += 4;
                                let n = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u hex")?;
                                LikeChar::Lit(char::from_u32(n).ok_or("bad \\u code")?)
                            }
                            other => return Err(format!("invalid escape \\{other}")),
                        };
                        lit.push(decoded);
                    }
                    '%' if prev_like => lit.push(LikeChar::AnyMany),
                    '_' if prev_like => lit.push(LikeChar::AnyOne),
                    c => lit.push(LikeChar::Lit(c)),
                }
            }
            out.push(Tok::Str(lit));
            prev_like = false;
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '-' | '.' | ':'))
            {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect();
            prev_like = w.eq_ignore_ascii_case("LIKE");
            out.push(Tok::Word(w));
            continue;
        }
        if matches!(c, '=' | '!' | '<' | '>') {
            let start = i;
            while i < chars.len() && matches!(chars[i], '=' | '!' | '<' | '>') {
                i += 1;
            }
            out.push(Tok::Op(chars[start..i].iter().collect()));
            prev_like = false;
            continue;
        }
        if matches!(c, '(' | ')' | ',') {
            out.push(Tok::Punct(c));
            i += 1;
            continue;
        }
        return Err(format!("unexpected character {c:?} outside a literal"));
    }
    Ok(out)
}

fn w(s: &str) -> Tok {
    Tok::Word(s.into())
}
fn s(v: &str) -> Tok {
    Tok::Str(v.chars().map(LikeChar::Lit).collect())
}

/// Strings weighted towards the characters that matter for escaping.
fn nasty_string() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\'', '\\', '"', '\n', '\r', '\t', '\u{0c}', '\u{08}', '\u{07}', '\u{0}', '\u{7f}', '%',
        '_', ' ', ',', '(', ')', '=', 'u', 'n', 'é', '日', '😀', '\u{2028}',
    ]);
    let ch = prop_oneof![3 => special, 2 => any::<char>()];
    prop::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn string_literals_round_trip_and_keep_the_structure(a in nasty_string(), b in nasty_string()) {
        let q = Soql::from("Lead")
            .select(["Id", "Name"])
            .filter(Cond::eq("Name", a.as_str()))
            .filter(Cond::ne("Email", b.as_str()))
            .limit(5)
            .build()
            .unwrap();
        let toks = lex(&q).map_err(|e| TestCaseError::fail(format!("{e} in {q:?}")))?;
        prop_assert_eq!(
            toks,
            vec![
                w("SELECT"), w("Id"), Tok::Punct(','), w("Name"), w("FROM"), w("Lead"), w("WHERE"),
                Tok::Punct('('), w("Name"), Tok::Op("=".into()), s(&a), w("AND"),
                w("Email"), Tok::Op("!=".into()), s(&b), Tok::Punct(')'), w("LIMIT"), w("5"),
            ]
        );
    }

    #[test]
    fn in_lists_keep_every_value_separate(vals in prop::collection::vec(nasty_string(), 1..6)) {
        let q = Soql::from("Contact")
            .select(["Id"])
            .filter(Cond::is_in("Email", vals.iter()))
            .build()
            .unwrap();
        let toks = lex(&q).map_err(|e| TestCaseError::fail(format!("{e} in {q:?}")))?;
        let mut expected = vec![w("SELECT"), w("Id"), w("FROM"), w("Contact"), w("WHERE"), w("Email"), w("IN"), Tok::Punct('(')];
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                expected.push(Tok::Punct(','));
            }
            expected.push(s(v));
        }
        expected.push(Tok::Punct(')'));
        prop_assert_eq!(toks, expected);
    }

    #[test]
    fn like_helpers_match_the_value_literally(v in nasty_string()) {
        let q = Soql::from("Account")
            .select(["Id"])
            .filter(Cond::starts_with("Name", &v))
            .build()
            .unwrap();
        let toks = lex(&q).map_err(|e| TestCaseError::fail(format!("{e} in {q:?}")))?;
        prop_assert_eq!(toks.len(), 8);
        prop_assert_eq!(&toks[..7], &[w("SELECT"), w("Id"), w("FROM"), w("Account"), w("WHERE"), w("Name"), w("LIKE")][..]);
        let Tok::Str(pattern) = &toks[7] else { return Err(TestCaseError::fail("no pattern")) };
        let mut expected: Vec<LikeChar> = v.chars().map(LikeChar::Lit).collect();
        expected.push(LikeChar::AnyMany);
        prop_assert_eq!(pattern, &expected);
    }

    #[test]
    fn quote_string_alone_decodes_to_the_input(v in nasty_string()) {
        let toks = lex(&quote_string(&v)).map_err(TestCaseError::fail)?;
        prop_assert_eq!(toks.len(), 1);
        let Tok::Str(lit) = &toks[0] else { return Err(TestCaseError::fail("not a string")) };
        prop_assert_eq!(decode_plain(lit), v);
    }

    #[test]
    fn other_literals_render_as_single_tokens(
        i in any::<i64>(),
        f in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        b in any::<bool>(),
        days in 0i64..3_000_000,
        secs in 0i64..4_000_000_000,
    ) {
        let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Duration::days(days);
        let dt: DateTime<Utc> = DateTime::from_timestamp(secs, 0).unwrap();
        let q = Soql::from("Opportunity")
            .select(["Id"])
            .filter(Cond::eq("A__c", i))
            .filter(Cond::eq("B__c", f))
            .filter(Cond::eq("C__c", b))
            .filter(Cond::eq("D__c", date))
            .filter(Cond::eq("E__c", dt))
            .filter(Cond::eq("F__c", SoqlValue::Null))
            .build()
            .unwrap();
        let toks = lex(&q).map_err(|e| TestCaseError::fail(format!("{e} in {q:?}")))?;
        // SELECT Id FROM Opportunity WHERE ( 6 × [field op value] joined by AND )
        prop_assert_eq!(toks.len(), 5 + 2 + 6 * 3 + 5);
        let values: Vec<&Tok> = toks.iter().skip(6).collect::<Vec<_>>().chunks(4).map(|c| c[2]).collect();
        let words: Vec<String> = values.iter().map(|t| match t { Tok::Word(w) => w.clone(), other => format!("{other:?}") }).collect();
        prop_assert_eq!(words[0].parse::<i64>().unwrap(), i);
        prop_assert_eq!(words[1].parse::<f64>().unwrap(), if f == 0.0 { 0.0 } else { f });
        prop_assert_eq!(words[2].clone(), b.to_string());
        prop_assert_eq!(NaiveDate::parse_from_str(&words[3], "%Y-%m-%d").unwrap(), date);
        prop_assert_eq!(DateTime::parse_from_rfc3339(&words[4]).unwrap().with_timezone(&Utc), dt);
        prop_assert_eq!(words[5].clone(), "null".to_string());
    }

    #[test]
    fn arbitrary_identifiers_are_either_rejected_or_single_words(name in "\\PC{0,20}") {
        match Soql::from("Lead").select([name.as_str()]).build() {
            Err(_) => {}
            Ok(q) => {
                let toks = lex(&q).map_err(TestCaseError::fail)?;
                prop_assert_eq!(toks, vec![w("SELECT"), w(&name), w("FROM"), w("Lead")]);
            }
        }
    }
}

#[test]
fn the_lexer_rejects_what_salesforce_rejects() {
    // Sanity of the oracle itself: unescaped quote ends the literal; bad escapes fail.
    assert!(lex(r"'a\qb'").is_err());
    assert!(lex("'abc").is_err());
    assert_eq!(lex(r"'a\'b'").unwrap(), vec![s("a'b")]);
    assert_eq!(
        lex("x = 'a' OR 'b'").unwrap().len(),
        5,
        "an injected quote would show up as extra tokens"
    );
}
