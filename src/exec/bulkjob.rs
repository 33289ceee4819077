//! One Bulk API 2.0 ingest job of a streamed run, journaled so that a killed run can be finished
//! later: the job's id and the positions of the rows it carries are written to the journal (and
//! the rows marked sent) *before* the data is uploaded, and the job is marked finished once its
//! results are recorded. [`reconcile_job`] finishes the journal of a job a killed process left:
//! an `Open` one is aborted (nothing of it was processed), any other is waited for and its
//! results read.
//!
//! Owns the ingest job's wire calls (create, upload, close, poll, results, abort).

use serde_json::{Value as Json, json};

use super::{ExecError, record_job_results};
use crate::journal::Journal;
use crate::resolve::org::{Body, Org, OrgError};

fn job_path(org: &Org, id: &str) -> String {
    org.data_path(&format!("/jobs/ingest/{id}"))
}

/// A job's state (`Open`, `UploadComplete`, `InProgress`, `JobComplete`, `Failed`, `Aborted`)
/// and its error message.
async fn job_state(org: &Org, id: &str) -> Result<(String, String), OrgError> {
    let info = org
        .send_ok(Org::req("GET", job_path(org, id), Body::Empty))
        .await?
        .json();
    let word = |k: &str| {
        info.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok((word("state"), word("errorMessage")))
}

/// Polls a job until it ends, backing off from 50 ms to 2 s between polls; `Ok` when complete.
async fn wait(org: &Org, id: &str) -> Result<(), OrgError> {
    let mut delay = std::time::Duration::from_millis(50);
    loop {
        let (state, message) = job_state(org, id).await?;
        match state.as_str() {
            "JobComplete" => return Ok(()),
            "Failed" | "Aborted" => {
                return Err(OrgError::Api {
                    status: 200,
                    code: "BULK_JOB_FAILED".into(),
                    message: if message.is_empty() {
                        format!("bulk job {state}")
                    } else {
                        message
                    },
                });
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
}

/// The job's `(successful CSV, failed CSV)`.
async fn results(org: &Org, id: &str) -> Result<(String, String), OrgError> {
    let base = job_path(org, id);
    let ok = org
        .send_ok(Org::req(
            "GET",
            format!("{base}/successfulResults/"),
            Body::Empty,
        ))
        .await?
        .text();
    let failed = org
        .send_ok(Org::req(
            "GET",
            format!("{base}/failedResults/"),
            Body::Empty,
        ))
        .await?
        .text();
    Ok((ok, failed))
}

/// How many times a job's state change is tried, and how many jobs one batch of rows is
/// tried in, before the rows are given up as failed.
const ATTEMPTS: u32 = 5;

/// Sets a job's state (`UploadComplete`, `Aborted`). When it fails, the job's state is read back:
/// a job already in the wanted state (or past it) is fine; one still `Open` did not take the
/// change, so it is sent again (with backoff), up to [`ATTEMPTS`] times.
async fn set_state(org: &Org, id: &str, wanted: &str) -> Result<(), OrgError> {
    let policy = crate::salesforce::RetryPolicy::default();
    let mut attempt = 1;
    loop {
        let body = Body::Json(json!({ "state": wanted }));
        let Err(e) = org
            .send_ok(Org::req("PATCH", job_path(org, id), body))
            .await
        else {
            return Ok(());
        };
        let (state, _) = job_state(org, id).await?;
        let reached = match wanted {
            "UploadComplete" => state != "Open",
            _ => state == wanted,
        };
        if reached {
            return Ok(());
        }
        if state != "Open" || attempt >= ATTEMPTS {
            return Err(e);
        }
        tokio::time::sleep(policy.delay(attempt)).await;
        attempt += 1;
    }
}

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
    let create = json!({"object": sobject, "operation": "update", "contentType": "CSV",
                        "lineEnding": "LF", "columnDelimiter": "COMMA"});
    let job = match org
        .send_ok(Org::req(
            "POST",
            org.data_path("/jobs/ingest"),
            Body::Json(create),
        ))
        .await
    {
        Ok(r) => r.json(),
        // No job, or an empty one nobody will close: nothing of it is processed.
        Err(e) => return Ok(Attempt::Unsent(e)),
    };
    let id = job
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let job_row = journal.job_started(entry, &id, first, last)?;
    let mut upload = Org::req(
        "PUT",
        format!("{}/batches", job_path(org, &id)),
        Body::Csv(csv),
    );
    upload
        .headers
        .push(("Content-Type".into(), "text/csv".into()));
    let uploaded = match org.send_ok(upload).await {
        Ok(_) => set_state(org, &id, "UploadComplete").await,
        Err(e) => Err(e),
    };
    if let Err(e) = uploaded {
        // Nothing of an open job is processed once it is aborted.
        if set_state(org, &id, "Aborted").await.is_ok() {
            journal.job_finished(job_row)?;
            return Ok(Attempt::Unsent(e));
        }
        return Ok(Attempt::Done(Err(e)));
    }
    let done = match wait(org, &id).await {
        Ok(()) => results(org, &id).await,
        Err(e) => Err(e),
    };
    if done.is_ok() {
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
        let (state, _) = job_state(org, id).await?;
        if state == "Open" {
            set_state(org, id, "Aborted").await?;
            return Ok(None);
        }
        match wait(org, id).await {
            Ok(()) => results(org, id).await.map(Some),
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
