//! The example mapping (`fixtures/seed/mapping.toml`) against the seed describes and boards.

mod common;

use common::seed_mapping;

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
