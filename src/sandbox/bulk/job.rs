//! What ingest and query jobs share: the job table both kinds are stored in the same way
//! ([`JobTable`]: ids, the background worker loop, start, completion and failure), the CSV options
//! of a job request, the processing-time counters and a few error and response helpers.
//!
//! Owns no route and no job shape of its own; [`super::ingest`] and [`super::query`] build on it.
//! Imports the state and the error type only.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::id::RecordId;
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::security::Principal;
use crate::sandbox::state::AppState;

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn bad(code: &str, message: impl Into<String>) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, code, message)
}

/// The JSON body of a job request (`JSON_PARSER_ERROR` when it is not JSON).
pub(crate) fn parse_body(body: &[u8]) -> SfResult<Value> {
    serde_json::from_slice(body).map_err(|e| SfError::json_parser(e.to_string()))
}

pub(crate) fn delimiter_byte(name: &str) -> Option<u8> {
    Some(match name {
        "COMMA" => b',',
        "BACKQUOTE" => b'`',
        "CARET" => b'^',
        "PIPE" => b'|',
        "SEMICOLON" => b';',
        "TAB" => b'\t',
        _ => return None,
    })
}

/// `columnDelimiter` (default COMMA), `lineEnding` (default LF) and `contentType` (CSV only) of a
/// job request, shared by ingest and query jobs.
///
/// # Errors
/// `400 INVALIDJOB` for a value Salesforce does not accept.
pub(crate) fn csv_options(req: &Value) -> SfResult<(String, String)> {
    let s = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    let delimiter = s("columnDelimiter").unwrap_or_else(|| "COMMA".into());
    if delimiter_byte(&delimiter).is_none() {
        return Err(bad(
            "INVALIDJOB",
            format!("InvalidJob : Invalid column delimiter: {delimiter}"),
        ));
    }
    let line_ending = s("lineEnding").unwrap_or_else(|| "LF".into());
    if line_ending != "LF" && line_ending != "CRLF" {
        return Err(bad(
            "INVALIDJOB",
            format!("InvalidJob : Invalid line ending: {line_ending}"),
        ));
    }
    if s("contentType").is_some_and(|c| c != "CSV") {
        return Err(bad(
            "INVALIDJOB",
            "InvalidJob : Only CSV content is supported",
        ));
    }
    Ok((delimiter, line_ending))
}

/// The delimiter byte a job's info names (`,` by default).
pub(crate) fn info_delimiter(info: &Value) -> u8 {
    info.get("columnDelimiter")
        .and_then(Value::as_str)
        .and_then(delimiter_byte)
        .unwrap_or(b',')
}

/// The line ending a job's info names (`\n` by default).
pub(crate) fn info_eol(info: &Value) -> &'static str {
    if info.get("lineEnding").and_then(Value::as_str) == Some("CRLF") {
        "\r\n"
    } else {
        "\n"
    }
}

pub(crate) fn terminator(eol: &str) -> csv::Terminator {
    if eol == "\r\n" {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    }
}

pub(crate) fn csv_response(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    resp
}

/// Milliseconds a job has been processing: start to finish, or start to now while it runs.
pub(crate) fn processing_ms(started_ms: Option<i64>, finished_ms: Option<i64>) -> i64 {
    match (started_ms, finished_ms) {
        (Some(s), Some(f)) => f - s,
        (Some(s), None) => now_ms() - s,
        _ => 0,
    }
}

/// A job of the caller, or 404: another user's job looks like a missing one.
pub(crate) fn owned_by<J>(
    job: Option<J>,
    owner: impl Fn(&J) -> &str,
    p: &Principal,
) -> SfResult<J> {
    job.filter(|j| owner(j) == p.user_id)
        .ok_or_else(SfError::not_found)
}

/// Only finished jobs may be deleted.
pub(crate) fn check_deletable(state: &str) -> SfResult<()> {
    if ["JobComplete", "Failed", "Aborted"].contains(&state) {
        return Ok(());
    }
    Err(bad(
        "INVALIDJOBSTATE",
        format!("Job state {state} does not allow deletion"),
    ))
}

/// The user a job runs as (its creator, through the creating app).
pub(crate) fn job_principal(
    state: &AppState,
    user_id: &str,
    client_id: Option<&str>,
) -> SfResult<Principal> {
    state
        .policy
        .principal(user_id, client_id, &[])
        .ok_or_else(|| bad("INVALIDJOB", "InvalidJob : the job's user no longer exists"))
}

/// Where one kind of job is stored; both tables have `id`, `seq`, `info`, `state`,
/// `started_ms` and `finished_ms` columns.
pub(crate) struct JobTable {
    /// The SQLite table.
    pub table: &'static str,
    /// The pod of its job ids (`750…`).
    pub pod: &'static str,
}

impl JobTable {
    /// The next sequence number and the job id made from it.
    pub fn next_id(&self, conn: &Connection) -> SfResult<(i64, String)> {
        let sql = format!("SELECT COALESCE(MAX(seq), 0) + 1 FROM {}", self.table);
        let seq: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
        let id = RecordId::from_parts("750", self.pod, seq.max(1) as u64).to_string();
        Ok((seq, id))
    }

    /// The oldest job waiting for (or, after a restart, still in) processing.
    fn next_pending(&self, conn: &Connection) -> Option<String> {
        let sql = format!(
            "SELECT id FROM {} WHERE state IN ('UploadComplete', 'InProgress') ORDER BY seq LIMIT 1",
            self.table
        );
        conn.query_row(&sql, [], |r| r.get(0))
            .optional()
            .unwrap_or(None)
    }

    /// Marks an `UploadComplete` job `InProgress`, stamping its start.
    pub fn start(&self, conn: &Connection, id: &str, job_state: &str) -> SfResult<()> {
        if job_state == "UploadComplete" {
            let sql = format!(
                "UPDATE {} SET state = 'InProgress', started_ms = ?2 WHERE id = ?1",
                self.table
            );
            conn.execute(&sql, params![id, now_ms()])?;
        }
        Ok(())
    }

    /// Marks an `InProgress` job `JobComplete` (also setting `extra`, e.g. `, processed = total`);
    /// returns its info.
    pub fn complete(
        &self,
        conn: &Connection,
        id: &str,
        now: String,
        extra: &str,
    ) -> SfResult<Value> {
        let mut info = self.info(conn, id)?;
        info["systemModstamp"] = json!(now);
        let sql = format!(
            "UPDATE {} SET state = 'JobComplete', info = ?2, finished_ms = ?3{extra} WHERE id = ?1 AND state = 'InProgress'",
            self.table
        );
        conn.execute(&sql, params![id, info.to_string(), now_ms()])?;
        Ok(info)
    }

    /// Marks a job that stopped on `error` `Failed` (unless it was aborted meanwhile), also
    /// setting `extra`.
    pub fn fail(&self, conn: &Connection, id: &str, error: &SfError, extra: &str) {
        let Ok(mut info) = self.info(conn, id) else {
            return;
        };
        info["errorMessage"] = json!(error.message());
        let sql = format!(
            "UPDATE {} SET state = 'Failed', info = ?2, finished_ms = ?3{extra} WHERE id = ?1 AND state != 'Aborted'",
            self.table
        );
        let _ = conn.execute(&sql, params![id, info.to_string(), now_ms()]);
    }

    fn info(&self, conn: &Connection, id: &str) -> SfResult<Value> {
        let sql = format!("SELECT info FROM {} WHERE id = ?1", self.table);
        let text: Option<String> = conn.query_row(&sql, [id], |r| r.get(0)).optional()?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null))
    }
}

/// Runs `run` for one job; a panic fails this job (instead of killing the worker, which would
/// retry it forever).
pub(crate) fn catch_job_panic(id: &str, run: impl FnOnce() -> SfResult<()>) -> SfResult<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(SfError::internal(format!("Bulk job {id} panicked"))))
}

/// The background worker loop: processes pending jobs of `table` one at a time on a blocking
/// thread with `process`, woken by `wake` (and every second, to resume jobs left by a restart).
pub(crate) async fn run_worker(
    state: Arc<AppState>,
    table: &'static JobTable,
    prepare: fn(&Connection) -> SfResult<()>,
    wake: fn(&AppState) -> &Notify,
    process: fn(&AppState, &str),
) {
    loop {
        let next = {
            let conn = state.lock_db();
            prepare(&conn).ok().and_then(|_| table.next_pending(&conn))
        };
        match next {
            Some(id) => {
                let st = state.clone();
                let _ = tokio::task::spawn_blocking(move || process(&st, &id)).await;
            }
            None => {
                let _ = tokio::time::timeout(Duration::from_secs(1), wake(&state).notified()).await;
            }
        }
    }
}
