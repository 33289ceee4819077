//! `GET query?q=…&columns=true`: the column metadata of a SOQL query, without running it. The
//! Salesforce CLI (`sf data query`) asks for it before every query to lay out its table.
//!
//! Shape (as the real endpoint answers): `{columnMetadata: [{aggregate, apexType, booleanType,
//! columnName, custom, displayName, foreignKeyName, insertable, joinColumns, numberType, textType,
//! updatable}], entityName, groupBy, idSelected, keyPrefix}`. A relationship field `Account.Name`
//! becomes column `Account` with `Name` in `joinColumns`; a child subquery is an `aggregate` column
//! named after the relationship with the subquery's columns joined; aggregate functions are
//! `expr0…` unless aliased.
//!
//! Owns this shape only; parsing is [`crate::soql`], field facts come from the schema. Access is
//! checked as the query call would check it: [`columns_for`] first runs the query with `LIMIT 0`
//! for the caller (so an object or field the caller cannot read is the same `INVALID_TYPE` /
//! `INVALID_FIELD`), and `FIELDS(…)` expands to the fields the caller can read only.

use serde_json::{Value as Json, json};

use crate::sandbox::error::SfError;
use crate::sandbox::query::exec::{self, RunOptions};
use crate::sandbox::schema::{FieldType, ObjectSchema, Schema};
use crate::sandbox::security::Principal;
use crate::sandbox::state::AppState;
use crate::soql::{FieldPath, FunctionArg, FunctionCall, Query, SelectItem};

/// Whether the caller may read field `.1` of object `.0`.
type Readable<'r> = &'r dyn Fn(&ObjectSchema, &str) -> bool;

/// The column metadata of `text` for `principal`, after checking that the caller may run it.
///
/// # Errors
/// The query call's own errors (`MALFORMED_QUERY`, `INVALID_TYPE`, `INVALID_FIELD`, …).
pub fn columns_for(
    state: &AppState,
    principal: &Principal,
    version: &str,
    text: &str,
) -> Result<Json, SfError> {
    let query = super::parse_soql(text)?;
    let mut probe = query.clone();
    probe.limit = Some(0);
    if crate::sandbox::admin_api::virtual_query(state, principal, &probe, version)?.is_none() {
        let ctx = super::ctx(state, principal);
        let opts = RunOptions {
            all_rows: false,
            batch: super::MAX_BATCH,
            version,
        };
        let conn = state.lock_db();
        exec::run(&conn, ctx, &probe, opts)?;
    }
    let readable =
        |o: &ObjectSchema, f: &str| state.policy.field_access(principal, &o.name, f).readable();
    Ok(describe(&state.schema, &query, &readable))
}

/// The column metadata of `text`, every field readable (no caller; for tools and tests).
///
/// # Errors
/// `MALFORMED_QUERY` when the text does not parse.
pub fn columns(schema: &Schema, text: &str) -> Result<Json, SfError> {
    let query = super::parse_soql(text)?;
    Ok(describe(schema, &query, &|_, _| true))
}

fn describe(schema: &Schema, query: &Query, readable: Readable<'_>) -> Json {
    let object = schema.object(query.from.name());
    let mut expr = 0usize;
    let cols = select_columns(schema, object, query, &mut expr, readable);
    let id_selected = query.select.iter().any(|s| {
        matches!(s, SelectItem::Field { path, .. } if path.0.len() == 1 && path.name().eq_ignore_ascii_case("Id"))
    });
    json!({
        "columnMetadata": cols,
        "entityName": object.map_or(query.from.name(), |o| o.name.as_str()),
        "groupBy": query.group_by.is_some(),
        "idSelected": id_selected,
        "keyPrefix": object.map(|o| o.key_prefix.clone()),
    })
}

fn select_columns(
    schema: &Schema,
    object: Option<&ObjectSchema>,
    query: &Query,
    expr: &mut usize,
    readable: Readable<'_>,
) -> Vec<Json> {
    let mut out = Vec::new();
    for item in &query.select {
        match item {
            SelectItem::Field { path, alias } => {
                out.push(field_column(schema, object, path, alias.as_deref(), ""));
            }
            SelectItem::Function { call, alias } => {
                if call.args.is_empty() {
                    // COUNT(): no column, only totalSize.
                    continue;
                }
                if call.function.is_aggregate() {
                    let name = alias.clone().unwrap_or_else(|| {
                        let n = format!("expr{expr}");
                        *expr += 1;
                        n
                    });
                    let numeric = matches!(call.function.as_str(), "COUNT" | "COUNT_DISTINCT");
                    out.push(column(
                        &name,
                        &render_call(call),
                        numeric.then_some("Integer"),
                        true,
                        Vec::new(),
                    ));
                } else if let Some(FunctionArg::Field(path)) = call.args.first() {
                    // toLabel(Status), FORMAT(Amount), convertCurrency(…): the field's own column.
                    out.push(field_column(schema, object, path, alias.as_deref(), ""));
                }
            }
            SelectItem::Subquery(sub) => {
                let rel = sub.from.name();
                let child = object
                    .and_then(|o| o.child_relationship(rel))
                    .and_then(|c| schema.object(&c.child_object));
                let mut inner_expr = 0usize;
                let joins = select_columns(schema, child, sub, &mut inner_expr, readable);
                let name = object
                    .and_then(|o| o.child_relationship(rel))
                    .map_or(rel.to_string(), |c| c.relationship_name.clone());
                out.push(column(&name, &name, None, true, joins));
            }
            SelectItem::Fields(_) | SelectItem::TypeOf(_) => {
                // FIELDS(…) expands to every field; TYPEOF to the polymorphic relationship.
                if let SelectItem::TypeOf(t) = item {
                    out.push(column(
                        &t.relationship,
                        &t.relationship,
                        None,
                        false,
                        Vec::new(),
                    ));
                } else if let Some(o) = object {
                    for f in o.columns().filter(|f| readable(o, &f.name)) {
                        out.push(field_column(
                            schema,
                            Some(o),
                            &FieldPath::field(&f.name),
                            None,
                            "",
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The column of a (possibly dotted) field path, relationships nested in `joinColumns`.
fn field_column(
    schema: &Schema,
    object: Option<&ObjectSchema>,
    path: &FieldPath,
    alias: Option<&str>,
    prefix: &str,
) -> Json {
    let segments = &path.0;
    let Some((first, rest)) = segments.split_first() else {
        return column("", "", None, false, Vec::new());
    };
    let display = if prefix.is_empty() {
        first.clone()
    } else {
        format!("{prefix}.{first}")
    };
    if rest.is_empty() {
        let field = object.and_then(|o| o.field(first));
        let name = alias.map_or_else(
            || field.map_or(first.clone(), |f| f.name.clone()),
            str::to_string,
        );
        let mut col = column(
            &name,
            &display,
            field.map(|f| apex_type(f.ty)),
            false,
            vec![],
        );
        if let Some(f) = field {
            col["custom"] = json!(f.custom);
            col["insertable"] = json!(f.createable);
            col["updatable"] = json!(f.updateable);
            col["booleanType"] = json!(f.ty.as_str() == "boolean");
            col["numberType"] = json!(matches!(
                f.ty.as_str(),
                "int" | "double" | "currency" | "percent"
            ));
            col["textType"] = json!(f.ty.is_text());
        }
        return col;
    }
    let rel_field = object.and_then(|o| o.parent_relationship(first));
    let parent = rel_field
        .and_then(|f| f.reference_to.first())
        .and_then(|t| schema.object(t));
    let name = rel_field
        .and_then(|f| f.relationship_name.clone())
        .unwrap_or_else(|| first.clone());
    let inner = field_column(schema, parent, &FieldPath(rest.to_vec()), alias, &display);
    let mut col = column(&name, &display, None, false, vec![inner]);
    col["foreignKeyName"] = json!(rel_field.map(|f| f.name.clone()));
    col
}

fn column(
    name: &str,
    display: &str,
    apex: Option<&str>,
    aggregate: bool,
    joins: Vec<Json>,
) -> Json {
    json!({
        "aggregate": aggregate,
        "apexType": apex,
        "booleanType": false,
        "columnName": name,
        "custom": false,
        "displayName": display,
        "foreignKeyName": null,
        "insertable": false,
        "joinColumns": joins,
        "numberType": apex == Some("Integer"),
        "textType": false,
        "updatable": false,
    })
}

/// `COUNT(Id)`, `SUM(Amount)`, `MAX(Account.CreatedDate)`.
fn render_call(call: &FunctionCall) -> String {
    let args: Vec<String> = call
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Field(p) => p.to_string(),
            FunctionArg::Function(f) => render_call(f),
            FunctionArg::Literal(_) => "?".to_string(),
        })
        .collect();
    format!("{}({})", call.function.as_str(), args.join(", "))
}

/// The Apex type of a field type (`string` → `String`, `reference` → `Id`).
fn apex_type(ty: FieldType) -> &'static str {
    match ty.as_str() {
        "id" | "reference" => "Id",
        "boolean" => "Boolean",
        "int" => "Integer",
        "double" | "currency" | "percent" => "Double",
        "date" => "Date",
        "datetime" => "Datetime",
        "time" => "Time",
        "base64" => "Blob",
        "address" => "Address",
        "location" => "Location",
        _ => "String",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_relationships_subqueries_and_aggregates() {
        let schema = Schema::demo().expect("schema");
        let c = columns(
            &schema,
            "SELECT Id, Name, Account.Name, (SELECT Subject FROM Tasks) FROM Opportunity",
        )
        .expect("columns");
        assert_eq!(c["entityName"], "Opportunity");
        assert_eq!(c["keyPrefix"], "006");
        assert_eq!(c["idSelected"], true);
        let cols = c["columnMetadata"].as_array().expect("array");
        assert_eq!(cols.len(), 4);
        assert_eq!(cols[1]["columnName"], "Name");
        assert_eq!(cols[1]["apexType"], "String");
        assert_eq!(cols[2]["columnName"], "Account");
        assert_eq!(cols[2]["foreignKeyName"], "AccountId");
        assert_eq!(cols[2]["joinColumns"][0]["columnName"], "Name");
        assert_eq!(cols[2]["joinColumns"][0]["displayName"], "Account.Name");
        assert_eq!(cols[3]["aggregate"], true);
        assert_eq!(cols[3]["columnName"], "Tasks");
        assert_eq!(cols[3]["joinColumns"][0]["columnName"], "Subject");

        let agg = columns(
            &schema,
            "SELECT StageName, COUNT(Id), SUM(Amount) total FROM Opportunity GROUP BY StageName",
        )
        .expect("columns");
        let cols = agg["columnMetadata"].as_array().expect("array");
        assert_eq!(agg["groupBy"], true);
        assert_eq!(cols[1]["columnName"], "expr0");
        assert_eq!(cols[1]["displayName"], "COUNT(Id)");
        assert_eq!(cols[2]["columnName"], "total");

        let count = columns(&schema, "SELECT COUNT() FROM Lead").expect("columns");
        assert_eq!(count["columnMetadata"], json!([]));
        assert!(columns(&schema, "SELECT FROM").is_err());
    }
}
