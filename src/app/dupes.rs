//! The duplicate rule of file imports: a new lead or contact duplicates an existing Lead or
//! Contact, or an earlier row of the file, with the same email (any case), or with the same first
//! name, last name and company (a contact's company is its account's name). A contact row with no
//! company is still checked: by its email, and, when it names the account it is added to
//! (`AccountId`), by first name, last name and that account.
//!
//! Existing records are found in batched queries, never one per row: each query asks for the
//! emails and last names of a slice of the rows (`Email IN (…) OR LastName IN (…)`, built with
//! the escaping SOQL builder), and the queries of both objects go out together as the
//! subrequests of one `/composite` request (one API call per 25 queries). The matches are then
//! made here, on the keys.
//!
//! Rows of a large file are screened a chunk at a time ([`Screen`]): earlier rows are kept as
//! keys in a temporary SQLite file, not in memory.
//!
//! Owns the rule and its queries. Imports `resolve` (query builder, `Org`), `rusqlite`.

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
    /// A contact's first name, last name (lower-case) and the account it is added to (its
    /// 15-character id): a contact row with no company still has this key.
    NameAt(String, String, String),
}

impl DupKey {
    fn reason(&self) -> &'static str {
        match self {
            DupKey::Email(_) => "same email",
            DupKey::Name(..) => "same first name, last name and company",
            DupKey::NameAt(..) => "same first name, last name and account",
        }
    }
}

/// Characters of `IN (…)` values per query: far below SOQL's 100,000, so a query with its
/// URL encoding stays a modest request.
const QUERY_CHARS: usize = 30_000;
/// Subrequests per `/composite` request.
const PER_COMPOSITE: usize = 25;

/// Why the duplicate check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DupeError {
    /// The existing records could not be read.
    #[error(transparent)]
    Org(#[from] OrgError),
    /// The keys of earlier rows could not be kept (a temporary SQLite file).
    #[error("the duplicate check could not keep the rows it has seen: {0}")]
    Keys(#[from] rusqlite::Error),
}

/// The duplicate check of one file, fed a chunk of rows at a time: the keys of the rows kept so
/// far live in a temporary SQLite file (deleted when dropped), so memory stays flat however
/// many rows the file has, and a row repeating one of an earlier chunk is still found.
pub(super) struct Screen {
    seen: rusqlite::Connection,
}

impl DupKey {
    /// The key as one string (the seen-table's primary key).
    fn text(&self) -> String {
        match self {
            DupKey::Email(e) => format!("e\u{1f}{e}"),
            DupKey::Name(f, l, c) => format!("n\u{1f}{f}\u{1f}{l}\u{1f}{c}"),
            DupKey::NameAt(f, l, a) => format!("a\u{1f}{f}\u{1f}{l}\u{1f}{a}"),
        }
    }
}

impl Screen {
    /// A screen with no rows seen.
    ///
    /// # Errors
    /// [`DupeError::Keys`] when the temporary file can't be made.
    pub(super) fn new() -> Result<Screen, DupeError> {
        // An empty path is a private temporary database on disk: its pages spill there.
        let seen = rusqlite::Connection::open("")?;
        seen.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4000;
             CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Screen { seen })
    }

    /// Splits a chunk of `rows` into those to create and those skipped as duplicates (of an
    /// earlier row of the file, then of existing records), in file order. The kept rows' keys
    /// are remembered for the next chunks.
    ///
    /// # Errors
    /// The org's error when the existing records can't be read (then nothing is sent).
    pub(super) async fn split(
        &mut self,
        org: &Org,
        rows: Vec<Row>,
    ) -> Result<(Vec<Row>, Vec<Skipped>), DupeError> {
        if rows.is_empty() {
            return Ok((rows, Vec::new()));
        }
        let existing = existing(org, &rows).await?;
        let tx = self.seen.transaction()?;
        let mut keep = Vec::new();
        let mut skipped = Vec::new();
        {
            let mut find = tx.prepare_cached("SELECT line FROM seen WHERE key = ?1")?;
            let mut add =
                tx.prepare_cached("INSERT OR IGNORE INTO seen (key, line) VALUES (?1, ?2)")?;
            for row in rows {
                let keys = row.keys();
                let mut earlier = None;
                for k in &keys {
                    let line: Option<i64> = find
                        .query_row([k.text()], |r| r.get(0))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })?;
                    if let Some(line) = line {
                        earlier = Some((k, u64::try_from(line).unwrap_or(0)));
                        break;
                    }
                }
                if let Some((k, line)) = earlier {
                    skipped.push(Skipped {
                        line: row.line,
                        reason: format!("{} as line {line}", k.reason()),
                        matches: None,
                        matches_line: Some(line),
                    });
                    continue;
                }
                if let Some((k, c)) = keys.iter().find_map(|k| existing.get(k).map(|c| (k, c))) {
                    skipped.push(Skipped {
                        line: row.line,
                        reason: k.reason().into(),
                        matches: Some(c.clone()),
                        matches_line: None,
                    });
                    continue;
                }
                for k in &keys {
                    add.execute(rusqlite::params![k.text(), row.line as i64])?;
                }
                keep.push(row);
            }
        }
        tx.commit()?;
        Ok((keep, skipped))
    }
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
                (
                    "Contact",
                    "Id, FirstName, LastName, Account.Name, AccountId, Email",
                ),
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
                DupKey::Name(_, last, _) | DupKey::NameAt(_, last, _) => {
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
    let account: String = s(r.get("AccountId")).chars().take(15).collect();
    if object == "Contact" && !last.is_empty() && !account.is_empty() {
        found
            .entry(DupKey::NameAt(
                first.to_lowercase(),
                last.to_lowercase(),
                account,
            ))
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
