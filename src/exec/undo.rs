//! Undo and retry: reverting a journal entry (old values restored where the record still holds
//! what the entry wrote, conflicts left as they are, creates deleted) and the plan that re-sends
//! the failed part of one.
//!
//! Owns the reverting rules ([`revert_of`]) shared with the streamed undo in [`super::staged`].

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value as Json, json};

use super::{
    ExecError, Failure, RunReport, RunStatus, Tally, body_of, collection_error, collection_ok,
};
use crate::journal::{ChangeRow, ChangeState, Journal, Op, PlannedChange};
use crate::plan::{COLLECTION_MAX, Plan, Step, Val};
use crate::resolve::org::{Org, OrgError};
use crate::resolve::query::{self, in_strs, to_soql};

/// The current values of the records that `rows` updated (keyed by 15-character id), read in
/// queries of 200 ids per object, and the first read error.
pub(super) async fn read_current(
    org: &Org,
    rows: &[&ChangeRow],
) -> (HashMap<String, Json>, Option<OrgError>) {
    let mut current: HashMap<String, Json> = HashMap::new();
    let mut by_object: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.change.op == Op::Update) {
        let e = by_object.entry(r.change.sobject.clone()).or_default();
        if let Some(id) = &r.change.record_id {
            e.0.push(id.clone());
        }
        if let Some(o) = r.change.new.as_object() {
            for k in o.keys() {
                if !e.1.contains(k) {
                    e.1.push(k.clone());
                }
            }
        }
    }
    let mut read_error = None;
    for (sobject, (ids, fields)) in &by_object {
        for chunk in ids.chunks(200) {
            let mut select = vec!["Id".to_string(), "LastModifiedDate".to_string()];
            select.extend(fields.iter().cloned());
            let mut q = query::select(sobject, &select);
            q.where_clause = Some(in_strs("Id", chunk));
            match org.query_all(&to_soql(&q)).await {
                Ok(found) => {
                    for row in found {
                        if let Some(id) = row.get("Id").and_then(Json::as_str) {
                            current.insert(id.chars().take(15).collect(), row.clone());
                        }
                    }
                }
                Err(e) => read_error = Some(e),
            }
        }
    }
    (current, read_error)
}

/// What undoing one update takes, given the records' current values.
pub(super) enum Revert {
    /// Never written (an interrupted run): nothing to revert.
    Nothing,
    /// Changed since, or gone: left as it is.
    Conflict(Failure),
    /// Still holds what the entry wrote: put the old values back (`guard`: its current
    /// `LastModifiedDate` as an HTTP date).
    Restore {
        /// For `If-Unmodified-Since`.
        guard: Option<String>,
    },
}

pub(super) fn revert_of(c: &PlannedChange, current: &HashMap<String, Json>) -> Revert {
    let id = c.record_id.clone().unwrap_or_default();
    let key: String = id.chars().take(15).collect();
    let Some(cur) = current.get(&key) else {
        return Revert::Conflict(Failure {
            id: Some(id),
            name: c.name.clone(),
            error: "the record is gone or no longer visible".into(),
        });
    };
    let new = c.new.as_object().cloned().unwrap_or_default();
    let still_ours = new
        .iter()
        .all(|(k, v)| same(cur.get(k).unwrap_or(&Json::Null), v));
    let still_old = c.old.as_object().is_some_and(|o| {
        o.iter()
            .all(|(k, v)| same(cur.get(k).unwrap_or(&Json::Null), v))
    });
    if still_old && !still_ours {
        return Revert::Nothing;
    }
    if !still_ours {
        let changed: Vec<&String> = new
            .iter()
            .filter(|(k, v)| !same(cur.get(*k).unwrap_or(&Json::Null), v))
            .map(|(k, _)| k)
            .collect();
        return Revert::Conflict(Failure {
            id: Some(id),
            name: c.name.clone(),
            error: format!(
                "changed since (now {}); left as it is",
                changed
                    .iter()
                    .map(|k| format!("{k} = {}", cur.get(*k).unwrap_or(&Json::Null)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Revert::Restore {
        guard: cur
            .get("LastModifiedDate")
            .and_then(Json::as_str)
            .and_then(crate::resolve::http_date),
    }
}

/// The update that puts an entry's old values back.
fn restore_step(c: &PlannedChange, reference: String) -> Step {
    Step {
        op: Op::Update,
        sobject: c.sobject.clone(),
        id: c.record_id.clone(),
        name: c.name.clone(),
        reference,
        fields: c
            .old
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Val::Lit(v)))
            .collect(),
        old: c
            .new
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        guard: None,
    }
}

/// Reverts a journal entry: restores old values where the record still holds what the entry wrote
/// (guarded by `If-Unmodified-Since`), reports the others as conflicts without overwriting them, and
/// deletes what the entry created. Journaled as a new `undo` entry.
///
/// # Errors
/// [`ExecError::Journal`].
pub async fn undo(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    user: &str,
    phrase: &str,
) -> Result<RunReport, ExecError> {
    let rows: Vec<ChangeRow> = journal.changes(entry)?;
    let undoable: Vec<&ChangeRow> = rows
        .iter()
        .filter(|r| r.state != ChangeState::Failed)
        .collect();
    // Updates: read the current values first.
    let (current, read_error) = read_current(org, &undoable).await;
    let mut steps = Vec::new();
    let mut conflicts = Vec::new();
    for r in &undoable {
        let c = &r.change;
        let id = c.record_id.clone().unwrap_or_default();
        match c.op {
            Op::Update => match revert_of(c, &current) {
                Revert::Nothing => {}
                Revert::Conflict(f) => conflicts.push(f),
                Revert::Restore { guard } => {
                    let mut step = restore_step(c, format!("u{}", steps.len()));
                    step.guard = guard;
                    steps.push(step);
                }
            },
            Op::Create => {
                if id.is_empty() {
                    continue;
                }
                steps.push(Step {
                    op: Op::Delete,
                    sobject: c.sobject.clone(),
                    id: Some(id.clone()),
                    name: c.name.clone(),
                    reference: format!("u{}", steps.len()),
                    fields: BTreeMap::new(),
                    old: BTreeMap::new(),
                    guard: None,
                });
            }
            Op::Delete => {}
        }
    }
    // Deletes in reverse creation order (links and roles before what they point at).
    let (mut deletes, updates): (Vec<Step>, Vec<Step>) =
        steps.into_iter().partition(|s| s.op == Op::Delete);
    deletes.reverse();
    let planned: Vec<PlannedChange> = updates
        .iter()
        .chain(deletes.iter())
        .map(Step::to_planned)
        .collect();
    let (undo_entry, ids) = journal.begin(user, phrase, "undo", Some(entry), &planned)?;
    let mut tally = Tally {
        failures: conflicts,
        ..Tally::default()
    };
    let empty = HashMap::new();
    // Updates: one guarded PATCH each when few, collections when many.
    if updates.len() <= 3 {
        for (i, s) in updates.iter().enumerate() {
            match org
                .update(
                    &s.sobject,
                    s.id.as_deref().unwrap_or(""),
                    body_of(s, &empty, false),
                    s.guard.as_deref(),
                )
                .await
            {
                Ok(true) => {
                    tally.done(ids[i], s, None, &empty);
                }
                Ok(false) => {
                    let e = "changed by someone else meanwhile; left as it is".to_string();
                    tally.failed(ids[i], s, e);
                }
                Err(e) => {
                    tally.failed(ids[i], s, e.to_string());
                }
            }
        }
    } else {
        for (c, chunk) in updates.chunks(COLLECTION_MAX).enumerate() {
            let records: Vec<Json> = chunk
                .iter()
                .map(|s| {
                    let mut b = body_of(s, &empty, false);
                    b["attributes"] = json!({"type": s.sobject});
                    b["id"] = json!(s.id);
                    b
                })
                .collect();
            let rs = org.collection("PATCH", records, false).await;
            for (k, s) in chunk.iter().enumerate() {
                let i = c * COLLECTION_MAX + k;
                if collection_ok(&rs, k) {
                    tally.done(ids[i], s, None, &empty);
                } else {
                    tally.failed(ids[i], s, collection_error(&rs, k));
                }
            }
        }
    }
    let base = updates.len();
    if deletes.len() <= 3 {
        for (k, s) in deletes.iter().enumerate() {
            match org.delete(&s.sobject, s.id.as_deref().unwrap_or("")).await {
                Ok(()) => {
                    tally.done(ids[base + k], s, None, &empty);
                }
                Err(e) => {
                    tally.failed(ids[base + k], s, e.to_string());
                }
            }
        }
    } else {
        for (c, chunk) in deletes.chunks(COLLECTION_MAX).enumerate() {
            let del_ids: Vec<String> = chunk.iter().filter_map(|s| s.id.clone()).collect();
            let rs = org.collection_delete(&del_ids).await;
            for (k, s) in chunk.iter().enumerate() {
                let i = base + c * COLLECTION_MAX + k;
                // already deleted counts as undone
                let error = collection_error(&rs, k);
                if collection_ok(&rs, k) || error.contains("ENTITY_IS_DELETED") {
                    tally.done(ids[i], s, None, &empty);
                } else {
                    tally.failed(ids[i], s, error);
                }
            }
        }
    }
    tally.flush(journal)?;
    let Tally {
        changes,
        mut failures,
        ..
    } = tally;
    if let Some(e) = read_error {
        failures.push(Failure {
            id: None,
            name: String::new(),
            error: format!("could not read current values: {e}"),
        });
    }
    let status = if failures.is_empty() {
        RunStatus::Applied
    } else if changes.is_empty() {
        RunStatus::Conflict
    } else {
        RunStatus::Partial
    };
    let message = if failures.is_empty() {
        format!(
            "undid entry {entry}: {} change{} reverted",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "undid entry {entry} in part: {} reverted, {} left as they are ({})",
            changes.len(),
            failures.len(),
            failures[0].error
        )
    };
    journal.set_status(undo_entry, status.as_str(), &message)?;
    Ok(RunReport {
        status,
        message,
        changes,
        failures,
        entry: Some(undo_entry),
        streamed: None,
    })
}

fn same(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y))
                if x.len() >= 15 && y.len() >= 15 && x.chars().all(char::is_alphanumeric) =>
            {
                x[..15] == y[..15]
            }
            _ => {
                a == b
                    || (a.is_null() && b.as_str() == Some(""))
                    || (b.is_null() && a.as_str() == Some(""))
            }
        },
    }
}

/// Builds the plan that re-sends the failed or unconfirmed updates of an entry (`sayso retry`, or
/// resuming a run that was killed). Creates that may have happened are not re-sent blindly.
///
/// # Errors
/// [`ExecError::Journal`].
pub fn retry_plan(journal: &Journal, entry: i64) -> Result<(Plan, usize), ExecError> {
    let rows = journal.changes(entry)?;
    let mut steps = Vec::new();
    let mut skipped = 0;
    // A reference `@{sN.id}` names the step at index N of the original plan: a step already done
    // gives its created id; a step retried too stays a reference to its new position.
    let mut new_index: HashMap<usize, usize> = HashMap::new();
    let ref_of = |v: &Json| -> Option<usize> {
        let s = v.as_str()?.strip_prefix("@{")?.strip_suffix(".id}")?;
        s.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok()
    };
    for (seq, r) in rows.iter().enumerate() {
        if r.state == ChangeState::Done {
            continue;
        }
        let c = &r.change;
        // Unconfirmed creates may exist already; conflicts must not overwrite someone's change.
        let conflict = r
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("conflict:"));
        if conflict || (c.op != Op::Update && r.state == ChangeState::Planned) {
            skipped += 1;
            continue;
        }
        if c.op == Op::Delete {
            continue;
        }
        let mut fields: BTreeMap<String, Val> = BTreeMap::new();
        let mut unresolvable = false;
        for (k, v) in c.new.as_object().cloned().unwrap_or_default() {
            match ref_of(&v) {
                None => {
                    fields.insert(k, Val::Lit(v));
                }
                Some(n) => match (rows.get(n), new_index.get(&n)) {
                    (_, Some(i)) => {
                        fields.insert(k, Val::Ref(format!("r{i}")));
                    }
                    (Some(dep), None)
                        if dep.state == ChangeState::Done && dep.change.record_id.is_some() =>
                    {
                        fields.insert(k, Val::Lit(json!(dep.change.record_id)));
                    }
                    _ => unresolvable = true,
                },
            }
        }
        if unresolvable {
            skipped += 1;
            continue;
        }
        new_index.insert(seq, steps.len());
        steps.push(Step {
            op: c.op,
            sobject: c.sobject.clone(),
            id: if c.op == Op::Update {
                c.record_id.clone()
            } else {
                None
            },
            name: c.name.clone(),
            reference: format!("r{}", steps.len()),
            fields,
            old: c
                .old
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            guard: None,
        });
    }
    let n = steps.len();
    Ok((
        Plan {
            steps,
            bulk: n > 1,
            summary: format!("retry {n} changes of entry {entry}"),
            staged: None,
        },
        skipped,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_by_their_15_characters() {
        assert!(same(
            &json!("006Dm0000000001IAA"),
            &json!("006Dm0000000001")
        ));
        assert!(same(&json!(92000), &json!(92000.0)));
        assert!(!same(&json!("Prospecting"), &json!("Closed Won")));
        assert!(same(&Json::Null, &json!("")));
    }

    #[test]
    fn retry_plan_resends_failed_updates_only() {
        let mut j = Journal::in_memory().unwrap();
        let ch = |id: &str| PlannedChange {
            op: Op::Update,
            sobject: "Opportunity".into(),
            record_id: Some(id.into()),
            name: id.into(),
            old: json!({"NextStep": "a"}),
            new: json!({"NextStep": "b"}),
        };
        let (e, ids) = j
            .begin(
                "dana",
                "bulk",
                "command",
                None,
                &[ch("1"), ch("2"), ch("3")],
            )
            .unwrap();
        j.record_results(&[
            (ids[0], ChangeState::Done, None, None),
            (ids[1], ChangeState::Failed, None, Some("x".into())),
        ])
        .unwrap();
        let (plan, skipped) = retry_plan(&j, e).unwrap();
        assert_eq!(skipped, 0);
        let ids: Vec<_> = plan.steps.iter().map(|s| s.id.clone().unwrap()).collect();
        assert_eq!(ids, vec!["2", "3"]);
    }

    #[test]
    fn retry_plan_keeps_references_between_failed_creates() {
        let mut j = Journal::in_memory().unwrap();
        let create = |sobject: &str, new: Json| PlannedChange {
            op: Op::Create,
            sobject: sobject.into(),
            record_id: None,
            name: sobject.into(),
            old: json!({}),
            new,
        };
        let (e, ids) = j
            .begin(
                "dana",
                "compound",
                "command",
                None,
                &[
                    create("ContentNote", json!({"Title": "t"})),
                    create(
                        "ContentDocumentLink",
                        json!({"ContentDocumentId": "@{s0.id}", "LinkedEntityId": "006A"}),
                    ),
                ],
            )
            .unwrap();
        j.record_results(&[
            (ids[0], ChangeState::Failed, None, Some("x".into())),
            (ids[1], ChangeState::Failed, None, Some("x".into())),
        ])
        .unwrap();
        let (plan, skipped) = retry_plan(&j, e).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(
            plan.steps[1].fields["ContentDocumentId"],
            Val::Ref("r0".into())
        );
        assert!(plan.has_references());
        // when the note was made, the link points at its id
        j.record_results(&[(ids[0], ChangeState::Done, Some("069X".into()), None)])
            .unwrap();
        let (plan, _) = retry_plan(&j, e).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(
            plan.steps[0].fields["ContentDocumentId"],
            Val::Lit(json!("069X"))
        );
    }
}
