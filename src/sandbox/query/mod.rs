//! The sandbox's SOQL endpoints: `GET query?q=`, `queryAll?q=`, and the `nextRecordsUrl` pages
//! `query/{locator}` / `queryAll/{locator}`; also merges the SOSL route from [`search`].
//!
//! Owns the HTTP side of SOQL: parsing the query text ([`crate::soql::parse`], syntax errors become
//! `MALFORMED_QUERY` with Salesforce's `ERROR at Row:…:Column:…` message), page size from
//! `Sforce-Query-Options: batchSize=N` (200–2000, default 2000) and query cursors with their two
//! tables. It compiles and renders nothing itself (`exec.rs` does), and must not touch the Bulk
//! query snapshot (`bulk/query.rs`) or the sObject tables.
//!
//! A query cursor is a snapshot of its result's record ids, taken when the first page overflows:
//! one `INSERT … SELECT` ([`exec::keys_sql`]) copies the ids, in result order, into
//! `sayso_query_cursor_row` (contiguous rowids, so a page is a rowid range; temp storage goes to
//! disk meanwhile so a million-row sort spills instead of filling RAM), and `sayso_query_cursor`
//! keeps the query text, the caller, the page size, the total and the first rowid. A locator
//! `01g…-N` names the cursor and the position of its page; each page renders exactly the records
//! at positions `N..N+batch` ([`exec::run_slice`]), so paging N rows costs O(N) in all, and the set
//! and order of records never shift: an update or delete between pages doesn't make a record
//! repeat or go missing. Field values are read when the page is served (as of the page, not the
//! first page); a record purged from the store since is left out of its page. Locators live two
//! days ([`CURSOR_LIFETIME_SECS`]): an expired or unknown one is `INVALID_QUERY_LOCATOR`, and
//! expired cursors and their snapshot rows are deleted when the next cursor is made. Aggregate
//! queries never have a cursor (one page of at most 2,000 groups). API-call counting and the
//! `Sforce-Limit-Info` header come from the data-route middleware (`session::authenticate`).
//!
//! Submodules: `compile` (AST → SQL), `exec` (running, result JSON), `flat` (CSV columns for Bulk
//! query jobs), `dates` (date literals).

pub mod columns;
pub mod compile;
pub mod dates;
pub mod exec;
pub mod flat;
pub mod search;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value as Json, json};

use crate::sandbox::error::SfError;
use crate::sandbox::security::Principal;
use crate::sandbox::session::Auth;
use crate::sandbox::state::AppState;
use crate::sandbox::wire::{json_response, parse_version};
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
        .route("/services/data/{version}/queryAll", get(query))
        .route("/services/data/{version}/query/{locator}", get(next_page))
        .route(
            "/services/data/{version}/queryAll/{locator}",
            get(next_page),
        )
        .merge(search::routes())
}

/// `GET query?q=` and `GET queryAll?q=` (the path says which; `queryAll` also sees deleted
/// records).
async fn query(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    Auth(principal): Auth,
) -> Response {
    let all = uri.path().ends_with("/queryAll");
    // `columns=true` (asked by the Salesforce CLI): column metadata instead of rows.
    if !all
        && params
            .get("columns")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    {
        let text = params.get("q").map_or("", |q| q.trim());
        let version = version_of(&version);
        return respond(columns::columns_for(&state, &principal, &version, text));
    }
    respond(first_page(
        &state,
        &principal,
        &version,
        params.get("q"),
        &headers,
        all,
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

/// The longest SOQL statement Salesforce accepts, in characters (on every route: query,
/// queryAll, composite, batch, Bulk query jobs).
pub const MAX_SOQL_CHARS: usize = 100_000;

/// `MALFORMED_QUERY` when `text` is longer than [`MAX_SOQL_CHARS`].
///
/// # Errors
/// `400 MALFORMED_QUERY` naming the limit.
pub fn check_length(text: &str) -> Result<(), SfError> {
    // Bytes ≥ characters, so only long texts need counting.
    if text.len() > MAX_SOQL_CHARS && text.chars().count() > MAX_SOQL_CHARS {
        return Err(compile::malformed(format!(
            "SOQL statements cannot be longer than {MAX_SOQL_CHARS} characters"
        )));
    }
    Ok(())
}

/// Parses SOQL text, mapping syntax errors to `MALFORMED_QUERY`: statements over
/// [`MAX_SOQL_CHARS`], nesting past [`crate::soql::parser::MAX_NESTING`] and comments (which
/// SOQL does not have) are refused too.
///
/// # Errors
/// `400 MALFORMED_QUERY` with Salesforce's positional message.
pub fn parse_soql(text: &str) -> Result<crate::soql::Query, SfError> {
    check_length(text)?;
    reject_comments(text)?;
    crate::soql::parse(text).map_err(|e| compile::malformed(e.salesforce_message(text)))
}

/// SOQL has no comments: the shared lexer reads `/* … */` and `// …` as trivia (the agent never
/// writes them), so the sandbox refuses them here, as Salesforce does.
fn reject_comments(text: &str) -> Result<(), SfError> {
    use crate::soql::lexer::{TokenKind, tokenize};
    if !text.contains("/*") && !text.contains("//") {
        return Ok(());
    }
    match tokenize(text)
        .into_iter()
        .find(|t| t.kind == TokenKind::Comment)
    {
        Some(t) => {
            let e = crate::soql::ParseError {
                span: t.span.clone(),
                expected: "a token".to_string(),
                found: "'/'".to_string(),
                reason: None,
            };
            Err(compile::malformed(e.salesforce_message(text)))
        }
        None => Ok(()),
    }
}

/// The compile context of a query run by `principal` today.
pub fn ctx<'a>(state: &'a AppState, principal: &'a Principal) -> Ctx<'a> {
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
    // Admin objects served from configuration and usage counts (`admin_api/mod.rs`).
    if let Some(body) =
        crate::sandbox::admin_api::virtual_query(state, principal, &query, &version)?
    {
        return Ok(body);
    }
    let batch = batch_size(headers);
    let conn = state.lock_db();
    let opts = RunOptions {
        all_rows,
        batch,
        version: &version,
    };
    let ctx = ctx(state, principal);
    let mut page = exec::run(&conn, ctx, &query, opts)?;
    let next = match page.next {
        Some(offset) => {
            let (id, total) = save_cursor(&conn, ctx, &query, text, all_rows, batch)?;
            // Both ran under one lock, so the snapshot starts with this page's rows.
            page.total = total;
            (offset < total).then(|| format!("{id}-{offset}"))
        }
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

/// Creates the cursor tables; a `sayso_query_cursor` from before snapshots (no `first_rid`) is
/// replaced, which only invalidates its locators.
fn ensure_cursor_tables(conn: &Connection) -> Result<(), SfError> {
    if conn
        .prepare_cached("SELECT first_rid FROM sayso_query_cursor LIMIT 0")
        .is_err()
    {
        conn.execute_batch("DROP TABLE IF EXISTS sayso_query_cursor")
            .map_err(SfError::from)?;
    }
    conn.prepare_cached(
        "CREATE TABLE IF NOT EXISTS sayso_query_cursor (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
             soql TEXT NOT NULL, batch INTEGER NOT NULL, total INTEGER NOT NULL,
             first_rid INTEGER NOT NULL, created INTEGER NOT NULL DEFAULT (unixepoch()))",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(SfError::from)?;
    conn.prepare_cached(
        "CREATE TABLE IF NOT EXISTS sayso_query_cursor_row (rid INTEGER PRIMARY KEY, record_id TEXT NOT NULL)",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(SfError::from)?;
    Ok(())
}

/// Deletes cursors older than [`CURSOR_LIFETIME_SECS`] and their snapshot rows.
fn drop_expired(conn: &Connection) -> rusqlite::Result<()> {
    let expired: Vec<(String, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, first_rid, total FROM sayso_query_cursor WHERE created < unixepoch() - ?1",
        )?
        .query_map([CURSOR_LIFETIME_SECS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    drop_cursors(conn, expired)
}

/// How many query cursors one user may hold open: as in Salesforce, opening another releases the
/// oldest (its locators then get `INVALID_QUERY_LOCATOR`). Also bounds the snapshots' disk use.
const CURSORS_PER_USER: i64 = 10;

/// Releases `user`'s oldest cursors so that one more fits under [`CURSORS_PER_USER`].
fn release_oldest(conn: &Connection, user: &str) -> rusqlite::Result<()> {
    let oldest: Vec<(String, i64, i64)> = conn
        .prepare_cached(
            "SELECT id, first_rid, total FROM sayso_query_cursor WHERE user_id = ?1
             ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?2",
        )?
        .query_map(params![user, CURSORS_PER_USER - 1], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    drop_cursors(conn, oldest)
}

/// Deletes cursors `(id, first row, row count)` and their snapshot rows.
fn drop_cursors(conn: &Connection, cursors: Vec<(String, i64, i64)>) -> rusqlite::Result<()> {
    for (id, first, total) in cursors {
        conn.prepare_cached("DELETE FROM sayso_query_cursor_row WHERE rid >= ?1 AND rid < ?2")?
            .execute(params![first, first + total])?;
        conn.prepare_cached("DELETE FROM sayso_query_cursor WHERE id = ?1")?
            .execute([id])?;
    }
    Ok(())
}

/// Makes a cursor over the whole result of `query` (the page it was asked for included): copies
/// the result's record ids, in order, into `sayso_query_cursor_row` in one statement and stores the
/// cursor. Returns the cursor id (`01g…`) and the row count.
fn save_cursor(
    conn: &Connection,
    ctx: Ctx<'_>,
    query: &crate::soql::Query,
    soql: &str,
    all_rows: bool,
    batch: u64,
) -> Result<(String, u64), SfError> {
    ensure_cursor_tables(conn)?;
    let (keys, mut keys_params) = exec::keys_sql(ctx, query, all_rows)?;
    let hex = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    let id = format!("01g{}", &hex[..15]);
    // The store keeps temporary data in memory; sorting a million-row result there would hold it
    // all in RAM. File-backed temp storage lets the sorter spill (as the Bulk query snapshot does).
    conn.execute_batch("PRAGMA temp_store = FILE")
        .map_err(SfError::from)?;
    let saved = (|| -> rusqlite::Result<i64> {
        let tx = conn.unchecked_transaction()?;
        drop_expired(&tx)?;
        release_oldest(&tx, &ctx.principal.user_id)?;
        let n = tx.execute(
            &format!("INSERT INTO sayso_query_cursor_row (record_id) {keys}"),
            rusqlite::params_from_iter(keys_params.drain(..)),
        )? as i64;
        // One INSERT … SELECT numbers its rows consecutively after the table's largest rowid.
        let first = tx.last_insert_rowid() - n + 1;
        tx.prepare_cached(
            "INSERT INTO sayso_query_cursor (id, user_id, soql, batch, total, first_rid) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            id,
            ctx.principal.user_id,
            soql,
            i64::try_from(batch).unwrap_or(2000),
            n,
            first
        ])?;
        tx.commit()?;
        Ok(n)
    })();
    conn.execute_batch("PRAGMA temp_store = MEMORY")
        .map_err(SfError::from)?;
    let n = saved.map_err(SfError::from)?;
    Ok((id, u64::try_from(n).unwrap_or(0)))
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
    let offset: i64 = offset.parse().map_err(|_| invalid_locator())?;
    let version = version_of(version);
    let conn = state.lock_db();
    ensure_cursor_tables(&conn)?;
    let row: Option<(String, i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT soql, batch, total, first_rid FROM sayso_query_cursor
             WHERE id = ?1 AND user_id = ?2 AND created >= unixepoch() - ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![id, principal.user_id, CURSOR_LIFETIME_SECS], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(SfError::from)?;
    let (soql, batch, total, first) = row.ok_or_else(invalid_locator)?;
    if !(0..total).contains(&offset) {
        return Err(invalid_locator());
    }
    let query = parse_soql(&soql)?;
    let end = offset.saturating_add(batch).min(total);
    let slice = exec::Slice {
        table: "sayso_query_cursor_row",
        first: first + offset,
        end: first + end,
    };
    // The snapshot already chose the rows (queryAll or not): `all_rows` plays no part here.
    let opts = RunOptions {
        all_rows: false,
        batch: u64::try_from(batch).unwrap_or(MAX_BATCH),
        version: &version,
    };
    let records = exec::run_slice(&conn, ctx(state, principal), &query, slice, opts)?;
    let page = exec::Page {
        total: u64::try_from(total).unwrap_or(0),
        records,
        next: None,
    };
    let next = (end < total).then(|| format!("{id}-{end}"));
    Ok(body(page, next, &version))
}
