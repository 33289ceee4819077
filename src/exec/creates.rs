//! Creates are never repeated blindly. A create whose answer was lost (the connection broke
//! after it was sent, or the org answered 5xx) may exist: it stays `sent` in the journal, and the
//! next command reads back what was created before anything is re-sent ([`settle`]): records of
//! that object created by the entry's user since the entry began, matched on the values the
//! create sent. A match is the create, applied (with its record id); none means it was not
//! made, failed, and `sayso retry` sends it. A killed run's unanswered creates are settled so too.
//!
//! Owns the read-back of creates; the journal's rows are [`crate::journal`]'s. Imports the SOQL
//! builder and `Org`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::ExecError;
use crate::journal::{ChangeRow, ChangeState, Entry, Journal, Op, RowResult};
use crate::salesforce::org::{Org, OrgError};
use crate::soql::ast::{Literal, Operator};
use crate::soql::builder::{self as query, and, compare, eq_text, order_limit, to_soql};

/// Whether a failed create may have been made: the connection broke after it was sent, or the
/// org answered with a server error (5xx). Refusals (4xx) and failures to connect made nothing.
pub(super) fn answer_lost(e: &OrgError) -> bool {
    match e {
        OrgError::Transport(_) => true,
        OrgError::Api { status, .. } => (500..600).contains(status),
        OrgError::LimitExceeded(_) | OrgError::Unreachable(_) => false,
    }
}

/// The journal's error text of a create left `sent` for want of an answer.
pub(super) fn lost_answer(e: &OrgError) -> String {
    format!(
        "no answer ({e}): it may have been made; the next command reads it back before anything is re-sent"
    )
}

/// Objects whose creates are not read back (Salesforce allows no query of them by creator).
pub(super) const UNREAD: [&str; 4] = [
    "ContentDocumentLink",
    "ContentNote",
    "ContentDocument",
    "ContentVersion",
];

/// How long before an entry began a record it created may be stamped (clocks differ).
const CLOCK_SKEW_MINUTES: i64 = 5;

/// Settles the creates of `entry` still `sent`: each is applied with the id of a record its
/// user created since the entry began holding exactly the values it sent (and not already
/// journaled as made by another create), or failed. Returns how many were found made, or the
/// org's error (then nothing is settled).
///
/// # Errors
/// [`ExecError::Journal`].
pub(super) async fn settle(
    org: &Org,
    journal: &mut Journal,
    entry: &Entry,
) -> Result<Result<usize, OrgError>, ExecError> {
    let rows: Vec<ChangeRow> = journal
        .changes_in_state(entry.id, ChangeState::Sent, usize::MAX >> 1)?
        .into_iter()
        .filter(|r| r.change.op == Op::Create && !UNREAD.contains(&r.change.sobject.as_str()))
        .collect();
    let mut by_object: BTreeMap<&str, Vec<&ChangeRow>> = BTreeMap::new();
    for r in &rows {
        by_object.entry(&r.change.sobject).or_default().push(r);
    }
    let since = window_start(entry);
    let mut claimed =
        journal.created_since(&since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))?;
    let mut results = Vec::new();
    let mut made = 0;
    for (sobject, rows) in by_object {
        let fields = sent_fields(&rows);
        let found = match org
            .query_all(&created_query(sobject, &fields, &entry.user, since))
            .await
        {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        for r in rows {
            let hit = found.iter().find_map(|f| {
                let id = f.get("Id").and_then(Json::as_str)?;
                let key: String = id.chars().take(15).collect();
                (!claimed.contains(&key) && holds_sent(f, &r.change.new)).then_some((key, id))
            });
            results.push(match hit {
                Some((key, id)) => {
                    claimed.insert(key);
                    made += 1;
                    RowResult {
                        record_id: Some(id.to_string()),
                        ..RowResult::new(r.id, ChangeState::Applied)
                    }
                }
                None => RowResult {
                    error: Some(
                        "not made: its answer was lost and no such record was found (`sayso retry` sends it)"
                            .into(),
                    ),
                    ..RowResult::new(r.id, ChangeState::Failed)
                },
            });
        }
    }
    journal.record_results(&results)?;
    Ok(Ok(made))
}

/// A value a create sent, as the record will hold it (a reference to another step's record is
/// not: it is not compared).
fn literal(v: &Json) -> bool {
    !v.as_str().is_some_and(|s| s.starts_with("@{"))
}

/// The fields the creates sent, in name order.
fn sent_fields(rows: &[&ChangeRow]) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for r in rows {
        for (k, v) in r.change.new.as_object().into_iter().flatten() {
            if literal(v) && !fields.contains(k) {
                fields.push(k.clone());
            }
        }
    }
    fields.sort();
    fields
}

/// Whether a record read back holds every literal value a create sent.
fn holds_sent(record: &Json, sent: &Json) -> bool {
    sent.as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| !literal(v) || super::undo::same(record.get(k).unwrap_or(&Json::Null), v))
}

/// Where the read-back of an entry's creates starts: when it began, less the clock skew.
fn window_start(entry: &Entry) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&entry.at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now())
        - chrono::Duration::minutes(CLOCK_SKEW_MINUTES)
}

/// `SELECT Id, <fields> FROM <object> WHERE CreatedBy.Username = :user AND CreatedDate >=
/// :since ORDER BY CreatedDate` (values escaped by the builder).
fn created_query(
    sobject: &str,
    fields: &[String],
    user: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut select = vec!["Id".to_string()];
    select.extend(fields.iter().filter(|f| *f != "Id").cloned());
    let mut q = query::select(sobject, &select);
    q.where_clause = and(vec![
        eq_text("CreatedBy.Username", user),
        compare("CreatedDate", Operator::Ge, Literal::datetime(since)),
    ]);
    to_soql(&order_limit(q, "CreatedDate", None))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_a_broken_answer_may_have_made_a_record() {
        assert!(answer_lost(&OrgError::Transport("connection reset".into())));
        assert!(answer_lost(&OrgError::Api {
            status: 503,
            code: "SERVER_UNAVAILABLE".into(),
            message: String::new()
        }));
        assert!(!answer_lost(&OrgError::Api {
            status: 400,
            code: "REQUIRED_FIELD_MISSING".into(),
            message: String::new()
        }));
        assert!(!answer_lost(&OrgError::Unreachable("refused".into())));
    }

    #[test]
    fn a_record_matches_on_the_literal_values_sent() {
        let sent = json!({"Subject": "Call", "WhatId": "@{s0.id}", "Amount": 5});
        assert!(holds_sent(
            &json!({"Id": "00T1", "Subject": "Call", "Amount": 5.0}),
            &sent
        ));
        assert!(!holds_sent(
            &json!({"Id": "00T1", "Subject": "Call back", "Amount": 5}),
            &sent
        ));
    }
}
