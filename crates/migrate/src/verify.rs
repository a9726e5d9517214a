//! `verify`: both sides compared, every mapped field and relation.

use crmsync_core::plan::{plan_item, ItemOperation};
use crmsync_core::{BoardMapping, Transform};
use crmsync_salesforce::{QueryOptions, Record};
use futures::StreamExt;
use serde::Serialize;

use crate::{column_text, record_text, Migrator, Point, Progress, Result};

/// One difference between a record and its item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Salesforce object.
    pub object: String,
    /// Record Id.
    pub sf_id: String,
    /// Item id (empty when the record has no item).
    pub item_id: String,
    /// Field (or `(item)` when the item is missing, `(count)` for counts).
    pub field: String,
    /// Salesforce's value.
    pub salesforce: String,
    /// Monday's value.
    pub monday: String,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records compared.
    pub records: u64,
    /// Items compared.
    pub items: u64,
    /// Differences.
    pub differences: Vec<Difference>,
}

impl Migrator {
    /// `crmsync migrate verify`: reads both sides (records by the plan's queries, items by the
    /// link table) and compares every mapped field and relation.
    pub async fn verify(&self, objects: Option<&[String]>) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            records: 0,
            items: 0,
            differences: Vec::new(),
        };
        let boards: Vec<BoardMapping> = self.boards(objects)?.into_iter().cloned().collect();
        let users = self
            .user_lookups(&boards.iter().collect::<Vec<_>>())
            .await?;
        for bm in &boards {
            // Columns the migration writes (people columns through both user directories; an
            // owner without a Monday user is reported by plan and run, not a difference here).
            let mut cmp = bm.clone();
            cmp.columns.retain(|c| {
                c.direction.to_monday()
                    && (c.transform != Transform::BoardRelation
                        || bm.migration.sets_relation(&c.column))
            });
            let q = self.soql(bm);
            let stream = self.sf.query_records(&q, QueryOptions::default()).await?;
            self.emit(Progress::Started {
                object: bm.object.clone(),
                pass: "verify",
                total: stream.counted,
            });
            let mut records = stream.records;
            let batch_size = self.options.batch_size.max(1) * 4;
            let mut done = 0;
            loop {
                let mut batch: Vec<Record> = Vec::with_capacity(batch_size);
                while batch.len() < batch_size {
                    match records.next().await {
                        Some(r) => batch.push(r?),
                        None => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                done += batch.len() as u64;
                report.records += batch.len() as u64;
                let mut calls = 0;
                let items = self.linked_items(bm, &batch, &mut calls).await?;
                report.items += items.len() as u64;
                let mut lookups = self.relation_lookups(&cmp, &batch, &items).await?;
                lookups.monday_users = users.monday_users.clone();
                lookups.salesforce_users = users.salesforce_users.clone();
                for r in &batch {
                    let sf_id = record_text(r, "Id").unwrap_or_default();
                    let Some(item) = items.get(&sf_id) else {
                        report.differences.push(Difference {
                            object: bm.object.clone(),
                            sf_id: sf_id.clone(),
                            item_id: String::new(),
                            field: "(item)".into(),
                            salesforce: sf_id.clone(),
                            monday: "no item".into(),
                        });
                        continue;
                    };
                    let diff = |field: &str, sf: String, monday: String| Difference {
                        object: bm.object.clone(),
                        sf_id: sf_id.clone(),
                        item_id: item.id.clone(),
                        field: field.to_string(),
                        salesforce: sf,
                        monday,
                    };
                    match plan_item(r, Some(item), &cmp, &lookups) {
                        Ok(ItemOperation::Unchanged { .. }) => {}
                        Ok(ItemOperation::Update {
                            column_values,
                            item_name,
                            ..
                        }) => {
                            if let Some(n) = item_name {
                                report
                                    .differences
                                    .push(diff("(name)", n, item.name.clone()));
                            }
                            for col in column_values.keys() {
                                let field = if *col == bm.salesforce_id_column {
                                    "Id".to_string()
                                } else {
                                    cmp.column(col).map(|c| c.field.clone()).unwrap_or_default()
                                };
                                let sf = r
                                    .iter()
                                    .find(|(k, _)| k.eq_ignore_ascii_case(&field))
                                    .map(|(_, v)| match v {
                                        serde_json::Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    })
                                    .unwrap_or_default();
                                let monday = column_text(item, col).unwrap_or_else(|| {
                                    item.column(col)
                                        .and_then(|c| c.linked_item_ids.clone())
                                        .map(|l| l.join(","))
                                        .unwrap_or_default()
                                });
                                report.differences.push(diff(&field, sf, monday));
                            }
                        }
                        Ok(ItemOperation::Create { .. }) => {}
                        Err(e) => {
                            report
                                .differences
                                .push(diff("(mapping)", e.to_string(), String::new()))
                        }
                    }
                }
                self.point(Point::Verify);
                self.emit(Progress::Advanced {
                    object: bm.object.clone(),
                    pass: "verify",
                    done,
                });
            }
            self.emit(Progress::Finished {
                object: bm.object.clone(),
                pass: "verify",
                done,
            });
        }
        Ok(report)
    }
}
