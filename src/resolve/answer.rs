//! Answers to questions: the asked fields of one record (related names and contact roles
//! included), counts, totals and averages as SOQL aggregates, grouped figures (`GROUP BY`), top-N
//! (`ORDER BY … LIMIT`) and the last contact with a record. Every answer is one query (two for the
//! last contact: tasks and events), plus the record lookup for a named record. Never writes.
//!
//! Owns the question → query mapping; the filter's conditions come from `filter`, record lookup
//! from `record`. Part of `resolve`.

use serde::Serialize;
use serde_json::{Value as Json, json};

use super::field::{find_field, match_picklist};
use super::filter::object_of;
use super::record::{Found, display_name};
use super::schema::FieldDescribe;
use super::{ANY_OBJECT, ResolveError, Resolver, format_money};
use crate::lang::{FieldRef, GroupBy, Rank, RankBy, RecordFilter, RecordRef, Value};
use crate::soql::ast::{
    Direction, FieldPath, Function, FunctionArg, FunctionCall, GroupByKind, Nulls, Operand,
    Operator, OrderItem, Query, SelectItem,
};
use crate::soql::builder::{self as query, and, compare, date, eq_bool, eq_text, to_soql};

/// A question's answer: records, figures, or groups. Nothing changes.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Records (lists, asked fields, top-N), asked fields flattened ("Owner.Name").
    pub records: Vec<Json>,
    /// How many records match (counts, lists).
    pub count: Option<u64>,
    /// The total of the asked field ("my total open pipeline").
    pub sum: Option<f64>,
    /// The average of the asked field.
    pub avg: Option<f64>,
    /// One row per group ("by stage").
    pub groups: Vec<Group>,
    /// One line for humans.
    pub message: String,
}

/// One group of a grouped answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The group's value: a picklist value, an owner's or account's name, `YYYY-MM`.
    pub key: String,
    /// Records in the group.
    pub count: u64,
    /// Their total amount, when the object has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
}

impl Answer {
    /// An answer of records with a message.
    pub fn records(records: Vec<Json>, count: Option<u64>, message: String) -> Answer {
        Answer {
            records,
            count,
            message,
            ..Answer::default()
        }
    }
}

/// The field a total or an average adds up when none is said: the amount.
pub fn amount_field() -> FieldRef {
    FieldRef {
        said: "amount".into(),
        candidates: vec![crate::lang::FieldAlias {
            object: None,
            api_name: "Amount".into(),
        }],
    }
}

/// Aliases of the aggregate columns the answers select.
const KEY: &str = "k";
const YEAR: &str = "y";
const MONTH: &str = "m";
const COUNT: &str = "n";
const SUM: &str = "total";
const AVG: &str = "average";

/// The most groups a grouped answer shows.
const MAX_GROUPS: u64 = 2000;

impl Resolver<'_> {
    /// "what's the amount on Titan", "who owns the Tyrell deal": the record with the asked fields.
    ///
    /// # Errors
    /// `not_found` / `ambiguous` for the record, `invalid` / `denied` for a field.
    pub(super) async fn field_answer(
        &mut self,
        r: &RecordRef,
        fields: &[FieldRef],
        role: Option<&Value>,
    ) -> Result<Answer, ResolveError> {
        if let Some(role) = role {
            return self.role_answer(r, role).await;
        }
        let objects = self.objects_with(r, fields).await?;
        let objs: Vec<&str> = objects.iter().map(String::as_str).collect();
        let found = self.find_record(r, &objs, &[]).await?;
        let d = self.describe(&found.sobject).await?;
        let mut asked: Vec<(String, String)> = Vec::new();
        for fr in fields {
            let f = find_field(&d, fr)?;
            asked.push((shown_path(f), f.label.trim_end_matches(" ID").to_string()));
        }
        let paths: Vec<String> = asked.iter().map(|(p, _)| p.clone()).collect();
        let row = self.read_row(&found.sobject, &found.id, &paths).await?;
        let mut record = flat_record(&found.sobject, &row, &paths);
        record["Name"] = json!(found.name);
        let said: Vec<String> = asked
            .iter()
            .map(|(p, label)| format!("{label} {}", shown(&record[p.as_str()])))
            .collect();
        let message = format!("{} {}: {}", found.sobject, found.name, said.join(", "));
        Ok(Answer::records(vec![record], None, message))
    }

    /// Objects that have every asked field (by the grammar's aliases), most likely first.
    async fn objects_with(
        &mut self,
        r: &RecordRef,
        fields: &[FieldRef],
    ) -> Result<Vec<String>, ResolveError> {
        if let Some(o) = r.object {
            return Ok(vec![o.api_name().to_string()]);
        }
        let mut out = Vec::new();
        for object in ANY_OBJECT {
            let named = |fr: &FieldRef| {
                fr.candidates
                    .iter()
                    .any(|a| a.object.is_none_or(|o| o.api_name() == object))
            };
            if !fields.iter().all(named) {
                continue;
            }
            let d = self.describe(object).await?;
            if fields.iter().all(|fr| find_field(&d, fr).is_ok()) {
                out.push(object.to_string());
            }
        }
        if out.is_empty() {
            out = ANY_OBJECT.iter().map(|s| s.to_string()).collect();
        }
        Ok(out)
    }

    /// "who is the economic buyer on X": the contacts holding that role on the opportunity.
    async fn role_answer(&mut self, r: &RecordRef, role: &Value) -> Result<Answer, ResolveError> {
        let opp = self.find_record(r, &["Opportunity"], &[]).await?;
        let d = self.describe("OpportunityContactRole").await?;
        let field = d.field("Role").ok_or_else(|| {
            ResolveError::Denied("you can't see contact roles on opportunities".into())
        })?;
        let role_value = match_picklist(field, role)?;
        let paths: Vec<String> = ["Id", "Role", "ContactId", "Contact.Name"]
            .map(str::to_string)
            .to_vec();
        let mut q = query::select("OpportunityContactRole", &paths);
        q.where_clause = and(vec![
            eq_text("OpportunityId", &opp.id),
            eq_text("Role", &role_value),
        ]);
        let rows = self.org.query_all(&to_soql(&q)).await?;
        let records: Vec<Json> = rows
            .iter()
            .map(|row| {
                let mut rec = flat_record("OpportunityContactRole", row, &paths);
                rec["Name"] = rec["Contact.Name"].clone();
                rec["Opportunity.Name"] = json!(opp.name);
                rec
            })
            .collect();
        let names: Vec<String> = records.iter().map(|r| shown(&r["Name"])).collect();
        let message = if names.is_empty() {
            format!("no {role_value} is named on {}", opp.name)
        } else {
            format!("{role_value} on {}: {}", opp.name, names.join(", "))
        };
        let n = records.len() as u64;
        Ok(Answer::records(records, Some(n), message))
    }

    /// "how many …": `SELECT COUNT() …`, one query.
    pub(super) async fn count_answer(&mut self, f: &RecordFilter) -> Result<Answer, ResolveError> {
        let object = object_of(f);
        let mut q = Query::new(object, vec![function(Function::Count, None, None)]);
        q.where_clause = self.filter_condition(f).await?;
        let (_, _, n) = self.org.query_page(&to_soql(&q)).await?;
        if n == 0 {
            self.ground_words(f).await?;
        }
        let message = format!("{n} {object} record{}", if n == 1 { "" } else { "s" });
        Ok(Answer {
            count: Some(n),
            message,
            ..Answer::default()
        })
    }

    /// "my total open pipeline", "my average open deal size": `SUM` / `AVG` and `COUNT`, one query.
    pub(super) async fn figure_answer(
        &mut self,
        f: &RecordFilter,
        field: &FieldRef,
        average: bool,
    ) -> Result<Answer, ResolveError> {
        let object = object_of(f);
        let measure = self.measure(object, field).await?;
        let mut q = Query::new(
            object,
            vec![
                function(Function::Sum, Some(&measure.name), Some(SUM)),
                function(Function::Avg, Some(&measure.name), Some(AVG)),
                function(Function::Count, Some("Id"), Some(COUNT)),
            ],
        );
        q.where_clause = self.filter_condition(f).await?;
        let rows = self.org.query_all(&to_soql(&q)).await?;
        let row = rows.first().cloned().unwrap_or(Json::Null);
        let n = row.get(COUNT).and_then(Json::as_u64).unwrap_or(0);
        if n == 0 {
            self.ground_words(f).await?;
        }
        let sum = row.get(SUM).and_then(Json::as_f64).unwrap_or(0.0);
        let avg = row.get(AVG).and_then(Json::as_f64);
        let label = measure.label.to_lowercase();
        let (figure, message) = if average {
            let a = avg.unwrap_or(0.0);
            (
                a,
                format!(
                    "average {label} {} over {n} {object} records",
                    money_or_number(&measure, a)
                ),
            )
        } else {
            (
                sum,
                format!(
                    "total {label} {} over {n} {object} records",
                    money_or_number(&measure, sum)
                ),
            )
        };
        Ok(Answer {
            count: Some(n),
            sum: (!average).then_some(figure),
            avg: if average { Some(figure) } else { None },
            message,
            ..Answer::default()
        })
    }

    /// The numeric field a total or an average adds up.
    async fn measure(
        &mut self,
        object: &str,
        field: &FieldRef,
    ) -> Result<FieldDescribe, ResolveError> {
        let d = self.describe(object).await?;
        let f = find_field(&d, field)?;
        if !matches!(
            f.kind.as_str(),
            "currency" | "double" | "int" | "percent" | "long"
        ) {
            return Err(ResolveError::Invalid(format!(
                "{} is not a number, so it can't be added up; ask for a count instead",
                f.label
            )));
        }
        Ok(f.clone())
    }

    /// "my open pipeline by stage": `GROUP BY` with a count (and the amount's sum) per group.
    pub(super) async fn group_answer(
        &mut self,
        f: &RecordFilter,
        group: &GroupBy,
        measure: Option<&FieldRef>,
    ) -> Result<Answer, ResolveError> {
        let object = object_of(f);
        let d = self.describe(object).await?;
        let sum_field = match measure {
            Some(m) => Some(self.measure(object, m).await?.name),
            None => d.field("Amount").map(|a| a.name.clone()),
        };
        let keys = self.group_keys(object, group).await?;
        let mut select = keys.select.clone();
        select.push(function(Function::Count, Some("Id"), Some(COUNT)));
        if let Some(s) = &sum_field {
            select.push(function(Function::Sum, Some(s), Some(SUM)));
        }
        let mut q = Query::new(object, select);
        q.where_clause = self.filter_condition(f).await?;
        q.group_by = Some(crate::soql::ast::GroupBy {
            kind: GroupByKind::Plain,
            items: keys.items.clone(),
        });
        q.limit = Some(MAX_GROUPS);
        let rows = self.org.query_all(&to_soql(&q)).await?;
        let mut groups: Vec<Group> = rows
            .iter()
            .map(|row| Group {
                key: keys.key_of(row),
                count: row.get(COUNT).and_then(Json::as_u64).unwrap_or(0),
                sum: sum_field
                    .as_ref()
                    .map(|_| row.get(SUM).and_then(Json::as_f64).unwrap_or(0.0)),
            })
            .collect();
        if groups.is_empty() {
            self.ground_words(f).await?;
        }
        keys.sort(&mut groups);
        let n: u64 = groups.iter().map(|g| g.count).sum();
        let lines: Vec<String> = groups
            .iter()
            .map(|g| match g.sum {
                Some(s) => format!("{} {} ({})", g.key, g.count, format_money(s)),
                None => format!("{} {}", g.key, g.count),
            })
            .collect();
        Ok(Answer {
            count: Some(n),
            message: format!(
                "{n} {object} records by {}: {}",
                keys.label,
                lines.join("; ")
            ),
            groups,
            ..Answer::default()
        })
    }

    /// What a grouping selects and groups by, and how its rows become keys.
    async fn group_keys(
        &mut self,
        object: &str,
        group: &GroupBy,
    ) -> Result<GroupKeys, ResolveError> {
        let d = self.describe(object).await?;
        let field = match &group.field {
            Some(fr) => Some(find_field(&d, fr)?.clone()),
            None => None,
        };
        if group.month
            || field
                .as_ref()
                .is_some_and(|f| matches!(f.kind.as_str(), "date" | "datetime"))
        {
            let date_field = match &field {
                Some(f) if matches!(f.kind.as_str(), "date" | "datetime") => f.name.clone(),
                Some(f) => {
                    return Err(ResolveError::Invalid(format!(
                        "{} is not a date, so it has no months; say `by close month`",
                        f.label
                    )));
                }
                None => date_field_of(object).to_string(),
            };
            let call = |func: Function| Operand::Function(call_of(func, Some(&date_field)));
            return Ok(GroupKeys {
                select: vec![
                    function(Function::CalendarYear, Some(&date_field), Some(YEAR)),
                    function(Function::CalendarMonth, Some(&date_field), Some(MONTH)),
                ],
                items: vec![call(Function::CalendarYear), call(Function::CalendarMonth)],
                label: "month".into(),
                month: true,
                order: Vec::new(),
            });
        }
        let f = field.ok_or_else(|| ResolveError::Invalid("group by what?".into()))?;
        let path = shown_path(&f);
        Ok(GroupKeys {
            select: vec![SelectItem::Field {
                path: field_path(&path),
                alias: Some(KEY.into()),
            }],
            items: vec![Operand::Field(field_path(&path))],
            label: f.label.trim_end_matches(" ID").to_lowercase(),
            month: false,
            order: f.picklist.iter().map(|p| p.value.clone()).collect(),
        })
    }

    /// "my five biggest open deals", "which deal closes next": the filter ordered by the amount
    /// or the record's date, with a limit.
    pub(super) async fn ranked_answer(
        &mut self,
        f: &RecordFilter,
        rank: Rank,
    ) -> Result<Answer, ResolveError> {
        let mut f = f.clone();
        let object = object_of(&f);
        let d = self.describe(object).await?;
        let field = match rank.by {
            RankBy::Largest | RankBy::Smallest => {
                d.field("Amount").map(|a| a.name.clone()).ok_or_else(|| {
                    ResolveError::Invalid(format!("{object} records have no amount to rank by"))
                })?
            }
            RankBy::Soonest | RankBy::Latest => date_field_of(object).to_string(),
        };
        if rank.by == RankBy::Soonest && f.open.is_none() && f.won.is_none() {
            // what closes or falls due next is still open
            f.open = Some(true);
        }
        let mut q = self.filter_query(&f, std::slice::from_ref(&field)).await?;
        let mut conds: Vec<_> = q.where_clause.take().into_iter().collect();
        conds.push(query::is_not_null(&field));
        match rank.by {
            RankBy::Soonest => conds.push(compare(&field, Operator::Ge, date(self.today))),
            RankBy::Latest if object != "Opportunity" => {
                conds.push(compare(&field, Operator::Le, date(self.today)));
            }
            _ => {}
        }
        q.where_clause = and(conds);
        let descending = matches!(rank.by, RankBy::Largest | RankBy::Latest);
        q.order_by = vec![OrderItem {
            target: Operand::Field(field_path(&field)),
            direction: Some(if descending {
                Direction::Desc
            } else {
                Direction::Asc
            }),
            nulls: Some(Nulls::Last),
        }];
        q.limit = Some(u64::from(rank.limit));
        let rows = self.org.query_all(&to_soql(&q)).await?;
        if rows.is_empty() {
            self.ground_words(&f).await?;
        }
        let records: Vec<Json> = rows.into_iter().map(strip_attributes).collect();
        let names: Vec<String> = records
            .iter()
            .map(|r| {
                format!(
                    "{} ({})",
                    display_name(object, r),
                    shown(&r[field.as_str()])
                )
            })
            .collect();
        let n = records.len() as u64;
        let message = format!(
            "{n} {object} record{}: {}",
            if n == 1 { "" } else { "s" },
            names.join(", ")
        );
        Ok(Answer::records(records, Some(n), message))
    }

    /// "when did I last talk to Jane Smith": the latest completed task or past event with the
    /// record (as the person or as what it was about), the user's own when `mine`.
    pub(super) async fn last_contact(&mut self, r: &RecordRef) -> Result<Answer, ResolveError> {
        let found = self.find_record(r, &ANY_OBJECT, &[]).await?;
        let mut latest: Option<(String, Json)> = None;
        for object in ["Task", "Event"] {
            let Some(row) = self.latest_activity(object, &found, r.mine).await? else {
                continue;
            };
            let day = row
                .get("ActivityDate")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            if latest.as_ref().is_none_or(|(d, _)| day > *d) {
                latest = Some((day, row));
            }
        }
        let Some((day, row)) = latest else {
            let message = format!("no completed activity with {} is on record", found.name);
            return Ok(Answer::records(Vec::new(), Some(0), message));
        };
        let subject = row
            .get("Subject")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let message = format!("last contact with {}: {day}, {subject}", found.name);
        Ok(Answer::records(
            vec![strip_attributes(row)],
            Some(1),
            message,
        ))
    }

    /// One object's latest completed activity with a record, if any (one query).
    async fn latest_activity(
        &mut self,
        object: &str,
        found: &Found,
        mine: bool,
    ) -> Result<Option<Json>, ResolveError> {
        let d = self.describe(object).await?;
        let link = if found.sobject == "Contact" || found.sobject == "Lead" {
            "WhoId"
        } else {
            "WhatId"
        };
        let mut fields: Vec<String> = ["Id", "Subject", "ActivityDate"]
            .map(str::to_string)
            .to_vec();
        fields.retain(|f| d.field(f).is_some());
        let mut q = query::select(object, &fields);
        let mut conds = vec![eq_text(link, &found.id), query::is_not_null("ActivityDate")];
        conds.push(compare("ActivityDate", Operator::Le, date(self.today)));
        if d.field("IsClosed").is_some() {
            conds.push(eq_bool("IsClosed", true));
        }
        if mine {
            conds.push(eq_text("OwnerId", &self.me));
        }
        q.where_clause = and(conds);
        q.order_by = vec![OrderItem {
            target: Operand::Field(field_path("ActivityDate")),
            direction: Some(Direction::Desc),
            nulls: Some(Nulls::Last),
        }];
        q.limit = Some(1);
        Ok(self.org.query_all(&to_soql(&q)).await?.into_iter().next())
    }
}

/// How a grouping selects, groups, names and orders its groups.
struct GroupKeys {
    select: Vec<SelectItem>,
    items: Vec<Operand>,
    label: String,
    month: bool,
    /// Picklist order, for picklist groupings.
    order: Vec<String>,
}

impl GroupKeys {
    fn key_of(&self, row: &Json) -> String {
        if self.month {
            let y = row.get(YEAR).and_then(Json::as_i64).unwrap_or(0);
            let m = row.get(MONTH).and_then(Json::as_i64).unwrap_or(0);
            return format!("{y:04}-{m:02}");
        }
        match row.get(KEY) {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => "(none)".into(),
            Some(v) => v.to_string(),
        }
    }

    /// Months in order; picklist values in picklist order; anything else by amount, then count.
    fn sort(&self, groups: &mut [Group]) {
        if self.month {
            groups.sort_by(|a, b| a.key.cmp(&b.key));
        } else if !self.order.is_empty() {
            let at = |k: &str| self.order.iter().position(|v| v == k).unwrap_or(usize::MAX);
            groups.sort_by_key(|g| at(&g.key));
        } else {
            groups.sort_by(|a, b| {
                b.sum
                    .unwrap_or(0.0)
                    .total_cmp(&a.sum.unwrap_or(0.0))
                    .then(b.count.cmp(&a.count))
            });
        }
    }
}

/// The date a record is ranked or grouped by month on.
fn date_field_of(object: &str) -> &'static str {
    match object {
        "Opportunity" => "CloseDate",
        "Task" | "Event" => "ActivityDate",
        _ => "CreatedDate",
    }
}

/// What a field shows as: a lookup by the related record's name (`Owner.Name`), else itself.
fn shown_path(f: &FieldDescribe) -> String {
    if f.kind == "reference" && f.name.ends_with("Id") && f.name.len() > 2 {
        format!("{}.Name", &f.name[..f.name.len() - 2])
    } else {
        f.name.clone()
    }
}

/// A row with the asked paths flattened ("Owner.Name": "Sam Okafor") beside its own fields.
fn flat_record(sobject: &str, row: &Json, paths: &[String]) -> Json {
    let mut rec = strip_attributes(row.clone());
    for p in paths {
        let mut cur = row;
        for part in p.split('.') {
            cur = cur.get(part).unwrap_or(&Json::Null);
        }
        rec[p.as_str()] = cur.clone();
    }
    rec["sobject"] = json!(sobject);
    rec
}

fn strip_attributes(mut row: Json) -> Json {
    if let Some(o) = row.as_object_mut() {
        o.remove("attributes");
        for v in o.values_mut() {
            if let Some(inner) = v.as_object_mut() {
                inner.remove("attributes");
            }
        }
    }
    row
}

/// A value for a message: text as is, numbers plainly, empty as "(none)".
fn shown(v: &Json) -> String {
    match v {
        Json::Null => "(none)".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn money_or_number(f: &FieldDescribe, n: f64) -> String {
    if f.kind == "currency" {
        format_money(n)
    } else {
        format!("{}", (n * 100.0).round() / 100.0)
    }
}

fn field_path(path: &str) -> FieldPath {
    FieldPath(path.split('.').map(str::to_string).collect())
}

fn call_of(func: Function, field: Option<&str>) -> FunctionCall {
    FunctionCall {
        function: func,
        args: field
            .map(|f| FunctionArg::Field(field_path(f)))
            .into_iter()
            .collect(),
    }
}

/// `FUNC(field) alias` in a select list.
fn function(func: Function, field: Option<&str>, alias: Option<&str>) -> SelectItem {
    SelectItem::Function {
        call: call_of(func, field),
        alias: alias.map(str::to_string),
    }
}
