//! The example mapping (`fixtures/seed/mapping.toml`) against the seed describes and boards.

use std::path::{Path, PathBuf};

use crmsync_core::{validate, Board, Mapping, SObjectDescribe, Schema};

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The seed schema: every `salesforce/sobjects/*.describe.json` and `monday/boards.json`.
pub fn seed_schema() -> Schema {
    let dir = seed().join("salesforce/sobjects");
    let mut describes = Vec::new();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.to_string_lossy().ends_with(".describe.json") {
            let d: SObjectDescribe = serde_json::from_str(&read(&path))
                .unwrap_or_else(|e| panic!("{} is not a describe: {e}", path.display()));
            describes.push(d);
        }
    }
    assert!(
        describes.len() >= 4,
        "expected the seed describes in {}",
        dir.display()
    );
    let boards: Vec<Board> =
        serde_json::from_str(&read(&seed().join("monday/boards.json"))).expect("boards.json");
    Schema { describes, boards }
}

pub fn seed_mapping() -> Mapping {
    let path = seed().join("mapping.toml");
    let m = Mapping::parse(&read(&path), "fixtures/seed/mapping.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    validate(&m, &seed_schema()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn seed_mapping_validates() {
    let m = seed_mapping();
    let objects: Vec<&str> = m.boards.iter().map(|b| b.object.as_str()).collect();
    assert_eq!(objects, ["Lead", "Account", "Contact", "Opportunity"]);
    // Enrichment from the schema: labels from boards.json, lengths from the describes.
    let lead = m.board("9378000505").expect("Leads board");
    assert_eq!(
        lead.column("color_mksj2adq")
            .expect("status")
            .column_labels
            .len(),
        5
    );
    assert!(
        lead.columns.iter().all(|c| c.field_meta.is_some()),
        "every Lead column has field metadata"
    );
}
