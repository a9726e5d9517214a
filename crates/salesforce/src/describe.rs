//! Typed `describe` and global describe results (the raw JSON is kept alongside).

use serde::{Deserialize, Deserializer, Serialize};

/// A Salesforce field type (`type` of a describe field). Unknown types are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub enum FieldType {
    /// `id`
    Id,
    /// `boolean`
    Boolean,
    /// `string`
    String,
    /// `textarea`
    TextArea,
    /// `picklist`
    Picklist,
    /// `multipicklist`
    MultiPicklist,
    /// `combobox`
    Combobox,
    /// `reference`
    Reference,
    /// `currency`
    Currency,
    /// `double`
    Double,
    /// `percent`
    Percent,
    /// `int`
    Int,
    /// `long`
    Long,
    /// `date`
    Date,
    /// `datetime`
    DateTime,
    /// `time`
    Time,
    /// `email`
    Email,
    /// `phone`
    Phone,
    /// `url`
    Url,
    /// `encryptedstring`
    EncryptedString,
    /// `base64`
    Base64,
    /// `address` (compound)
    Address,
    /// `location` (compound)
    Location,
    /// `anyType`
    AnyType,
    /// Any other type name.
    Other(String),
}

impl FieldType {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            FieldType::Id => "id",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
            FieldType::TextArea => "textarea",
            FieldType::Picklist => "picklist",
            FieldType::MultiPicklist => "multipicklist",
            FieldType::Combobox => "combobox",
            FieldType::Reference => "reference",
            FieldType::Currency => "currency",
            FieldType::Double => "double",
            FieldType::Percent => "percent",
            FieldType::Int => "int",
            FieldType::Long => "long",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Time => "time",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::EncryptedString => "encryptedstring",
            FieldType::Base64 => "base64",
            FieldType::Address => "address",
            FieldType::Location => "location",
            FieldType::AnyType => "anyType",
            FieldType::Other(s) => s,
        }
    }
}

impl From<&str> for FieldType {
    fn from(s: &str) -> Self {
        match s {
            "id" => FieldType::Id,
            "boolean" => FieldType::Boolean,
            "string" => FieldType::String,
            "textarea" => FieldType::TextArea,
            "picklist" => FieldType::Picklist,
            "multipicklist" => FieldType::MultiPicklist,
            "combobox" => FieldType::Combobox,
            "reference" => FieldType::Reference,
            "currency" => FieldType::Currency,
            "double" => FieldType::Double,
            "percent" => FieldType::Percent,
            "int" => FieldType::Int,
            "long" => FieldType::Long,
            "date" => FieldType::Date,
            "datetime" => FieldType::DateTime,
            "time" => FieldType::Time,
            "email" => FieldType::Email,
            "phone" => FieldType::Phone,
            "url" => FieldType::Url,
            "encryptedstring" => FieldType::EncryptedString,
            "base64" => FieldType::Base64,
            "address" => FieldType::Address,
            "location" => FieldType::Location,
            "anyType" => FieldType::AnyType,
            other => FieldType::Other(other.to_string()),
        }
    }
}

impl From<FieldType> for String {
    fn from(t: FieldType) -> String {
        t.as_str().to_string()
    }
}

impl<'de> Deserialize<'de> for FieldType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(FieldType::from(s.as_str()))
    }
}

/// One picklist entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PicklistValue {
    /// API value.
    pub value: String,
    /// Display label.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether the value is active.
    #[serde(default)]
    pub active: bool,
    /// Whether this is the default value.
    #[serde(default)]
    pub default_value: bool,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A field of an sObject describe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    /// API name.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Maximum length for text fields (0 otherwise).
    #[serde(default)]
    pub length: u32,
    /// Digits for integer fields.
    #[serde(default)]
    pub digits: u32,
    /// Precision for numbers.
    #[serde(default)]
    pub precision: u32,
    /// Scale for numbers.
    #[serde(default)]
    pub scale: u32,
    /// Accepts null.
    #[serde(default)]
    pub nillable: bool,
    /// Can be set on create.
    #[serde(default)]
    pub createable: bool,
    /// Can be set on update.
    #[serde(default)]
    pub updateable: bool,
    /// Gets a value on create when none is given.
    #[serde(default)]
    pub defaulted_on_create: bool,
    /// Is an external id (usable for upsert).
    #[serde(default)]
    pub external_id: bool,
    /// Unique.
    #[serde(default)]
    pub unique: bool,
    /// Custom field (`__c`).
    #[serde(default)]
    pub custom: bool,
    /// Calculated (formula) field.
    #[serde(default)]
    pub calculated: bool,
    /// Picklist values (empty for other types).
    #[serde(default, deserialize_with = "null_as_default")]
    pub picklist_values: Vec<PicklistValue>,
    /// Only listed picklist values are accepted.
    #[serde(default)]
    pub restricted_picklist: bool,
    /// Target sObjects of a reference.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reference_to: Vec<String>,
    /// Relationship name of a reference (e.g. `Account` for `AccountId`).
    #[serde(default)]
    pub relationship_name: Option<String>,
}

impl FieldDescribe {
    /// Required on create: createable, not nillable and not defaulted by Salesforce
    /// (booleans are not nillable but default to false, so they are not required).
    pub fn is_required_on_create(&self) -> bool {
        self.createable
            && !self.nillable
            && !self.defaulted_on_create
            && self.field_type != FieldType::Boolean
    }

    /// Active picklist values.
    pub fn active_picklist_values(&self) -> impl Iterator<Item = &str> {
        self.picklist_values
            .iter()
            .filter(|p| p.active)
            .map(|p| p.value.as_str())
    }
}

/// The typed part of `GET /sobjects/{name}/describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectDescribeTyped {
    /// API name.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Custom object.
    #[serde(default)]
    pub custom: bool,
    /// Records can be created.
    #[serde(default)]
    pub createable: bool,
    /// Records can be updated.
    #[serde(default)]
    pub updateable: bool,
    /// Records can be deleted.
    #[serde(default)]
    pub deletable: bool,
    /// Queryable.
    #[serde(default)]
    pub queryable: bool,
    /// Key prefix (first 3 characters of ids).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Fields.
    #[serde(default)]
    pub fields: Vec<FieldDescribe>,
}

/// An sObject describe: typed fields plus the full raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SObjectDescribe {
    /// Typed view.
    pub describe: SObjectDescribeTyped,
    /// The response as received.
    pub raw: serde_json::Value,
}

impl SObjectDescribe {
    /// Parses a describe response.
    pub fn from_json(raw: serde_json::Value) -> Result<Self, serde_json::Error> {
        let describe = SObjectDescribeTyped::deserialize(&raw)?;
        Ok(SObjectDescribe { describe, raw })
    }

    /// API name.
    pub fn name(&self) -> &str {
        &self.describe.name
    }

    /// The fields.
    pub fn fields(&self) -> &[FieldDescribe] {
        &self.describe.fields
    }

    /// A field by API name (case-insensitive, as Salesforce treats names).
    pub fn field(&self, name: &str) -> Option<&FieldDescribe> {
        self.describe
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Fields usable for upsert.
    pub fn external_id_fields(&self) -> impl Iterator<Item = &FieldDescribe> {
        self.describe.fields.iter().filter(|f| f.external_id)
    }

    /// Fields that must be given on create.
    pub fn required_fields(&self) -> impl Iterator<Item = &FieldDescribe> {
        self.describe
            .fields
            .iter()
            .filter(|f| f.is_required_on_create())
    }
}

/// An entry of the global describe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectSummary {
    /// API name.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Custom object.
    #[serde(default)]
    pub custom: bool,
    /// Key prefix.
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Createable.
    #[serde(default)]
    pub createable: bool,
    /// Updateable.
    #[serde(default)]
    pub updateable: bool,
    /// Deletable.
    #[serde(default)]
    pub deletable: bool,
    /// Queryable.
    #[serde(default)]
    pub queryable: bool,
}

/// `GET /sobjects`: typed list plus raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalDescribe {
    /// Encoding (`UTF-8`).
    pub encoding: Option<String>,
    /// `maxBatchSize`.
    pub max_batch_size: Option<u32>,
    /// The objects.
    pub sobjects: Vec<SObjectSummary>,
    /// The response as received.
    pub raw: serde_json::Value,
}

impl GlobalDescribe {
    /// Parses a global describe response.
    pub fn from_json(raw: serde_json::Value) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct G {
            #[serde(default)]
            encoding: Option<String>,
            #[serde(default)]
            max_batch_size: Option<u32>,
            #[serde(default)]
            sobjects: Vec<SObjectSummary>,
        }
        let g = G::deserialize(&raw)?;
        Ok(GlobalDescribe {
            encoding: g.encoding,
            max_batch_size: g.max_batch_size,
            sobjects: g.sobjects,
            raw,
        })
    }

    /// An object by name (case-insensitive).
    pub fn sobject(&self, name: &str) -> Option<&SObjectSummary> {
        self.sobjects
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/work/shared/reference/salesforce/recorded";

    fn load(name: &str) -> serde_json::Value {
        let path = format!("{DIR}/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("reference file {path} is required by this test but could not be read: {e}")
        });
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn every_recorded_describe_parses_with_all_fields() {
        for obj in [
            "Lead",
            "Account",
            "Contact",
            "Opportunity",
            "Case",
            "Event",
            "OpportunityContactRole",
        ] {
            let raw = load(&format!("cumulusci_describe_{obj}.json"));
            let n = raw["fields"].as_array().unwrap().len();
            let d = SObjectDescribe::from_json(raw).unwrap();
            assert_eq!(d.name(), obj);
            assert_eq!(d.fields().len(), n, "{obj}");
            assert!(
                d.fields()
                    .iter()
                    .all(|f| !matches!(f.field_type, FieldType::Other(_))),
                "{obj} has a field type this crate does not know: {:?}",
                d.fields()
                    .iter()
                    .filter(|f| matches!(f.field_type, FieldType::Other(_)))
                    .map(|f| f.field_type.as_str())
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn lead_describe_exposes_required_picklists_and_references() {
        let d = SObjectDescribe::from_json(load("cumulusci_describe_Lead.json")).unwrap();
        let status = d.field("Status").unwrap();
        assert_eq!(status.field_type, FieldType::Picklist);
        assert!(status.defaulted_on_create);
        assert!(status
            .picklist_values
            .iter()
            .any(|p| p.value == "Open - Not Contacted" && p.default_value));
        let last = d.field("lastname").unwrap();
        assert_eq!(last.field_type, FieldType::String);
        assert_eq!(last.length, 80);
        assert!(last.is_required_on_create());
        let required: Vec<&str> = d.required_fields().map(|f| f.name.as_str()).collect();
        assert!(required.contains(&"LastName"), "{required:?}");
        assert!(required.contains(&"Company"), "{required:?}");
        let owner = d.field("OwnerId").unwrap();
        assert_eq!(
            owner.reference_to,
            vec!["Group".to_string(), "User".to_string()]
        );
        assert_eq!(d.raw["name"], "Lead");
    }

    #[test]
    fn recorded_global_describe_parses() {
        let g = GlobalDescribe::from_json(load("cumulusci_describe_Global.json")).unwrap();
        assert_eq!(g.encoding.as_deref(), Some("UTF-8"));
        assert_eq!(g.max_batch_size, Some(200));
        assert_eq!(
            g.sobject("account").unwrap().key_prefix.as_deref(),
            Some("001")
        );
        assert!(g.sobject("Lead").is_some());
    }
}
