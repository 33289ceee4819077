//! Bulk API 2.0 ingest: `POST jobs/ingest` (create), `PUT jobs/ingest/{id}/batches` (CSV upload),
//! `PATCH jobs/ingest/{id}` (`UploadComplete` / `Aborted`), `GET jobs/ingest[/{id}]` (job info, list),
//! `DELETE jobs/ingest/{id}`, and the result CSVs `successfulResults/`, `failedResults/`,
//! `unprocessedrecords/`.
//!
//! Jobs live in `sayso_bulk_job` (uploaded CSV in `data`); a background worker ([`worker`]) picks up
//! `UploadComplete` jobs and processes them on a blocking thread in chunks of [`CHUNK`] rows, one
//! transaction per chunk, writing each chunk's result CSV fragments to `sayso_bulk_result`. An
//! abort between chunks leaves the rest as unprocessed records. Operations: insert, update, upsert
//! (`externalIdFieldName`), delete (and hardDelete, treated as delete).
//!
//! Owns the Bulk wire shapes and job lifecycle; per-row semantics are `dml.rs`.

use super::job::{
    JobCore, JobTable, StoredJob, bad, catch_job_panic, check_deletable, csv_options, csv_response,
    info_delimiter, info_eol, job_principal, job_routes, new_job_info, parse_body, run_worker,
    terminator, visible, wanted_state,
};
use crate::sandbox::derive::Row;
use crate::sandbox::dml::{self, Access, Ctx, Op, Upsert};
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::schema::{Field, ObjectSchema};
use crate::sandbox::session::{Auth, DataCall};
use crate::sandbox::state::AppState;
use crate::sandbox::store;
use crate::sandbox::wire::json_response;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest CSV upload (Salesforce allows 150 MB after base64 expansion, ~100 MB raw).
pub const MAX_UPLOAD: usize = 150 * 1024 * 1024;

/// Rows per chunk (and per transaction).
pub const CHUNK: usize = 5000;

/// Where ingest jobs are stored (ids `750Sy…`, apart from query jobs).
static INGEST_JOBS: JobTable = JobTable {
    table: "sayso_bulk_job",
    pod: dml::NEW_ID_POD,
};

/// Routes under `/services/data/{version}/jobs/ingest`.
pub fn routes() -> Router<Arc<AppState>> {
    let upload_route =
        axum::routing::put(upload).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD));
    job_routes(
        "ingest",
        get(list).post(create),
        get(info).patch(set_state).delete(delete_job),
        vec![("batches", upload_route), ("{result}", get(results))],
    )
}

/// A job row: the columns every job has, the uploaded CSV and the failed-row count.
struct Job {
    core: JobCore,
    data: Option<String>,
    failed: i64,
}

impl StoredJob for Job {
    fn load(conn: &Connection, id: &str) -> SfResult<Option<Job>> {
        INGEST_JOBS.load(conn, id, "data, failed", |core, r| {
            Ok(Job {
                core,
                data: r.get(JobCore::NEXT)?,
                failed: r.get(JobCore::NEXT + 1)?,
            })
        })
    }

    fn core(&self) -> &JobCore {
        &self.core
    }
}

/// The job JSON as the API shows it (counters except while Open; `contentUrl` only while Open).
fn job_json(job: &Job) -> Value {
    let mut v = job.core.info_now();
    if job.core.state == "Open" {
        if let Some(o) = v.as_object_mut() {
            o.remove("numberRecordsProcessed");
        }
    } else {
        if let Some(o) = v.as_object_mut() {
            o.remove("contentUrl");
        }
        let total = job.core.write_counters(&mut v, job.core.processed);
        v["numberRecordsFailed"] = json!(job.failed);
        v["apiActiveProcessingTime"] = json!(total);
        v["apexProcessingTime"] = json!(0);
    }
    v
}

/// The job the call's path names (`{id}`), if the caller may see it.
fn visible_job(conn: &Connection, call: &DataCall) -> SfResult<Job> {
    visible(conn, &call.principal, call.param("id"))
}

async fn create(call: DataCall, body: Bytes) -> SfResult<Response> {
    let (state, p, v) = (&call.state, &call.principal, call.version());
    let req = parse_body(&body)?;
    let s = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    let object = s("object").ok_or_else(|| bad("INVALIDJOB", "InvalidJob : Object is required"))?;
    let obj = crate::sandbox::rest::records::object_for(state, p, &object).map_err(|_| {
        bad(
            "INVALIDJOB",
            format!("InvalidJob : Invalid object: {object}"),
        )
    })?;
    let operation =
        s("operation").ok_or_else(|| bad("INVALIDJOB", "InvalidJob : Operation is required"))?;
    if !["insert", "update", "upsert", "delete", "hardDelete"].contains(&operation.as_str()) {
        return Err(bad(
            "INVALIDJOB",
            format!("InvalidJob : Invalid operation: {operation}"),
        ));
    }
    let ext = s("externalIdFieldName");
    if operation == "upsert" {
        let f = ext.clone().ok_or_else(|| {
            bad(
                "INVALIDJOB",
                "InvalidJob : External ID field name is required for upsert",
            )
        })?;
        let ctx = Ctx::new(state, p, v);
        dml::external_id_field(obj, &ctx.access(obj), &f).map_err(|_| {
            bad(
                "INVALIDJOB",
                format!("InvalidJob : Invalid external ID field name: {f}"),
            )
        })?;
    }
    let csv = csv_options(&req)?;
    let now = state.clock.now_string();
    let conn = state.lock_db();
    let (seq, id) = INGEST_JOBS.next_id(&conn)?;
    let mut info = new_job_info(&id, p, &now, v, csv);
    info["operation"] = json!(operation);
    info["object"] = json!(obj.name);
    info["state"] = json!("Open");
    info["jobType"] = json!("V2Ingest");
    info["contentUrl"] = json!(format!("services/data/v{v}/jobs/ingest/{id}/batches"));
    if let Some(e) = ext {
        info["externalIdFieldName"] = json!(e);
    }
    conn.execute(
        "INSERT INTO sayso_bulk_job (id, seq, info, user_id, client_id, state) VALUES (?1, ?2, ?3, ?4, ?5, 'Open')",
        params![id, seq, info.to_string(), p.user_id, p.client_id],
    )?;
    let job = Job::load(&conn, &id)?.ok_or_else(|| SfError::internal("job vanished"))?;
    Ok(json_response(StatusCode::OK, &job_json(&job)))
}

async fn upload(call: DataCall, body: Bytes) -> SfResult<Response> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| bad("INVALIDBATCH", "InvalidBatch : the CSV is not UTF-8"))?;
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    if job.core.state != "Open" {
        return Err(SfError::new(
            StatusCode::CONFLICT,
            "INVALIDJOBSTATE",
            format!("Job state {} does not allow uploads", job.core.state),
        ));
    }
    if job.data.is_some() {
        return Err(SfError::new(
            StatusCode::CONFLICT,
            "INVALIDJOBSTATE",
            "Data has already been uploaded for this job",
        ));
    }
    conn.execute(
        "UPDATE sayso_bulk_job SET data = ?2 WHERE id = ?1",
        params![call.param("id"), text],
    )?;
    Ok(StatusCode::CREATED.into_response())
}

fn set_job_state(
    conn: &Connection,
    id: &str,
    job: &mut Job,
    new_state: &str,
    now: &str,
) -> SfResult<()> {
    job.core.state = new_state.to_string();
    job.core.info["systemModstamp"] = json!(now);
    conn.execute(
        "UPDATE sayso_bulk_job SET state = ?2, info = ?3 WHERE id = ?1",
        params![id, new_state, job.core.info.to_string()],
    )?;
    Ok(())
}

async fn set_state(call: DataCall, body: Bytes) -> SfResult<Response> {
    let (state, id) = (&call.state, call.param("id"));
    let wanted = wanted_state(&body)?;
    let now = state.clock.now_string();
    let job = {
        let conn = state.lock_db();
        let mut job = visible_job(&conn, &call)?;
        match (wanted.as_str(), job.core.state.as_str()) {
            ("UploadComplete", "Open") => {
                set_job_state(&conn, id, &mut job, "UploadComplete", &now)?
            }
            ("Aborted", "Open" | "UploadComplete" | "InProgress") => {
                set_job_state(&conn, id, &mut job, "Aborted", &now)?
            }
            ("UploadComplete" | "Aborted", current) => {
                return Err(SfError::new(
                    StatusCode::CONFLICT,
                    "INVALIDJOBSTATE",
                    format!("Job state {current} cannot change to {wanted}"),
                ));
            }
            _ => return Err(bad("INVALIDJOBSTATE", format!("Invalid state: {wanted}"))),
        }
        job
    };
    if wanted == "UploadComplete" {
        state.bulk_wake.notify_one();
    }
    Ok(json_response(StatusCode::OK, &job_json(&job)))
}

async fn info(call: DataCall) -> SfResult<Response> {
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    Ok(json_response(StatusCode::OK, &job_json(&job)))
}

async fn list(State(state): State<Arc<AppState>>, Auth(p): Auth) -> SfResult<Response> {
    let conn = state.lock_db();
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM sayso_bulk_job WHERE user_id = ?1 ORDER BY seq")?
        .query_map([&p.user_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut records = Vec::new();
    for id in ids {
        if let Some(job) = Job::load(&conn, &id)? {
            records.push(job_json(&job));
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"done": true, "records": records, "nextRecordsUrl": null}),
    ))
}

async fn delete_job(call: DataCall) -> SfResult<Response> {
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    check_deletable(&job.core.state)?;
    conn.execute(
        "DELETE FROM sayso_bulk_result WHERE job_id = ?1",
        [call.param("id")],
    )?;
    conn.execute(
        "DELETE FROM sayso_bulk_job WHERE id = ?1",
        [call.param("id")],
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn quote_header_cell(cell: &str, delim: u8) -> String {
    if cell
        .bytes()
        .any(|b| b == delim || b == b'"' || b == b'\n' || b == b'\r')
    {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Parses the uploaded CSV of a job into its header and records.
fn parse_csv(data: &str, delim: u8) -> Result<(Vec<String>, Vec<csv::StringRecord>), String> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .has_headers(true)
        .from_reader(data.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut records = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(|e| e.to_string())?;
        if r.len() == 1 && r.get(0).is_some_and(str::is_empty) {
            continue;
        }
        records.push(r);
    }
    Ok((header, records))
}

async fn results(call: DataCall) -> SfResult<Response> {
    let kind = match call.param("result") {
        "successfulResults" => "success",
        "failedResults" => "failed",
        r if r.eq_ignore_ascii_case("unprocessedrecords") => "unprocessed",
        _ => return Err(SfError::not_found()),
    };
    let id = call.param("id");
    let conn = call.state.lock_db();
    let job = visible_job(&conn, &call)?;
    let delim = info_delimiter(&job.core.info);
    let eol = info_eol(&job.core.info);
    let data = job.data.clone().unwrap_or_default();
    let header_line: String = match data.find(['\n', '\r']) {
        Some(i) => data[..i].to_string(),
        None => data.clone(),
    };
    let header_cells: Vec<String> = parse_csv(&header_line, delim)
        .map(|(h, _)| h)
        .unwrap_or_default();
    let orig_header = header_cells
        .iter()
        .map(|c| quote_header_cell(c, delim))
        .collect::<Vec<_>>()
        .join(&(delim as char).to_string());
    let d = delim as char;
    if kind == "unprocessed" {
        let mut out = format!("{orig_header}{eol}");
        if job.core.state != "JobComplete" {
            let done = conn.query_row(
                "SELECT COUNT(*) FROM sayso_bulk_job WHERE id = ?1 AND state = 'JobComplete'",
                [id],
                |r| r.get::<_, i64>(0),
            )?;
            if done == 0 {
                let (_, records) = parse_csv(&data, delim).unwrap_or_default();
                let mut w = csv::WriterBuilder::new()
                    .delimiter(delim)
                    .terminator(terminator(eol))
                    .has_headers(false)
                    .from_writer(Vec::new());
                for r in records.iter().skip(job.core.processed.max(0) as usize) {
                    w.write_record(r).map_err(SfError::internal)?;
                }
                out.push_str(&String::from_utf8_lossy(
                    &w.into_inner().map_err(SfError::internal)?,
                ));
            }
        }
        return Ok(csv_response(out));
    }
    if !["JobComplete", "Failed", "Aborted"].contains(&job.core.state.as_str()) {
        return Err(bad(
            "INVALIDJOBSTATE",
            format!(
                "Results are not available while the job is {}",
                job.core.state
            ),
        ));
    }
    let first = if kind == "success" {
        "sf__Created"
    } else {
        "sf__Error"
    };
    let sep = if orig_header.is_empty() {
        String::new()
    } else {
        d.to_string()
    };
    let mut out = format!("\"sf__Id\"{d}\"{first}\"{sep}{orig_header}{eol}");
    let mut stmt = conn.prepare(
        "SELECT csv FROM sayso_bulk_result WHERE job_id = ?1 AND kind = ?2 ORDER BY chunk",
    )?;
    let parts = stmt.query_map(params![id, kind], |r| r.get::<_, String>(0))?;
    for part in parts {
        out.push_str(&part?);
    }
    Ok(csv_response(out))
}

/// The background worker: processes `UploadComplete` jobs one at a time, woken by
/// [`AppState::bulk_wake`] (and every second, to resume jobs left by a restart).
pub async fn worker(state: Arc<AppState>) {
    run_worker(
        state,
        &INGEST_JOBS,
        |_| Ok(()),
        |s| &s.bulk_wake,
        process_job,
    )
    .await;
}

/// Processes one job to completion (or until aborted). Errors that stop the whole job mark it Failed.
pub fn process_job(state: &AppState, id: &str) {
    if let Err(e) = catch_job_panic(id, || run_job(state, id)) {
        INGEST_JOBS.fail(&state.lock_db(), id, &e, "");
    }
}

/// How one CSV column maps onto the object.
enum Column<'o> {
    Field(&'o Field),
    Id,
}

/// What a job does to each row, worked out once from its info and CSV header.
struct RowPlan<'o> {
    obj: &'o ObjectSchema,
    access: Access,
    op: Op,
    deleting: bool,
    columns: Vec<Column<'o>>,
    /// The external id field and its column, for upserts.
    ext: Option<(&'o Field, usize)>,
}

/// The job's CSV columns mapped onto `obj` for `operation` (relationship columns and unknown
/// fields are refused; update and delete need an Id column, upsert the external id column).
fn row_plan<'o>(
    obj: &'o ObjectSchema,
    access: Access,
    operation: &str,
    ext_field: Option<&str>,
    header: &[String],
) -> SfResult<RowPlan<'o>> {
    let deleting = operation == "delete" || operation == "hardDelete";
    let mut columns = Vec::with_capacity(header.len());
    for h in header {
        if h.eq_ignore_ascii_case("Id") && operation != "insert" {
            columns.push(Column::Id);
            continue;
        }
        if h.contains('.') {
            return Err(bad(
                "INVALIDBATCH",
                format!("InvalidBatch : Relationship fields are not supported by the sandbox: {h}"),
            ));
        }
        let f = obj.field(h).ok_or_else(|| {
            bad(
                "INVALIDBATCH",
                format!("InvalidBatch : Field name not found : {h}"),
            )
        })?;
        columns.push(Column::Field(f));
    }
    if (deleting || operation == "update") && !columns.iter().any(|c| matches!(c, Column::Id)) {
        return Err(bad(
            "INVALIDBATCH",
            "InvalidBatch : Id column is required for this operation",
        ));
    }
    let ext_index = ext_field.and_then(|e| header.iter().position(|h| h.eq_ignore_ascii_case(e)));
    if operation == "upsert" && ext_index.is_none() {
        return Err(bad(
            "INVALIDBATCH",
            "InvalidBatch : the external ID field column is missing",
        ));
    }
    let op = match operation {
        "insert" => Op::Insert,
        _ => Op::Update,
    };
    let ext = ext_field.and_then(|e| obj.field(e));
    Ok(RowPlan {
        obj,
        access,
        op,
        deleting,
        columns,
        ext: ext.zip(ext_index),
    })
}

/// A CSV writer for result fragments (every cell quoted, the job's delimiter and line ending).
fn result_writer(delim: u8, eol: &str) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(delim)
        .terminator(terminator(eol))
        .quote_style(csv::QuoteStyle::Always)
        .has_headers(false)
        .from_writer(Vec::new())
}

fn writer_text(w: csv::Writer<Vec<u8>>) -> SfResult<String> {
    Ok(String::from_utf8_lossy(&w.into_inner().map_err(SfError::internal)?).into_owned())
}

/// One chunk of rows in one transaction: their success and failure CSV fragments go to
/// `sayso_bulk_result` and the job's counters move on. `Ok(false)` when the job was aborted.
fn run_chunk(
    state: &AppState,
    ctx: &Ctx<'_>,
    plan: &RowPlan<'_>,
    job: &Job,
    id: &str,
    rows: &[csv::StringRecord],
    chunk_no: i64,
) -> SfResult<bool> {
    let (delim, eol) = (info_delimiter(&job.core.info), info_eol(&job.core.info));
    let mut conn = state.lock_db();
    let current: String = conn.query_row(
        "SELECT state FROM sayso_bulk_job WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if current == "Aborted" {
        return Ok(false);
    }
    let tx = conn.transaction()?;
    let (mut ok, mut bad_rows) = (result_writer(delim, eol), result_writer(delim, eol));
    let mut failed = 0i64;
    for rec in rows {
        let (cells, w) = match process_row(ctx, &tx, plan, rec) {
            Ok((rid, created)) => (vec![rid, created.to_string()], &mut ok),
            Err((rid, e)) => {
                failed += 1;
                (
                    vec![rid.unwrap_or_default(), e.to_bulk_error()],
                    &mut bad_rows,
                )
            }
        };
        let cells = cells.into_iter().chain(rec.iter().map(str::to_string));
        w.write_record(cells).map_err(SfError::internal)?;
    }
    for (kind, text) in [
        ("success", writer_text(ok)?),
        ("failed", writer_text(bad_rows)?),
    ] {
        if !text.is_empty() {
            tx.execute(
                "INSERT OR REPLACE INTO sayso_bulk_result (job_id, chunk, kind, csv) VALUES (?1, ?2, ?3, ?4)",
                params![id, chunk_no, kind, text],
            )?;
        }
    }
    tx.execute(
        "UPDATE sayso_bulk_job SET processed = processed + ?2, failed = failed + ?3 WHERE id = ?1",
        params![id, rows.len() as i64, failed],
    )?;
    tx.commit()?;
    Ok(true)
}

fn run_job(state: &AppState, id: &str) -> SfResult<()> {
    let job: Job = INGEST_JOBS.begin(state, id)?;
    let object = job.core.text("object");
    let version = job
        .core
        .info
        .get("apiVersion")
        .and_then(Value::as_f64)
        .map(|v| format!("{v:.1}"))
        .unwrap_or_else(|| "63.0".into());
    let obj = state.schema.object(object).ok_or_else(|| {
        bad(
            "INVALIDJOB",
            format!("InvalidJob : Invalid object: {object}"),
        )
    })?;
    let principal = job_principal(state, &job.core.user_id, job.core.client_id.as_deref())?;
    let ctx = Ctx::new(state, &principal, &version);
    let data = job.data.clone().unwrap_or_default();
    let (header, records) = parse_csv(&data, info_delimiter(&job.core.info))
        .map_err(|e| bad("INVALIDBATCH", format!("InvalidBatch : {e}")))?;
    let ext_field = job
        .core
        .info
        .get("externalIdFieldName")
        .and_then(Value::as_str);
    let operation = job.core.text("operation");
    let plan = row_plan(obj, ctx.access(obj), operation, ext_field, &header)?;
    let mut position = job.core.processed.max(0) as usize;
    let mut chunk_no: i64 = (position / CHUNK) as i64;
    while position < records.len() {
        let end = (position + CHUNK).min(records.len());
        if !run_chunk(
            state,
            &ctx,
            &plan,
            &job,
            id,
            &records[position..end],
            chunk_no,
        )? {
            return Ok(());
        }
        position = end;
        chunk_no += 1;
    }
    let conn = state.lock_db();
    let info = INGEST_JOBS.complete(&conn, id, state.clock.now_string(), "")?;
    // A load changes the table's shape: keep the planner's statistics true (see store.rs).
    if let Some(object) = info.get("object").and_then(Value::as_str) {
        crate::sandbox::store::refresh_statistics(&conn, Some(object))?;
    }
    Ok(())
}

type RowOutcome = Result<(String, bool), (Option<String>, SfError)>;

/// The changes one CSV row asks for (the Id cell aside; empty cells are left alone).
fn row_changes(
    plan: &RowPlan<'_>,
    rec: &csv::StringRecord,
) -> Result<(Option<String>, Row), (Option<String>, SfError)> {
    let mut id_text: Option<String> = None;
    let mut changes = Row::new();
    let mut readonly = Vec::new();
    for (col, cell) in plan.columns.iter().zip(rec.iter()) {
        match col {
            Column::Id => id_text = Some(cell.trim().to_string()),
            Column::Field(f) => {
                if plan.ext.is_some_and(|(e, _)| e.name == f.name) {
                    continue;
                }
                if cell.is_empty() || plan.deleting {
                    continue;
                }
                if dml::writable_field(plan.obj, &plan.access, &f.name, plan.op, &mut readonly)
                    .map_err(|e| (None, e))?
                    .is_none()
                {
                    continue;
                }
                let v = if cell == "#N/A" {
                    SqlValue::Null
                } else {
                    store::from_text(f, cell).map_err(|e| (id_text.clone(), e))?
                };
                changes.insert(f.name.clone(), v);
            }
        }
    }
    if !readonly.is_empty() {
        return Err((id_text, dml::readonly_error(readonly)));
    }
    Ok((id_text, changes))
}

/// Upserts one row on the external id `field` (its value in column `idx`).
fn upsert_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    plan: &RowPlan<'_>,
    (field, idx): (&Field, usize),
    rec: &csv::StringRecord,
    changes: Row,
) -> RowOutcome {
    let value = rec.get(idx).unwrap_or("").trim().to_string();
    match dml::upsert_row(ctx, conn, plan.obj, &plan.access, field, &value, changes) {
        Ok(Upsert::Created(id)) => Ok((id.to_string(), true)),
        Ok(Upsert::Updated(id)) => Ok((id.to_string(), false)),
        Err(e) if e.status == StatusCode::MULTIPLE_CHOICES => Err((
            None,
            SfError::dml(
                "DUPLICATE_EXTERNAL_ID",
                format!(
                    "{}: more than one record found for external id field: {value}",
                    field.label
                ),
                vec![field.name.clone()],
            ),
        )),
        Err(e) => Err((None, e)),
    }
}

fn process_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    plan: &RowPlan<'_>,
    rec: &csv::StringRecord,
) -> RowOutcome {
    let (obj, access) = (plan.obj, &plan.access);
    let (id_text, changes) = row_changes(plan, rec)?;
    if let Some(ext) = plan.ext {
        return upsert_row(ctx, conn, plan, ext, rec, changes);
    }
    if plan.op == Op::Insert {
        return dml::insert_row(ctx, conn, obj, access, changes)
            .map(|id| (id.to_string(), true))
            .map_err(|e| (None, e));
    }
    let raw = id_text.unwrap_or_default();
    let rid = dml::parse_id_for(obj, &raw).map_err(|e| (None, e))?;
    let sid = rid.to_string();
    if plan.deleting {
        dml::delete_row(ctx, conn, obj, access, &sid)
            .map(|_| (sid.clone(), false))
            .map_err(|e| (Some(sid.clone()), e))
    } else {
        dml::update_row(ctx, conn, obj, access, &sid, changes)
            .map(|_| (sid.clone(), false))
            .map_err(|e| (Some(sid.clone()), e))
    }
}
