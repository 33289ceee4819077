//! One Bulk API 2.0 ingest job of a streamed run, journaled so that a killed run can be finished
//! later: the job's id and the positions of the rows it carries are written to the journal (and
//! the rows marked sent) *before* the data is uploaded, and the job is marked finished once its
//! results are recorded. [`reconcile_job`] finishes the journal of a job a killed process left:
//! an `Open` one is aborted (nothing of it was processed), any other is waited for and its
//! results read.
//!
//! Owns the journaling around an ingest job; its wire calls are [`crate::salesforce::bulk`]'s.

use super::{ExecError, record_job_results};
use crate::journal::Journal;
use crate::salesforce::{Org, OrgError};

/// How many jobs one batch of rows is tried in before the rows are given up as failed.
const ATTEMPTS: u32 = 5;

/// Sends `entry`'s rows at positions `first..=last` (their CSV) in one ingest job ([`attempt`]).
/// A job that could not be created, or whose upload or close failed and that was then aborted
/// (so none of it was processed), is replaced by a new one, up to [`ATTEMPTS`] jobs: the rows are
/// sent exactly once. The outer error is the journal's; the inner one the org's.
///
/// # Errors
/// [`ExecError::Journal`].
pub(super) async fn ingest(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    sobject: &str,
    rows: (i64, i64),
    csv: String,
) -> Result<Result<(String, String), OrgError>, ExecError> {
    let policy = crate::salesforce::RetryPolicy::default();
    let mut n = 1;
    loop {
        match attempt(org, journal, entry, sobject, rows, csv.clone()).await? {
            Attempt::Done(r) => return Ok(r),
            Attempt::Unsent(e) if n < ATTEMPTS => {
                tracing::debug!(error = %e, attempt = n, "bulk job not sent; a new job carries its rows");
                tokio::time::sleep(policy.delay(n)).await;
                n += 1;
            }
            Attempt::Unsent(e) => return Ok(Err(e)),
        }
    }
}

/// How one job went.
enum Attempt {
    /// It ran (or failed as a whole after it was closed): its results, or why not.
    Done(Result<(String, String), OrgError>),
    /// None of it was processed: it was not created, or it was aborted while open.
    Unsent(OrgError),
}

/// One ingest job: creates it, journals its id and marks the rows sent, uploads, closes, waits
/// and reads the results. A job whose upload or close fails is aborted.
async fn attempt(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    sobject: &str,
    (first, last): (i64, i64),
    csv: String,
) -> Result<Attempt, ExecError> {
    let id = match org.ingest_create(sobject, "update").await {
        Ok(id) => id,
        // No job, or an empty one nobody will close: nothing of it is processed.
        Err(e) => return Ok(Attempt::Unsent(e)),
    };
    let job_row = journal.job_started(entry, &id, first, last)?;
    let uploaded = match org.ingest_upload(&id, csv).await {
        Ok(()) => org.ingest_set_state(&id, "UploadComplete").await,
        Err(e) => Err(e),
    };
    if let Err(e) = uploaded {
        // Nothing of an open job is processed once it is aborted.
        if org.ingest_set_state(&id, "Aborted").await.is_ok() {
            journal.job_finished(job_row)?;
            return Ok(Attempt::Unsent(e));
        }
        return Ok(Attempt::Done(Err(e)));
    }
    let done = match org.ingest_wait(&id).await {
        Ok(()) => org.ingest_results(&id).await,
        Err(e) => Err(e),
    };
    // Results recorded, or a job that failed as a whole (none of its rows was written): the
    // job is seen to the end. Otherwise (its state or results could not be read after the
    // transport's retries) it stays open in the journal and its rows `sent`: the org may hold
    // them, and the next command reads them back ([`reconcile_job`]).
    if done.is_ok() || matches!(&done, Err(OrgError::Api { code, .. }) if code == "BULK_JOB_FAILED")
    {
        journal.job_finished(job_row)?;
    }
    Ok(Attempt::Done(done))
}

/// Finishes the journal of a job a killed run left unfinished (journal row `job_row`, Bulk job
/// `id`, for `entry`): an `Open` job is aborted (none of it was processed); any other is waited
/// for and its results recorded by record id. Returns whether it was settled; rows the job did
/// not report are left for the caller.
///
/// # Errors
/// [`ExecError::Journal`]; the org's error as the inner one.
pub(super) async fn reconcile_job(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    job_row: i64,
    id: &str,
) -> Result<Result<(), OrgError>, ExecError> {
    let settled: Result<Option<(String, String)>, OrgError> = async {
        if org.ingest_state(id).await?.state == "Open" {
            org.ingest_set_state(id, "Aborted").await?;
            return Ok(None);
        }
        match org.ingest_wait(id).await {
            Ok(()) => org.ingest_results(id).await.map(Some),
            // Failed or aborted as a whole: nothing to record by id.
            Err(OrgError::Api { code, .. }) if code == "BULK_JOB_FAILED" => Ok(None),
            Err(e) => Err(e),
        }
    }
    .await;
    match settled {
        Ok(found) => {
            if let Some((ok_csv, failed_csv)) = found {
                record_job_results(journal, entry, &ok_csv, &failed_csv)?;
            }
            journal.job_finished(job_row)?;
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(e)),
    }
}
