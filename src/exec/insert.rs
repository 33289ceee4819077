//! Creates above the Bulk threshold (a file of rows): Bulk API 2.0 `insert` jobs of at most
//! [`crate::plan::BULK_JOB_ROWS`] rows each, and the new ids matched back to the plan's steps.
//!
//! A Bulk insert's result files carry each row as it was sent but no position, so a result row is
//! matched to a step by its cells: identical rows are interchangeable (each takes one of the
//! steps that sent those cells). Fewer calls than the streamed update jobs ([`super::bulkjob`]):
//! the job is polled after a pause sized to its rows, and `failedResults` is read only when the
//! job says some rows failed.
//!
//! Owns the insert job's wire calls. Imports the plan's types and `Org`.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use super::{BulkCsv, ExecError, Tally};
use crate::journal::Journal;
use crate::plan::{Plan, Step, Val};
use crate::salesforce::org::{Body, Org, OrgError};

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
    let failed_rows = wait(org, &base, rows).await?;
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

/// Waits for a job to end, first for a pause sized to its rows (so a job is polled a few times,
/// not dozens), then backing off up to 2 s. Returns how many rows failed.
async fn wait(org: &Org, base: &str, rows: usize) -> Result<u64, OrgError> {
    let first = 100 + u64::try_from(rows / 20).unwrap_or(u64::MAX).min(5_000);
    let mut delay = std::time::Duration::from_millis(first);
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
            _ => delay = (delay * 2).min(std::time::Duration::from_secs(2)),
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
