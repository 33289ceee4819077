//! Execution: carries out a [`Plan`] through the org with the fewest calls its route allows — one
//! PATCH (guarded by `If-Unmodified-Since`), one POST, `/composite` with references and allOrNone,
//! sObject Collections in 200s, or Bulk API 2.0 — and journals every change before and after.
//! Also reverts a journal entry (undo) and re-sends the failed part of one (retry).
//!
//! Owns the wire shapes of writes. Never resolves names: a plan arrives fully resolved. Never
//! prints; progress is reported through a callback.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value as Json, json};

use crate::journal::{
    ChangeRow, ChangeState, Journal, JournalError, Op, PlannedChange, StateCounts,
};
use crate::plan::{COLLECTION_MAX, Plan, Route, RouteOptions, Step, Val};
use crate::resolve::org::{Org, OrgError};
use crate::resolve::query::{self, in_strs, to_soql};

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
    let mut changes = Vec::new();
    let mut failures = Vec::new();
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
                Ok(Some(id)) => {
                    journal.record_results(&[(
                        ids[0],
                        ChangeState::Done,
                        Some(id.clone()),
                        None,
                    )])?;
                    changes.push(report_of(step, Some(id), &resolved));
                }
                Ok(None) => {
                    conflict = true;
                    let e = format!(
                        "conflict: {} `{}` was changed by someone else since it was read; nothing was written",
                        step.sobject, step.name
                    );
                    journal.record_results(&[(
                        ids[0],
                        ChangeState::Failed,
                        None,
                        Some(e.clone()),
                    )])?;
                    failures.push(Failure {
                        id: step.id.clone(),
                        name: step.name.clone(),
                        error: e,
                    });
                }
                Err(e) => {
                    limit |= matches!(e, OrgError::LimitExceeded(_));
                    journal.record_results(&[(
                        ids[0],
                        ChangeState::Failed,
                        None,
                        Some(e.to_string()),
                    )])?;
                    failures.push(Failure {
                        id: step.id.clone(),
                        name: step.name.clone(),
                        error: e.to_string(),
                    });
                }
            }
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
                let mut results = Vec::new();
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
                                results.push((ids[i], ChangeState::Done, id.clone(), None));
                                changes.push(report_of(s, id, &resolved));
                            } else {
                                let e = if conflict {
                                    format!(
                                        "conflict: a record changed since it was read ({}); nothing was written",
                                        cause.1
                                    )
                                } else {
                                    format!("{}; nothing was written", cause.1)
                                };
                                results.push((ids[i], ChangeState::Failed, None, Some(e.clone())));
                                failures.push(Failure {
                                    id: s.id.clone(),
                                    name: s.name.clone(),
                                    error: e,
                                });
                            }
                        }
                    }
                    Err(e) => {
                        limit |= matches!(e, OrgError::LimitExceeded(_));
                        for &i in &chunk {
                            let s = &plan.steps[i];
                            results.push((ids[i], ChangeState::Failed, None, Some(e.to_string())));
                            failures.push(Failure {
                                id: s.id.clone(),
                                name: s.name.clone(),
                                error: e.to_string(),
                            });
                        }
                    }
                }
                journal.record_results(&results)?;
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
                let mut results = Vec::new();
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
                                results.push((ids[base + k], ChangeState::Done, id.clone(), None));
                                changes.push(report_of(s, id, &resolved));
                            } else {
                                let e = error_text(r.get("errors").unwrap_or(&Json::Null));
                                results.push((
                                    ids[base + k],
                                    ChangeState::Failed,
                                    None,
                                    Some(e.clone()),
                                ));
                                failures.push(Failure {
                                    id: s.id.clone(),
                                    name: s.name.clone(),
                                    error: e,
                                });
                            }
                        }
                    }
                    Err(e) => {
                        limit |= matches!(e, OrgError::LimitExceeded(_));
                        for (k, s) in chunk.iter().enumerate() {
                            results.push((
                                ids[base + k],
                                ChangeState::Failed,
                                None,
                                Some(e.to_string()),
                            ));
                            failures.push(Failure {
                                id: s.id.clone(),
                                name: s.name.clone(),
                                error: e.to_string(),
                            });
                        }
                    }
                }
                journal.record_results(&results)?;
                done += chunk.len();
                if let Some(p) = opts.progress {
                    p(done, total);
                }
            }
        }
        Route::Bulk => {
            let (done_rows, failed) = bulk_update(org, plan).await;
            let mut results = Vec::new();
            match failed {
                Err(e) => {
                    limit |= matches!(e, OrgError::LimitExceeded(_));
                    for (i, s) in plan.steps.iter().enumerate() {
                        results.push((ids[i], ChangeState::Failed, None, Some(e.to_string())));
                        failures.push(Failure {
                            id: s.id.clone(),
                            name: s.name.clone(),
                            error: e.to_string(),
                        });
                    }
                }
                Ok(failed) => {
                    for (i, s) in plan.steps.iter().enumerate() {
                        let id = s.id.clone().unwrap_or_default();
                        let key: String = id.chars().take(15).collect();
                        if let Some(e) = failed.get(&key) {
                            results.push((ids[i], ChangeState::Failed, None, Some(e.clone())));
                            failures.push(Failure {
                                id: s.id.clone(),
                                name: s.name.clone(),
                                error: e.clone(),
                            });
                        } else if done_rows.contains(&key) {
                            results.push((ids[i], ChangeState::Done, None, None));
                            changes.push(report_of(s, None, &resolved));
                        } else {
                            let e = "not processed by the bulk job".to_string();
                            results.push((ids[i], ChangeState::Failed, None, Some(e.clone())));
                            failures.push(Failure {
                                id: s.id.clone(),
                                name: s.name.clone(),
                                error: e,
                            });
                        }
                    }
                }
            }
            journal.record_results(&results)?;
            if let Some(p) = opts.progress {
                p(total, total);
            }
        }
    }
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

/// Carries out a staged bulk update ([`Plan::staged`]): moves the stage into a new journal entry
/// in one statement, then sends it in Bulk API 2.0 jobs ([`send_in_jobs`]). Memory holds one job
/// at a time, whatever the number of records.
///
/// # Errors
/// [`ExecError::Journal`] when the journal can't be written (then nothing more is sent).
pub async fn run_staged(
    org: &Org,
    journal: &mut Journal,
    plan: &Plan,
    opts: &RunOptions<'_>,
) -> Result<RunReport, ExecError> {
    let Some(staged) = &plan.staged else {
        return run(org, journal, plan, opts, "command", None).await;
    };
    let Some((entry, total)) =
        journal.begin_from_stage(&opts.user, &opts.phrase, "command", None, staged.stage)?
    else {
        return Ok(RunReport {
            status: RunStatus::Failed,
            message: "this bulk change is no longer pending (applied, cancelled or older than a day); run the command again".into(),
            changes: Vec::new(),
            failures: Vec::new(),
            entry: None,
            streamed: Some((0, 0)),
        });
    };
    send_and_report(
        org,
        journal,
        entry,
        &staged.sobject,
        &staged.columns,
        total,
        opts,
    )
    .await
}

/// Sends an entry in Bulk jobs ([`send_in_jobs`]) and reports it as a run does.
async fn send_and_report(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    sobject: &str,
    columns: &[String],
    total: usize,
    opts: &RunOptions<'_>,
) -> Result<RunReport, ExecError> {
    let stop = send_in_jobs(org, journal, entry, sobject, columns, total, opts).await?;
    let (counts, first_error) = streamed_counts(journal, entry)?;
    let status = streamed_status(stop.as_ref(), counts);
    let message = match status {
        RunStatus::Applied => format!(
            "{} change{} made",
            counts.done,
            if counts.done == 1 { "" } else { "s" }
        ),
        RunStatus::Partial => format!(
            "{} of {total} changes made; {} failed, e.g. {} (run `sayso retry` to retry them)",
            counts.done,
            counts.failed,
            first_error.as_deref().unwrap_or("unknown error")
        ),
        _ => first_error.unwrap_or_else(|| "nothing was written".into()),
    };
    finish_streamed(journal, entry, status, message, counts)
}

/// Re-sends, in Bulk API 2.0 jobs, the updates of a one-object entry that did not go through
/// (`sayso retry` of a large bulk run): they are copied into a new `retry` entry in one
/// statement, never held in memory. Conflicts are not re-sent.
///
/// # Errors
/// [`ExecError::Journal`].
pub async fn retry_staged(
    org: &Org,
    journal: &mut Journal,
    from: i64,
    sobject: &str,
    opts: &RunOptions<'_>,
) -> Result<RunReport, ExecError> {
    let (entry, total) = journal.begin_retry_of_updates(&opts.user, &opts.phrase, from)?;
    let columns = journal.new_fields(entry)?;
    send_and_report(org, journal, entry, sobject, &columns, total, opts).await
}

/// Reverts a large one-object update entry ([`undo`] for a bulk run): pages through it 2,000
/// changes at a time, reads those records' current values, journals each revert (or, for a record
/// changed since, a failed one saying so), then sends the reverts in Bulk API 2.0 jobs. Memory
/// holds one page and one job, whatever the size of the entry.
///
/// # Errors
/// [`ExecError::Journal`].
pub async fn undo_staged(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    sobject: &str,
    opts: &RunOptions<'_>,
) -> Result<RunReport, ExecError> {
    let (undo_entry, _) = journal.begin(&opts.user, &opts.phrase, "undo", Some(entry), &[])?;
    let mut after = None;
    let mut seq = 0;
    let mut conflicts = 0;
    loop {
        let page = journal.changes_page(entry, after, UNDO_PAGE)?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = Some(*last);
        let rows: Vec<&ChangeRow> = page
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.state != ChangeState::Failed)
            .collect();
        let (current, read_error) = read_current(org, &rows).await;
        if let Some(e) = read_error {
            // Nothing was sent yet: the undo entry stays without changes, and says why.
            let status = if matches!(e, OrgError::LimitExceeded(_)) {
                RunStatus::LimitExceeded
            } else {
                RunStatus::Failed
            };
            let message = format!("could not read current values: {e}; nothing was reverted");
            journal.fail_unrecorded(undo_entry, &message)?;
            return finish_streamed(journal, undo_entry, status, message, StateCounts::default());
        }
        let mut reverts = Vec::new();
        let mut refused = Vec::new();
        for r in rows {
            let c = &r.change;
            let revert = PlannedChange {
                op: Op::Update,
                sobject: c.sobject.clone(),
                record_id: c.record_id.clone(),
                name: c.name.clone(),
                old: c.new.clone(),
                new: c.old.clone(),
            };
            match revert_of(c, &current) {
                Revert::Nothing => {}
                Revert::Restore { .. } => reverts.push(revert),
                Revert::Conflict(f) => refused.push((revert, f.error)),
            }
        }
        journal.append_changes(undo_entry, seq, &reverts)?;
        seq += reverts.len();
        // A record changed since is journaled as a revert that was not made, and why.
        let planned: Vec<PlannedChange> = refused.iter().map(|(c, _)| c.clone()).collect();
        let ids = journal.append_changes(undo_entry, seq, &planned)?;
        seq += planned.len();
        conflicts += ids.len();
        let results: Vec<_> = ids
            .into_iter()
            .zip(refused)
            .map(|(id, (_, e))| (id, ChangeState::Failed, None, Some(e)))
            .collect();
        journal.record_results(&results)?;
    }
    let total = seq - conflicts;
    let columns = journal.new_fields(undo_entry)?;
    let stop = send_in_jobs(org, journal, undo_entry, sobject, &columns, total, opts).await?;
    let (counts, first_error) = streamed_counts(journal, undo_entry)?;
    let status = match streamed_status(stop.as_ref(), counts) {
        RunStatus::Failed if conflicts == counts.failed => RunStatus::Conflict,
        s => s,
    };
    let message = if counts.failed == 0 {
        format!(
            "undid entry {entry}: {} change{} reverted",
            counts.done,
            if counts.done == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "undid entry {entry} in part: {} reverted, {} left as they are ({})",
            counts.done,
            counts.failed,
            first_error.as_deref().unwrap_or("unknown error")
        )
    };
    finish_streamed(journal, undo_entry, status, message, counts)
}

/// Changes of a large entry read per page while it is undone.
const UNDO_PAGE: usize = 2000;

/// Sends the changes of `entry` that have no result yet as Bulk API 2.0 update jobs of at most
/// `opts.route.job_rows` rows ([`crate::plan::BULK_JOB_ROWS`] by default), writing each job's CSV
/// as its rows are read from the journal and recording its result files there by record id.
/// Changes a job did not report are marked failed at the end.
///
/// A job that fails as a whole stops the run: its rows and the ones not sent are marked failed
/// with the reason, so `sayso retry` re-sends them (updates of absolute values are safe to
/// repeat). Returns that error, if any.
async fn send_in_jobs(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    sobject: &str,
    columns: &[String],
    total: usize,
    opts: &RunOptions<'_>,
) -> Result<Option<OrgError>, ExecError> {
    let mut after = None;
    let mut sent = 0;
    let mut stop = None;
    loop {
        // One job's CSV, written as its rows are read from the journal.
        let mut csv = BulkCsv::new(columns);
        let mut rows = 0;
        let last = journal.for_each_new_value(
            entry,
            after,
            opts.route.job_rows.max(1),
            |_, id, new| {
                let values = new.as_object();
                csv.row(
                    id.unwrap_or(""),
                    columns.iter().map(|c| values.and_then(|v| v.get(c))),
                );
                rows += 1;
            },
        )?;
        let Some(last) = last else {
            break;
        };
        after = Some(last);
        match org.bulk_ingest(sobject, "update", csv.finish()).await {
            Ok((ok_csv, failed_csv)) => {
                let ok = ok_ids(&ok_csv);
                let failed = failed_rows(&failed_csv);
                journal.record_by_record_id(
                    entry,
                    ok.iter().map(String::as_str),
                    failed.iter().map(|(i, e)| (i.as_str(), e.as_str())),
                )?;
            }
            Err(e) => {
                journal.fail_unrecorded(entry, &e.to_string())?;
                stop = Some(e);
                break;
            }
        }
        sent += rows;
        if let Some(p) = opts.progress {
            p(sent, total);
        }
    }
    journal.fail_unrecorded(entry, "not processed by the bulk job")?;
    Ok(stop)
}

/// A streamed entry's counts and its first error.
fn streamed_counts(
    journal: &Journal,
    entry: i64,
) -> Result<(StateCounts, Option<String>), ExecError> {
    let counts = journal.state_counts(entry)?;
    let first_error = if counts.failed > 0 {
        journal
            .changes_in_state(entry, ChangeState::Failed, 1)?
            .into_iter()
            .next()
            .and_then(|r| r.error)
    } else {
        None
    };
    Ok((counts, first_error))
}

fn streamed_status(stop: Option<&OrgError>, counts: StateCounts) -> RunStatus {
    match (stop, counts.done, counts.failed) {
        (Some(OrgError::LimitExceeded(_)), _, _) => RunStatus::LimitExceeded,
        (_, _, 0) => RunStatus::Applied,
        (_, 0, _) => RunStatus::Failed,
        _ => RunStatus::Partial,
    }
}

fn finish_streamed(
    journal: &mut Journal,
    entry: i64,
    status: RunStatus,
    message: String,
    counts: StateCounts,
) -> Result<RunReport, ExecError> {
    journal.set_status(entry, status.as_str(), &message)?;
    Ok(RunReport {
        status,
        message,
        changes: Vec::new(),
        failures: Vec::new(),
        entry: Some(entry),
        streamed: Some((counts.done, counts.failed)),
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

/// The current values of the records that `rows` updated (keyed by 15-character id), read in
/// queries of 200 ids per object, and the first read error.
async fn read_current(org: &Org, rows: &[&ChangeRow]) -> (HashMap<String, Json>, Option<OrgError>) {
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
enum Revert {
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

fn revert_of(c: &PlannedChange, current: &HashMap<String, Json>) -> Revert {
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
    let mut changes = Vec::new();
    let mut failures = conflicts;
    let mut results = Vec::new();
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
                    results.push((ids[i], ChangeState::Done, None, None));
                    changes.push(report_of(s, None, &empty));
                }
                Ok(false) => {
                    let e = "changed by someone else meanwhile; left as it is".to_string();
                    results.push((ids[i], ChangeState::Failed, None, Some(e.clone())));
                    failures.push(Failure {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        error: e,
                    });
                }
                Err(e) => {
                    results.push((ids[i], ChangeState::Failed, None, Some(e.to_string())));
                    failures.push(Failure {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        error: e.to_string(),
                    });
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
                let ok = rs
                    .as_ref()
                    .ok()
                    .and_then(|rs| rs.get(k))
                    .and_then(|r| r.get("success"))
                    .and_then(Json::as_bool)
                    == Some(true);
                if ok {
                    results.push((ids[i], ChangeState::Done, None, None));
                    changes.push(report_of(s, None, &empty));
                } else {
                    let e = match &rs {
                        Ok(rs) => error_text(
                            rs.get(k)
                                .and_then(|r| r.get("errors"))
                                .unwrap_or(&Json::Null),
                        ),
                        Err(e) => e.to_string(),
                    };
                    results.push((ids[i], ChangeState::Failed, None, Some(e.clone())));
                    failures.push(Failure {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        error: e,
                    });
                }
            }
        }
    }
    let base = updates.len();
    if deletes.len() <= 3 {
        for (k, s) in deletes.iter().enumerate() {
            match org.delete(&s.sobject, s.id.as_deref().unwrap_or("")).await {
                Ok(()) => {
                    results.push((ids[base + k], ChangeState::Done, None, None));
                    changes.push(report_of(s, None, &empty));
                }
                Err(e) => {
                    results.push((
                        ids[base + k],
                        ChangeState::Failed,
                        None,
                        Some(e.to_string()),
                    ));
                    failures.push(Failure {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        error: e.to_string(),
                    });
                }
            }
        }
    } else {
        for (c, chunk) in deletes.chunks(COLLECTION_MAX).enumerate() {
            let del_ids: Vec<String> = chunk.iter().filter_map(|s| s.id.clone()).collect();
            let rs = org.collection_delete(&del_ids).await;
            for (k, s) in chunk.iter().enumerate() {
                let i = base + c * COLLECTION_MAX + k;
                let r = rs.as_ref().ok().and_then(|rs| rs.get(k));
                let ok = r.and_then(|r| r.get("success")).and_then(Json::as_bool) == Some(true)
                    || r.map(|r| error_text(r.get("errors").unwrap_or(&Json::Null)))
                        .is_some_and(|e| e.contains("ENTITY_IS_DELETED"));
                if ok {
                    results.push((ids[i], ChangeState::Done, None, None));
                    changes.push(report_of(s, None, &empty));
                } else {
                    let e = match &rs {
                        Ok(rs) => error_text(
                            rs.get(k)
                                .and_then(|r| r.get("errors"))
                                .unwrap_or(&Json::Null),
                        ),
                        Err(e) => e.to_string(),
                    };
                    results.push((ids[i], ChangeState::Failed, None, Some(e.clone())));
                    failures.push(Failure {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        error: e,
                    });
                }
            }
        }
    }
    journal.record_results(&results)?;
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
