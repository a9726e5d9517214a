//! Validate a mapping against Salesforce describes and Monday board columns (passed in as data).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{Location, MappingError, MappingErrorKind, MappingErrors};
use crate::mapping::{
    BoardMapping, DefaultValue, DeletePolicy, FieldMeta, ItemNameTarget, Mapping,
};
use crate::monday::{Board, ColumnKind};
use crate::salesforce::{FieldDescribe, SObjectDescribe};
use crate::transform::Transform;

/// What the mapping is checked against: describes of the objects and the boards with their columns.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Salesforce describes (`GET /sobjects/<Object>/describe` bodies).
    pub describes: Vec<SObjectDescribe>,
    /// Monday boards with columns.
    pub boards: Vec<Board>,
}

impl Schema {
    fn describe(&self, object: &str) -> Option<&SObjectDescribe> {
        self.describes
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(object))
    }
    fn board(&self, id: &str) -> Option<&Board> {
        self.boards.iter().find(|b| b.id == id)
    }
}

struct Checker<'a> {
    file: &'a str,
    errors: Vec<MappingError>,
}

impl Checker<'_> {
    fn err(&mut self, location: Location, kind: MappingErrorKind) {
        self.errors.push(MappingError {
            file: self.file.to_string(),
            location,
            kind,
        });
    }

    /// Field exists (else error); returns it.
    fn field<'d>(
        &mut self,
        d: &'d SObjectDescribe,
        name: &str,
        at: Location,
    ) -> Option<&'d FieldDescribe> {
        let f = d.field(name);
        if f.is_none() {
            self.err(
                at,
                MappingErrorKind::FieldMissing {
                    object: d.name.clone(),
                    field: name.to_string(),
                },
            );
        }
        f
    }

    fn writable(&mut self, d: &SObjectDescribe, f: &FieldDescribe, at: Location) -> bool {
        if !f.createable && !f.updateable {
            self.err(
                at,
                MappingErrorKind::FieldNotWritable {
                    object: d.name.clone(),
                    field: f.name.clone(),
                },
            );
            return false;
        }
        true
    }

    fn picklist_value(
        &mut self,
        d: &SObjectDescribe,
        f: &FieldDescribe,
        value: &str,
        at: Location,
    ) {
        if matches!(f.field_type.as_str(), "picklist" | "multipicklist") {
            for v in value.split(';').filter(|v| !v.is_empty()) {
                if !f.has_picklist_value(v) {
                    self.err(
                        at,
                        MappingErrorKind::PicklistValueMissing {
                            object: d.name.clone(),
                            field: f.name.clone(),
                            value: v.to_string(),
                        },
                    );
                }
            }
        }
    }

    fn literal(&mut self, d: &SObjectDescribe, f: &FieldDescribe, v: &Value, at: Location) {
        if let Value::String(s) = v {
            self.picklist_value(d, f, s, at);
        }
    }
}

/// Check `mapping` against `schema`. On success returns the mapping enriched with what planning
/// needs from the schema (field types and lengths for truncation, status/dropdown labels by id).
/// On failure returns every problem, each with the file, line and column it comes from.
pub fn validate(mapping: &Mapping, schema: &Schema) -> Result<Mapping, MappingErrors> {
    validate_with(mapping, schema, false)
}

/// [`validate()`] for real-time sync (`crmsync serve`, `crmsync mapping check`): also requires
/// every board's creates to be idempotent — an `external_id_field` (creates become upserts), or an
/// `item_id_field` (a retried create first looks for the record holding the item id) — since a
/// create whose answer is lost (timeout, crash) is otherwise sent again and duplicates the record.
pub fn validate_realtime(mapping: &Mapping, schema: &Schema) -> Result<Mapping, MappingErrors> {
    validate_with(mapping, schema, true)
}

fn validate_with(
    mapping: &Mapping,
    schema: &Schema,
    realtime: bool,
) -> Result<Mapping, MappingErrors> {
    let mut ck = Checker {
        file: &mapping.file,
        errors: Vec::new(),
    };
    let mut out = mapping.clone();
    for board in &mut out.boards {
        check_board(&mut ck, mapping, board, schema);
        if realtime && board.external_id_field.is_none() && board.item_id_field.is_none() {
            ck.err(
                board.spans.table,
                MappingErrorKind::CreateNotIdempotent {
                    board: board.name.clone().unwrap_or_else(|| board.board_id.clone()),
                    object: board.object.clone(),
                },
            );
        }
    }
    if ck.errors.is_empty() {
        Ok(out)
    } else {
        ck.errors.sort_by_key(|e| e.location);
        Err(MappingErrors(ck.errors))
    }
}

/// `[board.migration]`: the fields of `where` and `match_on` exist on the object, the `match_on`
/// column on the board.
fn check_migration(ck: &mut Checker<'_>, bm: &BoardMapping, schema: &Schema) {
    let m = &bm.migration;
    let describe = schema.describe(&bm.object);
    if let (Some(w), Some(d)) = (&m.where_clause, describe) {
        if let Ok(fields) = crate::soql_where::fields(w) {
            for f in fields {
                ck.field(d, &f, m.spans.where_clause);
            }
        }
    }
    if let Some(mo) = &m.match_on {
        if let Some(d) = describe {
            ck.field(d, &mo.field, m.spans.match_on);
        }
        if let Some(b) = schema.board(&bm.board_id) {
            if b.column(&mo.column).is_none() {
                ck.err(
                    m.spans.match_on,
                    MappingErrorKind::ColumnMissing {
                        board_id: b.id.clone(),
                        board_name: b.name.clone(),
                        column: mo.column.clone(),
                    },
                );
            }
        }
    }
}

fn check_board(ck: &mut Checker<'_>, mapping: &Mapping, bm: &mut BoardMapping, schema: &Schema) {
    check_migration(ck, bm, schema);
    let sp = bm.spans.clone();
    let board = schema.board(&bm.board_id);
    if board.is_none() {
        ck.err(
            sp.board_id,
            MappingErrorKind::UnknownBoard {
                board_id: bm.board_id.clone(),
            },
        );
    }
    let describe = schema.describe(&bm.object);
    if describe.is_none() {
        ck.err(
            sp.object,
            MappingErrorKind::UnknownObject {
                object: bm.object.clone(),
            },
        );
    }

    // The Salesforce Id column.
    if let Some(b) = board {
        match b.column(&bm.salesforce_id_column) {
            None => ck.err(
                sp.salesforce_id_column,
                MappingErrorKind::ColumnMissing {
                    board_id: b.id.clone(),
                    board_name: b.name.clone(),
                    column: bm.salesforce_id_column.clone(),
                },
            ),
            Some(c) if c.kind() != ColumnKind::Text => ck.err(
                sp.salesforce_id_column,
                MappingErrorKind::ColumnTypeMismatch {
                    column: c.id.clone(),
                    transform: "salesforce_id_column".into(),
                    expected: "text".into(),
                    actual: c.column_type.clone(),
                },
            ),
            Some(_) => {}
        }
    }

    // Field sources, to find required fields with none and fields fed twice.
    let mut sources: BTreeMap<String, Location> = BTreeMap::new();
    let mut add_source = |ck: &mut Checker<'_>, field: &str, at: Location| {
        let key = field.to_ascii_lowercase();
        if let std::collections::btree_map::Entry::Vacant(e) = sources.entry(key) {
            e.insert(at);
        } else {
            ck.err(
                at,
                MappingErrorKind::Duplicate {
                    board_id: bm.board_id.clone(),
                    what: format!("field `{field}`"),
                },
            );
        }
    };

    if let Some(d) = describe {
        if let Some(ext) = &bm.external_id_field {
            if let Some(f) = ck.field(d, ext, sp.external_id_field) {
                if !f.external_id {
                    ck.err(
                        sp.external_id_field,
                        MappingErrorKind::NotExternalId {
                            object: d.name.clone(),
                            field: f.name.clone(),
                        },
                    );
                }
            }
            add_source(ck, ext, sp.external_id_field);
        }
        if let Some(f) = &bm.item_id_field {
            if let Some(fd) = ck.field(d, f, sp.item_id_field) {
                let reason = if !matches!(fd.field_type.as_str(), "string") {
                    Some(format!("its type is {}, not Text (string)", fd.field_type))
                } else if !fd.createable {
                    Some("it cannot be set on create".to_string())
                } else if fd.length > 0 && fd.length < 20 {
                    Some(format!(
                        "its length {} is too short for a Monday item id",
                        fd.length
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    ck.err(
                        sp.item_id_field,
                        MappingErrorKind::BadItemIdField {
                            object: d.name.clone(),
                            field: fd.name.clone(),
                            reason,
                        },
                    );
                }
            }
            add_source(ck, f, sp.item_id_field);
        }
        if let Some(rt) = &bm.record_type_id {
            let key = |s: &str| s.get(..15).unwrap_or(s).to_string();
            if !d
                .record_type_infos
                .iter()
                .any(|r| key(&r.record_type_id) == key(rt))
            {
                ck.err(
                    sp.record_type_id,
                    MappingErrorKind::RecordTypeMissing {
                        object: d.name.clone(),
                        record_type_id: rt.clone(),
                    },
                );
            }
            add_source(ck, "RecordTypeId", sp.record_type_id);
        }
        let name_fields: Vec<String> = match &bm.item_name {
            ItemNameTarget::Field(f) => vec![f.clone()],
            ItemNameTarget::Split { first, last } => vec![first.clone(), last.clone()],
            ItemNameTarget::None => vec![],
        };
        for nf in &name_fields {
            if let Some(f) = ck.field(d, nf, sp.item_name) {
                if f.length > 0 {
                    bm.field_lengths.insert(nf.clone(), f.length as usize);
                }
                if ck.writable(d, f, sp.item_name)
                    && !Transform::Text
                        .salesforce_types()
                        .contains(&f.field_type.as_str())
                {
                    ck.err(
                        sp.item_name,
                        MappingErrorKind::IncompatibleFieldType {
                            object: d.name.clone(),
                            field: f.name.clone(),
                            field_type: f.field_type.clone(),
                            transform: "item_name".into(),
                            expected: Transform::Text.salesforce_types().join(", "),
                        },
                    );
                }
            }
            add_source(ck, nf, sp.item_name);
        }
        for (field, dv) in &bm.defaults {
            let at = sp.defaults.get(field).copied().unwrap_or(sp.table);
            if let Some(f) = ck.field(d, field, at) {
                if !f.createable {
                    ck.err(
                        at,
                        MappingErrorKind::FieldNotWritable {
                            object: d.name.clone(),
                            field: f.name.clone(),
                        },
                    );
                }
                match dv {
                    DefaultValue::Literal(v) => ck.literal(d, f, v, at),
                    DefaultValue::RelativeDate { .. } => {
                        if !matches!(f.field_type.as_str(), "date" | "datetime") {
                            ck.err(
                                at,
                                MappingErrorKind::IncompatibleFieldType {
                                    object: d.name.clone(),
                                    field: f.name.clone(),
                                    field_type: f.field_type.clone(),
                                    transform: "today+Nd default".into(),
                                    expected: "date, datetime".into(),
                                },
                            );
                        }
                    }
                }
            }
        }
        for (policy, at) in [
            (&bm.on_delete, sp.on_delete),
            (&bm.on_archive, sp.on_archive),
        ] {
            if let DeletePolicy::SetFields(fields) = policy {
                for (field, v) in fields {
                    if let Some(f) = ck.field(d, field, at) {
                        if !f.updateable {
                            ck.err(
                                at,
                                MappingErrorKind::FieldNotWritable {
                                    object: d.name.clone(),
                                    field: f.name.clone(),
                                },
                            );
                        }
                        ck.literal(d, f, v, at);
                    }
                }
            }
        }
    }

    for cm in &mut bm.columns {
        let cs = cm.spans.clone();
        // The Monday side.
        if let Some(b) = board {
            match b.column(&cm.column) {
                None => ck.err(
                    cs.column,
                    MappingErrorKind::ColumnMissing {
                        board_id: b.id.clone(),
                        board_name: b.name.clone(),
                        column: cm.column.clone(),
                    },
                ),
                Some(col) => {
                    let kind = col.kind();
                    if let ColumnKind::Other(t) = &kind {
                        ck.err(
                            cs.column,
                            MappingErrorKind::UnsupportedColumnType {
                                column: cm.column.clone(),
                                column_type: t.clone(),
                            },
                        );
                    } else if kind != cm.transform.column_kind() {
                        ck.err(
                            cs.transform,
                            MappingErrorKind::ColumnTypeMismatch {
                                column: cm.column.clone(),
                                transform: cm.transform.name().into(),
                                expected: cm.transform.column_kind().to_string(),
                                actual: col.column_type.clone(),
                            },
                        );
                    } else {
                        let connects = col.related_board_ids();
                        if let Some(target) = &cm.target_board {
                            if !connects.is_empty() && !connects.contains(target) {
                                ck.err(
                                    cs.target_board,
                                    MappingErrorKind::RelationBoardMismatch {
                                        column: cm.column.clone(),
                                        target_board: target.clone(),
                                        connects: connects.join(", "),
                                    },
                                );
                            }
                        }
                        cm.column_labels = col.labels();
                        if matches!(cm.transform, Transform::Status | Transform::Dropdown) {
                            let labels: BTreeSet<&String> = cm.column_labels.values().collect();
                            for label in cm.values.keys() {
                                if !labels.contains(label) {
                                    ck.err(
                                        cs.values.get(label).copied().unwrap_or(cs.column),
                                        MappingErrorKind::LabelMissing {
                                            column: cm.column.clone(),
                                            label: label.clone(),
                                        },
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        if cm.transform == Transform::BoardRelation {
            if let Some(target) = &cm.target_board {
                if mapping.board(target).is_none() {
                    ck.err(
                        cs.target_board,
                        MappingErrorKind::UnmappedTargetBoard {
                            column: cm.column.clone(),
                            target_board: target.clone(),
                        },
                    );
                }
            }
        }
        // The Salesforce side.
        let Some(d) = describe else { continue };
        let mut fields = vec![(cm.field.clone(), cs.field)];
        if let Some(end) = &cm.end_field {
            fields.push((end.clone(), cs.end_field));
        }
        for (i, (fname, at)) in fields.iter().enumerate() {
            if cm.direction.to_salesforce() {
                add_source(ck, fname, *at);
            }
            let Some(f) = ck.field(d, fname, *at) else {
                continue;
            };
            if cm.direction.to_salesforce() && !ck.writable(d, f, *at) {
                continue;
            }
            if !cm
                .transform
                .salesforce_types()
                .contains(&f.field_type.as_str())
            {
                ck.err(
                    *at,
                    MappingErrorKind::IncompatibleFieldType {
                        object: d.name.clone(),
                        field: f.name.clone(),
                        field_type: f.field_type.clone(),
                        transform: cm.transform.name().into(),
                        expected: cm.transform.salesforce_types().join(", "),
                    },
                );
                continue;
            }
            if i == 0 {
                cm.field_meta = Some(FieldMeta {
                    field_type: f.field_type.clone(),
                    length: (f.length > 0).then_some(f.length as usize),
                });
            }
            match cm.transform {
                Transform::Status | Transform::Dropdown if cm.direction.to_salesforce() => {
                    for (label, value) in &cm.values {
                        ck.picklist_value(
                            d,
                            f,
                            value,
                            cs.values.get(label).copied().unwrap_or(cs.column),
                        );
                    }
                    // Unmapped labels pass through unchanged: on a restricted picklist they must exist.
                    if f.restricted_picklist {
                        for label in cm.column_labels.values() {
                            if !label.is_empty() && !cm.values.contains_key(label) {
                                ck.picklist_value(d, f, label, cs.column);
                            }
                        }
                    }
                }
                Transform::People if !f.reference_to.iter().any(|r| r == "User") => ck.err(
                    *at,
                    MappingErrorKind::IncompatibleFieldType {
                        object: d.name.clone(),
                        field: f.name.clone(),
                        field_type: format!("reference to {}", f.reference_to.join("/")),
                        transform: "people".into(),
                        expected: "reference to User".into(),
                    },
                ),
                Transform::BoardRelation => {
                    let target_object = cm
                        .target_board
                        .as_deref()
                        .and_then(|t| mapping.board(t))
                        .map(|b| b.object.clone());
                    if let Some(target_object) = target_object {
                        if !f
                            .reference_to
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(&target_object))
                        {
                            ck.err(
                                *at,
                                MappingErrorKind::RelationTargetMismatch {
                                    column: cm.column.clone(),
                                    object: d.name.clone(),
                                    field: f.name.clone(),
                                    target_board: cm.target_board.clone().unwrap_or_default(),
                                    target_object,
                                    reference_to: if f.reference_to.is_empty() {
                                        "nothing".into()
                                    } else {
                                        f.reference_to.join("/")
                                    },
                                },
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }

    // Required fields with no source.
    if let Some(d) = describe {
        for f in d.fields.iter().filter(|f| f.required_on_create()) {
            let key = f.name.to_ascii_lowercase();
            let has_default = bm.defaults.keys().any(|k| k.eq_ignore_ascii_case(&f.name));
            if !sources.contains_key(&key) && !has_default {
                ck.err(
                    sp.table,
                    MappingErrorKind::RequiredFieldUnmapped {
                        object: d.name.clone(),
                        field: f.name.clone(),
                    },
                );
            }
        }
    }
}
