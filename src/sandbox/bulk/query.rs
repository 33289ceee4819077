//! Bulk API 2.0 query jobs: `POST jobs/query` (create), `GET jobs/query[/{id}]` (list, job info),
//! `PATCH jobs/query/{id}` (`Aborted`), `DELETE jobs/query/{id}` and
//! `GET jobs/query/{id}/results?maxRecords=N&locator=L` (CSV pages with `Sforce-NumberOfRecords`
//! and `Sforce-Locator`).
//!
//! Owns the query-job wire shapes, their lifecycle and the result snapshot; it must not touch the
//! ingest jobs of `bulk/ingest.rs` (it only borrows that file's CSV option and response helpers) and does
//! not compile SOQL itself: the flat plan comes from `query/flat.rs`, which applies the REST
//! path's sharing, field-level security and `queryAll` rules for the job's creator.
//!
//! Create validates the SOQL at once (REST query errors as they are, and the constructs Bulk
//! refuses: aggregates, subqueries, TYPEOF, OFFSET, FIELDS(), compound and blob fields). A
//! background [`worker`] then runs the job on a blocking thread: one `INSERT … SELECT` copies the
//! result, as SQLite `json_array()` rows, into `sayso_bulk_query_row` (a consistent snapshot taken
//! under one lock, never held in memory), then chunks of [`CHUNK`] rows are rendered to CSV lines in
//! place. The rows of one job have contiguous rowids, so a results page is a rowid range and a
//! locator is the base64 of a row offset (as Salesforce's `MTAwMDA`): opaque, stable while the job
//! exists (terminal jobs are dropped after seven days). Pages stop at `maxRecords` (default
//! [`DEFAULT_PAGE_ROWS`]) or [`MAX_PAGE_BYTES`]. API calls and `Sforce-Limit-Info` come from the
//! data-route middleware, as for every data route.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};
use serde_json::{Value, json};

use super::job::{
    JobCore, JobTable, StoredJob, bad, catch_job_panic, check_deletable, csv_options, csv_response,
    info_delimiter, info_eol, job_principal, job_routes, new_job_info, now_ms, parse_body,
    run_worker, visible, wanted_state,
};
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::query::{ctx, flat, parse_soql};
use crate::sandbox::schema::FieldType;
use crate::sandbox::session::DataCall;
use crate::sandbox::state::AppState;
use crate::sandbox::wire::json_response;
use crate::soql::ast::{Query, SelectItem};

/// Rows rendered to CSV per chunk (and per transaction).
pub const CHUNK: i64 = 5000;
/// Rows of a results page when `maxRecords` is absent.
pub const DEFAULT_PAGE_ROWS: i64 = 50_000;
/// A results page stops growing past this many bytes (it always holds at least one row).
pub const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;
/// Jobs per page of `GET jobs/query`.
const LIST_PAGE: i64 = 1000;
/// Terminal jobs are deleted seven days after they finish.
const RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Where query jobs are stored: ids `750Sq…`, apart from ingest jobs (`750Sy…`).
static QUERY_JOBS: JobTable = JobTable {
    table: "sayso_bulk_query_job",
    pod: "Sq",
};

/// Routes under `/services/data/{version}/jobs/query`.
pub fn routes() -> Router<Arc<AppState>> {
    job_routes(
        "query",
        get(list).post(create),
        get(info).patch(set_state).delete(delete_job),
        vec![("results", get(results))],
    )
}

fn ensure_tables(conn: &Connection) -> SfResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sayso_bulk_query_job (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,
             info TEXT NOT NULL, user_id TEXT NOT NULL, client_id TEXT, state TEXT NOT NULL,
             soql TEXT NOT NULL, header TEXT, first_rid INTEGER, total INTEGER NOT NULL DEFAULT 0,
             processed INTEGER NOT NULL DEFAULT 0, started_ms INTEGER, finished_ms INTEGER);
         CREATE TABLE IF NOT EXISTS sayso_bulk_query_row (rid INTEGER PRIMARY KEY,
             job_id TEXT NOT NULL, vals TEXT, csv TEXT);",
    )?;
    Ok(())
}

/// A query job row: the columns every job has, the SOQL and the result snapshot.
struct Job {
    core: JobCore,
    soql: String,
    header: Option<String>,
    /// Rowid of the first snapshot row, once the snapshot is taken.
    first_rid: Option<i64>,
    total: i64,
}

impl StoredJob for Job {
    fn load(conn: &Connection, id: &str) -> SfResult<Option<Job>> {
        ensure_tables(conn)?;
        QUERY_JOBS.load(conn, id, "soql, header, first_rid, total", |core, r| {
            let at = JobCore::NEXT;
            Ok(Job {
                core,
                soql: r.get(at)?,
                header: r.get(at + 1)?,
                first_rid: r.get(at + 2)?,
                total: r.get(at + 3)?,
            })
        })
    }

    fn core(&self) -> &JobCore {
        &self.core
    }
}

/// A job of the caller, or 404 (another user's job looks like a missing one, as for ingest).
/// The job the call's path names (`{id}`), if the caller may see it.
fn visible_job(conn: &Connection, call: &DataCall) -> SfResult<Job> {
    visible(conn, &call.principal, call.param("id"))
}

/// The job JSON: with `detail` (job info) the counters of `GET jobs/query/{id}`, else the
/// fields of a job in the list.
fn job_json(job: &Job, detail: bool) -> Value {
    let mut v = job.core.info_now();
    v["jobType"] = json!("V2Query");
    if detail {
        let processed = if job.core.state == "JobComplete" {
            job.total
        } else {
            job.core.processed
        };
        job.core.write_counters(&mut v, processed);
    } else if let Some(o) = v.as_object_mut() {
        o.remove("errorMessage");
    }
    v
}

fn not_supported(code: &str, message: &str) -> SfError {
    bad(code, message)
}

/// Refuses what Bulk API 2.0 query does not run (Salesforce checks these when the job is created).
fn check_bulk_rules(query: &Query) -> SfResult<()> {
    let selects = |f: fn(&SelectItem) -> bool| query.select.iter().any(f);
    if selects(|i| matches!(i, SelectItem::Subquery(_))) {
        return Err(not_supported(
            "FEATURENOTENABLED",
            "Aggregate Relationships not supported in Bulk V2 Query with CSV content type.",
        ));
    }
    let aggregate_fn =
        selects(|i| matches!(i, SelectItem::Function { call, .. } if call.function.is_aggregate()));
    if query.is_aggregate() || query.group_by.is_some() || aggregate_fn {
        return Err(not_supported(
            "FEATURENOTENABLED",
            "Aggregate Relationships not supported in Bulk Query",
        ));
    }
    if selects(|i| matches!(i, SelectItem::TypeOf(_))) {
        return Err(not_supported(
            "INVALIDJOB",
            "InvalidJob : TYPEOF is not supported by Bulk API 2.0 query",
        ));
    }
    if selects(|i| matches!(i, SelectItem::Fields(_))) {
        return Err(not_supported(
            "INVALIDJOB",
            "InvalidJob : FIELDS() is not supported by Bulk API 2.0 query",
        ));
    }
    if query.offset.is_some() {
        return Err(not_supported(
            "INVALIDJOB",
            "InvalidJob : OFFSET is not supported by Bulk API 2.0 query",
        ));
    }
    Ok(())
}

/// Refuses compound and blob columns of a compiled plan.
fn check_bulk_columns(plan: &flat::FlatPlan<'_>) -> SfResult<()> {
    for ty in &plan.types {
        match ty {
            FieldType::Address | FieldType::Location => {
                return Err(not_supported(
                    "FEATURENOTENABLED",
                    "Selecting compound data not supported in Bulk Query",
                ));
            }
            FieldType::Base64 => {
                return Err(not_supported(
                    "FEATURENOTENABLED",
                    "Blob field not supported in Bulk V2 Query with CSV content type",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn create(call: DataCall, body: Bytes) -> SfResult<Response> {
    let (state, p, v) = (&call.state, &call.principal, call.version());
    let req = parse_body(&body)?;
    let operation = req
        .get("operation")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("INVALIDJOB", "InvalidJob : Operation is required"))?
        .to_string();
    if operation != "query" && operation != "queryAll" {
        return Err(bad(
            "INVALIDJOB",
            format!("InvalidJob : Invalid operation: {operation}"),
        ));
    }
    let soql = req
        .get("query")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| bad("INVALIDJOB", "InvalidJob : Query is required"))?
        .to_string();
    let csv = csv_options(&req)?;
    let parsed = parse_soql(&soql)?;
    check_bulk_rules(&parsed)?;
    let object = {
        let plan = flat::plan(ctx(state, p), &parsed, operation == "queryAll")?;
        check_bulk_columns(&plan)?;
        plan.object.name.clone()
    };
    let now = state.clock.now_string();
    let id = {
        let conn = state.lock_db();
        ensure_tables(&conn)?;
        drop_expired(&conn)?;
        let (seq, id) = QUERY_JOBS.next_id(&conn)?;
        let mut info = new_job_info(&id, p, &now, v, csv);
        info["operation"] = json!(operation);
        info["object"] = json!(object);
        info["state"] = json!("UploadComplete");
        conn.execute(
            "INSERT INTO sayso_bulk_query_job (id, seq, info, user_id, client_id, state, soql)
             VALUES (?1, ?2, ?3, ?4, ?5, 'UploadComplete', ?6)",
            params![id, seq, info.to_string(), p.user_id, p.client_id, soql],
        )?;
        id
    };
    state.bulk_query_wake.notify_one();
    let conn = state.lock_db();
    let job = Job::load(&conn, &id)?.ok_or_else(|| SfError::internal("job vanished"))?;
    // The create response has neither jobType nor counters.
    let mut body = job.core.info.clone();
    body["state"] = json!("UploadComplete");
    Ok(json_response(StatusCode::OK, &body))
}

async fn info(call: DataCall) -> SfResult<Response> {
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    Ok(json_response(StatusCode::OK, &job_json(&job, true)))
}

async fn list(call: DataCall) -> SfResult<Response> {
    let (v, p) = (call.version(), &call.principal);
    let start: i64 = match call.query_param("queryLocator") {
        Some(l) => decode_locator(l)?,
        None => 0,
    };
    let conn = call.state.lock_db();
    ensure_tables(&conn)?;
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM sayso_bulk_query_job WHERE user_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
        )?
        .query_map(params![p.user_id, LIST_PAGE + 1, start], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let more = ids.len() as i64 > LIST_PAGE;
    let mut records = Vec::new();
    for id in ids.iter().take(LIST_PAGE as usize) {
        if let Some(job) = Job::load(&conn, id)? {
            records.push(job_json(&job, false));
        }
    }
    let next = more.then(|| {
        format!(
            "/services/data/v{v}/jobs/query?queryLocator={}",
            encode_locator(start + LIST_PAGE)
        )
    });
    Ok(json_response(
        StatusCode::OK,
        &json!({"done": !more, "records": records, "nextRecordsUrl": next}),
    ))
}

async fn set_state(call: DataCall, body: Bytes) -> SfResult<Response> {
    let wanted = wanted_state(&body)?;
    let conn = call.state.lock_db();
    let mut job = visible_job(&conn, &call)?;
    let core = &mut job.core;
    match (wanted.as_str(), core.state.as_str()) {
        ("Aborted", "UploadComplete" | "InProgress") => {
            core.state = "Aborted".into();
            core.info["systemModstamp"] = json!(call.state.clock.now_string());
            if core.started_ms.is_some() {
                core.finished_ms = Some(now_ms());
            }
            conn.execute(
                "UPDATE sayso_bulk_query_job SET state = 'Aborted', info = ?2, finished_ms = ?3 WHERE id = ?1",
                params![call.param("id"), core.info.to_string(), core.finished_ms],
            )?;
        }
        ("Aborted", current) => {
            return Err(SfError::new(
                StatusCode::CONFLICT,
                "INVALIDJOBSTATE",
                format!("Job state {current} cannot change to Aborted"),
            ));
        }
        _ => {
            return Err(bad(
                "INVALIDJOBSTATE",
                format!("Invalid state for a query job: {wanted}"),
            ));
        }
    }
    Ok(json_response(StatusCode::OK, &job_json(&job, true)))
}

fn delete_rows(conn: &Connection, job: &Job) -> SfResult<()> {
    if let Some(first) = job.first_rid {
        conn.execute(
            "DELETE FROM sayso_bulk_query_row WHERE rid >= ?1 AND rid < ?2",
            params![first, first + job.total],
        )?;
    }
    Ok(())
}

async fn delete_job(call: DataCall) -> SfResult<Response> {
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    check_deletable(&job.core.state)?;
    delete_rows(&conn, &job)?;
    conn.execute(
        "DELETE FROM sayso_bulk_query_job WHERE id = ?1",
        [call.param("id")],
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes terminal jobs (and their results) finished more than [`RETENTION_MS`] ago, as
/// Salesforce does after seven days.
fn drop_expired(conn: &Connection) -> SfResult<()> {
    let old: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM sayso_bulk_query_job
             WHERE state IN ('JobComplete', 'Failed', 'Aborted') AND finished_ms < ?1",
        )?
        .query_map([now_ms() - RETENTION_MS], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in old {
        if let Some(job) = Job::load(conn, &id)? {
            delete_rows(conn, &job)?;
        }
        conn.execute("DELETE FROM sayso_bulk_query_job WHERE id = ?1", [&id])?;
    }
    Ok(())
}

fn encode_locator(offset: i64) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

fn invalid_locator() -> SfError {
    bad("INVALID_QUERY_LOCATOR", "invalid query locator")
}

fn decode_locator(text: &str) -> SfResult<i64> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| invalid_locator())?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(invalid_locator)
}

/// `JOB_COMPLETE`, `IN_PROGRESS`, … as the results error names states.
fn upper_state(state: &str) -> String {
    let mut out = String::new();
    for (i, c) in state.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

async fn results(call: DataCall) -> SfResult<Response> {
    let max = match call.query_param("maxRecords") {
        Some(m) => m
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad(
                    "INVALIDJOB",
                    format!("InvalidJob : maxRecords must be a positive integer, not `{m}`"),
                )
            })?,
        None => DEFAULT_PAGE_ROWS,
    };
    let offset = match call
        .query_param("locator")
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && *l != "null")
    {
        Some(l) => decode_locator(l)?,
        None => 0,
    };
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    if job.core.state != "JobComplete" {
        return Err(SfError::new(
            StatusCode::PRECONDITION_FAILED,
            "JOB_NOT_COMPLETE",
            format!(
                "can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: {}",
                upper_state(&job.core.state)
            ),
        ));
    }
    if offset > job.total || (offset == job.total && offset > 0) {
        return Err(invalid_locator());
    }
    let first = job.first_rid.unwrap_or(0);
    let end = offset.saturating_add(max).min(job.total);
    let mut body = job.header.clone().unwrap_or_default();
    let mut count: i64 = 0;
    {
        let mut stmt = conn.prepare_cached(
            "SELECT csv FROM sayso_bulk_query_row WHERE rid >= ?1 AND rid < ?2 ORDER BY rid",
        )?;
        let mut rows = stmt.query(params![first + offset, first + end])?;
        while let Some(row) = rows.next()? {
            let line: String = row.get::<_, Option<String>>(0)?.unwrap_or_default();
            if count > 0 && body.len() + line.len() > MAX_PAGE_BYTES {
                break;
            }
            body.push_str(&line);
            count += 1;
        }
    }
    drop(conn);
    let next = offset + count;
    let locator = if next < job.total {
        encode_locator(next)
    } else {
        "null".to_string()
    };
    let mut resp = csv_response(body);
    let h = resp.headers_mut();
    h.insert("sforce-numberofrecords", HeaderValue::from(count));
    if let Ok(v) = HeaderValue::from_str(&locator) {
        h.insert("sforce-locator", v);
    }
    Ok(resp)
}

/// One CSV line with every cell quoted (as Bulk query results are).
fn quoted_line(cells: &[String], delimiter: char, eol: &str) -> String {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(delimiter);
        }
        line.push('"');
        line.push_str(&cell.replace('"', "\"\""));
        line.push('"');
    }
    line.push_str(eol);
    line
}

/// The background worker: runs `UploadComplete` (and, after a restart, `InProgress`) query jobs
/// one at a time, woken by [`AppState::bulk_query_wake`] and every second.
pub async fn worker(state: Arc<AppState>) {
    run_worker(
        state,
        &QUERY_JOBS,
        ensure_tables,
        |s| &s.bulk_query_wake,
        process_job,
    )
    .await;
}

/// Runs one query job to completion (or until aborted); an error marks it Failed.
pub fn process_job(state: &AppState, id: &str) {
    if let Err(e) = catch_job_panic(id, || run_job(state, id)) {
        let conn = state.lock_db();
        if let Ok(Some(job)) = Job::load(&conn, id) {
            let _ = delete_rows(&conn, &job);
            QUERY_JOBS.fail(&conn, id, &e, ", first_rid = NULL, total = 0");
        }
    }
}

/// Whether the job was aborted meanwhile (its snapshot rows are then dropped).
fn aborted(conn: &Connection, id: &str) -> SfResult<bool> {
    let Some(job) = Job::load(conn, id)? else {
        return Ok(true);
    };
    if job.core.state == "Aborted" {
        delete_rows(conn, &job)?;
        return Ok(true);
    }
    Ok(false)
}

/// Copies the whole result into `sayso_bulk_query_row` in one statement (one consistent read) and
/// records where it starts; returns (first rowid, row count).
fn take_snapshot(
    conn: &mut Connection,
    id: &str,
    plan: &flat::FlatPlan<'_>,
    header: &str,
) -> SfResult<(i64, i64)> {
    let tx = conn.transaction()?;
    let sql = format!(
        "INSERT INTO sayso_bulk_query_row (job_id, vals) SELECT ?, json_array({}) {}",
        plan.exprs.join(", "),
        plan.tail
    );
    let mut params = vec![SqlValue::Text(id.to_string())];
    params.extend(plan.params.iter().cloned());
    let n = tx.execute(&sql, params_from_iter(params.iter()))? as i64;
    let first = tx.last_insert_rowid() - n + 1;
    tx.execute(
        "UPDATE sayso_bulk_query_job SET first_rid = ?2, total = ?3, header = ?4 WHERE id = ?1",
        params![id, first, n, header],
    )?;
    tx.commit()?;
    Ok((first, n))
}

/// Takes the job's snapshot unless an earlier run did; returns (first rowid, row count), or
/// `None` when the job was aborted meanwhile.
fn ensure_snapshot(
    state: &AppState,
    job: &Job,
    id: &str,
    plan: &flat::FlatPlan<'_>,
    header: &str,
) -> SfResult<Option<(i64, i64)>> {
    if let Some(first) = job.first_rid {
        return Ok(Some((first, job.total)));
    }
    let mut conn = state.lock_db();
    if aborted(&conn, id)? {
        return Ok(None);
    }
    // The store keeps temporary data in memory; an ORDER BY that SQLite must sort (a filter
    // on an indexed field) would then hold the whole result in RAM. File-backed temp
    // storage lets the sorter spill, so memory stays bounded at any row count.
    conn.execute_batch("PRAGMA temp_store = FILE")?;
    let snapshot = take_snapshot(&mut conn, id, plan, header);
    conn.execute_batch("PRAGMA temp_store = MEMORY")?;
    snapshot.map(Some)
}

/// Renders the snapshot rows `rids` (a rowid range) to CSV lines in one transaction and moves the
/// job's counter to `end`. `Ok(false)` when the job was aborted meanwhile.
fn render_chunk(
    state: &AppState,
    id: &str,
    plan: &flat::FlatPlan<'_>,
    (delimiter, eol): (char, &str),
    rids: std::ops::Range<i64>,
    end: i64,
) -> SfResult<bool> {
    let mut conn = state.lock_db();
    if aborted(&conn, id)? {
        return Ok(false);
    }
    let tx = conn.transaction()?;
    {
        let mut select = tx.prepare_cached(
            "SELECT rid, vals FROM sayso_bulk_query_row WHERE rid >= ?1 AND rid < ?2 AND vals IS NOT NULL",
        )?;
        let rows: Vec<(i64, String)> = select
            .query_map(params![rids.start, rids.end], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut update = tx.prepare_cached(
            "UPDATE sayso_bulk_query_row SET csv = ?2, vals = NULL WHERE rid = ?1",
        )?;
        for (rid, vals) in rows {
            let raw: Vec<Value> = serde_json::from_str(&vals).unwrap_or_default();
            update.execute(params![rid, quoted_line(&plan.cells(&raw), delimiter, eol)])?;
        }
    }
    tx.execute(
        "UPDATE sayso_bulk_query_job SET processed = ?2 WHERE id = ?1",
        params![id, end],
    )?;
    tx.commit()?;
    Ok(true)
}

fn run_job(state: &AppState, id: &str) -> SfResult<()> {
    let job: Job = QUERY_JOBS.begin(state, id)?;
    let principal = job_principal(state, &job.core.user_id, job.core.client_id.as_deref())?;
    let query = parse_soql(&job.soql)?;
    let plan = flat::plan(
        ctx(state, &principal),
        &query,
        job.core.text("operation") == "queryAll",
    )?;
    let format = (
        info_delimiter(&job.core.info) as char,
        info_eol(&job.core.info),
    );
    let header = quoted_line(&plan.headers, format.0, format.1);
    let Some((first, total)) = ensure_snapshot(state, &job, id, &plan, &header)? else {
        return Ok(());
    };
    let mut position = job.core.processed.max(0);
    while position < total {
        let end = (position + CHUNK).min(total);
        if !render_chunk(state, id, &plan, format, first + position..first + end, end)? {
            return Ok(());
        }
        position = end;
    }
    let conn = state.lock_db();
    QUERY_JOBS.complete(&conn, id, state.clock.now_string(), ", processed = total")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_round_trip_and_look_like_salesforce() {
        assert_eq!(encode_locator(10000), "MTAwMDA");
        assert_eq!(decode_locator("MTAwMDA").ok(), Some(10000));
        assert_eq!(decode_locator("MTAwMDA=").ok(), Some(10000));
        assert!(decode_locator("not a locator!").is_err());
        assert_eq!(upper_state("InProgress"), "IN_PROGRESS");
        assert_eq!(upper_state("UploadComplete"), "UPLOAD_COMPLETE");
    }

    #[test]
    fn lines_quote_every_cell() {
        let cells = vec!["a\"b".to_string(), String::new(), "x,y".to_string()];
        assert_eq!(
            quoted_line(&cells, ',', "\r\n"),
            "\"a\"\"b\",\"\",\"x,y\"\r\n"
        );
    }
}
