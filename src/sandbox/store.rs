//! The sandbox's SQLite store: opening the database, creating one table per served sObject (typed
//! columns named exactly as the API fields, indexes on lookup and name fields) plus the sandbox's
//! own `sayso_*` tables, and converting values between JSON / CSV text and columns.
//!
//! Column encoding (the sandbox contract): text-like types → TEXT; multipicklist → TEXT joined by
//! `;`; date → TEXT `YYYY-MM-DD`; datetime → TEXT `YYYY-MM-DDTHH:MM:SS.SSS+0000` (UTC); boolean →
//! INTEGER 0/1; int → INTEGER; double/currency/percent → REAL; null → NULL. Every table also has an
//! `"IsDeleted"` INTEGER column (even objects whose describe lacks it, e.g. User) so soft delete and
//! `queryAll` work uniformly.
//!
//! Owns table layout and value conversion; it does not validate writes (see `dml.rs`) or apply
//! security. Identifiers are always quoted with [`quote_ident`]; values are always bound parameters.

use crate::sandbox::clock;
use crate::sandbox::error::SfError;
use crate::sandbox::schema::{Field, FieldType, ObjectSchema, Schema, Storage};
use base64::Engine;
use rusqlite::Connection;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value;
use std::path::Path;

/// Version of the table layout; a database with another version is rebuilt from the demo org.
pub const LAYOUT_VERSION: i64 = 3;

/// Why the store could not be opened or initialised.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sandbox database error")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file's directory could not be created or the file removed.
    #[error("cannot prepare the sandbox database at `{path}`")]
    Io {
        /// The database path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Quotes an SQL identifier (`"StageName"`), doubling embedded quotes.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Opens (creating if needed) the database at `path`, in WAL mode; `None` opens an in-memory
/// database. With `fresh`, an existing file is deleted first.
///
/// # Errors
/// [`StoreError`] on I/O or SQLite failure.
/// Refreshes the query planner's statistics (`ANALYZE`, sampling at most 1,000 index rows, a few
/// milliseconds even at a million rows) for one table, or for all. Without them SQLite assumes
/// any equality is selective: after a large load it drove `OwnerId IN (…) AND Id IN (200 ids)` —
/// the sharing filter of a non-admin user plus an id lookup — by the OwnerId index, scanning all
/// of the owner's rows (0.25 s a query at 1,000,000 rows instead of 10 ms).
///
/// # Errors
/// SQLite's.
pub fn refresh_statistics(conn: &Connection, table: Option<&str>) -> rusqlite::Result<()> {
    let target = table.map(quote_ident).unwrap_or_default();
    conn.execute_batch(&format!("PRAGMA analysis_limit = 1000; ANALYZE {target};"))
}

/// Whether the planner's statistics were ever gathered (`sqlite_stat1` exists).
///
/// # Errors
/// SQLite's.
pub fn has_statistics(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

pub fn open(path: Option<&Path>, fresh: bool) -> Result<Connection, StoreError> {
    let conn = match path {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    path: p.display().to_string(),
                    source,
                })?;
            }
            if fresh {
                for suffix in ["", "-wal", "-shm"] {
                    let f = format!("{}{suffix}", p.display());
                    match std::fs::remove_file(&f) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(StoreError::Io { path: f, source }),
                    }
                }
            }
            Connection::open(p)?
        }
        None => Connection::open_in_memory()?,
    };
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000;",
    )?;
    conn.set_prepared_statement_cache_capacity(256);
    conn.create_collation(UNICODE_NOCASE, unicode_nocase_cmp)?;
    Ok(conn)
}

/// A collation comparing text case-insensitively over all of Unicode, as SOQL does
/// (`= 'ünïcödé'` matches `Ünïcödé`); SQLite's own `NOCASE` folds ASCII letters only. Queries use
/// it only for values with non-ASCII text, so ASCII comparisons keep the `NOCASE` indexes.
pub const UNICODE_NOCASE: &str = "SAYSO_NOCASE";

/// The [`UNICODE_NOCASE`] order: both texts lower-cased character by character.
pub fn unicode_nocase_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// The layout version stored in `sayso_meta`, or `None` for an empty database.
pub fn stored_layout_version(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type='table' AND name='sayso_meta')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(None);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM sayso_meta WHERE key='layout_version'",
            [],
            |r| r.get(0),
        )
        .ok();
    Ok(v.and_then(|s| s.parse().ok()))
}

/// Drops every table (object and `sayso_*`) so the database can be rebuilt.
///
/// # Errors
/// SQLite failures.
pub fn drop_all(conn: &Connection) -> Result<(), StoreError> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for n in names {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(&n)))?;
    }
    Ok(())
}

fn sql_type(f: &Field) -> &'static str {
    match f.ty.storage() {
        Storage::Text | Storage::None => "TEXT",
        Storage::Integer | Storage::Boolean => "INTEGER",
        Storage::Real => "REAL",
    }
}

/// The fields that get an index on their table.
fn indexed(obj: &ObjectSchema, f: &Field) -> bool {
    const NAMES: &[&str] = &[
        "OwnerId",
        "AccountId",
        "WhatId",
        "WhoId",
        "ContactId",
        "OpportunityId",
        "ContentDocumentId",
        "LinkedEntityId",
        "CaseNumber",
        "LastModifiedDate",
        "Email",
        "ParentId",
        "Username",
        "StageName",
        "CloseDate",
        "Status",
    ];
    f.name != "Id"
        && (f.name_field
            || f.external_id
            || NAMES.contains(&f.name.as_str())
            || f.name == "LastName"
            || (obj.name == "Lead" && f.name == "Company"))
}

/// `CREATE TABLE` for one object (plus its indexes).
pub fn create_object_table(conn: &Connection, obj: &ObjectSchema) -> Result<(), StoreError> {
    let mut cols = vec!["\"Id\" TEXT PRIMARY KEY NOT NULL".to_string()];
    let mut has_deleted = false;
    for f in obj.columns() {
        if f.name == "Id" {
            continue;
        }
        if f.name == "IsDeleted" {
            has_deleted = true;
            cols.push("\"IsDeleted\" INTEGER NOT NULL DEFAULT 0".to_string());
            continue;
        }
        cols.push(format!("{} {}", quote_ident(&f.name), sql_type(f)));
    }
    if !has_deleted {
        cols.push("\"IsDeleted\" INTEGER NOT NULL DEFAULT 0".to_string());
    }
    let table = quote_ident(&obj.name);
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {table} ({});\n",
        cols.join(", ")
    );
    for f in obj.columns().filter(|f| indexed(obj, f)) {
        // SOQL text equality is case-insensitive (`= ? COLLATE NOCASE`); SQLite uses an index for
        // it only when the index has NOCASE collation. Ids, references and dates stay binary.
        let text = f.ty.storage() == Storage::Text
            && !matches!(
                f.ty,
                FieldType::Id | FieldType::Reference | FieldType::Date | FieldType::Datetime
            );
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} ({}{});\n",
            quote_ident(&format!("idx_{}_{}", obj.name, f.name)),
            quote_ident(&f.name),
            if text { " COLLATE NOCASE" } else { "" }
        ));
    }
    conn.execute_batch(&sql)?;
    Ok(())
}

/// Creates all object tables and the sandbox's own `sayso_*` tables.
///
/// Own tables:
/// - `sayso_meta(key, value)` — layout version, seed date.
/// - `sayso_user(user_id, username, profile, role, permission_sets, profile_id, role_id)` — what
///   `User.csv` says about each user's access (permission sets joined by `;`).
/// - `sayso_session(token_hash, user_id, client_id, scopes, issued_at, expires_at)` — access
///   tokens (only their SHA-256 is stored; see `session.rs`).
/// - `sayso_api_usage(ts, user_id, client_id)` — one row per counted REST call (epoch seconds).
/// - `sayso_bulk_job(id, seq, info, user_id, client_id, data, state, processed, failed, …)` and
///   `sayso_bulk_result(job_id, chunk, kind, csv)` — Bulk API 2.0 jobs, their uploaded CSV and
///   result CSV fragments per processed chunk (see `bulk/ingest.rs`).
///
/// # Errors
/// SQLite failures.
pub fn create_tables(conn: &Connection, schema: &Schema) -> Result<(), StoreError> {
    for obj in schema.objects() {
        create_object_table(conn, obj)?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sayso_meta (key TEXT PRIMARY KEY, value TEXT);
         CREATE TABLE IF NOT EXISTS sayso_user (user_id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,
             profile TEXT NOT NULL, role TEXT, permission_sets TEXT NOT NULL DEFAULT '', profile_id TEXT, role_id TEXT);
         CREATE TABLE IF NOT EXISTS sayso_session (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, client_id TEXT,
             scopes TEXT NOT NULL DEFAULT '', issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS sayso_api_usage (ts INTEGER NOT NULL, user_id TEXT, client_id TEXT);
         CREATE INDEX IF NOT EXISTS idx_sayso_api_usage_ts ON sayso_api_usage (ts);
         CREATE TABLE IF NOT EXISTS sayso_bulk_job (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, info TEXT NOT NULL,
             user_id TEXT NOT NULL, client_id TEXT, data TEXT, state TEXT NOT NULL, processed INTEGER NOT NULL DEFAULT 0,
             failed INTEGER NOT NULL DEFAULT 0, started_ms INTEGER, finished_ms INTEGER);
         CREATE TABLE IF NOT EXISTS sayso_bulk_result (job_id TEXT NOT NULL, chunk INTEGER NOT NULL, kind TEXT NOT NULL,
             csv TEXT NOT NULL, PRIMARY KEY (job_id, chunk, kind));",
    )?;
    Ok(())
}

/// Converts a column value to its record-JSON form for `field`.
pub fn to_json(field: &Field, v: ValueRef<'_>) -> Value {
    match (field.ty.storage(), v) {
        (Storage::Boolean, ValueRef::Null) => Value::Bool(false),
        (_, ValueRef::Null) => Value::Null,
        (Storage::Boolean, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (Storage::Integer, ValueRef::Integer(i)) => Value::from(i),
        (Storage::Integer, ValueRef::Real(f)) => Value::from(f as i64),
        (Storage::Real, ValueRef::Integer(i)) => real(i as f64),
        (Storage::Real, ValueRef::Real(f)) => real(f),
        (_, ValueRef::Integer(i)) => Value::from(i),
        (_, ValueRef::Real(f)) => real(f),
        (_, ValueRef::Text(t)) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (_, ValueRef::Blob(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
    }
}

fn real(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn type_error(field: &Field, shown: &str) -> SfError {
    SfError::json_parser(format!(
        "Cannot deserialize instance of {} from VALUE_STRING value {shown} or request may be missing a required field",
        field.ty.as_str()
    ))
}

/// Converts a JSON value from a request body to the column value of `field`.
///
/// # Errors
/// `JSON_PARSER_ERROR` when the JSON type does not fit the field type.
pub fn from_json(field: &Field, v: &Value) -> Result<SqlValue, SfError> {
    match v {
        Value::Null => Ok(SqlValue::Null),
        Value::String(s) => from_text(field, s).map_err(|_| type_error(field, s)),
        Value::Bool(bv) => match field.ty.storage() {
            Storage::Boolean => Ok(SqlValue::Integer(i64::from(*bv))),
            Storage::Text if field.ty != FieldType::Date && field.ty != FieldType::Datetime => {
                Ok(SqlValue::Text(bv.to_string()))
            }
            _ => Err(type_error(field, &bv.to_string())),
        },
        Value::Number(n) => match field.ty.storage() {
            Storage::Integer => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(SqlValue::Integer)
                .ok_or_else(|| type_error(field, &n.to_string())),
            Storage::Real => n
                .as_f64()
                .map(SqlValue::Real)
                .ok_or_else(|| type_error(field, &n.to_string())),
            Storage::Boolean => Err(type_error(field, &n.to_string())),
            _ if field.ty.is_text() => Ok(SqlValue::Text(n.to_string())),
            _ => Err(type_error(field, &n.to_string())),
        },
        Value::Array(a) if field.ty == FieldType::Multipicklist => {
            let parts: Vec<String> = a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            Ok(SqlValue::Text(parts.join(";")))
        }
        other => Err(SfError::json_parser(format!(
            "Cannot deserialize instance of {} from {} value",
            field.ty.as_str(),
            if other.is_array() {
                "START_ARRAY"
            } else {
                "START_OBJECT"
            }
        ))),
    }
}

/// Converts text (a JSON string or a CSV cell) to the column value of `field`.
///
/// # Errors
/// `INVALID_TYPE_ON_FIELD_IN_RECORD` (`"<Label>: value not of required type: <v>"`).
pub fn from_text(field: &Field, s: &str) -> Result<SqlValue, SfError> {
    let bad = || {
        SfError::dml(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            format!("{}: value not of required type: {s}", field.label),
            vec![field.name.clone()],
        )
    };
    match field.ty {
        FieldType::Boolean => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(SqlValue::Integer(1)),
            "false" | "0" | "no" | "" => Ok(SqlValue::Integer(0)),
            _ => Err(bad()),
        },
        FieldType::Int => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(SqlValue::Null);
            }
            t.parse::<i64>()
                .ok()
                .or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0)
                        .map(|f| f as i64)
                })
                .map(SqlValue::Integer)
                .ok_or_else(bad)
        }
        FieldType::Double | FieldType::Currency | FieldType::Percent => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(SqlValue::Null);
            }
            t.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(SqlValue::Real)
                .ok_or_else(bad)
        }
        FieldType::Date => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(SqlValue::Null);
            }
            if let Some(d) = clock::parse_date(t) {
                return Ok(SqlValue::Text(d.to_string()));
            }
            clock::parse_datetime(t)
                .map(|d| SqlValue::Text(d.date_naive().to_string()))
                .ok_or_else(bad)
        }
        FieldType::Datetime => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(SqlValue::Null);
            }
            clock::parse_datetime(t)
                .map(|d| SqlValue::Text(clock::format_datetime(d)))
                .ok_or_else(bad)
        }
        FieldType::Id | FieldType::Reference => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(SqlValue::Null);
            }
            Ok(SqlValue::Text(t.to_string()))
        }
        FieldType::Base64 => Ok(SqlValue::Text(decode_note_body(s))),
        _ => Ok(SqlValue::Text(s.to_string())),
    }
}

/// A ContentNote `Content` arrives base64-encoded per the API; plain text is accepted too. Returns
/// the text to store.
pub fn decode_note_body(s: &str) -> String {
    let t = s.trim();
    if !t.is_empty()
        && t.len().is_multiple_of(4)
        && !t.contains(char::is_whitespace)
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(t)
        && let Ok(text) = String::from_utf8(bytes)
    {
        return text;
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::schema::Schema;
    use serde_json::json;

    #[test]
    fn json_values_map_to_typed_columns_and_back() {
        let s = Schema::demo().unwrap();
        let opp = s.object("Opportunity").unwrap();
        let amount = opp.field("Amount").unwrap();
        assert_eq!(from_json(amount, &json!(5)).unwrap(), SqlValue::Real(5.0));
        assert_eq!(to_json(amount, ValueRef::Real(5.0)), json!(5.0));
        let close = opp.field("CloseDate").unwrap();
        assert_eq!(
            from_json(close, &json!("2025-06-30")).unwrap(),
            SqlValue::Text("2025-06-30".into())
        );
        assert_eq!(
            from_json(close, &json!("soon")).unwrap_err().code(),
            "JSON_PARSER_ERROR"
        );
        let closed = opp.field("IsClosed").unwrap();
        assert_eq!(to_json(closed, ValueRef::Integer(1)), json!(true));
        let created = opp.field("CreatedDate").unwrap();
        assert_eq!(
            from_json(created, &json!("2025-05-01T16:02:11Z")).unwrap(),
            SqlValue::Text("2025-05-01T16:02:11.000+0000".into())
        );
        assert_eq!(
            from_text(amount, "abc").unwrap_err().code(),
            "INVALID_TYPE_ON_FIELD_IN_RECORD"
        );
    }

    #[test]
    fn note_bodies_accept_base64_and_plain_text() {
        assert_eq!(decode_note_body("SGVsbG8gd29ybGQ="), "Hello world");
        assert_eq!(decode_note_body("Plain text note"), "Plain text note");
    }

    #[test]
    fn tables_are_created_for_every_object() {
        let conn = open(None, false).unwrap();
        let s = Schema::demo().unwrap();
        create_tables(&conn, &s).unwrap();
        for o in s.objects() {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {}", quote_ident(&o.name)),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0);
        }
        // Every table has IsDeleted, even User.
        conn.execute(
            "INSERT INTO \"User\" (\"Id\", \"IsDeleted\") VALUES ('x', 0)",
            [],
        )
        .unwrap();
    }
}
