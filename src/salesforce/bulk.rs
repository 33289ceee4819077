//! Bulk API 2.0 ingest on [`Client`]: create job, upload CSV, close, poll, result CSVs.
//!
//! Every step is an ordinary request through [`Client::send`], so an expired session in the middle
//! of a job is renewed and the step replayed; the job id keeps the records together.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::client::{Body, Client, Request};
use super::error::Error;
use super::rest::check_api_name;
use super::retry::Idempotency;
use super::types::{IngestJobSpec, JobInfo};

fn check_job_id(id: &str) -> Result<&str, Error> {
    if !id.is_empty() && id.len() <= 18 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(Error::Usage(format!("`{id}` is not a job id")))
    }
}

impl Client {
    /// Creates an ingest job (`POST jobs/ingest`); never repeated blindly.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_create_job(&self, spec: &IngestJobSpec) -> Result<JobInfo, Error> {
        check_api_name(&spec.object)?;
        let body = serde_json::to_value(spec).map_err(|e| Error::Usage(e.to_string()))?;
        let req = Request::new(Method::POST, "jobs/ingest")
            .json(&body)
            .idempotency(Idempotency::Once);
        self.send(&req).await?.json()
    }

    /// Uploads the job's CSV (`PUT jobs/ingest/<id>/batches`). Repeated after a broken connection
    /// only when `repeatable` (a second upload to an open job adds the rows again).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_upload(
        &self,
        job_id: &str,
        csv: impl Into<bytes::Bytes>,
        repeatable: bool,
    ) -> Result<(), Error> {
        let req = Request::new(
            Method::PUT,
            format!("jobs/ingest/{}/batches", check_job_id(job_id)?),
        )
        .body(Body::csv(csv))
        .idempotency(if repeatable {
            Idempotency::Repeatable
        } else {
            Idempotency::Once
        });
        self.send(&req).await?;
        Ok(())
    }

    async fn bulk_set_state(&self, job_id: &str, state: &str) -> Result<JobInfo, Error> {
        let req = Request::new(
            Method::PATCH,
            format!("jobs/ingest/{}", check_job_id(job_id)?),
        )
        .json(&json!({ "state": state }))
        .idempotency(Idempotency::Repeatable);
        self.send(&req).await?.json()
    }

    /// Marks the upload complete so the org processes the job.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_close(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.bulk_set_state(job_id, "UploadComplete").await
    }

    /// Aborts a job.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_abort(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.bulk_set_state(job_id, "Aborted").await
    }

    /// Reads a job's info.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_job(&self, job_id: &str) -> Result<JobInfo, Error> {
        self.send(&Request::get(format!(
            "jobs/ingest/{}",
            check_job_id(job_id)?
        )))
        .await?
        .json()
    }

    /// Polls until the job is `JobComplete`; backs off from `poll` up to 2 s between polls.
    ///
    /// # Errors
    /// [`Error::BulkJob`] for `Failed`/`Aborted` or after `timeout`; as [`Client::send`].
    pub async fn bulk_wait(
        &self,
        job_id: &str,
        poll: Duration,
        timeout: Duration,
    ) -> Result<JobInfo, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = poll;
        loop {
            let info = self.bulk_job(job_id).await?;
            match info.state.as_str() {
                "JobComplete" => return Ok(info),
                "Failed" | "Aborted" => {
                    return Err(Error::BulkJob {
                        id: info.id.clone(),
                        state: info.state.clone(),
                        message: info.error_message.clone().unwrap_or_default(),
                    });
                }
                _ => {}
            }
            if tokio::time::Instant::now() + delay > deadline {
                return Err(Error::BulkJob {
                    id: info.id,
                    state: info.state,
                    message: format!("still running after {}s", timeout.as_secs()),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn bulk_csv(&self, job_id: &str, which: &str) -> Result<String, Error> {
        let resp = self
            .send(
                &Request::get(format!("jobs/ingest/{}/{which}", check_job_id(job_id)?)).header(
                    reqwest::header::ACCEPT,
                    reqwest::header::HeaderValue::from_static("text/csv"),
                ),
            )
            .await?;
        Ok(String::from_utf8_lossy(&resp.body).into_owned())
    }

    /// `successfulResults/` CSV (`sf__Id`, `sf__Created`, original columns).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_successful_results(&self, job_id: &str) -> Result<String, Error> {
        self.bulk_csv(job_id, "successfulResults/").await
    }

    /// `failedResults/` CSV (`sf__Id`, `sf__Error`, original columns).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_failed_results(&self, job_id: &str) -> Result<String, Error> {
        self.bulk_csv(job_id, "failedResults/").await
    }

    /// `unprocessedrecords/` CSV.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn bulk_unprocessed_records(&self, job_id: &str) -> Result<String, Error> {
        self.bulk_csv(job_id, "unprocessedrecords/").await
    }
}
