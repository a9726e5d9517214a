//! The mapping declaration (`mapping.toml`): which board is which object, which column is which field.
//!
//! ```toml
//! [[board]]
//! name = "Opportunities"
//! board_id = "9378000036"
//! object = "Opportunity"
//! salesforce_id_column = "text_mkry20c9"       # holds the Salesforce Id (loop prevention, write-back)
//! external_id_field = "Monday_Item_Id__c"      # upsert by Monday item id (or item_id_field)
//! # item_id_field = "Monday_Id__c"             # a plain Text field holding the item id instead:
//! #                                            # a retried create finds the record by it
//! record_type_id = "0123p000000EILJAA4"        # optional
//! item_name = { field = "Name" }               # or { split = ["FirstName", "LastName"] }
//! on_delete = "ignore"                         # "delete" | "ignore" | { set = { StageName = "Closed Lost" } }
//! on_archive = "ignore"                        # same choices; default "ignore"
//! defaults = { StageName = "Prospecting", CloseDate = "today+30d" }
//!
//! [[board.column]]
//! column = "color_mksj6ap4"
//! field = "StageName"
//! transform = "status"                         # see [`Transform`]
//! direction = "both"                           # "both" | "to_salesforce" | "to_monday"
//! values = { "Qualifying" = "Qualification" }  # Monday label -> Salesforce picklist value
//! truncate = false                             # cut strings to the field length instead of failing
//! ```
//!
//! Relations: `transform = "board_relation"`, `field` a lookup, `target_board` the linked board's id.
//! Timelines: `field` receives the start, `end_field` the end. Dates: `timezone = "+02:00"` reads a
//! date+time in that offset (Monday stores times in UTC). Phones: `default_country = "US"` reads
//! national numbers. Countries: `country_format = "name" | "code"`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, FixedOffset, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use toml::Spanned;

use crate::error::{Location, MappingError, MappingErrorKind, MappingErrors};
use crate::transform::Transform;

/// A parsed mapping file.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// The file name given to [`Mapping::parse`], used in error messages.
    pub file: String,
    /// One entry per mapped board.
    pub boards: Vec<BoardMapping>,
}

/// How one Monday board maps to one Salesforce object.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardMapping {
    /// Human name (optional).
    pub name: Option<String>,
    /// Monday board id.
    pub board_id: String,
    /// Salesforce object API name (standard or custom `__c`).
    pub object: String,
    /// The Monday column (text) holding the Salesforce record Id.
    pub salesforce_id_column: String,
    /// Optional external-id field receiving the Monday item id; creates become upserts on it.
    pub external_id_field: Option<String>,
    /// A (non external-id) Text field that receives the Monday item id on create, for boards
    /// without `external_id_field`: before a create the engine looks for a record holding the item
    /// id there (one left by an earlier attempt whose answer was lost) and links it instead.
    pub item_id_field: Option<String>,
    /// Record type set on create.
    pub record_type_id: Option<String>,
    /// Where the item name goes.
    pub item_name: ItemNameTarget,
    /// Values set on create for fields that no column filled, by field.
    pub defaults: BTreeMap<String, DefaultValue>,
    /// What deleting the item does.
    pub on_delete: DeletePolicy,
    /// What archiving the item does.
    pub on_archive: DeletePolicy,
    /// Column mappings, in file order.
    pub columns: Vec<ColumnMapping>,
    /// Lengths of the item-name fields, filled by [`crate::validate()`] from the describe.
    pub field_lengths: BTreeMap<String, usize>,
    /// `[board.migration]`: how the Salesforce → Monday migration selects and matches records.
    pub migration: MigrationSettings,
    pub(crate) spans: BoardSpans,
}

/// `[board.migration]` of a board (all optional).
///
/// ```toml
/// [board.migration]
/// where = "IsDeleted = false AND CreatedDate > 2020-01-01T00:00:00Z"   # SOQL condition
/// match_on = { column = "email_mksx3vtp", field = "Email" }  # adopt items without the Id
/// relations = ["board_relation_mks98dnn"]                    # relation columns to set
/// strict = ["color_mksj2adq"]                                # never create labels on these
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrationSettings {
    /// A SOQL condition (without `WHERE`) selecting the records to migrate.
    pub where_clause: Option<String>,
    /// The natural key: an item without the Salesforce Id whose `column` equals the record's
    /// `field` (case-insensitively) is adopted instead of a new item being created.
    pub match_on: Option<MatchOn>,
    /// Which board_relation columns the relation pass sets; `None`: every board_relation column
    /// mapped towards Monday.
    pub relations: Option<Vec<String>>,
    /// Status/dropdown columns whose missing labels fail the record instead of being created.
    pub strict: Vec<String>,
    pub(crate) spans: MigrationSpans,
}

/// The natural key of `[board.migration] match_on`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchOn {
    /// Monday column id.
    pub column: String,
    /// Salesforce field.
    pub field: String,
}

impl MigrationSettings {
    /// Whether the relation pass sets `column`.
    pub fn sets_relation(&self, column: &str) -> bool {
        self.relations
            .as_ref()
            .is_none_or(|r| r.iter().any(|c| c == column))
    }

    /// Whether `column` is strict (missing labels fail the record).
    pub fn is_strict(&self, column: &str) -> bool {
        self.strict.iter().any(|c| c == column)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct MigrationSpans {
    #[serde(skip)]
    pub where_clause: Location,
    #[serde(skip)]
    pub match_on: Location,
    #[serde(skip)]
    pub relations: Vec<Location>,
    #[serde(skip)]
    pub strict: Vec<Location>,
}

impl BoardMapping {
    /// The mapping of one column.
    pub fn column(&self, column_id: &str) -> Option<&ColumnMapping> {
        self.columns.iter().find(|c| c.column == column_id)
    }

    /// Every Salesforce field the board reads or writes (for a SOQL `SELECT`), `Id` first.
    pub fn salesforce_fields(&self) -> Vec<String> {
        let mut out = vec!["Id".to_string()];
        let mut push = |f: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(f)) {
                out.push(f.to_string());
            }
        };
        match &self.item_name {
            ItemNameTarget::Field(f) => push(f),
            ItemNameTarget::Split { first, last } => {
                push(first);
                push(last);
            }
            ItemNameTarget::None => {}
        }
        for c in &self.columns {
            push(&c.field);
            if let Some(end) = &c.end_field {
                push(end);
            }
        }
        if let Some(ext) = &self.external_id_field {
            push(ext);
        }
        if let Some(f) = &self.item_id_field {
            push(f);
        }
        out
    }
}

/// Where the Monday item name goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemNameTarget {
    /// Into one field (e.g. Lead `Company`, Account `Name`).
    Field(String),
    /// Split on the last space into first/last name fields (Contact).
    Split {
        /// Receives everything before the last space.
        first: String,
        /// Receives the last word.
        last: String,
    },
    /// The name is not synced.
    None,
}

/// A create default.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultValue {
    /// A literal value.
    Literal(Value),
    /// `today`, `today+30d`, `today-7d`: a date relative to the planning date.
    RelativeDate {
        /// Days added to today.
        days: i64,
    },
}

impl DefaultValue {
    /// The value on `today`.
    pub fn resolve(&self, today: NaiveDate) -> Value {
        match self {
            DefaultValue::Literal(v) => v.clone(),
            DefaultValue::RelativeDate { days } => {
                let date = Duration::try_days(*days)
                    .and_then(|d| today.checked_add_signed(d))
                    .unwrap_or(today);
                Value::String(date.format("%Y-%m-%d").to_string())
            }
        }
    }
}

/// What deleting (or archiving) a Monday item does to its Salesforce record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Delete the record.
    Delete,
    /// Leave the record alone.
    Ignore,
    /// Update these fields (e.g. mark it closed).
    SetFields(BTreeMap<String, Value>),
}

/// Which way a column syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways.
    Both,
    /// Monday -> Salesforce only (real-time sync).
    ToSalesforce,
    /// Salesforce -> Monday only (migration).
    ToMonday,
}

impl Direction {
    /// Whether Monday changes flow to Salesforce.
    pub fn to_salesforce(self) -> bool {
        matches!(self, Direction::Both | Direction::ToSalesforce)
    }
    /// Whether Salesforce values flow to Monday.
    pub fn to_monday(self) -> bool {
        matches!(self, Direction::Both | Direction::ToMonday)
    }
}

/// How a country is written to Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountryFormat {
    /// English name (`United States`).
    Name,
    /// ISO alpha-2 code (`US`).
    Code,
}

/// One column <-> field mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    /// Monday column id.
    pub column: String,
    /// Salesforce field (the start field for timelines).
    pub field: String,
    /// End field (timelines only).
    pub end_field: Option<String>,
    /// The value transform.
    pub transform: Transform,
    /// Which way it syncs.
    pub direction: Direction,
    /// Truncate strings to the field length instead of failing.
    pub truncate: bool,
    /// Monday label -> Salesforce picklist value (status, dropdown). Unmapped labels pass unchanged.
    pub values: BTreeMap<String, String>,
    /// For relations: the linked board.
    pub target_board: Option<String>,
    /// For dates: the offset Monday's UTC times are read in (default UTC).
    pub timezone: Option<FixedOffset>,
    /// For countries.
    pub country_format: CountryFormat,
    /// For phones: the country of numbers without one.
    pub default_country: Option<String>,
    /// Salesforce field metadata, filled by [`crate::validate()`] from the describe.
    pub field_meta: Option<FieldMeta>,
    /// Status labels by index / dropdown labels by id, filled by [`crate::validate()`] from the board.
    pub column_labels: BTreeMap<u64, String>,
    pub(crate) spans: ColumnSpans,
}

/// What the planner needs to know about a Salesforce field (taken from its describe).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldMeta {
    /// Describe type (`string`, `picklist`, `date`, ...).
    pub field_type: String,
    /// Maximum length for text types.
    pub length: Option<usize>,
}

impl ColumnMapping {
    /// A mapping built in code (tests, tools); spans point at line 1.
    pub fn new(column: &str, field: &str, transform: Transform) -> ColumnMapping {
        ColumnMapping {
            column: column.to_string(),
            field: field.to_string(),
            end_field: None,
            transform,
            direction: Direction::Both,
            truncate: false,
            values: BTreeMap::new(),
            target_board: None,
            timezone: None,
            country_format: CountryFormat::Name,
            default_country: None,
            field_meta: None,
            column_labels: BTreeMap::new(),
            spans: ColumnSpans::default(),
        }
    }

    /// Monday label -> Salesforce value.
    pub fn to_salesforce_label(&self, label: &str) -> String {
        self.values
            .get(label)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    /// Salesforce value -> Monday label: the same label when the column has it and the map does not
    /// send it elsewhere, else the first label mapped to the value, else the value unchanged.
    pub fn to_monday_label(&self, value: &str) -> String {
        let is_label = self.column_labels.values().any(|l| l == value);
        let maps_elsewhere = self.values.get(value).is_some_and(|v| v != value);
        if is_label && !maps_elsewhere {
            return value.to_string();
        }
        self.values
            .iter()
            .find(|(_, v)| v.as_str() == value)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| value.to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BoardSpans {
    pub table: Location,
    pub board_id: Location,
    pub object: Location,
    pub salesforce_id_column: Location,
    pub external_id_field: Location,
    pub item_id_field: Location,
    pub record_type_id: Location,
    pub item_name: Location,
    pub defaults: BTreeMap<String, Location>,
    pub on_delete: Location,
    pub on_archive: Location,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ColumnSpans {
    pub column: Location,
    pub field: Location,
    pub end_field: Location,
    pub transform: Location,
    pub target_board: Location,
    pub values: BTreeMap<String, Location>,
}

// ---------------------------------------------------------------- raw TOML shapes

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    board: Vec<Spanned<RawBoard>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    name: Option<String>,
    board_id: Spanned<IdString>,
    object: Spanned<String>,
    salesforce_id_column: Spanned<String>,
    external_id_field: Option<Spanned<String>>,
    item_id_field: Option<Spanned<String>>,
    record_type_id: Option<Spanned<String>>,
    item_name: Option<Spanned<RawItemName>>,
    #[serde(default)]
    defaults: BTreeMap<String, Spanned<toml::Value>>,
    on_delete: Option<Spanned<toml::Value>>,
    on_archive: Option<Spanned<toml::Value>>,
    #[serde(default)]
    column: Vec<Spanned<RawColumn>>,
    migration: Option<RawMigration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigration {
    #[serde(rename = "where")]
    where_clause: Option<Spanned<String>>,
    match_on: Option<Spanned<RawMatchOn>>,
    relations: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    strict: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatchOn {
    column: String,
    field: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItemName {
    field: Option<String>,
    split: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    column: Spanned<String>,
    field: Option<Spanned<String>>,
    end_field: Option<Spanned<String>>,
    transform: Spanned<String>,
    direction: Option<Spanned<String>>,
    #[serde(default)]
    truncate: bool,
    #[serde(default)]
    values: BTreeMap<String, Spanned<String>>,
    target_board: Option<Spanned<IdString>>,
    timezone: Option<Spanned<String>>,
    country_format: Option<Spanned<String>>,
    default_country: Option<Spanned<String>>,
}

/// An id written as a TOML string or integer.
struct IdString(String);

impl<'de> Deserialize<'de> for IdString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            I(i64),
        }
        Ok(IdString(match Either::deserialize(d)? {
            Either::S(s) => s,
            Either::I(i) => i.to_string(),
        }))
    }
}

// ---------------------------------------------------------------- parsing

struct Ctx<'a> {
    src: &'a str,
    file: &'a str,
    errors: Vec<MappingError>,
}

impl Ctx<'_> {
    fn loc<T>(&self, s: &Spanned<T>) -> Location {
        Location::of_offset(self.src, s.span().start)
    }
    fn err(&mut self, location: Location, kind: MappingErrorKind) {
        self.errors.push(MappingError {
            file: self.file.to_string(),
            location,
            kind,
        });
    }
    fn invalid(&mut self, location: Location, setting: &str, value: &str, reason: &str) {
        self.err(
            location,
            MappingErrorKind::InvalidSetting {
                setting: setting.to_string(),
                value: value.to_string(),
                reason: reason.to_string(),
            },
        );
    }
}

impl Mapping {
    /// Parse a mapping file. `file` names it in error messages. Every problem found is reported
    /// (unknown transforms, bad directions, bad defaults, ...), with its line and column.
    pub fn parse(src: &str, file: &str) -> Result<Mapping, MappingErrors> {
        let raw: RawFile = match toml::from_str(src) {
            Ok(raw) => raw,
            Err(e) => {
                let location = e
                    .span()
                    .map(|s| Location::of_offset(src, s.start))
                    .unwrap_or_default();
                return Err(MappingErrors(vec![MappingError {
                    file: file.to_string(),
                    location,
                    kind: MappingErrorKind::Toml {
                        message: e.message().to_string(),
                    },
                }]));
            }
        };
        let mut ctx = Ctx {
            src,
            file,
            errors: Vec::new(),
        };
        let mut boards = Vec::new();
        let mut seen = BTreeSet::new();
        for rb in raw.board {
            let table = ctx.loc(&rb);
            let rb = rb.into_inner();
            let board_id = rb.board_id.get_ref().0.clone();
            if !seen.insert(board_id.clone()) {
                let loc = ctx.loc(&rb.board_id);
                ctx.err(loc, MappingErrorKind::DuplicateBoard { board_id });
                continue;
            }
            boards.push(parse_board(&mut ctx, rb, table));
        }
        if ctx.errors.is_empty() {
            Ok(Mapping {
                file: file.to_string(),
                boards,
            })
        } else {
            Err(MappingErrors(ctx.errors))
        }
    }

    /// The mapping of a board.
    pub fn board(&self, board_id: &str) -> Option<&BoardMapping> {
        self.boards.iter().find(|b| b.board_id == board_id)
    }

    /// A board's name for people: its `name` in the mapping, else its id.
    pub fn board_label(&self, board_id: &str) -> String {
        self.board(board_id)
            .and_then(|b| b.name.clone())
            .unwrap_or_else(|| board_id.to_owned())
    }

    /// The (first) board mapped to a Salesforce object.
    pub fn board_for_object(&self, object: &str) -> Option<&BoardMapping> {
        self.boards
            .iter()
            .find(|b| b.object.eq_ignore_ascii_case(object))
    }
}

fn parse_board(ctx: &mut Ctx<'_>, rb: RawBoard, table: Location) -> BoardMapping {
    let board_id = rb.board_id.get_ref().0.clone();
    let mut spans = BoardSpans {
        table,
        board_id: ctx.loc(&rb.board_id),
        object: ctx.loc(&rb.object),
        salesforce_id_column: ctx.loc(&rb.salesforce_id_column),
        ..BoardSpans::default()
    };
    if let Some(e) = &rb.external_id_field {
        spans.external_id_field = ctx.loc(e);
    }
    if let Some(e) = &rb.item_id_field {
        spans.item_id_field = ctx.loc(e);
    }
    if let Some(r) = &rb.record_type_id {
        spans.record_type_id = ctx.loc(r);
    }
    let item_name = match rb.item_name {
        None => ItemNameTarget::None,
        Some(s) => {
            let loc = ctx.loc(&s);
            spans.item_name = loc;
            let raw = s.into_inner();
            match (raw.field, raw.split) {
                (Some(f), None) => ItemNameTarget::Field(f),
                (None, Some(v)) if v.len() == 2 => ItemNameTarget::Split {
                    first: v[0].clone(),
                    last: v[1].clone(),
                },
                (None, Some(v)) => {
                    ctx.invalid(
                        loc,
                        "item_name.split",
                        &format!("{v:?}"),
                        "expected two fields: [first name field, last name field]",
                    );
                    ItemNameTarget::None
                }
                _ => {
                    ctx.invalid(
                        loc,
                        "item_name",
                        "",
                        "expected exactly one of `field = \"...\"` or `split = [\"First\", \"Last\"]`",
                    );
                    ItemNameTarget::None
                }
            }
        }
    };
    let mut defaults = BTreeMap::new();
    for (field, v) in rb.defaults {
        let loc = ctx.loc(&v);
        spans.defaults.insert(field.clone(), loc);
        match parse_default(v.get_ref()) {
            Ok(d) => {
                defaults.insert(field, d);
            }
            Err(reason) => ctx.invalid(
                loc,
                &format!("default for {field}"),
                &v.get_ref().to_string(),
                &reason,
            ),
        }
    }
    let policy = |ctx: &mut Ctx<'_>,
                  v: Option<Spanned<toml::Value>>,
                  name: &str,
                  span: &mut Location| match v {
        None => DeletePolicy::Ignore,
        Some(v) => {
            *span = ctx.loc(&v);
            match parse_policy(v.get_ref()) {
                Ok(p) => p,
                Err(reason) => {
                    ctx.invalid(*span, name, &v.get_ref().to_string(), &reason);
                    DeletePolicy::Ignore
                }
            }
        }
    };
    let on_delete = policy(ctx, rb.on_delete, "on_delete", &mut spans.on_delete);
    let on_archive = policy(ctx, rb.on_archive, "on_archive", &mut spans.on_archive);

    let mut columns: Vec<ColumnMapping> = Vec::new();
    for rc in rb.column {
        let rc = rc.into_inner();
        let column_loc = ctx.loc(&rc.column);
        let column = rc.column.get_ref().clone();
        if columns.iter().any(|c| c.column == column) {
            ctx.err(
                column_loc,
                MappingErrorKind::Duplicate {
                    board_id: board_id.clone(),
                    what: format!("column `{column}`"),
                },
            );
            continue;
        }
        if let Some(c) = parse_column(ctx, rc, column, column_loc) {
            columns.push(c);
        }
    }
    let migration = parse_migration(ctx, rb.migration, &columns);
    BoardMapping {
        migration,
        name: rb.name,
        board_id,
        object: rb.object.into_inner(),
        salesforce_id_column: rb.salesforce_id_column.into_inner(),
        external_id_field: rb.external_id_field.map(Spanned::into_inner),
        item_id_field: rb.item_id_field.map(Spanned::into_inner),
        record_type_id: rb.record_type_id.map(Spanned::into_inner),
        item_name,
        defaults,
        on_delete,
        on_archive,
        columns,
        field_lengths: BTreeMap::new(),
        spans,
    }
}

fn parse_migration(
    ctx: &mut Ctx<'_>,
    raw: Option<RawMigration>,
    columns: &[ColumnMapping],
) -> MigrationSettings {
    let Some(raw) = raw else {
        return MigrationSettings::default();
    };
    let mut spans = MigrationSpans::default();
    let where_clause = raw.where_clause.and_then(|w| {
        spans.where_clause = ctx.loc(&w);
        let text = w.into_inner();
        if text.trim().is_empty() {
            ctx.invalid(
                spans.where_clause,
                "migration.where",
                &text,
                "empty condition",
            );
            return None;
        }
        if let Err(reason) = crate::soql_where::check_syntax(&text) {
            ctx.invalid(spans.where_clause, "migration.where", &text, &reason);
            return None;
        }
        Some(text)
    });
    let match_on = raw.match_on.map(|m| {
        spans.match_on = ctx.loc(&m);
        let m = m.into_inner();
        MatchOn {
            column: m.column,
            field: m.field,
        }
    });
    let relations = raw.relations.map(|rs| {
        let mut out = Vec::new();
        for r in rs {
            let loc = ctx.loc(&r);
            let col = r.into_inner();
            match columns.iter().find(|c| c.column == col) {
                Some(c) if c.transform == Transform::BoardRelation => {}
                Some(_) => ctx.invalid(
                    loc,
                    "migration.relations",
                    &col,
                    "not a board_relation column of this board",
                ),
                None => ctx.invalid(
                    loc,
                    "migration.relations",
                    &col,
                    "no [[board.column]] of this board has this column id",
                ),
            }
            spans.relations.push(loc);
            out.push(col);
        }
        out
    });
    let mut strict = Vec::new();
    for s in raw.strict {
        let loc = ctx.loc(&s);
        let col = s.into_inner();
        match columns.iter().find(|c| c.column == col) {
            Some(c) if matches!(c.transform, Transform::Status | Transform::Dropdown) => {}
            Some(_) => ctx.invalid(
                loc,
                "migration.strict",
                &col,
                "only status and dropdown columns have labels",
            ),
            None => ctx.invalid(
                loc,
                "migration.strict",
                &col,
                "no [[board.column]] of this board has this column id",
            ),
        }
        spans.strict.push(loc);
        strict.push(col);
    }
    MigrationSettings {
        where_clause,
        match_on,
        relations,
        strict,
        spans,
    }
}

fn parse_column(
    ctx: &mut Ctx<'_>,
    rc: RawColumn,
    column: String,
    column_loc: Location,
) -> Option<ColumnMapping> {
    let transform_loc = ctx.loc(&rc.transform);
    let transform = match Transform::parse(rc.transform.get_ref()) {
        Some(t) => t,
        None => {
            ctx.err(
                transform_loc,
                MappingErrorKind::UnknownTransform {
                    column: column.clone(),
                    transform: rc.transform.get_ref().clone(),
                    expected: Transform::ALL
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            );
            return None;
        }
    };
    let mut spans = ColumnSpans {
        column: column_loc,
        transform: transform_loc,
        ..ColumnSpans::default()
    };
    let field = match rc.field {
        Some(f) => {
            spans.field = ctx.loc(&f);
            f.into_inner()
        }
        None => {
            ctx.invalid(column_loc, "column", &column, "`field` is missing");
            return None;
        }
    };
    let end_field = rc.end_field.map(|f| {
        spans.end_field = ctx.loc(&f);
        f.into_inner()
    });
    if transform == Transform::Timeline && end_field.is_none() {
        ctx.invalid(
            column_loc,
            "column",
            &column,
            "a timeline needs `end_field` (the end date field)",
        );
    }
    if transform != Transform::Timeline && end_field.is_some() {
        ctx.invalid(
            spans.end_field,
            "end_field",
            end_field.as_deref().unwrap_or(""),
            "only timeline columns have an end field",
        );
    }
    let direction = match rc.direction {
        None => Direction::Both,
        Some(d) => match d.get_ref().as_str() {
            "both" => Direction::Both,
            "to_salesforce" => Direction::ToSalesforce,
            "to_monday" => Direction::ToMonday,
            other => {
                let loc = ctx.loc(&d);
                ctx.invalid(
                    loc,
                    "direction",
                    other,
                    "expected one of: both, to_salesforce, to_monday",
                );
                Direction::Both
            }
        },
    };
    let mut values = BTreeMap::new();
    for (label, v) in rc.values {
        spans.values.insert(label.clone(), ctx.loc(&v));
        values.insert(label, v.into_inner());
    }
    let target_board = rc.target_board.map(|t| {
        spans.target_board = ctx.loc(&t);
        t.into_inner().0
    });
    if transform == Transform::BoardRelation && target_board.is_none() {
        ctx.invalid(
            column_loc,
            "column",
            &column,
            "a board_relation column needs `target_board`",
        );
    }
    let timezone = rc.timezone.and_then(|tz| match parse_offset(tz.get_ref()) {
        Some(o) => Some(o),
        None => {
            let loc = ctx.loc(&tz);
            ctx.invalid(
                loc,
                "timezone",
                tz.get_ref(),
                "expected `UTC` or a fixed offset such as `+02:00` / `-05:00`",
            );
            None
        }
    });
    let country_format = match rc.country_format {
        None => CountryFormat::Name,
        Some(c) => match c.get_ref().as_str() {
            "name" => CountryFormat::Name,
            "code" => CountryFormat::Code,
            other => {
                let loc = ctx.loc(&c);
                ctx.invalid(loc, "country_format", other, "expected `name` or `code`");
                CountryFormat::Name
            }
        },
    };
    let default_country = rc.default_country.and_then(|c| {
        if crate::phone::calling_code(c.get_ref()).is_some() {
            Some(c.get_ref().to_ascii_uppercase())
        } else {
            let loc = ctx.loc(&c);
            ctx.invalid(
                loc,
                "default_country",
                c.get_ref(),
                "not an ISO alpha-2 country with a known calling code",
            );
            None
        }
    });
    Some(ColumnMapping {
        column,
        field,
        end_field,
        transform,
        direction,
        truncate: rc.truncate,
        values,
        target_board,
        timezone,
        country_format,
        default_country,
        field_meta: None,
        column_labels: BTreeMap::new(),
        spans,
    })
}

fn parse_default(v: &toml::Value) -> Result<DefaultValue, String> {
    Ok(match v {
        toml::Value::String(s) => match parse_relative_date(s) {
            Some(Ok(days)) => DefaultValue::RelativeDate { days },
            Some(Err(e)) => return Err(e),
            None => DefaultValue::Literal(Value::String(s.clone())),
        },
        toml::Value::Integer(i) => DefaultValue::Literal(Value::from(*i)),
        toml::Value::Float(f) => DefaultValue::Literal(
            serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or("not a finite number")?,
        ),
        toml::Value::Boolean(b) => DefaultValue::Literal(Value::Bool(*b)),
        toml::Value::Datetime(d) => DefaultValue::Literal(Value::String(d.to_string())),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err("expected a string, number, boolean, date or `today+Nd`".into())
        }
    })
}

/// `today`, `today+30d`, `today-7d` -> days. `None` when the string is not of that family.
fn parse_relative_date(s: &str) -> Option<Result<i64, String>> {
    let rest = s.trim().strip_prefix("today")?;
    if rest.is_empty() {
        return Some(Ok(0));
    }
    let (sign, num) = match rest.split_at_checked(1) {
        Some(("+", n)) => (1, n),
        Some(("-", n)) => (-1, n),
        _ => return Some(Err("expected `today`, `today+Nd` or `today-Nd`".into())),
    };
    let Some(n) = num.strip_suffix('d') else {
        return Some(Err(
            "expected `today`, `today+Nd` or `today-Nd` (days only)".into(),
        ));
    };
    // Digits only: the sign was read above, so `today+-5d` is refused.
    match n.parse::<u32>() {
        Ok(days) if days <= 36_500 && !n.starts_with('+') => Some(Ok(sign * i64::from(days))),
        _ => Some(Err("expected a whole number of days up to 36500".into())),
    }
}

fn parse_policy(v: &toml::Value) -> Result<DeletePolicy, String> {
    match v {
        toml::Value::String(s) if s == "delete" => Ok(DeletePolicy::Delete),
        toml::Value::String(s) if s == "ignore" => Ok(DeletePolicy::Ignore),
        toml::Value::Table(t) if t.len() == 1 => match t.get("set") {
            Some(toml::Value::Table(fields)) if !fields.is_empty() => {
                let mut out = BTreeMap::new();
                for (k, v) in fields {
                    match parse_default(v)? {
                        DefaultValue::Literal(v) => out.insert(k.clone(), v),
                        DefaultValue::RelativeDate { .. } => {
                            return Err("relative dates are only allowed in `defaults`".into())
                        }
                    };
                }
                Ok(DeletePolicy::SetFields(out))
            }
            _ => Err("expected `{ set = { Field = value, ... } }`".into()),
        },
        _ => Err("expected \"delete\", \"ignore\" or { set = { Field = value } }".into()),
    }
}

/// `UTC`, `Z`, `+02:00`, `-0500`.
pub(crate) fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.split_at_checked(1)? {
        ("+", r) => (1, r),
        ("-", r) => (-1, r),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dates() {
        assert_eq!(parse_relative_date("today"), Some(Ok(0)));
        assert_eq!(parse_relative_date("today+30d"), Some(Ok(30)));
        assert_eq!(parse_relative_date("today-7d"), Some(Ok(-7)));
        assert!(matches!(parse_relative_date("today+3w"), Some(Err(_))));
        assert_eq!(parse_relative_date("Prospecting"), None);
        // A multi-byte character right after `today` is an error, not a slicing panic.
        assert!(matches!(parse_relative_date("todayé"), Some(Err(_))));
        assert!(matches!(parse_relative_date("today€30d"), Some(Err(_))));
        // One sign only, and the day count stays bounded in both directions.
        assert!(matches!(parse_relative_date("today+-5d"), Some(Err(_))));
        assert!(matches!(parse_relative_date("today-+5d"), Some(Err(_))));
        assert!(matches!(
            parse_relative_date("today--99999999999d"),
            Some(Err(_))
        ));
        assert!(matches!(parse_relative_date("today-36501d"), Some(Err(_))));
        assert_eq!(parse_relative_date("today-36500d"), Some(Ok(-36_500)));
        // Out-of-range offsets built in code resolve to today instead of panicking.
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        for days in [i64::MAX, i64::MIN, 1 << 40] {
            assert_eq!(
                DefaultValue::RelativeDate { days }.resolve(today),
                Value::String("2026-11-27".into())
            );
        }
        assert_eq!(
            DefaultValue::RelativeDate { days: 30 }.resolve(today),
            Value::String("2026-12-27".into())
        );
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("UTC"), FixedOffset::east_opt(0));
        assert_eq!(parse_offset("+02:00"), FixedOffset::east_opt(7200));
        assert_eq!(
            parse_offset("-0530"),
            FixedOffset::east_opt(-(5 * 3600 + 1800))
        );
        assert_eq!(parse_offset("Europe/Paris"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }
}
