//! Record writes and reads shared by every data path (REST rows, collections, composite, bulk):
//! field checks (unknown, read-only, hidden by field-level security), value validation with
//! Salesforce's error codes, defaults, derived values (`derive.rs`), audit fields, autonumbers and
//! new ids, sharing checks through `Policy`, and the SQL itself.
//!
//! Every function takes the `Connection` (or a `Transaction`, which derefs to it) so callers decide
//! the transaction scope: REST rows write directly, collections and composite with `allOrNone`
//! wrap several calls in one transaction, Bulk uses one transaction per chunk.
//!
//! Owns write semantics; it does not parse HTTP or decide response shapes.

use crate::id::RecordId;
use crate::sandbox::derive::{self, Row};
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::schema::{Field, FieldType, ObjectSchema, Schema};
use crate::sandbox::security::{FieldAccess, ObjectAccess, Principal, RowAccess, SqlFilter};
use crate::sandbox::state::AppState;
use crate::sandbox::store::{self, quote_ident};
use axum::http::StatusCode;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

/// The pod part of ids minted by the sandbox; the demo data uses `Dm`, so new ids never collide.
pub const NEW_ID_POD: &str = "Sy";

/// Hands out new record ids (per key prefix) and Case numbers. Counters start after the highest
/// value in the database, so restarts continue the sequence.
#[derive(Debug, Default)]
pub struct IdAllocator {
    next: Mutex<HashMap<String, u64>>,
    case_number: Mutex<u64>,
}

impl IdAllocator {
    /// Scans the database for the highest sandbox-minted id of each object and the highest Case number.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn load(conn: &Connection, schema: &Schema) -> Result<IdAllocator, rusqlite::Error> {
        let mut next = HashMap::new();
        for obj in schema.objects() {
            let sql = format!(
                "SELECT \"Id\" FROM {} WHERE substr(\"Id\", 4, 2) = ?1 ORDER BY \"Id\" DESC LIMIT 1",
                quote_ident(&obj.name)
            );
            let top: Option<String> = conn
                .query_row(&sql, [NEW_ID_POD], |r| r.get(0))
                .optional()?;
            let seq = top
                .and_then(|id| id.get(5..15).and_then(|s| s.parse::<u64>().ok()))
                .unwrap_or(0);
            next.insert(obj.key_prefix.clone(), seq + 1);
        }
        let case_number = if schema.object("Case").is_some() {
            let max: Option<String> = conn.query_row(
                "SELECT MAX(CAST(\"CaseNumber\" AS INTEGER)) FROM \"Case\"",
                [],
                |r| r.get::<_, Option<i64>>(0).map(|v| v.map(|n| n.to_string())),
            )?;
            max.and_then(|s| s.parse::<u64>().ok()).unwrap_or(1000) + 1
        } else {
            1001
        };
        Ok(IdAllocator {
            next: Mutex::new(next),
            case_number: Mutex::new(case_number),
        })
    }

    /// A fresh id for `obj` (`006Sy0000000001…`).
    pub fn next_id(&self, obj: &ObjectSchema) -> RecordId {
        let mut g = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.entry(obj.key_prefix.clone()).or_insert(1);
        let id = RecordId::from_parts(&obj.key_prefix, NEW_ID_POD, *n);
        *n += 1;
        id
    }

    /// The next Case number (`00001017`).
    pub fn next_case_number(&self) -> String {
        let mut g = self.case_number.lock().unwrap_or_else(|p| p.into_inner());
        let n = *g;
        *g += 1;
        format!("{n:08}")
    }
}

/// Who is writing, when, and through which API version.
pub struct Ctx<'a> {
    /// The sandbox.
    pub state: &'a AppState,
    /// The user (and app) the request runs as.
    pub principal: &'a Principal,
    /// The write time, formatted (`…+0000`).
    pub now: String,
    /// API version of the request (`63.0`), for `attributes.url`.
    pub version: String,
    /// Row filters already asked of the policy in this operation (Bulk asks once per job).
    filters: RefCell<HashMap<(String, bool), Option<SqlFilter>>>,
}

impl<'a> Ctx<'a> {
    /// A context stamped with the current time.
    pub fn new(state: &'a AppState, principal: &'a Principal, version: &str) -> Ctx<'a> {
        Ctx {
            state,
            principal,
            now: state.clock.now_string(),
            version: version.to_string(),
            filters: RefCell::new(HashMap::new()),
        }
    }

    /// The policy's row filter over `object` aliased `t`, memoised for this context.
    pub fn row_filter(&self, object: &str, access: RowAccess) -> Option<SqlFilter> {
        let key = (object.to_string(), access == RowAccess::Edit);
        if let Some(f) = self.filters.borrow().get(&key) {
            return f.clone();
        }
        let f = self
            .state
            .policy
            .row_filter(self.principal, object, "t", access);
        self.filters.borrow_mut().insert(key, f.clone());
        f
    }

    /// The principal's access to `obj` and each of its fields, computed once per operation.
    pub fn access(&self, obj: &ObjectSchema) -> Access {
        let policy = &self.state.policy;
        Access {
            object: policy.object_access(self.principal, &obj.name),
            fields: obj
                .fields
                .iter()
                .map(|f| policy.field_access(self.principal, &obj.name, &f.name))
                .collect(),
        }
    }
}

/// Object and field access of the principal to one object (fields parallel to `ObjectSchema::fields`).
#[derive(Debug, Clone)]
pub struct Access {
    /// Object permissions.
    pub object: ObjectAccess,
    /// Field-level access, by field position.
    pub fields: Vec<FieldAccess>,
}

impl Access {
    /// Field access of `field` (by name) in `obj`.
    pub fn field(&self, obj: &ObjectSchema, field: &Field) -> FieldAccess {
        obj.fields
            .iter()
            .position(|f| std::ptr::eq(f, field))
            .or_else(|| obj.fields.iter().position(|f| f.name == field.name))
            .and_then(|i| self.fields.get(i).copied())
            .unwrap_or(FieldAccess::Hidden)
    }
}

/// Create or update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Insert.
    Insert,
    /// Update.
    Update,
}

/// `400 INVALID_FIELD` for an unknown (or invisible) field in a write.
pub fn no_such_column(obj: &ObjectSchema, name: &str) -> SfError {
    SfError::dml(
        "INVALID_FIELD",
        format!("No such column '{name}' on sobject of type {}", obj.name),
        vec![],
    )
}

/// `400 INVALID_FIELD` for an unknown field in a read (`?fields=`).
pub fn no_such_column_read(obj: &ObjectSchema, name: &str) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        format!(
            "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
            obj.name
        ),
    )
}

/// Resolves a field of a write and checks it may be written; `Ok(None)` for fields to ignore
/// (`attributes`, and `Id` on update). Read-only fields are collected into `readonly`.
pub fn writable_field<'o>(
    obj: &'o ObjectSchema,
    access: &Access,
    name: &str,
    op: Op,
    readonly: &mut Vec<String>,
) -> SfResult<Option<&'o Field>> {
    if name == "attributes" {
        return Ok(None);
    }
    let field = obj
        .field(name)
        .filter(|f| access.field(obj, f) != FieldAccess::Hidden)
        .ok_or_else(|| no_such_column(obj, name))?;
    if field.name == "Id" && op == Op::Update {
        return Ok(None);
    }
    let describe_ok = match op {
        Op::Insert => field.createable,
        Op::Update => field.updateable,
    };
    if !describe_ok || access.field(obj, field) != FieldAccess::Edit {
        readonly.push(field.name.clone());
    }
    Ok(Some(field))
}

/// The INVALID_FIELD_FOR_INSERT_UPDATE error for read-only fields.
pub fn readonly_error(fields: Vec<String>) -> SfError {
    SfError::dml(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        format!(
            "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
            fields.join(", ")
        ),
        fields,
    )
}

/// Turns a JSON record body into column values, checking every field.
///
/// # Errors
/// INVALID_FIELD, INVALID_FIELD_FOR_INSERT_UPDATE, JSON_PARSER_ERROR.
pub fn changes_from_json(
    obj: &ObjectSchema,
    access: &Access,
    input: &Map<String, Value>,
    op: Op,
) -> SfResult<Row> {
    let mut row = Row::new();
    let mut readonly = Vec::new();
    for (k, v) in input {
        let Some(field) = writable_field(obj, access, k, op, &mut readonly)? else {
            continue;
        };
        let value = store::from_json(field, v)?;
        row.insert(field.name.clone(), value);
    }
    if !readonly.is_empty() {
        return Err(readonly_error(readonly));
    }
    Ok(row)
}

fn is_blank(v: Option<&SqlValue>) -> bool {
    match v {
        None | Some(SqlValue::Null) => true,
        Some(SqlValue::Text(t)) => t.trim().is_empty(),
        _ => false,
    }
}

/// Checks lengths, restricted picklists, emails and references of the values being written, and
/// normalises picklist case and ids to their 18-character form.
fn validate(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    changes: &mut Row,
) -> SfResult<()> {
    let mut keys: Vec<String> = changes.keys().cloned().collect();
    keys.sort();
    for name in keys {
        let Some(field) = obj.field(&name) else {
            continue;
        };
        let Some(SqlValue::Text(text)) = changes.get(&name).cloned() else {
            continue;
        };
        if field.ty.is_text() && field.length > 0 && text.chars().count() > field.length as usize {
            return Err(SfError::dml(
                "STRING_TOO_LONG",
                format!(
                    "{}: data value too large: {} (max length={})",
                    field.label, text, field.length
                ),
                vec![field.name.clone()],
            ));
        }
        match field.ty {
            FieldType::Picklist => {
                if let Some(p) = field.picklist_value(&text) {
                    changes.insert(name.clone(), SqlValue::Text(p.value.clone()));
                } else if field.restricted_picklist {
                    return Err(restricted(field, &text));
                }
            }
            FieldType::Multipicklist => {
                let mut parts = Vec::new();
                for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                    match field.picklist_value(part) {
                        Some(p) => parts.push(p.value.clone()),
                        None if field.restricted_picklist => return Err(restricted(field, part)),
                        None => parts.push(part.to_string()),
                    }
                }
                changes.insert(name.clone(), SqlValue::Text(parts.join(";")));
            }
            FieldType::Email if !text.is_empty() => {
                let ok = text
                    .split_once('@')
                    .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !text.contains(' '));
                if !ok {
                    return Err(SfError::dml(
                        "INVALID_EMAIL_ADDRESS",
                        format!("{}: invalid email address: {text}", field.label),
                        vec![field.name.clone()],
                    ));
                }
            }
            FieldType::Reference if !text.is_empty() => {
                let id = RecordId::parse(&text).map_err(|_| {
                    SfError::dml(
                        "MALFORMED_ID",
                        format!("{}: id value of incorrect type: {text}", field.label),
                        vec![field.name.clone()],
                    )
                })?;
                changes.insert(name.clone(), SqlValue::Text(id.to_string()));
                crate::sandbox::security::lookup::check_reference(ctx, conn, field, &id)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn restricted(field: &Field, v: &str) -> SfError {
    SfError::dml(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        format!(
            "{}: bad value for restricted picklist field: {v}",
            field.label
        ),
        vec![field.name.clone()],
    )
}

fn set_audit(obj: &ObjectSchema, row: &mut Row, ctx: &Ctx<'_>, insert: bool) {
    let now = SqlValue::Text(ctx.now.clone());
    let who = SqlValue::Text(ctx.principal.user_id.clone());
    let mut put = |f: &str, v: &SqlValue| {
        if obj.field(f).is_some() {
            row.insert(f.to_string(), v.clone());
        }
    };
    if insert {
        put("CreatedDate", &now);
        put("CreatedById", &who);
    }
    put("LastModifiedDate", &now);
    put("LastModifiedById", &who);
    put("SystemModstamp", &now);
}

/// Fills defaults of a new record: OwnerId, default picklist values, booleans.
pub fn apply_defaults(obj: &ObjectSchema, row: &mut Row, owner: &str) {
    for f in &obj.fields {
        if !f.is_column()
            || row
                .get(&f.name)
                .is_some_and(|v| !matches!(v, SqlValue::Null))
        {
            continue;
        }
        if f.name == "OwnerId" {
            row.insert(f.name.clone(), SqlValue::Text(owner.to_string()));
        } else if f.ty == FieldType::Boolean {
            let default_true = f.name == "IsActive" && obj.name == "User";
            row.insert(f.name.clone(), SqlValue::Integer(i64::from(default_true)));
        } else if f.ty == FieldType::Picklist
            && f.defaulted_on_create
            && !row.contains_key(&f.name)
            && let Some(d) = f.default_picklist()
        {
            row.insert(f.name.clone(), SqlValue::Text(d.to_string()));
        }
    }
    row.insert("IsDeleted".into(), SqlValue::Integer(0));
}

fn required_missing(obj: &ObjectSchema, row: &Row, only: Option<&Row>) -> SfResult<()> {
    let missing: Vec<String> = obj
        .fields
        .iter()
        .filter(|f| {
            f.is_column()
                && f.createable
                && !f.nillable
                && !f.defaulted_on_create
                && f.ty != FieldType::Boolean
        })
        .filter(|f| only.is_none_or(|c| c.contains_key(&f.name)))
        .filter(|f| is_blank(row.get(&f.name)))
        .map(|f| f.name.clone())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(SfError::dml(
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{}]", missing.join(", ")),
        missing,
    ))
}

fn column_keys(obj: &ObjectSchema, row: &Row) -> Vec<String> {
    let mut keys: Vec<String> = row
        .keys()
        .filter(|k| *k == "IsDeleted" || obj.field(k).is_some_and(|f| f.is_column()))
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Inserts a new record from prepared column values; returns its id.
///
/// # Errors
/// Object access, validation (lengths, picklists, references), REQUIRED_FIELD_MISSING, SQLite.
pub fn insert_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    access: &Access,
    mut changes: Row,
) -> SfResult<RecordId> {
    if !access.object.create || !obj.createable {
        return Err(SfError::dml(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            format!(
                "You do not have permission to create records of type {}",
                obj.name
            ),
            vec![],
        ));
    }
    validate(ctx, conn, obj, &mut changes)?;
    if obj.name == "ContentDocumentLink" {
        crate::sandbox::security::lookup::check_note_link(ctx, conn, &changes)?;
    }
    let mut row = changes.clone();
    apply_defaults(obj, &mut row, &ctx.principal.user_id);
    if obj.name == "Case" {
        row.insert(
            "CaseNumber".into(),
            SqlValue::Text(ctx.state.ids.next_case_number()),
        );
    }
    derive::apply(&obj.name, &mut row, &changes, true, &ctx.now);
    required_missing(obj, &row, None)?;
    set_audit(obj, &mut row, ctx, true);
    let id = ctx.state.ids.next_id(obj);
    row.insert("Id".into(), SqlValue::Text(id.to_string()));
    insert_columns(conn, obj, &row)?;
    Ok(id)
}

/// Inserts `row`'s stored columns (and `IsDeleted`) as a new row of `obj`'s table, as they are.
///
/// # Errors
/// SQLite.
pub fn insert_columns(conn: &Connection, obj: &ObjectSchema, row: &Row) -> rusqlite::Result<()> {
    let keys = column_keys(obj, row);
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote_ident(&obj.name),
        keys.iter()
            .map(|k| quote_ident(k))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; keys.len()].join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.execute(rusqlite::params_from_iter(keys.iter().map(|k| &row[k])))?;
    Ok(())
}

/// Parses a URL/body id for `obj`: not an id → NOT_FOUND; an id of another object → MALFORMED_ID.
///
/// # Errors
/// As above.
pub fn parse_id_for(obj: &ObjectSchema, text: &str) -> SfResult<RecordId> {
    let id = RecordId::parse(text).map_err(|_| SfError::malformed_id(&obj.label, text))?;
    if id.key_prefix() != obj.key_prefix {
        return Err(SfError::malformed_id(&obj.label, text));
    }
    Ok(id)
}

fn read_row(stmt: &mut rusqlite::Statement<'_>, params: &[SqlValue]) -> SfResult<Option<Row>> {
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let mut row = Row::with_capacity(names.len());
    for (i, n) in names.into_iter().enumerate() {
        let v: SqlValue = r.get(i)?;
        row.insert(n, v);
    }
    Ok(Some(row))
}

/// Loads a record visible to the principal (`RowAccess::Read`), including soft-deleted rows.
///
/// # Errors
/// SQLite failures.
pub fn load_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    id: &str,
) -> SfResult<Option<Row>> {
    let filter = ctx.row_filter(&obj.name, RowAccess::Read);
    let mut params = vec![SqlValue::Text(id.to_string())];
    let mut sql = format!(
        "SELECT * FROM {} AS t WHERE t.\"Id\" = ?",
        quote_ident(&obj.name)
    );
    if let Some(f) = filter {
        sql.push_str(&format!(" AND ({})", f.sql));
        params.extend(f.params);
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    read_row(&mut stmt, &params)
}

/// Whether the principal may edit (or delete) record `id` by sharing.
///
/// # Errors
/// SQLite failures.
pub fn can_edit_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    id: &str,
) -> SfResult<bool> {
    let Some(f) = ctx.row_filter(&obj.name, RowAccess::Edit) else {
        return Ok(true);
    };
    let sql = format!(
        "SELECT 1 FROM {} AS t WHERE t.\"Id\" = ? AND ({})",
        quote_ident(&obj.name),
        f.sql
    );
    let mut params = vec![SqlValue::Text(id.to_string())];
    params.extend(f.params);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params.iter()), |_| Ok(()))
        .optional()?
        .is_some())
}

/// Loads a live record for writing: NOT_FOUND if invisible or absent, ENTITY_IS_DELETED if deleted,
/// INSUFFICIENT_ACCESS_OR_READONLY if visible but not editable.
fn load_for_write(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    access: &Access,
    id: &str,
    deleting: bool,
) -> SfResult<Row> {
    let old = load_row(ctx, conn, obj, id)?.ok_or_else(SfError::not_found)?;
    if matches!(old.get("IsDeleted"), Some(SqlValue::Integer(1))) {
        return Err(SfError::entity_deleted());
    }
    let allowed = if deleting {
        access.object.delete && obj.deletable
    } else {
        access.object.edit && obj.updateable
    };
    if !allowed || !can_edit_row(ctx, conn, obj, id)? {
        return Err(SfError::dml(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights on object id",
            vec![],
        ));
    }
    Ok(old)
}

/// Updates record `id` with prepared column values.
///
/// # Errors
/// NOT_FOUND, ENTITY_IS_DELETED, INSUFFICIENT_ACCESS_OR_READONLY, validation errors, SQLite.
pub fn update_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    access: &Access,
    id: &str,
    mut changes: Row,
) -> SfResult<()> {
    let old = load_for_write(ctx, conn, obj, access, id, false)?;
    validate(ctx, conn, obj, &mut changes)?;
    if obj.name == "ContentDocumentLink" && changes.contains_key("ShareType") {
        // Raising a link to collaborator shares the note: the same right as a new link.
        let mut note = Row::new();
        if let Some(doc) = old.get("ContentDocumentId") {
            note.insert("ContentDocumentId".into(), doc.clone());
        }
        crate::sandbox::security::lookup::check_note_link(ctx, conn, &note)?;
    }
    let mut row = old.clone();
    for (k, v) in &changes {
        row.insert(k.clone(), v.clone());
    }
    derive::apply(&obj.name, &mut row, &changes, false, &ctx.now);
    required_missing(obj, &row, Some(&changes))?;
    set_audit(obj, &mut row, ctx, false);
    let keys: Vec<String> = column_keys(obj, &row)
        .into_iter()
        .filter(|k| k != "Id" && old.get(k) != row.get(k))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE \"Id\" = ?",
        quote_ident(&obj.name),
        keys.iter()
            .map(|k| format!("{} = ?", quote_ident(k)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut params: Vec<&SqlValue> = keys.iter().map(|k| &row[k]).collect();
    let idv = SqlValue::Text(id.to_string());
    params.push(&idv);
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(params))?;
    if obj.name == "User" {
        user_changed(ctx, conn, id, &row)?;
    }
    Ok(())
}

/// After a User update: a deactivated user loses every session and refresh token at once (they
/// stay revoked if the user is reactivated), and the policy's user directory is reloaded so the
/// change applies to the next request rather than the next login.
fn user_changed(ctx: &Ctx<'_>, conn: &Connection, id: &str, row: &Row) -> SfResult<()> {
    if matches!(row.get("IsActive"), Some(SqlValue::Integer(0))) {
        crate::sandbox::oauth::grant::revoke_user(conn, id, chrono::Utc::now().timestamp())?;
    }
    ctx.state.policy.refresh_users(conn)?;
    Ok(())
}

/// Soft-deletes record `id` (and children whose relationship cascades).
///
/// # Errors
/// NOT_FOUND, ENTITY_IS_DELETED, INSUFFICIENT_ACCESS_OR_READONLY, SQLite.
pub fn delete_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    access: &Access,
    id: &str,
) -> SfResult<()> {
    load_for_write(ctx, conn, obj, access, id, true)?;
    let mut sql = format!("UPDATE {} SET \"IsDeleted\" = 1", quote_ident(&obj.name));
    let mut params = Vec::new();
    for f in ["LastModifiedDate", "SystemModstamp"] {
        if obj.field(f).is_some() {
            sql.push_str(&format!(", {} = ?", quote_ident(f)));
            params.push(SqlValue::Text(ctx.now.clone()));
        }
    }
    if obj.field("LastModifiedById").is_some() {
        sql.push_str(", \"LastModifiedById\" = ?");
        params.push(SqlValue::Text(ctx.principal.user_id.clone()));
    }
    sql.push_str(" WHERE \"Id\" = ?");
    params.push(SqlValue::Text(id.to_string()));
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(params.iter()))?;
    for rel in obj.child_relationships.iter().filter(|r| r.cascade_delete) {
        if ctx.state.schema.object(&rel.child_object).is_some() {
            let sql = format!(
                "UPDATE {} SET \"IsDeleted\" = 1 WHERE {} = ?1 AND \"IsDeleted\" = 0",
                quote_ident(&rel.child_object),
                quote_ident(&rel.field)
            );
            conn.prepare_cached(&sql)?.execute([id])?;
        }
    }
    Ok(())
}

/// Builds the record JSON (`attributes` + fields) of a stored row. `fields` = `None` for every
/// visible field in describe order (compound address fields as objects).
///
/// # Errors
/// INVALID_FIELD for an unknown or hidden field in `fields`.
pub fn record_json(
    ctx: &Ctx<'_>,
    obj: &ObjectSchema,
    access: &Access,
    row: &Row,
    fields: Option<&[String]>,
) -> SfResult<Value> {
    let id = match row.get("Id") {
        Some(SqlValue::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        serde_json::json!({"type": obj.name, "url": format!("/services/data/v{}/sobjects/{}/{}", ctx.version, obj.name, id)}),
    );
    let selected: Vec<&Field> = match fields {
        None => obj
            .fields
            .iter()
            .filter(|f| access.field(obj, f) != FieldAccess::Hidden)
            .collect(),
        Some(list) => {
            let mut v = Vec::new();
            for name in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                let f = obj
                    .field(name)
                    .filter(|f| access.field(obj, f) != FieldAccess::Hidden)
                    .ok_or_else(|| no_such_column_read(obj, name))?;
                v.push(f);
            }
            v
        }
    };
    for f in selected {
        out.insert(f.name.clone(), field_json(obj, f, row, &ctx.version));
    }
    Ok(Value::Object(out))
}

/// The JSON value of one field of a stored row (compound fields assembled from components;
/// ContentNote `Content` as its body URL).
pub fn field_json(obj: &ObjectSchema, f: &Field, row: &Row, version: &str) -> Value {
    if f.ty == FieldType::Address || f.ty == FieldType::Location {
        return compound_json(obj, f, row);
    }
    if obj.name == "ContentNote" && f.name == "Content" {
        let id = match row.get("Id") {
            Some(SqlValue::Text(t)) => t.as_str(),
            _ => "",
        };
        return Value::String(format!(
            "/services/data/v{version}/sobjects/ContentNote/{id}/Content"
        ));
    }
    match row.get(&f.name) {
        Some(v) => store::to_json(f, ValueRef::from(v)),
        None => store::to_json(f, ValueRef::Null),
    }
}

fn compound_json(obj: &ObjectSchema, f: &Field, row: &Row) -> Value {
    let prefix = f.name.strip_suffix("Address").unwrap_or(&f.name);
    let mut out = Map::new();
    let mut any = false;
    for c in obj
        .fields
        .iter()
        .filter(|c| c.compound_field_name.as_deref() == Some(f.name.as_str()))
    {
        let short = c.name.strip_prefix(prefix).unwrap_or(&c.name);
        let mut key = short.to_string();
        if let Some(first) = key.get(0..1) {
            key = format!("{}{}", first.to_ascii_lowercase(), &key[1..]);
        }
        let v = row
            .get(&c.name)
            .map(|v| store::to_json(c, ValueRef::from(v)))
            .unwrap_or(Value::Null);
        any |= !v.is_null();
        out.insert(key, v);
    }
    if any { Value::Object(out) } else { Value::Null }
}

/// Result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    /// A new record was inserted.
    Created(RecordId),
    /// An existing record was updated.
    Updated(RecordId),
}

/// The external-id field `name` of `obj`, if it may key an upsert (External ID, idLookup, or Id).
///
/// # Errors
/// `404 NOT_FOUND` "Provided external ID field does not exist or is not accessible: X".
pub fn external_id_field<'o>(
    obj: &'o ObjectSchema,
    access: &Access,
    name: &str,
) -> SfResult<&'o Field> {
    obj.field(name)
        .filter(|f| (f.external_id || f.id_lookup) && access.field(obj, f) != FieldAccess::Hidden)
        .ok_or_else(|| {
            SfError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {name}"),
            )
        })
}

/// Ids of live, visible records whose `field` equals `value` (case-insensitive), at most 2.
///
/// # Errors
/// SQLite failures.
pub fn find_by_external_id(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    field: &Field,
    value: &str,
) -> SfResult<Vec<String>> {
    let mut sql = format!(
        "SELECT t.\"Id\" FROM {} AS t WHERE t.{} = ? COLLATE NOCASE AND t.\"IsDeleted\" = 0",
        quote_ident(&obj.name),
        quote_ident(&field.name)
    );
    let probe = if field.ty == FieldType::Id || field.ty == FieldType::Reference {
        RecordId::parse(value)
            .map(|i| i.to_string())
            .unwrap_or_else(|_| value.to_string())
    } else {
        value.to_string()
    };
    let mut params = vec![SqlValue::Text(probe)];
    if let Some(f) = ctx.row_filter(&obj.name, RowAccess::Read) {
        sql.push_str(&format!(" AND ({})", f.sql));
        params.extend(f.params);
    }
    sql.push_str(" LIMIT 2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Upserts by `field` = `value` with prepared changes (insert sets the key field when createable).
/// More than one match → `300` with the matching URLs.
///
/// # Errors
/// As [`insert_row`] / [`update_row`]; `300 MULTIPLE_CHOICES` body on several matches.
pub fn upsert_row(
    ctx: &Ctx<'_>,
    conn: &Connection,
    obj: &ObjectSchema,
    access: &Access,
    field: &Field,
    value: &str,
    mut changes: Row,
) -> SfResult<Upsert> {
    let ids = if field.name == "Id" && value.is_empty() {
        Vec::new()
    } else {
        find_by_external_id(ctx, conn, obj, field, value)?
    };
    match ids.as_slice() {
        [] if field.name == "Id" && !value.is_empty() => Err(SfError::not_found()),
        [] => {
            if field.createable && field.name != "Id" {
                changes
                    .entry(field.name.clone())
                    .or_insert_with(|| SqlValue::Text(value.to_string()));
            }
            insert_row(ctx, conn, obj, access, changes).map(Upsert::Created)
        }
        [one] => {
            changes.remove(&field.name);
            update_row(ctx, conn, obj, access, one, changes)?;
            Ok(Upsert::Updated(
                RecordId::parse(one).map_err(SfError::internal)?,
            ))
        }
        many => {
            let urls: Vec<String> = many
                .iter()
                .map(|id| format!("/services/data/v{}/sobjects/{}/{id}", ctx.version, obj.name))
                .collect();
            Err(SfError {
                status: StatusCode::MULTIPLE_CHOICES,
                errors: vec![crate::sandbox::error::ErrorItem {
                    message: serde_json::to_string(&urls).unwrap_or_default(),
                    error_code: "MULTIPLE_CHOICES".into(),
                    fields: None,
                }],
            })
        }
    }
}
