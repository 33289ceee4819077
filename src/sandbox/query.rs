//! The sandbox's SOQL endpoints: `GET query?q=`, `queryAll?q=`, and the `nextRecordsUrl` pages
//! `query/{locator}` / `queryAll/{locator}`; also merges the SOSL route from [`super::search`].
//!
//! Owns the HTTP side of SOQL: parsing the query text ([`crate::soql::parse`], syntax errors become
//! `MALFORMED_QUERY` with Salesforce's `ERROR at Row:…:Column:…` message), page size from
//! `Sforce-Query-Options: batchSize=N` (200–2000, default 2000) and query cursors. A cursor keeps
//! only the query text, the caller, the page size and the total in the `sayso_query_cursor` table;
//! the locator `01g…-N` carries the offset, and each page re-runs the query with `LIMIT/OFFSET`, so
//! a million-row result streams without materialising anything. API-call counting and the
//! `Sforce-Limit-Info` header come from the data-route middleware (`session::authenticate`).
//!
//! Submodules: `compile` (AST → SQL), `exec` (running, result JSON), `flat` (CSV columns for Bulk
//! query jobs), `dates` (date literals).

pub mod compile;
pub mod dates;
pub mod exec;
pub mod flat;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value as Json, json};

use crate::sandbox::error::SfError;
use crate::sandbox::security::Principal;
use crate::sandbox::session::Auth;
use crate::sandbox::{AppState, json_response, parse_version};
use compile::Ctx;
use exec::RunOptions;

/// Default and maximum page size.
pub const MAX_BATCH: u64 = 2000;
/// Smallest page size `Sforce-Query-Options` may ask for.
pub const MIN_BATCH: u64 = 200;
/// How long a query locator stays valid.
pub const CURSOR_LIFETIME_SECS: i64 = 2 * 24 * 60 * 60;

/// Routes: query, queryAll, their cursors, and SOSL search.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/queryAll", get(query_all))
        .route("/services/data/{version}/query/{locator}", get(next_page))
        .route(
            "/services/data/{version}/queryAll/{locator}",
            get(next_page),
        )
        .merge(super::search::routes())
}

async fn query(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Auth(principal): Auth,
) -> Response {
    // `columns=true` (asked by the Salesforce CLI): column metadata instead of rows.
    if params
        .get("columns")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    {
        let text = params.get("q").map_or("", |q| q.trim());
        return respond(super::query_columns::columns(&state.schema, text));
    }
    respond(first_page(
        &state,
        &principal,
        &version,
        params.get("q"),
        &headers,
        false,
    ))
}

async fn query_all(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Auth(principal): Auth,
) -> Response {
    respond(first_page(
        &state,
        &principal,
        &version,
        params.get("q"),
        &headers,
        true,
    ))
}

async fn next_page(
    State(state): State<Arc<AppState>>,
    Path((version, locator)): Path<(String, String)>,
    Auth(principal): Auth,
) -> Response {
    respond(cursor_page(&state, &principal, &version, &locator))
}

fn respond(result: Result<Json, SfError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

/// `batchSize=N` from `Sforce-Query-Options`, clamped to 200–2000.
pub fn batch_size(headers: &HeaderMap) -> u64 {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|part| {
                let (k, val) = part.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("batchSize")
                    .then(|| val.trim().parse::<u64>().ok())?
            })
        })
        .map_or(MAX_BATCH, |n| n.clamp(MIN_BATCH, MAX_BATCH))
}

fn version_of(segment: &str) -> String {
    parse_version(segment).unwrap_or("63.0").to_string()
}

/// Parses SOQL text, mapping syntax errors to `MALFORMED_QUERY`.
///
/// # Errors
/// `400 MALFORMED_QUERY` with Salesforce's positional message.
pub fn parse_soql(text: &str) -> Result<crate::soql::Query, SfError> {
    crate::soql::parse(text).map_err(|e| compile::malformed(e.salesforce_message(text)))
}

fn ctx<'a>(state: &'a AppState, principal: &'a Principal) -> Ctx<'a> {
    Ctx {
        schema: &state.schema,
        policy: &state.policy,
        principal,
        today: state.clock.today(),
    }
}

fn first_page(
    state: &AppState,
    principal: &Principal,
    version: &str,
    q: Option<&String>,
    headers: &HeaderMap,
    all_rows: bool,
) -> Result<Json, SfError> {
    let text = q
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| compile::malformed("A query string has to be specified"))?;
    let query = parse_soql(text)?;
    let version = version_of(version);
    // Admin objects served from configuration and usage counts (`admin_api.rs`).
    if let Some(body) = super::admin_api::virtual_query(state, principal, &query, &version)? {
        return Ok(body);
    }
    let batch = batch_size(headers);
    let conn = state.lock_db();
    let opts = RunOptions {
        all_rows,
        batch,
        start: 0,
        known_total: None,
        version: &version,
    };
    let page = exec::run(&conn, ctx(state, principal), &query, opts)?;
    let next = match page.next {
        Some(offset) => Some(save_cursor(
            &conn, principal, text, all_rows, batch, page.total, offset,
        )?),
        None => None,
    };
    Ok(body(page, next, &version))
}

fn body(page: exec::Page, next: Option<String>, version: &str) -> Json {
    let mut out = json!({"totalSize": page.total, "done": next.is_none(), "records": page.records});
    if let Some(locator) = next {
        out["nextRecordsUrl"] = json!(format!("/services/data/v{version}/query/{locator}"));
    }
    out
}

fn ensure_cursor_table(conn: &Connection) -> Result<(), SfError> {
    conn.prepare_cached(
        "CREATE TABLE IF NOT EXISTS sayso_query_cursor (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, soql TEXT NOT NULL,
             all_rows INTEGER NOT NULL, batch INTEGER NOT NULL, total INTEGER NOT NULL,
             created INTEGER NOT NULL DEFAULT (unixepoch()))",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(SfError::internal)?;
    Ok(())
}

/// Stores a cursor and returns the locator of the page at `offset` (`01g…-offset`).
fn save_cursor(
    conn: &Connection,
    principal: &Principal,
    soql: &str,
    all_rows: bool,
    batch: u64,
    total: u64,
    offset: u64,
) -> Result<String, SfError> {
    ensure_cursor_table(conn)?;
    let hex = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    let id = format!("01g{}", &hex[..15]);
    // Locators live two days, as in Salesforce; older cursors are dropped as new ones are made.
    conn.prepare_cached("DELETE FROM sayso_query_cursor WHERE created < unixepoch() - ?1")
        .and_then(|mut s| s.execute([CURSOR_LIFETIME_SECS]))
        .map_err(SfError::internal)?;
    conn.prepare_cached("INSERT INTO sayso_query_cursor (id, user_id, soql, all_rows, batch, total) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .and_then(|mut s| {
            s.execute(params![
                id,
                principal.user_id,
                soql,
                all_rows,
                i64::try_from(batch).unwrap_or(2000),
                i64::try_from(total).unwrap_or(i64::MAX)
            ])
        })
        .map_err(SfError::internal)?;
    Ok(format!("{id}-{offset}"))
}

fn invalid_locator() -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_LOCATOR",
        "invalid query locator",
    )
}

fn cursor_page(
    state: &AppState,
    principal: &Principal,
    version: &str,
    locator: &str,
) -> Result<Json, SfError> {
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid_locator)?;
    let offset: u64 = offset.parse().map_err(|_| invalid_locator())?;
    let version = version_of(version);
    let conn = state.lock_db();
    ensure_cursor_table(&conn)?;
    let row: Option<(String, bool, i64, i64)> = conn
        .prepare_cached("SELECT soql, all_rows, batch, total FROM sayso_query_cursor WHERE id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.query_row(params![id, principal.user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional())
        .map_err(SfError::internal)?;
    let (soql, all_rows, batch, total) = row.ok_or_else(invalid_locator)?;
    let total = u64::try_from(total).unwrap_or(0);
    if offset >= total {
        return Err(invalid_locator());
    }
    let query = parse_soql(&soql)?;
    let opts = RunOptions {
        all_rows,
        batch: u64::try_from(batch).unwrap_or(MAX_BATCH),
        start: offset,
        known_total: Some(total),
        version: &version,
    };
    let page = exec::run(&conn, ctx(state, principal), &query, opts)?;
    let next = page.next.map(|n| format!("{id}-{n}"));
    Ok(body(page, next, &version))
}
