//! Expected outcomes as insta snapshot files (`expected.snap`, pending `expected.snap.new` for
//! `cargo insta review`), and a diff of two outcomes that names each differing field.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// The header insta writes (so `cargo insta review` accepts our pending files).
fn header(scenario: &str) -> String {
    format!(
        "---\nsource: crates/testkit/src/replay/mod.rs\nexpression: outcome\ninfo: {}\n---\n",
        serde_json::to_string(scenario).unwrap_or_else(|_| "\"?\"".into())
    )
}

/// The content of a snapshot file (after the second `---` line).
pub fn read_contents(path: &Path) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut rest = text.as_str();
    if let Some(after) = rest.strip_prefix("---\n") {
        if let Some(end) = after.find("\n---\n") {
            rest = &after[end + 5..];
        }
    }
    Ok(Some(rest.trim_end().to_string()))
}

/// Writes a snapshot file with insta's header.
pub fn write(path: &Path, scenario: &str, contents: &str) -> Result<()> {
    std::fs::write(path, format!("{}{}\n", header(scenario), contents))
        .with_context(|| format!("writing {}", path.display()))
}

/// One difference between the expected and the actual outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where, e.g. `salesforce.Lead.00Q5g00000000G9EAI.Status`.
    pub path: String,
    /// Expected value (`None`: absent).
    pub expected: Option<String>,
    /// Actual value (`None`: absent).
    pub actual: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.expected, &self.actual) {
            (Some(e), Some(a)) => write!(f, "{}: expected {e}, got {a}", self.path),
            (Some(e), None) => write!(f, "{}: expected {e}, missing", self.path),
            (None, Some(a)) => write!(f, "{}: unexpected {a}", self.path),
            (None, None) => write!(f, "{}", self.path),
        }
    }
}

/// Every difference between two outcomes, field by field.
pub fn diff(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk("", expected, actual, &mut out);
    out
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        let cut: String = s.chars().take(157).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, e: &Value, a: &Value, out: &mut Vec<Difference>) {
    match (e, a) {
        (Value::Object(em), Value::Object(am)) => {
            for (k, ev) in em {
                match am.get(k) {
                    Some(av) => walk(&join(path, k), ev, av, out),
                    None => out.push(Difference {
                        path: join(path, k),
                        expected: Some(short(ev)),
                        actual: None,
                    }),
                }
            }
            for (k, av) in am {
                if !em.contains_key(k) {
                    out.push(Difference {
                        path: join(path, k),
                        expected: None,
                        actual: Some(short(av)),
                    });
                }
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            for i in 0..ea.len().max(aa.len()) {
                let p = format!("{path}[{i}]");
                match (ea.get(i), aa.get(i)) {
                    (Some(ev), Some(av)) => walk(&p, ev, av, out),
                    (Some(ev), None) => out.push(Difference {
                        path: p,
                        expected: Some(short(ev)),
                        actual: None,
                    }),
                    (None, Some(av)) => out.push(Difference {
                        path: p,
                        expected: None,
                        actual: Some(short(av)),
                    }),
                    (None, None) => {}
                }
            }
        }
        _ if e != a => out.push(Difference {
            path: path.to_string(),
            expected: Some(short(e)),
            actual: Some(short(a)),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_the_field_that_differs() {
        let e = json!({"salesforce": {"Lead": {"00Q1": {"City": "Austin", "Status": "Open"}}}, "alerts": ["a"]});
        let a = json!({"salesforce": {"Lead": {"00Q1": {"Street": "Austin", "Status": "Open"}}}, "alerts": []});
        let d: Vec<String> = diff(&e, &a).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            d,
            vec![
                "salesforce.Lead.00Q1.City: expected \"Austin\", missing",
                "salesforce.Lead.00Q1.Street: unexpected \"Austin\"",
                "alerts[0]: expected \"a\", missing",
            ]
        );
    }

    #[test]
    fn snapshot_files_round_trip_with_insta_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("expected.snap");
        write(&p, "some_scenario", "{\n  \"a\": 1\n}").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("---\nsource: crates/testkit/src/replay/mod.rs\n"));
        assert_eq!(read_contents(&p).unwrap().unwrap(), "{\n  \"a\": 1\n}");
        assert_eq!(read_contents(&dir.path().join("none.snap")).unwrap(), None);
    }
}
