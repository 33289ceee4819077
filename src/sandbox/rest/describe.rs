//! Describe resources: global describe (`sobjects`), basic info (`sobjects/{T}`) and the full
//! describe (`sobjects/{T}/describe`), built from the schema's stored describe JSON.
//!
//! Per user: objects the principal cannot read are left out; fields hidden by field-level security
//! vanish; read-only fields report `createable:false`/`updateable:false`; object flags follow the
//! principal's object permissions. URLs are rewritten to the requested API version and this host.
//! `If-Modified-Since` later than the metadata's date answers `304`.
//!
//! The handlers are routed from `rest/records.rs` (same `sobjects/{T}` paths as the row resources).

use crate::sandbox::clock;
use crate::sandbox::dml::Ctx;
use crate::sandbox::error::SfError;
use crate::sandbox::schema::ObjectSchema;
use crate::sandbox::security::{FieldAccess, Principal, RowAccess};
use crate::sandbox::session::DataCall;
use crate::sandbox::state::AppState;
use crate::sandbox::store::quote_ident;
use crate::sandbox::wire::{json_response, parse_version};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::{Arc, OnceLock};

/// When the org's metadata last changed (for `If-Modified-Since` and `Last-Modified`).
pub fn metadata_modified() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Object-level keys copied into a global-describe entry.
const GLOBAL_KEYS: &[&str] = &[
    "activateable",
    "associateEntityType",
    "associateParentEntity",
    "createable",
    "custom",
    "customSetting",
    "deepCloneable",
    "deletable",
    "deprecatedAndHidden",
    "feedEnabled",
    "hasSubtypes",
    "isInterface",
    "isSubtype",
    "keyPrefix",
    "label",
    "labelPlural",
    "layoutable",
    "mergeable",
    "mruEnabled",
    "name",
    "queryable",
    "replicateable",
    "retrieveable",
    "searchable",
    "triggerable",
    "undeletable",
    "updateable",
    "urls",
];

/// The origin (`http://host` or `https://host`) the client reached.
fn host_of(headers: &HeaderMap) -> String {
    crate::sandbox::oauth::origin(headers)
}

/// Rewrites describe URLs to `version` and `origin` (`/services/data/vxx.0/…`, `https://…salesforce.com`).
pub fn rewrite_urls(v: &Value, version: &str, origin: &str) -> Value {
    static PATH: OnceLock<Option<Regex>> = OnceLock::new();
    static HOST: OnceLock<Option<Regex>> = OnceLock::new();
    let path_re = PATH.get_or_init(|| Regex::new(r"/services/data/v[^/\x22]+").ok());
    let host_re = HOST.get_or_init(|| Regex::new(r"https://[A-Za-z0-9.\-]+\.salesforce\.com").ok());
    let text = v.to_string();
    let text = match path_re {
        Some(re) => re
            .replace_all(&text, format!("/services/data/v{version}").as_str())
            .into_owned(),
        None => text,
    };
    let text = match host_re {
        Some(re) => re.replace_all(&text, regex::NoExpand(origin)).into_owned(),
        None => text,
    };
    serde_json::from_str(&text).unwrap_or_else(|_| v.clone())
}

fn not_modified(headers: &HeaderMap) -> bool {
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|h| h.to_str().ok())
        .and_then(clock::parse_http_date)
        .is_some_and(|since| since >= metadata_modified())
}

fn with_last_modified(mut resp: Response) -> Response {
    if let Ok(v) = clock::format_http_date(metadata_modified()).parse() {
        resp.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    resp
}

/// The global-describe entry of `obj` for `principal` (object flags from its permissions).
pub fn global_entry(state: &AppState, principal: &Principal, obj: &ObjectSchema) -> Value {
    let access = state.policy.object_access(principal, &obj.name);
    let mut entry = Map::new();
    for k in GLOBAL_KEYS {
        entry.insert(
            (*k).to_string(),
            obj.describe.get(*k).cloned().unwrap_or(Value::Null),
        );
    }
    entry.insert(
        "createable".into(),
        Value::Bool(obj.createable && access.create),
    );
    entry.insert(
        "updateable".into(),
        Value::Bool(obj.updateable && access.edit),
    );
    entry.insert(
        "deletable".into(),
        Value::Bool(obj.deletable && access.delete),
    );
    Value::Object(entry)
}

/// The full describe of `obj` as `principal` sees it.
pub fn describe_for(state: &AppState, principal: &Principal, obj: &ObjectSchema) -> Value {
    let mut d = obj.describe.clone();
    let access = state.policy.object_access(principal, &obj.name);
    d["createable"] = Value::Bool(obj.createable && access.create);
    d["updateable"] = Value::Bool(obj.updateable && access.edit);
    d["deletable"] = Value::Bool(obj.deletable && access.delete);
    if let Some(fields) = d["fields"].as_array_mut() {
        fields.retain_mut(|f| {
            let name = f["name"].as_str().unwrap_or_default().to_string();
            match state.policy.field_access(principal, &obj.name, &name) {
                FieldAccess::Hidden => false,
                FieldAccess::Read => {
                    f["createable"] = Value::Bool(false);
                    f["updateable"] = Value::Bool(false);
                    true
                }
                FieldAccess::Edit => true,
            }
        });
    }
    if let Some(rels) = d["childRelationships"].as_array_mut() {
        rels.retain(|r| {
            r["childSObject"]
                .as_str()
                .is_some_and(|c| state.policy.object_access(principal, c).read)
        });
    }
    d
}

/// `GET /services/data/{v}/sobjects`.
pub async fn global(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    crate::sandbox::session::Auth(principal): crate::sandbox::session::Auth,
    headers: HeaderMap,
) -> Response {
    if not_modified(&headers) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let v = parse_version(&version).unwrap_or("63.0");
    let list: Vec<Value> = state
        .schema
        .objects()
        .iter()
        .filter(|o| state.policy.object_access(&principal, &o.name).read)
        .map(|o| global_entry(&state, &principal, o))
        .collect();
    let body = json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list});
    with_last_modified(json_response(
        StatusCode::OK,
        &rewrite_urls(&body, v, &host_of(&headers)),
    ))
}

fn visible_object<'s>(
    state: &'s AppState,
    principal: &Principal,
    name: &str,
) -> Result<&'s ObjectSchema, SfError> {
    state
        .schema
        .object(name)
        .filter(|o| state.policy.object_access(principal, &o.name).read)
        .ok_or_else(|| SfError::unknown_object(name))
}

/// `GET /services/data/{v}/sobjects/{T}/describe`.
pub async fn full(call: DataCall, headers: HeaderMap) -> Result<Response, SfError> {
    let (state, principal) = (&call.state, &call.principal);
    let obj = visible_object(state, principal, call.param("object"))?;
    if not_modified(&headers) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let body = rewrite_urls(
        &describe_for(state, principal, obj),
        call.version(),
        &host_of(&headers),
    );
    Ok(with_last_modified(json_response(StatusCode::OK, &body)))
}

/// `GET /services/data/{v}/sobjects/{T}`: `{objectDescribe, recentItems}`.
pub async fn basic(call: DataCall, headers: HeaderMap) -> Result<Response, SfError> {
    let (state, principal, v) = (&call.state, &call.principal, call.version());
    let obj = visible_object(state, principal, call.param("object"))?;
    let ctx = Ctx::new(state, principal, v);
    let recent = recent_items(&ctx, obj)?;
    let body =
        json!({"objectDescribe": global_entry(state, principal, obj), "recentItems": recent});
    Ok(json_response(
        StatusCode::OK,
        &rewrite_urls(&body, v, &host_of(&headers)),
    ))
}

fn recent_items(ctx: &Ctx<'_>, obj: &ObjectSchema) -> Result<Vec<Value>, SfError> {
    let name_field = obj
        .name_field()
        .filter(|f| f.is_column())
        .map(|f| f.name.clone());
    let order = if obj.field("LastModifiedDate").is_some() {
        "t.\"LastModifiedDate\" DESC, "
    } else {
        ""
    };
    let name_sql = name_field
        .as_deref()
        .map(quote_ident)
        .unwrap_or_else(|| "\"Id\"".into());
    let mut sql = format!(
        "SELECT t.\"Id\", t.{name_sql} FROM {} AS t WHERE t.\"IsDeleted\" = 0",
        quote_ident(&obj.name)
    );
    let mut params = Vec::new();
    if let Some(f) = ctx
        .state
        .policy
        .row_filter(ctx.principal, &obj.name, "t", RowAccess::Read)
    {
        sql.push_str(&format!(" AND ({})", f.sql));
        params = f.params;
    }
    sql.push_str(&format!(" ORDER BY {order}t.\"Id\" DESC LIMIT 3"));
    let conn = ctx.state.lock_db();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let nf = name_field.unwrap_or_else(|| "Name".into());
    Ok(rows
        .into_iter()
        .map(|(id, name)| {
            let mut m = Map::new();
            m.insert(
                "attributes".into(),
                json!({"type": obj.name, "url": format!("/services/data/v{}/sobjects/{}/{id}", ctx.version, obj.name)}),
            );
            m.insert("Id".into(), Value::String(id));
            m.insert(nf.clone(), name.map(Value::String).unwrap_or(Value::Null));
            Value::Object(m)
        })
        .collect())
}
