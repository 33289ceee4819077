//! SOQL AST → parameterised SQLite SQL over the sandbox's tables.
//!
//! Owns name resolution against the [`Schema`] (case-insensitive, canonical names in results),
//! field-level security ([`Policy::field_access`]: a hidden field is "No such column"), row-level
//! security ([`Policy::row_filter`] on the base object, every parent join, every child and
//! semi-join), relationship joins (polymorphic `What`/`Who`/`Owner` get one LEFT JOIN per target
//! object, matched by the unique Id), literal typing and binding, date literal ranges, LIKE,
//! INCLUDES/EXCLUDES, aggregates, ORDER BY with NULLS FIRST/LAST. Values are always bound
//! parameters; identifiers come from the schema (never from the query text) and are quoted.
//!
//! Does not execute anything: `exec.rs` runs the SQL and shapes the JSON.
//!
//! Text equality is case-insensitive (`"Name" = ? COLLATE NOCASE`), as in Salesforce. SQLite only
//! uses an index for that when the index (or column) has NOCASE collation.
//! `store.rs` therefore indexes text name fields with NOCASE; ids, references and dates stay binary.

use std::cell::Cell;

use axum::http::StatusCode;
use chrono::NaiveDate;
use rusqlite::types::Value as SqlValue;

use super::dates;
use crate::id::RecordId;
use crate::sandbox::clock;
use crate::sandbox::error::SfError;
use crate::sandbox::schema::{Field, FieldType, ObjectSchema, Schema, Storage};
use crate::sandbox::security::{Policy, Principal, RowAccess};
use crate::sandbox::store::quote_ident;
use crate::soql::ast::*;

/// Who is asking, and against what org.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The org's objects.
    pub schema: &'a Schema,
    /// The security model.
    pub policy: &'a Policy,
    /// The caller.
    pub principal: &'a Principal,
    /// "Today" for date literals.
    pub today: NaiveDate,
}

/// `400 MALFORMED_QUERY`.
pub fn malformed(message: impl Into<String>) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
}

/// `400 INVALID_FIELD`.
pub fn invalid_field(message: impl Into<String>) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, "INVALID_FIELD", message)
}

/// A valid construct the sandbox does not evaluate: a clear error naming it (never MALFORMED_QUERY).
pub fn unsupported(what: &str) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_FILTER_OPERATOR",
        format!("{what} is valid SOQL but is not supported by the sayso sandbox"),
    )
}

fn no_such_column(field: &str, object: &str) -> SfError {
    invalid_field(format!(
        "No such column '{field}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    ))
}

fn bad_relationship(rel: &str) -> SfError {
    invalid_field(format!(
        "Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
    ))
}

/// `400 INVALID_TYPE` "sObject type 'X' is not supported…".
pub fn invalid_type(object: &str) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_TYPE",
        format!(
            "sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
        ),
    )
}

/// `400 INVALID_TYPE` for an unknown child relationship in a subquery's FROM.
pub fn invalid_type_rel(rel: &str) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_TYPE",
        format!(
            "Didn't understand relationship '{rel}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
        ),
    )
}

/// A readable served object, or INVALID_TYPE (an unreadable object looks like a missing one).
pub fn readable_object<'a>(ctx: &Ctx<'a>, name: &str) -> Result<&'a ObjectSchema, SfError> {
    let obj = ctx.schema.object(name).ok_or_else(|| invalid_type(name))?;
    if !ctx.policy.object_access(ctx.principal, &obj.name).read {
        return Err(invalid_type(name));
    }
    Ok(obj)
}

/// A resolved field reference: its SQL expression and what it is.
#[derive(Debug, Clone)]
pub struct ColRef<'a> {
    /// SQL expression (`t1."Name"`, or a COALESCE over polymorphic targets).
    pub sql: String,
    /// The field's schema (for typing and JSON conversion).
    pub field: &'a Field,
    /// Canonical relationship names from the base object (`["Account", "Owner"]`).
    pub rels: Vec<String>,
    /// The key in result JSON (the canonical field name; `Type` for a polymorphic type).
    pub display: String,
}

/// The pseudo-field `Type` of a polymorphic relationship (`What.Type`): a picklist of object names.
static TYPE_FIELD: std::sync::LazyLock<Field> = std::sync::LazyLock::new(|| Field {
    name: "Type".to_string(),
    label: "Type".to_string(),
    ty: FieldType::Picklist,
    length: 255,
    precision: 0,
    scale: 0,
    nillable: true,
    createable: false,
    updateable: false,
    defaulted_on_create: false,
    picklist: Vec::new(),
    restricted_picklist: false,
    reference_to: Vec::new(),
    relationship_name: None,
    name_field: false,
    external_id: false,
    id_lookup: false,
    compound_field_name: None,
    custom: false,
    auto_number: false,
    polymorphic: false,
    filterable: true,
    sortable: true,
    groupable: true,
    aggregatable: false,
});

/// Possible target objects of a relationship with their table aliases.
pub type Targets<'a> = Vec<(&'a ObjectSchema, String)>;

/// One LEFT JOIN for a parent relationship path.
#[derive(Debug, Clone)]
pub struct Join<'a> {
    /// Lower-cased relationship path (`account.owner`).
    pub key: String,
    /// Whether the lookup is polymorphic in describe (`What`, `Who`, `Case.Owner`), so `.Type`
    /// names the target's object type.
    pub polymorphic: bool,
    /// Possible target objects with their table aliases (several for polymorphic lookups).
    pub targets: Vec<(&'a ObjectSchema, String)>,
    sql: String,
    params: Vec<SqlValue>,
}

/// The FROM side of one (sub)query: the base object, its alias and the parent joins it needs.
pub struct Scope<'a, 'c> {
    ctx: Ctx<'a>,
    /// The base object.
    pub object: &'a ObjectSchema,
    /// Its table alias (`t0`).
    pub alias: String,
    soql_alias: Option<String>,
    /// Parent joins, in creation order.
    pub joins: Vec<Join<'a>>,
    counter: &'c Cell<usize>,
}

impl<'a, 'c> Scope<'a, 'c> {
    /// A scope over `object` with a fresh alias.
    pub fn new(
        ctx: Ctx<'a>,
        object: &'a ObjectSchema,
        soql_alias: Option<String>,
        counter: &'c Cell<usize>,
    ) -> Self {
        let alias = fresh(counter);
        Scope {
            ctx,
            object,
            alias,
            soql_alias,
            joins: Vec::new(),
            counter,
        }
    }

    /// The context.
    pub fn ctx(&self) -> Ctx<'a> {
        self.ctx
    }

    fn check_field(&self, object: &ObjectSchema, field: &str) -> Result<&'a Field, SfError> {
        let obj: &'a ObjectSchema = self
            .ctx
            .schema
            .object(&object.name)
            .ok_or_else(|| invalid_type(&object.name))?;
        let f = obj
            .field(field)
            .filter(|f| f.is_column())
            .ok_or_else(|| no_such_column(field, &obj.name))?;
        if !self
            .ctx
            .policy
            .field_access(self.ctx.principal, &obj.name, &f.name)
            .readable()
        {
            return Err(no_such_column(field, &obj.name));
        }
        Ok(f)
    }

    /// The path without the FROM alias.
    pub fn strip<'p>(&self, path: &'p FieldPath) -> &'p [String] {
        match (&self.soql_alias, path.0.split_first()) {
            (Some(a), Some((first, rest))) if !rest.is_empty() && first.eq_ignore_ascii_case(a) => {
                rest
            }
            _ => &path.0,
        }
    }

    /// Resolves the targets of the relationship path `rels` (joining as needed).
    pub fn targets(&mut self, rels: &[String]) -> Result<(Targets<'a>, Vec<String>), SfError> {
        let mut current: Vec<(&'a ObjectSchema, String)> = vec![(self.object, self.alias.clone())];
        let mut canonical = Vec::new();
        let mut key = String::new();
        for rel in rels {
            if current.len() != 1 {
                return Err(unsupported(&format!(
                    "A relationship path through the polymorphic relationship `{}`",
                    canonical.join(".")
                )));
            }
            let (obj, alias) = current[0].clone();
            let lookup = obj
                .parent_relationship(rel)
                .ok_or_else(|| bad_relationship(rel))?;
            if !self
                .ctx
                .policy
                .field_access(self.ctx.principal, &obj.name, &lookup.name)
                .readable()
            {
                return Err(bad_relationship(rel));
            }
            let rel_name = lookup
                .relationship_name
                .clone()
                .unwrap_or_else(|| rel.clone());
            canonical.push(rel_name);
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&rel.to_ascii_lowercase());
            if let Some(j) = self.joins.iter().find(|j| j.key == key) {
                current = j.targets.clone();
                continue;
            }
            let mut targets = Vec::new();
            let mut sql = String::new();
            let mut params = Vec::new();
            for target in &lookup.reference_to {
                let Some(t) = self.ctx.schema.object(target) else {
                    continue;
                };
                if !self
                    .ctx
                    .policy
                    .object_access(self.ctx.principal, &t.name)
                    .read
                {
                    continue;
                }
                let ta = fresh(self.counter);
                sql.push_str(&format!(
                    " LEFT JOIN {} {ta} ON {ta}.\"Id\" = {alias}.{} AND {ta}.\"IsDeleted\" = 0",
                    quote_ident(&t.name),
                    quote_ident(&lookup.name)
                ));
                if let Some(f) =
                    self.ctx
                        .policy
                        .row_filter(self.ctx.principal, &t.name, &ta, RowAccess::Read)
                {
                    sql.push_str(&format!(" AND ({})", f.sql));
                    params.extend(f.params);
                }
                targets.push((t, ta));
            }
            if targets.is_empty() {
                return Err(bad_relationship(rel));
            }
            self.joins.push(Join {
                key: key.clone(),
                polymorphic: lookup.polymorphic || lookup.reference_to.len() > 1,
                targets: targets.clone(),
                sql,
                params,
            });
            current = targets;
        }
        Ok((current, canonical))
    }

    /// Resolves a field path to a column expression, joining parents as needed.
    pub fn column(&mut self, path: &FieldPath) -> Result<ColRef<'a>, SfError> {
        let parts = self.strip(path).to_vec();
        let (rels, name) = parts.split_at(parts.len().saturating_sub(1));
        let name = name.first().cloned().unwrap_or_default();
        let (targets, canonical) = self.targets(rels)?;
        let key = rels
            .iter()
            .map(|r| r.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        let polymorphic = self.joins.iter().any(|j| j.key == key && j.polymorphic);
        if polymorphic && name.eq_ignore_ascii_case("Type") {
            return Ok(self.type_column(&targets, canonical));
        }
        if targets.len() == 1 {
            let (obj, alias) = &targets[0];
            let field = self.check_field(obj, &name)?;
            return Ok(ColRef {
                sql: format!("{alias}.{}", quote_ident(&field.name)),
                field,
                rels: canonical,
                display: field.name.clone(),
            });
        }
        // Polymorphic: the field of whichever target matched.
        let mut exprs = Vec::new();
        let mut first: Option<&'a Field> = None;
        for (obj, alias) in &targets {
            if let Some(f) = obj.field(&name).filter(|f| f.is_column())
                && self
                    .ctx
                    .policy
                    .field_access(self.ctx.principal, &obj.name, &f.name)
                    .readable()
            {
                exprs.push(format!("{alias}.{}", quote_ident(&f.name)));
                first.get_or_insert(f);
            }
        }
        let field = first.ok_or_else(|| {
            no_such_column(
                &name,
                canonical.last().map(String::as_str).unwrap_or("Name"),
            )
        })?;
        let sql = if exprs.len() == 1 {
            exprs.remove(0)
        } else {
            format!("COALESCE({})", exprs.join(", "))
        };
        Ok(ColRef {
            sql,
            field,
            rels: canonical,
            display: field.name.clone(),
        })
    }

    /// When `path` names a compound field the caller can read (`BillingAddress`,
    /// `Owner.Address`), the field and the paths of its readable components (`BillingStreet`, …);
    /// `None` for anything else (which [`Scope::column`] then resolves or refuses).
    ///
    /// # Errors
    /// A relationship in the path that does not resolve.
    pub fn compound_parts(
        &mut self,
        path: &FieldPath,
    ) -> Result<Option<(&'a Field, Vec<FieldPath>)>, SfError> {
        let parts = self.strip(path).to_vec();
        let (rels, name) = parts.split_at(parts.len().saturating_sub(1));
        let Some(name) = name.first() else {
            return Ok(None);
        };
        let (targets, _) = self.targets(rels)?;
        let [(obj, _)] = targets.as_slice() else {
            return Ok(None);
        };
        let obj: &'a ObjectSchema = obj;
        let ctx = self.ctx;
        let readable = |f: &Field| {
            ctx.policy
                .field_access(ctx.principal, &obj.name, &f.name)
                .readable()
        };
        let Some(compound) = obj
            .field(name)
            .filter(|f| matches!(f.ty, FieldType::Address | FieldType::Location) && readable(f))
        else {
            return Ok(None);
        };
        let components = obj
            .fields
            .iter()
            .filter(|c| c.compound_field_name.as_deref() == Some(compound.name.as_str()))
            .filter(|c| c.is_column() && readable(c))
            .map(|c| {
                let mut p = rels.to_vec();
                p.push(c.name.clone());
                FieldPath(p)
            })
            .collect();
        Ok(Some((compound, components)))
    }

    /// `What.Type`, `Who.Type`, `Owner.Type` of a polymorphic lookup: the API name of the
    /// target's object, a text column (so it can be selected, filtered and grouped on).
    fn type_column(&self, targets: &Targets<'a>, rels: Vec<String>) -> ColRef<'a> {
        let whens: Vec<String> = targets
            .iter()
            .map(|(o, a)| {
                format!(
                    "WHEN {a}.\"Id\" IS NOT NULL THEN '{}'",
                    o.name.replace('\'', "''")
                )
            })
            .collect();
        ColRef {
            sql: format!("(CASE {} END)", whens.join(" ")),
            field: &TYPE_FIELD,
            rels,
            display: "Type".to_string(),
        }
    }

    /// `FROM base t0 LEFT JOIN …` and the join parameters.
    pub fn from_sql(&self) -> (String, Vec<SqlValue>) {
        let mut sql = format!("{} {}", quote_ident(&self.object.name), self.alias);
        let mut params = Vec::new();
        for j in &self.joins {
            sql.push_str(&j.sql);
            params.extend(j.params.iter().cloned());
        }
        (sql, params)
    }

    /// The base object's row-level security predicate, if any.
    pub fn security(&self) -> Option<(String, Vec<SqlValue>)> {
        self.ctx
            .policy
            .row_filter(
                self.ctx.principal,
                &self.object.name,
                &self.alias,
                RowAccess::Read,
            )
            .map(|f| (f.sql, f.params))
    }
}

/// A fresh table alias `tN`.
pub fn fresh(counter: &Cell<usize>) -> String {
    let n = counter.get();
    counter.set(n + 1);
    format!("t{n}")
}

/// Aggregate-query context: how operands compile (aggregates allowed, or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// WHERE of a plain query: no aggregates.
    Row,
    /// HAVING / ORDER BY / SELECT of an aggregate query.
    Aggregate,
}

/// What an operand evaluates to, for typing its comparison value.
#[derive(Debug, Clone)]
pub enum OperandType<'a> {
    /// A field value.
    Field(&'a Field),
    /// An integer (COUNT, CALENDAR_YEAR, …).
    Integer,
    /// A number (SUM, AVG).
    Number,
    /// A date text (DAY_ONLY).
    Date,
}

/// Compiles an operand to SQL.
pub fn operand<'a>(
    scope: &mut Scope<'a, '_>,
    op: &Operand,
    mode: Mode,
) -> Result<(String, OperandType<'a>), SfError> {
    match op {
        Operand::Field(path) => {
            let c = scope.column(path)?;
            Ok((c.sql, OperandType::Field(c.field)))
        }
        Operand::Function(call) => function(scope, call, mode),
    }
}

fn single_field<'a>(scope: &mut Scope<'a, '_>, call: &FunctionCall) -> Result<ColRef<'a>, SfError> {
    match call.args.as_slice() {
        [FunctionArg::Field(path)] => scope.column(path),
        [FunctionArg::Function(inner)] if inner.function == Function::ConvertTimezone => {
            Err(malformed(format!(
                "convertTimezone() is only valid inside a date function, not in {}()",
                call.function.as_str()
            )))
        }
        _ => Err(malformed(format!(
            "{}() takes one field",
            call.function.as_str()
        ))),
    }
}

/// Compiles a function call.
pub fn function<'a>(
    scope: &mut Scope<'a, '_>,
    call: &FunctionCall,
    mode: Mode,
) -> Result<(String, OperandType<'a>), SfError> {
    use Function as F;
    let f = call.function;
    if f.is_aggregate() && !f.is_date_function() && mode == Mode::Row {
        return Err(malformed(format!(
            "Aggregate functions like {}() are not allowed in the WHERE clause; use HAVING",
            f.as_str()
        )));
    }
    match f {
        F::Count if call.args.is_empty() => Ok(("COUNT(*)".to_string(), OperandType::Integer)),
        F::Count | F::CountDistinct => {
            let c = single_field(scope, call)?;
            let distinct = if f == F::CountDistinct {
                "DISTINCT "
            } else {
                ""
            };
            Ok((format!("COUNT({distinct}{})", c.sql), OperandType::Integer))
        }
        F::Sum | F::Avg => {
            let c = single_field(scope, call)?;
            if !matches!(c.field.ty.storage(), Storage::Integer | Storage::Real) {
                return Err(malformed(format!(
                    "field {} does not support aggregate operator {}",
                    c.field.name,
                    f.as_str()
                )));
            }
            Ok((format!("{}({})", f.as_str(), c.sql), OperandType::Number))
        }
        F::Min | F::Max => {
            let c = single_field(scope, call)?;
            let collate = if c.field.ty.is_text() {
                " COLLATE NOCASE"
            } else {
                ""
            };
            Ok((
                format!("{}({}{collate})", f.as_str(), c.sql),
                OperandType::Field(c.field),
            ))
        }
        _ if f.is_date_function() => {
            let (c, local) = match call.args.as_slice() {
                [FunctionArg::Function(inner)] if inner.function == Function::ConvertTimezone => {
                    let c = single_field(scope, inner)?;
                    if c.field.ty != FieldType::Datetime {
                        return Err(malformed(format!(
                            "convertTimezone() requires a dateTime field, not {}",
                            c.field.name
                        )));
                    }
                    (c, true)
                }
                _ => (single_field(scope, call)?, false),
            };
            if !matches!(c.field.ty, FieldType::Date | FieldType::Datetime) {
                return Err(malformed(format!(
                    "{}() requires a date or dateTime field, not {}",
                    f.as_str(),
                    c.field.name
                )));
            }
            let x = if local {
                org_local_sql(&c.sql)
            } else {
                format!("substr({}, 1, 19)", c.sql)
            };
            let int = |fmt: &str| format!("CAST(strftime('{fmt}', {x}) AS INTEGER)");
            let sql = match f {
                F::CalendarYear | F::FiscalYear => int("%Y"),
                F::CalendarMonth | F::FiscalMonth => int("%m"),
                F::CalendarQuarter | F::FiscalQuarter => {
                    format!("((CAST(strftime('%m', {x}) AS INTEGER) + 2) / 3)")
                }
                F::DayInMonth => int("%d"),
                F::DayInWeek => format!("(CAST(strftime('%w', {x}) AS INTEGER) + 1)"),
                F::DayInYear => int("%j"),
                F::HourInDay => int("%H"),
                F::WeekInMonth => format!("((CAST(strftime('%d', {x}) AS INTEGER) + 6) / 7)"),
                F::WeekInYear => format!("((CAST(strftime('%j', {x}) AS INTEGER) + 6) / 7)"),
                F::DayOnly => return Ok((format!("substr({x}, 1, 10)"), OperandType::Date)),
                _ => return Err(unsupported(&format!("{}()", f.as_str()))),
            };
            Ok((sql, OperandType::Integer))
        }
        F::ConvertCurrency => {
            // A single-currency org: the converted amount is the amount.
            let c = single_field(scope, call)?;
            Ok((c.sql, OperandType::Field(c.field)))
        }
        other => Err(unsupported(&format!("{}()", other.as_str()))),
    }
}

/// Compiles a WHERE/HAVING condition, appending its parameters to `params`.
pub fn condition(
    scope: &mut Scope<'_, '_>,
    c: &Condition,
    mode: Mode,
    params: &mut Vec<SqlValue>,
) -> Result<String, SfError> {
    match c {
        Condition::And(parts) | Condition::Or(parts) => {
            let word = c.joiner().unwrap_or(" AND ");
            let mut out = Vec::new();
            for p in parts {
                out.push(condition(scope, p, mode, params)?);
            }
            Ok(join_balanced(&out, word))
        }
        Condition::Not(inner) => Ok(format!("(NOT {})", condition(scope, inner, mode, params)?)),
        Condition::Compare(cmp) => comparison(scope, cmp, mode, params),
    }
}

/// "value of filter criterion … must be of type X and should (not) be enclosed in quotes";
/// `needs_quotes`: strings and ids are quoted, numbers, dates and booleans are not.
fn type_error(field: &Field, needs_quotes: bool) -> SfError {
    let ty = match field.ty {
        FieldType::Datetime => "dateTime",
        other => other.as_str(),
    };
    let quotes = if needs_quotes {
        "should be enclosed in quotes"
    } else {
        "should not be enclosed in quotes"
    };
    invalid_field(format!(
        "value of filter criterion for field '{}' must be of type {ty} and {quotes}",
        field.name
    ))
}

/// Binds `lit` for comparison with an operand of type `ty`.
fn bind(ty: &OperandType<'_>, lit: &Literal) -> Result<SqlValue, SfError> {
    let number = |text: &str| -> Option<SqlValue> {
        if let Ok(i) = text.parse::<i64>() {
            Some(SqlValue::Integer(i))
        } else {
            text.parse::<f64>().ok().map(SqlValue::Real)
        }
    };
    match ty {
        OperandType::Integer | OperandType::Number => match lit {
            Literal::Number(n) => number(n).ok_or_else(|| malformed(format!("invalid number {n}"))),
            Literal::Currency { amount, .. } => {
                number(amount).ok_or_else(|| malformed(format!("invalid number {amount}")))
            }
            _ => Err(malformed(
                "the value of an aggregate or date function comparison must be a number",
            )),
        },
        OperandType::Date => match lit {
            Literal::Date(d) => Ok(SqlValue::Text(d.clone())),
            _ => Err(malformed("DAY_ONLY() compares with a date")),
        },
        OperandType::Field(field) => match field.ty {
            FieldType::Id | FieldType::Reference => match lit {
                Literal::String(s) => {
                    let v = s.value();
                    RecordId::parse(&v)
                        .map(|id| SqlValue::Text(id.as_str().to_string()))
                        .map_err(|_| {
                            SfError::new(
                                StatusCode::BAD_REQUEST,
                                "INVALID_QUERY_FILTER_OPERATOR",
                                format!("invalid ID field: {v}"),
                            )
                        })
                }
                _ => Err(type_error(field, true)),
            },
            FieldType::Date => match lit {
                Literal::Date(d) if clock::parse_date(d).is_some() => Ok(SqlValue::Text(d.clone())),
                _ => Err(type_error(field, false)),
            },
            FieldType::Datetime => match lit {
                Literal::DateTime(d) => clock::parse_datetime(d)
                    .map(|t| SqlValue::Text(clock::format_datetime(t)))
                    .ok_or_else(|| malformed(format!("invalid datetime {d}"))),
                _ => Err(type_error(field, false)),
            },
            FieldType::Boolean => match lit {
                Literal::Boolean(b) => Ok(SqlValue::Integer(i64::from(*b))),
                _ => Err(type_error(field, false)),
            },
            _ => match field.ty.storage() {
                Storage::Integer | Storage::Real => match lit {
                    Literal::Number(n) => number(n).ok_or_else(|| type_error(field, false)),
                    Literal::Currency { amount, .. } => {
                        number(amount).ok_or_else(|| type_error(field, false))
                    }
                    _ => Err(type_error(field, false)),
                },
                _ => match lit {
                    Literal::String(s) => Ok(SqlValue::Text(s.value())),
                    _ => Err(type_error(field, true)),
                },
            },
        },
    }
}

fn is_text(ty: &OperandType<'_>) -> bool {
    matches!(ty, OperandType::Field(f) if f.ty.storage() == Storage::Text && !matches!(f.ty, FieldType::Id | FieldType::Reference | FieldType::Date | FieldType::Datetime))
}

/// `[start, end)` of a date literal as bound values for the operand's type.
fn date_bounds(
    ty: &OperandType<'_>,
    lit: DateLiteral,
    today: NaiveDate,
) -> Result<(SqlValue, SqlValue), SfError> {
    let r = dates::resolve(lit, today);
    match ty {
        OperandType::Field(f) if f.ty == FieldType::Date => Ok((
            SqlValue::Text(r.start.format("%Y-%m-%d").to_string()),
            SqlValue::Text(r.end.format("%Y-%m-%d").to_string()),
        )),
        OperandType::Date => Ok((
            SqlValue::Text(r.start.format("%Y-%m-%d").to_string()),
            SqlValue::Text(r.end.format("%Y-%m-%d").to_string()),
        )),
        OperandType::Field(f) if f.ty == FieldType::Datetime => Ok((
            SqlValue::Text(clock::format_datetime(clock::org_day_start_utc(r.start))),
            SqlValue::Text(clock::format_datetime(clock::org_day_start_utc(r.end))),
        )),
        OperandType::Field(f) => Err(type_error(f, false)),
        _ => Err(malformed(format!(
            "date literal {lit} compared with a number"
        ))),
    }
}

fn comparison(
    scope: &mut Scope<'_, '_>,
    cmp: &Comparison,
    mode: Mode,
    params: &mut Vec<SqlValue>,
) -> Result<String, SfError> {
    let (lhs, ty) = operand(scope, &cmp.lhs, mode)?;
    let today = scope.ctx.today;
    let nocase = if !is_text(&ty) {
        ""
    } else if has_non_ascii_text(&cmp.rhs) {
        // SQLite's NOCASE folds ASCII only; this one folds all of Unicode (no index, though).
        " COLLATE SAYSO_NOCASE"
    } else {
        " COLLATE NOCASE"
    };
    let lhs = Lhs {
        sql: &lhs,
        ty: &ty,
        nocase,
    };
    match (&cmp.op, &cmp.rhs) {
        (Operator::In | Operator::NotIn, Value::Subquery(sub)) => {
            if !matches!(&ty, OperandType::Field(f) if matches!(f.ty, FieldType::Id | FieldType::Reference))
            {
                return Err(malformed(
                    "a semi-join subquery must compare an Id or reference field",
                ));
            }
            let (sql, sub_params) = semi_join(scope, sub)?;
            params.extend(sub_params);
            let lhs = lhs.sql;
            Ok(if cmp.op == Operator::In {
                format!("{lhs} IN ({sql})")
            } else {
                format!("({lhs} IS NULL OR {lhs} NOT IN ({sql}))")
            })
        }
        (Operator::In | Operator::NotIn, Value::List(items)) => {
            in_list(&lhs, cmp.op == Operator::In, items, today, params)
        }
        (Operator::Includes | Operator::Excludes, Value::List(items)) => {
            includes(&lhs, cmp.op == Operator::Includes, items, params)
        }
        (Operator::Like, Value::Literal(Literal::String(s))) => like(&lhs, s, params),
        (Operator::Like, _) => Err(malformed("LIKE takes a string")),
        (op, Value::Literal(Literal::Null)) => match op {
            Operator::Eq => Ok(format!("{} IS NULL", lhs.sql)),
            Operator::Ne => Ok(format!("{} IS NOT NULL", lhs.sql)),
            _ => Err(malformed(format!(
                "null can only be compared with = or !=, not {}",
                op.as_str()
            ))),
        },
        (op, Value::Literal(Literal::DateLiteral(d))) => date_literal(&lhs, op, *d, today, params),
        (op, Value::Literal(lit)) => literal(&lhs, op, lit, params),
        (op, _) => Err(malformed(format!(
            "operator {} does not take a list",
            op.as_str()
        ))),
    }
}

/// The left side of a comparison: its SQL, its type and the collation its text compares with.
#[derive(Clone, Copy)]
struct Lhs<'a> {
    sql: &'a str,
    ty: &'a OperandType<'a>,
    nocase: &'static str,
}

/// `IN (…)` / `NOT IN (…)` over a literal list (with `null` and date literals among the items).
fn in_list(
    lhs: &Lhs<'_>,
    is_in: bool,
    items: &[Literal],
    today: NaiveDate,
    params: &mut Vec<SqlValue>,
) -> Result<String, SfError> {
    let Lhs {
        sql: lhs,
        ty,
        nocase,
    } = *lhs;
    let mut alts = Vec::new();
    let mut has_null = false;
    let mut values = Vec::new();
    for lit in items {
        match lit {
            Literal::Null => has_null = true,
            Literal::DateLiteral(d) => {
                let (s, e) = date_bounds(ty, *d, today)?;
                params.push(s);
                params.push(e);
                alts.push(format!("({lhs} >= ? AND {lhs} < ?)"));
            }
            other => values.push(bind(ty, other)?),
        }
    }
    if values.len() > IN_LIST_INLINE {
        // One bound JSON array instead of thousands of `?` (SQLite's variable limit).
        params.push(SqlValue::Text(json_array(&values)));
        alts.push(format!("{lhs}{nocase} IN (SELECT value FROM json_each(?))"));
    } else if !values.is_empty() {
        let marks = vec!["?"; values.len()].join(", ");
        params.extend(values);
        alts.push(format!("{lhs}{nocase} IN ({marks})"));
    }
    if has_null {
        alts.push(format!("{lhs} IS NULL"));
    }
    let any = join_balanced(&alts, " OR ");
    Ok(if is_in {
        any
    } else if has_null {
        format!("(NOT {any})")
    } else {
        format!("({lhs} IS NULL OR NOT {any})")
    })
}

/// `INCLUDES (…)` / `EXCLUDES (…)` on a multi-select picklist.
fn includes(
    lhs: &Lhs<'_>,
    include: bool,
    items: &[Literal],
    params: &mut Vec<SqlValue>,
) -> Result<String, SfError> {
    if !matches!(lhs.ty, OperandType::Field(f) if f.ty == FieldType::Multipicklist) {
        return Err(invalid_field(
            "includes or excludes operator only valid on multipicklist field",
        ));
    }
    let mut values = Vec::new();
    for lit in items {
        let Literal::String(s) = lit else {
            return Err(invalid_field("INCLUDES and EXCLUDES take strings"));
        };
        values.push(s.value());
    }
    Ok(includes_sql(lhs.sql, include, &values, params))
}

/// `LIKE 'pattern'` with SOQL's `%`/`_` wildcards (SQL's own escaped).
fn like(lhs: &Lhs<'_>, s: &StringLit, params: &mut Vec<SqlValue>) -> Result<String, SfError> {
    if !is_text(lhs.ty)
        && !matches!(lhs.ty, OperandType::Field(f) if matches!(f.ty, FieldType::Id | FieldType::Reference))
    {
        return Err(invalid_field("LIKE operator only valid on string fields"));
    }
    let mut pattern = String::new();
    for part in s.like_pattern() {
        match part {
            LikePart::Any => pattern.push('%'),
            LikePart::One => pattern.push('_'),
            LikePart::Char(c @ ('%' | '_' | '\\')) => {
                pattern.push('\\');
                pattern.push(c);
            }
            LikePart::Char(c) => pattern.push(c),
        }
    }
    params.push(SqlValue::Text(pattern));
    Ok(format!("{} LIKE ? ESCAPE '\\'", lhs.sql))
}

/// A comparison with a date literal (`THIS_MONTH`, `LAST_N_DAYS:7`, …): a half-open range.
fn date_literal(
    lhs: &Lhs<'_>,
    op: &Operator,
    d: DateLiteral,
    today: NaiveDate,
    params: &mut Vec<SqlValue>,
) -> Result<String, SfError> {
    let (s, e) = date_bounds(lhs.ty, d, today)?;
    let lhs = lhs.sql;
    let sql = match op {
        Operator::Eq => {
            params.extend([s, e]);
            format!("({lhs} >= ? AND {lhs} < ?)")
        }
        Operator::Ne => {
            params.extend([s, e]);
            format!("({lhs} IS NULL OR {lhs} < ? OR {lhs} >= ?)")
        }
        Operator::Lt => {
            params.push(s);
            format!("{lhs} < ?")
        }
        Operator::Le => {
            params.push(e);
            format!("{lhs} < ?")
        }
        Operator::Gt => {
            params.push(e);
            format!("{lhs} >= ?")
        }
        Operator::Ge => {
            params.push(s);
            format!("{lhs} >= ?")
        }
        other => {
            return Err(malformed(format!(
                "operator {} does not take a date literal",
                other.as_str()
            )));
        }
    };
    Ok(sql)
}

/// A comparison with one literal value.
fn literal(
    lhs: &Lhs<'_>,
    op: &Operator,
    lit: &Literal,
    params: &mut Vec<SqlValue>,
) -> Result<String, SfError> {
    let v = bind(lhs.ty, lit)?;
    params.push(v);
    let Lhs {
        sql: lhs, nocase, ..
    } = *lhs;
    Ok(match op {
        Operator::Eq => format!("{lhs} = ?{nocase}"),
        Operator::Ne => format!("{lhs} IS NOT ?{nocase}"),
        Operator::Lt => format!("{lhs} < ?{nocase}"),
        Operator::Le => format!("{lhs} <= ?{nocase}"),
        Operator::Gt => format!("{lhs} > ?{nocase}"),
        Operator::Ge => format!("{lhs} >= ?{nocase}"),
        other => {
            return Err(malformed(format!(
                "operator {} needs a parenthesised list",
                other.as_str()
            )));
        }
    })
}

/// Whether the compared value(s) hold a string with non-ASCII characters.
fn has_non_ascii_text(v: &Value) -> bool {
    let non_ascii = |l: &Literal| matches!(l, Literal::String(s) if !s.value().is_ascii());
    match v {
        Value::Literal(l) => non_ascii(l),
        Value::List(items) => items.iter().any(non_ascii),
        Value::Subquery(_) => false,
    }
}

/// IN lists longer than this are bound as one JSON array (`json_each`) rather than one `?` each.
const IN_LIST_INLINE: usize = 500;

/// Up to this many terms are joined flat; longer chains are split in halves.
const FLAT_TERMS: usize = 16;

/// Joins SQL terms with `word` (` AND ` / ` OR `) inside parentheses. SQLite parses a flat chain
/// `a OR b OR c …` into a tree as deep as the chain is long and refuses past 1,000 levels
/// ("Expression tree is too large"), so long chains are nested in balanced halves: n terms nest
/// about log2(n) deep, and the terms (and their `?`s) keep their order.
pub fn join_balanced(parts: &[String], word: &str) -> String {
    if parts.len() <= FLAT_TERMS {
        return format!("({})", parts.join(word));
    }
    let (left, right) = parts.split_at(parts.len() / 2);
    format!(
        "({}{word}{})",
        join_balanced(left, word),
        join_balanced(right, word)
    )
}

/// Bound values as a JSON array for `json_each(?)`.
fn json_array(values: &[SqlValue]) -> String {
    let items: Vec<serde_json::Value> = values
        .iter()
        .map(|v| match v {
            SqlValue::Integer(i) => serde_json::Value::from(*i),
            SqlValue::Real(f) => serde_json::Value::from(*f),
            SqlValue::Text(t) => serde_json::Value::from(t.as_str()),
            SqlValue::Null | SqlValue::Blob(_) => serde_json::Value::Null,
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// SQL turning a UTC datetime column into org-local wall time (`YYYY-MM-DD HH:MM:SS`) in
/// America/Los_Angeles: UTC−8, or UTC−7 from the second Sunday of March 02:00 to the first Sunday
/// of November 02:00 (the same rule as `clock.rs`).
fn org_local_sql(col: &str) -> String {
    let utc = format!("substr({col}, 1, 19)");
    let std = format!("datetime({utc}, '-8 hours')");
    let year = format!("strftime('%Y', {std})");
    let start = format!("datetime({year} || '-03-01', 'weekday 0', '+7 days', '+2 hours')");
    let end = format!("datetime({year} || '-11-01', 'weekday 0', '+2 hours')");
    format!(
        "(CASE WHEN {std} >= {start} AND {std} < {end} THEN datetime({utc}, '-7 hours') ELSE {std} END)"
    )
}

/// INCLUDES / EXCLUDES over a `;`-joined multi-select column: each value matches when the column
/// holds it; `'a;b'` means "both a and b"; a row matches INCLUDES when any value matches, and
/// EXCLUDES when none does (null columns hold nothing).
fn includes_sql(lhs: &str, include: bool, values: &[String], params: &mut Vec<SqlValue>) -> String {
    let mut alts = Vec::new();
    for value in values {
        let mut all = Vec::new();
        for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            params.push(SqlValue::Text(like_escape_plain(part)));
            all.push(format!(
                "(';' || {lhs} || ';') LIKE ('%;' || ? || ';%') ESCAPE '\\'"
            ));
        }
        if !all.is_empty() {
            alts.push(format!("({})", all.join(" AND ")));
        }
    }
    let any = if alts.is_empty() {
        "0".to_string()
    } else {
        join_balanced(&alts, " OR ")
    };
    if include {
        format!("({lhs} IS NOT NULL AND {any})")
    } else {
        format!("({lhs} IS NULL OR NOT {any})")
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape_plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Compiles `(SELECT Field FROM Object WHERE …)` of a semi-/anti-join into SQL selecting ids.
fn semi_join(outer: &mut Scope<'_, '_>, sub: &Query) -> Result<(String, Vec<SqlValue>), SfError> {
    let ctx = outer.ctx;
    let obj = readable_object(&ctx, sub.from.name())?;
    if sub.from.path.len() != 1 {
        return Err(malformed("a semi-join subquery selects from an object"));
    }
    let [SelectItem::Field { path, .. }] = sub.select.as_slice() else {
        return Err(malformed(
            "a semi-join subquery must select exactly one Id or reference field",
        ));
    };
    if sub.group_by.is_some() || !sub.order_by.is_empty() {
        return Err(malformed(
            "a semi-join subquery cannot use GROUP BY or ORDER BY",
        ));
    }
    let mut scope = Scope::new(ctx, obj, sub.from.alias.clone(), outer.counter);
    let col = scope.column(path)?;
    if !matches!(col.field.ty, FieldType::Id | FieldType::Reference) {
        return Err(malformed(
            "a semi-join subquery must select an Id or reference field",
        ));
    }
    let mut where_params = Vec::new();
    let mut preds = vec![
        format!("{}.\"IsDeleted\" = 0", scope.alias),
        format!("{} IS NOT NULL", col.sql),
    ];
    if let Some(c) = &sub.where_clause {
        if contains_subquery(c) {
            return Err(malformed("semi-join subqueries cannot be nested"));
        }
        preds.push(condition(&mut scope, c, Mode::Row, &mut where_params)?);
    }
    let mut params = Vec::new();
    let (from, join_params) = scope.from_sql();
    params.extend(join_params);
    if let Some((sql, p)) = scope.security() {
        preds.push(format!("({sql})"));
        params.extend(p);
    }
    params.extend(where_params);
    let mut sql = format!(
        "SELECT {} FROM {from} WHERE {}",
        col.sql,
        preds.join(" AND ")
    );
    if let Some(n) = sub.limit {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    Ok((sql, params))
}

fn contains_subquery(c: &Condition) -> bool {
    match c {
        Condition::And(p) | Condition::Or(p) => p.iter().any(contains_subquery),
        Condition::Not(i) => contains_subquery(i),
        Condition::Compare(cmp) => matches!(cmp.rhs, Value::Subquery(_)),
    }
}

/// The SQL direction and nulls placement of an ORDER BY item (Salesforce's default: `ASC`,
/// `NULLS FIRST`).
pub fn sort_words(item: &OrderItem) -> (&'static str, &'static str) {
    let dir = if item.direction == Some(Direction::Desc) {
        "DESC"
    } else {
        "ASC"
    };
    let nulls = if item.nulls == Some(Nulls::Last) {
        "NULLS LAST"
    } else {
        "NULLS FIRST"
    };
    (dir, nulls)
}

/// ORDER BY items as SQL (Salesforce's default is ascending, nulls first; text sorts
/// case-insensitively).
pub fn order_by(
    scope: &mut Scope<'_, '_>,
    items: &[OrderItem],
    mode: Mode,
) -> Result<Vec<String>, SfError> {
    let mut out = Vec::new();
    for item in items {
        let (sql, ty) = operand(scope, &item.target, mode)?;
        if let OperandType::Field(f) = &ty
            && matches!(
                f.ty,
                FieldType::Multipicklist | FieldType::Textarea | FieldType::EncryptedString
            )
            && f.length > 255
        {
            return Err(malformed(format!(
                "field '{}' can not be sorted in a query call",
                f.name
            )));
        }
        let collate = if is_text(&ty) { " COLLATE NOCASE" } else { "" };
        let (dir, nulls) = sort_words(item);
        out.push(format!("{sql}{collate} {dir} {nulls}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, params_from_iter};

    /// Rows of a one-column table `m(v)` matching INCLUDES/EXCLUDES `values`.
    fn matching(include: bool, values: &[&str]) -> Vec<String> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE m (v TEXT); INSERT INTO m VALUES ('AAA;BBB'), ('AAA'), ('CCC;Dd_d'), (NULL), ('AAAB');",
        )
        .unwrap();
        let mut params = Vec::new();
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let sql = format!(
            "SELECT coalesce(v, 'null') FROM m WHERE {} ORDER BY v",
            includes_sql("v", include, &values, &mut params)
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        stmt.query_map(params_from_iter(params.iter()), |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn org_local_time_follows_los_angeles_dst() {
        let conn = Connection::open_in_memory().unwrap();
        for (utc, local) in [
            ("2026-01-15T18:00:00.000+0000", "2026-01-15 10:00:00"),
            ("2026-07-15T17:00:00.000+0000", "2026-07-15 10:00:00"),
            ("2026-03-08T09:59:00.000+0000", "2026-03-08 01:59:00"),
            ("2026-03-08T10:00:00.000+0000", "2026-03-08 03:00:00"),
            ("2026-11-01T08:30:00.000+0000", "2026-11-01 01:30:00"),
            ("2026-01-01T03:00:00.000+0000", "2025-12-31 19:00:00"),
        ] {
            let sql = format!("SELECT {}", org_local_sql("?1"));
            let got: String = conn.query_row(&sql, [utc], |r| r.get(0)).unwrap();
            assert_eq!(got, local, "{utc}");
        }
    }

    #[test]
    fn includes_and_excludes_on_multiselect_text() {
        assert_eq!(matching(true, &["AAA"]), vec!["AAA", "AAA;BBB"]);
        assert_eq!(matching(true, &["aaa;bbb"]), vec!["AAA;BBB"]);
        assert_eq!(matching(true, &["BBB", "CCC"]), vec!["AAA;BBB", "CCC;Dd_d"]);
        assert_eq!(matching(true, &["dd_d"]), vec!["CCC;Dd_d"]);
        assert_eq!(matching(true, &["D%"]), Vec::<String>::new());
        assert_eq!(matching(false, &["AAA"]), vec!["null", "AAAB", "CCC;Dd_d"]);
    }
}
