//! Execution: carries out a [`Plan`] through the org with the fewest calls its route allows — one
//! PATCH (guarded by `If-Unmodified-Since`), one POST, `/composite` with references and allOrNone,
//! sObject Collections in 200s, or Bulk API 2.0 — and journals every change before and after.
//!
//! - this file: [`run`], the wire shapes of writes, the Bulk CSV.
//! - [`staged`]: bulk updates too large to hold, sent in Bulk jobs read from the journal
//!   ([`run_staged`], and the streamed [`undo_staged`] / [`retry_staged`]).
//! - [`insert`]: creates in Bulk insert jobs, from a plan or streamed from a staged file.
//! - [`undo`](mod@undo): reverting an entry ([`undo()`]) and re-sending its failed part ([`retry_plan`]).
//!
//! Owns the wire shapes of writes. Never resolves names: a plan arrives fully resolved. Never
//! prints; progress is reported through a callback.

mod bulkjob;
mod creates;
mod insert;
mod readback;
mod staged;
mod undo;

pub use insert::IMPORT_JOB_ROWS;
pub use staged::{reconcile, retry_staged, run_staged, undo_staged};
pub use undo::{UndoPreview, retry_plan, undo, undo_preview};

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value as Json, json};

use crate::journal::{
    ChangeState, EntryHead, EntryKind, EntryStatus, Journal, JournalError, Op, PlannedChange,
    RowResult,
};
use crate::plan::{COLLECTION_MAX, Plan, Route, RouteOptions, Step, Val};
use crate::salesforce::RetryPolicy;
use crate::salesforce::org::{Org, OrgError};

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

    /// The journal's status for an entry that ended so.
    pub fn entry_status(self) -> EntryStatus {
        match self {
            RunStatus::Applied => EntryStatus::Applied,
            RunStatus::Partial => EntryStatus::Partial,
            RunStatus::Conflict => EntryStatus::Conflict,
            RunStatus::Failed => EntryStatus::Failed,
            RunStatus::LimitExceeded => EntryStatus::LimitExceeded,
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
    /// Compare each record's current values with the journaled old ones before writing it, and
    /// leave a record changed since as a conflict (retries: the plan's old values are what the
    /// journal says the record held).
    pub verify: bool,
}

impl RunOptions<'_> {
    /// The journal entry head for this run: its user and phrase, as a `kind` entry.
    fn head(&self, kind: EntryKind, refers_to: Option<i64>) -> EntryHead<'_> {
        EntryHead::new(&self.user, &self.phrase, kind, refers_to)
    }
}

/// The per-change results of a run as they come in: the journal rows still to append, and the
/// changes made and refused for the report.
#[derive(Default)]
struct Tally {
    results: Vec<RowResult>,
    changes: Vec<ChangeReport>,
    failures: Vec<Failure>,
    conflicts: usize,
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
        self.results.push(RowResult {
            record_id: id.clone(),
            ..RowResult::new(row, ChangeState::Applied)
        });
        self.changes.push(report_of(step, id, resolved));
    }

    /// Journal row `row` (plan step `step`) was refused with `error`.
    fn failed(&mut self, row: i64, step: &Step, error: String) {
        self.results.push(RowResult {
            error: Some(error.clone()),
            ..RowResult::new(row, ChangeState::Failed)
        });
        self.failures.push(Failure {
            id: step.id_text(),
            name: step.name.clone(),
            error,
        });
    }

    /// Journal row `row` (plan step `step`) failed with `e`; a create or an update whose answer
    /// was lost ([`creates::answer_lost`]) may have been written, so it stays `sent`: the next
    /// command reads it back and settles it, and nothing is re-sent blindly.
    fn refused(&mut self, row: i64, step: &Step, e: &OrgError) {
        if step.op == Op::Delete || !creates::answer_lost(e) {
            return self.failed(row, step, e.to_string());
        }
        let error = creates::lost_answer(e);
        self.results.push(RowResult {
            error: Some(error.clone()),
            ..RowResult::new(row, ChangeState::Sent)
        });
        self.failures.push(Failure {
            id: None,
            name: step.name.clone(),
            error,
        });
    }

    /// Plan step `step`, already `sent`, has no known outcome (`error` says why): it stays
    /// `sent` in the journal and is reported among the failures.
    fn unconfirmed(&mut self, step: &Step, error: String) {
        self.failures.push(Failure {
            id: step.id_text(),
            name: step.name.clone(),
            error,
        });
    }

    /// Journal row `row` (plan step `step`) was not written: the record changed since it was
    /// read (`found`: what it holds, when known).
    fn conflict(&mut self, row: i64, step: &Step, error: String, found: Option<Json>) {
        self.conflicts += 1;
        self.results.push(RowResult {
            error: Some(error.clone()),
            found,
            ..RowResult::new(row, ChangeState::Conflict)
        });
        self.failures.push(Failure {
            id: step.id_text(),
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
        sobject: step.sobject.to_string(),
        id: id.or_else(|| step.id_text()),
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

/// Marks journal rows as sent, just before the request that carries them.
fn mark_sent(journal: &mut Journal, rows: impl Iterator<Item = i64>) -> Result<(), JournalError> {
    let sent: Vec<RowResult> = rows.map(|r| RowResult::new(r, ChangeState::Sent)).collect();
    journal.record_results(&sent)
}

/// The steps among `idx` whose records still hold what the journal says they held (their
/// `old` values), each with the guard to send it with (its `LastModifiedDate`). A record changed
/// since is tallied as a conflict with the values found; creates pass as they are. When the
/// records cannot be read, every step is tallied as failed and none is returned.
async fn verified(
    org: &Org,
    plan: &Plan,
    ids: &[i64],
    idx: &[usize],
    tally: &mut Tally,
) -> Vec<(usize, Option<String>)> {
    let updates: Vec<&Step> = idx
        .iter()
        .map(|&i| &plan.steps[i])
        .filter(|s| s.op == Op::Update)
        .collect();
    let current = match undo::read_steps(org, &updates).await {
        Ok(c) => c,
        Err(e) => {
            for &i in idx {
                let error = format!("could not read the record before writing it: {e}");
                tally.failed(ids[i], &plan.steps[i], error);
            }
            return Vec::new();
        }
    };
    let mut keep = Vec::new();
    for &i in idx {
        let s = &plan.steps[i];
        if s.op != Op::Update {
            keep.push((i, s.guard.clone()));
            continue;
        }
        match undo::check_step(s, &current) {
            Ok(guard) => keep.push((i, guard)),
            Err((error, found)) => tally.conflict(ids[i], s, error, found),
        }
    }
    keep
}

/// Carries out a plan, journaling it before and after: one function per route.
///
/// # Errors
/// [`ExecError::Journal`] when the journal can't be written (then nothing is sent).
pub async fn run(
    org: &Org,
    journal: &mut Journal,
    plan: &Plan,
    opts: &RunOptions<'_>,
    kind: EntryKind,
    refers_to: Option<i64>,
) -> Result<RunReport, ExecError> {
    let planned: Vec<PlannedChange> = plan.steps.iter().map(Step::to_planned).collect();
    let (entry, ids) = journal.begin(opts.head(kind, refers_to), &planned)?;
    let mut r = Run {
        org,
        journal,
        plan,
        opts,
        ids,
        resolved: HashMap::new(),
        tally: Tally::default(),
        conflict: false,
        limit: false,
    };
    match plan.route(opts.route) {
        Route::Nothing => {}
        Route::Patch | Route::Post => r.single().await?,
        Route::Composite => r.composite().await?,
        Route::Collections => r.collections().await?,
        Route::Bulk if plan.steps[0].op == Op::Create => r.bulk_insert().await?,
        Route::Bulk => r.bulk(entry).await?,
    }
    r.finish(entry)
}

/// One run of a plan in progress: the journal rows of its steps and what happened so far.
struct Run<'r, 'o> {
    org: &'r Org,
    journal: &'r mut Journal,
    plan: &'r Plan,
    opts: &'r RunOptions<'o>,
    /// The journal row of each step, by step index.
    ids: Vec<i64>,
    /// Created record ids by step reference (`@s0`), for later steps.
    resolved: HashMap<String, String>,
    tally: Tally,
    conflict: bool,
    limit: bool,
}

impl Run<'_, '_> {
    /// The steps at `idx` with their guards: read and compared first when the run verifies.
    async fn checked(&mut self, idx: &[usize]) -> Vec<(usize, Option<String>)> {
        if self.opts.verify {
            verified(self.org, self.plan, &self.ids, idx, &mut self.tally).await
        } else {
            idx.iter()
                .map(|&i| (i, self.plan.steps[i].guard.clone()))
                .collect()
        }
    }

    fn progress(&self, done: usize) {
        if let Some(p) = self.opts.progress {
            p(done, self.plan.steps.len());
        }
    }

    /// One PATCH or POST.
    async fn single(&mut self) -> Result<(), ExecError> {
        if let Some((_, guard)) = self.checked(&[0]).await.pop() {
            mark_sent(self.journal, [self.ids[0]].into_iter())?;
            let step = &self.plan.steps[0];
            let (row, guard) = (self.ids[0], guard.as_deref());
            send_one(self.org, step, row, guard, &mut self.tally, &mut self.limit).await;
        }
        Ok(self.tally.flush(self.journal)?)
    }

    /// `/composite` requests of up to 25 dependent steps, each all-or-nothing.
    async fn composite(&mut self) -> Result<(), ExecError> {
        let mut done = 0;
        for chunk in self.plan.composite_chunks() {
            let n = chunk.len();
            let mut chunk = self.checked(&chunk).await;
            if chunk.len() < n {
                // One record of an all-or-nothing request changed: none of it is sent.
                for (i, _) in chunk.drain(..) {
                    let e = "conflict: another record of this change was changed since; nothing was written".to_string();
                    self.tally
                        .conflict(self.ids[i], &self.plan.steps[i], e, None);
                }
            }
            if !chunk.is_empty() {
                mark_sent(self.journal, chunk.iter().map(|(i, _)| self.ids[*i]))?;
                let (plan, ids) = (self.plan, &self.ids);
                let c = send_composite(
                    self.org,
                    plan,
                    ids,
                    &chunk,
                    &mut self.resolved,
                    &mut self.tally,
                )
                .await;
                self.conflict |= c.conflict;
                self.limit |= c.limit;
            }
            self.tally.flush(self.journal)?;
            done += n;
            self.progress(done);
        }
        Ok(())
    }

    /// sObject Collections of up to 200 records: read, compare and write a chunk at a time.
    async fn collections(&mut self) -> Result<(), ExecError> {
        let method = if self.plan.steps[0].op == Op::Create {
            "POST"
        } else {
            "PATCH"
        };
        let all: Vec<usize> = (0..self.plan.steps.len()).collect();
        let mut done = 0;
        for chunk in all.chunks(COLLECTION_MAX) {
            let send: Vec<usize> = self
                .checked(chunk)
                .await
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            if !send.is_empty() {
                mark_sent(self.journal, send.iter().map(|&i| self.ids[i]))?;
                let (steps, ids) = (&self.plan.steps, &self.ids);
                self.limit |=
                    send_collection(self.org, steps, ids, method, send, &mut self.tally).await;
            }
            self.tally.flush(self.journal)?;
            done += chunk.len();
            self.progress(done);
        }
        Ok(())
    }

    /// Bulk API 2.0 insert jobs of at most `job_rows` rows for every step ([`insert`]).
    async fn bulk_insert(&mut self) -> Result<(), ExecError> {
        let all: Vec<usize> = (0..self.plan.steps.len()).collect();
        let job_rows = self.opts.route.job_rows;
        let (plan, ids) = (self.plan, &self.ids);
        self.limit |= insert::bulk_insert(
            self.org,
            self.journal,
            plan,
            ids,
            &all,
            job_rows,
            &mut self.tally,
        )
        .await?;
        self.progress(self.plan.steps.len());
        Ok(())
    }

    /// One Bulk API 2.0 update job for every step, journaled with its id before the upload
    /// ([`bulkjob::ingest`]). A job whose results cannot be read leaves its rows `sent`: the org
    /// may hold them, and the next command reads them back ([`reconcile`]).
    async fn bulk(&mut self, entry: i64) -> Result<(), ExecError> {
        let all: Vec<usize> = (0..self.plan.steps.len()).collect();
        let send: Vec<usize> = self
            .checked(&all)
            .await
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        self.tally.flush(self.journal)?;
        if !send.is_empty() {
            mark_sent(self.journal, send.iter().map(|&i| self.ids[i]))?;
            let (sobject, csv) = bulk_csv(self.plan, &send);
            let last = i64::try_from(self.plan.steps.len()).unwrap_or(i64::MAX) - 1;
            let sent =
                bulkjob::ingest(self.org, self.journal, entry, &sobject, (0, last), csv).await?;
            match sent {
                Err(e) => {
                    self.limit |= matches!(e, OrgError::LimitExceeded(_));
                    let unread = !self.journal.open_jobs(entry)?.is_empty();
                    for &i in &send {
                        let (row, step) = (self.ids[i], &self.plan.steps[i]);
                        if unread {
                            self.tally
                                .unconfirmed(step, format!("{e}; {UNREAD_RESULTS}"));
                        } else {
                            self.tally.failed(row, step, e.to_string());
                        }
                    }
                }
                Ok((ok_csv, failed_csv)) => {
                    let (done_rows, failed) = job_results(&ok_csv, &failed_csv);
                    self.record_bulk(&send, &done_rows, &failed);
                }
            }
        }
        self.tally.flush(self.journal)?;
        self.progress(self.plan.steps.len());
        Ok(())
    }

    /// Marks each sent step by the job's results, keyed by 15-character id.
    fn record_bulk(
        &mut self,
        send: &[usize],
        done_rows: &std::collections::HashSet<String>,
        failed: &HashMap<String, String>,
    ) {
        for &i in send {
            let s = &self.plan.steps[i];
            let key: String = s.id.as_ref().map_or("", |i| i.id15()).to_string();
            if let Some(e) = failed.get(&key) {
                self.tally.failed(self.ids[i], s, e.clone());
            } else if done_rows.contains(&key) {
                self.tally.done(self.ids[i], s, None, &self.resolved);
            } else {
                let e = "not processed by the bulk job".to_string();
                self.tally.failed(self.ids[i], s, e);
            }
        }
    }

    /// The run's status and message, journaled on the entry.
    fn finish(self, entry: i64) -> Result<RunReport, ExecError> {
        let total = self.plan.steps.len();
        let Tally {
            changes,
            failures,
            conflicts,
            ..
        } = self.tally;
        let conflict = self.conflict || conflicts > 0;
        let status = if self.limit {
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
        let message = run_message(
            status,
            changes.len(),
            total,
            failures.len(),
            conflicts,
            &failures,
        );
        self.journal
            .set_status(entry, status.entry_status(), &message)?;
        Ok(RunReport {
            status,
            message,
            changes,
            failures,
            entry: Some(entry),
            streamed: None,
        })
    }
}

/// What a run says about itself: counts when it applied or partly applied, else the first error.
fn run_message(
    status: RunStatus,
    made: usize,
    total: usize,
    failed: usize,
    conflicts: usize,
    failures: &[Failure],
) -> String {
    match status {
        RunStatus::Applied => format!("{made} change{} made", if made == 1 { "" } else { "s" }),
        RunStatus::Partial if conflicts > 0 => format!(
            "{made} of {total} changes made; {} failed, {conflicts} left as they are because someone changed them since",
            failed - conflicts,
        ),
        RunStatus::Partial => format!(
            "{made} of {total} changes made; {failed} failed (run `sayso retry` to retry them)"
        ),
        _ => failures
            .first()
            .map(|f| f.error.clone())
            .unwrap_or_else(|| "nothing was written".into()),
    }
}

/// One PATCH (guarded by `guard`) or one POST.
async fn send_one(
    org: &Org,
    step: &Step,
    row: i64,
    guard: Option<&str>,
    tally: &mut Tally,
    limit: &mut bool,
) {
    let empty = HashMap::new();
    let result = if step.op == Op::Update {
        org.update(
            &step.sobject,
            step.id.as_deref().unwrap_or(""),
            body_of(step, &empty, false),
            guard,
        )
        .await
        .map(|ok| ok.then(|| step.id.as_deref().unwrap_or_default().to_string()))
    } else {
        org.create(&step.sobject, body_of(step, &empty, false))
            .await
            .map(Some)
    };
    match result {
        Ok(Some(id)) => tally.done(row, step, Some(id), &empty),
        Ok(None) => {
            let e = format!(
                "conflict: {} `{}` was changed by someone else since it was read; nothing was written",
                step.sobject, step.name
            );
            tally.conflict(row, step, e, None);
        }
        Err(e) => {
            *limit |= matches!(e, OrgError::LimitExceeded(_));
            tally.refused(row, step, &e);
        }
    }
}

/// How a composite request ended.
struct CompositeEnd {
    conflict: bool,
    limit: bool,
}

/// One `/composite` request (allOrNone) of the steps `chunk` with their guards.
async fn send_composite(
    org: &Org,
    plan: &Plan,
    ids: &[i64],
    chunk: &[(usize, Option<String>)],
    resolved: &mut HashMap<String, String>,
    tally: &mut Tally,
) -> CompositeEnd {
    let mut end = CompositeEnd {
        conflict: false,
        limit: false,
    };
    let subrequests: Vec<Json> = chunk
        .iter()
        .map(|(i, guard)| {
            let s = &plan.steps[*i];
            let path = |rest: String| org.data_path(&rest);
            let (method, url) = match s.op {
                Op::Create => ("POST", path(format!("/sobjects/{}", s.sobject))),
                Op::Update => (
                    "PATCH",
                    path(format!(
                        "/sobjects/{}/{}",
                        s.sobject,
                        s.id.as_deref().unwrap_or("")
                    )),
                ),
                Op::Delete => (
                    "DELETE",
                    path(format!(
                        "/sobjects/{}/{}",
                        s.sobject,
                        s.id.as_deref().unwrap_or("")
                    )),
                ),
            };
            let mut sub = json!({"method": method, "url": url, "referenceId": s.reference});
            if s.op != Op::Delete {
                sub["body"] = body_of(s, resolved, true);
            }
            if let (Op::Update, Some(g)) = (s.op, guard) {
                sub["httpHeaders"] = json!({"If-Unmodified-Since": g});
            }
            sub
        })
        .collect();
    let responses = match org.composite(subrequests, true).await {
        Ok(r) => r,
        Err(e) => {
            end.limit = matches!(e, OrgError::LimitExceeded(_));
            for (i, _) in chunk {
                tally.refused(ids[*i], &plan.steps[*i], &e);
            }
            return end;
        }
    };
    let by_ref: HashMap<String, &Json> = responses
        .iter()
        .filter_map(|r| {
            r.get("referenceId")
                .and_then(Json::as_str)
                .map(|k| (k.to_string(), r))
        })
        .collect();
    let all_ok = chunk.iter().all(|(i, _)| {
        by_ref
            .get(&plan.steps[*i].reference)
            .and_then(|r| r.get("httpStatusCode"))
            .and_then(Json::as_u64)
            .is_some_and(|c| c < 300)
    });
    // The first real error (not the PROCESSING_HALTED echoes) explains the rollback.
    let cause = responses
        .iter()
        .filter(|r| r.get("httpStatusCode").and_then(Json::as_u64).unwrap_or(0) >= 300)
        .map(|r| {
            (
                r.get("httpStatusCode").and_then(Json::as_u64).unwrap_or(0),
                error_text(r.get("body").unwrap_or(&Json::Null)),
            )
        })
        .find(|(_, e)| !e.starts_with("PROCESSING_HALTED") && !e.starts_with("ALL_OR_NONE"))
        .unwrap_or((400, "the request was rolled back".into()));
    end.conflict = !all_ok && (cause.0 == 412 || cause.1.contains("PRECONDITION"));
    for (i, _) in chunk {
        let s = &plan.steps[*i];
        let r = by_ref.get(&s.reference);
        if all_ok {
            let id = match s.op {
                Op::Create => r
                    .and_then(|r| r.get("body"))
                    .and_then(|b| b.get("id"))
                    .and_then(Json::as_str)
                    .map(str::to_string),
                _ => s.id_text(),
            };
            if let Some(id) = &id {
                resolved.insert(s.reference.clone(), id.clone());
            }
            tally.done(ids[*i], s, id, resolved);
        } else if end.conflict {
            let e = format!(
                "conflict: a record changed since it was read ({}); nothing was written",
                cause.1
            );
            tally.conflict(ids[*i], s, e, None);
        } else {
            tally.failed(ids[*i], s, format!("{}; nothing was written", cause.1));
        }
    }
    end
}

/// How many times a record refused with `UNABLE_TO_LOCK_ROW` in a collections update is sent
/// again (an update of absolute values: safe to repeat).
const LOCK_RETRIES: u32 = 4;

/// One sObject Collections request of the steps at `send` (at most 200; `ids[i]` is step `i`'s
/// journal row), then, for an update, the
/// records refused with `UNABLE_TO_LOCK_ROW` again, with backoff. Returns whether the API limit
/// was hit.
async fn send_collection(
    org: &Org,
    steps: &[Step],
    ids: &[i64],
    method: &'static str,
    mut send: Vec<usize>,
    tally: &mut Tally,
) -> bool {
    let empty = HashMap::new();
    let policy = RetryPolicy {
        max_attempts: LOCK_RETRIES + 1,
        ..RetryPolicy::default()
    };
    let mut attempt = 1;
    loop {
        let records: Vec<Json> = send
            .iter()
            .map(|&i| {
                let s = &steps[i];
                let mut b = body_of(s, &empty, false);
                b["attributes"] = json!({"type": s.sobject});
                if let Some(id) = &s.id {
                    b["id"] = json!(id);
                }
                b
            })
            .collect();
        let rs = match org.collection(method, records, false).await {
            Ok(rs) => rs,
            Err(e) => {
                for &i in &send {
                    tally.refused(ids[i], &steps[i], &e);
                }
                return matches!(e, OrgError::LimitExceeded(_));
            }
        };
        let mut locked = Vec::new();
        for (k, &i) in send.iter().enumerate() {
            let s = &steps[i];
            let r = rs.get(k).cloned().unwrap_or(Json::Null);
            if r.get("success").and_then(Json::as_bool) == Some(true) {
                let id = r
                    .get("id")
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .or_else(|| s.id_text());
                tally.done(ids[i], s, id, &empty);
                continue;
            }
            let e = error_text(r.get("errors").unwrap_or(&Json::Null));
            if method == "PATCH" && e.starts_with("UNABLE_TO_LOCK_ROW") && attempt <= LOCK_RETRIES {
                locked.push(i);
            } else {
                tally.failed(ids[i], s, e);
            }
        }
        if locked.is_empty() {
            return false;
        }
        tracing::debug!(
            records = locked.len(),
            attempt,
            "rows locked; sending them again"
        );
        tokio::time::sleep(policy.delay(attempt)).await;
        attempt += 1;
        send = locked;
    }
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

    /// A CSV with `columns` only (inserts: no `Id` column).
    fn without_id(columns: &[String]) -> BulkCsv {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = w.write_record(columns);
        BulkCsv { w, row: Vec::new() }
    }

    /// One row of cells as they are.
    fn cells(&mut self, cells: &[String]) {
        let _ = self.w.write_record(cells);
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
/// Marks an entry's rows from a Bulk job's result CSVs (successful and failed), by record id.
fn record_job_results(
    journal: &mut Journal,
    entry: i64,
    ok_csv: &str,
    failed_csv: &str,
) -> Result<(), ExecError> {
    let ok = ok_ids(ok_csv);
    let failed = failed_rows(failed_csv);
    journal.record_by_record_id(
        entry,
        ok.iter().map(String::as_str),
        failed.iter().map(|(i, e)| (i.as_str(), e.as_str())),
    )?;
    Ok(())
}

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

/// What a run says of a change sent in a Bulk job whose results could not be read.
const UNREAD_RESULTS: &str =
    "the job's results could not be read: unconfirmed until the next command reads them back";

/// The Bulk API 2.0 update CSV of the steps `send`: their object and the CSV.
fn bulk_csv(plan: &Plan, send: &[usize]) -> (String, String) {
    let sobject = plan.steps[0].sobject.clone();
    let steps: Vec<&Step> = send.iter().map(|&i| &plan.steps[i]).collect();
    let mut columns: Vec<String> = Vec::new();
    for s in &steps {
        for k in s.fields.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let mut csv = BulkCsv::new(&columns);
    for s in &steps {
        csv.row(
            s.id.as_deref().unwrap_or(""),
            columns.iter().map(|c| match s.fields.get(c) {
                Some(Val::Lit(j)) => Some(j),
                _ => None,
            }),
        );
    }
    (sobject.to_string(), csv.finish())
}

/// A Bulk update job's results: the ids (15-char) that succeeded and, per failed id, the error.
fn job_results(ok_csv: &str, failed_csv: &str) -> (HashSet<String>, HashMap<String, String>) {
    // A set: every plan step is looked up in it (a Vec made 100k-row updates quadratic).
    let key = |id: &str| id.chars().take(15).collect::<String>();
    let ok = ok_ids(ok_csv).iter().map(|id| key(id)).collect();
    let failed = failed_rows(failed_csv)
        .into_iter()
        .map(|(id, e)| (key(&id), e))
        .collect();
    (ok, failed)
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
            sobject: crate::id::ObjectName::known("ContentDocumentLink"),
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
