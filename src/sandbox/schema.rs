//! The org's metadata: which sObjects the sandbox serves and their fields, built once from the
//! embedded demo describes (`demo-org/describe/*.json`) plus the `custom-fields.json` overlay.
//!
//! Owns the typed view ([`Schema`], [`ObjectSchema`], [`Field`]) and the raw describe JSON served by
//! `rest/describe.rs` (already overlaid, with `childRelationships` and `referenceTo` narrowed to served
//! objects). Lookups of objects and fields are case-insensitive, as in Salesforce. It does not know
//! about users or permissions (see `security/mod.rs`) and never touches the database.
//!
//! The demo schema is parsed once per process and shared ([`Schema::demo`]), so starting several
//! sandboxes (tests) costs the JSON parse only once.

use include_dir::{Dir, include_dir};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The embedded demo org directory (describes, data, security.json, keys).
pub static DEMO_ORG: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/src/sandbox/demo-org");

/// Why the embedded metadata could not be loaded (a bug in the embedded files).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A describe or overlay file is not valid JSON or lacks a required key.
    #[error("embedded describe `{file}` is invalid: {reason}")]
    Invalid {
        /// The file inside `demo-org/`.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// A Salesforce field data type (`type` in describe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum FieldType {
    Id,
    Reference,
    String,
    Textarea,
    Picklist,
    Multipicklist,
    Combobox,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    Datetime,
    Time,
    Email,
    Phone,
    Url,
    EncryptedString,
    Base64,
    Address,
    Location,
    AnyType,
    Other,
}

/// How a field is stored in its SQLite column (see the sandbox contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// TEXT (strings, ids, picklists, dates as `YYYY-MM-DD`, datetimes as `…+0000`).
    Text,
    /// INTEGER (int).
    Integer,
    /// INTEGER 0/1.
    Boolean,
    /// REAL (double, currency, percent).
    Real,
    /// Not a column (compound address/location).
    None,
}

impl FieldType {
    /// Parses the describe `type` string.
    pub fn parse(s: &str) -> FieldType {
        match s {
            "id" => FieldType::Id,
            "reference" => FieldType::Reference,
            "string" => FieldType::String,
            "textarea" => FieldType::Textarea,
            "picklist" => FieldType::Picklist,
            "multipicklist" => FieldType::Multipicklist,
            "combobox" => FieldType::Combobox,
            "boolean" => FieldType::Boolean,
            "int" => FieldType::Int,
            "double" => FieldType::Double,
            "currency" => FieldType::Currency,
            "percent" => FieldType::Percent,
            "date" => FieldType::Date,
            "datetime" => FieldType::Datetime,
            "time" => FieldType::Time,
            "email" => FieldType::Email,
            "phone" => FieldType::Phone,
            "url" => FieldType::Url,
            "encryptedstring" => FieldType::EncryptedString,
            "base64" => FieldType::Base64,
            "address" => FieldType::Address,
            "location" => FieldType::Location,
            "anyType" => FieldType::AnyType,
            _ => FieldType::Other,
        }
    }

    /// The describe `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::Reference => "reference",
            FieldType::String => "string",
            FieldType::Textarea => "textarea",
            FieldType::Picklist => "picklist",
            FieldType::Multipicklist => "multipicklist",
            FieldType::Combobox => "combobox",
            FieldType::Boolean => "boolean",
            FieldType::Int => "int",
            FieldType::Double => "double",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Time => "time",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::EncryptedString => "encryptedstring",
            FieldType::Base64 => "base64",
            FieldType::Address => "address",
            FieldType::Location => "location",
            FieldType::AnyType => "anyType",
            FieldType::Other => "string",
        }
    }

    /// Column storage class.
    pub fn storage(self) -> Storage {
        match self {
            FieldType::Address | FieldType::Location => Storage::None,
            FieldType::Boolean => Storage::Boolean,
            FieldType::Int => Storage::Integer,
            FieldType::Double | FieldType::Currency | FieldType::Percent => Storage::Real,
            _ => Storage::Text,
        }
    }

    /// Whether the type holds text with a `length` limit.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::Textarea
                | FieldType::Picklist
                | FieldType::Multipicklist
                | FieldType::Combobox
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::EncryptedString
        )
    }
}

/// One picklist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PicklistValue {
    /// API value.
    pub value: String,
    /// Display label.
    pub label: String,
    /// Whether the value is active.
    pub active: bool,
    /// Whether it is the default on create.
    pub default: bool,
}

/// A field of a served object.
#[derive(Debug, Clone)]
pub struct Field {
    /// API name, exactly as in describe (also the column name).
    pub name: String,
    /// Label.
    pub label: String,
    /// Data type.
    pub ty: FieldType,
    /// Maximum length for text types (0 when not applicable).
    pub length: u32,
    /// Numeric precision / scale (currency, double, percent).
    pub precision: u32,
    /// Digits after the decimal point.
    pub scale: u32,
    /// May be null.
    pub nillable: bool,
    /// May be set on insert.
    pub createable: bool,
    /// May be set on update.
    pub updateable: bool,
    /// The org fills it on create when absent.
    pub defaulted_on_create: bool,
    /// Picklist values (empty for other types).
    pub picklist: Vec<PicklistValue>,
    /// Whether only listed picklist values are accepted.
    pub restricted_picklist: bool,
    /// Target objects of a reference, narrowed to served objects.
    pub reference_to: Vec<String>,
    /// Relationship name of a lookup (`Account`, `Owner`, `What`), if any.
    pub relationship_name: Option<String>,
    /// Whether this is the object's name field.
    pub name_field: bool,
    /// Marked External ID.
    pub external_id: bool,
    /// Can identify a record (upsert key, SOSL/name lookups).
    pub id_lookup: bool,
    /// The compound field this is a component of (`BillingAddress`, `Name`), if any.
    pub compound_field_name: Option<String>,
    /// Custom field (`__c`).
    pub custom: bool,
    /// Auto-number field (e.g. CaseNumber).
    pub auto_number: bool,
    /// Polymorphic lookup (`WhoId`, `WhatId`).
    pub polymorphic: bool,
    /// `filterable` in describe (usable in WHERE).
    pub filterable: bool,
    /// `sortable` in describe (usable in ORDER BY).
    pub sortable: bool,
    /// `groupable` in describe.
    pub groupable: bool,
    /// `aggregatable` in describe.
    pub aggregatable: bool,
}

impl Field {
    /// Whether the field has its own SQLite column.
    pub fn is_column(&self) -> bool {
        self.ty.storage() != Storage::None
    }

    /// The active picklist value equal to `value` (case-insensitively), if any.
    pub fn picklist_value(&self, value: &str) -> Option<&PicklistValue> {
        self.picklist
            .iter()
            .find(|p| p.active && p.value.eq_ignore_ascii_case(value))
    }

    /// The default picklist value, if one is marked.
    pub fn default_picklist(&self) -> Option<&str> {
        self.picklist
            .iter()
            .find(|p| p.active && p.default)
            .map(|p| p.value.as_str())
    }
}

/// A parent-to-child relationship among served objects (`Account.Contacts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRelationship {
    /// The child object (`Contact`).
    pub child_object: String,
    /// The lookup field on the child (`AccountId`).
    pub field: String,
    /// Relationship name used in subqueries (`Contacts`).
    pub relationship_name: String,
    /// Whether deleting the parent deletes the children.
    pub cascade_delete: bool,
}

/// A served sObject.
#[derive(Debug, Clone)]
pub struct ObjectSchema {
    /// API name (`Opportunity`), also the table name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Plural label.
    pub label_plural: String,
    /// Key prefix (`006`).
    pub key_prefix: String,
    /// Fields in describe order (overlay fields appended).
    pub fields: Vec<Field>,
    field_index: HashMap<String, usize>,
    exact_index: HashMap<String, usize>,
    /// Child relationships whose child object is served.
    pub child_relationships: Vec<ChildRelationship>,
    /// Object-level `createable`/`updateable`/`deletable`/`queryable` flags.
    pub createable: bool,
    /// See `createable`.
    pub updateable: bool,
    /// See `createable`.
    pub deletable: bool,
    /// See `createable`.
    pub queryable: bool,
    /// The full describe JSON (overlaid and narrowed), with placeholder URLs; `rest/describe.rs` rewrites
    /// the version and host when serving it.
    pub describe: Value,
}

impl ObjectSchema {
    /// The field named `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&Field> {
        // Fast path without allocating: the exact API name (the common case on hot write paths).
        if let Some(&i) = self.exact_index.get(name) {
            return Some(&self.fields[i]);
        }
        self.field_index
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.fields[i])
    }

    /// Fields that have a SQLite column, in describe order.
    pub fn columns(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.is_column())
    }

    /// The name field (`Name`, `Subject`, `CaseNumber`, `Title`…).
    pub fn name_field(&self) -> Option<&Field> {
        self.fields.iter().find(|f| f.name_field)
    }

    /// The lookup field whose relationship name is `rel` (case-insensitive), e.g. `Owner` → `OwnerId`.
    pub fn parent_relationship(&self, rel: &str) -> Option<&Field> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(rel))
        })
    }

    /// The child relationship named `rel` (case-insensitive), e.g. `Contacts`.
    pub fn child_relationship(&self, rel: &str) -> Option<&ChildRelationship> {
        self.child_relationships
            .iter()
            .find(|c| c.relationship_name.eq_ignore_ascii_case(rel))
    }

    /// Whether the object has an `IsDeleted` field in describe (every table has the column anyway).
    pub fn has_field(&self, name: &str) -> bool {
        self.field(name).is_some()
    }
}

/// All served objects.
#[derive(Debug, Clone)]
pub struct Schema {
    objects: Vec<ObjectSchema>,
    index: HashMap<String, usize>,
}

impl Schema {
    /// The demo org's schema, parsed once per process.
    ///
    /// # Errors
    /// [`SchemaError`] if the embedded files are broken (a bug).
    pub fn demo() -> Result<Arc<Schema>, SchemaError> {
        static CACHE: OnceLock<Result<Arc<Schema>, String>> = OnceLock::new();
        let cached = CACHE.get_or_init(|| {
            Schema::load(&DEMO_ORG)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        cached.clone().map_err(|reason| SchemaError::Invalid {
            file: "describe".into(),
            reason,
        })
    }

    /// Builds a schema from a demo-org style directory (`describe/*.json`, `custom-fields.json`).
    ///
    /// # Errors
    /// [`SchemaError`] for invalid JSON or missing keys.
    pub fn load(dir: &Dir<'_>) -> Result<Schema, SchemaError> {
        let mut raws: Vec<(String, Value)> = Vec::new();
        let describe_dir = dir
            .get_dir("describe")
            .ok_or_else(|| invalid("describe", "missing directory"))?;
        for file in describe_dir.files() {
            let path = file.path().display().to_string();
            if !path.ends_with(".json") {
                continue;
            }
            let v: Value = serde_json::from_slice(file.contents())
                .map_err(|e| invalid(&path, &e.to_string()))?;
            let name = v["name"]
                .as_str()
                .ok_or_else(|| invalid(&path, "no name"))?
                .to_string();
            raws.push((name, v));
        }
        raws.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(overlay) = dir.get_file("custom-fields.json") {
            let o: Value = serde_json::from_slice(overlay.contents())
                .map_err(|e| invalid("custom-fields.json", &e.to_string()))?;
            if let Some(map) = o.as_object() {
                for (obj, fields) in map {
                    if let Some((_, raw)) = raws.iter_mut().find(|(n, _)| n == obj)
                        && let (Some(list), Some(extra)) =
                            (raw["fields"].as_array_mut(), fields.as_array())
                    {
                        for f in extra {
                            let fname = f["name"].as_str().unwrap_or_default();
                            list.retain(|x| x["name"].as_str() != Some(fname));
                            list.push(f.clone());
                        }
                    }
                }
            }
        }
        let served: Vec<String> = raws.iter().map(|(n, _)| n.clone()).collect();
        let is_served = |n: &str| served.iter().any(|s| s == n);
        let mut objects = Vec::new();
        for (name, mut raw) in raws {
            // Narrow referenceTo and childRelationships to served objects.
            if let Some(fields) = raw["fields"].as_array_mut() {
                for f in fields.iter_mut() {
                    if let Some(refs) = f["referenceTo"].as_array_mut() {
                        refs.retain(|r| r.as_str().is_some_and(is_served));
                    }
                }
            }
            if let Some(rels) = raw["childRelationships"].as_array_mut() {
                rels.retain(|r| r["childSObject"].as_str().is_some_and(is_served));
            }
            let obj = build_object(&name, raw)?;
            objects.push(obj);
        }
        let index = objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.to_ascii_lowercase(), i))
            .collect();
        Ok(Schema { objects, index })
    }

    /// The object named `name` (case-insensitive).
    pub fn object(&self, name: &str) -> Option<&ObjectSchema> {
        self.index
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.objects[i])
    }

    /// All served objects, sorted by name.
    pub fn objects(&self) -> &[ObjectSchema] {
        &self.objects
    }

    /// The object whose key prefix is `prefix` (`006` → Opportunity).
    pub fn object_for_prefix(&self, prefix: &str) -> Option<&ObjectSchema> {
        self.objects.iter().find(|o| o.key_prefix == prefix)
    }
}

fn invalid(file: &str, reason: &str) -> SchemaError {
    SchemaError::Invalid {
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

fn b(v: &Value, key: &str) -> bool {
    v[key].as_bool().unwrap_or(false)
}

fn build_object(name: &str, raw: Value) -> Result<ObjectSchema, SchemaError> {
    let list = raw["fields"]
        .as_array()
        .ok_or_else(|| invalid(name, "no fields"))?;
    let mut fields = Vec::with_capacity(list.len());
    for f in list {
        let fname = f["name"]
            .as_str()
            .ok_or_else(|| invalid(name, "field without name"))?
            .to_string();
        let ty = FieldType::parse(f["type"].as_str().unwrap_or("string"));
        let picklist = f["picklistValues"]
            .as_array()
            .map(|vals| {
                vals.iter()
                    .filter_map(|p| {
                        Some(PicklistValue {
                            value: p["value"].as_str()?.to_string(),
                            label: p["label"].as_str().unwrap_or_default().to_string(),
                            active: b(p, "active"),
                            default: b(p, "defaultValue"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        fields.push(Field {
            label: f["label"].as_str().unwrap_or(&fname).to_string(),
            ty,
            length: f["length"].as_u64().unwrap_or(0) as u32,
            precision: f["precision"].as_u64().unwrap_or(0) as u32,
            scale: f["scale"].as_u64().unwrap_or(0) as u32,
            nillable: b(f, "nillable"),
            createable: b(f, "createable"),
            updateable: b(f, "updateable"),
            defaulted_on_create: b(f, "defaultedOnCreate"),
            picklist,
            restricted_picklist: b(f, "restrictedPicklist"),
            reference_to: f["referenceTo"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            relationship_name: f["relationshipName"].as_str().map(str::to_string),
            name_field: b(f, "nameField"),
            external_id: b(f, "externalId"),
            id_lookup: b(f, "idLookup"),
            compound_field_name: f["compoundFieldName"].as_str().map(str::to_string),
            custom: b(f, "custom"),
            auto_number: b(f, "autoNumber") || (name == "Case" && fname == "CaseNumber"),
            polymorphic: b(f, "polymorphicForeignKey")
                || f["referenceTo"].as_array().is_some_and(|a| a.len() > 1),
            filterable: b(f, "filterable"),
            sortable: b(f, "sortable"),
            groupable: b(f, "groupable"),
            aggregatable: b(f, "aggregatable"),
            name: fname,
        });
    }
    let field_index = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
        .collect();
    let exact_index = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), i))
        .collect();
    let child_relationships = raw["childRelationships"]
        .as_array()
        .map(|rels| {
            rels.iter()
                .filter_map(|r| {
                    Some(ChildRelationship {
                        child_object: r["childSObject"].as_str()?.to_string(),
                        field: r["field"].as_str()?.to_string(),
                        relationship_name: r["relationshipName"].as_str()?.to_string(),
                        cascade_delete: b(r, "cascadeDelete"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ObjectSchema {
        name: name.to_string(),
        label: raw["label"].as_str().unwrap_or(name).to_string(),
        label_plural: raw["labelPlural"].as_str().unwrap_or(name).to_string(),
        key_prefix: raw["keyPrefix"].as_str().unwrap_or_default().to_string(),
        fields,
        field_index,
        exact_index,
        child_relationships,
        createable: b(&raw, "createable"),
        updateable: b(&raw, "updateable"),
        deletable: b(&raw, "deletable"),
        queryable: b(&raw, "queryable"),
        describe: raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_schema_serves_the_demo_objects_with_overlay() {
        let s = Schema::demo().unwrap();
        let opp = s.object("opportunity").unwrap();
        assert_eq!(opp.name, "Opportunity");
        assert_eq!(opp.key_prefix, "006");
        let stage = opp.field("stagename").unwrap();
        assert_eq!(stage.ty, FieldType::Picklist);
        assert!(stage.picklist_value("closed won").is_some());
        assert!(
            opp.field("Budget_Approved__c").is_some(),
            "custom-fields.json overlay applied"
        );
        assert_eq!(
            opp.parent_relationship("account").unwrap().name,
            "AccountId"
        );
        let acct = s.object("Account").unwrap();
        assert!(acct.child_relationship("Opportunities").is_some());
        assert!(
            acct.child_relationships
                .iter()
                .all(|c| s.object(&c.child_object).is_some())
        );
        assert!(!acct.field("BillingAddress").unwrap().is_column());
        assert_eq!(s.object_for_prefix("500").unwrap().name, "Case");
        assert!(s.object("Campaign").is_none());
        // referenceTo narrowed to served objects.
        let what = s.object("Event").unwrap().field("WhatId").unwrap();
        assert!(what.reference_to.iter().all(|r| s.object(r).is_some()));
        assert!(what.polymorphic);
    }
}
