//! Execution: carries out a [`Plan`] through the org with the fewest calls its route allows — one
//! PATCH (guarded by `If-Unmodified-Since`), one POST, `/composite` with references and allOrNone,
//! sObject Collections in 200s, or Bulk API 2.0 — and journals every change before and after.
//!
//! - this file: [`run`], the wire shapes of writes, the Bulk CSV.
//! - [`staged`]: bulk updates too large to hold, sent in Bulk jobs read from the journal
//!   ([`run_staged`], and the streamed [`undo_staged`] / [`retry_staged`]).
//! - [`undo`](mod@undo): reverting an entry ([`undo()`]) and re-sending its failed part ([`retry_plan`]).
//!
//! Owns the wire shapes of writes. Never resolves names: a plan arrives fully resolved. Never
//! prints; progress is reported through a callback.

mod staged;
mod undo;

pub use staged::{retry_staged, run_staged, undo_staged};
pub use undo::{retry_plan, undo};

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value as Json, json};

use crate::journal::{ChangeState, Journal, JournalError, Op, PlannedChange};
use crate::plan::{COLLECTION_MAX, Plan, Route, RouteOptions, Step, Val};
use crate::resolve::org::{Org, OrgError};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every change was made.
    Applied,
    /// Some changes were made, some failed (bulk).
    Partial,
    /// A record changed underneath; nothing (or, for undo, not everything) was written.
    Conflict,
    /// Nothing was made.
    Failed,
    /// The API budget is spent.
    LimitExceeded,
}

impl RunStatus {
    /// The journal's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Applied => "applied",
            RunStatus::Partial => "partial",
            RunStatus::Conflict => "conflict",
            RunStatus::Failed => "failed",
            RunStatus::LimitExceeded => "limit_exceeded",
        }
    }
}

/// One change as reported to the user.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChangeReport {
    /// `update`, `create`, `delete`.
    pub op: String,
    /// Object API name.
    pub sobject: String,
    /// Record id (created id for creates).
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Field → {old, new}.
    pub fields: BTreeMap<String, Json>,
}

/// A change the org refused.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failure {
    /// Record id, when known.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// The org's error (`CODE: message`).
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// How it ended.
    pub status: RunStatus,
    /// One-line summary.
    pub message: String,
    /// Changes made (empty for a staged run: they are in the journal entry).
    pub changes: Vec<ChangeReport>,
    /// Changes refused (empty for a staged run).
    pub failures: Vec<Failure>,
    /// The journal entry.
    pub entry: Option<i64>,
    /// A staged run's counts of changes made and refused; its changes and failures are read from
    /// the journal entry (`app` streams them out).
    pub streamed: Option<(usize, usize)>,
}

/// Execution errors that stop a run before the org answers.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The journal could not be written: nothing is sent without it.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Progress callback: (done, total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Send + Sync);

/// Options of a run.
pub struct RunOptions<'a> {
    /// Who runs it (username, for the journal).
    pub user: String,
    /// The phrase.
    pub phrase: String,
    /// Route thresholds.
    pub route: RouteOptions,
    /// Progress reports for bulk runs.
    pub progress: Option<Progress<'a>>,
}

/// The per-change results of a run as they come in: the journal rows still to append, and the
/// changes made and refused for the report.
#[derive(Default)]
struct Tally {
    results: Vec<(i64, ChangeState, Option<String>, Option<String>)>,
    changes: Vec<ChangeReport>,
    failures: Vec<Failure>,
}

impl Tally {
    /// Journal row `row` (plan step `step`) was made; `id` is the record's (a created one's).
    fn done(
        &mut self,
        row: i64,
        step: &Step,
        id: Option<String>,
        resolved: &HashMap<String, String>,
    ) {
        self.results
            .push((row, ChangeState::Done, id.clone(), None));
        self.changes.push(report_of(step, id, resolved));
    }

    /// Journal row `row` (plan step `step`) was refused with `error`.
    fn failed(&mut self, row: i64, step: &Step, error: String) {
        self.results
            .push((row, ChangeState::Failed, None, Some(error.clone())));
        self.failures.push(Failure {
            id: step.id.clone(),
            name: step.name.clone(),
            error,
        });
    }

    /// Appends the results gathered so far to the journal.
    fn flush(&mut self, journal: &mut Journal) -> Result<(), JournalError> {
        journal.record_results(&self.results)?;
        self.results.clear();
        Ok(())
    }
}

/// Whether record `k` of an sObject Collections response succeeded.
fn collection_ok(rs: &Result<Vec<Json>, OrgError>, k: usize) -> bool {
    rs.as_ref()
        .ok()
        .and_then(|rs| rs.get(k))
        .and_then(|r| r.get("success"))
        .and_then(Json::as_bool)
        == Some(true)
}

/// Why record `k` of an sObject Collections response failed (or the request did).
fn collection_error(rs: &Result<Vec<Json>, OrgError>, k: usize) -> String {
    match rs {
        Ok(rs) => error_text(
            rs.get(k)
                .and_then(|r| r.get("errors"))
                .unwrap_or(&Json::Null),
        ),
        Err(e) => e.to_string(),
    }
}

fn body_of(step: &Step, resolved: &HashMap<String, String>, composite: bool) -> Json {
    let mut m = serde_json::Map::new();
    for (k, v) in &step.fields {
        let j = match v {
            Val::Lit(j) => j.clone(),
            Val::Ref(r) => match resolved.get(r) {
                Some(id) => json!(id),
                None if composite => json!(format!("@{{{r}.id}}")),
                None => Json::Null,
            },
        };
        m.insert(k.clone(), j);
    }
    Json::Object(m)
}

fn report_of(step: &Step, id: Option<String>, resolved: &HashMap<String, String>) -> ChangeReport {
    let fields = step
        .fields
        .iter()
        .map(|(k, v)| {
            let new = match v {
                Val::Lit(j) => j.clone(),
                Val::Ref(r) => resolved.get(r).map(|i| json!(i)).unwrap_or(Json::Null),
            };
            let old = step.old.get(k).cloned().unwrap_or(Json::Null);
            (k.clone(), json!({"old": old, "new": new}))
        })
        .collect();
    ChangeReport {
        op: step.op.as_str().into(),
        sobject: step.sobject.clone(),
        id: id.or_else(|| step.id.clone()),
        name: step.name.clone(),
        fields,
    }
}

fn error_text(v: &Json) -> String {
    let first = v.as_array().and_then(|a| a.first()).unwrap_or(v);
    let code = first
        .get("errorCode")
        .or_else(|| first.get("statusCode"))
        .and_then(Json::as_str)
        .unwrap_or("ERROR");
    let msg = first.get("message").and_then(Json::as_str).unwrap_or("");
    format!("{code}: {msg}")
}

/// Carries out a plan, journaling it before and after.
///
/// # Errors
/// [`ExecError::Journal`] when the journal can't be written (then nothing is sent).
pub async fn run(
    org: &Org,
    journal: &mut Journal,
    plan: &Plan,
    opts: &RunOptions<'_>,
    kind: &str,
    refers_to: Option<i64>,
) -> Result<RunReport, ExecError> {
    let planned: Vec<PlannedChange> = plan.steps.iter().map(Step::to_planned).collect();
    let (entry, ids) = journal.begin(&opts.user, &opts.phrase, kind, refers_to, &planned)?;
    let mut resolved: HashMap<String, String> = HashMap::new();
    let mut tally = Tally::default();
    let mut conflict = false;
    let mut limit = false;
    let route = plan.route(opts.route);
    let total = plan.steps.len();
    match route {
        Route::Nothing => {}
        Route::Patch | Route::Post => {
            let step = &plan.steps[0];
            let result = if step.op == Op::Update {
                org.update(
                    &step.sobject,
                    step.id.as_deref().unwrap_or(""),
                    body_of(step, &resolved, false),
                    step.guard.as_deref(),
                )
                .await
                .map(|ok| {
                    if ok {
                        Some(step.id.clone().unwrap_or_default())
                    } else {
                        None
                    }
                })
            } else {
                org.create(&step.sobject, body_of(step, &resolved, false))
                    .await
                    .map(Some)
            };
            match result {
                Ok(Some(id)) => tally.done(ids[0], step, Some(id), &resolved),
                Ok(None) => {
                    conflict = true;
                    let e = format!(
                        "conflict: {} `{}` was changed by someone else since it was read; nothing was written",
                        step.sobject, step.name
                    );
                    tally.failed(ids[0], step, e);
                }
                Err(e) => {
                    limit |= matches!(e, OrgError::LimitExceeded(_));
                    tally.failed(ids[0], step, e.to_string());
                }
            }
            tally.flush(journal)?;
        }
        Route::Composite => {
            let mut done = 0;
            for chunk in plan.composite_chunks() {
                let subrequests: Vec<Json> = chunk
                    .iter()
                    .map(|&i| {
                        let s = &plan.steps[i];
                        let (method, url) = match s.op {
                            Op::Create => {
                                ("POST", org.data_path(&format!("/sobjects/{}", s.sobject)))
                            }
                            Op::Update => (
                                "PATCH",
                                org.data_path(&format!(
                                    "/sobjects/{}/{}",
                                    s.sobject,
                                    s.id.as_deref().unwrap_or("")
                                )),
                            ),
                            Op::Delete => (
                                "DELETE",
                                org.data_path(&format!(
                                    "/sobjects/{}/{}",
                                    s.sobject,
                                    s.id.as_deref().unwrap_or("")
                                )),
                            ),
                        };
                        let mut sub =
                            json!({"method": method, "url": url, "referenceId": s.reference});
                        if s.op != Op::Delete {
                            sub["body"] = body_of(s, &resolved, true);
                        }
                        if let (Op::Update, Some(g)) = (s.op, &s.guard) {
                            sub["httpHeaders"] = json!({"If-Unmodified-Since": g});
                        }
                        sub
                    })
                    .collect();
                match org.composite(subrequests, true).await {
                    Ok(responses) => {
                        let by_ref: HashMap<String, &Json> = responses
                            .iter()
                            .filter_map(|r| {
                                r.get("referenceId")
                                    .and_then(Json::as_str)
                                    .map(|k| (k.to_string(), r))
                            })
                            .collect();
                        let all_ok = chunk.iter().all(|&i| {
                            by_ref
                                .get(&plan.steps[i].reference)
                                .and_then(|r| r.get("httpStatusCode"))
                                .and_then(Json::as_u64)
                                .is_some_and(|c| c < 300)
                        });
                        // The first real error (not the PROCESSING_HALTED echoes) explains the rollback.
                        let cause = responses
                            .iter()
                            .filter(|r| {
                                r.get("httpStatusCode").and_then(Json::as_u64).unwrap_or(0) >= 300
                            })
                            .map(|r| {
                                (
                                    r.get("httpStatusCode").and_then(Json::as_u64).unwrap_or(0),
                                    error_text(r.get("body").unwrap_or(&Json::Null)),
                                )
                            })
                            .find(|(_, e)| {
                                !e.starts_with("PROCESSING_HALTED") && !e.starts_with("ALL_OR_NONE")
                            })
                            .unwrap_or((400, "the request was rolled back".into()));
                        if cause.0 == 412 || cause.1.contains("PRECONDITION") {
                            conflict = true;
                        }
                        for &i in &chunk {
                            let s = &plan.steps[i];
                            let r = by_ref.get(&s.reference);
                            if all_ok {
                                let id = match s.op {
                                    Op::Create => r
                                        .and_then(|r| r.get("body"))
                                        .and_then(|b| b.get("id"))
                                        .and_then(Json::as_str)
                                        .map(str::to_string),
                                    _ => s.id.clone(),
                                };
                                if let Some(id) = &id {
                                    resolved.insert(s.reference.clone(), id.clone());
                                }
                                tally.done(ids[i], s, id, &resolved);
                            } else {
                                let e = if conflict {
                                    format!(
                                        "conflict: a record changed since it was read ({}); nothing was written",
                                        cause.1
                                    )
                                } else {
                                    format!("{}; nothing was written", cause.1)
                                };
                                tally.failed(ids[i], s, e);
                            }
                        }
                    }
                    Err(e) => {
                        limit |= matches!(e, OrgError::LimitExceeded(_));
                        for &i in &chunk {
                            let s = &plan.steps[i];
                            tally.failed(ids[i], s, e.to_string());
                        }
                    }
                }
                tally.flush(journal)?;
                done += chunk.len();
                if let Some(p) = opts.progress {
                    p(done, total);
                }
            }
        }
        Route::Collections => {
            let method = if plan.steps[0].op == Op::Create {
                "POST"
            } else {
                "PATCH"
            };
            let mut done = 0;
            for (c, chunk) in plan.steps.chunks(COLLECTION_MAX).enumerate() {
                let base = c * COLLECTION_MAX;
                let records: Vec<Json> = chunk
                    .iter()
                    .map(|s| {
                        let mut b = body_of(s, &resolved, false);
                        b["attributes"] = json!({"type": s.sobject});
                        if let Some(id) = &s.id {
                            b["id"] = json!(id);
                        }
                        b
                    })
                    .collect();
                match org.collection(method, records, false).await {
                    Ok(rs) => {
                        for (k, s) in chunk.iter().enumerate() {
                            let r = rs.get(k).cloned().unwrap_or(Json::Null);
                            if r.get("success").and_then(Json::as_bool) == Some(true) {
                                let id = r
                                    .get("id")
                                    .and_then(Json::as_str)
                                    .map(str::to_string)
                                    .or_else(|| s.id.clone());
                                tally.done(ids[base + k], s, id, &resolved);
                            } else {
                                let e = error_text(r.get("errors").unwrap_or(&Json::Null));
                                tally.failed(ids[base + k], s, e);
                            }
                        }
                    }
                    Err(e) => {
                        limit |= matches!(e, OrgError::LimitExceeded(_));
                        for (k, s) in chunk.iter().enumerate() {
                            tally.failed(ids[base + k], s, e.to_string());
                        }
                    }
                }
                tally.flush(journal)?;
                done += chunk.len();
                if let Some(p) = opts.progress {
                    p(done, total);
                }
            }
        }
        Route::Bulk => {
            let (done_rows, failed) = bulk_update(org, plan).await;
            match failed {
                Err(e) => {
                    limit |= matches!(e, OrgError::LimitExceeded(_));
                    for (i, s) in plan.steps.iter().enumerate() {
                        tally.failed(ids[i], s, e.to_string());
                    }
                }
                Ok(failed) => {
                    for (i, s) in plan.steps.iter().enumerate() {
                        let id = s.id.clone().unwrap_or_default();
                        let key: String = id.chars().take(15).collect();
                        if let Some(e) = failed.get(&key) {
                            tally.failed(ids[i], s, e.clone());
                        } else if done_rows.contains(&key) {
                            tally.done(ids[i], s, None, &resolved);
                        } else {
                            let e = "not processed by the bulk job".to_string();
                            tally.failed(ids[i], s, e);
                        }
                    }
                }
            }
            tally.flush(journal)?;
            if let Some(p) = opts.progress {
                p(total, total);
            }
        }
    }
    let Tally {
        changes, failures, ..
    } = tally;
    let status = if limit {
        RunStatus::LimitExceeded
    } else if failures.is_empty() {
        RunStatus::Applied
    } else if conflict && changes.is_empty() {
        RunStatus::Conflict
    } else if changes.is_empty() {
        RunStatus::Failed
    } else {
        RunStatus::Partial
    };
    let message = match status {
        RunStatus::Applied => format!(
            "{} change{} made",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        ),
        RunStatus::Partial => format!(
            "{} of {} changes made; {} failed (run `sayso retry` to retry them)",
            changes.len(),
            total,
            failures.len()
        ),
        _ => failures
            .first()
            .map(|f| f.error.clone())
            .unwrap_or_else(|| "nothing was written".into()),
    };
    journal.set_status(entry, status.as_str(), &message)?;
    Ok(RunReport {
        status,
        message,
        changes,
        failures,
        entry: Some(entry),
        streamed: None,
    })
}

/// A Bulk API 2.0 update CSV being written: `Id` and the columns; a missing value is left empty
/// (Bulk leaves the field as it is), a null is `#N/A` (Bulk clears the field).
struct BulkCsv {
    w: csv::Writer<Vec<u8>>,
    row: Vec<String>,
}

impl BulkCsv {
    fn new(columns: &[String]) -> BulkCsv {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let mut header = vec!["Id"];
        header.extend(columns.iter().map(String::as_str));
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&header);
        BulkCsv { w, row: Vec::new() }
    }

    fn row<'a>(&mut self, id: &str, values: impl Iterator<Item = Option<&'a Json>>) {
        self.row.clear();
        self.row.push(id.to_string());
        self.row.extend(values.map(|v| match v {
            Some(Json::String(t)) => t.clone(),
            Some(Json::Null) => "#N/A".into(),
            Some(j) => j.to_string(),
            None => String::new(),
        }));
        let _ = self.w.write_record(&self.row);
    }

    fn finish(self) -> String {
        String::from_utf8(self.w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// The ids in a `successfulResults` CSV (`sf__Id` is the first column).
fn ok_ids(ok_csv: &str) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(ok_csv.as_bytes());
    rdr.records()
        .flatten()
        .filter_map(|rec| rec.get(0).map(str::to_string))
        .filter(|id| !id.is_empty())
        .collect()
}

/// `(id, error)` per row of a `failedResults` CSV (`sf__Id`, `sf__Error`, then the row as sent:
/// an update's own `Id` column names the record when `sf__Id` is empty).
fn failed_rows(failed_csv: &str) -> Vec<(String, String)> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(failed_csv.as_bytes());
    let id_col = rdr
        .headers()
        .ok()
        .and_then(|h| h.iter().position(|c| c == "Id"));
    rdr.records()
        .flatten()
        .map(|rec| {
            let id = rec
                .get(0)
                .filter(|s| !s.is_empty())
                .or_else(|| id_col.and_then(|c| rec.get(c)))
                .unwrap_or("");
            (
                id.to_string(),
                rec.get(1).unwrap_or("").trim_end_matches(" --").to_string(),
            )
        })
        .collect()
}

/// Bulk API 2.0 update: returns the ids (15-char) that succeeded and, per failed id, the error.
async fn bulk_update(
    org: &Org,
    plan: &Plan,
) -> (HashSet<String>, Result<HashMap<String, String>, OrgError>) {
    let sobject = plan.steps[0].sobject.clone();
    let mut columns: Vec<String> = Vec::new();
    for s in &plan.steps {
        for k in s.fields.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let mut csv = BulkCsv::new(&columns);
    for s in &plan.steps {
        csv.row(
            s.id.as_deref().unwrap_or(""),
            columns.iter().map(|c| match s.fields.get(c) {
                Some(Val::Lit(j)) => Some(j),
                _ => None,
            }),
        );
    }
    let text = csv.finish();
    match org.bulk_ingest(&sobject, "update", text).await {
        Err(e) => (HashSet::new(), Err(e)),
        Ok((ok_csv, failed_csv)) => {
            // A set: every plan step is looked up in it (a Vec made 100k-row updates quadratic).
            let key = |id: &str| id.chars().take(15).collect::<String>();
            let ok = ok_ids(&ok_csv).iter().map(|id| key(id)).collect();
            let failed = failed_rows(&failed_csv)
                .into_iter()
                .map(|(id, e)| (key(&id), e))
                .collect();
            (ok, Ok(failed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_bodies_use_references_until_resolved() {
        let mut fields = BTreeMap::new();
        fields.insert("ContentDocumentId".to_string(), Val::Ref("s0".into()));
        let step = Step {
            op: Op::Create,
            sobject: "ContentDocumentLink".into(),
            id: None,
            name: "link".into(),
            reference: "s1".into(),
            fields,
            old: BTreeMap::new(),
            guard: None,
        };
        assert_eq!(
            body_of(&step, &HashMap::new(), true)["ContentDocumentId"],
            "@{s0.id}"
        );
        let resolved = HashMap::from([("s0".to_string(), "069X".to_string())]);
        assert_eq!(body_of(&step, &resolved, true)["ContentDocumentId"], "069X");
    }
}
