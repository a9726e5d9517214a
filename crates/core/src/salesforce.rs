//! Input shapes from Salesforce: the subset of `GET /sobjects/<Object>/describe` the mapping needs.

use serde::{Deserialize, Serialize};

/// An sObject describe (`GET /services/data/vXX.X/sobjects/<Object>/describe`), trimmed to what the
/// mapping validation needs. Unknown attributes are ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SObjectDescribe {
    /// API name, e.g. `Lead` or `Program__c`.
    pub name: String,
    /// Fields.
    #[serde(default)]
    pub fields: Vec<FieldDescribe>,
    /// Record types.
    #[serde(default)]
    pub record_type_infos: Vec<RecordTypeInfo>,
}

impl SObjectDescribe {
    /// A field by API name (case-insensitive, as Salesforce treats API names).
    pub fn field(&self, name: &str) -> Option<&FieldDescribe> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// One field of a describe.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldDescribe {
    /// API name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Salesforce type: `string`, `textarea`, `picklist`, `multipicklist`, `date`, `datetime`,
    /// `double`, `currency`, `percent`, `int`, `boolean`, `email`, `phone`, `url`, `reference`, `id`, ...
    #[serde(rename = "type")]
    pub field_type: String,
    /// Maximum length in characters for text types (0 otherwise).
    pub length: u64,
    /// Whether the field accepts null.
    pub nillable: bool,
    /// Whether the field can be set on create.
    pub createable: bool,
    /// Whether the field can be set on update.
    pub updateable: bool,
    /// Whether Salesforce fills the field on create when it is omitted.
    pub defaulted_on_create: bool,
    /// Whether the field is an external id.
    pub external_id: bool,
    /// Whether the field is unique.
    pub unique: bool,
    /// Whether the field is a formula/roll-up.
    pub calculated: bool,
    /// Picklist values (picklist and multipicklist).
    pub picklist_values: Vec<PicklistValue>,
    /// Whether only the listed picklist values are accepted.
    pub restricted_picklist: bool,
    /// Objects a reference field points to.
    pub reference_to: Vec<String>,
}

impl FieldDescribe {
    /// Required on create: createable, not nillable and not defaulted on create.
    pub fn required_on_create(&self) -> bool {
        self.createable && !self.nillable && !self.defaulted_on_create && !self.calculated
    }

    /// Whether `value` is an active picklist value of this field.
    pub fn has_picklist_value(&self, value: &str) -> bool {
        self.picklist_values
            .iter()
            .any(|p| p.active && p.value == value)
    }
}

/// A picklist entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PicklistValue {
    /// Whether the value can be selected.
    pub active: bool,
    /// API value.
    pub value: String,
    /// Display label.
    pub label: Option<String>,
}

/// A record type of an object.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RecordTypeInfo {
    /// Record type id (`012...`).
    pub record_type_id: String,
    /// Name.
    pub name: String,
    /// Whether users can pick it.
    pub available: bool,
}

/// Whether `s` has the shape of a Salesforce record id: 15 or 18 ASCII letters and digits.
pub fn is_salesforce_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}
