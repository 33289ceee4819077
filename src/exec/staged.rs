//! Bulk updates too large to hold in memory: a staged plan, a large undo or a large retry becomes
//! a journal entry first, then is sent in Bulk API 2.0 jobs whose CSV is written from the journal
//! a job at a time; results are recorded by record id. Memory is flat in the number of records.
//!
//! Owns the streamed runs only; the Bulk wire format (CSV, result files) is [`super`]'s, reverting
//! rules are [`super::undo`]'s.

use super::undo::{Revert, covers, read_current, revert_change, revert_of};
use super::{BulkCsv, ExecError, RunOptions, RunReport, RunStatus, run};
use crate::journal::{
    ChangeRow, ChangeState, EntryKind, Journal, PlannedChange, RowResult, StateCounts,
};
use crate::plan::Plan;
use crate::salesforce::org::{Org, OrgError};

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
        return run(org, journal, plan, opts, EntryKind::Command, None).await;
    };
    let Some((entry, total)) =
        journal.begin_from_stage(opts.head(EntryKind::Command, None), staged.stage)?
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
    // A staged file of rows creates records: Bulk insert jobs, their ids matched back.
    if journal
        .changes_page(entry, None, 1)?
        .first()
        .is_some_and(|(_, r)| r.change.op == crate::journal::Op::Create)
    {
        return super::insert::send_staged(
            org,
            journal,
            entry,
            (&staged.sobject, &staged.columns),
            total,
            opts,
        )
        .await;
    }
    let batch = Batch {
        entry,
        sobject: &staged.sobject,
        columns: &staged.columns,
        total,
    };
    send_and_report(org, journal, batch, opts).await
}

/// A journal entry's updates to send in Bulk jobs: one object, the fields some change writes
/// (the CSV's columns), and how many changes there are.
#[derive(Clone, Copy)]
struct Batch<'a> {
    entry: i64,
    sobject: &'a str,
    columns: &'a [String],
    total: usize,
}

/// Sends an entry in Bulk jobs ([`send_in_jobs`]) and reports it as a run does.
async fn send_and_report(
    org: &Org,
    journal: &mut Journal,
    batch: Batch<'_>,
    opts: &RunOptions<'_>,
) -> Result<RunReport, ExecError> {
    let stop = send_in_jobs(org, journal, batch, opts).await?;
    report_streamed(
        journal,
        batch.entry,
        stop.as_ref(),
        batch.total,
        " (run `sayso retry` to retry them)",
    )
}

/// The report of a streamed entry whose jobs are done (`stop`: what ended them early): its
/// counts, status and message read from the journal; `hint` follows the first failure.
pub(super) fn report_streamed(
    journal: &mut Journal,
    entry: i64,
    stop: Option<&OrgError>,
    total: usize,
    hint: &str,
) -> Result<RunReport, ExecError> {
    let (counts, first_error) = streamed_counts(journal, entry)?;
    let status = streamed_status(stop, counts);
    let message = match status {
        RunStatus::Applied => format!(
            "{} change{} made",
            counts.applied,
            if counts.applied == 1 { "" } else { "s" }
        ),
        RunStatus::Partial if counts.refused() == 0 => {
            format!("{} of {total} changes made", counts.applied)
        }
        RunStatus::Partial => format!(
            "{} of {total} changes made; {} failed, e.g. {}{hint}",
            counts.applied,
            counts.refused(),
            first_error.as_deref().unwrap_or("unknown error")
        ),
        _ => first_error.unwrap_or_else(|| "nothing was written".into()),
    } + &unconfirmed(counts);
    finish_streamed(journal, entry, status, message, counts)
}

/// Re-sends, in Bulk API 2.0 jobs, the updates of a one-object entry the org refused (`sayso
/// retry` of a large bulk run): they are copied into a new `retry` entry in one statement, never
/// held in memory. Their records are read first, through one Bulk query job over the entry's id
/// range ([`super::readback`]), and before each job its records are compared with the
/// journaled old values: a record changed since is a conflict, left as it is. Conflicts are not
/// re-sent.
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
    let opts = RunOptions {
        verify: true,
        user: opts.user.clone(),
        phrase: opts.phrase.clone(),
        route: opts.route,
        progress: opts.progress,
    };
    let batch = Batch {
        entry,
        sobject,
        columns: &columns,
        total,
    };
    send_and_report(org, journal, batch, &opts).await
}

/// Reverts a large one-object update entry and its retries ([`undo`](super::undo()) for a bulk
/// run): reads the records' current values through one Bulk query job per object over the
/// entry's id range ([`super::readback`], into the journal's scratch table), then pages through
/// the changes 2,000 at a time, journals each revert (or, for a record changed since, a conflict
/// with the values found), then sends the reverts in Bulk API 2.0 jobs. The changes reverted are marked
/// [`ChangeState::Reverted`]. Memory holds one page and one job, whatever the size of the entry.
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
    let family = journal.family(entry)?;
    let family_ids: Vec<i64> = family.iter().map(|e| e.id).collect();
    let (undo_entry, _) = journal.begin(opts.head(EntryKind::Undo, Some(entry)), &[])?;
    // The records' current values: one Bulk query job over the entry's id range.
    if let Err(e) = super::readback::load(org, journal, &family_ids).await? {
        // Nothing was sent yet: the undo entry says why, and reverts nothing.
        journal.readback_drop()?;
        let status = if matches!(e, OrgError::LimitExceeded(_)) {
            RunStatus::LimitExceeded
        } else {
            RunStatus::Failed
        };
        let message = format!("could not read current values: {e}; nothing was reverted");
        journal.fail_unrecorded(undo_entry, &message)?;
        return finish_streamed(journal, undo_entry, status, message, StateCounts::default());
    }
    let mut seq = 0;
    let mut conflicts = 0;
    for member in &family {
        let mut after = None;
        loop {
            let page = journal.changes_page(member.id, after, UNDO_PAGE)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(*last);
            let rows: Vec<&ChangeRow> = page
                .iter()
                .map(|(_, r)| r)
                .filter(|r| r.state.may_be_applied() || r.state == ChangeState::Planned)
                .collect();
            let current = super::readback::current_of(journal, &rows)?;
            let mut reverts = Vec::new();
            let mut refused = Vec::new();
            for r in rows {
                match revert_of(&r.change, &current) {
                    Revert::Nothing => {}
                    Revert::Restore { .. } => reverts.push(revert_change(&r.change)),
                    Revert::Conflict(f, found) => {
                        refused.push((revert_change(&r.change), f.error, found))
                    }
                }
            }
            journal.append_changes(undo_entry, seq, &reverts)?;
            seq += reverts.len();
            // A record changed since is journaled as a conflict, with what it holds now.
            let planned: Vec<PlannedChange> = refused.iter().map(|(c, _, _)| c.clone()).collect();
            let ids = journal.append_changes(undo_entry, seq, &planned)?;
            seq += planned.len();
            conflicts += ids.len();
            let results: Vec<RowResult> = ids
                .into_iter()
                .zip(refused)
                .map(|(id, (_, e, found))| RowResult {
                    error: Some(e),
                    found,
                    ..RowResult::new(id, ChangeState::Conflict)
                })
                .collect();
            journal.record_results(&results)?;
        }
    }
    journal.readback_drop()?;
    let total = seq - conflicts;
    let columns = journal.new_fields(undo_entry)?;
    let batch = Batch {
        entry: undo_entry,
        sobject,
        columns: &columns,
        total,
    };
    let stop = send_in_jobs(org, journal, batch, opts).await?;
    journal.mark_reverted(undo_entry, &family_ids)?;
    let (counts, first_error) = streamed_counts(journal, undo_entry)?;
    let status = match streamed_status(stop.as_ref(), counts) {
        RunStatus::Failed if counts.failed == 0 => RunStatus::Conflict,
        s => s,
    };
    let what = covers(&family);
    let message = if counts.refused() == 0 {
        format!(
            "undid {what}: {} change{} reverted",
            counts.applied,
            if counts.applied == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "undid {what} in part: {} reverted, {} left as they are ({})",
            counts.applied,
            counts.refused(),
            first_error.as_deref().unwrap_or("unknown error")
        )
    } + &unconfirmed(counts);
    finish_streamed(journal, undo_entry, status, message, counts)
}

/// Changes of a large entry read per page while it is undone.
const UNDO_PAGE: usize = 2000;

/// Sends the changes of `entry` that have no result yet as Bulk API 2.0 update jobs of at most
/// `opts.route.job_rows` rows ([`crate::plan::BULK_JOB_ROWS`] by default), writing each job's CSV
/// as its rows are read from the journal and recording its result files there by record id.
/// With `opts.verify`, each job's records are read first and those changed since they were
/// journaled are left as conflicts. A job's rows are marked sent, with the job's id, before its
/// data is uploaded. Changes a job did not report are marked failed at the end.
///
/// A job that fails as a whole stops the run: its rows and the ones not sent are marked failed
/// with the reason, so `sayso retry` re-sends them (updates of absolute values are safe to
/// repeat). Returns that error, if any.
async fn send_in_jobs(
    org: &Org,
    journal: &mut Journal,
    batch: Batch<'_>,
    opts: &RunOptions<'_>,
) -> Result<Option<OrgError>, ExecError> {
    let Batch {
        entry,
        sobject,
        columns,
        total,
    } = batch;
    let mut after = None;
    let mut sent = 0;
    let mut stop = None;
    let job_rows = opts.route.job_rows.max(1);
    if opts.verify {
        // The records' current values: one Bulk query job over the entry's id range.
        if let Err(e) = super::readback::load(org, journal, &[entry]).await? {
            journal.readback_drop()?;
            journal.fail_unrecorded(entry, &format!("could not read current values: {e}"))?;
            return Ok(Some(e));
        }
    }
    loop {
        let upto = if opts.verify {
            match screen(journal, entry, after, job_rows)? {
                Screened::End => break,
                Screened::Upto(last) => Some(last),
            }
        } else {
            None
        };
        // One job's CSV, written as its rows are read from the journal.
        let mut csv = BulkCsv::new(columns);
        let mut rows = 0;
        let mut first = None;
        let last = journal.for_each_new_value(entry, after, upto, job_rows, |seq, id, new| {
            first.get_or_insert(seq);
            let values = new.as_object();
            csv.row(
                id.unwrap_or(""),
                columns.iter().map(|c| values.and_then(|v| v.get(c))),
            );
            rows += 1;
        })?;
        let (Some(first), Some(last)) = (first, last) else {
            match upto {
                // Every record of this window was a conflict: on to the next one.
                Some(upto) => {
                    after = Some(upto);
                    continue;
                }
                None => break,
            }
        };
        after = Some(upto.unwrap_or(last));
        match super::bulkjob::ingest(org, journal, entry, sobject, (first, last), csv.finish())
            .await?
        {
            Ok((ok_csv, failed_csv)) => {
                super::record_job_results(journal, entry, &ok_csv, &failed_csv)?;
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
    if opts.verify {
        journal.readback_drop()?;
    }
    journal.fail_unrecorded(entry, "not processed by the bulk job")?;
    Ok(stop)
}

/// What screening the next window of an entry found.
enum Screened {
    /// No change is left.
    End,
    /// The window ends at this position; its conflicts are journaled.
    Upto(i64),
}

/// Compares the records of the next `limit` unsent changes of `entry` after `after`, as read
/// back ([`super::readback`]), with the journaled old values, and journals those changed since
/// as conflicts with the values found (a job at a time, before the job is sent).
fn screen(
    journal: &mut Journal,
    entry: i64,
    after: Option<i64>,
    limit: usize,
) -> Result<Screened, ExecError> {
    let page = journal.changes_page(entry, after, limit)?;
    let Some((last, _)) = page.last() else {
        return Ok(Screened::End);
    };
    let last = *last;
    let rows: Vec<&ChangeRow> = page
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.state == ChangeState::Planned)
        .collect();
    let current = super::readback::current_of(journal, &rows)?;
    let mut conflicts = Vec::new();
    for r in rows {
        let step = crate::plan::Step::of_change(&r.change, String::new(), false);
        if let Err((error, found)) = super::undo::check_step(&step, &current) {
            conflicts.push(RowResult {
                error: Some(error),
                found,
                ..RowResult::new(r.id, ChangeState::Conflict)
            });
        }
    }
    journal.record_results(&conflicts)?;
    Ok(Screened::Upto(last))
}

/// A streamed entry's counts and its first error.
pub(super) fn streamed_counts(
    journal: &Journal,
    entry: i64,
) -> Result<(StateCounts, Option<String>), ExecError> {
    let counts = journal.state_counts(entry)?;
    let first_error = if counts.refused() > 0 {
        journal
            .changes_in_states(entry, &[ChangeState::Failed, ChangeState::Conflict], 1)?
            .into_iter()
            .next()
            .and_then(|r| r.error)
    } else {
        None
    };
    Ok((counts, first_error))
}

pub(super) fn streamed_status(stop: Option<&OrgError>, counts: StateCounts) -> RunStatus {
    match (stop, counts.applied, counts.refused()) {
        (Some(OrgError::LimitExceeded(_)), _, _) => RunStatus::LimitExceeded,
        // Sent in a job whose results could not be read: not known yet ([`unconfirmed`]).
        _ if counts.pending > 0 => RunStatus::Partial,
        (_, _, 0) => RunStatus::Applied,
        (_, 0, _) if counts.failed == 0 => RunStatus::Conflict,
        (_, 0, _) => RunStatus::Failed,
        _ => RunStatus::Partial,
    }
}

/// What a streamed run says of changes left `sent` (a Bulk job whose results could not be read).
pub(super) fn unconfirmed(counts: StateCounts) -> String {
    if counts.pending == 0 {
        return String::new();
    }
    format!(
        "; {} change{} sent in a Bulk job whose results could not be read: unconfirmed until the next command reads them back",
        counts.pending,
        if counts.pending == 1 {
            " was"
        } else {
            "s were"
        }
    )
}

pub(super) fn finish_streamed(
    journal: &mut Journal,
    entry: i64,
    status: RunStatus,
    message: String,
    counts: StateCounts,
) -> Result<RunReport, ExecError> {
    journal.set_status(entry, status.entry_status(), &message)?;
    Ok(RunReport {
        status,
        message,
        changes: Vec::new(),
        failures: Vec::new(),
        entry: Some(entry),
        streamed: Some((counts.applied, counts.refused())),
    })
}

/// Finishes the journal of every entry whose run was killed (still `planned`, its process gone),
/// whose run ended with a Bulk job whose results could not be read, or (among the latest
/// [`RECENT_ENTRIES`]) with a create whose answer was lost, so that `history` and
/// the org agree and `retry` re-sends only what is missing:
///
/// - each Bulk job it started and did not see to the end is settled: an `Open` one is aborted
///   (none of it was processed), any other is waited for and its results recorded;
/// - changes never sent are failed ("not sent");
/// - updates sent without an answer are read back: a record holding the new values is applied,
///   one holding the old values failed, one holding neither a conflict (with the values found);
/// - creates sent without an answer are read back ([`super::creates::settle`]): applied when
///   the user made such a record since, else failed (so `retry` sends only those); creates of
///   content objects, which cannot be read back, stay `sent` (never re-sent blindly);
/// - an undo's reverts confirmed so mark the changes they put back as reverted.
///
/// Returns one line per entry reconciled. An entry whose jobs or records cannot be read now is
/// left for the next command.
///
/// # Errors
/// [`ExecError::Journal`].
pub async fn reconcile(org: &Org, journal: &mut Journal) -> Result<Vec<String>, ExecError> {
    let mut notes = Vec::new();
    let mut todo: Vec<(crate::journal::Entry, Unfinished)> = Vec::new();
    let mut add = |e: crate::journal::Entry, why| {
        if !todo.iter().any(|(t, _)| t.id == e.id) {
            todo.push((e, why));
        }
    };
    journal
        .abandoned()?
        .into_iter()
        .for_each(|e| add(e, Unfinished::Killed));
    journal
        .unsettled()?
        .into_iter()
        .for_each(|e| add(e, Unfinished::UnreadJob));
    journal
        .unconfirmed_writes(RECENT_ENTRIES, &super::creates::UNREAD)?
        .into_iter()
        .for_each(|e| add(e, Unfinished::LostAnswer));
    for (e, why) in todo {
        if let Some(note) = reconcile_entry(org, journal, &e, why).await? {
            notes.push(note);
        }
    }
    Ok(notes)
}

/// How many of the latest entries are looked at for writes whose answer was lost.
const RECENT_ENTRIES: usize = 20;

/// Why an entry is reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unfinished {
    /// Its run was killed.
    Killed,
    /// A Bulk job's results could not be read.
    UnreadJob,
    /// A create's or an update's answer was lost.
    LostAnswer,
}

/// Reconciles one entry ([`reconcile`]); `None` when it cannot be read now.
async fn reconcile_entry(
    org: &Org,
    journal: &mut Journal,
    e: &crate::journal::Entry,
    why: Unfinished,
) -> Result<Option<String>, ExecError> {
    for job in journal.open_jobs(e.id)? {
        let settled =
            super::bulkjob::reconcile_job(org, journal, e.id, job.row, &job.job_id).await?;
        if let Err(err) = settled {
            tracing::warn!(entry = e.id, error = %err, "cannot reconcile a bulk job yet");
            return Ok(None);
        }
    }
    if why == Unfinished::Killed {
        journal.fail_in_state(e.id, ChangeState::Planned, INTERRUPTED_UNSENT)?;
    }
    if let Err(err) = settle_sent(org, journal, e.id).await? {
        tracing::warn!(entry = e.id, error = %err, "cannot read back an interrupted run yet");
        return Ok(None);
    }
    if let Err(err) = super::creates::settle(org, journal, e).await? {
        tracing::warn!(entry = e.id, error = %err, "cannot read back unanswered creates yet");
        return Ok(None);
    }
    if let (EntryKind::Undo, Some(of)) = (e.kind, e.refers_to) {
        let family: Vec<i64> = journal.family(of)?.iter().map(|m| m.id).collect();
        journal.mark_reverted(e.id, &family)?;
    }
    let counts = journal.state_counts(e.id)?;
    let status = match (counts.applied, counts.refused() + counts.pending) {
        (_, 0) => RunStatus::Applied,
        (0, _) if counts.conflict > 0 && counts.failed == 0 => RunStatus::Conflict,
        (0, _) => RunStatus::Failed,
        _ => RunStatus::Partial,
    };
    let mut message = format!(
        "{}: {} applied, {} failed",
        match why {
            Unfinished::Killed => "reconciled after the run was interrupted",
            Unfinished::UnreadJob => "reconciled after a bulk job's results could not be read",
            Unfinished::LostAnswer => "reconciled after a write's answer was lost",
        },
        counts.applied,
        counts.failed
    );
    if counts.conflict > 0 {
        message.push_str(&format!(", {} changed by someone else", counts.conflict));
    }
    if counts.pending > 0 {
        message.push_str(&format!(
            ", {} creates sent with no answer (check them; they are never re-sent)",
            counts.pending
        ));
    }
    journal.set_status(e.id, status.entry_status(), &message)?;
    Ok(Some(format!("entry {}: {message}", e.id)))
}

/// Past this many unanswered changes, an interrupted run's records are read back through a Bulk
/// query job ([`super::readback`]) instead of `Id IN (…)` queries of 200.
const READ_IN_BULK_ABOVE: usize = 2000;

/// Why a change of an interrupted run was never sent.
const INTERRUPTED_UNSENT: &str = "not sent: the run was interrupted";

/// Reads back the updates of `entry` still `sent` and settles each from what its record holds.
async fn settle_sent(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
) -> Result<Result<(), OrgError>, ExecError> {
    // Many unanswered updates (a killed Bulk run): read them back through a Bulk query job.
    let in_bulk = journal.state_counts(entry)?.pending > READ_IN_BULK_ABOVE;
    if in_bulk && let Err(e) = super::readback::load(org, journal, &[entry]).await? {
        journal.readback_drop()?;
        return Ok(Err(e));
    }
    let mut after = None;
    loop {
        let page = journal.changes_page(entry, after, UNDO_PAGE)?;
        let Some((last, _)) = page.last() else {
            if in_bulk {
                journal.readback_drop()?;
            }
            return Ok(Ok(()));
        };
        after = Some(*last);
        let rows: Vec<&ChangeRow> = page
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.state == ChangeState::Sent && r.change.op == crate::journal::Op::Update)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let current = if in_bulk {
            super::readback::current_of(journal, &rows)?
        } else {
            match read_current(org, &rows).await {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            }
        };
        let results: Vec<RowResult> = rows.iter().map(|r| settle_one(r, &current)).collect();
        journal.record_results(&results)?;
    }
}

/// An update sent without an answer, settled from what its record holds now.
fn settle_one(
    r: &ChangeRow,
    current: &std::collections::HashMap<String, serde_json::Value>,
) -> RowResult {
    let c = &r.change;
    let key: String = c
        .record_id
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(15)
        .collect();
    let Some(cur) = current.get(&key) else {
        return RowResult {
            error: Some("the record is gone or no longer visible".into()),
            ..RowResult::new(r.id, ChangeState::Conflict)
        };
    };
    let holds = |v: &serde_json::Value| {
        v.as_object().is_some_and(|o| {
            o.iter()
                .all(|(k, v)| super::undo::same(cur.get(k).unwrap_or(&serde_json::Value::Null), v))
        })
    };
    if holds(&c.new) {
        RowResult::new(r.id, ChangeState::Applied)
    } else if holds(&c.old) {
        RowResult {
            error: Some("not applied: the run was interrupted".into()),
            ..RowResult::new(r.id, ChangeState::Failed)
        }
    } else {
        let found: serde_json::Map<String, serde_json::Value> = c
            .new
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| (k.clone(), cur.get(k).cloned().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        RowResult {
            error: Some(
                "conflict: changed by someone else while the run was interrupted; left as it is"
                    .into(),
            ),
            found: Some(serde_json::Value::Object(found)),
            ..RowResult::new(r.id, ChangeState::Conflict)
        }
    }
}
