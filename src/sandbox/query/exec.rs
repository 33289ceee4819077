//! Runs a parsed SOQL query against the store and shapes Salesforce's result JSON: records with
//! `attributes`, nested parent objects (null when there is no visible parent), child relationship
//! results (`{totalSize, done, records}` or null), `AggregateResult` rows with `expr0…` aliases and
//! `COUNT()` totals.
//!
//! Owns the select-list shape and the rendering of rows, for two sources: [`run`] runs the query
//! itself for its first page (and its total), and [`run_slice`] renders the records a query
//! cursor's snapshot lists (ids taken once with [`keys_sql`]), so later pages never re-run the
//! query. Child subqueries run as one extra query per page of parents. SQL comes from `compile.rs`;
//! the HTTP side and the snapshot table are `query/mod.rs`'s.

use std::cell::Cell;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::{Map, Value as Json, json};

use super::compile::{
    self, Ctx, Mode, OperandType, Scope, malformed, readable_object, unsupported,
};
use crate::sandbox::error::SfError;
use crate::sandbox::schema::{Field, ObjectSchema};
use crate::sandbox::store;
use crate::soql::ast::*;

/// Paging and visibility options of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'v> {
    /// `queryAll`: include soft-deleted rows of the base object.
    pub all_rows: bool,
    /// Page size (200–2000).
    pub batch: u64,
    /// API version for record URLs (`63.0`).
    pub version: &'v str,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// `totalSize`.
    pub total: u64,
    /// The records of this page.
    pub records: Vec<Json>,
    /// Position of the next page, when there is one.
    pub next: Option<u64>,
}

/// How one selected value is turned into JSON.
#[derive(Debug, Clone)]
pub(super) enum Conv<'a> {
    /// A field value (`store::to_json`).
    Field(&'a Field),
    /// A grouped field of an aggregate row: null stays null (a ROLLUP/CUBE subtotal).
    Grouped(&'a Field),
    /// A picklist label (`toLabel`).
    Label(&'a Field),
    /// COUNT and date functions.
    Integer,
    /// SUM / AVG.
    Number,
    /// DAY_ONLY.
    Text,
}

#[derive(Debug, Clone)]
enum Entry<'a> {
    Value {
        name: String,
        col: usize,
        conv: Conv<'a>,
    },
    Parent {
        name: String,
        ids: Vec<(usize, &'a ObjectSchema)>,
        node: Node<'a>,
        variants: Vec<(String, Node<'a>)>,
    },
    Child {
        name: String,
        index: usize,
    },
    /// A compound field (`BillingAddress`): an object of its components, keyed `street`, `city`, …
    Compound {
        name: String,
        parts: Vec<(String, usize, &'a Field)>,
    },
}

#[derive(Debug, Clone, Default)]
struct Node<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> Node<'a> {
    fn parent(&mut self, name: &str, ids: Vec<(usize, &'a ObjectSchema)>) -> &mut Node<'a> {
        let pos = self.entries.iter().position(
            |e| matches!(e, Entry::Parent { name: n, .. } if n.eq_ignore_ascii_case(name)),
        );
        let pos = match pos {
            Some(p) => p,
            None => {
                self.entries.push(Entry::Parent {
                    name: name.to_string(),
                    ids,
                    node: Node::default(),
                    variants: Vec::new(),
                });
                self.entries.len() - 1
            }
        };
        match &mut self.entries[pos] {
            Entry::Parent { node, .. } => node,
            // The position was found or created as a Parent just above.
            _ => unreachable!("entry {pos} is a parent"),
        }
    }

    fn value(&mut self, name: &str, col: usize, conv: Conv<'a>) {
        let exists = self
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Value { name: n, .. } if n.eq_ignore_ascii_case(name)));
        if !exists {
            self.entries.push(Entry::Value {
                name: name.to_string(),
                col,
                conv,
            });
        }
    }
}

/// Selected SQL expressions, deduplicated.
#[derive(Debug, Default)]
pub(super) struct Columns {
    pub(super) exprs: Vec<String>,
}

impl Columns {
    pub(super) fn add(&mut self, sql: String) -> usize {
        if let Some(i) = self.exprs.iter().position(|e| *e == sql) {
            return i;
        }
        self.exprs.push(sql);
        self.exprs.len() - 1
    }
}

struct ChildPlan<'a> {
    object: &'a ObjectSchema,
    fk: String,
    query: Query,
}

/// Builds the record shape of a select list (non-aggregate).
fn shape<'a>(
    scope: &mut Scope<'a, '_>,
    items: &[SelectItem],
    cols: &mut Columns,
    children: &mut Vec<ChildPlan<'a>>,
    allow_children: bool,
) -> Result<Node<'a>, SfError> {
    let mut b = ShapeBuilder {
        scope,
        cols,
        root: Node::default(),
    };
    for item in items {
        match item {
            SelectItem::Field { path, .. } => b.add_path(path, None)?,
            SelectItem::Function { call, alias } => match call.function {
                Function::ToLabel | Function::ConvertCurrency => {
                    let [FunctionArg::Field(path)] = call.args.as_slice() else {
                        return Err(malformed(format!(
                            "{}() takes one field",
                            call.function.as_str()
                        )));
                    };
                    b.add_path(path, Some((call.function, alias.clone())))?;
                }
                f if f.is_aggregate() => {
                    return Err(malformed(format!("{}() is not allowed here", f.as_str())));
                }
                f => return Err(unsupported(&format!("{}() in the select list", f.as_str()))),
            },
            SelectItem::Fields(kind) => {
                let object = b.scope.object;
                for f in object.columns() {
                    let wanted = match kind {
                        FieldsKind::All => true,
                        FieldsKind::Custom => f.custom,
                        FieldsKind::Standard => !f.custom,
                    };
                    let ctx = b.scope.ctx();
                    if wanted
                        && ctx
                            .policy
                            .field_access(ctx.principal, &object.name, &f.name)
                            .readable()
                    {
                        b.add_path(&FieldPath::field(&f.name), None)?;
                    }
                }
            }
            SelectItem::Subquery(sub) => {
                if !allow_children {
                    return Err(unsupported("A child subquery inside a child subquery"));
                }
                let rel_name = sub.from.name();
                let rel = b
                    .scope
                    .object
                    .child_relationship(rel_name)
                    .ok_or_else(|| compile::invalid_type_rel(rel_name))?;
                let ctx = b.scope.ctx();
                let object = readable_object(&ctx, &rel.child_object)
                    .map_err(|_| compile::invalid_type_rel(rel_name))?;
                let index = children.len();
                children.push(ChildPlan {
                    object,
                    fk: rel.field.clone(),
                    query: (**sub).clone(),
                });
                b.root.entries.push(Entry::Child {
                    name: rel.relationship_name.clone(),
                    index,
                });
            }
            SelectItem::TypeOf(t) => b.add_typeof(t)?,
        }
    }
    Ok(b.root)
}

pub(super) fn id_columns<'a>(
    scope: &mut Scope<'a, '_>,
    cols: &mut Columns,
    rels: &[String],
) -> Result<Vec<(usize, &'a ObjectSchema)>, SfError> {
    let (targets, _) = scope.targets(rels)?;
    Ok(targets
        .into_iter()
        .map(|(obj, alias)| (cols.add(format!("{alias}.\"Id\"")), obj))
        .collect())
}

/// The relationships `path` walks as written (without its field) and, for each, the id columns
/// of its parent record, outermost first.
#[allow(clippy::type_complexity)]
fn parent_ids<'a>(
    scope: &mut Scope<'a, '_>,
    cols: &mut Columns,
    path: &FieldPath,
) -> Result<(Vec<String>, Vec<Vec<(usize, &'a ObjectSchema)>>), SfError> {
    let stripped = scope.strip(path).to_vec();
    let written_rels = &stripped[..stripped.len().saturating_sub(1)];
    let mut chain = Vec::new();
    for i in 1..=written_rels.len() {
        chain.push(id_columns(scope, cols, &written_rels[..i])?);
    }
    Ok((written_rels.to_vec(), chain))
}

/// The node a parent field's value goes in: the nested parent nodes `names` under `root`, each
/// opened with its id columns from `chain`.
fn parent_node<'n, 'a>(
    root: &'n mut Node<'a>,
    names: &[String],
    chain: Vec<Vec<(usize, &'a ObjectSchema)>>,
) -> &'n mut Node<'a> {
    let mut node = root;
    for (name, ids) in names.iter().zip(chain) {
        node = node.parent(name, ids);
    }
    node
}

/// A record shape being built from a select list: the scope its fields resolve in, the columns
/// it reads and the tree of nodes that renders them.
struct ShapeBuilder<'s, 'a, 'c> {
    scope: &'s mut Scope<'a, 'c>,
    cols: &'s mut Columns,
    root: Node<'a>,
}

impl<'a> ShapeBuilder<'_, 'a, '_> {
    /// A selected field (through parents, maybe inside `toLabel()` / `convertCurrency()`).
    fn add_path(
        &mut self,
        path: &FieldPath,
        function: Option<(Function, Option<String>)>,
    ) -> Result<(), SfError> {
        if function.is_none()
            && let Some((compound, components)) = self.scope.compound_parts(path)?
        {
            return self.add_compound(path, compound, &components);
        }
        let c = self.scope.column(path)?;
        let (_, chain) = parent_ids(self.scope, self.cols, path)?;
        let col = self.cols.add(c.sql.clone());
        let node = parent_node(&mut self.root, &c.rels, chain);
        let (conv, name) = match function {
            Some((Function::ToLabel, alias)) => (
                Conv::Label(c.field),
                alias.unwrap_or_else(|| c.display.clone()),
            ),
            Some((_, alias)) => (
                Conv::Field(c.field),
                alias.unwrap_or_else(|| c.display.clone()),
            ),
            None => (Conv::Field(c.field), c.display.clone()),
        };
        node.value(&name, col, conv);
        Ok(())
    }

    /// A selected compound field: its components as columns, rendered as one object.
    fn add_compound(
        &mut self,
        path: &FieldPath,
        compound: &'a Field,
        components: &[FieldPath],
    ) -> Result<(), SfError> {
        let (written_rels, chain) = parent_ids(self.scope, self.cols, path)?;
        let (_, canonical) = self.scope.targets(&written_rels)?;
        let prefix = compound
            .name
            .strip_suffix("Address")
            .unwrap_or(&compound.name)
            .to_string();
        let mut parts = Vec::new();
        for p in components {
            let c = self.scope.column(p)?;
            let short = c
                .field
                .name
                .strip_prefix(prefix.as_str())
                .unwrap_or(&c.field.name);
            let key = match short.get(0..1) {
                Some(first) => format!("{}{}", first.to_ascii_lowercase(), &short[1..]),
                None => short.to_string(),
            };
            parts.push((key, self.cols.add(c.sql.clone()), c.field));
        }
        let node = parent_node(&mut self.root, &canonical, chain);
        if !node
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Compound { name, .. } if *name == compound.name))
        {
            node.entries.push(Entry::Compound {
                name: compound.name.clone(),
                parts,
            });
        }
        Ok(())
    }

    /// A `TYPEOF` of a polymorphic relationship: one node per type, and the `ELSE` fields.
    fn add_typeof(&mut self, t: &TypeOf) -> Result<(), SfError> {
        let rels = vec![t.relationship.clone()];
        let (targets, canonical) = self.scope.targets(&rels)?;
        let ids = id_columns(self.scope, self.cols, &rels)?;
        let name = canonical
            .first()
            .cloned()
            .unwrap_or_else(|| t.relationship.clone());
        let ctx = self.scope.ctx();
        let mut variants = Vec::new();
        for (object, fields) in &t.whens {
            let Some((obj, alias)) = targets
                .iter()
                .find(|(o, _)| o.name.eq_ignore_ascii_case(object))
            else {
                return Err(compile::invalid_field(format!(
                    "TYPEOF: '{object}' is not a type of relationship '{}'",
                    t.relationship
                )));
            };
            let mut node = Node::default();
            for f in fields {
                let [field_name] = f.0.as_slice() else {
                    return Err(unsupported("A relationship path inside TYPEOF"));
                };
                let field = obj
                    .field(field_name)
                    .filter(|f| {
                        f.is_column()
                            && ctx
                                .policy
                                .field_access(ctx.principal, &obj.name, &f.name)
                                .readable()
                    })
                    .ok_or_else(|| {
                        compile::invalid_field(format!(
                            "No such column '{field_name}' on entity '{}'",
                            obj.name
                        ))
                    })?;
                let col = self
                    .cols
                    .add(format!("{alias}.{}", store::quote_ident(&field.name)));
                node.value(&field.name, col, Conv::Field(field));
            }
            variants.push((obj.name.clone(), node));
        }
        let mut else_node = Node::default();
        for f in t.else_fields.iter().flatten() {
            let mut path = vec![t.relationship.clone()];
            path.extend(f.0.iter().cloned());
            let c = self.scope.column(&FieldPath(path))?;
            let col = self.cols.add(c.sql);
            else_node.value(&c.display, col, Conv::Field(c.field));
        }
        self.root.entries.push(Entry::Parent {
            name,
            ids,
            node: else_node,
            variants,
        });
        Ok(())
    }
}

fn record_url(version: &str, object: &str, id: &str) -> String {
    format!("/services/data/v{version}/sobjects/{object}/{id}")
}

pub(super) fn convert(conv: &Conv<'_>, v: ValueRef<'_>) -> Json {
    match conv {
        Conv::Field(f) => store::to_json(f, v),
        Conv::Grouped(_) if v == ValueRef::Null => Json::Null,
        Conv::Grouped(f) => store::to_json(f, v),
        Conv::Label(f) => match store::to_json(f, v) {
            Json::String(s) => {
                Json::String(f.picklist_value(&s).map(|p| p.label.clone()).unwrap_or(s))
            }
            other => other,
        },
        Conv::Integer => match v {
            ValueRef::Integer(i) => json!(i),
            ValueRef::Real(r) => json!(r as i64),
            _ => Json::Null,
        },
        Conv::Number => match v {
            ValueRef::Integer(i) => json!(i as f64),
            ValueRef::Real(r) => json!(r),
            _ => Json::Null,
        },
        Conv::Text => match v {
            ValueRef::Text(t) => Json::String(String::from_utf8_lossy(t).into_owned()),
            _ => Json::Null,
        },
    }
}

fn text_at(row: &[SqlValue], col: usize) -> Option<&str> {
    match row.get(col) {
        Some(SqlValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn value_ref(v: &SqlValue) -> ValueRef<'_> {
    match v {
        SqlValue::Null => ValueRef::Null,
        SqlValue::Integer(i) => ValueRef::Integer(*i),
        SqlValue::Real(r) => ValueRef::Real(*r),
        SqlValue::Text(t) => ValueRef::Text(t.as_bytes()),
        SqlValue::Blob(b) => ValueRef::Blob(b),
    }
}

/// Fills `out` with the entries of `node` for one row.
fn fill(
    node: &Node<'_>,
    row: &[SqlValue],
    version: &str,
    children: &[Json],
    out: &mut Map<String, Json>,
) {
    for e in &node.entries {
        match e {
            Entry::Value { name, col, conv } => {
                out.insert(
                    name.clone(),
                    row.get(*col)
                        .map(|v| convert(conv, value_ref(v)))
                        .unwrap_or(Json::Null),
                );
            }
            Entry::Parent {
                name,
                ids,
                node,
                variants,
            } => {
                let hit = ids
                    .iter()
                    .find_map(|(col, obj)| text_at(row, *col).map(|id| (id, *obj)));
                let value = match hit {
                    None => Json::Null,
                    Some((id, obj)) => {
                        let mut m = Map::new();
                        m.insert(
                            "attributes".into(),
                            json!({"type": obj.name, "url": record_url(version, &obj.name, id)}),
                        );
                        let chosen = variants
                            .iter()
                            .find(|(n, _)| *n == obj.name)
                            .map(|(_, n)| n)
                            .unwrap_or(node);
                        fill(chosen, row, version, children, &mut m);
                        Json::Object(m)
                    }
                };
                out.insert(name.clone(), value);
            }
            Entry::Child { name, index } => {
                out.insert(
                    name.clone(),
                    children.get(*index).cloned().unwrap_or(Json::Null),
                );
            }
            Entry::Compound { name, parts } => {
                let mut m = Map::new();
                for (key, col, field) in parts {
                    let v = row
                        .get(*col)
                        .map(|v| store::to_json(field, value_ref(v)))
                        .unwrap_or(Json::Null);
                    m.insert(key.clone(), v);
                }
                let any = m.values().any(|v| !v.is_null());
                out.insert(name.clone(), if any { Json::Object(m) } else { Json::Null });
            }
        }
    }
}

fn fetch(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    width: usize,
) -> Result<Vec<Vec<SqlValue>>, SfError> {
    let mut stmt = conn.prepare_cached(sql).map_err(SfError::from)?;
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(SfError::from)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(SfError::from)? {
        let mut row = Vec::with_capacity(width);
        for i in 0..width {
            row.push(r.get::<_, SqlValue>(i).map_err(SfError::from)?);
        }
        out.push(row);
    }
    Ok(out)
}

fn count(conn: &Connection, sql: &str, params: &[SqlValue]) -> Result<u64, SfError> {
    let mut stmt = conn.prepare_cached(sql).map_err(SfError::from)?;
    let n: i64 = stmt
        .query_row(params_from_iter(params.iter()), |r| r.get(0))
        .map_err(SfError::from)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Salesforce allows at most three fields in `GROUP BY ROLLUP(…)` / `CUBE(…)`.
pub const MAX_ROLLUP_FIELDS: usize = 3;

/// Checks rules Salesforce enforces before running a query.
pub(super) fn check_rules(query: &Query, object: &ObjectSchema) -> Result<(), SfError> {
    if let Some(n) = query.offset
        && n > 2000
    {
        return Err(SfError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "NUMBER_OUTSIDE_VALID_RANGE",
            format!("Maximum SOQL offset allowed is 2000, but {n} was used"),
        ));
    }
    let wide_fields = query
        .select
        .iter()
        .any(|i| matches!(i, SelectItem::Fields(FieldsKind::All | FieldsKind::Custom)));
    if wide_fields && query.limit.is_none_or(|l| l > 200) {
        return Err(malformed(
            "The SOQL FIELDS function must have a LIMIT of at most 200",
        ));
    }
    if object.name == "ContentDocumentLink" && !filters_content_link(query.where_clause.as_ref()) {
        return Err(malformed(
            "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN operator.",
        ));
    }
    if let Some(g) = &query.group_by
        && g.kind != GroupByKind::Plain
        && g.items.len() > MAX_ROLLUP_FIELDS
    {
        let word = if g.kind == GroupByKind::Rollup {
            "ROLLUP"
        } else {
            "CUBE"
        };
        return Err(malformed(format!(
            "GROUP BY {word} takes at most {MAX_ROLLUP_FIELDS} fields"
        )));
    }
    for w in &query.with {
        if let With::DataCategory(_) = w {
            return Err(unsupported("WITH DATA CATEGORY"));
        }
    }
    if query.using_scope.is_some() {
        return Err(unsupported("USING SCOPE"));
    }
    Ok(())
}

fn filters_content_link(c: Option<&Condition>) -> bool {
    match c {
        Some(Condition::Compare(cmp)) => {
            matches!(&cmp.lhs, Operand::Field(f) if f.name().eq_ignore_ascii_case("ContentDocumentId") || f.name().eq_ignore_ascii_case("LinkedEntityId"))
                && matches!(cmp.op, Operator::Eq | Operator::In)
        }
        Some(Condition::And(parts)) => parts.iter().any(|p| filters_content_link(Some(p))),
        _ => false,
    }
}

/// A scope over the base object of `query`, once the object is known readable and the query
/// passes [`check_rules`].
/// The base scope of a query read through a cursor (keys, then slices): never an aggregate.
fn cursor_scope<'a, 'c>(
    ctx: Ctx<'a>,
    query: &Query,
    counter: &'c Cell<usize>,
) -> Result<Scope<'a, 'c>, SfError> {
    let scope = base_scope(ctx, query, counter)?;
    if query.is_aggregate() {
        return Err(malformed("an aggregate query has no query cursor"));
    }
    Ok(scope)
}

fn base_scope<'a, 'c>(
    ctx: Ctx<'a>,
    query: &Query,
    counter: &'c Cell<usize>,
) -> Result<Scope<'a, 'c>, SfError> {
    if query.from.path.len() != 1 {
        return Err(malformed(format!(
            "unexpected token: '{}'",
            query.from.path.join(".")
        )));
    }
    let object = readable_object(&ctx, query.from.name())?;
    check_rules(query, object)?;
    Ok(Scope::new(ctx, object, query.from.alias.clone(), counter))
}

/// The record shape of a non-aggregate query: its selected columns (the base `Id` first), the JSON
/// tree they fill and its child subqueries.
struct RecordPlan<'a> {
    cols: Columns,
    id_col: usize,
    node: Node<'a>,
    children: Vec<ChildPlan<'a>>,
}

fn record_plan<'a>(scope: &mut Scope<'a, '_>, query: &Query) -> Result<RecordPlan<'a>, SfError> {
    let mut cols = Columns::default();
    let id_col = cols.add(format!("{}.\"Id\"", scope.alias));
    let mut children = Vec::new();
    let node = shape(scope, &query.select, &mut cols, &mut children, true)?;
    Ok(RecordPlan {
        cols,
        id_col,
        node,
        children,
    })
}

/// Turns fetched rows into records: `attributes`, the select-list tree, child results.
fn render(
    conn: &Connection,
    ctx: Ctx<'_>,
    object: &ObjectSchema,
    plan: &RecordPlan<'_>,
    rows: &[Vec<SqlValue>],
    opts: RunOptions<'_>,
) -> Result<Vec<Json>, SfError> {
    let child_results = run_children(conn, ctx, &plan.children, rows, plan.id_col, opts)?;
    let mut records = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let id = text_at(row, plan.id_col).unwrap_or("");
        let mut m = Map::new();
        m.insert(
            "attributes".into(),
            json!({"type": object.name, "url": record_url(opts.version, &object.name, id)}),
        );
        let kids: Vec<Json> = child_results
            .iter()
            .map(|per_parent| per_parent[i].clone())
            .collect();
        fill(&plan.node, row, opts.version, &kids, &mut m);
        records.push(Json::Object(m));
    }
    Ok(records)
}

/// Runs `query` and returns its first page (at most `opts.batch` records) with the total.
///
/// # Errors
/// Salesforce-shaped errors: INVALID_TYPE, INVALID_FIELD, MALFORMED_QUERY, …
pub fn run(
    conn: &Connection,
    ctx: Ctx<'_>,
    query: &Query,
    opts: RunOptions<'_>,
) -> Result<Page, SfError> {
    let counter = Cell::new(0);
    let mut scope = base_scope(ctx, query, &counter)?;
    let is_count = matches!(query.select.as_slice(), [SelectItem::Function { call, .. }] if call.function == Function::Count && call.args.is_empty());
    if is_count {
        return run_count(conn, &mut scope, query, opts);
    }
    if query.is_aggregate() {
        return run_aggregate(conn, &mut scope, query, opts);
    }
    let plan = record_plan(&mut scope, query)?;
    let (where_sql, where_params) = where_part(&mut scope, query, opts.all_rows)?;
    let mut order = compile::order_by(&mut scope, &query.order_by, Mode::Row)?;
    order.push(format!("{}.\"Id\"", scope.alias));
    let (from, join_params) = scope.from_sql();

    let offset = query.offset.unwrap_or(0);
    let page_limit = query.limit.map_or(opts.batch, |l| l.min(opts.batch));
    let sql = format!(
        "SELECT {} FROM {from} WHERE {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
        plan.cols.exprs.join(", "),
        order.join(", ")
    );
    let mut params = join_params.clone();
    params.extend(where_params.iter().cloned());
    params.push(SqlValue::Integer(
        i64::try_from(page_limit).unwrap_or(i64::MAX),
    ));
    params.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let rows = fetch(conn, &sql, &params, plan.cols.exprs.len())?;
    let got = rows.len() as u64;
    let total = if got < page_limit || query.limit == Some(got) {
        got
    } else {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {where_sql} LIMIT ? OFFSET ?)"
        );
        let mut params = join_params;
        params.extend(where_params);
        params.push(SqlValue::Integer(
            query
                .limit
                .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
        ));
        params.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        count(conn, &sql, &params)?
    };
    let records = render(conn, ctx, scope.object, &plan, &rows, opts)?;
    Ok(Page {
        total,
        records,
        next: (got < total).then_some(got),
    })
}

/// The ids of the whole result of a non-aggregate `query`, in result order: `SELECT <base Id> FROM
/// … WHERE … ORDER BY … LIMIT ? OFFSET ?` with its parameters (sharing, soft delete unless
/// `all_rows`, the query's own LIMIT and OFFSET). A query cursor copies it into its snapshot.
///
/// # Errors
/// The errors of [`run`].
pub fn keys_sql(
    ctx: Ctx<'_>,
    query: &Query,
    all_rows: bool,
) -> Result<(String, Vec<SqlValue>), SfError> {
    let counter = Cell::new(0);
    let mut scope = cursor_scope(ctx, query, &counter)?;
    let (where_sql, where_params) = where_part(&mut scope, query, all_rows)?;
    let mut order = compile::order_by(&mut scope, &query.order_by, Mode::Row)?;
    order.push(format!("{}.\"Id\"", scope.alias));
    let (from, mut params) = scope.from_sql();
    params.extend(where_params);
    push_limit_offset(&mut params, query);
    let sql = format!(
        "SELECT {}.\"Id\" FROM {from} WHERE {where_sql} ORDER BY {} LIMIT ? OFFSET ?",
        scope.alias,
        order.join(", ")
    );
    Ok((sql, params))
}

/// A slice of a query cursor's snapshot: the rows of `table` (`rid INTEGER PRIMARY KEY, record_id
/// TEXT`) with rowids in `first..end`, in rowid order.
#[derive(Debug, Clone, Copy)]
pub struct Slice<'t> {
    /// The snapshot table.
    pub table: &'t str,
    /// First rowid of the slice.
    pub first: i64,
    /// Rowid just past the slice.
    pub end: i64,
}

/// Renders the records of `query` whose ids `slice` lists, in the slice's order, with the same
/// select list, relationship objects, child subqueries and field-level security as [`run`]. The
/// query's WHERE, ORDER BY and sharing filter are not applied again (they chose the ids); values are
/// read now. Ids no longer in the store (purged) are left out.
///
/// # Errors
/// The errors of [`run`] (field-level security may have changed since the ids were taken).
pub fn run_slice(
    conn: &Connection,
    ctx: Ctx<'_>,
    query: &Query,
    slice: Slice<'_>,
    opts: RunOptions<'_>,
) -> Result<Vec<Json>, SfError> {
    let counter = Cell::new(0);
    let mut scope = cursor_scope(ctx, query, &counter)?;
    let plan = record_plan(&mut scope, query)?;
    let (from, mut params) = scope.from_sql();
    // CROSS JOIN keeps the snapshot as the outer loop: a rowid range, then one lookup by Id each.
    let sql = format!(
        "SELECT {} FROM {} snap CROSS JOIN {from}
         WHERE snap.rid >= ? AND snap.rid < ? AND {}.\"Id\" = snap.record_id ORDER BY snap.rid",
        plan.cols.exprs.join(", "),
        store::quote_ident(slice.table),
        scope.alias
    );
    params.push(SqlValue::Integer(slice.first));
    params.push(SqlValue::Integer(slice.end));
    let rows = fetch(conn, &sql, &params, plan.cols.exprs.len())?;
    render(conn, ctx, scope.object, &plan, &rows, opts)
}

/// Binds the query's `LIMIT ? OFFSET ?` (no limit is -1, SQLite's "all").
fn push_limit_offset(params: &mut Vec<SqlValue>, query: &Query) {
    params.push(SqlValue::Integer(
        query
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
    ));
    params.push(SqlValue::Integer(
        i64::try_from(query.offset.unwrap_or(0)).unwrap_or(i64::MAX),
    ));
}

/// `WHERE` of the base query: soft delete, row-level security, then the query's own condition.
pub(super) fn where_part(
    scope: &mut Scope<'_, '_>,
    query: &Query,
    all_rows: bool,
) -> Result<(String, Vec<SqlValue>), SfError> {
    let mut preds = Vec::new();
    let mut params = Vec::new();
    if !all_rows {
        preds.push(format!("{}.\"IsDeleted\" = 0", scope.alias));
    }
    if let Some((sql, p)) = scope.security() {
        preds.push(format!("({sql})"));
        params.extend(p);
    }
    if let Some(c) = &query.where_clause {
        preds.push(compile::condition(scope, c, Mode::Row, &mut params)?);
    }
    if preds.is_empty() {
        preds.push("1".to_string());
    }
    Ok((preds.join(" AND "), params))
}

fn run_count(
    conn: &Connection,
    scope: &mut Scope<'_, '_>,
    query: &Query,
    _opts: RunOptions<'_>,
) -> Result<Page, SfError> {
    let (where_sql, where_params) = where_part(scope, query, _opts.all_rows)?;
    let (from, mut params) = scope.from_sql();
    params.extend(where_params);
    push_limit_offset(&mut params, query);
    let sql =
        format!("SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {where_sql} LIMIT ? OFFSET ?)");
    let total = count(conn, &sql, &params)?;
    Ok(Page {
        total,
        records: Vec::new(),
        next: None,
    })
}

fn run_aggregate(
    conn: &Connection,
    scope: &mut Scope<'_, '_>,
    query: &Query,
    opts: RunOptions<'_>,
) -> Result<Page, SfError> {
    let mut group_sql = Vec::new();
    let kind = query
        .group_by
        .as_ref()
        .map_or(GroupByKind::Plain, |g| g.kind);
    if let Some(g) = &query.group_by {
        for item in &g.items {
            group_sql.push(compile::operand(scope, item, Mode::Row)?.0);
        }
    }
    let mut cols = Columns::default();
    let mut out: Vec<(String, usize, Conv<'_>)> = Vec::new();
    // Columns holding GROUPING(x): (column, index of x in GROUP BY).
    let mut grouping: Vec<(usize, usize)> = Vec::new();
    let mut expr = 0;
    for item in &query.select {
        match item {
            SelectItem::Function { call, alias } if call.function == Function::Grouping => {
                let [FunctionArg::Field(path)] = call.args.as_slice() else {
                    return Err(malformed("GROUPING() takes one grouped field"));
                };
                let c = scope.column(path)?;
                let Some(index) = group_sql.iter().position(|g| *g == c.sql) else {
                    return Err(malformed(format!(
                        "GROUPING() needs a grouped field, not {}",
                        c.field.name
                    )));
                };
                if kind == GroupByKind::Plain {
                    return Err(malformed(
                        "GROUPING() is only valid with GROUP BY ROLLUP or CUBE",
                    ));
                }
                let name = match alias {
                    Some(a) => a.clone(),
                    None => {
                        expr += 1;
                        format!("expr{}", expr - 1)
                    }
                };
                let col = cols.add(format!("__grouping{index}"));
                grouping.push((col, index));
                out.push((name, col, Conv::Integer));
            }
            SelectItem::Field { path, alias } => {
                let c = scope.column(path)?;
                if !group_sql.contains(&c.sql) {
                    return Err(malformed(format!(
                        "Field must be grouped or aggregated: {}",
                        c.field.name
                    )));
                }
                let name = alias.clone().unwrap_or_else(|| c.display.clone());
                out.push((name, cols.add(c.sql), Conv::Grouped(c.field)));
            }
            SelectItem::Function { call, alias } => {
                let (sql, ty) = compile::function(scope, call, Mode::Aggregate)?;
                if !call.function.is_aggregate() && !group_sql.contains(&sql) {
                    return Err(malformed(format!(
                        "Field must be grouped or aggregated: {}",
                        call.function.as_str()
                    )));
                }
                if call.function.is_date_function() && !group_sql.contains(&sql) {
                    return Err(malformed(format!(
                        "{}() must be grouped",
                        call.function.as_str()
                    )));
                }
                let name = match alias {
                    Some(a) => a.clone(),
                    None => {
                        expr += 1;
                        format!("expr{}", expr - 1)
                    }
                };
                let conv = match ty {
                    OperandType::Field(f) => Conv::Field(f),
                    OperandType::Integer => Conv::Integer,
                    OperandType::Number => Conv::Number,
                    OperandType::Date => Conv::Text,
                };
                out.push((name, cols.add(sql), conv));
            }
            SelectItem::Fields(_) | SelectItem::Subquery(_) | SelectItem::TypeOf(_) => {
                return Err(malformed(
                    "aggregate queries select grouped fields and aggregate functions only",
                ));
            }
        }
    }
    let (where_sql, where_params) = where_part(scope, query, opts.all_rows)?;
    let mut having_params = Vec::new();
    let having = match &query.having {
        Some(c) => Some(compile::condition(
            scope,
            c,
            Mode::Aggregate,
            &mut having_params,
        )?),
        None => None,
    };
    if kind != GroupByKind::Plain {
        let sql_params = grouping_sets_sql(
            scope,
            query,
            kind,
            &group_sql,
            &cols,
            &grouping,
            &where_sql,
            &where_params,
            having.as_deref(),
            &having_params,
        )?;
        return aggregate_page(
            conn,
            query,
            &sql_params.0,
            sql_params.1,
            cols.exprs.len(),
            &out,
        );
    }
    let order = compile::order_by(scope, &query.order_by, Mode::Aggregate)?;
    let (from, mut params) = scope.from_sql();
    params.extend(where_params);
    params.extend(having_params);
    let mut sql = format!(
        "SELECT {} FROM {from} WHERE {where_sql}",
        cols.exprs.join(", ")
    );
    if !group_sql.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group_sql.join(", ")));
    }
    if let Some(h) = having {
        sql.push_str(&format!(" HAVING {h}"));
    }
    if !order.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    aggregate_page(conn, query, &sql, params, cols.exprs.len(), &out)
}

/// Runs an aggregate query (LIMIT/OFFSET appended; at most 2,000 groups) into `AggregateResult`s.
fn aggregate_page(
    conn: &Connection,
    query: &Query,
    sql: &str,
    mut params: Vec<SqlValue>,
    width: usize,
    out: &[(String, usize, Conv<'_>)],
) -> Result<Page, SfError> {
    let sql = format!("{sql} LIMIT ? OFFSET ?");
    params.push(SqlValue::Integer(
        query
            .limit
            .map_or(2000, |l| i64::try_from(l.min(2000)).unwrap_or(2000)),
    ));
    params.push(SqlValue::Integer(
        i64::try_from(query.offset.unwrap_or(0)).unwrap_or(0),
    ));
    let rows = fetch(conn, &sql, &params, width)?;
    let records: Vec<Json> = rows
        .iter()
        .map(|row| {
            let mut m = Map::new();
            m.insert("attributes".into(), json!({"type": "AggregateResult"}));
            for (name, col, conv) in out {
                m.insert(
                    name.clone(),
                    row.get(*col)
                        .map(|v| convert(conv, value_ref(v)))
                        .unwrap_or(Json::Null),
                );
            }
            Json::Object(m)
        })
        .collect();
    Ok(Page {
        total: records.len() as u64,
        records,
        next: None,
    })
}

/// GROUP BY ROLLUP / CUBE as a UNION ALL of one GROUP BY per grouping set (SQLite has neither):
/// columns of fields outside the set are NULL and `GROUPING(x)` is 1 for them. ORDER BY may use
/// selected columns and GROUPING() only.
#[allow(clippy::too_many_arguments)]
fn grouping_sets_sql(
    scope: &mut Scope<'_, '_>,
    query: &Query,
    kind: GroupByKind,
    group_sql: &[String],
    cols: &Columns,
    grouping: &[(usize, usize)],
    where_sql: &str,
    where_params: &[SqlValue],
    having: Option<&str>,
    having_params: &[SqlValue],
) -> Result<(String, Vec<SqlValue>), SfError> {
    let n = group_sql.len();
    let sets: Vec<Vec<bool>> = if kind == GroupByKind::Rollup {
        (0..=n)
            .rev()
            .map(|k| (0..n).map(|i| i < k).collect())
            .collect()
    } else {
        (0..1usize << n)
            .rev()
            .map(|m| (0..n).map(|i| m & (1 << (n - 1 - i)) != 0).collect())
            .collect()
    };
    let mut order = Vec::new();
    for item in &query.order_by {
        let col = match &item.target {
            Operand::Function(call) if call.function == Function::Grouping => {
                let [FunctionArg::Field(path)] = call.args.as_slice() else {
                    return Err(malformed("GROUPING() takes one grouped field"));
                };
                let c = scope.column(path)?;
                let index = group_sql.iter().position(|g| *g == c.sql);
                grouping
                    .iter()
                    .find(|(_, i)| Some(*i) == index)
                    .map(|(col, _)| *col)
            }
            other => {
                let sql = compile::operand(scope, other, Mode::Aggregate)?.0;
                cols.exprs.iter().position(|e| *e == sql)
            }
        };
        let col = col.ok_or_else(|| {
            unsupported("ORDER BY on an expression that is not selected, with ROLLUP or CUBE,")
        })?;
        let (dir, nulls) = compile::sort_words(item);
        order.push(format!("c{col} {dir} {nulls}"));
    }
    let (from, join_params) = scope.from_sql();
    let mut parts = Vec::new();
    let mut params = Vec::new();
    for set in &sets {
        let select: Vec<String> = cols
            .exprs
            .iter()
            .enumerate()
            .map(|(j, e)| {
                let value = if let Some((_, i)) = grouping.iter().find(|(c, _)| *c == j) {
                    if set[*i] {
                        "0".to_string()
                    } else {
                        "1".to_string()
                    }
                } else if group_sql
                    .iter()
                    .position(|g| g == e)
                    .is_some_and(|i| !set[i])
                {
                    "NULL".to_string()
                } else {
                    e.clone()
                };
                format!("{value} AS c{j}")
            })
            .collect();
        let mut part = format!("SELECT {} FROM {from} WHERE {where_sql}", select.join(", "));
        let grouped: Vec<&str> = group_sql
            .iter()
            .zip(set)
            .filter(|(_, keep)| **keep)
            .map(|(g, _)| g.as_str())
            .collect();
        if !grouped.is_empty() {
            part.push_str(&format!(" GROUP BY {}", grouped.join(", ")));
        }
        if let Some(h) = having {
            part.push_str(&format!(" HAVING {h}"));
        }
        parts.push(part);
        params.extend(join_params.iter().cloned());
        params.extend(where_params.iter().cloned());
        params.extend(having_params.iter().cloned());
    }
    let mut sql = format!("SELECT * FROM ({})", parts.join(" UNION ALL "));
    if !order.is_empty() {
        sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    Ok((sql, params))
}

/// Runs each child subquery once for the page of parents; returns, per child plan, one JSON value
/// per parent row (`{totalSize, done, records}` or null).
fn run_children(
    conn: &Connection,
    ctx: Ctx<'_>,
    children: &[ChildPlan<'_>],
    parents: &[Vec<SqlValue>],
    id_col: usize,
    opts: RunOptions<'_>,
) -> Result<Vec<Vec<Json>>, SfError> {
    let mut results = Vec::new();
    let parent_ids: Vec<String> = parents
        .iter()
        .filter_map(|r| text_at(r, id_col).map(str::to_string))
        .collect();
    for plan in children {
        let q = &plan.query;
        if q.is_aggregate() || q.group_by.is_some() {
            return Err(malformed(
                "aggregate functions are not allowed in child subqueries",
            ));
        }
        let counter = Cell::new(100);
        let mut scope = Scope::new(ctx, plan.object, q.from.alias.clone(), &counter);
        let mut cols = Columns::default();
        let id = cols.add(format!("{}.\"Id\"", scope.alias));
        let fk = cols.add(format!("{}.{}", scope.alias, store::quote_ident(&plan.fk)));
        let node = shape(&mut scope, &q.select, &mut cols, &mut Vec::new(), false)?;
        let mut per_parent: Vec<Vec<Json>> = vec![Vec::new(); parents.len()];
        if !parent_ids.is_empty() {
            let mut preds = vec![format!("{}.\"IsDeleted\" = 0", scope.alias)];
            let mut params = Vec::new();
            if let Some((sql, p)) = scope.security() {
                preds.push(format!("({sql})"));
                params.extend(p);
            }
            if let Some(c) = &q.where_clause {
                preds.push(compile::condition(&mut scope, c, Mode::Row, &mut params)?);
            }
            preds.push(format!(
                "{}.{} IN ({})",
                scope.alias,
                store::quote_ident(&plan.fk),
                vec!["?"; parent_ids.len()].join(", ")
            ));
            params.extend(parent_ids.iter().cloned().map(SqlValue::Text));
            let mut order = compile::order_by(&mut scope, &q.order_by, Mode::Row)?;
            order.push(format!("{}.\"Id\"", scope.alias));
            let (from, mut all) = scope.from_sql();
            all.extend(params);
            let sql = format!(
                "SELECT {} FROM {from} WHERE {} ORDER BY {}",
                cols.exprs.join(", "),
                preds.join(" AND "),
                order.join(", ")
            );
            let rows = fetch(conn, &sql, &all, cols.exprs.len())?;
            let skip = q.offset.unwrap_or(0) as usize;
            let take = q.limit.map_or(usize::MAX, |l| l as usize);
            let mut seen = vec![0usize; parents.len()];
            let index: std::collections::HashMap<&str, usize> = parent_ids
                .iter()
                .enumerate()
                .map(|(i, p)| (p.as_str(), i))
                .collect();
            for row in &rows {
                let Some(parent) = text_at(row, fk) else {
                    continue;
                };
                let Some(&i) = index.get(parent) else {
                    continue;
                };
                seen[i] += 1;
                if seen[i] <= skip || per_parent[i].len() >= take {
                    continue;
                }
                let rid = text_at(row, id).unwrap_or("");
                let mut m = Map::new();
                m.insert("attributes".into(), json!({"type": plan.object.name, "url": record_url(opts.version, &plan.object.name, rid)}));
                fill(&node, row, opts.version, &[], &mut m);
                per_parent[i].push(Json::Object(m));
            }
        }
        results.push(
            per_parent
                .into_iter()
                .map(|recs| {
                    if recs.is_empty() {
                        Json::Null
                    } else {
                        json!({"totalSize": recs.len(), "done": true, "records": recs})
                    }
                })
                .collect(),
        );
    }
    Ok(results)
}
