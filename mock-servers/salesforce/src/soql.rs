//! A SOQL parser and printer for the subset integrations use.
//!
//! Supported: `SELECT` field lists (with parent relationship paths such as `Account.Name`) or
//! `COUNT()`, `FROM`, `WHERE` with `= != <> < <= > >= LIKE IN NOT IN`, `AND`/`OR`/`NOT`,
//! parentheses, `null`/`true`/`false`, string, number, date and datetime literals, relative date
//! literals (`TODAY`, `LAST_N_DAYS:30`, …), `ORDER BY … ASC|DESC NULLS FIRST|LAST`, `LIMIT` and
//! `OFFSET`. Anything else is a [`SoqlError`] with the 1-based column where parsing failed.
//!
//! String literals accept exactly the documented escapes (`\n \r \t \b \f` in either case,
//! `\" \' \\`, `\uXXXX`, and `\%` `\_` in `LIKE` patterns only); `LIKE` values are parsed into a
//! [`LikePattern`] that keeps wildcards apart from escaped `%`/`_`.
//!
//! [`Query`]'s `Display` prints canonical SOQL that parses back to an equal `Query`.

use std::fmt;

/// A byte offset into the query text. Ignored by equality so that printed-and-reparsed queries
/// compare equal to the original.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pos(pub usize);

impl PartialEq for Pos {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// A parsed SOQL query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// What is selected.
    pub select: Select,
    /// The sObject in `FROM`.
    pub from: String,
    /// Where the object name starts.
    pub from_pos: Pos,
    /// The `WHERE` condition.
    pub where_: Option<Condition>,
    /// `ORDER BY` items, in order.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT n`.
    pub limit: Option<u64>,
    /// `OFFSET n`.
    pub offset: Option<u64>,
}

/// The select clause.
#[derive(Clone, Debug, PartialEq)]
pub enum Select {
    /// `SELECT COUNT() FROM …`
    Count,
    /// `SELECT a, b.c FROM …`
    Fields(Vec<FieldRef>),
}

/// A field path such as `Name` or `Account.Owner.Name`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    /// Path segments as written.
    pub path: Vec<String>,
    /// Where the path starts.
    pub pos: Pos,
}

impl FieldRef {
    /// The path joined with dots.
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

/// A `WHERE` condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `a AND b`
    And(Box<Condition>, Box<Condition>),
    /// `a OR b`
    Or(Box<Condition>, Box<Condition>),
    /// `NOT a`
    Not(Box<Condition>),
    /// `( a )` — kept so that printing preserves the grouping.
    Group(Box<Condition>),
    /// `field op value`
    Compare {
        /// The field compared.
        field: FieldRef,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: Literal,
    },
    /// `field [NOT] IN (v1, v2, …)`
    In {
        /// The field tested.
        field: FieldRef,
        /// `NOT IN` when true.
        negated: bool,
        /// The candidate values.
        values: Vec<Literal>,
    },
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` (also accepts `<>`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE`
    Like,
}

impl CompareOp {
    fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Like => "LIKE",
        }
    }
}

/// A literal value in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// `'text'` (decoded content; `%` and `_` are ordinary characters here).
    String(String),
    /// The pattern of a `LIKE` (the parser produces it only there).
    Pattern(LikePattern),
    /// A number as written (`42`, `-1.5`).
    Number(String),
    /// `2024-01-31`
    Date(String),
    /// `2024-01-31T10:00:00Z` as written.
    DateTime(String),
    /// `TODAY`, `LAST_N_DAYS:30`, …
    DateLiteral(DateLiteral),
}

/// One element of a `LIKE` pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LikeToken {
    /// `%`: any run of characters (possibly empty).
    Any,
    /// `_`: exactly one character.
    One,
    /// A literal character (`\%` and `\_` decode to `Char('%')` and `Char('_')`).
    Char(char),
}

/// A decoded `LIKE` pattern in which wildcards are distinct from escaped `%`/`_`
/// (so `'\\%'` — a backslash then a wildcard — differs from `'\%'` — a literal percent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LikePattern(pub Vec<LikeToken>);

impl LikePattern {
    /// A pattern in which `%` and `_` of `s` are wildcards and every other character is literal.
    pub fn with_wildcards(s: &str) -> Self {
        LikePattern(
            s.chars()
                .map(|c| match c {
                    '%' => LikeToken::Any,
                    '_' => LikeToken::One,
                    c => LikeToken::Char(c),
                })
                .collect(),
        )
    }

    /// A pattern matching exactly `s` (every character literal, including `%` and `_`).
    pub fn literal(s: &str) -> Self {
        LikePattern(s.chars().map(LikeToken::Char).collect())
    }

    /// The characters as written without escapes (wildcards become `%`/`_`).
    pub fn to_plain_string(&self) -> String {
        self.0
            .iter()
            .map(|t| match t {
                LikeToken::Any => '%',
                LikeToken::One => '_',
                LikeToken::Char(c) => *c,
            })
            .collect()
    }
}

/// Relative date literals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateLiteral {
    /// `YESTERDAY`, `TODAY`, `TOMORROW`, `LAST_WEEK`, `THIS_WEEK`, `NEXT_WEEK`, `LAST_MONTH`,
    /// `THIS_MONTH`, `NEXT_MONTH`, `LAST_YEAR`, `THIS_YEAR`, `NEXT_YEAR`, `LAST_90_DAYS`,
    /// `NEXT_90_DAYS` (upper-case name).
    Fixed(String),
    /// `LAST_N_DAYS:n` and friends: (upper-case name, n).
    WithN(String, u32),
}

/// Names accepted as [`DateLiteral::Fixed`].
pub const FIXED_DATE_LITERALS: &[&str] = &[
    "YESTERDAY",
    "TODAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_YEAR",
    "THIS_YEAR",
    "NEXT_YEAR",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
];

/// Names accepted as [`DateLiteral::WithN`].
pub const N_DATE_LITERALS: &[&str] = &[
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
    "LAST_N_YEARS",
    "NEXT_N_YEARS",
];

/// One `ORDER BY` item.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// The field ordered by.
    pub field: FieldRef,
    /// `DESC` when true.
    pub descending: bool,
    /// Explicit `NULLS FIRST` (Some(true)) / `NULLS LAST` (Some(false)).
    pub nulls_first: Option<bool>,
}

/// Why a query could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct SoqlError {
    /// Byte offset in the query where the problem is.
    pub offset: usize,
    /// 1-based column (characters) where the problem is.
    pub column: usize,
    /// What went wrong, Salesforce style (`unexpected token: 'x'`).
    pub message: String,
}

/// Parses a SOQL query.
pub fn parse(input: &str) -> Result<Query, SoqlError> {
    let tokens = lex(input)?;
    let mut p = Parser {
        input,
        tokens,
        i: 0,
    };
    let q = p.query()?;
    if let Some(t) = p.peek() {
        return Err(p.err_at(t.start, format!("unexpected token: '{}'", t.text(input))));
    }
    Ok(q)
}

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// Decoded string literal (wildcards kept apart from `\%`/`\_`) and the offset of the first
    /// LIKE-only escape, if any.
    Str(Vec<LikeToken>, Option<usize>),
    Num(String),
    DateLit(String),
    DateTimeLit(String),
    Sym(&'static str),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

impl Token {
    fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.start..self.end).unwrap_or("")
    }
}

fn column_of(input: &str, offset: usize) -> usize {
    input
        .get(..offset)
        .map(|s| s.chars().count())
        .unwrap_or(offset)
        + 1
}

fn lex(input: &str) -> Result<Vec<Token>, SoqlError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, msg: String| SoqlError {
        offset: at,
        column: column_of(input, at),
        message: msg,
    };
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'\'' {
            let (pieces, like_escape, next) =
                lex_string(input, start).map_err(|(at, m)| err(at, m))?;
            i = next;
            out.push(Token {
                tok: Tok::Str(pieces, like_escape),
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            // date / datetime / number
            if let Some(len) = date_time_len(&input[i..]) {
                let text = &input[i..i + len];
                let tok = if len == 10 {
                    Tok::DateLit(text.into())
                } else {
                    Tok::DateTimeLit(text.into())
                };
                i += len;
                out.push(Token { tok, start, end: i });
                continue;
            }
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let text = &input[start..i];
            if text.matches('.').count() > 1 || text.ends_with('.') {
                return Err(err(start, format!("unexpected token: '{text}'")));
            }
            out.push(Token {
                tok: Tok::Num(text.into()),
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(input[start..i].into()),
                start,
                end: i,
            });
            continue;
        }
        let two = input.get(i..i + 2);
        let sym: Option<&'static str> = match two {
            Some("!=") => Some("!="),
            Some("<>") => Some("<>"),
            Some("<=") => Some("<="),
            Some(">=") => Some(">="),
            _ => None,
        };
        if let Some(s) = sym {
            i += 2;
            out.push(Token {
                tok: Tok::Sym(s),
                start,
                end: i,
            });
            continue;
        }
        let one: Option<&'static str> = match c {
            b'=' => Some("="),
            b'<' => Some("<"),
            b'>' => Some(">"),
            b'(' => Some("("),
            b')' => Some(")"),
            b',' => Some(","),
            b'.' => Some("."),
            b':' => Some(":"),
            _ => None,
        };
        match one {
            Some(s) => {
                i += 1;
                out.push(Token {
                    tok: Tok::Sym(s),
                    start,
                    end: i,
                });
            }
            None => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(err(i, format!("unexpected token: '{ch}'")));
            }
        }
    }
    Ok(out)
}

/// Length of a date (`YYYY-MM-DD`) or datetime literal at the start of `s`.
/// Lexes the string literal whose opening quote is at `start`. Returns the decoded pieces,
/// the offset of the first LIKE-only escape (`\%`, `\_`) and the offset after the closing quote.
///
/// Escapes, as documented in "Quoted String Escape Sequences": `\n \N \r \R \t \T \b \B \f \F
/// \" \' \\`, `\uXXXX` (four hex digits; a UTF-16 surrogate pair as two escapes), and `\%` `\_`
/// (LIKE only). `\b` is decoded as U+0008 (backspace, as in Java and JSON; the English doc calls
/// it "Bell", its translations "backspace"). Any other backslash is an error at the backslash.
#[allow(clippy::type_complexity)]
fn lex_string(
    input: &str,
    start: usize,
) -> Result<(Vec<LikeToken>, Option<usize>, usize), (usize, String)> {
    let mut i = start + 1;
    let mut out = Vec::new();
    let mut like_escape = None;
    let invalid = |at: usize| {
        (
            at,
            "Invalid string literal: invalid escape sequence".to_string(),
        )
    };
    loop {
        let Some(ch) = input.get(i..).and_then(|r| r.chars().next()) else {
            return Err((start, "unterminated string literal".into()));
        };
        match ch {
            '\'' => return Ok((out, like_escape, i + 1)),
            '%' => {
                out.push(LikeToken::Any);
                i += 1;
            }
            '_' => {
                out.push(LikeToken::One);
                i += 1;
            }
            '\\' => {
                let at = i;
                let next = input.get(i + 1..).and_then(|r| r.chars().next());
                let decoded = match next {
                    Some('\'') => '\'',
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('n' | 'N') => '\n',
                    Some('r' | 'R') => '\r',
                    Some('t' | 'T') => '\t',
                    Some('b' | 'B') => '\u{8}',
                    Some('f' | 'F') => '\u{c}',
                    Some(c @ ('%' | '_')) => {
                        like_escape.get_or_insert(at);
                        c
                    }
                    Some('u') => {
                        let (c, len) = unicode_escape(input, at).ok_or_else(|| invalid(at))?;
                        out.push(LikeToken::Char(c));
                        i = at + len;
                        continue;
                    }
                    _ => return Err(invalid(at)),
                };
                out.push(LikeToken::Char(decoded));
                i += 2;
            }
            c => {
                out.push(LikeToken::Char(c));
                i += c.len_utf8();
            }
        }
    }
}

/// Decodes `\uXXXX` (or a surrogate pair `\uD83D\uDE00`) at `at`; returns the char and the
/// number of bytes consumed.
fn unicode_escape(input: &str, at: usize) -> Option<(char, usize)> {
    let unit = |from: usize| -> Option<u32> {
        let rest = input.get(from..)?;
        let hex = rest.strip_prefix("\\u")?.get(..4)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    };
    let hi = unit(at)?;
    if (0xD800..0xDC00).contains(&hi) {
        let lo = unit(at + 6)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?;
        return Some((c, 12));
    }
    Some((char::from_u32(hi)?, 6))
}

fn date_time_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|k| b.get(k).is_some_and(u8::is_ascii_digit));
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return None;
    }
    if b.get(10) != Some(&b'T') {
        return Some(10);
    }
    if !(digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19))
    {
        return None;
    }
    let mut k = 19;
    if b.get(k) == Some(&b'.') {
        k += 1;
        while b.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
    }
    match b.get(k) {
        Some(b'Z') | Some(b'z') => Some(k + 1),
        Some(b'+') | Some(b'-') => {
            let rest = &b[k + 1..];
            if rest.len() >= 5
                && rest[..2].iter().all(u8::is_ascii_digit)
                && rest[2] == b':'
                && rest[3..5].iter().all(u8::is_ascii_digit)
            {
                Some(k + 6)
            } else if rest.len() >= 4 && rest[..4].iter().all(u8::is_ascii_digit) {
                Some(k + 5)
            } else {
                None
            }
        }
        _ => None,
    }
}

// ---------------------------------------------------------------- parser

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    i: usize,
}

const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "GROUP", "HAVING",
    "INCLUDES", "EXCLUDES", "WITH", "FOR", "USING", "TYPEOF",
];

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.i)
    }

    fn end_offset(&self) -> usize {
        self.input.len()
    }

    fn err_at(&self, offset: usize, message: String) -> SoqlError {
        SoqlError {
            offset,
            column: column_of(self.input, offset),
            message,
        }
    }

    fn unexpected(&self) -> SoqlError {
        match self.peek() {
            Some(t) => self.err_at(
                t.start,
                format!("unexpected token: '{}'", t.text(self.input)),
            ),
            None => self.err_at(self.end_offset(), "unexpected token: '<EOF>'".into()),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(s), .. }) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Sym(x), .. }) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), SoqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn ident(&mut self) -> Result<(String, usize), SoqlError> {
        match self.peek() {
            Some(Token {
                tok: Tok::Ident(s),
                start,
                ..
            }) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) => {
                let out = (s.clone(), *start);
                self.i += 1;
                Ok(out)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn field(&mut self) -> Result<FieldRef, SoqlError> {
        let (first, pos) = self.ident()?;
        let mut path = vec![first];
        while self.eat_sym(".") {
            path.push(self.ident()?.0);
        }
        Ok(FieldRef {
            path,
            pos: Pos(pos),
        })
    }

    fn number(&mut self) -> Result<u64, SoqlError> {
        match self.peek() {
            Some(Token {
                tok: Tok::Num(n),
                start,
                ..
            }) => {
                let start = *start;
                let v = n
                    .parse::<u64>()
                    .map_err(|_| self.err_at(start, format!("unexpected token: '{n}'")))?;
                self.i += 1;
                Ok(v)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn query(&mut self) -> Result<Query, SoqlError> {
        self.expect_kw("SELECT")?;
        let select = if self.is_kw("COUNT")
            && matches!(
                self.tokens.get(self.i + 1),
                Some(Token {
                    tok: Tok::Sym("("),
                    ..
                })
            ) {
            self.i += 1;
            self.expect_sym("(")?;
            self.expect_sym(")")?;
            Select::Count
        } else {
            let mut fields = vec![self.field()?];
            while self.eat_sym(",") {
                fields.push(self.field()?);
            }
            Select::Fields(fields)
        };
        self.expect_kw("FROM")?;
        let (from, from_pos) = self.ident()?;
        let where_ = if self.eat_kw("WHERE") {
            Some(self.or_cond()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let field = self.field()?;
                let descending = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                let nulls_first = if self.eat_kw("NULLS") {
                    if self.eat_kw("FIRST") {
                        Some(true)
                    } else {
                        self.expect_kw("LAST")?;
                        Some(false)
                    }
                } else {
                    None
                };
                order_by.push(OrderItem {
                    field,
                    descending,
                    nulls_first,
                });
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let limit = if self.eat_kw("LIMIT") {
            Some(self.number()?)
        } else {
            None
        };
        let offset = if self.eat_kw("OFFSET") {
            Some(self.number()?)
        } else {
            None
        };
        Ok(Query {
            select,
            from,
            from_pos: Pos(from_pos),
            where_,
            order_by,
            limit,
            offset,
        })
    }

    fn or_cond(&mut self) -> Result<Condition, SoqlError> {
        let mut left = self.and_cond()?;
        while self.eat_kw("OR") {
            let right = self.and_cond()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_cond(&mut self) -> Result<Condition, SoqlError> {
        let mut left = self.not_cond()?;
        while self.eat_kw("AND") {
            let right = self.not_cond()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_cond(&mut self) -> Result<Condition, SoqlError> {
        if self.eat_kw("NOT") {
            return Ok(Condition::Not(Box::new(self.not_cond()?)));
        }
        if self.eat_sym("(") {
            let inner = self.or_cond()?;
            self.expect_sym(")")?;
            return Ok(Condition::Group(Box::new(inner)));
        }
        let field = self.field()?;
        if self.eat_kw("NOT") {
            self.expect_kw("IN")?;
            let values = self.value_list()?;
            return Ok(Condition::In {
                field,
                negated: true,
                values,
            });
        }
        if self.eat_kw("IN") {
            let values = self.value_list()?;
            return Ok(Condition::In {
                field,
                negated: false,
                values,
            });
        }
        let op = if self.eat_kw("LIKE") {
            CompareOp::Like
        } else {
            let op = match self.peek() {
                Some(Token {
                    tok: Tok::Sym(s), ..
                }) => match *s {
                    "=" => Some(CompareOp::Eq),
                    "!=" | "<>" => Some(CompareOp::Ne),
                    "<" => Some(CompareOp::Lt),
                    "<=" => Some(CompareOp::Le),
                    ">" => Some(CompareOp::Gt),
                    ">=" => Some(CompareOp::Ge),
                    _ => None,
                },
                _ => None,
            };
            match op {
                Some(op) => {
                    self.i += 1;
                    op
                }
                None => return Err(self.unexpected()),
            }
        };
        if op == CompareOp::Like {
            return match self.peek().cloned() {
                Some(Token {
                    tok: Tok::Str(pieces, _),
                    ..
                }) => {
                    self.i += 1;
                    Ok(Condition::Compare {
                        field,
                        op,
                        value: Literal::Pattern(LikePattern(pieces)),
                    })
                }
                Some(t) => Err(self.err_at(t.start, "LIKE requires a string literal".into())),
                None => Err(self.unexpected()),
            };
        }
        let value = self.literal()?;
        Ok(Condition::Compare { field, op, value })
    }

    fn value_list(&mut self) -> Result<Vec<Literal>, SoqlError> {
        self.expect_sym("(")?;
        let mut values = vec![self.literal()?];
        while self.eat_sym(",") {
            values.push(self.literal()?);
        }
        self.expect_sym(")")?;
        Ok(values)
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.unexpected());
        };
        let lit = match &t.tok {
            Tok::Str(pieces, like_escape) => {
                if let Some(at) = like_escape {
                    return Err(self.err_at(
                        *at,
                        "Invalid string literal: \\% and \\_ are only valid in LIKE patterns"
                            .into(),
                    ));
                }
                Literal::String(LikePattern(pieces.clone()).to_plain_string())
            }
            Tok::Num(n) => Literal::Number(n.clone()),
            Tok::DateLit(d) => Literal::Date(d.clone()),
            Tok::DateTimeLit(d) => Literal::DateTime(d.clone()),
            Tok::Ident(word) => {
                let up = word.to_ascii_uppercase();
                match up.as_str() {
                    "NULL" => Literal::Null,
                    "TRUE" => Literal::Bool(true),
                    "FALSE" => Literal::Bool(false),
                    _ if FIXED_DATE_LITERALS.contains(&up.as_str()) => {
                        Literal::DateLiteral(DateLiteral::Fixed(up))
                    }
                    _ if N_DATE_LITERALS.contains(&up.as_str()) => {
                        self.i += 1;
                        self.expect_sym(":")?;
                        let n = self.number()?;
                        let n = u32::try_from(n).map_err(|_| {
                            self.err_at(t.start, format!("unexpected token: '{n}'"))
                        })?;
                        return Ok(Literal::DateLiteral(DateLiteral::WithN(up, n)));
                    }
                    _ => return Err(self.unexpected()),
                }
            }
            Tok::Sym(_) => return Err(self.unexpected()),
        };
        self.i += 1;
        Ok(lit)
    }
}

// ---------------------------------------------------------------- printer

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path.join("."))
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::String(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    write_escaped_char(f, c)?;
                }
                f.write_str("'")
            }
            Literal::Pattern(p) => write!(f, "{p}"),
            Literal::Number(n) | Literal::Date(n) | Literal::DateTime(n) => f.write_str(n),
            Literal::DateLiteral(DateLiteral::Fixed(n)) => f.write_str(n),
            Literal::DateLiteral(DateLiteral::WithN(n, k)) => write!(f, "{n}:{k}"),
        }
    }
}

/// Writes one character of a string literal with the escape the parser decodes back to it.
fn write_escaped_char(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\'' => f.write_str("\\'"),
        '"' => f.write_str("\\\""),
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        '\u{8}' => f.write_str("\\b"),
        '\u{c}' => f.write_str("\\f"),
        c if c.is_control() => write!(f, "\\u{:04x}", c as u32),
        c => write!(f, "{c}"),
    }
}

impl fmt::Display for LikePattern {
    /// Prints the pattern as a quoted literal: wildcards bare, literal `%`/`_` as `\%`/`\_`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        for t in &self.0 {
            match t {
                LikeToken::Any => f.write_str("%")?,
                LikeToken::One => f.write_str("_")?,
                LikeToken::Char('%') => f.write_str("\\%")?,
                LikeToken::Char('_') => f.write_str("\\_")?,
                LikeToken::Char(c) => write_escaped_char(f, *c)?,
            }
        }
        f.write_str("'")
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::And(a, b) => write!(f, "{a} AND {b}"),
            Condition::Or(a, b) => write!(f, "{a} OR {b}"),
            Condition::Not(a) => write!(f, "NOT {a}"),
            Condition::Group(a) => write!(f, "({a})"),
            Condition::Compare { field, op, value } => write!(f, "{field} {} {value}", op.as_str()),
            Condition::In {
                field,
                negated,
                values,
            } => {
                write!(f, "{field} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        match &self.select {
            Select::Count => f.write_str("COUNT()")?,
            Select::Fields(fields) => {
                for (i, fr) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{fr}")?;
                }
            }
        }
        write!(f, " FROM {}", self.from)?;
        if let Some(w) = &self.where_ {
            write!(f, " WHERE {w}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            for (i, o) in self.order_by.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(
                    f,
                    "{}{}",
                    o.field,
                    if o.descending { " DESC" } else { " ASC" }
                )?;
                match o.nulls_first {
                    Some(true) => f.write_str(" NULLS FIRST")?,
                    Some(false) => f.write_str(" NULLS LAST")?,
                    None => {}
                }
            }
        }
        if let Some(l) = self.limit {
            write!(f, " LIMIT {l}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " OFFSET {o}")?;
        }
        Ok(())
    }
}

/// Whether `value` matches a `LIKE` pattern (case-insensitive, like Salesforce).
pub fn like_matches(pattern: &LikePattern, value: &str) -> bool {
    let pat = &pattern.0;
    let val: Vec<char> = value.chars().collect();
    // dynamic programming over (pattern index, value index), case-insensitive like Salesforce.
    let mut dp = vec![vec![false; val.len() + 1]; pat.len() + 1];
    dp[0][0] = true;
    for i in 1..=pat.len() {
        if matches!(pat[i - 1], LikeToken::Any) {
            dp[i][0] = dp[i - 1][0];
        }
        for j in 1..=val.len() {
            dp[i][j] = match pat[i - 1] {
                LikeToken::Any => dp[i - 1][j] || dp[i][j - 1],
                LikeToken::One => dp[i - 1][j - 1],
                LikeToken::Char(c) => {
                    dp[i - 1][j - 1] && c.to_lowercase().eq(val[j - 1].to_lowercase())
                }
            };
        }
    }
    dp[pat.len()][val.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_subset() {
        let q = parse(
            "select Id, Name, Account.Name from Contact where (LastName = 'O\\'Brien' or Email like '%@x.org') \
             and CreatedDate > LAST_N_DAYS:30 and Amount__c >= -1.5 and Id not in ('003', '004') \
             and Birthdate != null and CreatedDate < 2024-01-01T00:00:00Z and Birthdate <= 2020-12-31 \
             and IsDeleted = false order by Name desc nulls last, Id limit 10 offset 5",
        )
        .unwrap();
        assert_eq!(q.from, "Contact");
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.offset, Some(5));
        assert_eq!(q.order_by.len(), 2);
        let printed = q.to_string();
        assert_eq!(parse(&printed).unwrap(), q);
        assert!(printed.contains("'O\\'Brien'"));
    }

    #[test]
    fn count_query() {
        assert_eq!(
            parse("SELECT COUNT() FROM Lead").unwrap().select,
            Select::Count
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("SELECT Id FROM").unwrap_err();
        assert_eq!(e.message, "unexpected token: '<EOF>'");
        assert_eq!(e.column, 15);
        let e = parse("SELECT Id, FROM Lead").unwrap_err();
        assert_eq!(e.column, 12);
        let e = parse("SELECT Id FROM Lead WHERE Name = 'x").unwrap_err();
        assert_eq!(e.message, "unterminated string literal");
        let e = parse("SELECT Id FROM Lead GROUP BY Name").unwrap_err();
        assert_eq!(e.message, "unexpected token: 'GROUP'");
        assert!(parse("DROP TABLE x").is_err());
        assert!(parse("SELECT Id FROM Lead WHERE Name LIKE 3").is_err());
        assert!(parse("").is_err());
        assert!(parse("SELECT Id FROM Lead LIMIT 99999999999999999999999").is_err());
    }

    fn like_of(q: &str) -> LikePattern {
        match parse(q).unwrap().where_ {
            Some(Condition::Compare {
                op: CompareOp::Like,
                value: Literal::Pattern(p),
                ..
            }) => p,
            other => panic!("not a LIKE: {other:?}"),
        }
    }

    fn eq_string_of(literal: &str) -> Result<String, SoqlError> {
        match parse(&format!("SELECT Id FROM Lead WHERE Name = {literal}"))?.where_ {
            Some(Condition::Compare {
                value: Literal::String(s),
                ..
            }) => Ok(s),
            other => panic!("not a string comparison: {other:?}"),
        }
    }

    #[test]
    fn like_patterns() {
        let p = |s| like_of(&format!("SELECT Id FROM Lead WHERE Name LIKE '{s}'"));
        assert!(like_matches(&p("%@x.org"), "a@X.org"));
        assert!(like_matches(&p("a_c"), "abc"));
        assert!(!like_matches(&p("a_c"), "abbc"));
        assert!(like_matches(&p("100\\%"), "100%"));
        assert!(!like_matches(&p("100\\%"), "1000"));
        assert!(like_matches(&p("a\\_c"), "a_c"));
        assert!(!like_matches(&p("a\\_c"), "abc"));
        // The documented examples.
        assert!(like_matches(&p("Ter\\%%"), "Ter%rific"));
        assert!(!like_matches(&p("Ter\\%%"), "Terrific"));
    }

    #[test]
    fn escaped_backslash_before_a_wildcard_is_a_backslash_then_the_wildcard() {
        // `'\\%'`: backslash, then `%` wildcard. `'\%'`: literal percent.
        let backslash_then_any = like_of(r"SELECT Id FROM Lead WHERE Name LIKE '\\%'");
        assert_eq!(
            backslash_then_any.0,
            vec![LikeToken::Char('\\'), LikeToken::Any]
        );
        assert!(like_matches(&backslash_then_any, "\\"));
        assert!(like_matches(&backslash_then_any, "\\anything"));
        assert!(!like_matches(&backslash_then_any, "%"));
        let percent = like_of(r"SELECT Id FROM Lead WHERE Name LIKE '\%'");
        assert_eq!(percent.0, vec![LikeToken::Char('%')]);
        assert!(like_matches(&percent, "%"));
        assert!(!like_matches(&percent, "\\"));
        // `'\\\%'`: backslash then literal percent; `'\\\\_'`: two backslashes then one char.
        let p = like_of(r"SELECT Id FROM Lead WHERE Name LIKE '\\\%'");
        assert_eq!(p.0, vec![LikeToken::Char('\\'), LikeToken::Char('%')]);
        let p = like_of(r"SELECT Id FROM Lead WHERE Name LIKE '\\\\_'");
        assert_eq!(
            p.0,
            vec![LikeToken::Char('\\'), LikeToken::Char('\\'), LikeToken::One]
        );
        // The printer keeps the distinction.
        for q in [
            r"SELECT Id FROM Lead WHERE Name LIKE '\\%'",
            r"SELECT Id FROM Lead WHERE Name LIKE '\%'",
            r"SELECT Id FROM Lead WHERE Name LIKE '\\\%_\_'",
        ] {
            let parsed = parse(q).unwrap();
            assert_eq!(parsed.to_string(), q);
            assert_eq!(parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    #[test]
    fn every_documented_escape_decodes() {
        let cases: &[(&str, &str)] = &[
            (r"'a\nb'", "a\nb"),
            (r"'a\Nb'", "a\nb"),
            (r"'a\rb'", "a\rb"),
            (r"'a\Rb'", "a\rb"),
            (r"'a\tb'", "a\tb"),
            (r"'a\Tb'", "a\tb"),
            (r"'a\bb'", "a\u{8}b"),
            (r"'a\Bb'", "a\u{8}b"),
            (r"'a\fb'", "a\u{c}b"),
            (r"'a\Fb'", "a\u{c}b"),
            (r#"'a\"b'"#, "a\"b"),
            (r"'a\'b'", "a'b"),
            (r"'a\\b'", "a\\b"),
            (r"'\u00e9t\u00C9'", "étÉ"),
            (r"'\u0000\u001f'", "\u{0}\u{1f}"),
            (r"'\ud83d\ude00'", "😀"),
            ("'100%_'", "100%_"),
        ];
        for (lit, want) in cases {
            assert_eq!(eq_string_of(lit).unwrap(), *want, "{lit}");
            // and the printer writes something that decodes to the same value
            let q = parse(&format!("SELECT Id FROM Lead WHERE Name = {lit}")).unwrap();
            assert_eq!(parse(&q.to_string()).unwrap(), q, "{lit} -> {q}");
        }
    }

    #[test]
    fn undocumented_escapes_are_rejected_at_the_backslash() {
        for (lit, column) in [
            (r"'a\x'", 36),
            (r"'ab\a'", 37),
            (r"'\U00e9'", 35),
            (r"'\u00g9'", 35),
            (r"'\u12'", 35),
            (r"'\ud83d'", 35),
            (r"'\ud83dx'", 35),
            (r"'\ude00'", 35),
            (r"'\0'", 35),
            (r"'é\v'", 36),
        ] {
            let e = eq_string_of(lit).unwrap_err();
            assert_eq!(
                e.message, "Invalid string literal: invalid escape sequence",
                "{lit}"
            );
            assert_eq!(e.column, column, "{lit}");
        }
        // A trailing backslash escapes the closing quote: unterminated.
        let e = eq_string_of(r"'abc\'").unwrap_err();
        assert_eq!(e.message, "unterminated string literal");
        // `\%` and `\_` are LIKE-only.
        let e = eq_string_of(r"'10\%'").unwrap_err();
        assert_eq!(e.column, 37);
        assert!(e.message.contains("only valid in LIKE"), "{}", e.message);
        let e = parse(r"SELECT Id FROM Lead WHERE Name IN ('a', 'b\_')").unwrap_err();
        assert_eq!(e.column, 43);
    }

    #[test]
    fn control_characters_print_as_escapes() {
        let q = parse("SELECT Id FROM Lead WHERE Name = '\u{1}\u{8}\u{c}\u{7f}\\\\'").unwrap();
        assert_eq!(
            q.to_string(),
            r"SELECT Id FROM Lead WHERE Name = '\u0001\b\f\u007f\\'"
        );
    }
}
