//! Composite resources: sObject Collections (`composite/sobjects`: create, update, upsert, delete,
//! retrieve; ≤ 200 records; `allOrNone` with real rollback through an SQLite savepoint), `/composite`
//! (≤ 25 subrequests, `@{ref.path}` references, `allOrNone`) and `/composite/batch` (independent
//! subrequests, `haltOnError`).
//!
//! Subrequests run in-process on the connection the composite call holds (so one savepoint spans
//! them all) through [`dispatch`], which understands sObject rows, collections and SOQL queries.
//!
//! Owns the composite wire shapes; record semantics are `dml.rs`, queries `query/`.

use crate::id::RecordId;
use crate::sandbox::dml::{self, Ctx, Op, Upsert};
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::rest::limits;
use crate::sandbox::rest::records::{self, object_for};
use crate::sandbox::schema::ObjectSchema;
use crate::sandbox::security::Principal;
use crate::sandbox::session::{Auth, DataCall};
use crate::sandbox::state::AppState;
use crate::sandbox::wire::{json_response, parse_version};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, patch, post};
use regex::Regex;
use rusqlite::Connection;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Most records in one collection request.
pub const MAX_COLLECTION: usize = 200;
/// Most subrequests in one composite or batch request.
pub const MAX_SUBREQUESTS: usize = 25;

/// Routes under `/services/data/{version}/composite`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/data/{version}/composite", post(composite))
        .route("/services/data/{version}/composite/batch", post(batch))
        .route(
            "/services/data/{version}/composite/sobjects",
            post(collection_write)
                .patch(collection_write)
                .delete(collection_delete),
        )
        .route(
            "/services/data/{version}/composite/sobjects/{object}",
            get(collection_retrieve).post(collection_retrieve_post),
        )
        .route(
            "/services/data/{version}/composite/sobjects/{object}/{field}",
            patch(collection_upsert),
        )
}

fn version_of(v: &str) -> &str {
    parse_version(v).unwrap_or("63.0")
}

/// A collection operation.
#[derive(Debug, Clone, Copy)]
enum CollOp<'a> {
    Create,
    Update,
    Upsert(&'a ObjectSchema, &'a str),
    Delete,
}

fn bad_request(code: &str, message: &str) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, code, message)
}

fn record_type<'s>(ctx: &Ctx<'s>, rec: &Map<String, Value>) -> SfResult<Option<&'s ObjectSchema>> {
    match rec
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
    {
        Some(t) => ctx
            .state
            .schema
            .object(t)
            .filter(|o| ctx.state.policy.object_access(ctx.principal, &o.name).read)
            .map(Some)
            .ok_or_else(|| SfError::invalid_type(t)),
        None => Ok(None),
    }
}

fn object_of_id<'s>(ctx: &Ctx<'s>, id: &str) -> SfResult<(&'s ObjectSchema, RecordId)> {
    let rid = RecordId::parse(id)
        .map_err(|_| SfError::dml("MALFORMED_ID", format!("malformed id {id}"), vec![]))?;
    let obj = ctx
        .state
        .schema
        .object_for_prefix(rid.key_prefix())
        .filter(|o| ctx.state.policy.object_access(ctx.principal, &o.name).read)
        .ok_or_else(|| SfError::dml("MALFORMED_ID", format!("malformed id {id}"), vec![]))?;
    Ok((obj, rid))
}

/// One collection record: `Ok((id, created))` or `Err((id if known, error))`.
type ItemResult = Result<(String, Option<bool>), (Option<String>, SfError)>;

fn one_record(ctx: &Ctx<'_>, conn: &Connection, op: CollOp<'_>, item: &Value) -> ItemResult {
    match op {
        CollOp::Delete => {
            let id = item.as_str().unwrap_or_default();
            let (obj, rid) = object_of_id(ctx, id).map_err(|e| (None, e))?;
            let access = ctx.access(obj);
            dml::delete_row(ctx, conn, obj, &access, rid.as_str())
                .map_err(|e| (Some(rid.to_string()), e))?;
            Ok((rid.to_string(), None))
        }
        CollOp::Create => {
            let rec = item
                .as_object()
                .ok_or_else(|| (None, SfError::json_parser("record is not an object")))?;
            let obj = record_type(ctx, rec)
                .and_then(|o| {
                    o.ok_or_else(|| {
                        bad_request("INVALID_TYPE", "Must send a concrete entity type.")
                    })
                })
                .map_err(|e| (None, e))?;
            let access = ctx.access(obj);
            let changes =
                dml::changes_from_json(obj, &access, rec, Op::Insert).map_err(|e| (None, e))?;
            let id = dml::insert_row(ctx, conn, obj, &access, changes).map_err(|e| (None, e))?;
            Ok((id.to_string(), None))
        }
        CollOp::Update => {
            let rec = item
                .as_object()
                .ok_or_else(|| (None, SfError::json_parser("record is not an object")))?;
            let id = rec
                .get("id")
                .or_else(|| rec.get("Id"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if id.is_empty() {
                return Err((
                    None,
                    SfError::dml(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                        vec![],
                    ),
                ));
            }
            let typed = record_type(ctx, rec).map_err(|e| (None, e))?;
            let (obj, rid) = match typed {
                Some(obj) => (obj, dml::parse_id_for(obj, &id).map_err(|e| (None, e))?),
                None => object_of_id(ctx, &id).map_err(|e| (None, e))?,
            };
            let access = ctx.access(obj);
            let changes = dml::changes_from_json(obj, &access, rec, Op::Update)
                .map_err(|e| (Some(rid.to_string()), e))?;
            dml::update_row(ctx, conn, obj, &access, rid.as_str(), changes)
                .map_err(|e| (Some(rid.to_string()), e))?;
            Ok((rid.to_string(), None))
        }
        CollOp::Upsert(obj, field) => {
            let rec = item
                .as_object()
                .ok_or_else(|| (None, SfError::json_parser("record is not an object")))?;
            let value = rec
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .map(|(_, v)| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let (outcome, _) =
                records::upsert_on(ctx, conn, obj, field, &value, rec).map_err(|e| (None, e))?;
            Ok(match outcome {
                Upsert::Created(id) => (id.to_string(), Some(true)),
                Upsert::Updated(id) => (id.to_string(), Some(false)),
            })
        }
    }
}

fn item_json(r: &ItemResult, upsert: bool) -> Value {
    match r {
        Ok((id, created)) => {
            let mut v = json!({"id": id, "success": true, "errors": []});
            if upsert {
                v["created"] = json!(created.unwrap_or(false));
            }
            v
        }
        Err((id, e)) => {
            let mut v = json!({"success": false, "errors": e.to_collection_errors()});
            if let Some(id) = id {
                v["id"] = json!(id);
            }
            v
        }
    }
}

/// Runs a collection operation on `conn` inside a savepoint; with `all_or_none`, any failure rolls
/// every record back and successes report `ALL_OR_NONE_OPERATION_ROLLED_BACK`.
fn run_collection(
    ctx: &Ctx<'_>,
    conn: &Connection,
    op: CollOp<'_>,
    all_or_none: bool,
    items: &[Value],
) -> SfResult<Value> {
    if items.len() > MAX_COLLECTION {
        return Err(bad_request(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    conn.execute_batch("SAVEPOINT sayso_collection")?;
    let results: Vec<ItemResult> = items
        .iter()
        .map(|item| one_record(ctx, conn, op, item))
        .collect();
    let failed = results.iter().any(Result::is_err);
    let upsert = matches!(op, CollOp::Upsert(..));
    if all_or_none && failed {
        conn.execute_batch("ROLLBACK TO sayso_collection; RELEASE sayso_collection")?;
        let rolled = SfError::dml(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
            vec![],
        );
        return Ok(Value::Array(
            results
                .into_iter()
                .map(|r| match r {
                    Ok((id, _)) => item_json(&Err((Some(id), rolled.clone())), false),
                    Err(e) => item_json(&Err(e), false),
                })
                .collect(),
        ));
    }
    conn.execute_batch("RELEASE sayso_collection")?;
    Ok(Value::Array(
        results.iter().map(|r| item_json(r, upsert)).collect(),
    ))
}

fn body_records(body: &Value) -> SfResult<(bool, Vec<Value>)> {
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| {
            bad_request(
                "JSON_PARSER_ERROR",
                "The request body must contain a `records` array",
            )
        })?;
    Ok((all_or_none, records))
}

fn parse_json(body: &[u8]) -> SfResult<Value> {
    serde_json::from_slice(body).map_err(|e| {
        SfError::json_parser(format!("{e} at [line:{}, column:{}]", e.line(), e.column()))
    })
}

/// Runs a collection request on the locked database and answers its results.
fn collection_response(
    ctx: &Ctx<'_>,
    op: CollOp<'_>,
    all_or_none: bool,
    items: &[Value],
) -> SfResult<Response> {
    let conn = ctx.state.lock_db();
    let results = run_collection(ctx, &conn, op, all_or_none, items)?;
    Ok(json_response(StatusCode::OK, &results))
}

/// `POST composite/sobjects` (create) and `PATCH composite/sobjects` (update).
async fn collection_write(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Auth(p): Auth,
    method: axum::http::Method,
    body: Bytes,
) -> SfResult<Response> {
    let ctx = Ctx::new(&state, &p, version_of(&version));
    let (aon, records) = body_records(&parse_json(&body)?)?;
    let op = if method == axum::http::Method::POST {
        CollOp::Create
    } else {
        CollOp::Update
    };
    collection_response(&ctx, op, aon, &records)
}

async fn collection_upsert(
    State(state): State<Arc<AppState>>,
    Path((version, object, field)): Path<(String, String, String)>,
    Auth(p): Auth,
    body: Bytes,
) -> SfResult<Response> {
    let ctx = Ctx::new(&state, &p, version_of(&version));
    let obj = object_for(&state, &p, &object)?;
    dml::external_id_field(obj, &ctx.access(obj), &field)?;
    let (aon, records) = body_records(&parse_json(&body)?)?;
    collection_response(&ctx, CollOp::Upsert(obj, &field), aon, &records)
}

fn split_ids(ids: &str) -> Vec<Value> {
    ids.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_string()))
        .collect()
}

async fn collection_delete(call: DataCall) -> SfResult<Response> {
    let ctx = Ctx::new(&call.state, &call.principal, call.version());
    let ids = split_ids(call.query_param("ids").unwrap_or(""));
    let aon = call
        .query_param("allOrNone")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    collection_response(&ctx, CollOp::Delete, aon, &ids)
}

fn retrieve(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    ids: &[String],
    fields: &[String],
) -> SfResult<Value> {
    if ids.len() > 2000 {
        return Err(bad_request(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 2000 records into this call",
        ));
    }
    if fields.is_empty() {
        return Err(bad_request(
            "MISSING_ARGUMENT",
            "fields parameter is required",
        ));
    }
    let access = ctx.access(obj);
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = match dml::parse_id_for(obj, id) {
            Ok(rid) => dml::load_row(ctx, conn, obj, rid.as_str())?,
            Err(_) => None,
        };
        match row {
            Some(r) if !matches!(r.get("IsDeleted"), Some(rusqlite::types::Value::Integer(1))) => {
                out.push(dml::record_json(ctx, obj, &access, &r, Some(fields))?);
            }
            _ => out.push(Value::Null),
        }
    }
    Ok(Value::Array(out))
}

fn list_param(v: Option<&str>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

async fn collection_retrieve(call: DataCall) -> SfResult<Response> {
    let ctx = Ctx::new(&call.state, &call.principal, call.version());
    let obj = object_for(&call.state, &call.principal, call.param("object"))?;
    let conn = call.state.lock_db();
    let ids = list_param(call.query_param("ids"));
    let v = retrieve(
        &ctx,
        &conn,
        obj,
        &ids,
        &list_param(call.query_param("fields")),
    )?;
    Ok(json_response(StatusCode::OK, &v))
}

async fn collection_retrieve_post(call: DataCall, body: Bytes) -> SfResult<Response> {
    let ctx = Ctx::new(&call.state, &call.principal, call.version());
    let obj = object_for(&call.state, &call.principal, call.param("object"))?;
    let b = parse_json(&body)?;
    let strings = |k: &str| -> Vec<String> {
        b.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let conn = call.state.lock_db();
    let v = retrieve(&ctx, &conn, obj, &strings("ids"), &strings("fields"))?;
    Ok(json_response(StatusCode::OK, &v))
}

/// The outcome of one in-process subrequest.
#[derive(Debug, Clone, PartialEq)]
pub struct SubResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers worth reporting (`Location`).
    pub headers: Map<String, Value>,
    /// JSON body (`null` for 204).
    pub body: Value,
}

impl SubResponse {
    fn ok(status: StatusCode, body: Value) -> SubResponse {
        SubResponse {
            status: status.as_u16(),
            headers: Map::new(),
            body,
        }
    }

    fn err(e: &SfError) -> SubResponse {
        SubResponse {
            status: e.status.as_u16(),
            headers: Map::new(),
            body: e.to_json(),
        }
    }

    fn failed(&self) -> bool {
        self.status >= 400
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Runs one subrequest (`method`, full `/services/data/vNN.N/…` URL, optional JSON body and the
/// subrequest's own `httpHeaders`, which carry conditional headers such as `If-Unmodified-Since`)
/// on `conn` as `principal`.
pub fn dispatch(
    state: &AppState,
    principal: &Principal,
    conn: &Connection,
    method: &str,
    url: &str,
    body: Option<&Value>,
    headers: &HeaderMap,
) -> SubResponse {
    let run = SubRequest::parse(url, body).and_then(|sub| {
        let ctx = Ctx::new(state, principal, &sub.version);
        let routed = Routed {
            sub: &sub,
            ctx: &ctx,
            conn,
        };
        routed.route(&method.to_ascii_uppercase(), headers)
    });
    run.unwrap_or_else(|e| SubResponse::err(&e))
}

/// A subrequest's URL and body, taken apart for routing.
struct SubRequest<'b> {
    /// The API version of the URL (`63.0`).
    version: String,
    /// The percent-decoded path segments after the version.
    segs: Vec<String>,
    /// The URL's query parameters.
    params: HashMap<String, String>,
    /// The raw body (collections read their records from it).
    body: Option<&'b Value>,
    /// The body as an sObject (empty when there is none).
    input: Cow<'b, Map<String, Value>>,
}

impl<'b> SubRequest<'b> {
    fn parse(url: &str, body: Option<&'b Value>) -> SfResult<SubRequest<'b>> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = path
            .trim_end_matches('/')
            .strip_prefix("/services/data/")
            .ok_or_else(SfError::not_found)?;
        let mut segs = rest.split('/');
        let version = segs
            .next()
            .and_then(parse_version)
            .ok_or_else(SfError::not_found)?
            .to_string();
        let input = match body {
            Some(Value::Object(o)) => Cow::Borrowed(o),
            Some(Value::Null) | None => Cow::Owned(Map::new()),
            Some(_) => {
                return Err(SfError::json_parser(
                    "Cannot deserialize instance of sObject from non-object value",
                ));
            }
        };
        Ok(SubRequest {
            version,
            segs: segs.map(percent_decode).collect(),
            params: query_params(query),
            body,
            input,
        })
    }
}

/// A parsed subrequest bound to the context and connection it runs on.
struct Routed<'r, 'b> {
    sub: &'r SubRequest<'b>,
    ctx: &'r Ctx<'r>,
    conn: &'r Connection,
}

impl Routed<'_, '_> {
    /// Routes the subrequest to the resource its method and path name.
    fn route(&self, method: &str, headers: &HeaderMap) -> SfResult<SubResponse> {
        let (ctx, conn) = (self.ctx, self.conn);
        let segs: Vec<&str> = self.sub.segs.iter().map(String::as_str).collect();
        match (method, segs.as_slice()) {
            ("POST", ["sobjects", t]) => self.create(t),
            ("GET", ["sobjects", t, "describe"]) => {
                let obj = object_for(ctx.state, ctx.principal, t)?;
                Ok(SubResponse::ok(
                    StatusCode::OK,
                    crate::sandbox::rest::describe::describe_for(ctx.state, ctx.principal, obj),
                ))
            }
            ("GET", ["sobjects", t, id]) => self.read(t, id, headers),
            ("PATCH", ["sobjects", t, id]) => self.update(t, id, headers),
            ("DELETE", ["sobjects", t, id]) => {
                let (obj, rid) = self.row(t, id)?;
                self.guard_conditions(obj, rid.as_str(), headers)?;
                dml::delete_row(ctx, conn, obj, &ctx.access(obj), rid.as_str())?;
                Ok(SubResponse::ok(StatusCode::NO_CONTENT, Value::Null))
            }
            ("PATCH", ["sobjects", t, field, value]) => self.upsert(t, field, value),
            ("POST" | "PATCH", ["composite", "sobjects"]) => {
                let op = if method == "POST" {
                    CollOp::Create
                } else {
                    CollOp::Update
                };
                self.collection(op)
            }
            ("PATCH", ["composite", "sobjects", t, field]) => {
                let obj = object_for(ctx.state, ctx.principal, t)?;
                dml::external_id_field(obj, &ctx.access(obj), field)?;
                self.collection(CollOp::Upsert(obj, field))
            }
            ("DELETE", ["composite", "sobjects"]) => self.collection_delete(),
            ("GET", ["composite", "sobjects", t]) => {
                let obj = object_for(ctx.state, ctx.principal, t)?;
                let ids = list_param(self.sub.params.get("ids").map(String::as_str));
                let fields = list_param(self.sub.params.get("fields").map(String::as_str));
                let body = retrieve(ctx, conn, obj, &ids, &fields)?;
                Ok(SubResponse::ok(StatusCode::OK, body))
            }
            ("GET", ["query"]) => self.query(false),
            ("GET", ["queryAll"]) => self.query(true),
            ("GET", ["search"]) => {
                let text = self.sub.params.get("q").map_or("", String::as_str);
                let body = crate::sandbox::query::search::run(
                    ctx.state,
                    conn,
                    ctx.principal,
                    &self.sub.version,
                    text,
                )?;
                Ok(SubResponse::ok(StatusCode::OK, body))
            }
            _ => Err(SfError::not_found()),
        }
    }

    /// Applies a write subrequest's conditional headers (`If-Match`, `If-Unmodified-Since`, …) to
    /// the stored row, as the sObject Rows resource does; a row the principal can't see is left to
    /// the write itself to answer NOT_FOUND.
    fn guard_conditions(&self, obj: &ObjectSchema, id: &str, headers: &HeaderMap) -> SfResult<()> {
        if headers.is_empty() {
            return Ok(());
        }
        if let Some(row) = dml::load_row(self.ctx, self.conn, obj, id)? {
            records::check_conditions(headers, &row, false)?;
        }
        Ok(())
    }

    /// The object and record a `sobjects/{T}/{id}` path names.
    fn row(&self, t: &str, id: &str) -> SfResult<(&ObjectSchema, RecordId)> {
        let obj = object_for(self.ctx.state, self.ctx.principal, t)?;
        Ok((obj, dml::parse_id_for(obj, id)?))
    }

    /// `201` with the new record's `Location`, as `POST sobjects/{T}` and a creating upsert answer.
    fn created(&self, obj: &ObjectSchema, id: &RecordId, body: Value) -> SubResponse {
        let mut r = SubResponse::ok(StatusCode::CREATED, body);
        let location = format!(
            "/services/data/v{}/sobjects/{}/{id}",
            self.sub.version, obj.name
        );
        r.headers.insert("Location".into(), json!(location));
        r
    }

    /// `POST sobjects/{T}`.
    fn create(&self, t: &str) -> SfResult<SubResponse> {
        let (ctx, conn) = (self.ctx, self.conn);
        let obj = object_for(ctx.state, ctx.principal, t)?;
        let access = ctx.access(obj);
        let changes = dml::changes_from_json(obj, &access, &self.sub.input, Op::Insert)?;
        let id = dml::insert_row(ctx, conn, obj, &access, changes)?;
        let body = json!({"id": id.as_str(), "success": true, "errors": []});
        Ok(self.created(obj, &id, body))
    }

    /// `GET sobjects/{T}/{id}` (with `fields=` and conditional headers).
    fn read(&self, t: &str, id: &str, headers: &HeaderMap) -> SfResult<SubResponse> {
        let (ctx, conn) = (self.ctx, self.conn);
        let (obj, rid) = self.row(t, id)?;
        let row = dml::load_row(ctx, conn, obj, rid.as_str())?.ok_or_else(SfError::not_found)?;
        if matches!(
            row.get("IsDeleted"),
            Some(rusqlite::types::Value::Integer(1))
        ) {
            return Err(SfError::entity_deleted());
        }
        records::check_conditions(headers, &row, false)?;
        let fields = self
            .sub
            .params
            .get("fields")
            .map(|f| list_param(Some(f.as_str())));
        Ok(SubResponse::ok(
            StatusCode::OK,
            dml::record_json(ctx, obj, &ctx.access(obj), &row, fields.as_deref())?,
        ))
    }

    /// `PATCH sobjects/{T}/{id}`.
    fn update(&self, t: &str, id: &str, headers: &HeaderMap) -> SfResult<SubResponse> {
        let (ctx, conn) = (self.ctx, self.conn);
        let (obj, rid) = self.row(t, id)?;
        let access = ctx.access(obj);
        self.guard_conditions(obj, rid.as_str(), headers)?;
        let changes = dml::changes_from_json(obj, &access, &self.sub.input, Op::Update)?;
        dml::update_row(ctx, conn, obj, &access, rid.as_str(), changes)?;
        Ok(SubResponse::ok(StatusCode::NO_CONTENT, Value::Null))
    }

    /// `PATCH sobjects/{T}/{Field}/{value}`: upsert on an external id.
    fn upsert(&self, t: &str, field: &str, value: &str) -> SfResult<SubResponse> {
        let (ctx, conn) = (self.ctx, self.conn);
        let obj = object_for(ctx.state, ctx.principal, t)?;
        match records::upsert_on(ctx, conn, obj, field, value, &self.sub.input) {
            Ok((Upsert::Created(id), _)) => {
                let body =
                    json!({"id": id.as_str(), "success": true, "errors": [], "created": true});
                Ok(self.created(obj, &id, body))
            }
            Ok((Upsert::Updated(id), true)) => Ok(SubResponse::ok(
                StatusCode::OK,
                json!({"id": id.as_str(), "success": true, "errors": [], "created": false}),
            )),
            Ok((Upsert::Updated(_), false)) => {
                Ok(SubResponse::ok(StatusCode::NO_CONTENT, Value::Null))
            }
            Err(e) if e.status == StatusCode::MULTIPLE_CHOICES => Ok(SubResponse::ok(
                StatusCode::MULTIPLE_CHOICES,
                serde_json::from_str(e.message()).unwrap_or(Value::Null),
            )),
            Err(e) => Err(e),
        }
    }

    /// `POST`/`PATCH composite/sobjects[/{T}/{Field}]`: a collection from the body's records.
    fn collection(&self, op: CollOp<'_>) -> SfResult<SubResponse> {
        let (aon, records) = body_records(self.sub.body.unwrap_or(&Value::Null))?;
        Ok(SubResponse::ok(
            StatusCode::OK,
            run_collection(self.ctx, self.conn, op, aon, &records)?,
        ))
    }

    /// `DELETE composite/sobjects?ids=…&allOrNone=…`.
    fn collection_delete(&self) -> SfResult<SubResponse> {
        let ids = split_ids(self.sub.params.get("ids").map(String::as_str).unwrap_or(""));
        let aon = self
            .sub
            .params
            .get("allOrNone")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(SubResponse::ok(
            StatusCode::OK,
            run_collection(self.ctx, self.conn, CollOp::Delete, aon, &ids)?,
        ))
    }

    /// `GET query?q=…` / `GET queryAll?q=…`: the first page (up to 2000 rows).
    fn query(&self, all_rows: bool) -> SfResult<SubResponse> {
        let ctx = self.ctx;
        use crate::sandbox::query::{compile, exec};
        let text = self
            .sub
            .params
            .get("q")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| compile::malformed("A query string has to be specified"))?;
        let q = crate::sandbox::query::parse_soql(text)?;
        let qctx = crate::sandbox::query::ctx(ctx.state, ctx.principal);
        let opts = exec::RunOptions {
            all_rows,
            batch: 2000,
            version: &self.sub.version,
        };
        let page = exec::run(self.conn, qctx, &q, opts)?;
        Ok(SubResponse::ok(
            StatusCode::OK,
            json!({"totalSize": page.total, "done": page.next.is_none(), "records": page.records}),
        ))
    }
}

/// The `httpHeaders` object of a `/composite` subrequest as a header map; names or values that
/// are not valid HTTP are skipped.
fn sub_headers(sub: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let Some(obj) = sub.get("httpHeaders").and_then(Value::as_object) {
        for (k, v) in obj {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                map.insert(name, value);
            }
        }
    }
    map
}

fn reference_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)\}").ok())
        .as_ref()
}

fn halted_reference(reference: &str, path: &str) -> SfError {
    let full = format!("{reference}{path}");
    bad_request(
        "PROCESSING_HALTED",
        &format!(
            "Invalid reference specified. No value for {full} found in {reference}. Provided referenceId ('{full}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
        ),
    )
}

fn resolve_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = root;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            let obj = cur.as_object()?;
            cur = obj.get(key).or_else(|| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx: usize = r[..end].parse().ok()?;
            cur = cur.as_array()?.get(idx)?;
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(cur)
}

fn lookup_reference(
    results: &HashMap<String, SubResponse>,
    reference: &str,
    path: &str,
) -> SfResult<Value> {
    let r = results
        .get(reference)
        .filter(|r| !r.failed())
        .ok_or_else(|| halted_reference(reference, path))?;
    resolve_path(&r.body, path)
        .cloned()
        .ok_or_else(|| halted_reference(reference, path))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn substitute_text(text: &str, results: &HashMap<String, SubResponse>) -> SfResult<String> {
    let Some(re) = reference_re() else {
        return Ok(text.to_string());
    };
    let mut out = String::new();
    let mut last = 0;
    for cap in re.captures_iter(text) {
        let (Some(m), Some(r)) = (cap.get(0), cap.get(1)) else {
            continue;
        };
        let path = cap.get(2).map(|p| p.as_str()).unwrap_or("");
        out.push_str(&text[last..m.start()]);
        out.push_str(&value_text(&lookup_reference(results, r.as_str(), path)?));
        last = m.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

fn substitute_value(v: &Value, results: &HashMap<String, SubResponse>) -> SfResult<Value> {
    Ok(match v {
        Value::String(s) => {
            if let Some(re) = reference_re()
                && let Some(cap) = re.captures(s)
                && cap
                    .get(0)
                    .is_some_and(|m| m.start() == 0 && m.end() == s.len())
            {
                let r = cap.get(1).map(|x| x.as_str()).unwrap_or("");
                let path = cap.get(2).map(|p| p.as_str()).unwrap_or("");
                lookup_reference(results, r, path)?
            } else {
                Value::String(substitute_text(s, results)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_value(x, results))
                .collect::<SfResult<_>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), substitute_value(x, results)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

fn sub_json(reference_id: &str, r: &SubResponse) -> Value {
    json!({"body": r.body, "httpHeaders": r.headers, "httpStatusCode": r.status, "referenceId": reference_id})
}

/// The subrequest loop `/composite` and `/composite/batch` share: runs `subs` in order through
/// `run_one`, stopping after the first failure when `halt_on_error` is set. Returns the
/// responses of the subrequests that ran and the index of the first failure.
fn run_subrequests<'s>(
    subs: &'s [Value],
    halt_on_error: bool,
    mut run_one: impl FnMut(&'s Value) -> SubResponse,
) -> (Vec<SubResponse>, Option<usize>) {
    let mut done = Vec::with_capacity(subs.len());
    let mut failed_at = None;
    for (i, sub) in subs.iter().enumerate() {
        if halt_on_error && failed_at.is_some() {
            break;
        }
        let resp = run_one(sub);
        if resp.failed() && failed_at.is_none() {
            failed_at = Some(i);
        }
        done.push(resp);
    }
    (done, failed_at)
}

/// The subrequest array `key` of a composite or batch body, at most [`MAX_SUBREQUESTS`] long.
/// The two requests that carry subrequests: `/composite` and `/composite/batch`.
#[derive(Debug, Clone, Copy)]
enum Envelope {
    Composite,
    Batch,
}

impl Envelope {
    /// The array of subrequests in the body.
    fn key(self) -> &'static str {
        match self {
            Envelope::Composite => "compositeRequest",
            Envelope::Batch => "batchRequests",
        }
    }

    /// The flag that stops the run at the first failure (`allOrNone` also rolls back).
    fn stop_flag(self) -> &'static str {
        match self {
            Envelope::Composite => "allOrNone",
            Envelope::Batch => "haltOnError",
        }
    }

    /// The `LIMIT_EXCEEDED` message for `n` subrequests.
    fn too_many(self, n: usize) -> String {
        match self {
            Envelope::Composite => format!(
                "A composite request can have up to {MAX_SUBREQUESTS} subrequests; this one has {n}."
            ),
            Envelope::Batch => {
                format!("A batch request can have up to {MAX_SUBREQUESTS} subrequests.")
            }
        }
    }

    /// The subrequests of `req` (at most [`MAX_SUBREQUESTS`]) and its stop flag.
    fn open(self, req: &Value) -> SfResult<(&[Value], bool)> {
        let key = self.key();
        let subs = req.get(key).and_then(Value::as_array).ok_or_else(|| {
            bad_request(
                "JSON_PARSER_ERROR",
                &format!("The request body must contain a `{key}` array"),
            )
        })?;
        if subs.len() > MAX_SUBREQUESTS {
            return Err(bad_request("LIMIT_EXCEEDED", &self.too_many(subs.len())));
        }
        Ok((subs.as_slice(), flag(req, self.stop_flag())))
    }
}

fn flag(req: &Value, key: &str) -> bool {
    req.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn reference_id(sub: &Value) -> &str {
    sub.get("referenceId").and_then(Value::as_str).unwrap_or("")
}

/// Checks every `referenceId`: well formed and unique.
fn check_reference_ids(subs: &[Value]) -> SfResult<()> {
    let mut seen = std::collections::HashSet::new();
    for rid in subs.iter().map(reference_id) {
        let valid = rid
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && rid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(bad_request(
                "INVALID_INPUT",
                &format!(
                    "Invalid reference id: '{rid}'. Reference ids must start with a letter or a number, and can contain only letters, numbers and underscores ('_')."
                ),
            ));
        }
        if !seen.insert(rid) {
            return Err(bad_request(
                "INVALID_INPUT",
                &format!("Duplicate reference id: '{rid}'."),
            ));
        }
    }
    Ok(())
}

/// One `/composite` subrequest, with `@{ref.path}` references to earlier results substituted.
fn composite_sub(
    state: &AppState,
    p: &Principal,
    conn: &Connection,
    sub: &Value,
    results: &HashMap<String, SubResponse>,
    all_or_none: bool,
) -> SubResponse {
    let method = sub.get("method").and_then(Value::as_str).unwrap_or("GET");
    let url = sub.get("url").and_then(Value::as_str).unwrap_or("");
    let body = sub
        .get("body")
        .map(|b| substitute_value(b, results))
        .transpose();
    match (substitute_text(url, results), body) {
        (Ok(url), Ok(body)) => {
            // An inner collection follows the outer allOrNone when it is true.
            let body = match (all_or_none, body) {
                (true, Some(Value::Object(mut o))) if url.contains("/composite/sobjects") => {
                    o.insert("allOrNone".into(), Value::Bool(true));
                    Some(Value::Object(o))
                }
                (_, b) => b,
            };
            dispatch(
                state,
                p,
                conn,
                method,
                &url,
                body.as_ref(),
                &sub_headers(sub),
            )
        }
        (Err(e), _) | (_, Err(e)) => SubResponse::err(&e),
    }
}

async fn composite(call: DataCall, body: Bytes) -> SfResult<Response> {
    let (state, p) = (&call.state, &call.principal);
    let req = parse_json(&body)?;
    let (subs, all_or_none) = Envelope::Composite.open(&req)?;
    check_reference_ids(subs)?;
    let conn = state.lock_db();
    conn.execute_batch("SAVEPOINT sayso_composite")?;
    let mut results: HashMap<String, SubResponse> = HashMap::new();
    let (done, failed_at) = run_subrequests(subs, all_or_none, |sub| {
        let resp = composite_sub(state, p, &conn, sub, &results, all_or_none);
        results.insert(reference_id(sub).to_string(), resp.clone());
        resp
    });
    let out: Vec<Value> = if let (true, Some(bad)) = (all_or_none, failed_at) {
        conn.execute_batch("ROLLBACK TO sayso_composite; RELEASE sayso_composite")?;
        let halted = SubResponse::err(&bad_request(
            "PROCESSING_HALTED",
            "The transaction was rolled back since another operation in the same transaction failed.",
        ));
        subs.iter()
            .enumerate()
            .map(|(i, s)| sub_json(reference_id(s), if i == bad { &done[i] } else { &halted }))
            .collect()
    } else {
        conn.execute_batch("RELEASE sayso_composite")?;
        subs.iter()
            .zip(&done)
            .map(|(s, r)| sub_json(reference_id(s), r))
            .collect()
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"compositeResponse": out}),
    ))
}

/// One `/composite/batch` subrequest: its URL must name a version from 34.0 up to the batch's own.
fn batch_sub(
    state: &AppState,
    p: &Principal,
    conn: &Connection,
    sub: &Value,
    own: f64,
) -> SubResponse {
    let method = sub.get("method").and_then(Value::as_str).unwrap_or("GET");
    let rel = sub
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim_start_matches('/');
    let rel = rel.strip_prefix("services/data/").unwrap_or(rel);
    let sub_version: f64 = rel
        .split('/')
        .next()
        .and_then(parse_version)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    if sub_version < 34.0 || sub_version > own {
        return SubResponse::err(&bad_request(
            "INVALID_BATCH_REQUEST",
            &format!("Invalid version in batch subrequest url: {rel}"),
        ));
    }
    let url = format!("/services/data/{rel}");
    dispatch(
        state,
        p,
        conn,
        method,
        &url,
        sub.get("richInput"),
        &HeaderMap::new(),
    )
}

fn batch_result(resp: &SubResponse) -> Value {
    json!({"statusCode": resp.status, "result": resp.body})
}

async fn batch(call: DataCall, body: Bytes) -> SfResult<Response> {
    let (state, p) = (&call.state, &call.principal);
    let req = parse_json(&body)?;
    let (subs, halt) = Envelope::Batch.open(&req)?;
    // Each subrequest counts as one API call; the batch itself was counted by the middleware.
    let usage = if subs.len() > 1 {
        Some(limits::record_call(state, p, (subs.len() - 1) as u32)?)
    } else {
        None
    };
    let own: f64 = call.version().parse().unwrap_or(63.0);
    let conn = state.lock_db();
    let (done, failed_at) = run_subrequests(subs, halt, |sub| batch_sub(state, p, &conn, sub, own));
    drop(conn);
    let halted = json!({"statusCode": 412, "result": [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}]});
    let mut results: Vec<Value> = done.iter().map(batch_result).collect();
    results.resize(subs.len(), halted);
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"hasErrors": failed_at.is_some(), "results": results}),
    );
    if let Some(u) = usage
        && let Ok(v) = axum::http::HeaderValue::from_str(&u.header_value())
    {
        resp.headers_mut().insert("sforce-limit-info", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_paths_resolve_into_objects_and_arrays() {
        let body = json!({"id": "001x", "records": [{"Id": "003a"}, {"Id": "003b"}]});
        assert_eq!(resolve_path(&body, ".id"), Some(&json!("001x")));
        assert_eq!(resolve_path(&body, ".records[1].Id"), Some(&json!("003b")));
        assert_eq!(resolve_path(&body, ".records[5].Id"), None);
        let mut results = HashMap::new();
        results.insert("refA".to_string(), SubResponse::ok(StatusCode::OK, body));
        assert_eq!(
            substitute_text("WHERE AccountId='@{refA.id}'", &results).unwrap(),
            "WHERE AccountId='001x'"
        );
        assert_eq!(
            substitute_value(&json!({"X": "@{refA.records[0].Id}"}), &results).unwrap(),
            json!({"X": "003a"})
        );
        assert_eq!(
            substitute_text("@{refB.id}", &results).unwrap_err().code(),
            "PROCESSING_HALTED"
        );
    }
}
