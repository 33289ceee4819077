//! Lookups the shell makes around a command: the names of records a change touched (so a summary
//! shows names, not ids), the fields that tell ambiguous candidates apart, and whether a phrase is
//! an undo. Reads through the command's [`Org`]; builds SOQL only with the checked builder.
//!
//! May import `salesforce`, `soql`, `id`, `lang` and `resolve` (types only).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::Value as Json;

use crate::id::{RecordId, object_for_prefix};
use crate::lang::Intent;
use crate::resolve::Candidate;
use crate::salesforce::Org;
use crate::soql::QueryBuilder;
use crate::soql::builder::id_in;

/// One candidate record with the fields that may tell it apart: object, name, and
/// `(label, value)` pairs.
pub type CandidateRow = (String, String, Vec<(String, Json)>);

/// Fields that tell records of an object apart, as `(path, label)`.
pub fn telling_fields(sobject: &str) -> &'static [(&'static str, &'static str)] {
    match sobject {
        "Opportunity" => &[
            ("StageName", "Stage"),
            ("Amount", "Amount"),
            ("CloseDate", "Close"),
            ("Account.Name", "Account"),
            ("Owner.Name", "Owner"),
        ],
        "Contact" => &[
            ("Account.Name", "Account"),
            ("Title", "Title"),
            ("Email", "Email"),
        ],
        "Lead" => &[
            ("Company", "Company"),
            ("Status", "Status"),
            ("Email", "Email"),
        ],
        "Account" => &[
            ("Industry", "Industry"),
            ("BillingCity", "City"),
            ("Owner.Name", "Owner"),
        ],
        "Case" => &[
            ("CaseNumber", "Number"),
            ("Subject", "Subject"),
            ("Status", "Status"),
        ],
        "Task" => &[
            ("ActivityDate", "Due"),
            ("Status", "Status"),
            ("What.Name", "About"),
        ],
        _ => &[],
    }
}

/// The field that names a record of `object` in a summary.
fn name_field(object: &str) -> Option<&'static str> {
    match object {
        "Account" | "Contact" | "User" | "Opportunity" | "Lead" => Some("Name"),
        "Case" => Some("CaseNumber"),
        _ => None,
    }
}

/// `Some(steps)` when the phrase is an undo ("undo", "undo the last 2 commands").
pub fn undo_steps(phrase: &str, today: NaiveDate) -> Option<u32> {
    let parsed = crate::lang::parse(phrase, today).ok()?;
    match parsed.clauses.as_slice() {
        [c] => match &c.intent {
            Intent::Undo(u) => Some(u.steps.max(1)),
            _ => None,
        },
        _ => None,
    }
}

/// Reads `fields` (plus `Id`) of the `ids` of one object; failures read as no rows.
async fn read_rows(org: &Org, object: &str, fields: &[&str], ids: &[RecordId]) -> Vec<Json> {
    let mut select = vec!["Id"];
    select.extend_from_slice(fields);
    let Ok(q) = QueryBuilder::select(object, &select).and_then(|b| Ok(b.filter(id_in("Id", ids)?)))
    else {
        return Vec::new();
    };
    org.query_all(&q.to_soql()).await.unwrap_or_default()
}

/// The value at a dotted path of a row (`Account.Name`).
fn at_path<'a>(row: &'a Json, path: &str) -> &'a Json {
    path.split('.')
        .try_fold(row, |v, part| v.get(part))
        .unwrap_or(&Json::Null)
}

/// The names of `ids`, by 18- and 15-character id (one query per object; unknown objects and
/// failed reads are left out).
pub async fn record_names(org: &Org, ids: &[RecordId]) -> HashMap<String, String> {
    let mut groups: Vec<(&str, Vec<RecordId>)> = Vec::new();
    for id in ids {
        let Some(object) = object_for_prefix(id.key_prefix()).filter(|o| name_field(o).is_some())
        else {
            continue;
        };
        match groups.iter_mut().find(|g| g.0 == object) {
            Some(g) => g.1.push(id.clone()),
            None => groups.push((object, vec![id.clone()])),
        }
    }
    let mut names = HashMap::new();
    for (object, ids) in groups {
        let field = name_field(object).unwrap_or("Name");
        for row in read_rows(org, object, &[field], &ids).await {
            if let (Some(id), Some(name)) = (row["Id"].as_str(), at_path(&row, field).as_str()) {
                names.insert(id.to_string(), name.to_string());
                if let Some(short) = id.get(..15) {
                    names.insert(short.to_string(), name.to_string());
                }
            }
        }
    }
    names
}

/// The candidates with the fields that tell them apart (one query per object).
pub async fn candidate_details(org: &Org, candidates: &[Candidate]) -> Vec<CandidateRow> {
    let mut rows: Vec<CandidateRow> = candidates
        .iter()
        .map(|c| (c.sobject.clone(), c.name.clone(), Vec::new()))
        .collect();
    let mut objects: Vec<&str> = candidates.iter().map(|c| c.sobject.as_str()).collect();
    objects.dedup();
    for object in objects {
        let fields = telling_fields(object);
        if fields.is_empty() {
            continue;
        }
        let ids: Vec<RecordId> = candidates
            .iter()
            .filter(|c| c.sobject == object)
            .filter_map(|c| RecordId::parse(&c.id).ok())
            .collect();
        let paths: Vec<&str> = fields.iter().map(|(p, _)| *p).collect();
        for rec in read_rows(org, object, &paths, &ids).await {
            let id = rec["Id"].as_str().unwrap_or("");
            let same =
                |c: &&Candidate| c.id == id || (id.len() >= 15 && c.id.get(..15) == id.get(..15));
            let Some(i) = candidates.iter().position(|c| same(&c)) else {
                continue;
            };
            rows[i].2 = fields
                .iter()
                .map(|(path, label)| (label.to_string(), at_path(&rec, path).clone()))
                .collect();
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_phrases_are_recognised() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        assert_eq!(undo_steps("undo", today), Some(1));
        assert_eq!(undo_steps("undo the last 2 commands", today), Some(2));
        assert_eq!(undo_steps("show my open deals", today), None);
    }

    #[test]
    fn values_are_read_along_dotted_paths() {
        let row = serde_json::json!({"Account": {"Name": "Acme"}, "Amount": 5});
        assert_eq!(at_path(&row, "Account.Name"), "Acme");
        assert_eq!(at_path(&row, "Owner.Name"), &Json::Null);
    }
}
