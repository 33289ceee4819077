//! Creates above the Bulk threshold (a file of rows): Bulk API 2.0 `insert` jobs of at most
//! [`crate::plan::BULK_JOB_ROWS`] rows each, and the new ids matched back to the plan's steps.
//!
//! A Bulk insert's result files carry each row as it was sent but no position, so a result row is
//! matched to a step by its cells: identical rows are interchangeable (each takes one of the
//! steps that sent those cells). Fewer calls than the streamed update jobs ([`super::bulkjob`]):
//! the job is polled after a pause sized to its rows, and `failedResults` is read only when the
//! job says some rows failed.
//!
//! A staged file of creates ([`send_staged`]) is sent the same way, a job at a time read from its
//! journal entry: jobs of at most [`IMPORT_JOB_ROWS`] rows, so that memory (one job's rows, CSV
//! and result files) stays flat whatever the size of the file.
//!
//! Owns the insert job's wire calls. Imports the plan's types, the journal and `Org`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{BulkCsv, ExecError, RunOptions, RunReport, Tally};
use crate::journal::{ChangeState, Journal, RowResult};
use crate::plan::{Plan, Step, Val};
use crate::salesforce::org::{Body, Org, OrgError};

/// Rows per Bulk insert job of a staged file: one job's rows, CSV and result files are what the
/// agent holds (a few MB), so its memory is the same for 10,000 rows as for a million.
pub const IMPORT_JOB_ROWS: usize = 10_000;

/// A Bulk CSV cell of a value.
fn cell(v: Option<&Json>) -> String {
    match v {
        Some(Json::String(t)) => t.clone(),
        Some(Json::Null) => "#N/A".into(),
        Some(j) => j.to_string(),
        None => String::new(),
    }
}

/// Sends the creates of a staged `entry` (all of `sobject`, writing `columns`) in Bulk insert
/// jobs of at most [`IMPORT_JOB_ROWS`] rows, read from the journal a job at a time; each job's
/// rows are marked sent before it is created and get their new ids (or errors) from its result
/// files. A job that fails as a whole stops the run; its rows and those not sent are failed.
///
/// # Errors
/// [`ExecError::Journal`].
pub(super) async fn send_staged(
    org: &Org,
    journal: &mut Journal,
    entry: i64,
    (sobject, columns): (&str, &[String]),
    total: usize,
    opts: &RunOptions<'_>,
) -> Result<RunReport, ExecError> {
    let job_rows = opts.route.job_rows.clamp(1, IMPORT_JOB_ROWS);
    let width = columns.len();
    let mut after = None;
    let mut sent = 0;
    let mut stop = None;
    // The job the org is running while the next one is read and uploaded (two at most).
    let mut running: Option<Running> = None;
    loop {
        let next = if stop.is_none() {
            next_job(journal, entry, &mut after, columns, job_rows)?
        } else {
            None
        };
        let started = match next {
            Some((rows, csv)) => {
                super::mark_sent(journal, rows.values().flatten().copied())?;
                let n = rows.values().map(Vec::len).sum::<usize>();
                match start_job(org, sobject, csv).await {
                    Ok(base) => Some(Running { base, rows, n }),
                    Err(e) => {
                        journal.record_results(&failed_all(rows, &e))?;
                        stop = Some(e);
                        None
                    }
                }
            }
            None => None,
        };
        if let Some(job) = running.take() {
            let n = job.n;
            let results = match finish_job(org, &job.base, Duration::ZERO, width).await {
                Ok(r) => job_results(job.rows, r),
                Err(e) => {
                    let failed = failed_all(job.rows, &e);
                    stop.get_or_insert(e);
                    failed
                }
            };
            journal.record_results(&results)?;
            sent += n;
            if let Some(p) = opts.progress {
                p(sent, total);
            }
        }
        running = started;
        if running.is_none() {
            break;
        }
    }
    journal.fail_unrecorded(entry, "not sent: an earlier Bulk job failed")?;
    super::staged::report_streamed(journal, entry, stop.as_ref(), total, "")
}

/// A job's journal rows by the cells they send.
type JobRows = HashMap<Vec<String>, Vec<i64>>;

/// A job the org is running: its path and the journal rows it carries, by cells.
struct Running {
    base: String,
    rows: HashMap<Vec<String>, Vec<i64>>,
    n: usize,
}

/// The next job's rows (by the cells they send) and CSV: up to `job_rows` unsent changes of
/// `entry` after `after`, read from the journal. `None` when none is left.
fn next_job(
    journal: &Journal,
    entry: i64,
    after: &mut Option<i64>,
    columns: &[String],
    job_rows: usize,
) -> Result<Option<(JobRows, String)>, ExecError> {
    loop {
        let page = journal.changes_page(entry, *after, job_rows)?;
        let Some((last, _)) = page.last() else {
            return Ok(None);
        };
        *after = Some(*last);
        // Identical rows are interchangeable: each takes one of the ids their cells got.
        let mut rows: HashMap<Vec<String>, Vec<i64>> = HashMap::new();
        let mut csv = BulkCsv::without_id(columns);
        for (_, r) in page.iter().filter(|(_, r)| r.state == ChangeState::Planned) {
            let cells: Vec<String> = columns.iter().map(|c| cell(r.change.new.get(c))).collect();
            csv.cells(&cells);
            rows.entry(cells).or_default().push(r.id);
        }
        if !rows.is_empty() {
            return Ok(Some((rows, csv.finish())));
        }
    }
}

/// Every row of a job that ended with `e`: failed, or, when the answer was lost after the rows
/// were sent ([`super::creates::answer_lost`]), left `sent` for the next command to read back
/// (a create is never repeated blindly).
fn failed_all(rows: HashMap<Vec<String>, Vec<i64>>, e: &OrgError) -> Vec<RowResult> {
    let (state, error) = if super::creates::answer_lost(e) {
        (ChangeState::Sent, super::creates::lost_answer(e))
    } else {
        (ChangeState::Failed, e.to_string())
    };
    rows.into_values()
        .flatten()
        .map(|id| RowResult {
            error: Some(error.clone()),
            ..RowResult::new(id, state)
        })
        .collect()
}

/// Each journal row of a job with its result: the new id, the row's error, or "not processed".
fn job_results(rows: HashMap<Vec<String>, Vec<i64>>, mut r: JobResult) -> Vec<RowResult> {
    let mut out = Vec::new();
    for (key, ids) in rows {
        for id in ids {
            out.push(if let Some(new) = r.ok.get_mut(&key).and_then(Vec::pop) {
                RowResult {
                    record_id: Some(new),
                    ..RowResult::new(id, ChangeState::Applied)
                }
            } else if let Some(e) = r.failed.get_mut(&key).and_then(Vec::pop) {
                RowResult {
                    error: Some(e),
                    ..RowResult::new(id, ChangeState::Failed)
                }
            } else {
                RowResult {
                    error: Some("not processed by the bulk job".into()),
                    ..RowResult::new(id, ChangeState::Failed)
                }
            });
        }
    }
    out
}

/// The cells a step sends, in `columns` order, as the CSV carries them.
fn cells(step: &Step, columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match step.fields.get(c) {
            Some(Val::Lit(Json::String(t))) => t.clone(),
            Some(Val::Lit(Json::Null)) => "#N/A".into(),
            Some(Val::Lit(j)) => j.to_string(),
            _ => String::new(),
        })
        .collect()
}

/// What one insert job returned: the new id or the error of each row, keyed by its cells.
struct JobResult {
    ok: HashMap<Vec<String>, Vec<String>>,
    failed: HashMap<Vec<String>, Vec<String>>,
}

/// Sends the steps `send` (creates of one object) in Bulk insert jobs of at most `job_rows`
/// rows and tallies each one. Returns whether the API limit stopped it.
///
/// # Errors
/// [`ExecError::Journal`].
pub(super) async fn bulk_insert(
    org: &Org,
    journal: &mut Journal,
    plan: &Plan,
    ids: &[i64],
    send: &[usize],
    job_rows: usize,
    tally: &mut Tally,
) -> Result<bool, ExecError> {
    let empty = HashMap::new();
    let mut limit = false;
    for chunk in send.chunks(job_rows.max(1)) {
        let mut columns: Vec<String> = Vec::new();
        for &i in chunk {
            for k in plan.steps[i].fields.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        super::mark_sent(journal, chunk.iter().map(|&i| ids[i]))?;
        let mut csv = BulkCsv::without_id(&columns);
        for &i in chunk {
            csv.cells(&cells(&plan.steps[i], &columns));
        }
        let sobject = &plan.steps[chunk[0]].sobject;
        match insert_job(org, sobject, csv.finish(), chunk.len(), columns.len()).await {
            Err(e) => {
                limit |= matches!(e, OrgError::LimitExceeded(_));
                for &i in chunk {
                    tally.refused(ids[i], &plan.steps[i], &e);
                }
            }
            Ok(mut r) => {
                for &i in chunk {
                    let s = &plan.steps[i];
                    let key = cells(s, &columns);
                    if let Some(id) = r.ok.get_mut(&key).and_then(Vec::pop) {
                        tally.done(ids[i], s, Some(id), &empty);
                    } else if let Some(e) = r.failed.get_mut(&key).and_then(Vec::pop) {
                        tally.failed(ids[i], s, e);
                    } else {
                        tally.failed(ids[i], s, "not processed by the bulk job".into());
                    }
                }
            }
        }
        tally.flush(journal)?;
    }
    Ok(limit)
}

/// One insert job: create, upload, close, wait, results.
async fn insert_job(
    org: &Org,
    sobject: &str,
    csv: String,
    rows: usize,
    width: usize,
) -> Result<JobResult, OrgError> {
    let base = start_job(org, sobject, csv).await?;
    let first = 100 + u64::try_from(rows / 20).unwrap_or(u64::MAX).min(5_000);
    finish_job(org, &base, Duration::from_millis(first), width).await
}

/// Creates an insert job, uploads its CSV and closes it; returns the job's path.
async fn start_job(org: &Org, sobject: &str, csv: String) -> Result<String, OrgError> {
    let job = org
        .send_ok(Org::req(
            "POST",
            org.data_path("/jobs/ingest"),
            Body::Json(json!({"object": sobject, "operation": "insert", "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"})),
        ))
        .await?
        .json();
    let id = job
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let base = org.data_path(&format!("/jobs/ingest/{id}"));
    let mut upload = Org::req("PUT", format!("{base}/batches"), Body::Csv(csv));
    upload
        .headers
        .push(("Content-Type".into(), "text/csv".into()));
    org.send_ok(upload).await?;
    org.send_ok(Org::req(
        "PATCH",
        base.clone(),
        Body::Json(json!({"state": "UploadComplete"})),
    ))
    .await?;
    Ok(base)
}

/// Waits for a closed job (first after `first`) and reads its result files.
async fn finish_job(
    org: &Org,
    base: &str,
    first: Duration,
    width: usize,
) -> Result<JobResult, OrgError> {
    let failed_rows = wait(org, base, first).await?;
    let get = |kind: &str| Org::req("GET", format!("{base}/{kind}/"), Body::Empty);
    let ok = org.send_ok(get("successfulResults")).await?.text();
    let failed = if failed_rows > 0 {
        org.send_ok(get("failedResults")).await?.text()
    } else {
        String::new()
    };
    Ok(JobResult {
        ok: by_cells(&ok, width),
        failed: by_cells(&failed, width),
    })
}

/// Waits for a job to end, first for `first` (sized to its rows, so a job is polled a few
/// times, not dozens; nothing for a job that ran while the next one was uploaded), then backing
/// off from 100 ms up to 2 s. Returns how many rows failed.
async fn wait(org: &Org, base: &str, first: Duration) -> Result<u64, OrgError> {
    let mut delay = first;
    loop {
        tokio::time::sleep(delay).await;
        let info = org
            .send_ok(Org::req("GET", base.to_string(), Body::Empty))
            .await?
            .json();
        match info.get("state").and_then(Json::as_str).unwrap_or("") {
            "JobComplete" => {
                return Ok(info
                    .get("numberRecordsFailed")
                    .and_then(Json::as_u64)
                    .unwrap_or(1));
            }
            "Failed" | "Aborted" => {
                return Err(OrgError::Api {
                    status: 200,
                    code: "BULK_JOB_FAILED".into(),
                    message: info
                        .get("errorMessage")
                        .and_then(Json::as_str)
                        .unwrap_or("bulk job failed")
                        .into(),
                });
            }
            _ => delay = (delay * 2).clamp(Duration::from_millis(100), Duration::from_secs(2)),
        }
    }
}

/// A result CSV (`sf__Id`, `sf__Created` or `sf__Error`, then the row as sent) as cells → the
/// ids (successful) or errors (failed) of the rows that sent them.
fn by_cells(csv_text: &str, width: usize) -> HashMap<Vec<String>, Vec<String>> {
    let mut out: HashMap<Vec<String>, Vec<String>> = HashMap::new();
    if csv_text.trim().is_empty() {
        return out;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let error_col = rdr
        .headers()
        .map(|h| h.get(1) == Some("sf__Error"))
        .unwrap_or(false);
    for rec in rdr.records().flatten() {
        let key: Vec<String> = (2..2 + width)
            .map(|k| rec.get(k).unwrap_or("").to_string())
            .collect();
        let val = if error_col {
            rec.get(1).unwrap_or("").to_string()
        } else {
            rec.get(0).unwrap_or("").to_string()
        };
        out.entry(key).or_default().push(val);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_rows_are_keyed_by_their_cells() {
        let ok = "\"sf__Id\",\"sf__Created\",LastName,Company\n00Q1,true,Doe,Acme\n00Q2,true,Doe,Acme\n00Q3,true,Roe,\"Big, Co\"\n";
        let m = by_cells(ok, 2);
        assert_eq!(m[&vec!["Doe".to_string(), "Acme".to_string()]].len(), 2);
        assert_eq!(m[&vec!["Roe".to_string(), "Big, Co".to_string()]], ["00Q3"]);
        let failed =
            "\"sf__Id\",\"sf__Error\",LastName,Company\n,REQUIRED_FIELD_MISSING: Company,Poe,\n";
        let m = by_cells(failed, 2);
        assert_eq!(
            m[&vec!["Poe".to_string(), String::new()]],
            ["REQUIRED_FIELD_MISSING: Company"]
        );
    }
}
