//! Lists said without commas: "add Procter and Gamble and Kramerica as leads", or a dictated
//! "add vandelay and kramerica and pendant publishing as leads". Each "and" of such a run may
//! separate two names or be part of one, so the run is read through the org: the names with an
//! "and" inside that it could be (["procter and gamble", "gamble and kramerica", …]) are looked
//! up among Account names and Lead companies (two queries, built by the escaping SOQL builder),
//! and the ones found stay whole. When the org knows none, the command is refused as `ambiguous`,
//! naming the run and the ways to say it with commas: a list is never split by guessing.
//!
//! Owns that look-up. Part of `app`; imports `lang` (the list reading) and the SOQL builder.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::{Agent, Outcome, Status, What, outcome_of_error};
use crate::lang::{Grammar, ParsedCommand};
use crate::resolve::ResolveError;
use crate::soql::builder::{self as query, in_strs, to_soql};

impl Agent {
    /// Parses `phrase`; a list's run of "and"s is read through the names the org holds. `Err`:
    /// the run can't be read (an `ambiguous` outcome naming it), or the org could not be asked.
    pub(super) async fn parse_reading_ands(
        &mut self,
        phrase: &str,
    ) -> Result<ParsedCommand, Box<Outcome>> {
        let Ok(g) = Grammar::embedded() else {
            return Ok(super::parse_phrase(phrase, self.today));
        };
        let names = g.and_run_names(phrase);
        if names.is_empty() {
            return Ok(g.parse(phrase, self.today));
        }
        let known = self
            .names_in_org(&names)
            .await
            .map_err(|e| Box::new(outcome_of_error(ResolveError::Org(e))))?;
        if let Some((said, readings)) = g.unread_and_run(phrase, &known) {
            let shown: Vec<String> = readings.iter().map(|r| format!("\"{r}\"")).collect();
            let mut o = Outcome::new(
                Status::Ambiguous,
                format!(
                    "\"{said}\": which \"and\" separates two names? No account or lead company in the org \
                     is named with one of them. Say the list with commas, e.g. {}",
                    shown.join(" or ")
                ),
            );
            o.what = What::Suggestions(readings);
            return Err(Box::new(o));
        }
        Ok(g.parse_with_names(phrase, self.today, &known))
    }

    /// Which of `names` (lower-case) an Account is named or a Lead's company is.
    async fn names_in_org(
        &mut self,
        names: &[String],
    ) -> Result<HashSet<String>, crate::salesforce::org::OrgError> {
        let mut known = HashSet::new();
        for (object, field) in [("Account", "Name"), ("Lead", "Company")] {
            let mut q = query::select(object, &[field.to_string()]);
            q.where_clause = Some(in_strs(field, names));
            q.limit = Some(50);
            for r in self.org.query_all(&to_soql(&q)).await? {
                if let Some(n) = r.get(field).and_then(Json::as_str) {
                    known.insert(n.trim().to_lowercase());
                }
            }
        }
        Ok(known)
    }
}

/// A typed list of new leads or contacts ("add X, Y and Z at Vandelay Industries as contacts")
/// is checked against the org and against itself under the file import's duplicate rule
/// ([`super::dupes`]): the people already there, or said twice, are taken out of `plan` and
/// returned as skipped, `line` being the item's place in the list. Any other plan is left as it
/// is. `Err`: the check could not be made (then nothing is sent).
pub(super) async fn screen_list(
    org: &crate::salesforce::org::Org,
    plan: &mut crate::plan::Plan,
) -> Result<Vec<super::import::Skipped>, Outcome> {
    use crate::plan::Val;
    let people = plan.staged.is_none()
        && plan.steps.len() >= 2
        && plan.steps.iter().all(|s| {
            s.op == crate::journal::Op::Create && matches!(s.sobject.as_str(), "Lead" | "Contact")
        });
    if !people {
        return Ok(Vec::new());
    }
    let rows = plan.steps.iter().zip(1u64..).map(|(s, line)| {
        let fields = s.fields.iter().filter_map(|(k, v)| match v {
            Val::Lit(j) => Some((k.clone(), j.clone())),
            Val::Ref(_) => None,
        });
        super::import::Row {
            line,
            fields: fields.collect(),
        }
    });
    let screened = match super::dupes::Screen::new() {
        Ok(mut screen) => screen.split(org, rows.collect()).await,
        Err(e) => Err(e),
    };
    let (kept, skipped) =
        screened.map_err(|e| Outcome::from(super::import::ImportError::from(e)))?;
    let kept: HashSet<u64> = kept.iter().map(|r| r.line).collect();
    let mut line = 0;
    plan.steps.retain(|_| {
        line += 1;
        kept.contains(&line)
    });
    if !skipped.is_empty() {
        plan.summary = format!(
            "{} ({} already in the org or said twice, skipped)",
            plan.summary,
            skipped.len()
        );
    }
    Ok(skipped)
}
