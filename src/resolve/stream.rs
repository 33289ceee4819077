//! Streamed bulk updates: for a filter that matches more records than one Bulk API job needs to
//! hold ("set the next step on all my opportunities in qualification" over a million rows), the
//! resolver returns the filter's query and one [`Rule`] per field instead of a step per record
//! ([`super::Resolution::Stream`]). `app` reads the query's pages into a journal stage with
//! [`BulkSource::change_for`], so memory stays flat in the number of records.
//!
//! Owns the per-record rule only: permissions are checked and lookups resolved once, when the
//! source is built (in `resolve`). Never queries or writes.

use serde_json::{Map, Value as Json};

use super::ResolveError;
use super::field::{FieldValue, coerce};
use super::record::display_name;
use super::schema::FieldDescribe;
use crate::journal::{Op, PlannedChange};
use crate::lang::FieldChange;
use crate::soql::ast::{FieldPath, Query, SelectItem};
use crate::soql::builder::to_soql;

/// What a field is set to on each record.
#[derive(Debug, Clone)]
pub enum RuleValue {
    /// A value as said, coerced against each record's current value (so "add 10k" and "push out
    /// a week" work per record).
    Said(FieldChange),
    /// One value for every record (a resolved lookup, an owner, a completed status).
    Fixed(Json),
}

/// One field a streamed update writes.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The field (already checked writable for this user).
    pub field: FieldDescribe,
    /// Its new value.
    pub value: RuleValue,
}

/// A bulk update's records, still in the org: the first query page, the next page's URL, and
/// the rules that turn each record into a change.
#[derive(Debug, Clone)]
pub struct BulkSource {
    /// Object API name.
    pub sobject: String,
    /// What the intent is (`update_fields`, `reassign`, `complete_task`).
    pub intent: String,
    /// `totalSize` of the query: how many records matched when it ran.
    pub total: u64,
    /// The filter's query (escaped by construction); [`BulkSource::bulk_soql`] reads the same
    /// records through a Bulk API 2.0 query job.
    pub query: Query,
    /// The first page of rows.
    pub first: Vec<Json>,
    /// The next page (`nextRecordsUrl`), if any.
    pub next: Option<String>,
    /// One rule per field.
    pub rules: Vec<Rule>,
}

impl BulkSource {
    /// The change a row gets, or `None` when it already holds every new value.
    ///
    /// # Errors
    /// [`ResolveError::Invalid`] when a value can't be applied to this record (e.g. a date moved
    /// on a record that has none).
    pub fn change_for(&self, row: &Json) -> Result<Option<PlannedChange>, ResolveError> {
        let mut old = Map::new();
        let mut new = Map::new();
        for rule in &self.rules {
            let name = &rule.field.name;
            let current = row.get(name);
            let v = match &rule.value {
                RuleValue::Fixed(v) => v.clone(),
                RuleValue::Said(c) => match coerce(&rule.field, c, current)? {
                    FieldValue::Literal(j) => j,
                    // Lookups are resolved when the source is built; this is not reached.
                    FieldValue::Lookup { name, .. } => {
                        return Err(ResolveError::Invalid(format!(
                            "`{name}` for {} was not resolved",
                            rule.field.label
                        )));
                    }
                },
            };
            if current.is_some_and(|cur| super::same_value(cur, &v)) {
                continue;
            }
            old.insert(name.clone(), current.cloned().unwrap_or(Json::Null));
            new.insert(name.clone(), v);
        }
        if new.is_empty() {
            return Ok(None);
        }
        Ok(Some(PlannedChange {
            op: Op::Update,
            sobject: self.sobject.clone(),
            record_id: row.get("Id").and_then(Json::as_str).map(str::to_string),
            name: display_name(&self.sobject, row),
            old: Json::Object(old),
            new: Json::Object(new),
        }))
    }

    /// The fields the changes write, in rule order (the Bulk CSV's columns after `Id`).
    pub fn columns(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.field.name.clone()).collect()
    }

    /// The filter's query for a Bulk API 2.0 query job: the same records, selecting only what
    /// a change needs (the id, the name fields, the rule fields), in no particular order.
    pub fn bulk_soql(&self) -> String {
        const NAME_FIELDS: [&str; 7] = [
            "Id",
            "Name",
            "CaseNumber",
            "Subject",
            "Title",
            "FirstName",
            "LastName",
        ];
        let mut q = self.query.clone();
        let rule_fields = self.columns();
        let single = |item: &SelectItem| match item {
            SelectItem::Field { path, .. } if path.0.len() == 1 => Some(path.0[0].clone()),
            _ => None,
        };
        q.select.retain(|item| {
            single(item)
                .is_some_and(|f| NAME_FIELDS.contains(&f.as_str()) || rule_fields.contains(&f))
        });
        for f in &rule_fields {
            if !q.select.iter().any(|i| single(i).as_ref() == Some(f)) {
                q.select.push(SelectItem::Field {
                    path: FieldPath(vec![f.clone()]),
                    alias: None,
                });
            }
        }
        q.order_by.clear();
        to_soql(&q)
    }

    /// A Bulk query row (every value a string, empty cells null) with the rule fields' values
    /// typed as the REST API gives them (numbers, booleans), so they compare and coerce alike.
    pub fn typed(&self, mut row: Json) -> Json {
        let Some(o) = row.as_object_mut() else {
            return row;
        };
        for rule in &self.rules {
            let Some(v) = o.get_mut(&rule.field.name) else {
                continue;
            };
            let Some(text) = v.as_str() else {
                continue;
            };
            let typed = match rule.field.kind.as_str() {
                "currency" | "double" | "percent" | "int" | "long" => {
                    text.parse::<f64>().ok().map(Json::from)
                }
                "boolean" => match text {
                    "true" => Some(Json::Bool(true)),
                    "false" => Some(Json::Bool(false)),
                    _ => None,
                },
                _ => None,
            };
            if let Some(t) = typed {
                *v = t;
            }
        }
        row
    }
}
