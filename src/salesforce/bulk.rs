//! Bulk API 2.0 on the per-command [`Org`] handle: ingest jobs one step at a time (create, upload,
//! close, poll, results, abort; the executor journals the job id between creating and uploading)
//! or all at once ([`Org::bulk_ingest`]), and query jobs read page by page ([`Org::bulk_query`]).
//!
//! Owns the Bulk wire shapes only; what a job's rows mean is the executor's business.

use std::time::Duration;

use serde_json::{Value, json};

use super::org::{Body, Org, OrgError};
use super::retry::RetryPolicy;

/// How many times a job's state change is tried before it is given up.
const STATE_ATTEMPTS: u32 = 5;

/// A job's state as the org reports it (`Open`, `UploadComplete`, `InProgress`, `JobComplete`,
/// `Failed`, `Aborted`) with its error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// The `state` word.
    pub state: String,
    /// The `errorMessage` (empty when none).
    pub message: String,
}

/// A Bulk API 2.0 query job being read ([`Org::bulk_query`]).
#[derive(Debug)]
pub struct BulkQuery {
    base: String,
    locator: Option<String>,
    done: bool,
}

impl Org {
    fn ingest_path(&self, id: &str) -> String {
        self.data_path(&format!("/jobs/ingest/{id}"))
    }

    /// Creates an ingest job (`POST /jobs/ingest`, CSV, LF, comma) and returns its id. Never
    /// repeated blindly.
    ///
    /// # Errors
    /// The org's error.
    pub async fn ingest_create(&self, object: &str, operation: &str) -> Result<String, OrgError> {
        let body = json!({"object": object, "operation": operation, "contentType": "CSV",
                          "lineEnding": "LF", "columnDelimiter": "COMMA"});
        let job = self.post("/jobs/ingest", body).await?;
        Ok(job
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// Uploads a job's CSV (`PUT …/batches`).
    ///
    /// # Errors
    /// The org's error.
    pub async fn ingest_upload(&self, id: &str, csv: String) -> Result<(), OrgError> {
        let mut upload = Org::req(
            "PUT",
            format!("{}/batches", self.ingest_path(id)),
            Body::Csv(csv),
        );
        upload
            .headers
            .push(("Content-Type".into(), "text/csv".into()));
        self.send_ok(upload).await.map(|_| ())
    }

    /// A job's state and error message.
    ///
    /// # Errors
    /// The org's error.
    pub async fn ingest_state(&self, id: &str) -> Result<JobState, OrgError> {
        job_state(self, &self.ingest_path(id)).await
    }

    /// Sets a job's state (`UploadComplete` to close it, `Aborted`). When the request fails, the
    /// state is read back: a job already in the wanted state (or past it) is fine; one still `Open`
    /// did not take the change, so it is sent again with backoff, up to five times.
    ///
    /// # Errors
    /// The org's error once the job is past `Open` in another state, or attempts ran out.
    pub async fn ingest_set_state(&self, id: &str, wanted: &str) -> Result<(), OrgError> {
        let policy = RetryPolicy::default();
        let mut attempt = 1;
        loop {
            let body = Body::Json(json!({ "state": wanted }));
            let Err(e) = self
                .send_ok(Org::req("PATCH", self.ingest_path(id), body))
                .await
            else {
                return Ok(());
            };
            let now = self.ingest_state(id).await?;
            let reached = match wanted {
                "UploadComplete" => now.state != "Open",
                _ => now.state == wanted,
            };
            if reached {
                return Ok(());
            }
            if now.state != "Open" || attempt >= STATE_ATTEMPTS {
                return Err(e);
            }
            tokio::time::sleep(policy.delay(attempt)).await;
            attempt += 1;
        }
    }

    /// Polls an ingest job until it ends; `Ok` when complete, `BULK_JOB_FAILED` when it failed or
    /// was aborted as a whole.
    ///
    /// # Errors
    /// The org's error, or `BULK_JOB_FAILED`.
    pub async fn ingest_wait(&self, id: &str) -> Result<(), OrgError> {
        wait_for_job(self, &self.ingest_path(id)).await
    }

    /// A finished job's `(successful CSV, failed CSV)`.
    ///
    /// # Errors
    /// The org's error.
    pub async fn ingest_results(&self, id: &str) -> Result<(String, String), OrgError> {
        let base = self.ingest_path(id);
        let read = |which: &str| {
            let path = format!("{base}/{which}/");
            async move {
                self.send_ok(Org::req("GET", path, Body::Empty))
                    .await
                    .map(|r| r.text())
            }
        };
        Ok((
            read("successfulResults").await?,
            read("failedResults").await?,
        ))
    }

    /// Bulk API 2.0 in one call: creates an ingest job, uploads the CSV, closes it, polls until it
    /// ends and returns `(successful CSV, failed CSV)`.
    ///
    /// # Errors
    /// The org's error, or a job that ended `Failed`/`Aborted`.
    pub async fn bulk_ingest(
        &self,
        object: &str,
        operation: &str,
        csv: String,
    ) -> Result<(String, String), OrgError> {
        let id = self.ingest_create(object, operation).await?;
        self.ingest_upload(&id, csv).await?;
        self.ingest_set_state(&id, "UploadComplete").await?;
        self.ingest_wait(&id).await?;
        self.ingest_results(&id).await
    }

    /// Runs a rendered SOQL query as a Bulk API 2.0 query job and waits until it is complete;
    /// read its results with [`Org::bulk_query_page`]. For reads too large for REST pages.
    ///
    /// # Errors
    /// The org's error (e.g. a query Bulk API does not support), or a job that ended
    /// `Failed`/`Aborted`.
    pub async fn bulk_query(&self, soql: &str) -> Result<BulkQuery, OrgError> {
        let body = json!({"operation": "query", "query": soql, "contentType": "CSV",
                          "columnDelimiter": "COMMA", "lineEnding": "LF"});
        let job = self.post("/jobs/query", body).await?;
        let id = job.get("id").and_then(Value::as_str).unwrap_or_default();
        let base = self.data_path(&format!("/jobs/query/{id}"));
        wait_for_job(self, &base).await?;
        Ok(BulkQuery {
            base,
            locator: None,
            done: false,
        })
    }

    /// The next page of a query job's results, at most `max_records` rows, or `None` once all
    /// were read. Rows are JSON objects as the REST API shapes them (`Account.Name` →
    /// `{"Account": {"Name": …}}`), with every value a string and empty cells null: Bulk CSV
    /// carries no types.
    ///
    /// # Errors
    /// The org's error.
    pub async fn bulk_query_page(
        &self,
        job: &mut BulkQuery,
        max_records: usize,
    ) -> Result<Option<Vec<Value>>, OrgError> {
        if job.done {
            return Ok(None);
        }
        let mut req = Org::req("GET", format!("{}/results", job.base), Body::Empty);
        req.query
            .push(("maxRecords".into(), max_records.max(1).to_string()));
        if let Some(l) = &job.locator {
            req.query.push(("locator".into(), l.clone()));
        }
        let resp = self.send_ok(req).await?;
        job.locator = resp
            .header("Sforce-Locator")
            .filter(|l| !l.is_empty() && *l != "null")
            .map(str::to_string);
        job.done = job.locator.is_none();
        Ok(Some(csv_rows(&resp.text())))
    }

    /// Deletes a query job and its results (otherwise the org keeps them for 7 days).
    ///
    /// # Errors
    /// The org's error.
    pub async fn bulk_query_delete(&self, job: BulkQuery) -> Result<(), OrgError> {
        self.send_ok(Org::req("DELETE", job.base, Body::Empty))
            .await
            .map(|_| ())
    }
}

/// The state of the job at `base` (`…/jobs/ingest/{id}` or `…/jobs/query/{id}`).
async fn job_state(org: &Org, base: &str) -> Result<JobState, OrgError> {
    let info = org
        .send_ok(Org::req("GET", base.to_string(), Body::Empty))
        .await?
        .json();
    let word = |k: &str| {
        info.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(JobState {
        state: word("state"),
        message: word("errorMessage"),
    })
}

/// How many failed polls in a row (each already retried by the transport) a wait outlasts.
const POLL_FAILURES: u32 = 5;

/// Polls the job at `base` until it is complete, backing off from 50 ms to 2 s between polls. A
/// poll is a read: one that fails (503, a dropped connection) is tried again on the next tick, up
/// to [`POLL_FAILURES`] in a row, so a passing fault does not give up a running job.
async fn wait_for_job(org: &Org, base: &str) -> Result<(), OrgError> {
    let mut delay = Duration::from_millis(50);
    let mut failures = 0;
    loop {
        let now = match job_state(org, base).await {
            Ok(now) => now,
            Err(e) if failures + 1 < POLL_FAILURES && !matches!(e, OrgError::LimitExceeded(_)) => {
                failures += 1;
                tracing::debug!(error = %e, failures, "bulk job poll failed; polling again");
                tokio::time::sleep(delay).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        failures = 0;
        match now.state.as_str() {
            "JobComplete" => return Ok(()),
            "Failed" | "Aborted" => {
                return Err(OrgError::Api {
                    status: 200,
                    code: "BULK_JOB_FAILED".into(),
                    message: if now.message.is_empty() {
                        format!("bulk job {}", now.state)
                    } else {
                        now.message
                    },
                });
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Rows of a Bulk query results CSV as JSON objects: dotted columns nested, empty cells null.
fn csv_rows(text: &str) -> Vec<Value> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let Ok(headers) = rdr.headers().cloned() else {
        return Vec::new();
    };
    let paths: Vec<Vec<&str>> = headers.iter().map(|h| h.split('.').collect()).collect();
    rdr.records()
        .flatten()
        .map(|rec| {
            let mut row = serde_json::Map::new();
            for (path, cell) in paths.iter().zip(rec.iter()) {
                let v = if cell.is_empty() {
                    Value::Null
                } else {
                    Value::String(cell.to_string())
                };
                let mut at = &mut row;
                for part in &path[..path.len() - 1] {
                    let next = at
                        .entry((*part).to_string())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if !next.is_object() {
                        *next = Value::Object(serde_json::Map::new());
                    }
                    at = next.as_object_mut().expect("made an object just above");
                }
                at.insert(path[path.len() - 1].to_string(), v);
            }
            Value::Object(row)
        })
        .collect()
}
