//! Bulk filters: a [`RecordFilter`] ("all my open opportunities in the tech sector closing this
//! quarter over 50k") → one escaped SOQL query, read to the last page.
//!
//! Owns the qualifier → condition mapping only; the per-record changes are built by the resolver.

use serde_json::Value as Json;

use super::field::{match_picklist, word_matches, words};
use super::schema::ObjectDescribe;
use super::stream::{BulkSource, Rule};
use super::{ResolveError, Resolver};
use crate::lang::{Priority, RecordFilter};
use crate::soql::ast::Query;
use crate::soql::ast::{Condition, Operator};
use crate::soql::builder::{
    self as query, and, compare, contains, date, eq_bool, eq_text, number, or, to_soql,
};

/// The object a filter reads: as said, else tasks for "overdue", else opportunities.
pub fn object_of(f: &RecordFilter) -> &'static str {
    match f.object {
        Some(o) => o.api_name(),
        None if f.overdue && f.stage.is_none() && f.closing.is_none() => "Task",
        None => "Opportunity",
    }
}

/// Records read to ground a filter's name words (one query, only when it matched nothing).
const GROUNDING_ROWS: u64 = 200;

/// A change to the records of a filter that matches none: `not_found`, as for a name.
pub(crate) fn none_match(f: &RecordFilter) -> ResolveError {
    ResolveError::NotFound(format!(
        "no {} records you can see match that; nothing was changed",
        object_of(f)
    ))
}

/// A filter's rows, or the start of too many to hold.
pub enum Rows {
    /// Every matching row.
    All(Vec<Json>),
    /// More than the caller's limit match: the first page and where the rest is.
    Large(Box<LargePage>),
}

/// The first page of a large filter.
pub struct LargePage {
    query: Query,
    first: Vec<Json>,
    next: Option<String>,
    total: u64,
}

impl LargePage {
    /// The streamed update over these rows.
    pub fn source(self, sobject: &str, intent: &str, rules: Vec<Rule>) -> Box<BulkSource> {
        Box::new(BulkSource {
            sobject: sobject.to_string(),
            intent: intent.to_string(),
            total: self.total,
            query: self.query,
            first: self.first,
            next: self.next,
            rules,
        })
    }
}

/// "for Acme", "with the hooli migration": every word in the account's name (for tasks and events,
/// in what they are about or their account).
fn account_condition(object: &str, acct: &str) -> Option<Condition> {
    let all_words = |path: &str| and(words(acct).iter().map(|w| contains(path, w)).collect());
    match object {
        "Account" => all_words("Name"),
        // "my tasks for the hooli cloud migration": what the task is about (an
        // opportunity, a case…) or its account
        "Task" | "Event" => or(all_words("What.Name")
            .into_iter()
            .chain(all_words("Account.Name"))
            .collect()),
        _ => all_words("Account.Name"),
    }
}

/// "my escalated cases", "new leads": leftover words that are exactly an active status (or stage)
/// value, as `(field, value)`.
fn status_value(d: &ObjectDescribe, text_words: &[String]) -> Option<(String, String)> {
    let field = ["StageName", "Status"].iter().find_map(|n| d.field(n))?;
    field
        .picklist
        .iter()
        .filter(|p| p.active)
        .find(|p| {
            let vw = words(&p.value);
            !text_words.is_empty()
                && text_words
                    .iter()
                    .all(|t| vw.iter().any(|w| word_matches(t, w)))
                && vw
                    .iter()
                    .all(|w| text_words.iter().any(|t| word_matches(t, w)))
        })
        .map(|p| (field.name.clone(), p.value.clone()))
}

impl Resolver<'_> {
    /// The SOQL condition of a bulk filter on its object, from the object's describe.
    pub(super) async fn filter_condition(
        &mut self,
        f: &RecordFilter,
    ) -> Result<Option<crate::soql::ast::Condition>, ResolveError> {
        let object = object_of(f);
        let d = self.describe(object).await?;
        let has = |name: &str| d.field(name).is_some();
        let mut conds = Vec::new();
        // An integration user may not see OwnerId; sharing already limits what it reads.
        if f.mine && has("OwnerId") {
            conds.push(eq_text("OwnerId", &self.me));
        }
        if let Some(open) = f.open.or(if f.overdue { Some(true) } else { None }) {
            if has("IsClosed") {
                conds.push(eq_bool("IsClosed", !open));
            } else if has("IsConverted") {
                conds.push(eq_bool("IsConverted", !open));
            }
        }
        if let Some(ind) = &f.industry {
            let value = match ind
                .hints
                .iter()
                .find(|h| h.field == "Industry" || h.field == "*")
            {
                Some(h) => h.value.clone(),
                None => {
                    let acct = self.describe("Account").await?;
                    let field = acct.field("Industry").ok_or_else(|| {
                        ResolveError::Denied("you can't see the account industry".into())
                    })?;
                    match_picklist(field, ind)?
                }
            };
            let path = if object == "Account" || object == "Lead" {
                "Industry"
            } else {
                "Account.Industry"
            };
            conds.push(eq_text(path, &value));
        }
        if let Some(stage) = &f.stage {
            let field_name = if has("StageName") {
                "StageName"
            } else {
                "Status"
            };
            let field = d
                .field(field_name)
                .ok_or_else(|| ResolveError::Invalid(format!("{object} has no stage")))?;
            conds.push(eq_text(field_name, &match_picklist(field, stage)?));
        }
        if let Some(range) = &f.closing {
            let field_name = if has("CloseDate") {
                "CloseDate"
            } else {
                "ActivityDate"
            };
            conds.push(compare(field_name, Operator::Ge, date(range.start)));
            conds.push(compare(field_name, Operator::Le, date(range.end)));
        }
        if let Some(won) = f.won {
            conds.push(eq_bool("IsClosed", true));
            conds.push(eq_bool("IsWon", won));
        }
        if let Some((low, high)) = f.amount_between {
            conds.push(compare("Amount", Operator::Ge, number(low)));
            conds.push(compare("Amount", Operator::Le, number(high)));
        }
        if let Some(day) = f.untouched_since {
            // the last activity, else the last change
            let changed = compare("LastModifiedDate", Operator::Lt, query::start_of(day));
            conds.extend(if has("LastActivityDate") {
                or(vec![
                    compare("LastActivityDate", Operator::Lt, date(day)),
                    Condition::And(vec![query::is_null("LastActivityDate"), changed]),
                ])
            } else {
                Some(changed)
            });
        }
        if let Some(name) = &f.owner {
            let user = self.find_user(name).await?;
            conds.push(eq_text("OwnerId", &user.id));
        }
        if let Some(n) = f.amount_over {
            conds.push(compare("Amount", Operator::Gt, number(n)));
        }
        if let Some(n) = f.amount_under {
            conds.push(compare("Amount", Operator::Lt, number(n)));
        }
        if f.overdue {
            let field_name = if has("ActivityDate") {
                "ActivityDate"
            } else {
                "CloseDate"
            };
            conds.push(compare(field_name, Operator::Lt, date(self.today)));
        }
        if let Some(p) = f.priority {
            conds.push(self.priority_condition(object, p).await?);
        }
        if let Some(acct) = &f.account {
            conds.extend(account_condition(object, acct));
        }
        let name_field = match object {
            "Case" | "Task" | "Event" => "Subject",
            _ => "Name",
        };
        // "my escalated cases", "new leads": leftover words that are exactly a status value are a
        // status filter, not a name fragment.
        let text_words = words(&f.text);
        let status = status_value(&d, &text_words);
        match status {
            Some((field_name, value)) => conds.push(eq_text(&field_name, &value)),
            None => {
                for w in text_words {
                    conds.push(contains(name_field, &w));
                }
            }
        }
        Ok(and(conds))
    }

    /// "high priority cases": `Priority` = the object's picklist value for that priority.
    async fn priority_condition(
        &mut self,
        object: &str,
        p: Priority,
    ) -> Result<crate::soql::ast::Condition, ResolveError> {
        let d = self.describe(object).await?;
        let field = d
            .field("Priority")
            .ok_or_else(|| ResolveError::Invalid(format!("{object} records have no priority")))?;
        let wanted: &[&str] = match p {
            Priority::High => &["High"],
            Priority::Normal => &["Normal", "Medium"],
            Priority::Low => &["Low"],
        };
        let value = field
            .picklist
            .iter()
            .filter(|v| v.active)
            .find(|v| wanted.iter().any(|w| v.value.eq_ignore_ascii_case(w)))
            .ok_or_else(|| {
                ResolveError::Invalid(format!("{object} has no priority {}", wanted[0]))
            })?;
        Ok(eq_text("Priority", &value.value))
    }

    /// Every record matching the filter (all pages), with `extra` fields read too. A filter that
    /// matches nothing and has name words that no visible record's name holds is `not_understood`,
    /// naming them: an unplaced word is never a silent filter.
    ///
    /// # Errors
    /// The org's error, an invalid qualifier value, or unplaced words.
    pub async fn filter_rows(
        &mut self,
        f: &RecordFilter,
        extra: &[String],
    ) -> Result<Vec<Json>, ResolveError> {
        let soql = self.filter_soql(f, extra).await?;
        let rows = self.org.query_all(&soql).await?;
        if rows.is_empty() {
            self.ground_words(f).await?;
        }
        Ok(rows)
    }

    /// `not_understood` when some leftover words of a filter ("right", "now", "zorblax") are in no
    /// visible record's name. One query. An account said with "at"/"for" is a placed name: one
    /// that matches nothing stays `not_found`.
    pub(super) async fn ground_words(&mut self, f: &RecordFilter) -> Result<(), ResolveError> {
        let object = object_of(f);
        let name_field = match object {
            "Case" | "Task" | "Event" => "Subject",
            _ => "Name",
        };
        let text_words = words(&f.text);
        if text_words.is_empty() {
            return Ok(());
        }
        let mut q = query::select(object, &[name_field.to_string()]);
        q.where_clause = or(text_words.iter().map(|w| contains(name_field, w)).collect());
        q.limit = Some(GROUNDING_ROWS);
        // grounding only sharpens the answer: if the org will not answer it, keep the plain one
        let Ok(rows) = self.org.query_all(&to_soql(&q)).await else {
            return Ok(());
        };
        let held = |w: &str| {
            rows.iter().any(|r| {
                r.get(name_field)
                    .and_then(Json::as_str)
                    .is_some_and(|name| words(name).iter().any(|x| word_matches(w, x)))
            })
        };
        let unplaced: Vec<&str> = text_words
            .iter()
            .filter(|w| !held(w))
            .map(String::as_str)
            .collect();
        if unplaced.is_empty() {
            return Ok(());
        }
        Err(ResolveError::NotUnderstood(
            format!(
                "I couldn't place `{}`: no {object} you can see is named that, and it is not a filter I know; say it another way",
                unplaced.join(" ")
            ),
            Vec::new(),
        ))
    }

    /// The filter's query, rendered with escaping, ordered by the record's name.
    async fn filter_soql(
        &mut self,
        f: &RecordFilter,
        extra: &[String],
    ) -> Result<String, ResolveError> {
        Ok(to_soql(&self.filter_query(f, extra).await?))
    }

    /// The filter's query (escaped by construction), ordered by the record's name.
    pub(super) async fn filter_query(
        &mut self,
        f: &RecordFilter,
        extra: &[String],
    ) -> Result<Query, ResolveError> {
        let object = object_of(f);
        let fields = self.select_fields(object, extra).await?;
        let mut q = query::select(object, &fields);
        q.where_clause = self.filter_condition(f).await?;
        let order = match object {
            "Case" => "CaseNumber",
            "Task" | "Event" => "Subject",
            _ => "Name",
        };
        let q = if fields.iter().any(|x| x == order) {
            query::order_limit(q, order, None)
        } else {
            q
        };
        Ok(q)
    }

    /// The filter's rows, or — when `large_above` is set and more records match — the first
    /// page and where the rest is, for a streamed update. Costs no call more than
    /// [`Resolver::filter_rows`]: the first page's `totalSize` decides.
    ///
    /// # Errors
    /// The org's error, or an invalid qualifier value.
    pub async fn filter_page(
        &mut self,
        f: &RecordFilter,
        extra: &[String],
        large_above: Option<usize>,
    ) -> Result<Rows, ResolveError> {
        let Some(limit) = large_above else {
            let rows = self.filter_rows(f, extra).await?;
            return if rows.is_empty() {
                Err(none_match(f))
            } else {
                Ok(Rows::All(rows))
            };
        };
        let query = self.filter_query(f, extra).await?;
        let (first, next, total) = self.org.query_page(&to_soql(&query)).await?;
        if total == 0 {
            self.ground_words(f).await?;
            return Err(none_match(f));
        }
        if usize::try_from(total).unwrap_or(usize::MAX) > limit {
            return Ok(Rows::Large(Box::new(LargePage {
                query,
                first,
                next,
                total,
            })));
        }
        let mut rows = first;
        let mut next = next;
        while let Some(url) = next {
            let (more, after) = self.org.query_more(&url).await?;
            rows.extend(more);
            next = after;
        }
        Ok(Rows::All(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::ObjectKind;

    #[test]
    fn object_defaults() {
        let f = RecordFilter {
            overdue: true,
            ..RecordFilter::default()
        };
        assert_eq!(object_of(&f), "Task");
        let f = RecordFilter {
            object: Some(ObjectKind::Case),
            ..RecordFilter::default()
        };
        assert_eq!(object_of(&f), "Case");
        assert_eq!(object_of(&RecordFilter::default()), "Opportunity");
    }
}
