//! Undo and retry: reverting a journal entry (old values restored where the record still holds
//! what the entry wrote, conflicts left as they are, creates deleted) and the plan that re-sends
//! the failed part of one.
//!
//! Owns the reverting rules ([`revert_of`]) shared with the streamed undo in [`super::staged`].

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value as Json, json};

use super::{
    ExecError, Failure, RunReport, RunStatus, Tally, body_of, collection_error, collection_ok,
    send_collection,
};
use crate::id::RecordId;
use crate::journal::{
    ChangeRow, ChangeState, EntryHead, EntryKind, Journal, Op, PlannedChange, RowResult,
};
use crate::plan::{COLLECTION_MAX, Plan, Step, Val};
use crate::salesforce::org::{Org, OrgError};
use crate::soql::builder::{self as query, in_strs, to_soql};

/// The current values of the fields each `(object, id, fields)` names, keyed by 15-character id,
/// read in queries of 200 ids per object (with `Id` and `LastModifiedDate`).
async fn read_fields(
    org: &Org,
    items: impl Iterator<Item = (String, String, Vec<String>)>,
) -> Result<HashMap<String, Json>, OrgError> {
    let mut by_object: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (sobject, id, fields) in items {
        let e = by_object.entry(sobject).or_default();
        e.0.push(id);
        for k in fields {
            if !e.1.contains(&k) {
                e.1.push(k);
            }
        }
    }
    let mut current: HashMap<String, Json> = HashMap::new();
    for (sobject, (ids, fields)) in &by_object {
        for chunk in ids.chunks(200) {
            let mut select = vec!["Id".to_string(), "LastModifiedDate".to_string()];
            select.extend(
                fields
                    .iter()
                    .filter(|f| !select.contains(f))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let mut q = query::select(sobject, &select);
            q.where_clause = Some(in_strs("Id", chunk));
            for row in org.query_all(&to_soql(&q)).await? {
                if let Some(id) = row.get("Id").and_then(Json::as_str) {
                    current.insert(id.chars().take(15).collect(), row.clone());
                }
            }
        }
    }
    Ok(current)
}

/// Created records whose `CreatedDate` is not read before undo deletes them (Salesforce allows
/// no `Id IN (…)` query of them).
const UNREAD_CREATES: [&str; 4] = [
    "ContentDocumentLink",
    "ContentNote",
    "ContentDocument",
    "ContentVersion",
];

/// The current values of the records that `rows` updated (keyed by 15-character id), or the
/// first read error.
pub(super) async fn read_current(
    org: &Org,
    rows: &[&ChangeRow],
) -> Result<HashMap<String, Json>, OrgError> {
    let items = rows
        .iter()
        .filter(|r| match r.change.op {
            Op::Update => true,
            // Content objects can't be read by id lists; a note is its author's alone anyway
            Op::Create => !UNREAD_CREATES.contains(&r.change.sobject.as_str()),
            Op::Delete => false,
        })
        .filter_map(|r| {
            let id = r.change.record_id.clone()?;
            // a created record: when it was created, to tell whether anyone changed it since
            let fields = if r.change.op == Op::Create {
                vec!["CreatedDate".to_string()]
            } else {
                r.change
                    .new
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default()
            };
            Some((r.change.sobject.clone(), id, fields))
        });
    read_fields(org, items).await
}

/// The current values of the records that update `steps` write (keyed by 15-character id).
pub(super) async fn read_steps(
    org: &Org,
    steps: &[&Step],
) -> Result<HashMap<String, Json>, OrgError> {
    let items = steps.iter().filter_map(|s| {
        let id = s.id.as_ref()?.to_string();
        Some((
            s.sobject.to_string(),
            id,
            s.fields.keys().cloned().collect(),
        ))
    });
    read_fields(org, items).await
}

/// Whether the record an update step writes still holds what the journal says it held (the
/// step's `old` values): `Ok` with the guard to send it with (its `LastModifiedDate` as an HTTP
/// date), or the conflict's text and the values found.
pub(super) fn check_step(
    s: &Step,
    current: &HashMap<String, Json>,
) -> Result<Option<String>, (String, Option<Json>)> {
    let key: String = s.id.as_deref().unwrap_or("").chars().take(15).collect();
    let Some(cur) = current.get(&key) else {
        return Err((
            "conflict: the record is gone or no longer visible; nothing was written".into(),
            None,
        ));
    };
    let now = |k: &str| cur.get(k).cloned().unwrap_or(Json::Null);
    let changed: Vec<String> = s
        .fields
        .keys()
        .filter(|k| !same(&now(k), s.old.get(*k).unwrap_or(&Json::Null)))
        .map(|k| format!("{k} = {}", now(k)))
        .collect();
    if !changed.is_empty() {
        let found: serde_json::Map<String, Json> =
            s.fields.keys().map(|k| (k.clone(), now(k))).collect();
        return Err((
            format!(
                "conflict: changed by someone else since it was journaled (now {}); left as it is",
                changed.join(", ")
            ),
            Some(Json::Object(found)),
        ));
    }
    Ok(cur
        .get("LastModifiedDate")
        .and_then(Json::as_str)
        .and_then(crate::salesforce::rest::http_date_from_iso))
}

/// What undoing one update takes, given the records' current values.
pub(super) enum Revert {
    /// Never written (an interrupted run): nothing to revert.
    Nothing,
    /// Changed since, or gone: left as it is (with the values found, when there is a record).
    Conflict(Failure, Option<Json>),
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
        return Revert::Conflict(
            Failure {
                id: Some(id),
                name: c.name.clone(),
                error: "the record is gone or no longer visible".into(),
            },
            None,
        );
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
        let found: serde_json::Map<String, Json> = new
            .keys()
            .map(|k| (k.clone(), cur.get(k).cloned().unwrap_or(Json::Null)))
            .collect();
        return Revert::Conflict(
            Failure {
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
            },
            Some(Json::Object(found)),
        );
    }
    Revert::Restore {
        guard: cur
            .get("LastModifiedDate")
            .and_then(Json::as_str)
            .and_then(crate::salesforce::rest::http_date_from_iso),
    }
}

/// A record the entry created that someone changed since (its `LastModifiedDate` is no longer
/// its `CreatedDate`): undo keeps it, as a conflict, instead of deleting it. A record gone or no
/// longer visible is not a conflict (its delete finds it gone).
fn changed_since_created(c: &PlannedChange, current: &HashMap<String, Json>) -> Option<Failure> {
    let id = c.record_id.clone().unwrap_or_default();
    let key: String = id.chars().take(15).collect();
    let cur = current.get(&key)?;
    let created = cur.get("CreatedDate").and_then(Json::as_str)?;
    let modified = cur.get("LastModifiedDate").and_then(Json::as_str)?;
    (created != modified).then(|| Failure {
        id: Some(id),
        name: c.name.clone(),
        error: format!(
            "changed since it was created (last modified {modified}); kept, not deleted"
        ),
    })
}

/// The update that puts an entry's old values back.
fn restore_step(c: &PlannedChange, reference: String) -> Step {
    Step {
        op: Op::Update,
        ..Step::of_change(c, reference, true)
    }
}

/// The revert of an update, as the undo entry journals it: the new values back to the old.
pub(super) fn revert_change(c: &PlannedChange) -> PlannedChange {
    PlannedChange {
        op: Op::Update,
        sobject: c.sobject.clone(),
        record_id: c.record_id.clone(),
        name: c.name.clone(),
        old: c.new.clone(),
        new: c.old.clone(),
    }
}

/// What an undo of `entry` covers, said in its message: the entry and its retries, or, for a
/// retry, that one only.
pub(super) fn covers(family: &[crate::journal::Entry]) -> String {
    let Some(first) = family.first() else {
        return String::new();
    };
    if first.kind == EntryKind::Retry {
        let of = first
            .refers_to
            .map(|r| format!(" of entry {r}; entry {r}'s own changes are kept (`sayso undo {r}` reverts them)"))
            .unwrap_or_default();
        return format!("retry entry {}{of}", first.id);
    }
    let retries: Vec<String> = family[1..].iter().map(|e| e.id.to_string()).collect();
    match retries.len() {
        0 => format!("entry {}", first.id),
        1 => format!("entry {} and its retry, entry {}", first.id, retries[0]),
        _ => format!(
            "entry {} and its retries, entries {}",
            first.id,
            retries.join(", ")
        ),
    }
}

/// What undoing an entry and its retries takes, read from the journal and the records' current
/// values: the updates that put old values back, the deletes of what it created, and the
/// changes left as they are (changed since).
struct RevertPlan {
    /// The entry and its retries.
    family: Vec<crate::journal::Entry>,
    /// Guarded updates restoring old values.
    updates: Vec<Step>,
    /// Deletes of created records, in reverse creation order.
    deletes: Vec<Step>,
    /// Updates changed since: the revert as journaled, why, and the values found.
    conflicts: Vec<(PlannedChange, Failure, Option<Json>)>,
    /// The current values could not be read: no update is reverted.
    read_error: Option<OrgError>,
}

/// Reads what undoing `entry` (and its retries) takes; sends nothing.
async fn revert_plan(org: &Org, journal: &Journal, entry: i64) -> Result<RevertPlan, ExecError> {
    let family = journal.family(entry)?;
    let mut rows: Vec<ChangeRow> = Vec::new();
    for e in &family {
        rows.extend(journal.changes(e.id)?);
    }
    let undoable: Vec<&ChangeRow> = rows
        .iter()
        .filter(|r| r.state.may_be_applied() || r.state == ChangeState::Planned)
        .collect();
    // Updates: read the current values first.
    let (current, read_error) = match read_current(org, &undoable).await {
        Ok(c) => (c, None),
        Err(e) => (HashMap::new(), Some(e)),
    };
    let mut steps = Vec::new();
    let mut conflicts: Vec<(PlannedChange, Failure, Option<Json>)> = Vec::new();
    for r in &undoable {
        let c = &r.change;
        let id = c.record_id.clone().unwrap_or_default();
        match c.op {
            Op::Update if read_error.is_some() => {}
            Op::Update => match revert_of(c, &current) {
                Revert::Nothing => {}
                Revert::Conflict(f, found) => conflicts.push((revert_change(c), f, found)),
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
                if read_error.is_none()
                    && let Some(f) = changed_since_created(c, &current)
                {
                    let kept = PlannedChange {
                        op: Op::Delete,
                        old: c.new.clone(),
                        new: json!({}),
                        ..c.clone()
                    };
                    conflicts.push((kept, f, None));
                    continue;
                }
                steps.push(Step {
                    op: Op::Delete,
                    sobject: c.object(),
                    id: c.id(),
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
    Ok(RevertPlan {
        family,
        updates,
        deletes,
        conflicts,
        read_error,
    })
}

/// What `sayso undo` of `entry` would do now, without doing it: the changes that would be
/// reverted (updates back to their old values, then deletes of created records) and those that
/// would be left as they are, with why.
#[derive(Debug, Clone)]
pub struct UndoPreview {
    /// The reverting changes, in the order they would be sent.
    pub changes: Vec<PlannedChange>,
    /// The changes that would be left as they are.
    pub conflicts: Vec<Failure>,
}

/// Previews the undo of `entry` and its retries ([`undo`] without sending or journaling).
///
/// # Errors
/// [`ExecError::Journal`]. A read error is reported among the conflicts.
pub async fn undo_preview(
    org: &Org,
    journal: &Journal,
    entry: i64,
) -> Result<UndoPreview, ExecError> {
    let p = revert_plan(org, journal, entry).await?;
    let mut conflicts: Vec<Failure> = p.conflicts.into_iter().map(|(_, f, _)| f).collect();
    if let Some(e) = p.read_error {
        conflicts.push(Failure {
            id: None,
            name: String::new(),
            error: format!("could not read current values: {e}; no update would be reverted"),
        });
    }
    Ok(UndoPreview {
        changes: p
            .updates
            .iter()
            .chain(p.deletes.iter())
            .map(Step::to_planned)
            .collect(),
        conflicts,
    })
}

/// Reverts a journal entry and its retries: restores old values where the record still holds
/// what the entry wrote (guarded by `If-Unmodified-Since`), reports the others as conflicts
/// without overwriting them (journaled with the values found), and deletes what the entry
/// created. Journaled as a new `undo` entry; the changes it reverted are marked
/// [`ChangeState::Reverted`], so a second undo finds nothing to do.
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
    let RevertPlan {
        family,
        updates,
        deletes,
        conflicts,
        read_error,
    } = revert_plan(org, journal, entry).await?;
    let planned: Vec<PlannedChange> = updates
        .iter()
        .chain(deletes.iter())
        .map(Step::to_planned)
        .chain(conflicts.iter().map(|(c, _, _)| c.clone()))
        .collect();
    let (undo_entry, ids) = journal.begin(
        EntryHead::new(user, phrase, EntryKind::Undo, Some(entry)),
        &planned,
    )?;
    let mut tally = Tally::default();
    let base = updates.len() + deletes.len();
    for (k, (_, f, found)) in conflicts.into_iter().enumerate() {
        tally.conflicts += 1;
        tally.results.push(RowResult {
            error: Some(f.error.clone()),
            found,
            ..RowResult::new(ids[base + k], ChangeState::Conflict)
        });
        tally.failures.push(f);
    }
    let sent: Vec<RowResult> = ids[..base]
        .iter()
        .map(|&r| RowResult::new(r, ChangeState::Sent))
        .collect();
    journal.record_results(&sent)?;
    send_reverts(org, &updates, &ids, &mut tally).await;
    send_deletes(org, &deletes, &ids[updates.len()..], &mut tally).await;
    tally.flush(journal)?;
    let family_ids: Vec<i64> = family.iter().map(|e| e.id).collect();
    journal.mark_reverted(undo_entry, &family_ids)?;
    let Tally {
        changes,
        mut failures,
        ..
    } = tally;
    if let Some(e) = read_error {
        failures.push(Failure {
            id: None,
            name: String::new(),
            error: format!("could not read current values: {e}; no update was reverted"),
        });
    }
    let status = if failures.is_empty() {
        RunStatus::Applied
    } else if changes.is_empty() {
        RunStatus::Conflict
    } else {
        RunStatus::Partial
    };
    let what = covers(&family);
    let message = if failures.is_empty() {
        format!(
            "undid {what}: {} change{} reverted",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "undid {what} in part: {} reverted, {} left as they are ({})",
            changes.len(),
            failures.len(),
            failures[0].error
        )
    };
    journal.set_status(undo_entry, status.entry_status(), &message)?;
    Ok(RunReport {
        status,
        message,
        changes,
        failures,
        entry: Some(undo_entry),
        streamed: None,
    })
}

/// Sends the reverting updates: one guarded PATCH each when few, collections when many.
async fn send_reverts(org: &Org, updates: &[Step], ids: &[i64], tally: &mut Tally) {
    let empty = HashMap::new();
    if updates.len() > 3 {
        let all: Vec<usize> = (0..updates.len()).collect();
        for chunk in all.chunks(COLLECTION_MAX) {
            send_collection(org, updates, ids, "PATCH", chunk.to_vec(), tally).await;
        }
        return;
    }
    for (i, s) in updates.iter().enumerate() {
        let sent = org
            .update(
                &s.sobject,
                s.id.as_deref().unwrap_or(""),
                body_of(s, &empty, false),
                s.guard.as_deref(),
            )
            .await;
        match sent {
            Ok(true) => tally.done(ids[i], s, None, &empty),
            Ok(false) => {
                let e = "changed by someone else meanwhile; left as it is".to_string();
                tally.conflict(ids[i], s, e, None);
            }
            Err(e) => tally.failed(ids[i], s, e.to_string()),
        }
    }
}

/// Deletes what the entry created: one DELETE each when few, collections when many. A record
/// already gone counts as deleted.
async fn send_deletes(org: &Org, deletes: &[Step], ids: &[i64], tally: &mut Tally) {
    let empty = HashMap::new();
    if deletes.len() <= 3 {
        for (k, s) in deletes.iter().enumerate() {
            match org.delete(&s.sobject, s.id.as_deref().unwrap_or("")).await {
                Ok(()) => tally.done(ids[k], s, None, &empty),
                Err(e) => tally.failed(ids[k], s, e.to_string()),
            }
        }
        return;
    }
    for (c, chunk) in deletes.chunks(COLLECTION_MAX).enumerate() {
        let del_ids: Vec<String> = chunk
            .iter()
            .filter_map(|s| s.id.as_ref().map(RecordId::to_string))
            .collect();
        let rs = org.collection_delete(&del_ids).await;
        for (k, s) in chunk.iter().enumerate() {
            let i = c * COLLECTION_MAX + k;
            let error = collection_error(&rs, k);
            if collection_ok(&rs, k) || error.contains("ENTITY_IS_DELETED") {
                tally.done(ids[i], s, None, &empty);
            } else {
                tally.failed(ids[i], s, error);
            }
        }
    }
}

/// Whether two values of a field are the same: numbers by value, ids by their 15 characters,
/// null as empty text, and, since Bulk API CSV carries no types, text against a number or a
/// boolean by what the text says and two datetimes by the instant they name.
pub(super) fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::String(t), Json::Number(_) | Json::Bool(_)) => return same_text(t, b),
        (Json::Number(_) | Json::Bool(_), Json::String(t)) => return same_text(t, a),
        (Json::String(x), Json::String(y)) if x != y && same_instant(x, y) => return true,
        _ => {}
    }
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

/// A value as text (a Bulk API CSV cell) against a typed one.
fn same_text(text: &str, typed: &Json) -> bool {
    match typed {
        Json::Number(n) => match (text.trim().parse::<f64>(), n.as_f64()) {
            (Ok(x), Some(y)) => (x - y).abs() < 1e-9,
            _ => false,
        },
        Json::Bool(b) => text
            .trim()
            .eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        _ => false,
    }
}

/// Whether two datetime texts name the same instant (`…Z` from Bulk API, `…+0000` from REST).
fn same_instant(x: &str, y: &str) -> bool {
    fn instant(t: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        if t.len() < 19 || t.as_bytes().get(10) != Some(&b'T') {
            return None;
        }
        chrono::DateTime::parse_from_rfc3339(t)
            .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .ok()
    }
    matches!((instant(x), instant(y)), (Some(a), Some(b)) if a == b)
}

/// Builds the plan that re-sends the changes of an entry the org refused ([`ChangeState::Failed`],
/// `sayso retry`). Conflicts and unconfirmed changes are not re-sent: they are counted as skipped.
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
        match r.state {
            ChangeState::Failed => {}
            ChangeState::Applied | ChangeState::Reverted => continue,
            // Conflicts must not overwrite someone's change; unconfirmed changes may exist
            // already (a run that was cut short is reconciled first).
            ChangeState::Conflict | ChangeState::Planned | ChangeState::Sent => {
                skipped += 1;
                continue;
            }
        }
        let c = &r.change;
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
                        if dep.state == ChangeState::Applied && dep.change.record_id.is_some() =>
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
        let again = Step::of_change(c, format!("r{}", steps.len()), false);
        steps.push(Step {
            id: again.id.filter(|_| c.op == Op::Update),
            fields,
            ..again
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
    use crate::journal::testing::update_of;

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
    fn bulk_text_compares_with_typed_values() {
        assert!(same(&json!("92000"), &json!(92000)));
        assert!(same(&json!(92000.5), &json!("92000.50")));
        assert!(!same(&json!("92001"), &json!(92000)));
        assert!(same(&json!("true"), &json!(true)));
        assert!(!same(&json!(false), &json!("true")));
        assert!(same(
            &json!("2026-11-18T10:00:00.000Z"),
            &json!("2026-11-18T10:00:00.000+0000")
        ));
        assert!(!same(
            &json!("2026-11-18T10:00:01.000Z"),
            &json!("2026-11-18T10:00:00.000+0000")
        ));
        assert!(!same(&json!("abc"), &json!(1)));
    }

    #[test]
    fn retry_plan_resends_failed_updates_only() {
        let mut j = Journal::in_memory().unwrap();
        let ch = |id: &str| update_of(id, json!({"NextStep": "a"}), json!({"NextStep": "b"}));
        let (e, ids) = j.begin_test(
            "bulk",
            &[
                ch("006Dm0000000001IAA"),
                ch("006Dm0000000002IAA"),
                ch("006Dm0000000003IAA"),
            ],
        );
        j.record_applied_and_failed(ids[0], ids[1], "x");
        let (plan, skipped) = retry_plan(&j, e).unwrap();
        assert_eq!(skipped, 1, "the unconfirmed one is not re-sent");
        let ids: Vec<_> = plan.steps.iter().map(|s| s.id_text().unwrap()).collect();
        assert_eq!(ids, vec!["006Dm0000000002IAA"]);
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
        let (e, ids) = j.begin_test(
            "compound",
            &[
                create("ContentNote", json!({"Title": "t"})),
                create(
                    "ContentDocumentLink",
                    json!({"ContentDocumentId": "@{s0.id}", "LinkedEntityId": "006A"}),
                ),
            ],
        );
        let failed = |row| RowResult {
            error: Some("x".into()),
            ..RowResult::new(row, ChangeState::Failed)
        };
        j.record_results(&[failed(ids[0]), failed(ids[1])]).unwrap();
        let (plan, skipped) = retry_plan(&j, e).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(
            plan.steps[1].fields["ContentDocumentId"],
            Val::Ref("r0".into())
        );
        assert!(plan.has_references());
        // when the note was made, the link points at its id
        j.record_results(&[RowResult {
            record_id: Some("069X".into()),
            ..RowResult::new(ids[0], ChangeState::Applied)
        }])
        .unwrap();
        let (plan, _) = retry_plan(&j, e).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(
            plan.steps[0].fields["ContentDocumentId"],
            Val::Lit(json!("069X"))
        );
    }
}
