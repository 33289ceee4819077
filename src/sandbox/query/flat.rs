//! A SOQL query flattened into CSV columns, for Bulk API 2.0 query jobs (`bulk/query.rs`).
//!
//! Owns the column list of a flat result (parent fields become dotted headers such as
//! `Account.Name`, in select-list order) and the rendering of one row as Bulk CSV cells. It reuses
//! the REST path's compiler and row rules (`compile.rs`, and the select-list helpers, `check_rules`
//! and `where_part` of `exec.rs`), so sharing, field-level security and `queryAll` apply exactly as
//! they do for `GET query`. It does not decide which SOQL Bulk accepts (the caller rejects
//! aggregates, subqueries, TYPEOF, OFFSET and FIELDS() first) and runs no SQL itself.

use std::cell::Cell;

use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value as Json;

use super::compile::{self, Ctx, Mode, Scope, malformed, readable_object, unsupported};
use super::exec::{self, Columns, Conv};
use crate::sandbox::error::SfError;
use crate::sandbox::schema::{FieldType, ObjectSchema};
use crate::soql::ast::*;

/// One CSV column.
#[derive(Debug, Clone)]
struct FlatColumn<'a> {
    /// Position of the value among [`FlatPlan::exprs`].
    col: usize,
    conv: Conv<'a>,
    /// Datetimes are written `…Z` in Bulk CSV (REST JSON writes `…+0000`).
    datetime: bool,
    /// For each parent on the path, the id columns of its possible targets: when none is set the
    /// parent is missing or not visible, and the cell is empty (REST shows a null parent).
    guards: Vec<Vec<usize>>,
}

/// The flat plan of a non-aggregate query without child subqueries.
#[derive(Debug, Clone)]
pub struct FlatPlan<'a> {
    /// The base object.
    pub object: &'a ObjectSchema,
    /// Column headers, in select-list order (`Id`, `Name`, `Account.Name`).
    pub headers: Vec<String>,
    /// The field type of each column (Bulk refuses compound and blob fields).
    pub types: Vec<FieldType>,
    /// Selected SQL expressions (their values, in this order, feed [`FlatPlan::cells`]).
    pub exprs: Vec<String>,
    /// `FROM … WHERE … ORDER BY … [LIMIT ?]`, to follow `SELECT <exprs>`.
    pub tail: String,
    /// Parameters of [`FlatPlan::tail`].
    pub params: Vec<SqlValue>,
    columns: Vec<FlatColumn<'a>>,
}

/// Compiles `query` for `ctx`'s user into a flat plan.
///
/// # Errors
/// The REST query errors: INVALID_TYPE, INVALID_FIELD, MALFORMED_QUERY, …
pub fn plan<'a>(ctx: Ctx<'a>, query: &Query, all_rows: bool) -> Result<FlatPlan<'a>, SfError> {
    if query.from.path.len() != 1 {
        return Err(malformed(format!(
            "unexpected token: '{}'",
            query.from.path.join(".")
        )));
    }
    let object = readable_object(&ctx, query.from.name())?;
    exec::check_rules(query, object)?;
    let counter = Cell::new(0);
    let mut scope = Scope::new(ctx, object, query.from.alias.clone(), &counter);
    let mut cols = Columns::default();
    let mut headers = Vec::new();
    let mut types = Vec::new();
    let mut columns = Vec::new();
    for item in &query.select {
        let (path, label, alias) = match item {
            SelectItem::Field { path, .. } => (path, false, None),
            SelectItem::Function { call, alias }
                if matches!(call.function, Function::ToLabel | Function::ConvertCurrency) =>
            {
                let [FunctionArg::Field(path)] = call.args.as_slice() else {
                    return Err(malformed(format!(
                        "{}() takes one field",
                        call.function.as_str()
                    )));
                };
                (path, call.function == Function::ToLabel, alias.clone())
            }
            _ => return Err(unsupported("This select item in a Bulk query")),
        };
        let c = scope.column(path)?;
        let stripped = scope.strip(path).to_vec();
        let written_rels = &stripped[..stripped.len().saturating_sub(1)];
        let mut guards = Vec::new();
        for i in 1..=written_rels.len() {
            let ids = exec::id_columns(&mut scope, &mut cols, &written_rels[..i])?;
            guards.push(ids.into_iter().map(|(col, _)| col).collect());
        }
        let col = cols.add(c.sql.clone());
        let mut header = c.rels.join(".");
        if !header.is_empty() {
            header.push('.');
        }
        header.push_str(&alias.unwrap_or_else(|| c.display.clone()));
        if headers
            .iter()
            .any(|h: &String| h.eq_ignore_ascii_case(&header))
        {
            continue;
        }
        headers.push(header);
        types.push(c.field.ty);
        columns.push(FlatColumn {
            col,
            conv: if label {
                Conv::Label(c.field)
            } else {
                Conv::Field(c.field)
            },
            datetime: c.field.ty == FieldType::Datetime,
            guards,
        });
    }
    let (where_sql, where_params) = exec::where_part(&mut scope, query, all_rows)?;
    let mut order = compile::order_by(&mut scope, &query.order_by, Mode::Row)?;
    order.push(format!("{}.\"Id\"", scope.alias));
    let (from, mut params) = scope.from_sql();
    params.extend(where_params);
    let mut tail = format!(
        "FROM {from} WHERE {where_sql} ORDER BY {}",
        order.join(", ")
    );
    if let Some(limit) = query.limit {
        tail.push_str(" LIMIT ?");
        params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    }
    Ok(FlatPlan {
        object,
        headers,
        types,
        exprs: cols.exprs,
        tail,
        params,
        columns,
    })
}

fn value_ref(v: &Json) -> ValueRef<'_> {
    match v {
        Json::Number(n) => match n.as_i64() {
            Some(i) => ValueRef::Integer(i),
            None => ValueRef::Real(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => ValueRef::Text(s.as_bytes()),
        Json::Bool(b) => ValueRef::Integer(i64::from(*b)),
        _ => ValueRef::Null,
    }
}

fn is_set(v: Option<&Json>) -> bool {
    v.is_some_and(|v| !v.is_null())
}

impl FlatPlan<'_> {
    /// Renders one row as Bulk CSV cells. `raw` holds the values of [`FlatPlan::exprs`] as SQLite's
    /// `json_array()` wrote them. Null is empty, booleans `true`/`false`, numbers and text as REST
    /// JSON shows them, datetimes with `Z`.
    pub fn cells(&self, raw: &[Json]) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| {
                let visible = c
                    .guards
                    .iter()
                    .all(|ids| ids.iter().any(|i| is_set(raw.get(*i))));
                if !visible {
                    return String::new();
                }
                let v = raw.get(c.col).map_or(ValueRef::Null, value_ref);
                match exec::convert(&c.conv, v) {
                    Json::Null => String::new(),
                    Json::String(s) => match s.strip_suffix("+0000") {
                        Some(utc) if c.datetime => format!("{utc}Z"),
                        _ => s,
                    },
                    other => other.to_string(),
                }
            })
            .collect()
    }
}
