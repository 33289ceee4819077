//! Updates from a file: "update the opportunities in forecast.csv". Each row names its record by
//! `Id` or, without one, by its exact `Name`; the other mapped columns are the new values. The
//! records are read in queries of 200 (never one per row), each change is shown `old → new` like
//! any update, and the write is guarded: each record is read again just before it is written and
//! one changed since it was read is a `conflict`, left as it is.
//!
//! Owns the row → record matching of file updates. Part of `app`; reads through `Org`, builds
//! SOQL with the escaping builder.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value as Json;

use super::import::{ImportError, ImportOptions, Mapping, Read, Rejected, Row, read_rows};
use super::{Agent, FileRun, Outcome};
use crate::id::{ObjectName, RecordId};
use crate::journal::Op;
use crate::lang::Grammar;
use crate::plan::{Plan, Step, Val};
use crate::resolve::ResolveError;
use crate::resolve::columns::Purpose;
use crate::resolve::record::display_name;
use crate::soql::builder::{self as query, in_strs, to_soql};

/// Rows per lookup query.
const PER_QUERY: usize = 200;

/// How a row names its record.
enum Key {
    Id(String),
    Name(String),
}

fn key_of(row: &Row) -> Option<Key> {
    let text = |k: &str| {
        row.fields
            .get(k)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    text("Id")
        .map(Key::Id)
        .or_else(|| text("Name").map(Key::Name))
}

fn same(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b || (a.is_null() && b.as_str() == Some("")),
    }
}

impl Agent {
    /// Reads a file of updates and runs (or previews) the plan that makes them.
    pub(super) async fn update_from_file(
        &mut self,
        g: &'static Grammar,
        path: &Path,
        phrase: &str,
        object: &str,
        opts: ImportOptions,
    ) -> Result<Outcome, ImportError> {
        let d = self.describe_for_import(object, false).await?;
        let Read {
            map,
            rows,
            mut rejected,
            total,
        } = read_rows(g, &d, path, &self.me, Purpose::Update)?;
        if !map.has("Id") && !map.has("Name") {
            return Err(ImportError::NoColumns(format!(
                "a file of updates needs an Id or a Name column to find each {object} record"
            )));
        }
        let set: Vec<String> = map
            .mapped()
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| f != "Id" && d.field(f).is_some_and(|x| x.updateable))
            .collect();
        let found = self.read_targets(object, &rows, &set).await?;
        let mut steps = Vec::new();
        for row in &rows {
            match self.update_step(object, row, &set, &found, steps.len()) {
                Ok(Some(step)) => steps.push(step),
                Ok(None) => {}
                Err(reason) => rejected.push(Rejected {
                    line: row.line,
                    reason,
                }),
            }
        }
        let plan = Plan {
            summary: format!("update {} {object} records from a file", steps.len()),
            steps,
            bulk: true,
            staged: None,
        };
        let mut out = self.run_import_plan(phrase, plan, opts.run).await;
        out.file = FileRun {
            mapping: Some(Mapping {
                object: object.to_string(),
                columns: map.mapped().into_iter().collect(),
                left_out: map.left_out(),
                rows: total,
            }),
            skipped: Some(Vec::new()),
            rejected: Some(rejected),
        };
        Ok(out)
    }

    /// The records the rows name, by 15-character id and by lower-case name.
    async fn read_targets(
        &mut self,
        object: &str,
        rows: &[Row],
        set: &[String],
    ) -> Result<Targets, ResolveError> {
        let mut select = vec!["Id".to_string(), "Name".into(), "LastModifiedDate".into()];
        select.extend(
            set.iter()
                .filter(|f| !select.contains(f))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let (mut ids, mut names) = (Vec::new(), Vec::new());
        for row in rows {
            match key_of(row) {
                Some(Key::Id(i)) => ids.push(i),
                Some(Key::Name(n)) => names.push(n),
                None => {}
            }
        }
        let mut t = Targets::default();
        for (field, values) in [("Id", ids), ("Name", names)] {
            for chunk in values.chunks(PER_QUERY) {
                let mut q = query::select(object, &select);
                q.where_clause = Some(in_strs(field, chunk));
                for r in self.org.query_all(&to_soql(&q)).await? {
                    let id: String = r["Id"].as_str().unwrap_or("").chars().take(15).collect();
                    let name = r["Name"].as_str().unwrap_or("").to_lowercase();
                    t.by_name.entry(name).or_default().push(r.clone());
                    t.by_id.insert(id, r);
                }
            }
        }
        Ok(t)
    }

    /// The update one row makes (`None`: the record already holds its values), or why not.
    fn update_step(
        &self,
        object: &str,
        row: &Row,
        set: &[String],
        t: &Targets,
        k: usize,
    ) -> Result<Option<Step>, String> {
        let record = match key_of(row) {
            None => return Err("no Id or Name to find the record by".into()),
            Some(Key::Id(id)) => {
                let key: String = id.chars().take(15).collect();
                t.by_id
                    .get(&key)
                    .ok_or(format!("no {object} with Id {id} that you can see"))?
            }
            Some(Key::Name(n)) => match t.by_name.get(&n.to_lowercase()).map(Vec::as_slice) {
                Some([one]) => one,
                Some(many) if many.len() > 1 => {
                    return Err(format!(
                        "{} {object} records are named `{n}`; give the Id",
                        many.len()
                    ));
                }
                _ => return Err(format!("no {object} named `{n}` that you can see")),
            },
        };
        let mut fields = BTreeMap::new();
        let mut old = BTreeMap::new();
        for f in set {
            let Some(new) = row.fields.get(f) else {
                continue;
            };
            let was = record.get(f).cloned().unwrap_or(Json::Null);
            if !same(&was, new) {
                fields.insert(f.clone(), Val::Lit(new.clone()));
                old.insert(f.clone(), was);
            }
        }
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(Step {
            op: Op::Update,
            sobject: ObjectName::known(object),
            id: record["Id"].as_str().and_then(|i| RecordId::parse(i).ok()),
            name: display_name(object, record),
            reference: format!("u{k}"),
            fields,
            old,
            guard: record["LastModifiedDate"]
                .as_str()
                .and_then(crate::salesforce::rest::http_date_from_iso),
        }))
    }
}

/// The records a file of updates names.
#[derive(Default)]
struct Targets {
    by_id: HashMap<String, Json>,
    by_name: HashMap<String, Vec<Json>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(same(&json!(85000), &json!(85000.0)));
        assert!(!same(&json!("Prospecting"), &json!("Negotiation/Review")));
        assert!(same(&Json::Null, &json!("")));
    }
}
