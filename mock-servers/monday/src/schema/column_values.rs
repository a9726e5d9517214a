//! The `ColumnValue` interface and one implementation per column type.

use async_graphql::{Context, Interface, Object, SimpleObject, ID};
use serde_json::Value;

use crate::columns::{self, Kind};
use crate::model::{ColumnDef, ItemRec, UserRec};

use super::enums::{ColumnType, Kind_, NumberValueUnitDirection};
use super::mock;
use super::objects::{Column, Item};
use super::scalars::{Date, Json};

/// Data shared by every `ColumnValue` implementation.
#[derive(Clone, Debug)]
pub struct Cv {
    col: ColumnDef,
    stored: Option<Value>,
    text: Option<String>,
    api_version: u32,
}

impl Cv {
    fn value(&self) -> Option<Json> {
        if Kind::of(&self.col.kind) == Kind::BoardRelation && self.api_version >= 202504 {
            return None;
        }
        self.stored
            .as_ref()
            .map(|v| Json(Value::String(v.to_string())))
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.stored
            .as_ref()
            .and_then(|v| v.get(key))
            .filter(|v| !v.is_null())
    }
    fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(Value::as_str).map(str::to_string)
    }
    fn updated_at(&self) -> Option<Date> {
        self.get_str("changed_at").map(Date)
    }
}

macro_rules! column_value_type {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub Cv);

        #[Object(rename_fields = "snake_case", rename_args = "snake_case")]
        impl $name {
            async fn column(&self) -> Column {
                Column(self.0.col.clone())
            }
            async fn id(&self) -> ID {
                ID(self.0.col.id.clone())
            }
            async fn is_leaf(&self) -> bool {
                true
            }
            async fn text(&self) -> Option<String> {
                self.0.text.clone()
            }
            #[graphql(name = "type")]
            async fn kind(&self) -> ColumnType {
                ColumnType::from_name(&self.0.col.kind)
            }
            async fn value(&self) -> Option<Json> {
                self.0.value()
            }
            $($extra)*
        }
    };
}

/// `StatusLabelStyle`.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatusLabelStyle {
    /// Border colour.
    pub border: String,
    /// Fill colour.
    pub color: String,
}

/// `DropdownValueOption`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DropdownValueOption {
    /// Label id.
    pub id: ID,
    /// Label text.
    pub label: String,
}

/// `PeopleEntity`.
#[derive(SimpleObject, Clone, Debug)]
pub struct PeopleEntity {
    /// User or team id.
    pub id: ID,
    /// `person` or `team`.
    pub kind: Option<Kind_>,
}

/// `Country`.
#[derive(SimpleObject, Clone, Debug)]
pub struct Country {
    /// ISO alpha-2 code.
    pub code: String,
    /// Country name.
    pub name: String,
}

column_value_type!(
    /// `TextValue`.
    TextValue {}
);
column_value_type!(
    /// `LongTextValue`.
    LongTextValue {
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `NumbersValue`.
    NumbersValue {
        async fn number(&self) -> Option<f64> {
            self.0.stored.as_ref().and_then(Value::as_str).and_then(|s| s.parse().ok())
        }
        async fn symbol(&self) -> Option<String> {
            self.0.col.settings()["unit"]["symbol"].as_str().map(str::to_string)
        }
        async fn direction(&self) -> Option<NumberValueUnitDirection> {
            match self.0.col.settings()["unit"]["direction"].as_str() {
                Some("left") => Some(NumberValueUnitDirection::Left),
                Some("right") => Some(NumberValueUnitDirection::Right),
                _ => None,
            }
        }
    }
);
column_value_type!(
    /// `StatusValue`.
    StatusValue {
        async fn index(&self) -> Option<i32> { self.0.get("index").and_then(Value::as_i64).map(|i| i as i32) }
        async fn label(&self) -> Option<String> { self.0.text.clone() }
        async fn is_done(&self) -> Option<bool> {
            let idx = self.0.get("index").and_then(Value::as_i64)?;
            Some(self.0.col.settings()["done_colors"].as_array().is_some_and(|d| d.iter().any(|x| x.as_i64() == Some(idx))))
        }
        async fn label_style(&self) -> Option<StatusLabelStyle> {
            let idx = self.0.get("index").and_then(Value::as_i64)?;
            let s = self.0.col.settings();
            let c = &s["labels_colors"][idx.to_string()];
            Some(StatusLabelStyle { border: c["border"].as_str()?.to_string(), color: c["color"].as_str()?.to_string() })
        }
        async fn update_id(&self) -> Option<ID> { None }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `DropdownValue`.
    DropdownValue {
        async fn values(&self) -> Vec<DropdownValueOption> {
            let labels = columns::dropdown_labels(&self.0.col);
            self.0.get("ids").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_i64)
                .filter_map(|id| labels.iter().find(|(i, _)| *i == id))
                .map(|(i, n)| DropdownValueOption { id: ID(i.to_string()), label: n.clone() }).collect()).unwrap_or_default()
        }
    }
);
column_value_type!(
    /// `DateValue`.
    DateValue {
        async fn date(&self) -> Option<String> { self.0.get_str("date") }
        async fn time(&self) -> Option<String> { self.0.get_str("time") }
        async fn icon(&self) -> Option<String> { self.0.get_str("icon") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `EmailValue`.
    EmailValue {
        async fn email(&self) -> Option<String> { self.0.get_str("email") }
        async fn label(&self) -> Option<String> { self.0.get_str("text") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `PhoneValue`.
    PhoneValue {
        async fn phone(&self) -> Option<String> { self.0.get_str("phone") }
        async fn country_short_name(&self) -> Option<String> { self.0.get_str("countryShortName") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `LinkValue`.
    LinkValue {
        async fn url(&self) -> Option<String> { self.0.get_str("url") }
        async fn url_text(&self) -> Option<String> { self.0.get_str("text") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `CheckboxValue`.
    CheckboxValue {
        async fn checked(&self) -> Option<bool> { Some(self.0.get("checked").and_then(Value::as_bool).unwrap_or(false)) }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `CountryValue`.
    CountryValue {
        async fn country(&self) -> Option<Country> {
            Some(Country { code: self.0.get_str("countryCode")?, name: self.0.get_str("countryName")? })
        }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `PeopleValue`.
    PeopleValue {
        async fn persons_and_teams(&self) -> Option<Vec<PeopleEntity>> {
            let list = self.0.get("personsAndTeams")?.as_array()?;
            Some(list.iter().map(|p| PeopleEntity {
                id: ID(match &p["id"] { Value::String(s) => s.clone(), other => other.to_string() }),
                kind: Some(if p["kind"] == "team" { Kind_::Team } else { Kind_::Person }),
            }).collect())
        }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `BoardRelationValue`.
    BoardRelationValue {
        async fn linked_item_ids(&self) -> Vec<ID> {
            columns::linked_item_ids(self.0.stored.as_ref()).into_iter().map(|i| ID(i.to_string())).collect()
        }
        async fn linked_items(&self, ctx: &Context<'_>) -> Vec<Item> {
            let st = mock(ctx).lock_state();
            columns::linked_item_ids(self.0.stored.as_ref()).into_iter()
                .filter_map(|id| st.items.get(&id)).filter(|i| i.state != "deleted").cloned().map(Item).collect()
        }
        async fn display_value(&self, ctx: &Context<'_>) -> String {
            let st = mock(ctx).lock_state();
            columns::linked_item_ids(self.0.stored.as_ref()).into_iter()
                .filter_map(|id| st.items.get(&id)).filter(|i| i.state != "deleted").map(|i| i.name.clone())
                .collect::<Vec<_>>().join(", ")
        }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `TimelineValue`.
    TimelineValue {
        async fn from(&self) -> Option<Date> { self.0.get_str("from").map(Date) }
        async fn to(&self) -> Option<Date> { self.0.get_str("to").map(Date) }
        async fn visualization_type(&self) -> Option<String> { self.0.get_str("visualization_type") }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);
column_value_type!(
    /// `RatingValue`.
    RatingValue {
        async fn rating(&self) -> Option<i32> { self.0.get("rating").and_then(Value::as_i64).map(|r| r as i32) }
        async fn updated_at(&self) -> Option<Date> { self.0.updated_at() }
    }
);

/// The `ColumnValue` interface.
#[allow(missing_docs)]
#[derive(Interface, Clone, Debug)]
#[graphql(
    rename_fields = "snake_case",
    field(name = "column", ty = "Column"),
    field(name = "id", ty = "ID"),
    field(name = "is_leaf", ty = "bool"),
    field(name = "text", ty = "Option<String>"),
    field(name = "type", method = "kind", ty = "ColumnType"),
    field(name = "value", ty = "Option<Json>")
)]
pub enum ColumnValue {
    TextValue(TextValue),
    LongTextValue(LongTextValue),
    NumbersValue(NumbersValue),
    StatusValue(StatusValue),
    DropdownValue(DropdownValue),
    DateValue(DateValue),
    EmailValue(EmailValue),
    PhoneValue(PhoneValue),
    LinkValue(LinkValue),
    CheckboxValue(CheckboxValue),
    CountryValue(CountryValue),
    PeopleValue(PeopleValue),
    BoardRelationValue(BoardRelationValue),
    TimelineValue(TimelineValue),
    RatingValue(RatingValue),
}

pub(super) fn column_value(
    col: &ColumnDef,
    item: &ItemRec,
    users: &[UserRec],
    api_version: u32,
) -> ColumnValue {
    let stored = item
        .column_values
        .get(&col.id)
        .cloned()
        .filter(|v| !v.is_null());
    let text = columns::render_text(col, stored.as_ref(), users);
    let cv = Cv {
        col: col.clone(),
        stored,
        text,
        api_version,
    };
    match Kind::of(&col.kind) {
        Kind::Text | Kind::Name | Kind::Other => ColumnValue::TextValue(TextValue(cv)),
        Kind::LongText => ColumnValue::LongTextValue(LongTextValue(cv)),
        Kind::Numbers => ColumnValue::NumbersValue(NumbersValue(cv)),
        Kind::Status => ColumnValue::StatusValue(StatusValue(cv)),
        Kind::Dropdown => ColumnValue::DropdownValue(DropdownValue(cv)),
        Kind::Date => ColumnValue::DateValue(DateValue(cv)),
        Kind::Email => ColumnValue::EmailValue(EmailValue(cv)),
        Kind::Phone => ColumnValue::PhoneValue(PhoneValue(cv)),
        Kind::Link => ColumnValue::LinkValue(LinkValue(cv)),
        Kind::Checkbox => ColumnValue::CheckboxValue(CheckboxValue(cv)),
        Kind::Country => ColumnValue::CountryValue(CountryValue(cv)),
        Kind::People => ColumnValue::PeopleValue(PeopleValue(cv)),
        Kind::BoardRelation => ColumnValue::BoardRelationValue(BoardRelationValue(cv)),
        Kind::Timeline => ColumnValue::TimelineValue(TimelineValue(cv)),
        Kind::Rating => ColumnValue::RatingValue(RatingValue(cv)),
    }
}
