//! Bulk updates too large to hold in memory: a staged plan, a large undo or a large retry becomes
//! a journal entry first, then is sent in Bulk API 2.0 jobs whose CSV is written from the journal
//! a job at a time; results are recorded by record id. Memory is flat in the number of records.
//!
//! Owns the streamed runs only; the Bulk wire format (CSV, result files) is [`super`]'s, reverting
//! rules are [`super::undo`]'s.

use super::undo::{Revert, read_current, revert_of};
use super::{BulkCsv, ExecError, RunOptions, RunReport, RunStatus, failed_rows, ok_ids, run};
use crate::journal::{ChangeRow, ChangeState, Journal, Op, PlannedChange, StateCounts};
use crate::plan::Plan;
use crate::resolve::org::{Org, OrgError};

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
