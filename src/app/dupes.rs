//! The duplicate rule of file imports: a new lead or contact duplicates an existing Lead or
//! Contact, or an earlier row of the file, with the same email (any case), or with the same first
//! name, last name and company (a contact's company is its account's name).
//!
//! Existing records are found in batched queries, never one per row: each query asks for the
//! emails and last names of a slice of the rows (`Email IN (…) OR LastName IN (…)`, built with
//! the escaping SOQL builder), and the queries of both objects go out together as the
//! subrequests of one `/composite` request (one API call per 25 queries). The matches are then
//! made here, on the keys.
//!
//! Owns the rule and its queries. Imports `resolve` (query builder, `Org`).

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use super::import::{Row, Skipped};
use crate::resolve::Candidate;
use crate::salesforce::org::{Org, OrgError};
use crate::soql::builder::{self as query, in_strs, or, to_soql};

/// What makes two people the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum DupKey {
    /// The email, lower-case.
    Email(String),
    /// First name, last name and company, lower-case.
    Name(String, String, String),
}

impl DupKey {
    fn reason(&self) -> &'static str {
        match self {
            DupKey::Email(_) => "same email",
            DupKey::Name(..) => "same first name, last name and company",
        }
    }
}

/// Characters of `IN (…)` values per query: far below SOQL's 100,000, so a query with its
/// URL encoding stays a modest request.
const QUERY_CHARS: usize = 30_000;
/// Subrequests per `/composite` request.
const PER_COMPOSITE: usize = 25;

/// Splits `rows` into those to create and those skipped as duplicates (of existing records, then
/// of earlier rows), in file order.
///
/// # Errors
/// The org's error when the existing records can't be read (then nothing is sent).
pub(super) async fn split(org: &Org, rows: Vec<Row>) -> Result<(Vec<Row>, Vec<Skipped>), OrgError> {
    let existing = existing(org, &rows).await?;
    let mut seen: HashMap<DupKey, u64> = HashMap::new();
    let mut keep = Vec::new();
    let mut skipped = Vec::new();
    for row in rows {
        let keys = row.keys();
        if let Some((k, c)) = keys.iter().find_map(|k| existing.get(k).map(|c| (k, c))) {
            skipped.push(Skipped {
                line: row.line,
                reason: k.reason().into(),
                matches: Some(c.clone()),
                matches_line: None,
            });
            continue;
        }
        if let Some((k, line)) = keys.iter().find_map(|k| seen.get(k).map(|l| (k, *l))) {
            skipped.push(Skipped {
                line: row.line,
                reason: format!("{} as line {line}", k.reason()),
                matches: None,
                matches_line: Some(line),
            });
            continue;
        }
        for k in keys {
            seen.insert(k, row.line);
        }
        keep.push(row);
    }
    Ok((keep, skipped))
}

/// The queries that find every existing Lead and Contact that may share a key with `rows`.
fn queries(rows: &[Row]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut emails: Vec<String> = Vec::new();
    let mut lasts: Vec<String> = Vec::new();
    let mut chars = 0;
    let mut seen = std::collections::HashSet::new();
    let flush =
        |emails: &mut Vec<String>, lasts: &mut Vec<String>, out: &mut Vec<(String, String)>| {
            if emails.is_empty() && lasts.is_empty() {
                return;
            }
            for (object, fields) in [
                ("Lead", "Id, FirstName, LastName, Company, Email"),
                ("Contact", "Id, FirstName, LastName, Account.Name, Email"),
            ] {
                let fields: Vec<String> = fields.split(", ").map(str::to_string).collect();
                let mut q = query::select(object, &fields);
                let mut conds = Vec::new();
                if !emails.is_empty() {
                    conds.push(in_strs("Email", emails));
                }
                if !lasts.is_empty() {
                    conds.push(in_strs("LastName", lasts));
                }
                q.where_clause = or(conds);
                out.push((object.to_string(), to_soql(&q)));
            }
            emails.clear();
            lasts.clear();
        };
    for row in rows {
        for k in row.keys() {
            if !seen.insert(k.clone()) {
                continue;
            }
            match k {
                DupKey::Email(e) => {
                    chars += e.len() + 3;
                    emails.push(e);
                }
                DupKey::Name(_, last, _) => {
                    chars += last.len() + 3;
                    if !lasts.contains(&last) {
                        lasts.push(last);
                    }
                }
            }
        }
        if chars > QUERY_CHARS {
            flush(&mut emails, &mut lasts, &mut out);
            chars = 0;
        }
    }
    flush(&mut emails, &mut lasts, &mut out);
    out
}

/// The existing records by key.
async fn existing(org: &Org, rows: &[Row]) -> Result<HashMap<DupKey, Candidate>, OrgError> {
    let mut found: HashMap<DupKey, Candidate> = HashMap::new();
    let qs = queries(rows);
    for batch in qs.chunks(PER_COMPOSITE) {
        let subs: Vec<Json> = batch
            .iter()
            .enumerate()
            .map(|(k, (_, soql))| {
                let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
                json!({"method": "GET", "url": org.data_path(&format!("/query?q={q}")), "referenceId": format!("q{k}")})
            })
            .collect();
        let answers = org.composite(subs, false).await?;
        for ((object, _), answer) in batch.iter().zip(answers) {
            let status = answer
                .get("httpStatusCode")
                .and_then(Json::as_u64)
                .unwrap_or(0);
            let body = answer.get("body").cloned().unwrap_or(Json::Null);
            if status != 200 {
                return Err(OrgError::Api {
                    status: u16::try_from(status).unwrap_or(500),
                    code: "DUPLICATE_CHECK".into(),
                    message: format!("the duplicate check could not read {object} records: {body}"),
                });
            }
            let mut records = body
                .get("records")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let mut next = body
                .get("nextRecordsUrl")
                .and_then(Json::as_str)
                .map(str::to_string);
            while let Some(url) = next {
                let (more, after) = org.query_more(&url).await?;
                records.extend(more);
                next = after;
            }
            for r in &records {
                add_record(&mut found, object, r);
            }
        }
    }
    Ok(found)
}

fn add_record(found: &mut HashMap<DupKey, Candidate>, object: &str, r: &Json) {
    let s = |v: Option<&Json>| {
        v.and_then(Json::as_str)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let first = s(r.get("FirstName"));
    let last = s(r.get("LastName"));
    let company = if object == "Lead" {
        s(r.get("Company"))
    } else {
        s(r.get("Account").and_then(|a| a.get("Name")))
    };
    let c = Candidate {
        sobject: object.to_string(),
        id: s(r.get("Id")),
        name: format!("{first} {last}").trim().to_string(),
    };
    let email = s(r.get("Email")).to_lowercase();
    if !email.is_empty() {
        found
            .entry(DupKey::Email(email))
            .or_insert_with(|| c.clone());
    }
    if !last.is_empty() && !company.is_empty() {
        found
            .entry(DupKey::Name(
                first.to_lowercase(),
                last.to_lowercase(),
                company.to_lowercase(),
            ))
            .or_insert(c);
    }
}
