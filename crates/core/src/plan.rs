//! Planning: from a webhook event (and, when needed, an item snapshot) to Salesforce operations;
//! and, for the migration, from a Salesforce record to a Monday item create/update.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::lookups::Lookups;
use crate::mapping::{BoardMapping, ColumnMapping, DeletePolicy, ItemNameTarget, Mapping};
use crate::monday::{ColumnKind, ColumnValue, Item, WebhookEvent};
use crate::phone::normalize_phone;
use crate::salesforce::is_salesforce_id;
use crate::transform::{
    parse_sf_datetime, to_monday, to_salesforce, Converted, MondayInput, MondayWrite, Transform,
    TransformError,
};
use crate::write_back::id_column_repair;

/// Salesforce field values by API name.
pub type Fields = BTreeMap<String, Value>;

/// What the planner needs besides the event and the mapping.
#[derive(Clone, Copy)]
pub struct PlanContext<'a> {
    /// Record links and user directories.
    pub lookups: &'a dyn Lookups,
    /// The date `today+Nd` defaults are computed from.
    pub today: NaiveDate,
}

/// A Salesforce record id, or the id the plan's `Create`/`Upsert` will return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordRef {
    /// A known id.
    Id(String),
    /// The id returned by this plan's `Create` or `Upsert`.
    Created,
}

/// One step for the engine to apply, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// `POST /sobjects/<object>` (no external id configured).
    Create {
        /// Object.
        object: String,
        /// Fields (including `RecordTypeId` when configured).
        fields: Fields,
        /// The board's `item_id_field` and the item id: before creating, look for a record holding
        /// it (created by an earlier attempt whose answer was lost) and take that one instead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        find_by: Option<FindBy>,
    },
    /// `PATCH /sobjects/<object>/<external_id_field>/<external_id>`: create or update by external id.
    Upsert {
        /// Object.
        object: String,
        /// External id field.
        external_id_field: String,
        /// Its value (the Monday item id).
        external_id: String,
        /// Fields, without the external id field.
        fields: Fields,
    },
    /// `PATCH /sobjects/<object>/<id>` with only the changed fields (`null` clears a field).
    Update {
        /// Object.
        object: String,
        /// Record id.
        id: String,
        /// Changed fields.
        fields: Fields,
    },
    /// `DELETE /sobjects/<object>/<id>`.
    Delete {
        /// Object.
        object: String,
        /// Record id.
        id: String,
    },
    /// Record the link item <-> record in the store.
    Link {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// Object.
        object: String,
        /// Record.
        salesforce_id: RecordRef,
    },
    /// Remove the item's link (after a delete).
    Unlink {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
    },
    /// Write the Salesforce id into the item's Id column on Monday.
    WriteBackSalesforceId {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// The Id column.
        column_id: String,
        /// Record.
        salesforce_id: RecordRef,
    },
    /// Nothing to do, and why.
    Skip {
        /// Why.
        reason: SkipReason,
    },
}

/// A field and the value that identify the record of an item (see [`Operation::Create`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindBy {
    /// Field (`item_id_field`).
    pub field: String,
    /// Value (the Monday item id).
    pub value: String,
}

/// Why an event needs no Salesforce call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The board is not in the mapping.
    UnknownBoard {
        /// Board id.
        board_id: String,
    },
    /// A subitem event (subitems are not synced).
    Subitem,
    /// The column is not in the mapping.
    UnmappedColumn {
        /// Column id.
        column_id: String,
    },
    /// The column only syncs Salesforce -> Monday.
    ToMondayOnly {
        /// Column id.
        column_id: String,
    },
    /// The board does not sync item names.
    NameNotMapped,
    /// The new value equals the previous one.
    NoChange,
    /// The item is already linked to a record (e.g. a redelivered `create_pulse`).
    AlreadyLinked {
        /// The linked record.
        salesforce_id: String,
    },
    /// Delete/archive of an item that has no record.
    NotLinked,
    /// The mapping says to ignore this delete/archive.
    PolicyIgnore {
        /// Event type.
        event_type: String,
    },
    /// The column was cleared but its field cannot be cleared (the owner); the record keeps it.
    NothingToWrite {
        /// Column id.
        column_id: String,
    },
    /// The Id column was cleared (or overwritten with text that is not a record id) on Monday:
    /// the link is kept, and the column is rewritten from it when the plan had the item snapshot
    /// (the write-back rule, [`crate::write_back`]).
    IdColumnCleared,
    /// An event type that carries nothing to sync (`create_update`, `move_pulse_into_group`, ...).
    UnsupportedEvent {
        /// Event type.
        event_type: String,
    },
}

/// A plan: operations to apply in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Operations.
    pub ops: Vec<Operation>,
    /// Columns left out of a create because their owner or linked record cannot be resolved yet
    /// (the record is created without them; the engine logs them and may re-plan the item later).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DeferredColumn>,
}

impl Plan {
    /// A plan of these operations, nothing deferred.
    pub fn new(ops: Vec<Operation>) -> Plan {
        Plan {
            ops,
            deferred: Vec::new(),
        }
    }

    fn skip(reason: SkipReason) -> PlanOutcome {
        PlanOutcome::Ready(Plan::new(vec![Operation::Skip { reason }]))
    }
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlanOutcome {
    /// Operations to apply.
    Ready(Plan),
    /// The payload lacks what is needed: fetch the item and plan again with the snapshot.
    NeedsItem {
        /// Board.
        board_id: String,
        /// Item to fetch.
        item_id: String,
        /// What is missing.
        reason: String,
    },
}

/// Why planning failed (the event cannot be applied as it stands).
#[derive(Debug, Clone, PartialEq, Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanError {
    /// A value could not be transformed.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// The event lacks a field every event of its type has.
    #[error("malformed {event_type} event: {reason}")]
    InvalidEvent {
        /// Event type.
        event_type: String,
        /// What is missing.
        reason: String,
    },
    /// The Id column holds something that is not a Salesforce id.
    #[error(
        "column `{column}` of item {item_id} holds {value:?}, which is not a Salesforce record id"
    )]
    InvalidSalesforceId {
        /// Column.
        column: String,
        /// Item.
        item_id: String,
        /// What it holds.
        value: String,
    },
    /// The item name does not fit the name field.
    #[error("item name of {length} characters does not fit field `{field}` (length {max})")]
    NameTooLong {
        /// Field.
        field: String,
        /// Characters.
        length: usize,
        /// Field length.
        max: usize,
    },
}

impl PlanError {
    /// Whether planning again later can succeed (a linked record not synced yet).
    pub fn is_retryable(&self) -> bool {
        matches!(self, PlanError::Transform(t) if t.is_retryable())
    }
}

/// Plan the Salesforce side of a webhook event.
///
/// `item` is the item snapshot, when the engine has fetched it; without it the planner answers
/// [`PlanOutcome::NeedsItem`] whenever the payload is not enough (a `create_pulse` always needs it:
/// its Id column decides between create and link). Loop prevention: an item whose Id column already
/// holds a Salesforce id is linked, never created.
pub fn plan(
    event: &WebhookEvent,
    item: Option<&Item>,
    mapping: &Mapping,
    ctx: &PlanContext<'_>,
) -> Result<PlanOutcome, PlanError> {
    let et = event.event_type.as_str();
    let bad = |reason: &str| PlanError::InvalidEvent {
        event_type: et.to_string(),
        reason: reason.to_string(),
    };
    let board_id = event.board_id.as_deref().ok_or_else(|| bad("no boardId"))?;
    let Some(bm) = mapping.board(board_id) else {
        return Ok(Plan::skip(SkipReason::UnknownBoard {
            board_id: board_id.to_string(),
        }));
    };
    if event.parent_item_id.is_some() {
        return Ok(Plan::skip(SkipReason::Subitem));
    }
    if !matches!(
        et,
        "create_pulse" | "update_column_value" | "update_name" | "delete_pulse" | "archive_pulse"
    ) {
        return Ok(Plan::skip(SkipReason::UnsupportedEvent {
            event_type: et.to_string(),
        }));
    }
    let item_id = event.item().ok_or_else(|| bad("no pulseId or itemId"))?;
    let linked = ctx.lookups.salesforce_id_for_item(item_id);
    let still_linked = linked.clone();
    let p = Planner { bm, item_id, ctx };
    let outcome = match et {
        "create_pulse" => match linked {
            Some(id) => Ok(Plan::skip(SkipReason::AlreadyLinked { salesforce_id: id })),
            None => p.create_or_link(item, "create_pulse has no column values", Changed::Nothing),
        },
        "update_column_value" => p.column_change(event, item, linked),
        "update_name" => p.name_change(event, item, linked),
        _ => {
            let policy = if et == "delete_pulse" {
                &bm.on_delete
            } else {
                &bm.on_archive
            };
            let Some(id) = linked else {
                return Ok(Plan::skip(SkipReason::NotLinked));
            };
            Ok(PlanOutcome::Ready(Plan::new(match policy {
                DeletePolicy::Ignore => vec![Operation::Skip {
                    reason: SkipReason::PolicyIgnore {
                        event_type: et.to_string(),
                    },
                }],
                DeletePolicy::Delete => vec![
                    Operation::Delete {
                        object: bm.object.clone(),
                        id,
                    },
                    Operation::Unlink {
                        board_id: bm.board_id.clone(),
                        item_id: item_id.to_string(),
                    },
                ],
                DeletePolicy::SetFields(fields) => vec![Operation::Update {
                    object: bm.object.clone(),
                    id,
                    fields: fields.clone(),
                }],
            })))
        }
    }?;
    Ok(with_id_column_repair(
        outcome,
        bm,
        item_id,
        item,
        still_linked.as_deref(),
    ))
}

/// The write-back rule (see [`crate::write_back`]): a plan that leaves the item linked as it was,
/// planned with an item snapshot whose Id column is empty or not a record id, also rewrites the
/// column from the link.
fn with_id_column_repair(
    outcome: PlanOutcome,
    bm: &BoardMapping,
    item_id: &str,
    item: Option<&Item>,
    linked: Option<&str>,
) -> PlanOutcome {
    let (PlanOutcome::Ready(mut plan), Some(item), Some(linked)) = (outcome.clone(), item, linked)
    else {
        return outcome;
    };
    let relinks = plan.ops.iter().any(|op| {
        matches!(
            op,
            Operation::Create { .. }
                | Operation::Upsert { .. }
                | Operation::Delete { .. }
                | Operation::Link { .. }
                | Operation::Unlink { .. }
                | Operation::WriteBackSalesforceId { .. }
        )
    });
    if relinks {
        return outcome;
    }
    match id_column_repair(bm, item_id, item, linked) {
        Some(op) => {
            plan.ops.push(op);
            PlanOutcome::Ready(plan)
        }
        None => outcome,
    }
}

/// What an event changed (for an unlinked item whose Id column turns out to hold a record id).
#[derive(Clone, Copy)]
enum Changed<'a> {
    Nothing,
    Name,
    Column(&'a ColumnMapping),
}

fn snapshot_not_enough(cm: &ColumnMapping, reason: &str) -> PlanError {
    PlanError::Transform(TransformError::InvalidValue {
        column: cm.column.clone(),
        transform: cm.transform.name(),
        reason: format!("the item snapshot is not enough: {reason}"),
        value: String::new(),
    })
}

struct Planner<'a> {
    bm: &'a BoardMapping,
    item_id: &'a str,
    ctx: &'a PlanContext<'a>,
}

impl Planner<'_> {
    fn needs(&self, reason: impl Into<String>) -> Result<PlanOutcome, PlanError> {
        Ok(PlanOutcome::NeedsItem {
            board_id: self.bm.board_id.clone(),
            item_id: self.item_id.to_string(),
            reason: reason.into(),
        })
    }

    fn link_ops(&self, id: &str) -> Vec<Operation> {
        let mut ops = vec![Operation::Link {
            board_id: self.bm.board_id.clone(),
            item_id: self.item_id.to_string(),
            object: self.bm.object.clone(),
            salesforce_id: RecordRef::Id(id.to_string()),
        }];
        if let Some(ext) = &self.bm.external_id_field {
            ops.push(Operation::Update {
                object: self.bm.object.clone(),
                id: id.to_string(),
                fields: BTreeMap::from([(ext.clone(), Value::String(self.item_id.to_string()))]),
            });
        }
        ops
    }

    /// Create the record for an unlinked item, or link it when its Id column already holds one.
    ///
    /// `changed` is what the event changed: when the item turns out to be linked already (its Id
    /// column holds a record id), that change is applied to the record after linking.
    fn create_or_link(
        &self,
        item: Option<&Item>,
        why: &str,
        changed: Changed<'_>,
    ) -> Result<PlanOutcome, PlanError> {
        let Some(item) = item else {
            return self.needs(format!(
                "{why}; the item snapshot decides between create and link"
            ));
        };
        if let Some(id) = self.id_column_value(item.column(&self.bm.salesforce_id_column))? {
            let mut plan = Plan::new(self.link_ops(&id));
            let fields: Fields = match changed {
                Changed::Nothing => Fields::new(),
                Changed::Name => name_fields(self.bm, &item.name)?,
                Changed::Column(cm) => {
                    let empty = ColumnValue {
                        id: cm.column.clone(),
                        ..ColumnValue::default()
                    };
                    let cv = item.column(&cm.column).unwrap_or(&empty);
                    match to_salesforce(cm, MondayInput::Column(cv), self.ctx.lookups) {
                        Ok(Converted::Fields(fs)) => fs.into_iter().collect(),
                        Ok(Converted::NeedsItem(reason)) => {
                            return Err(snapshot_not_enough(cm, &reason));
                        }
                        Err(
                            e @ (TransformError::UnresolvedLink { .. }
                            | TransformError::UnresolvedUser { .. }),
                        ) => {
                            plan.deferred.push(DeferredColumn {
                                column_id: cm.column.clone(),
                                reason: e.to_string(),
                            });
                            Fields::new()
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            if !fields.is_empty() {
                // One PATCH: merged into the external-id update when there is one.
                match plan.ops.iter_mut().find_map(|op| match op {
                    Operation::Update { fields: f, .. } => Some(f),
                    _ => None,
                }) {
                    Some(existing) => existing.extend(fields),
                    None => plan.ops.push(Operation::Update {
                        object: self.bm.object.clone(),
                        id,
                        fields,
                    }),
                }
            }
            return Ok(PlanOutcome::Ready(plan));
        }
        let mut fields = name_fields(self.bm, &item.name)?;
        let mut deferred = Vec::new();
        for cm in self
            .bm
            .columns
            .iter()
            .filter(|c| c.direction.to_salesforce())
        {
            let empty = ColumnValue {
                id: cm.column.clone(),
                ..ColumnValue::default()
            };
            let cv = item.column(&cm.column).unwrap_or(&empty);
            let converted = match to_salesforce(cm, MondayInput::Column(cv), self.ctx.lookups) {
                Err(
                    e @ (TransformError::UnresolvedLink { .. }
                    | TransformError::UnresolvedUser { .. }),
                ) => {
                    deferred.push(DeferredColumn {
                        column_id: cm.column.clone(),
                        reason: e.to_string(),
                    });
                    continue;
                }
                other => other?,
            };
            match converted {
                Converted::NeedsItem(reason) => return Err(snapshot_not_enough(cm, &reason)),
                Converted::Fields(fs) => {
                    for (k, v) in fs {
                        if !v.is_null() {
                            fields.insert(k, v);
                        }
                    }
                }
            }
        }
        for (field, default) in &self.bm.defaults {
            if !fields.keys().any(|k| k.eq_ignore_ascii_case(field)) {
                fields.insert(field.clone(), default.resolve(self.ctx.today));
            }
        }
        if let Some(rt) = &self.bm.record_type_id {
            fields.insert("RecordTypeId".into(), Value::String(rt.clone()));
        }
        let write = match &self.bm.external_id_field {
            Some(ext) => {
                fields.retain(|k, _| !k.eq_ignore_ascii_case(ext));
                Operation::Upsert {
                    object: self.bm.object.clone(),
                    external_id_field: ext.clone(),
                    external_id: self.item_id.to_string(),
                    fields,
                }
            }
            None => {
                let find_by = self.bm.item_id_field.as_ref().map(|f| {
                    fields.retain(|k, _| !k.eq_ignore_ascii_case(f));
                    fields.insert(f.clone(), Value::String(self.item_id.to_string()));
                    FindBy {
                        field: f.clone(),
                        value: self.item_id.to_string(),
                    }
                });
                Operation::Create {
                    object: self.bm.object.clone(),
                    fields,
                    find_by,
                }
            }
        };
        Ok(PlanOutcome::Ready(Plan {
            deferred,
            ops: vec![
                write,
                Operation::Link {
                    board_id: self.bm.board_id.clone(),
                    item_id: self.item_id.to_string(),
                    object: self.bm.object.clone(),
                    salesforce_id: RecordRef::Created,
                },
                Operation::WriteBackSalesforceId {
                    board_id: self.bm.board_id.clone(),
                    item_id: self.item_id.to_string(),
                    column_id: self.bm.salesforce_id_column.clone(),
                    salesforce_id: RecordRef::Created,
                },
            ],
        }))
    }

    /// The Salesforce id held by the Id column, `None` when empty, an error when it holds junk.
    fn id_column_value(&self, cv: Option<&ColumnValue>) -> Result<Option<String>, PlanError> {
        let Some(cv) = cv else { return Ok(None) };
        let id_mapping = ColumnMapping::new(&self.bm.salesforce_id_column, "Id", Transform::Text);
        self.id_from(&id_mapping, MondayInput::Column(cv))
    }

    fn id_from(
        &self,
        cm: &ColumnMapping,
        input: MondayInput<'_>,
    ) -> Result<Option<String>, PlanError> {
        let text = match to_salesforce(cm, input, self.ctx.lookups)? {
            Converted::Fields(fs) => fs
                .into_iter()
                .next()
                .and_then(|(_, v)| v.as_str().map(str::to_string)),
            Converted::NeedsItem(_) => None,
        };
        match text {
            None => Ok(None),
            Some(t) if is_salesforce_id(&t) => Ok(Some(t)),
            Some(t) => Err(PlanError::InvalidSalesforceId {
                column: cm.column.clone(),
                item_id: self.item_id.to_string(),
                value: t,
            }),
        }
    }

    fn column_change(
        &self,
        event: &WebhookEvent,
        item: Option<&Item>,
        linked: Option<String>,
    ) -> Result<PlanOutcome, PlanError> {
        let column_id = event
            .column_id
            .as_deref()
            .ok_or_else(|| PlanError::InvalidEvent {
                event_type: event.event_type.clone(),
                reason: "no columnId".into(),
            })?;
        if column_id == self.bm.salesforce_id_column {
            let id_mapping = ColumnMapping::new(column_id, "Id", Transform::Text);
            let id = match self.id_from(&id_mapping, MondayInput::Webhook(event.value.as_ref())) {
                // Text that is no record id on a linked item: the link is kept, like a cleared
                // column (and the column is rewritten, see `with_id_column_repair`).
                Err(PlanError::InvalidSalesforceId { .. }) if linked.is_some() => None,
                other => other?,
            };
            return match id {
                None => Ok(Plan::skip(SkipReason::IdColumnCleared)),
                Some(id) if linked.as_deref() == Some(id.as_str()) => {
                    Ok(Plan::skip(SkipReason::NoChange))
                }
                Some(id) => Ok(PlanOutcome::Ready(Plan::new(self.link_ops(&id)))),
            };
        }
        let Some(cm) = self.bm.column(column_id) else {
            return Ok(Plan::skip(SkipReason::UnmappedColumn {
                column_id: column_id.to_string(),
            }));
        };
        if !cm.direction.to_salesforce() {
            return Ok(Plan::skip(SkipReason::ToMondayOnly {
                column_id: column_id.to_string(),
            }));
        }
        if let Some(t) = &event.column_type {
            let kind = ColumnKind::parse(t);
            if let ColumnKind::Other(name) = &kind {
                return Err(TransformError::UnsupportedColumnType {
                    column: column_id.to_string(),
                    column_type: name.clone(),
                }
                .into());
            }
            if kind != cm.transform.column_kind() {
                return Err(TransformError::ColumnTypeChanged {
                    column: column_id.to_string(),
                    expected: cm.transform.column_kind().to_string(),
                    actual: kind.to_string(),
                }
                .into());
            }
        }
        let Some(id) = linked else {
            return self.create_or_link(
                item,
                "the item is not linked to a Salesforce record yet",
                Changed::Column(cm),
            );
        };
        let new = match to_salesforce(
            cm,
            MondayInput::Webhook(event.value.as_ref()),
            self.ctx.lookups,
        )? {
            Converted::Fields(fs) => fs,
            Converted::NeedsItem(reason) => match item.and_then(|i| i.column(column_id)) {
                Some(cv) => match to_salesforce(cm, MondayInput::Column(cv), self.ctx.lookups)? {
                    Converted::Fields(fs) => fs,
                    Converted::NeedsItem(reason) => return self.needs(reason),
                },
                None => return self.needs(reason),
            },
        };
        if new.is_empty() {
            return Ok(Plan::skip(SkipReason::NothingToWrite {
                column_id: column_id.to_string(),
            }));
        }
        if let Some(prev) = event.previous_value.as_ref().filter(|v| !v.is_null()) {
            if let Ok(Converted::Fields(old)) =
                to_salesforce(cm, MondayInput::Webhook(Some(prev)), self.ctx.lookups)
            {
                if old == new {
                    return Ok(Plan::skip(SkipReason::NoChange));
                }
            }
        }
        Ok(PlanOutcome::Ready(Plan::new(vec![Operation::Update {
            object: self.bm.object.clone(),
            id,
            fields: new.into_iter().collect(),
        }])))
    }

    fn name_change(
        &self,
        event: &WebhookEvent,
        item: Option<&Item>,
        linked: Option<String>,
    ) -> Result<PlanOutcome, PlanError> {
        if self.bm.item_name == ItemNameTarget::None {
            return Ok(Plan::skip(SkipReason::NameNotMapped));
        }
        let Some(id) = linked else {
            return self.create_or_link(
                item,
                "the item is not linked to a Salesforce record yet",
                Changed::Name,
            );
        };
        let name_of = |v: Option<&Value>| {
            v.and_then(|v| v.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let name = match name_of(event.value.as_ref()).or_else(|| item.map(|i| i.name.clone())) {
            Some(n) => n,
            None => return self.needs("update_name carries no new name"),
        };
        if name_of(event.previous_value.as_ref()).as_deref() == Some(name.as_str()) {
            return Ok(Plan::skip(SkipReason::NoChange));
        }
        Ok(PlanOutcome::Ready(Plan::new(vec![Operation::Update {
            object: self.bm.object.clone(),
            id,
            fields: name_fields(self.bm, &name)?,
        }])))
    }
}

/// The Salesforce fields an item name fills (Contact: split on the last space).
pub fn name_fields(bm: &BoardMapping, name: &str) -> Result<Fields, PlanError> {
    let name = name.trim();
    let mut out = Fields::new();
    let fit = |field: &str, s: &str| -> Result<Value, PlanError> {
        match bm.field_lengths.get(field) {
            Some(max) if s.chars().count() > *max => Err(PlanError::NameTooLong {
                field: field.to_string(),
                length: s.chars().count(),
                max: *max,
            }),
            _ if s.is_empty() => Ok(Value::Null),
            _ => Ok(Value::String(s.to_string())),
        }
    };
    match &bm.item_name {
        ItemNameTarget::None => {}
        ItemNameTarget::Field(f) => {
            out.insert(f.clone(), fit(f, name)?);
        }
        ItemNameTarget::Split { first, last } => {
            let (f, l) = match name.rsplit_once(' ') {
                Some((f, l)) => (f.trim(), l.trim()),
                None => ("", name),
            };
            out.insert(first.clone(), fit(first, f)?);
            out.insert(last.clone(), fit(last, l)?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- migration: Salesforce -> Monday

/// A column the migration could not set yet (its linked record or user is not on Monday yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeferredColumn {
    /// Column id.
    pub column_id: String,
    /// Why.
    pub reason: String,
}

/// A status/dropdown label written by the migration that the board column does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewLabel {
    /// Column id.
    pub column_id: String,
    /// The label.
    pub label: String,
}

fn labels_missing(cm: &ColumnMapping, write: &Value, out: &mut Vec<NewLabel>) {
    if cm.column_labels.is_empty() {
        return;
    }
    let written: Vec<&str> = match cm.transform {
        Transform::Status => write
            .get("label")
            .and_then(Value::as_str)
            .into_iter()
            .collect(),
        Transform::Dropdown => write
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    for label in written {
        if !cm.column_labels.values().any(|l| l == label) {
            out.push(NewLabel {
                column_id: cm.column.clone(),
                label: label.to_string(),
            });
        }
    }
}

/// What the migration does for one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ItemOperation {
    /// `create_item(board_id, item_name, column_values)`; the Id column carries the record id (loop
    /// prevention: the `create_pulse` webhook it triggers links instead of creating).
    Create {
        /// Board.
        board_id: String,
        /// Item name.
        item_name: String,
        /// Column values JSON by column id.
        column_values: BTreeMap<String, Value>,
        /// Status/dropdown labels the board does not have yet: send `create_labels_if_missing: true`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        new_labels: Vec<NewLabel>,
        /// Columns to set in the relations pass.
        deferred: Vec<DeferredColumn>,
    },
    /// `change_multiple_column_values` with only the changed columns (and the name if changed).
    Update {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// New name, when it changed.
        item_name: Option<String>,
        /// Changed columns.
        column_values: BTreeMap<String, Value>,
        /// Status/dropdown labels the board does not have yet: send `create_labels_if_missing: true`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        new_labels: Vec<NewLabel>,
        /// Columns to set in the relations pass.
        deferred: Vec<DeferredColumn>,
    },
    /// The item already matches the record.
    Unchanged {
        /// Board.
        board_id: String,
        /// Item.
        item_id: String,
        /// Columns to set in the relations pass.
        deferred: Vec<DeferredColumn>,
    },
}

/// The item name a record gives (Contact: `FirstName LastName`).
pub fn item_name_from_record(bm: &BoardMapping, record: &Map<String, Value>) -> String {
    let get = |f: &str| -> String {
        record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(f))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    match &bm.item_name {
        ItemNameTarget::Field(f) => get(f),
        ItemNameTarget::Split { first, last } => [get(first), get(last)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        ItemNameTarget::None => get("Name"),
    }
}

/// Plan the Monday side of one Salesforce record (the migration). `existing` is the item already
/// linked to the record, if any: then only the columns whose value differs are written.
pub fn plan_item(
    record: &Map<String, Value>,
    existing: Option<&Item>,
    bm: &BoardMapping,
    lookups: &dyn Lookups,
) -> Result<ItemOperation, PlanError> {
    let record_id = record
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| PlanError::InvalidEvent {
            event_type: "salesforce_record".into(),
            reason: "record has no Id".into(),
        })?
        .to_string();
    let name = item_name_from_record(bm, record);
    let mut values = BTreeMap::new();
    let mut deferred = Vec::new();
    let mut new_labels = Vec::new();
    for cm in bm.columns.iter().filter(|c| c.direction.to_monday()) {
        let write = match to_monday(cm, record, lookups)? {
            MondayWrite::Value(v) => v,
            MondayWrite::Deferred(reason) => {
                deferred.push(DeferredColumn {
                    column_id: cm.column.clone(),
                    reason,
                });
                continue;
            }
        };
        match existing {
            None => {
                if !is_empty_write(&write) {
                    labels_missing(cm, &write, &mut new_labels);
                    values.insert(cm.column.clone(), write);
                }
            }
            Some(item) => {
                if column_differs(cm, item, record, lookups) {
                    labels_missing(cm, &write, &mut new_labels);
                    values.insert(cm.column.clone(), write);
                }
            }
        }
    }
    match existing {
        None => {
            values.insert(bm.salesforce_id_column.clone(), Value::String(record_id));
            Ok(ItemOperation::Create {
                board_id: bm.board_id.clone(),
                item_name: name,
                column_values: values,
                new_labels,
                deferred,
            })
        }
        Some(item) => {
            let current_id = item
                .column(&bm.salesforce_id_column)
                .and_then(|cv| {
                    cv.decoded_value()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .or(cv.text.clone())
                })
                .unwrap_or_default();
            if current_id.trim() != record_id {
                values.insert(bm.salesforce_id_column.clone(), Value::String(record_id));
            }
            let item_name = (item.name.trim() != name && !name.is_empty()).then_some(name);
            if values.is_empty() && item_name.is_none() {
                Ok(ItemOperation::Unchanged {
                    board_id: bm.board_id.clone(),
                    item_id: item.id.clone(),
                    deferred,
                })
            } else {
                Ok(ItemOperation::Update {
                    board_id: bm.board_id.clone(),
                    item_id: item.id.clone(),
                    item_name,
                    column_values: values,
                    new_labels,
                    deferred,
                })
            }
        }
    }
}

fn is_empty_write(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Whether the item's column holds something else than the record's field(s), compared on the
/// Salesforce side (after normalisation), so that formatting differences are not changes.
fn column_differs(
    cm: &ColumnMapping,
    item: &Item,
    record: &Map<String, Value>,
    lookups: &dyn Lookups,
) -> bool {
    let empty = ColumnValue {
        id: cm.column.clone(),
        ..ColumnValue::default()
    };
    let cv = item.column(&cm.column).unwrap_or(&empty);
    let current = match to_salesforce(cm, MondayInput::Column(cv), lookups) {
        Ok(Converted::Fields(fs)) => fs,
        _ => return true,
    };
    current.iter().any(|(field, cur)| {
        let desired = record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        !same_salesforce_value(cm, cur, &desired)
    })
}

/// Equality of two Salesforce values for a transform, after normalisation.
pub fn same_salesforce_value(cm: &ColumnMapping, a: &Value, b: &Value) -> bool {
    let blank = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
    if cm.transform == Transform::Checkbox {
        return a.as_bool().unwrap_or(false) == b.as_bool().unwrap_or(false);
    }
    if blank(a) || blank(b) {
        return blank(a) && blank(b);
    }
    let s = |v: &Value| match v {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    match cm.transform {
        Transform::Numbers | Transform::Rating => {
            let f = |v: &Value| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            };
            match (f(a), f(b)) {
                (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()).max(1.0),
                _ => s(a) == s(b),
            }
        }
        Transform::Dropdown => {
            let set = |v: &Value| {
                let mut l: Vec<String> = s(v)
                    .split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
                l.sort();
                l
            };
            set(a) == set(b)
        }
        Transform::DateTime => match (parse_sf_datetime(&s(a)), parse_sf_datetime(&s(b))) {
            (Some(x), Some(y)) => x == y,
            _ => s(a) == s(b),
        },
        Transform::Timeline => {
            let d = |v: &Value| {
                let t = s(v);
                parse_sf_datetime(&t)
                    .map(|d| d.date_naive().to_string())
                    .unwrap_or(t)
            };
            d(a) == d(b)
        }
        Transform::Phone => {
            let n = |v: &Value| {
                normalize_phone(&s(v), cm.default_country.as_deref()).unwrap_or_else(|_| s(v))
            };
            n(a) == n(b)
        }
        Transform::Email => s(a).eq_ignore_ascii_case(&s(b)),
        Transform::Country => {
            let c = |v: &Value| {
                crate::transform::country_code_for(&s(v))
                    .map(str::to_string)
                    .unwrap_or_else(|| s(v))
            };
            c(a) == c(b)
        }
        Transform::BoardRelation | Transform::People => {
            let k = |v: &Value| {
                let t = s(v);
                t.get(..15).unwrap_or(&t).to_string()
            };
            k(a) == k(b)
        }
        _ => s(a) == s(b),
    }
}
