//! The plan hash: what a rehearsal vouches for.

use sha2::{Digest, Sha256};

/// `sha256` (first 16 hex digits) over the mapping file's text, the queries the run executes, and
/// the boards' column ids and types — not their label sets, which a run may extend.
pub fn plan_hash(
    mapping_src: &str,
    queries: &[String],
    columns: &[(String, String, String)],
) -> String {
    let mut h = Sha256::new();
    h.update(b"crmsync-migration-plan v1\n");
    h.update(mapping_src.as_bytes());
    h.update(b"\n-- queries\n");
    for q in queries {
        h.update(q.as_bytes());
        h.update(b"\n");
    }
    h.update(b"-- columns\n");
    let mut cols: Vec<&(String, String, String)> = columns.iter().collect();
    cols.sort();
    for (b, c, t) in cols {
        h.update(format!("{b}\t{c}\t{t}\n").as_bytes());
    }
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_input_changes_the_hash_and_column_order_does_not() {
        let cols = vec![
            ("1".to_string(), "a".to_string(), "text".to_string()),
            ("1".to_string(), "b".to_string(), "status".to_string()),
        ];
        let base = plan_hash("m", &["q".into()], &cols);
        assert_eq!(base.len(), 16);
        assert_ne!(base, plan_hash("m2", &["q".into()], &cols));
        assert_ne!(base, plan_hash("m", &["q2".into()], &cols));
        let mut other = cols.clone();
        other[1].2 = "dropdown".into();
        assert_ne!(base, plan_hash("m", &["q".into()], &other));
        let mut reversed = cols.clone();
        reversed.reverse();
        assert_eq!(base, plan_hash("m", &["q".into()], &reversed));
    }
}
