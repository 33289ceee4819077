//! sObject row resources: `POST sobjects/{T}` (create), `GET/PATCH/DELETE sobjects/{T}/{id}`
//! (`?fields=`, conditional headers), upsert and read by external id
//! (`PATCH/GET sobjects/{T}/{Field}/{value}`), the ContentNote body
//! (`GET sobjects/ContentNote/{id}/Content`), and the routing of the describe handlers that share
//! these paths (`rest/describe.rs`).
//!
//! Owns the HTTP shape of row calls; write semantics are in `dml.rs`.

use crate::sandbox::clock;
use crate::sandbox::dml::{self, Access, Ctx, Op, Upsert};
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::rest::describe;
use crate::sandbox::schema::ObjectSchema;
use crate::sandbox::security::Principal;
use crate::sandbox::session::{Auth, DataCall};
use crate::sandbox::state::AppState;
use crate::sandbox::wire::{json_response, parse_version};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Routes under `/services/data/{version}/sobjects`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/data/{version}/sobjects", get(describe::global))
        .route(
            "/services/data/{version}/sobjects/{object}",
            get(describe::basic)
                .post(create)
                .fallback(|| async { SfError::method_not_allowed("PATCH", "HEAD,GET,POST") }),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/describe",
            get(describe::full),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/{id}",
            get(read).patch(update).delete(remove).post(override_post),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/{field}/{value}",
            get(read_by_field)
                .patch(upsert)
                .delete(delete_by_field)
                .post(upsert_post),
        )
}

/// Parses a JSON object body.
///
/// # Errors
/// `JSON_PARSER_ERROR` for invalid JSON or a non-object.
pub fn parse_object(body: &[u8]) -> SfResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(SfError::json_parser(
            "Cannot deserialize instance of sObject from non-object value",
        )),
        Err(e) => Err(SfError::json_parser(format!(
            "Unexpected character: {e} at [line:{}, column:{}]",
            e.line(),
            e.column()
        ))),
    }
}

/// Finds a served object the principal may at least read (else `404 NOT_FOUND`).
///
/// # Errors
/// NOT_FOUND.
pub fn object_for<'s>(
    state: &'s AppState,
    principal: &Principal,
    name: &str,
) -> SfResult<&'s ObjectSchema> {
    state
        .schema
        .object(name)
        .filter(|o| state.policy.object_access(principal, &o.name).read)
        .ok_or_else(|| SfError::unknown_object(name))
}

/// The object a record call names (one the caller may read) and the DML context of the call.
fn target(call: &DataCall) -> SfResult<(&ObjectSchema, Ctx<'_>)> {
    let obj = object_for(&call.state, &call.principal, call.param("object"))?;
    Ok((obj, Ctx::new(&call.state, &call.principal, call.version())))
}

fn version_of(v: &str) -> &str {
    parse_version(v).unwrap_or("63.0")
}

fn created_body(id: &str) -> Value {
    json!({"id": id, "success": true, "errors": []})
}

fn with_location(mut resp: Response, version: &str, object: &str, id: &str) -> Response {
    if let Ok(v) =
        HeaderValue::from_str(&format!("/services/data/v{version}/sobjects/{object}/{id}"))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn create(call: DataCall, body: Bytes) -> SfResult<Response> {
    let v = call.version();
    let obj = object_for(&call.state, &call.principal, call.param("object"))?;
    let input = parse_object(&body)?;
    let ctx = Ctx::new(&call.state, &call.principal, v);
    let access = ctx.access(obj);
    let changes = dml::changes_from_json(obj, &access, &input, Op::Insert)?;
    let id = {
        let conn = call.state.lock_db();
        dml::insert_row(&ctx, &conn, obj, &access, changes)?
    };
    Ok(with_location(
        json_response(StatusCode::CREATED, &created_body(id.as_str())),
        v,
        &obj.name,
        id.as_str(),
    ))
}

#[derive(serde::Deserialize, Default)]
struct ReadQuery {
    fields: Option<String>,
    #[serde(rename = "_HttpMethod")]
    http_method: Option<String>,
}

fn etag(row: &HashMap<String, SqlValue>) -> String {
    let id = match row.get("Id") {
        Some(SqlValue::Text(t)) => t.as_str(),
        _ => "",
    };
    let stamp = match row
        .get("SystemModstamp")
        .or_else(|| row.get("LastModifiedDate"))
    {
        Some(SqlValue::Text(t)) => t.as_str(),
        _ => "",
    };
    let d = Sha256::digest(format!("{id}|{stamp}").as_bytes());
    let hex: String = d.iter().take(14).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn last_modified(row: &HashMap<String, SqlValue>) -> Option<chrono::DateTime<chrono::Utc>> {
    match row
        .get("LastModifiedDate")
        .or_else(|| row.get("SystemModstamp"))
    {
        Some(SqlValue::Text(t)) => clock::parse_datetime(t),
        _ => None,
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|h| h.to_str().ok())
}

fn etag_matches(list: &str, tag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.trim_start_matches("W/") == tag)
}

/// Checks `If-Match`, `If-None-Match`, `If-Unmodified-Since` (and `If-Modified-Since` on reads)
/// against a stored row. `Ok(true)` means "answer 304".
///
/// # Errors
/// `412 PRECONDITION_FAILED`; `400` for an unparseable date.
pub(crate) fn check_conditions(
    headers: &HeaderMap,
    row: &HashMap<String, SqlValue>,
    reading: bool,
) -> SfResult<bool> {
    let tag = etag(row);
    let modified = last_modified(row).map(|t| t.timestamp());
    if let Some(m) = header_str(headers, header::IF_MATCH)
        && !etag_matches(m, &tag)
    {
        return Err(SfError::precondition_failed(format!(
            "The ETag {tag} of the resource does not match any ETag in the If-Match header"
        )));
    }
    if let Some(m) = header_str(headers, header::IF_NONE_MATCH)
        && etag_matches(m, &tag)
    {
        if reading {
            return Ok(true);
        }
        return Err(SfError::precondition_failed(format!(
            "The ETag {tag} of the resource matches an ETag in the If-None-Match header"
        )));
    }
    if let Some(s) = header_str(headers, header::IF_UNMODIFIED_SINCE) {
        let since = clock::parse_http_date(s).ok_or_else(|| {
            SfError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_HEADER_TYPE",
                format!("Invalid If-Unmodified-Since header: {s}"),
            )
        })?;
        if modified.is_some_and(|m| m > since.timestamp()) {
            return Err(SfError::precondition_failed(format!(
                "The requested resource has been modified since {}",
                clock::format_http_date(since)
            )));
        }
    }
    if reading
        && let Some(s) = header_str(headers, header::IF_MODIFIED_SINCE)
        && let Some(since) = clock::parse_http_date(s)
        && modified.is_some_and(|m| m <= since.timestamp())
    {
        return Ok(true);
    }
    Ok(false)
}

fn with_validators(mut resp: Response, row: &HashMap<String, SqlValue>) -> Response {
    if let Ok(v) = HeaderValue::from_str(&etag(row)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let Some(t) = last_modified(row)
        && let Ok(v) = HeaderValue::from_str(&clock::format_http_date(t))
    {
        resp.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    resp
}

fn live_row(ctx: &Ctx<'_>, obj: &ObjectSchema, id: &str) -> SfResult<HashMap<String, SqlValue>> {
    let conn = ctx.state.lock_db();
    let row = dml::load_row(ctx, &conn, obj, id)?.ok_or_else(SfError::not_found)?;
    if matches!(row.get("IsDeleted"), Some(SqlValue::Integer(1))) {
        return Err(SfError::entity_deleted());
    }
    Ok(row)
}

fn render_read(
    ctx: &Ctx<'_>,
    obj: &ObjectSchema,
    access: &Access,
    row: &HashMap<String, SqlValue>,
    fields: Option<&str>,
    headers: &HeaderMap,
) -> SfResult<Response> {
    if check_conditions(headers, row, true)? {
        return Ok(with_validators(
            StatusCode::NOT_MODIFIED.into_response(),
            row,
        ));
    }
    let list: Option<Vec<String>> = fields.map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let body = dml::record_json(ctx, obj, access, row, list.as_deref())?;
    Ok(with_validators(json_response(StatusCode::OK, &body), row))
}

async fn read(
    call: DataCall,
    Query(q): Query<ReadQuery>,
    headers: HeaderMap,
) -> SfResult<Response> {
    let (obj, ctx) = target(&call)?;
    let rid = dml::parse_id_for(obj, call.param("id")).map_err(|e| {
        if obj.key_prefix.is_empty() {
            SfError::not_found()
        } else {
            e
        }
    })?;
    let row = live_row(&ctx, obj, rid.as_str())?;
    let access = ctx.access(obj);
    render_read(&ctx, obj, &access, &row, q.fields.as_deref(), &headers)
}

fn do_update(
    ctx: &Ctx<'_>,
    obj: &ObjectSchema,
    id: &str,
    body: &[u8],
    headers: &HeaderMap,
) -> SfResult<Response> {
    let rid = dml::parse_id_for(obj, id)?;
    let input = parse_object(body)?;
    let access = ctx.access(obj);
    let changes = dml::changes_from_json(obj, &access, &input, Op::Update)?;
    let conn = ctx.state.lock_db();
    let conditional = [
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_UNMODIFIED_SINCE,
    ]
    .iter()
    .any(|h| headers.contains_key(h));
    if conditional {
        let row = dml::load_row(ctx, &conn, obj, rid.as_str())?.ok_or_else(SfError::not_found)?;
        check_conditions(headers, &row, false)?;
    }
    dml::update_row(ctx, &conn, obj, &access, rid.as_str(), changes)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn do_delete(ctx: &Ctx<'_>, obj: &ObjectSchema, id: &str) -> SfResult<Response> {
    let rid = dml::parse_id_for(obj, id)?;
    let access = ctx.access(obj);
    let conn = ctx.state.lock_db();
    dml::delete_row(ctx, &conn, obj, &access, rid.as_str())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn update(call: DataCall, headers: HeaderMap, body: Bytes) -> SfResult<Response> {
    let (obj, ctx) = target(&call)?;
    do_update(&ctx, obj, call.param("id"), &body, &headers)
}

async fn remove(call: DataCall) -> SfResult<Response> {
    let (obj, ctx) = target(&call)?;
    do_delete(&ctx, obj, call.param("id"))
}

/// `POST …/{id}?_HttpMethod=PATCH|DELETE` (method override for clients without PATCH).
async fn override_post(
    call: DataCall,
    Query(q): Query<ReadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> SfResult<Response> {
    let (obj, ctx) = target(&call)?;
    let id = call.param("id");
    match q
        .http_method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("PATCH") => do_update(&ctx, obj, id, &body, &headers),
        Some("DELETE") => do_delete(&ctx, obj, id),
        _ if id.eq_ignore_ascii_case("Id") => {
            // POST sobjects/{T}/Id inserts (upsert keyed on Id without a value).
            let input = parse_object(&body)?;
            upsert_inner(&ctx, obj, "Id", "", &input)
        }
        _ => Err(SfError::method_not_allowed("POST", "HEAD,GET,PATCH,DELETE")),
    }
}

fn upsert_inner(
    ctx: &Ctx<'_>,
    obj: &ObjectSchema,
    field: &str,
    value: &str,
    input: &Map<String, Value>,
) -> SfResult<Response> {
    let conn = ctx.state.lock_db();
    match upsert_on(ctx, &conn, obj, field, value, input) {
        Ok((Upsert::Created(id), _)) => {
            let mut b = created_body(id.as_str());
            b["created"] = Value::Bool(true);
            Ok(with_location(
                json_response(StatusCode::CREATED, &b),
                &ctx.version,
                &obj.name,
                id.as_str(),
            ))
        }
        Ok((Upsert::Updated(id), true)) => {
            let mut b = created_body(id.as_str());
            b["created"] = Value::Bool(false);
            Ok(json_response(StatusCode::OK, &b))
        }
        Ok((Upsert::Updated(_), false)) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) if e.status == StatusCode::MULTIPLE_CHOICES => {
            let urls: Value = serde_json::from_str(e.message()).unwrap_or(Value::Array(vec![]));
            Ok(json_response(StatusCode::MULTIPLE_CHOICES, &urls))
        }
        Err(e) => Err(e),
    }
}

/// Upsert on an open connection: returns the outcome and whether an update should answer with a
/// body (API 46.0 and later) rather than `204`. Several matches → an error with status 300 whose
/// message is the JSON array of URLs.
///
/// # Errors
/// As [`dml::upsert_row`].
pub fn upsert_on(
    ctx: &Ctx<'_>,
    conn: &rusqlite::Connection,
    obj: &ObjectSchema,
    field: &str,
    value: &str,
    input: &Map<String, Value>,
) -> SfResult<(Upsert, bool)> {
    let access = ctx.access(obj);
    let key = dml::external_id_field(obj, &access, field)?;
    let found = if value.is_empty() {
        Vec::new()
    } else {
        dml::find_by_external_id(ctx, conn, obj, key, value)?
    };
    let op = if found.len() == 1 {
        Op::Update
    } else {
        Op::Insert
    };
    let mut body = input.clone();
    // The key field may repeat in the body on insert; on update it is ignored.
    if op == Op::Update {
        body.retain(|k, _| !k.eq_ignore_ascii_case(&key.name));
    }
    let changes = dml::changes_from_json(obj, &access, &body, op)?;
    let outcome = dml::upsert_row(ctx, conn, obj, &access, key, value, changes)?;
    let minor: f64 = ctx.version.parse().unwrap_or(63.0);
    Ok((outcome, minor >= 46.0))
}

async fn upsert(
    State(state): State<Arc<AppState>>,
    Path(path): Path<(String, String, String, String)>,
    Auth(principal): Auth,
    body: Bytes,
) -> SfResult<Response> {
    upsert_request(&state, &principal, &path, &body, true)
}

async fn upsert_post(
    State(state): State<Arc<AppState>>,
    Path(path): Path<(String, String, String, String)>,
    Query(q): Query<ReadQuery>,
    Auth(principal): Auth,
    body: Bytes,
) -> SfResult<Response> {
    let patch = q
        .http_method
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("PATCH"));
    upsert_request(&state, &principal, &path, &body, patch)
}

/// An upsert on `sobjects/{T}/{Field}/{value}`; a `POST` that is not an override for `PATCH`
/// (`allowed` false) is refused once the object is known.
fn upsert_request(
    state: &AppState,
    principal: &Principal,
    (version, object, field, value): &(String, String, String, String),
    body: &[u8],
    allowed: bool,
) -> SfResult<Response> {
    let obj = object_for(state, principal, object)?;
    let ctx = Ctx::new(state, principal, version_of(version));
    if !allowed {
        return Err(SfError::method_not_allowed("POST", "HEAD,GET,PATCH,DELETE"));
    }
    let input = parse_object(body)?;
    upsert_inner(&ctx, obj, field, value, &input)
}

/// `GET sobjects/{T}/{Field}/{value}`: read by external id, or the ContentNote body.
async fn read_by_field(
    State(state): State<Arc<AppState>>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    Query(q): Query<ReadQuery>,
    Auth(principal): Auth,
    headers: HeaderMap,
) -> SfResult<Response> {
    let obj = object_for(&state, &principal, &object)?;
    let ctx = Ctx::new(&state, &principal, version_of(&version));
    let access = ctx.access(obj);
    if obj.name == "ContentNote" && value == "Content" {
        let rid = dml::parse_id_for(obj, &field)?;
        let row = live_row(&ctx, obj, rid.as_str())?;
        let text = match row.get("Content") {
            Some(SqlValue::Text(t)) => t.clone(),
            _ => String::new(),
        };
        return Ok(crate::sandbox::wire::text_response(StatusCode::OK, text));
    }
    on_external_id(&ctx, obj, &access, &field, &value, |one| {
        let row = live_row(&ctx, obj, one)?;
        render_read(&ctx, obj, &access, &row, q.fields.as_deref(), &headers)
    })
}

/// Finds the record whose external id `field` is `value` and runs `one` on it: none is
/// NOT_FOUND, several answer `300` with their URLs.
fn on_external_id(
    ctx: &Ctx<'_>,
    obj: &ObjectSchema,
    access: &Access,
    field: &str,
    value: &str,
    one: impl FnOnce(&str) -> SfResult<Response>,
) -> SfResult<Response> {
    let key = dml::external_id_field(obj, access, field)?;
    let ids = {
        let conn = ctx.state.lock_db();
        dml::find_by_external_id(ctx, &conn, obj, key, value)?
    };
    match ids.as_slice() {
        [] => Err(SfError::not_found()),
        [id] => one(id),
        many => {
            let urls: Vec<String> = many
                .iter()
                .map(|id| format!("/services/data/v{}/sobjects/{}/{id}", ctx.version, obj.name))
                .collect();
            Ok(json_response(StatusCode::MULTIPLE_CHOICES, &json!(urls)))
        }
    }
}

async fn delete_by_field(
    State(state): State<Arc<AppState>>,
    Path((version, object, field, value)): Path<(String, String, String, String)>,
    Auth(principal): Auth,
) -> SfResult<Response> {
    let obj = object_for(&state, &principal, &object)?;
    let ctx = Ctx::new(&state, &principal, version_of(&version));
    let access = ctx.access(obj);
    on_external_id(&ctx, obj, &access, &field, &value, |one| {
        do_delete(&ctx, obj, one)
    })
}
