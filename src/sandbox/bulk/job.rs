//! What ingest and query jobs share: the job table both kinds are stored in the same way
//! ([`JobTable`]: ids, the background worker loop, start, completion and failure), the CSV options
//! of a job request, the processing-time counters and a few error and response helpers.
//!
//! Also what their handlers share: the routes every kind has ([`job_routes`]), the columns every
//! job row has ([`JobCore`]) and the info JSON of a new job. Owns no job kind of its own;
//! [`super::ingest`] and [`super::query`] build on it. Imports the state and the error type only.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
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

/// The `state` a state-change request (`PATCH jobs/{kind}/{id}`) asks for (`""` when none).
pub(crate) fn wanted_state(body: &[u8]) -> SfResult<String> {
    let req = parse_body(body)?;
    let wanted = req.get("state").and_then(Value::as_str).unwrap_or("");
    Ok(wanted.to_string())
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

/// A kind of job as its table stores it: the columns every job has, and how a row is read.
pub(crate) trait StoredJob: Sized {
    /// The job `id`, if its table holds it.
    fn load(conn: &Connection, id: &str) -> SfResult<Option<Self>>;
    /// The columns every job has.
    fn core(&self) -> &JobCore;
}

/// A job of the caller, or 404: another user's job looks like a missing one.
pub(crate) fn visible<J: StoredJob>(conn: &Connection, p: &Principal, id: &str) -> SfResult<J> {
    J::load(conn, id)?
        .filter(|j| j.core().user_id == p.user_id)
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

/// The routes of one kind of job (`ingest`, `query`): `collection` on `jobs/{kind}` (list,
/// create), `job` on `jobs/{kind}/{id}` (info, state change, delete) and each of `below` on
/// `jobs/{kind}/{id}/{path}` (uploads, results).
pub(crate) fn job_routes(
    kind: &str,
    collection: MethodRouter<Arc<AppState>>,
    job: MethodRouter<Arc<AppState>>,
    below: Vec<(&str, MethodRouter<Arc<AppState>>)>,
) -> Router<Arc<AppState>> {
    let base = format!("/services/data/{{version}}/jobs/{kind}");
    let mut router = Router::new()
        .route(&base, collection)
        .route(&format!("{base}/{{id}}"), job);
    for (path, methods) in below {
        router = router.route(&format!("{base}/{{id}}/{path}"), methods);
    }
    router
}

/// What every job row holds, ingest or query: its info JSON, owner and app, state, progress and
/// processing times.
pub(crate) struct JobCore {
    pub(super) info: Value,
    pub(super) user_id: String,
    pub(super) client_id: Option<String>,
    pub(super) state: String,
    pub(super) processed: i64,
    pub(super) started_ms: Option<i64>,
    pub(super) finished_ms: Option<i64>,
}

impl JobCore {
    /// The columns [`JobCore::read`] expects first, in this order.
    const COLUMNS: &str = "info, user_id, client_id, state, processed, started_ms, finished_ms";
    /// How many they are: a kind's own columns follow from this index.
    pub const NEXT: usize = 7;

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobCore> {
        Ok(JobCore {
            info: serde_json::from_str(&r.get::<_, String>(0)?).unwrap_or(Value::Null),
            user_id: r.get(1)?,
            client_id: r.get(2)?,
            state: r.get(3)?,
            processed: r.get(4)?,
            started_ms: r.get(5)?,
            finished_ms: r.get(6)?,
        })
    }

    /// A text field of the info JSON (`""` when absent).
    pub fn text(&self, key: &str) -> &str {
        self.info.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// The info JSON with the current state.
    pub fn info_now(&self) -> Value {
        let mut v = self.info.clone();
        v["state"] = json!(self.state);
        v
    }

    /// Writes the counters every job's info shows into `v` (`processed` records, no retries, the
    /// processing time) and returns the processing time in milliseconds.
    pub fn write_counters(&self, v: &mut Value, processed: i64) -> i64 {
        let total = processing_ms(self.started_ms, self.finished_ms);
        v["numberRecordsProcessed"] = json!(processed);
        v["retries"] = json!(0);
        v["totalProcessingTime"] = json!(total);
        total
    }
}

/// The info JSON of a new job `id` made by `creator` at `now` through API `version`, with the CSV
/// options (delimiter, line ending) of its request; the caller adds what its kind shows.
pub(crate) fn new_job_info(
    id: &str,
    creator: &Principal,
    now: &str,
    version: &str,
    (delimiter, line_ending): (String, String),
) -> Value {
    json!({
        "id": id, "createdById": creator.user_id, "createdDate": now, "systemModstamp": now,
        "concurrencyMode": "Parallel", "contentType": "CSV",
        "apiVersion": version.parse::<f64>().unwrap_or(63.0), "lineEnding": line_ending,
        "columnDelimiter": delimiter
    })
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
    /// Loads the job `id` for its worker and marks it started.
    pub fn begin<J: StoredJob>(&self, state: &AppState, id: &str) -> SfResult<J> {
        let conn = state.lock_db();
        let job = J::load(&conn, id)?.ok_or_else(SfError::not_found)?;
        self.start(&conn, id, &job.core().state)?;
        Ok(job)
    }

    /// The job `id`: its [`JobCore`] and, through `build`, the kind's own columns `extra`
    /// (read from index [`JobCore::NEXT`]).
    pub fn load<J>(
        &self,
        conn: &Connection,
        id: &str,
        extra: &str,
        build: impl FnOnce(JobCore, &rusqlite::Row<'_>) -> rusqlite::Result<J>,
    ) -> SfResult<Option<J>> {
        let sql = format!(
            "SELECT {}, {extra} FROM {} WHERE id = ?1",
            JobCore::COLUMNS,
            self.table
        );
        let job = conn
            .prepare_cached(&sql)?
            .query_row([id], |r| build(JobCore::read(r)?, r))
            .optional()?;
        Ok(job)
    }

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
