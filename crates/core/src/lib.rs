//! Pure domain model of crmsync: the mapping configuration, value transforms and sync planning.
//!
//! Everything here is a function from data to data: no I/O, no async, no clock (the planning date
//! is passed in). The engine fetches what the planner asks for (item snapshots, describes, board
//! columns, record links, users) and applies the operations it returns.
//!
//! - [`Mapping::parse`] reads `mapping.toml`; [`validate()`] checks it against Salesforce describes
//!   and Monday boards and returns it enriched with field lengths and label tables.
//! - [`plan()`] turns a webhook event (plus an optional item snapshot) into [`Operation`]s.
//! - [`freshen`] overrides a plan's values with the item's current ones (fresh reads);
//!   [`follow_up_plan`] plans a [`FollowUp`] (a column a create deferred).
//! - [`plan_item`] turns a Salesforce record into a Monday item create/update (migration).
//! - [`to_salesforce`] / [`to_monday`] convert single values; [`normalize_phone`] makes E.164.

#![warn(missing_docs)]

pub mod applied;
mod countries;
pub mod drift;
pub mod error;
pub mod lookups;
pub mod mapping;
pub mod monday;
pub mod phone;
pub mod plan;
pub mod salesforce;
pub mod soql_where;
pub mod transform;
pub mod validate;
pub mod write_back;

pub use error::{Location, MappingError, MappingErrorKind, MappingErrors};
pub use lookups::{Lookups, StaticLookups};
pub use mapping::{
    BoardMapping, ColumnMapping, CountryFormat, DefaultValue, DeletePolicy, Direction, FieldMeta,
    ItemNameTarget, Mapping, MatchOn, MigrationSettings,
};
pub use monday::{
    related_item_ids, Board, BoardColumn, ColumnKind, ColumnValue, EventKind, Item,
    WebhookDelivery, WebhookEvent,
};
pub use phone::{calling_code, country_for_e164, normalize_phone, PhoneError};
pub use plan::{
    follow_up_plan, freshen, item_name_from_record, name_fields, needs_user_directory, plan,
    plan_item, same_salesforce_value, DeferredColumn, Fields, FindBy, FollowUp, FollowUpOutcome,
    ItemOperation, NewLabel, Operation, Plan, PlanContext, PlanError, PlanOutcome, RecordRef,
    SkipReason, FOLLOW_UP_EVENT_TYPE, FOLLOW_UP_KEY, FOLLOW_UP_PREFIX,
};
pub use salesforce::{
    is_salesforce_id, FieldDescribe, PicklistValue, RecordTypeInfo, SObjectDescribe,
};
pub use transform::{
    country_code_for, country_name, format_sf_datetime, parse_sf_datetime, to_monday,
    to_salesforce, Converted, MondayInput, MondayWrite, Transform, TransformError,
};
pub use validate::{validate, validate_realtime, Schema};
pub use write_back::{id_column_repair, id_column_state, IdColumnState};
