//! Object definitions loaded from `sobjects/<Object>.describe.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::MockError;

/// One field of an object, with the describe attributes the mock enforces.
#[derive(Clone, Debug)]
pub struct FieldDef {
    /// API name (`LastName`, `Monday_Item_Id__c`).
    pub name: String,
    /// Label (used in error messages).
    pub label: String,
    /// Describe type (`string`, `picklist`, `reference`, …).
    pub ftype: String,
    /// Maximum length for text types.
    pub length: u64,
    /// Whether null is allowed.
    pub nillable: bool,
    /// Settable on create.
    pub createable: bool,
    /// Settable on update.
    pub updateable: bool,
    /// The org fills a value on create.
    pub defaulted_on_create: bool,
    /// Describe `defaultValue`.
    pub default_value: Value,
    /// External id.
    pub external_id: bool,
    /// Unique.
    pub unique: bool,
    /// Usable to look records up (upsert key).
    pub id_lookup: bool,
    /// Case sensitivity of unique values.
    pub case_sensitive: bool,
    /// Active picklist values.
    pub picklist: Vec<String>,
    /// Restricted picklist.
    pub restricted: bool,
    /// Objects a reference may point to.
    pub reference_to: Vec<String>,
    /// Relationship name for parent traversal (`Account`, `Linked_Account__r`).
    pub relationship_name: Option<String>,
    /// Numeric precision (total digits).
    pub precision: u32,
    /// Numeric scale.
    pub scale: u32,
}

impl FieldDef {
    fn from_json(v: &Value) -> Option<FieldDef> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        Some(FieldDef {
            name: s("name")?,
            label: s("label").unwrap_or_default(),
            ftype: s("type")?,
            length: n("length"),
            nillable: b("nillable"),
            createable: b("createable"),
            updateable: b("updateable"),
            defaulted_on_create: b("defaultedOnCreate"),
            default_value: v.get("defaultValue").cloned().unwrap_or(Value::Null),
            external_id: b("externalId"),
            unique: b("unique"),
            id_lookup: b("idLookup"),
            case_sensitive: b("caseSensitive"),
            picklist: v
                .get("picklistValues")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter(|p| p.get("active").and_then(Value::as_bool).unwrap_or(true))
                        .filter_map(|p| p.get("value").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            restricted: b("restrictedPicklist"),
            reference_to: v
                .get("referenceTo")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            relationship_name: s("relationshipName"),
            precision: n("precision") as u32,
            scale: n("scale") as u32,
        })
    }

    /// True for the text-like types stored as JSON strings.
    pub fn is_text(&self) -> bool {
        matches!(
            self.ftype.as_str(),
            "string"
                | "textarea"
                | "phone"
                | "url"
                | "email"
                | "picklist"
                | "multipicklist"
                | "combobox"
                | "encryptedstring"
        )
    }

    /// True for the numeric types.
    pub fn is_number(&self) -> bool {
        matches!(
            self.ftype.as_str(),
            "int" | "double" | "currency" | "percent" | "long"
        )
    }

    /// Required on create: not nillable, createable, not defaulted, not boolean.
    pub fn required_on_create(&self) -> bool {
        !self.nillable && self.createable && !self.defaulted_on_create && self.ftype != "boolean"
    }
}

/// An object definition.
#[derive(Clone, Debug)]
pub struct ObjectDef {
    /// API name (`Lead`, `Program__c`).
    pub name: String,
    /// Key prefix (`00Q`).
    pub key_prefix: String,
    /// Label.
    pub label: String,
    /// The full describe body, served as is.
    pub describe: Value,
    /// Fields in describe order.
    pub fields: Vec<FieldDef>,
}

impl ObjectDef {
    /// Case-insensitive field lookup.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Field whose relationship name matches (case-insensitive).
    pub fn relationship(&self, rel: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(rel))
        })
    }

    /// Record type Ids declared in `recordTypeInfos`.
    pub fn record_type_ids(&self) -> Vec<String> {
        self.describe
            .get("recordTypeInfos")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        r.get("recordTypeId")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The global-describe summary of this object (describe minus fields and other detail).
    pub fn summary(&self, version: &str) -> Value {
        const DROP: &[&str] = &[
            "fields",
            "childRelationships",
            "recordTypeInfos",
            "actionOverrides",
            "namedLayoutInfos",
            "supportedScopes",
            "sobjectDescribeOption",
            "compactLayoutable",
            "defaultImplementation",
            "extendedBy",
            "extendsInterfaces",
            "implementedBy",
            "implementsInterfaces",
            "listviewable",
            "lookupLayoutable",
            "networkScopeFieldName",
            "searchLayoutable",
        ];
        let mut out = serde_json::Map::new();
        if let Value::Object(m) = &self.describe {
            for (k, v) in m {
                if !DROP.contains(&k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out.insert("urls".into(), urls(&self.name, version));
        Value::Object(out)
    }

    /// The describe body with its urls rewritten for `version`.
    pub fn describe_for(&self, version: &str) -> Value {
        let mut d = self.describe.clone();
        if let Value::Object(m) = &mut d {
            m.insert("urls".into(), urls(&self.name, version));
        }
        d
    }
}

fn urls(obj: &str, version: &str) -> Value {
    let base = format!("/services/data/v{version}/sobjects/{obj}");
    serde_json::json!({
        "compactLayouts": format!("{base}/describe/compactLayouts"),
        "rowTemplate": format!("{base}/{{ID}}"),
        "approvalLayouts": format!("{base}/describe/approvalLayouts"),
        "listviews": format!("{base}/listviews"),
        "describe": format!("{base}/describe"),
        "quickActions": format!("{base}/quickActions"),
        "layouts": format!("{base}/describe/layouts"),
        "sobject": base,
    })
}

/// All object definitions, keyed by lower-case name.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    objects: BTreeMap<String, ObjectDef>,
}

impl Schema {
    /// Loads every `sobjects/*.describe.json` under `seed_dir`.
    pub fn load(seed_dir: &Path) -> Result<Schema, MockError> {
        let dir = seed_dir.join("sobjects");
        let entries = std::fs::read_dir(&dir).map_err(|source| MockError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut objects = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|source| MockError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".describe.json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| MockError::Io {
                path: path.clone(),
                source,
            })?;
            let describe: Value =
                serde_json::from_str(&text).map_err(|source| MockError::Json {
                    path: path.clone(),
                    source,
                })?;
            let get = |k: &str| describe.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(name), Some(key_prefix)) = (get("name"), get("keyPrefix")) else {
                return Err(MockError::Seed(format!(
                    "{}: describe lacks name or keyPrefix",
                    path.display()
                )));
            };
            let fields = describe
                .get("fields")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(FieldDef::from_json).collect::<Vec<_>>())
                .unwrap_or_default();
            if fields.iter().all(|f| f.name != "Id") {
                return Err(MockError::Seed(format!(
                    "{}: describe has no Id field",
                    path.display()
                )));
            }
            let label = get("label").unwrap_or_else(|| name.clone());
            objects.insert(
                name.to_ascii_lowercase(),
                ObjectDef {
                    name,
                    key_prefix,
                    label,
                    describe,
                    fields,
                },
            );
        }
        if objects.is_empty() {
            return Err(MockError::Seed(format!(
                "no *.describe.json in {}",
                dir.display()
            )));
        }
        Ok(Schema { objects })
    }

    /// Case-insensitive object lookup.
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        self.objects.get(&name.to_ascii_lowercase())
    }

    /// The object owning a key prefix.
    pub fn by_prefix(&self, prefix: &str) -> Option<&ObjectDef> {
        self.objects.values().find(|o| o.key_prefix == prefix)
    }

    /// All objects, sorted by name.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectDef> {
        self.objects.values()
    }
}
