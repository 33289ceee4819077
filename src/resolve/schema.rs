//! Describe metadata per user: the fields, labels, types, picklists and field permissions of each
//! object as the org shows them to *this* user, cached under `SAYSO_HOME/cache/describe/<user>/` and
//! revalidated with `If-Modified-Since` once the cached copy is older than its freshness window.
//!
//! Owns the cache files only. Fetches through [`Org`]; a fresh cache hit makes no call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::salesforce::{Org, OrgError};

/// How long a cached describe is used without asking the org.
const FRESH_SECS: i64 = 15 * 60;

/// One active or inactive picklist entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawPicklistValue")]
pub struct PicklistValue {
    /// API value.
    pub value: String,
    /// Label shown to users.
    pub label: String,
    /// Whether it may be chosen.
    pub active: bool,
}

/// A picklist entry as the describe gives it: its label is its value when not given, and it is
/// active unless it says otherwise.
#[derive(Deserialize)]
struct RawPicklistValue {
    #[serde(default)]
    value: String,
    label: Option<String>,
    active: Option<bool>,
}

impl From<RawPicklistValue> for PicklistValue {
    fn from(p: RawPicklistValue) -> Self {
        PicklistValue {
            label: p.label.unwrap_or_else(|| p.value.clone()),
            value: p.value,
            active: p.active.unwrap_or(true),
        }
    }
}

/// One field of an object, as this user sees it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FieldDescribe {
    /// API name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Salesforce type (`string`, `picklist`, `date`, `currency`, `reference`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The user may edit it.
    pub updateable: bool,
    /// The user may set it on create.
    pub createable: bool,
    /// Picklist entries.
    #[serde(rename = "picklistValues")]
    pub picklist: Vec<PicklistValue>,
    /// Objects a reference points to.
    pub reference_to: Vec<String>,
    /// Custom field (`__c`).
    pub custom: bool,
}

/// An object's describe, reduced to what resolution needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ObjectDescribe {
    /// API name.
    pub name: String,
    /// Label.
    pub label: String,
    /// The user may create records.
    pub createable: bool,
    /// The user may edit records.
    pub updateable: bool,
    /// Fields visible to the user.
    pub fields: Vec<FieldDescribe>,
}

impl ObjectDescribe {
    /// Parses a describe JSON document (absent keys read as empty, `false`, none; a document that
    /// is not a describe reads as an object with no fields).
    pub fn from_json(v: &Value) -> ObjectDescribe {
        ObjectDescribe::deserialize(v).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a describe could not be read; its object shows no fields");
            ObjectDescribe::default()
        })
    }

    /// The field with this API name (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&FieldDescribe> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// The per-user describe cache.
pub struct SchemaCache {
    dir: Option<PathBuf>,
    mem: HashMap<String, Arc<ObjectDescribe>>,
    now: i64,
}

impl SchemaCache {
    /// A cache stored in `dir` (one JSON file per object), or memory only when `None`.
    pub fn new(dir: Option<PathBuf>) -> SchemaCache {
        SchemaCache {
            dir,
            mem: HashMap::new(),
            now: chrono::Utc::now().timestamp(),
        }
    }

    /// As [`SchemaCache::new`], with "now" given (Unix seconds) — for tests of the freshness window.
    pub fn new_at(dir: Option<PathBuf>, now: i64) -> SchemaCache {
        SchemaCache {
            dir,
            mem: HashMap::new(),
            now,
        }
    }

    fn file(&self, object: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{object}.json")))
    }

    /// The describe of `object` for this user: memory, then a fresh file, then the org
    /// (conditionally when a stale file exists).
    ///
    /// # Errors
    /// [`OrgError`] when the org refuses (e.g. the object is not visible to the user).
    pub async fn describe(
        &mut self,
        org: &Org,
        object: &str,
    ) -> Result<Arc<ObjectDescribe>, OrgError> {
        if let Some(d) = self.mem.get(object) {
            return Ok(d.clone());
        }
        let cached: Option<Value> = self
            .file(object)
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(c) = &cached {
            let fetched = c.get("fetched_at").and_then(Value::as_i64).unwrap_or(0);
            if self.now - fetched < FRESH_SECS
                && let Some(d) = c.get("describe")
            {
                return Ok(self.keep(object, ObjectDescribe::from_json(d)));
            }
        }
        let since = cached
            .as_ref()
            .and_then(|c| c.get("last_modified"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match org.describe(object, since.as_deref()).await? {
            None => {
                let c = cached.unwrap_or(Value::Null);
                let doc = c.get("describe").cloned().unwrap_or(Value::Null);
                self.store(object, &doc, since.as_deref());
                Ok(self.keep(object, ObjectDescribe::from_json(&doc)))
            }
            Some((doc, last_modified)) => {
                let lm = last_modified.or_else(|| {
                    Some(
                        chrono::Utc::now()
                            .format("%a, %d %b %Y %H:%M:%S GMT")
                            .to_string(),
                    )
                });
                self.store(object, &doc, lm.as_deref());
                Ok(self.keep(object, ObjectDescribe::from_json(&doc)))
            }
        }
    }

    fn keep(&mut self, object: &str, d: ObjectDescribe) -> Arc<ObjectDescribe> {
        let d = Arc::new(d);
        self.mem.insert(object.to_string(), d.clone());
        d
    }

    fn store(&self, object: &str, doc: &Value, last_modified: Option<&str>) {
        let Some(path) = self.file(object) else {
            return;
        };
        if let Some(dir) = path.parent()
            && std::fs::create_dir_all(dir).is_err()
        {
            return;
        }
        let body = serde_json::json!({"fetched_at": self.now, "last_modified": last_modified, "describe": doc});
        let tmp = path.with_extension("json.tmp");
        // A cache write that fails only costs a describe call next time.
        if std::fs::write(&tmp, body.to_string()).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_picklists() {
        let doc = serde_json::json!({"name": "Opportunity", "label": "Opportunity", "createable": true, "updateable": true,
            "fields": [{"name": "StageName", "label": "Stage", "type": "picklist", "updateable": true, "createable": true,
              "picklistValues": [{"value": "Prospecting", "label": "Prospecting", "active": true}], "referenceTo": []}]});
        let d = ObjectDescribe::from_json(&doc);
        assert_eq!(
            d.field("stagename").unwrap().picklist[0].value,
            "Prospecting"
        );
        assert!(d.field("Amount").is_none());
    }
}
