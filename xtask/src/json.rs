//! A small JSON reader for `cargo metadata` output (xtask stays std + anyhow: serde_json would
//! add serde and its build to every `cargo xtask` compile).

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written; xtask never computes with one.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of an array; empty for anything else (`null` included).
    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(items) => items,
            _ => &[],
        }
    }
}

/// Parse one JSON document (RFC 8259); trailing whitespace is allowed, anything else is not.
pub fn parse(text: &str) -> Result<Value> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        bail!("JSON: unexpected text at byte {}", p.i);
    }
    Ok(v)
}

/// Deeper than this is no `cargo metadata` output (and would risk the stack).
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<()> {
        self.ws();
        if self.s.get(self.i) != Some(&b) {
            bail!("JSON: expected {:?} at byte {}", char::from(b), self.i);
        }
        self.i += 1;
        Ok(())
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
        if !self.s[self.i..].starts_with(word.as_bytes()) {
            bail!("JSON: unexpected text at byte {}", self.i);
        }
        self.i += word.len();
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            bail!("JSON: nested deeper than {MAX_DEPTH}");
        }
        self.ws();
        match self.s.get(self.i) {
            None => bail!("JSON: unexpected end"),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => bail!("JSON: expected ',' or ']' at byte {}", self.i),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        bail!("JSON: expected a member name at byte {}", self.i);
                    }
                    let key = self.string()?;
                    self.eat(b':')?;
                    members.push((key, self.value(depth + 1)?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(members));
                        }
                        _ => bail!("JSON: expected ',' or '}}' at byte {}", self.i),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(
                    self.s.get(self.i),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                let n = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
                if n.parse::<f64>().is_err() {
                    bail!("JSON: bad number {n:?} at byte {start}");
                }
                Ok(Value::Number(n.to_owned()))
            }
            Some(_) => bail!("JSON: unexpected text at byte {}", self.i),
        }
    }

    /// A string, the opening quote at `self.i`.
    fn string(&mut self) -> Result<String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                bail!("JSON: unterminated string");
            };
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        bail!("JSON: unterminated string");
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => bail!("JSON: bad escape at byte {}", self.i - 1),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => bail!("JSON: control character in a string at byte {}", self.i - 1),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| anyhow::anyhow!("JSON: a string is not UTF-8"))
    }

    /// After `\u`: four hex digits, and a low surrogate's `\uXXXX` after a high one.
    fn unicode_escape(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if !self.s[self.i..].starts_with(b"\\u") {
                bail!("JSON: lone surrogate at byte {}", self.i);
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                bail!("JSON: bad surrogate pair at byte {}", self.i);
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| anyhow::anyhow!("JSON: bad \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match digits {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => bail!("JSON: bad \\u escape at byte {}", self.i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }

    #[test]
    fn parses_every_kind_of_value() {
        let v = parse(
            r#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {}, "c": [], "d": {"e": "f"}} "#,
        )
        .unwrap();
        assert_eq!(
            v.get("a").unwrap().items(),
            &[
                Value::Number("1".into()),
                Value::Number("-2.5e3".into()),
                Value::Bool(true),
                Value::Bool(false),
                Value::Null,
                s("x"),
            ]
        );
        assert_eq!(v.get("b"), Some(&Value::Object(vec![])));
        assert_eq!(v.get("c").unwrap().items(), &[]);
        assert_eq!(v.get("d").and_then(|d| d.get("e")), Some(&s("f")));
        assert_eq!(v.get("missing"), None);
        assert_eq!(Value::Null.items(), &[]);
    }

    #[test]
    fn decodes_string_escapes() {
        for (json, want) in [
            (r#""plain""#, "plain"),
            (r#""q\"b\\s\/""#, "q\"b\\s/"),
            (r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
            (r#""\u00e9\u2713""#, "é✓"),
            (r#""\ud83d\ude00""#, "😀"),
            ("\"raw é\"", "raw é"),
        ] {
            assert_eq!(parse(json).unwrap(), s(want), "{json}");
        }
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "",
            "{",
            "[1,]",
            "[1 2]",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            r#""unterminated"#,
            r#""\x""#,
            r#""\ud83d""#,
            r#""\u12""#,
            "\"tab\there\"",
            "nul",
            "1 2",
            "--1",
            &"[".repeat(200),
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
