//! Monday -> Salesforce: a webhook event (and, when needed, an item snapshot) to Salesforce
//! operations.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    DeferredColumn, Fields, FindBy, Operation, Plan, PlanContext, PlanError, PlanOutcome,
    RecordRef, SkipReason,
};
use crate::lookups::Lookups;
use crate::mapping::{BoardMapping, ColumnMapping, DeletePolicy, ItemNameTarget};
use crate::monday::{ColumnKind, ColumnValue, EventKind, Item, WebhookEvent};
use crate::salesforce::is_salesforce_id;
use crate::transform::{to_salesforce, Converted, MondayInput, Transform, TransformError};
use crate::write_back::id_column_repair;
use crate::Mapping;

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
    let outcome = plan_event(event, item, mapping, ctx)?;
    // The linked record before this event (the lookups do not change while planning).
    let bm = event.board_id.as_deref().and_then(|b| mapping.board(b));
    let (Some(bm), Some(item_id)) = (bm, event.item()) else {
        return Ok(outcome);
    };
    let linked = ctx.lookups.salesforce_id_for_item(item_id);
    Ok(with_id_column_repair(
        outcome,
        bm,
        item_id,
        item,
        linked.as_deref(),
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

/// [`plan`] before the Id-column repair.
fn plan_event(
    event: &WebhookEvent,
    item: Option<&Item>,
    mapping: &Mapping,
    ctx: &PlanContext<'_>,
) -> Result<PlanOutcome, PlanError> {
    let kind = &event.event_type;
    let bad = |reason: &str| PlanError::InvalidEvent {
        event_type: kind.to_string(),
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
    if !(kind.changes_item() || kind.removes_item()) {
        return Ok(Plan::skip(SkipReason::UnsupportedEvent {
            event_type: kind.to_string(),
        }));
    }
    let item_id = event.item().ok_or_else(|| bad("no pulseId or itemId"))?;
    let linked = ctx.lookups.salesforce_id_for_item(item_id);
    let p = Planner { bm, item_id, ctx };
    let policy = match kind {
        EventKind::CreatePulse => {
            return match linked {
                Some(id) => Ok(Plan::skip(SkipReason::AlreadyLinked { salesforce_id: id })),
                None => {
                    p.create_or_link(item, "create_pulse has no column values", Changed::Nothing)
                }
            }
        }
        EventKind::UpdateColumnValue => return p.column_change(event, item, linked),
        EventKind::UpdateName => return p.name_change(event, item, linked),
        EventKind::DeletePulse => &bm.on_delete,
        _ => &bm.on_archive,
    };
    let Some(id) = linked else {
        return Ok(Plan::skip(SkipReason::NotLinked));
    };
    Ok(PlanOutcome::Ready(Plan::new(match policy {
        DeletePolicy::Ignore => vec![Operation::Skip {
            reason: SkipReason::PolicyIgnore {
                event_type: kind.to_string(),
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

/// Overrides, field by field, the values of a plan's updates with the item's current values
/// (`fresh`, read from Monday just before applying): events applied in any order then converge on
/// Monday's latest state. Only the fields the event's column (or name) produces are replaced;
/// others in the same update are kept, e.g. the external id (`Monday_Item_Id__c`) that the planner
/// merges into one PATCH when an unlinked item whose Id column holds a record id gets linked. A
/// column missing from the snapshot keeps the event's value.
pub fn freshen(
    plan: &mut Plan,
    event: &WebhookEvent,
    bm: &BoardMapping,
    fresh: &Item,
    lookups: &dyn Lookups,
) -> Result<(), PlanError> {
    for op in &mut plan.ops {
        let Operation::Update { fields, .. } = op else {
            continue;
        };
        match event.event_type {
            EventKind::UpdateColumnValue => {
                let Some(cm) = event.column_id.as_deref().and_then(|c| bm.column(c)) else {
                    continue;
                };
                let Some(cv) = fresh.column(&cm.column) else {
                    continue;
                };
                match to_salesforce(cm, MondayInput::Column(cv), lookups)? {
                    Converted::Fields(fs) => fields.extend(fs),
                    Converted::NeedsItem(_) => {}
                }
            }
            EventKind::UpdateName => fields.extend(name_fields(bm, &fresh.name)?),
            _ => {}
        }
    }
    Ok(())
}

/// Whether planning `event` needs the user directories (a people column is involved): a column
/// change of a people column, or a create/rename (which may create the record with all columns).
pub fn needs_user_directory(bm: &BoardMapping, event: &WebhookEvent) -> bool {
    if !bm.columns.iter().any(|c| c.transform == Transform::People) {
        return false;
    }
    match event.event_type {
        EventKind::UpdateColumnValue => event
            .column_id
            .as_deref()
            .and_then(|c| bm.column(c))
            .is_some_and(|c| c.transform == Transform::People),
        EventKind::CreatePulse | EventKind::UpdateName => true,
        _ => false,
    }
}

/// What an event changed (for an unlinked item whose Id column turns out to hold a record id).
#[derive(Clone, Copy)]
enum Changed<'a> {
    Nothing,
    Name,
    Column(&'a ColumnMapping),
}

pub(super) fn snapshot_not_enough(cm: &ColumnMapping, reason: &str) -> PlanError {
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
                event_type: event.event_type.to_string(),
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
