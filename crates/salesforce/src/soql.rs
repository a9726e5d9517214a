//! A SOQL builder that escapes every literal.
//!
//! Values that come from Monday (or any user) are only ever rendered through
//! [`SoqlValue`], which quotes and escapes strings per the SOQL "Quoted String Escape
//! Sequences" rules and renders numbers, dates, booleans and `null` in their literal syntax.
//! Identifiers (sObject and field names) are not escaped but *validated*: anything other than
//! `Name`, `Name__c`, `ns__Name__c` or a dotted relationship path like `Account__r.Name` is
//! rejected. So no input can change the structure of the query.
//!
//! ```
//! use crmsync_salesforce::soql::{Cond, Soql};
//! let q = Soql::from("Account")
//!     .select(["Id", "Name"])
//!     .filter(Cond::eq("Name", "Bob's BBQ").and(Cond::is_in("Type", ["Customer", "Partner"])))
//!     .limit(10)
//!     .build()
//!     .unwrap();
//! assert_eq!(
//!     q,
//!     "SELECT Id, Name FROM Account WHERE (Name = 'Bob\\'s BBQ' AND Type IN ('Customer', 'Partner')) LIMIT 10"
//! );
//! ```

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Why a query could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SoqlError {
    /// An sObject or field name is not a valid SOQL identifier.
    #[error("{what} {value:?} is not a valid SOQL identifier")]
    InvalidIdentifier {
        /// "field" or "sObject".
        what: &'static str,
        /// The rejected name.
        value: String,
    },
    /// `IN ()` / `NOT IN ()` with no values is a SOQL syntax error.
    #[error("IN list for field {field} is empty")]
    EmptyInList {
        /// The field of the condition.
        field: String,
    },
    /// NaN and infinities have no SOQL literal.
    #[error("number {value} for field {field} has no SOQL literal")]
    NonFiniteNumber {
        /// The field of the condition.
        field: String,
        /// The value (as text).
        value: String,
    },
    /// A nested list inside an IN list.
    #[error("IN list for field {field} contains a nested list")]
    NestedList {
        /// The field of the condition.
        field: String,
    },
    /// `AND`/`OR` with no operands.
    #[error("empty {0} group")]
    EmptyGroup(&'static str),
    /// No fields selected.
    #[error("SELECT list is empty")]
    EmptySelect,
}

/// A literal value in a SOQL condition.
#[derive(Debug, Clone, PartialEq)]
pub enum SoqlValue {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal number (must be finite). Rendered without exponent.
    Float(f64),
    /// A quoted, escaped string.
    Str(String),
    /// `YYYY-MM-DD` (unquoted, per SOQL date syntax).
    Date(NaiveDate),
    /// `YYYY-MM-DDThh:mm:ssZ` (unquoted, UTC).
    DateTime(DateTime<Utc>),
    /// A parenthesized list, only valid with `IN` / `NOT IN`.
    List(Vec<SoqlValue>),
}

impl From<&str> for SoqlValue {
    fn from(v: &str) -> Self {
        SoqlValue::Str(v.to_string())
    }
}
impl From<String> for SoqlValue {
    fn from(v: String) -> Self {
        SoqlValue::Str(v)
    }
}
impl From<&String> for SoqlValue {
    fn from(v: &String) -> Self {
        SoqlValue::Str(v.clone())
    }
}
impl From<bool> for SoqlValue {
    fn from(v: bool) -> Self {
        SoqlValue::Bool(v)
    }
}
impl From<i32> for SoqlValue {
    fn from(v: i32) -> Self {
        SoqlValue::Int(v.into())
    }
}
impl From<i64> for SoqlValue {
    fn from(v: i64) -> Self {
        SoqlValue::Int(v)
    }
}
impl From<u32> for SoqlValue {
    fn from(v: u32) -> Self {
        SoqlValue::Int(v.into())
    }
}
impl From<f64> for SoqlValue {
    fn from(v: f64) -> Self {
        SoqlValue::Float(v)
    }
}
impl From<NaiveDate> for SoqlValue {
    fn from(v: NaiveDate) -> Self {
        SoqlValue::Date(v)
    }
}
impl From<DateTime<Utc>> for SoqlValue {
    fn from(v: DateTime<Utc>) -> Self {
        SoqlValue::DateTime(v)
    }
}
impl<T: Into<SoqlValue>> From<Option<T>> for SoqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SoqlValue::Null, Into::into)
    }
}

/// Quotes and escapes a string as a SOQL string literal (`'...'`).
///
/// Escapes `\` `'` `"` newline, carriage return, tab and form feed with their documented
/// two-character sequences, and every other control character (U+0000–U+001F, U+007F) as
/// `\uXXXX`. Everything else, including non-ASCII text, is kept as is.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    push_escaped(&mut out, s, false);
    out.push('\'');
    out
}

/// Like [`quote_string`] but also escapes the LIKE wildcards `%` and `_`, for a value that must
/// match literally inside a `LIKE` pattern. The result is *not* quoted.
pub fn escape_like_fragment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s, true);
    out
}

fn push_escaped(out: &mut String, s: &str, like: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0c}' => out.push_str("\\f"),
            '%' if like => out.push_str("\\%"),
            '_' if like => out.push_str("\\_"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                // \b is documented ambiguously ("Bell"); \uXXXX is unambiguous.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Validates an sObject name or field path (`Name`, `Custom__c`, `ns__Field__c`,
/// `Account__r.Owner.Name`).
pub fn validate_identifier(what: &'static str, name: &str) -> Result<(), SoqlError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(SoqlError::InvalidIdentifier {
            what,
            value: name.to_string(),
        })
    }
}

impl SoqlValue {
    /// Renders the literal. `field` is only used in error messages.
    pub fn render(&self, field: &str) -> Result<String, SoqlError> {
        Ok(match self {
            SoqlValue::Null => "null".into(),
            SoqlValue::Bool(b) => b.to_string(),
            SoqlValue::Int(i) => i.to_string(),
            SoqlValue::Float(f) => {
                if !f.is_finite() {
                    return Err(SoqlError::NonFiniteNumber {
                        field: field.into(),
                        value: f.to_string(),
                    });
                }
                // Rust's Display for f64 never uses exponent notation.
                let s = f.to_string();
                if s == "-0" {
                    "0".into()
                } else {
                    s
                }
            }
            SoqlValue::Str(s) => quote_string(s),
            SoqlValue::Date(d) => d.format("%Y-%m-%d").to_string(),
            SoqlValue::DateTime(dt) => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
            SoqlValue::List(items) => {
                if items.is_empty() {
                    return Err(SoqlError::EmptyInList {
                        field: field.into(),
                    });
                }
                let mut parts = Vec::with_capacity(items.len());
                for i in items {
                    if matches!(i, SoqlValue::List(_)) {
                        return Err(SoqlError::NestedList {
                            field: field.into(),
                        });
                    }
                    parts.push(i.render(field)?);
                }
                format!("({})", parts.join(", "))
            }
        })
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `field op literal`
    Cmp {
        /// Field path.
        field: String,
        /// Operator.
        op: CmpOp,
        /// Literal.
        value: SoqlValue,
    },
    /// `field IN (...)` or `field NOT IN (...)`
    In {
        /// Field path.
        field: String,
        /// Values.
        values: Vec<SoqlValue>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `field LIKE 'pattern'`; `pattern` is the already escaped pattern body.
    Like {
        /// Field path.
        field: String,
        /// Escaped pattern body (without quotes).
        escaped_pattern: String,
    },
    /// All of.
    And(Vec<Cond>),
    /// Any of.
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// A condition written by the operator (e.g. `[board.migration] where` of the mapping, whose
    /// fields the mapping check validated against the describe), rendered in parentheses as is.
    /// Never build one from data received from elsewhere: literals in it are not escaped.
    Raw(String),
}

impl Cond {
    fn cmp(field: impl Into<String>, op: CmpOp, value: impl Into<SoqlValue>) -> Cond {
        Cond::Cmp {
            field: field.into(),
            op,
            value: value.into(),
        }
    }
    /// `field = value`
    pub fn eq(field: impl Into<String>, value: impl Into<SoqlValue>) -> Cond {
        Cond::cmp(field, CmpOp::Eq, value)
    }
    /// `field != value`
    pub fn ne(field: impl Into<String>, value: impl Into<SoqlValue>) -> Cond {
        Cond::cmp(field, CmpOp::Ne, value)
    }
    /// `field < value`
    pub fn lt(field: impl Into<String>, value: impl Into<SoqlValue>) -> Cond {
        Cond::cmp(field, CmpOp::Lt, value)
    }
    /// `field <= value`
    pub fn le(field: impl Into<String>, value: impl Into<SoqlValue>) -> Cond {
        Cond::cmp(field, CmpOp::Le, value)
    }
    /// `field > value`
    pub fn gt(field: impl Into<String>, value: impl Into<SoqlValue>) -> Cond {
        Cond::cmp(field, CmpOp::Gt, value)
    }
    /// `field >= value`
    pub fn ge(field: impl Into<String>, value: impl Into<SoqlValue>) -> Cond {
        Cond::cmp(field, CmpOp::Ge, value)
    }
    /// `field IN (values)` (an empty list is an error at build time).
    pub fn is_in<V: Into<SoqlValue>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Cond {
        Cond::In {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
            negated: false,
        }
    }
    /// `field NOT IN (values)`
    pub fn not_in<V: Into<SoqlValue>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Cond {
        Cond::In {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
            negated: true,
        }
    }
    /// `field LIKE 'value%'` with `value` matched literally (its `%` and `_` are escaped).
    pub fn starts_with(field: impl Into<String>, value: &str) -> Cond {
        Cond::Like {
            field: field.into(),
            escaped_pattern: format!("{}%", escape_like_fragment(value)),
        }
    }
    /// `field LIKE '%value'` with `value` matched literally.
    pub fn ends_with(field: impl Into<String>, value: &str) -> Cond {
        Cond::Like {
            field: field.into(),
            escaped_pattern: format!("%{}", escape_like_fragment(value)),
        }
    }
    /// `field LIKE '%value%'` with `value` matched literally.
    pub fn contains(field: impl Into<String>, value: &str) -> Cond {
        Cond::Like {
            field: field.into(),
            escaped_pattern: format!("%{}%", escape_like_fragment(value)),
        }
    }
    /// `field LIKE 'pattern'` where `%` and `_` in `pattern` are wildcards (quotes, backslashes
    /// and control characters are still escaped). Use for developer-written patterns only.
    pub fn like_pattern(field: impl Into<String>, pattern: &str) -> Cond {
        let mut escaped = String::new();
        push_escaped(&mut escaped, pattern, false);
        Cond::Like {
            field: field.into(),
            escaped_pattern: escaped,
        }
    }
    /// `(self AND other)`
    pub fn and(self, other: Cond) -> Cond {
        match self {
            Cond::And(mut v) => {
                v.push(other);
                Cond::And(v)
            }
            c => Cond::And(vec![c, other]),
        }
    }
    /// `(self OR other)`
    pub fn or(self, other: Cond) -> Cond {
        match self {
            Cond::Or(mut v) => {
                v.push(other);
                Cond::Or(v)
            }
            c => Cond::Or(vec![c, other]),
        }
    }
    /// `(NOT self)`
    pub fn negate(self) -> Cond {
        Cond::Not(Box::new(self))
    }

    /// Renders the condition.
    pub fn render(&self) -> Result<String, SoqlError> {
        Ok(match self {
            Cond::Cmp { field, op, value } => {
                validate_identifier("field", field)?;
                if matches!(value, SoqlValue::List(_)) {
                    return Err(SoqlError::NestedList {
                        field: field.clone(),
                    });
                }
                format!("{field} {} {}", op.as_str(), value.render(field)?)
            }
            Cond::In {
                field,
                values,
                negated,
            } => {
                validate_identifier("field", field)?;
                let list = SoqlValue::List(values.clone()).render(field)?;
                let kw = if *negated { "NOT IN" } else { "IN" };
                format!("{field} {kw} {list}")
            }
            Cond::Like {
                field,
                escaped_pattern,
            } => {
                validate_identifier("field", field)?;
                format!("{field} LIKE '{escaped_pattern}'")
            }
            Cond::And(items) => group(items, "AND")?,
            Cond::Or(items) => group(items, "OR")?,
            Cond::Not(inner) => format!("(NOT {})", inner.render()?),
            Cond::Raw(text) => {
                if text.trim().is_empty() || text.contains(';') {
                    return Err(SoqlError::EmptyGroup("raw condition"));
                }
                format!("({})", text.trim())
            }
        })
    }
}

fn group(items: &[Cond], kw: &'static str) -> Result<String, SoqlError> {
    match items {
        [] => Err(SoqlError::EmptyGroup(kw)),
        [one] => one.render(),
        many => {
            let parts = many
                .iter()
                .map(Cond::render)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", parts.join(&format!(" {kw} "))))
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `ASC`
    Asc,
    /// `DESC`
    Desc,
}

/// A `SELECT ... FROM ... [WHERE ...] [ORDER BY ...] [LIMIT n] [OFFSET n]` query.
#[derive(Debug, Clone, PartialEq)]
pub struct Soql {
    sobject: String,
    fields: Vec<String>,
    count_only: bool,
    filter: Option<Cond>,
    order_by: Vec<(String, Order)>,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl Soql {
    /// A query over `sobject` (select fields with [`Soql::select`]).
    pub fn from(sobject: impl Into<String>) -> Soql {
        Soql {
            sobject: sobject.into(),
            fields: Vec::new(),
            count_only: false,
            filter: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    /// Adds fields to the SELECT list.
    pub fn select<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Soql {
        self.fields.extend(fields.into_iter().map(Into::into));
        self
    }

    /// Sets (or ANDs onto) the WHERE condition.
    pub fn filter(mut self, cond: Cond) -> Soql {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(cond),
            None => cond,
        });
        self
    }

    /// Adds an ORDER BY term.
    pub fn order_by(mut self, field: impl Into<String>, order: Order) -> Soql {
        self.order_by.push((field.into(), order));
        self
    }

    /// `LIMIT n`
    pub fn limit(mut self, n: u64) -> Soql {
        self.limit = Some(n);
        self
    }

    /// `OFFSET n`
    pub fn offset(mut self, n: u64) -> Soql {
        self.offset = Some(n);
        self
    }

    /// The sObject queried.
    pub fn sobject(&self) -> &str {
        &self.sobject
    }

    /// The `LIMIT`, if any.
    pub fn limit_value(&self) -> Option<u64> {
        self.limit
    }

    /// The same query as `SELECT COUNT() FROM ... WHERE ...` (no ORDER BY, LIMIT or OFFSET).
    pub fn to_count(&self) -> Soql {
        Soql {
            sobject: self.sobject.clone(),
            fields: Vec::new(),
            count_only: true,
            filter: self.filter.clone(),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }

    /// Renders the query text, validating every identifier and literal.
    pub fn build(&self) -> Result<String, SoqlError> {
        validate_identifier("sObject", &self.sobject)?;
        let select = if self.count_only {
            "COUNT()".to_string()
        } else {
            if self.fields.is_empty() {
                return Err(SoqlError::EmptySelect);
            }
            for f in &self.fields {
                validate_identifier("field", f)?;
            }
            self.fields.join(", ")
        };
        let mut q = format!("SELECT {select} FROM {}", self.sobject);
        if let Some(c) = &self.filter {
            q.push_str(" WHERE ");
            q.push_str(&c.render()?);
        }
        if !self.order_by.is_empty() {
            let mut parts = Vec::new();
            for (f, o) in &self.order_by {
                validate_identifier("field", f)?;
                parts.push(format!(
                    "{f} {}",
                    match o {
                        Order::Asc => "ASC",
                        Order::Desc => "DESC",
                    }
                ));
            }
            q.push_str(" ORDER BY ");
            q.push_str(&parts.join(", "));
        }
        if let Some(l) = self.limit {
            let _ = write!(q, " LIMIT {l}");
        }
        if let Some(o) = self.offset {
            let _ = write!(q, " OFFSET {o}");
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_documented_sequences() {
        assert_eq!(quote_string("Bob's BBQ"), r"'Bob\'s BBQ'");
        assert_eq!(quote_string(r"a\b"), r"'a\\b'");
        assert_eq!(quote_string("say \"hi\""), r#"'say \"hi\"'"#);
        assert_eq!(quote_string("l1\nl2\r\tx\u{0c}"), r"'l1\nl2\r\tx\f'");
        assert_eq!(
            quote_string("\u{0}\u{7}\u{8}\u{7f}"),
            r"'\u0000\u0007\u0008\u007f'"
        );
        assert_eq!(quote_string("Zoë – 日本"), "'Zoë – 日本'");
        assert_eq!(quote_string("50%_off"), "'50%_off'");
        assert_eq!(escape_like_fragment("50%_off'"), r"50\%\_off\'");
    }

    #[test]
    fn injection_attempt_stays_inside_the_literal() {
        let q = Soql::from("Lead")
            .select(["Id"])
            .filter(Cond::eq("Email", "x' OR Name != '"))
            .build()
            .unwrap();
        assert_eq!(q, r"SELECT Id FROM Lead WHERE Email = 'x\' OR Name != \''");
        let q = Soql::from("Lead")
            .select(["Id"])
            .filter(Cond::eq("Email", r"x\' OR Id != null --"))
            .build()
            .unwrap();
        assert_eq!(
            q,
            r"SELECT Id FROM Lead WHERE Email = 'x\\\' OR Id != null --'"
        );
    }

    #[test]
    fn renders_every_literal_kind() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let dt = DateTime::parse_from_rfc3339("2024-03-01T10:20:30.999+02:00")
            .unwrap()
            .with_timezone(&Utc);
        let q = Soql::from("Opportunity")
            .select(["Id", "Account.Name"])
            .filter(Cond::eq("CloseDate", d))
            .filter(Cond::gt("LastModifiedDate", dt))
            .filter(Cond::ge("Amount", 1234.5))
            .filter(Cond::lt("Probability", -3))
            .filter(Cond::eq("IsWon", true))
            .filter(Cond::ne("Description", SoqlValue::Null))
            .filter(Cond::not_in("StageName", ["Closed Lost", "x'y"]))
            .filter(Cond::starts_with("Name", "50%_").or(Cond::contains("Name", "a").negate()))
            .order_by("CloseDate", Order::Desc)
            .limit(5)
            .offset(10)
            .build()
            .unwrap();
        assert_eq!(
            q,
            "SELECT Id, Account.Name FROM Opportunity WHERE (CloseDate = 2024-02-29 AND \
             LastModifiedDate > 2024-03-01T08:20:30Z AND Amount >= 1234.5 AND Probability < -3 \
             AND IsWon = true AND Description != null AND StageName NOT IN ('Closed Lost', 'x\\'y') \
             AND (Name LIKE '50\\%\\_%' OR (NOT Name LIKE '%a%'))) ORDER BY CloseDate DESC LIMIT 5 OFFSET 10"
        );
    }

    #[test]
    fn rejects_bad_identifiers_and_values() {
        let bad = |q: Soql| q.build().unwrap_err();
        assert!(matches!(
            bad(Soql::from("Account; DELETE").select(["Id"])),
            SoqlError::InvalidIdentifier { .. }
        ));
        assert!(matches!(
            bad(Soql::from("Account").select(["Id FROM User --"])),
            SoqlError::InvalidIdentifier { .. }
        ));
        assert!(matches!(
            bad(Soql::from("Account")
                .select(["Id"])
                .filter(Cond::eq("Name) OR (Id", 1))),
            SoqlError::InvalidIdentifier { .. }
        ));
        assert!(matches!(
            bad(Soql::from("Account")
                .select(["Id"])
                .filter(Cond::is_in("Id", Vec::<String>::new()))),
            SoqlError::EmptyInList { .. }
        ));
        assert!(matches!(
            bad(Soql::from("Account")
                .select(["Id"])
                .filter(Cond::eq("AnnualRevenue", f64::NAN))),
            SoqlError::NonFiniteNumber { .. }
        ));
        assert!(matches!(bad(Soql::from("Account")), SoqlError::EmptySelect));
        assert!(validate_identifier("field", "ns__Field__c").is_ok());
        assert!(validate_identifier("field", "Account__r.Owner.Name").is_ok());
        assert!(validate_identifier("field", "1abc").is_err());
        assert!(validate_identifier("field", "a..b").is_err());
    }

    #[test]
    fn count_query_drops_order_and_limit() {
        let q = Soql::from("Contact")
            .select(["Id"])
            .filter(Cond::eq("LastName", "O'Neil"))
            .order_by("Id", Order::Asc)
            .limit(3);
        assert_eq!(
            q.to_count().build().unwrap(),
            r"SELECT COUNT() FROM Contact WHERE LastName = 'O\'Neil'"
        );
    }

    #[test]
    fn float_rendering_has_no_exponent() {
        assert_eq!(
            SoqlValue::Float(1e21).render("f").unwrap(),
            "1000000000000000000000"
        );
        assert_eq!(SoqlValue::Float(1e-7).render("f").unwrap(), "0.0000001");
        assert_eq!(SoqlValue::Float(-0.0).render("f").unwrap(), "0");
    }
}
