//! `sayso sync`: replays the offline queue in the order said, against the live org.
//!
//! Two passes. First every queued command is resolved (a dry run, nothing written) and checked
//! against what changed since it was said, before any of them writes, so the sync's own writes
//! never look like a colleague's. A field is a *conflict* when its value now (*theirs*) differs
//! from what the rep saw (*base*), or, when the base is not known, when its record was modified
//! after the command was said. Then each command without a conflict is resolved again, previewed,
//! confirmed by the caller and applied as an ordinary journal entry, guarded by the values just
//! previewed. Part of [`crate::app::offline`]; imports what it does, and the SOQL builder for the
//! `LastModifiedDate` reads.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::super::{Agent, Outcome, RunOptions, Status, What, Written};
use crate::journal::{QueueState, QueuedCommand};
use crate::plan::{Plan, Val};
use crate::salesforce::OrgError;
use crate::soql::builder::{QueryBuilder, id_in};

/// One field someone else changed after a queued command was said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldConflict {
    /// Record id.
    pub id: String,
    /// Object API name.
    pub sobject: String,
    /// Record name.
    pub name: String,
    /// Field API name.
    pub field: String,
    /// What the rep saw when saying the command; `None` when not known.
    pub base: Option<Json>,
    /// The value in the org now.
    pub theirs: Json,
    /// The queued value.
    pub yours: Json,
    /// The record's `LastModifiedDate` now.
    pub modified_at: Option<String>,
}

/// Options of [`Agent::sync`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Limits of each command (`yes` is implied by the confirmation callback).
    pub run: RunOptions,
    /// Apply this queued command over a conflict (`--prefer mine`).
    pub prefer_mine: Option<i64>,
}

/// One queued command after a sync.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The command as queued (its state before this sync).
    pub item: QueuedCommand,
    /// What happened: [`Status::Applied`], [`Status::Conflict`], [`Status::Queued`] (not
    /// confirmed, or the org went away), or the resolver's refusal.
    pub outcome: Outcome,
    /// The conflicting fields.
    pub conflicts: Vec<FieldConflict>,
}

/// The result of [`Agent::sync`].
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// The commands synced, in the order said.
    pub items: Vec<Synced>,
    /// Set when the org still cannot be reached (the queue is left as it was).
    pub unreachable: Option<String>,
}

/// Ids per `LastModifiedDate` query (keeps the SOQL text short).
const ID_CHUNK: usize = 200;

/// A pass-one verdict.
enum Verdict {
    /// Nothing conflicts (or `--prefer mine`).
    Clear,
    /// These fields conflict (found with this many API calls).
    Conflict(Vec<FieldConflict>, u64),
    /// Not resolvable now (e.g. a record a later command creates): checked again in pass two.
    Later,
}

/// Whether two JSON values are the same value (numbers compared as numbers).
fn same(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Whether a record modified at `modified` was modified after `said`. A time of whole seconds
/// (as Salesforce gives) counts as after when it falls in the second of `said`.
fn modified_after(modified: &str, said: &str) -> bool {
    let (Some(m), Some(s)) = (parse_time(modified), parse_time(said)) else {
        // Unknown: assume it was (a conflict is shown, never an overwrite).
        return true;
    };
    if m.timestamp_subsec_millis() == 0 {
        m.timestamp() >= s.timestamp()
    } else {
        m > s
    }
}

/// The field conflicts of a plan's updates, given each record's `LastModifiedDate` now.
pub(super) fn conflicts_of(
    plan: &Plan,
    item: &QueuedCommand,
    modified: &BTreeMap<String, String>,
) -> Vec<FieldConflict> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let Some(id) = &step.id else { continue };
        let seen = item.seen.get(id.as_str()).and_then(|r| r.get("fields"));
        let at = modified.get(id.as_str());
        for (field, val) in &step.fields {
            let Val::Lit(yours) = val else { continue };
            let theirs = step.old.get(field).cloned().unwrap_or(Json::Null);
            let base = seen.and_then(|f| f.get(field)).cloned();
            let conflict = match &base {
                Some(b) => !same(b, &theirs),
                None => at.is_none_or(|m| modified_after(m, &item.said_at)),
            };
            if conflict {
                out.push(FieldConflict {
                    id: id.to_string(),
                    sobject: step.sobject.to_string(),
                    name: step.name.clone(),
                    field: field.clone(),
                    base,
                    theirs,
                    yours: yours.clone(),
                    modified_at: at.cloned(),
                });
            }
        }
    }
    out
}

/// The records a queued command's phrase named that the cache resolved (a pick among several
/// matches at sync time).
fn picked_of(item: &QueuedCommand) -> Vec<String> {
    item.seen
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

impl Agent {
    /// Replays the queue ([`crate::app::offline`]): pass one checks every command for
    /// conflicts, pass two previews each clear one, asks `confirm` (the preview is a
    /// [`Status::DryRun`] outcome) and applies it. Queue states are updated as it goes.
    pub async fn sync(
        &mut self,
        opts: SyncOptions,
        confirm: &mut dyn FnMut(&QueuedCommand, &Outcome) -> bool,
    ) -> SyncReport {
        let mut report = SyncReport::default();
        let items = match self.journal.queue_list(false) {
            Ok(items) => items,
            Err(e) => {
                report.unreachable = Some(format!("cannot read the queue: {e}"));
                return report;
            }
        };
        let mut verdicts = Vec::with_capacity(items.len());
        for item in &items {
            match self.check(item, opts).await {
                Ok(v) => verdicts.push(v),
                Err(message) => {
                    report.unreachable = Some(message);
                    return report;
                }
            }
        }
        for (item, verdict) in items.into_iter().zip(verdicts) {
            let synced = match verdict {
                Verdict::Conflict(conflicts, calls) => self.held(item, conflicts, calls),
                Verdict::Clear => self.apply(item, opts, false, confirm).await,
                Verdict::Later => self.apply(item, opts, true, confirm).await,
            };
            let gone = synced.outcome.unreachable;
            report.items.push(synced);
            if gone {
                report.unreachable = Some("the org stopped answering during the sync".into());
                break;
            }
        }
        report
    }

    /// Pass one: the verdict on one queued command. `Err` when the org cannot be reached.
    async fn check(&mut self, item: &QueuedCommand, opts: SyncOptions) -> Result<Verdict, String> {
        let dry = RunOptions {
            dry_run: true,
            ..opts.run
        };
        let start = self.org.calls();
        let mut out = self
            .submit_picked(&item.phrase, dry, &picked_of(item))
            .await;
        if out.unreachable {
            return Err(out.message);
        }
        let Some(plan) = out.pending.take() else {
            return Ok(Verdict::Later);
        };
        let verdict = if opts.prefer_mine == Some(item.id) {
            Verdict::Clear
        } else {
            match self.plan_conflicts(&plan, item).await {
                Ok(c) if c.is_empty() => Verdict::Clear,
                Ok(c) => Verdict::Conflict(c, u64::from(self.org.calls() - start)),
                Err(OrgError::Unreachable(m)) => {
                    self.discard(&plan);
                    return Err(m);
                }
                Err(_) => Verdict::Later,
            }
        };
        self.discard(&plan);
        Ok(verdict)
    }

    /// The conflicts of a plan: reads the `LastModifiedDate` of the records it updates.
    async fn plan_conflicts(
        &mut self,
        plan: &Plan,
        item: &QueuedCommand,
    ) -> Result<Vec<FieldConflict>, OrgError> {
        let mut by_object: BTreeMap<&str, Vec<crate::id::RecordId>> = BTreeMap::new();
        for s in &plan.steps {
            if let Some(id) = s.id.clone() {
                by_object.entry(&s.sobject).or_default().push(id);
            }
        }
        let mut modified = BTreeMap::new();
        let chunks = by_object
            .iter()
            .flat_map(|(object, ids)| ids.chunks(ID_CHUNK).map(move |c| (*object, c)));
        for (object, ids) in chunks {
            let soql = QueryBuilder::select(object, &["Id", "LastModifiedDate"])
                .and_then(|q| Ok(q.filter(id_in("Id", ids)?).to_soql()))
                .map_err(|e| OrgError::Transport(e.to_string()))?;
            for row in self.org.query_all(&soql).await? {
                if let (Some(id), Some(at)) = (
                    row.get("Id").and_then(Json::as_str),
                    row.get("LastModifiedDate").and_then(Json::as_str),
                ) {
                    modified.insert(id.to_string(), at.to_string());
                }
            }
        }
        Ok(conflicts_of(plan, item, &modified))
    }

    /// A command held by conflicts: nothing written, it stays in the queue.
    fn held(&mut self, item: QueuedCommand, conflicts: Vec<FieldConflict>, calls: u64) -> Synced {
        let fields: Vec<String> = conflicts
            .iter()
            .map(|c| format!("{} on {}", c.field, c.name))
            .collect();
        let mut outcome = Outcome::new(
            Status::Conflict,
            format!(
                "not written: {} changed after you said it (`sayso sync --prefer mine {}` overwrites it, `sayso queue drop {}` forgets it)",
                fields.join(", "),
                item.id,
                item.id
            ),
        );
        outcome.api_calls = calls;
        outcome.what = What::Written(Written {
            changes: Vec::new(),
            failures: conflicts
                .iter()
                .map(|c| crate::exec::Failure {
                    id: Some(c.id.clone()),
                    name: c.name.clone(),
                    error: format!("conflict on {}", c.field),
                })
                .collect(),
        });
        let detail = json!({ "conflicts": conflicts });
        let _ = self.journal.queue_set(
            item.id,
            QueueState::Conflict,
            &outcome.message,
            &detail,
            None,
        );
        Synced {
            item,
            outcome,
            conflicts,
        }
    }

    /// Pass two: resolve again, preview, confirm, apply. `recheck`: pass one could not resolve
    /// it, so its conflicts are checked now.
    async fn apply(
        &mut self,
        item: QueuedCommand,
        opts: SyncOptions,
        recheck: bool,
        confirm: &mut dyn FnMut(&QueuedCommand, &Outcome) -> bool,
    ) -> Synced {
        let dry = RunOptions {
            dry_run: true,
            ..opts.run
        };
        let mut preview = self
            .submit_picked(&item.phrase, dry, &picked_of(&item))
            .await;
        let Some(plan) = preview.pending.take() else {
            return self.settled(item, preview);
        };
        if recheck && opts.prefer_mine != Some(item.id) {
            let before = self.org.calls();
            match self.plan_conflicts(&plan, &item).await {
                Ok(c) if !c.is_empty() => {
                    self.discard(&plan);
                    let calls = preview.api_calls + u64::from(self.org.calls() - before);
                    return self.held(item, c, calls);
                }
                _ => {}
            }
        }
        if !confirm(&item, &preview) {
            self.discard(&plan);
            let o = Outcome::new(Status::Queued, "not confirmed; it stays queued");
            return Synced {
                item,
                outcome: o,
                conflicts: Vec::new(),
            };
        }
        let run = RunOptions {
            yes: true,
            dry_run: false,
            ..opts.run
        };
        let mut out = self.confirm_guarded(&item.phrase, &plan, run).await;
        out.api_calls += preview.api_calls;
        self.remember(&out);
        self.settled(item, out)
    }

    /// Records where a command stands after pass two.
    fn settled(&mut self, item: QueuedCommand, out: Outcome) -> Synced {
        let state = match out.status {
            _ if out.unreachable => QueueState::Queued,
            Status::Applied => QueueState::Applied,
            Status::Conflict => QueueState::Conflict,
            _ => QueueState::Failed,
        };
        let _ =
            self.journal
                .queue_set(item.id, state, &out.message, &Json::Null, out.journal_entry);
        Synced {
            item,
            outcome: out,
            conflicts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{ObjectName, RecordId};
    use crate::journal::Op;
    use crate::plan::Step;

    fn item(seen: Json) -> QueuedCommand {
        QueuedCommand {
            id: 1,
            said_at: "2026-12-03T10:00:00.500Z".into(),
            user: "dana".into(),
            phrase: "set the amount on initech to 92k".into(),
            seen,
            state: QueueState::Queued,
            message: String::new(),
            detail: Json::Null,
            entry: None,
            updated_at: String::new(),
        }
    }

    fn plan(theirs: Json) -> Plan {
        Plan {
            steps: vec![Step {
                op: Op::Update,
                sobject: ObjectName::known("Opportunity"),
                id: RecordId::parse("006Dm0000000001IAA").ok(),
                name: "Initech Renewal".into(),
                reference: "s0".into(),
                fields: [("Amount".to_string(), Val::Lit(json!(92000)))].into(),
                old: [("Amount".to_string(), theirs)].into(),
                guard: None,
            }],
            bulk: false,
            summary: String::new(),
            staged: None,
        }
    }

    #[test]
    fn a_known_base_that_changed_is_a_conflict_with_all_three_values() {
        let seen = json!({"006Dm0000000001IAA": {"fields": {"Amount": 85000}}});
        let at: BTreeMap<String, String> = [(
            "006Dm0000000001IAA".into(),
            "2026-12-03T10:05:00.123+0000".into(),
        )]
        .into();
        let c = conflicts_of(&plan(json!(99000.0)), &item(seen.clone()), &at);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].base, Some(json!(85000)));
        assert_eq!(c[0].theirs, json!(99000.0));
        assert_eq!(c[0].yours, json!(92000));
        // Modified after, but not that field: no conflict.
        assert!(conflicts_of(&plan(json!(85000.0)), &item(seen), &at).is_empty());
    }

    #[test]
    fn an_unknown_base_conflicts_only_when_modified_after_it_was_said() {
        let before: BTreeMap<String, String> = [(
            "006Dm0000000001IAA".into(),
            "2026-12-03T09:59:00.123+0000".into(),
        )]
        .into();
        let after: BTreeMap<String, String> = [(
            "006Dm0000000001IAA".into(),
            "2026-12-03T10:00:00.600+0000".into(),
        )]
        .into();
        let whole: BTreeMap<String, String> = [(
            "006Dm0000000001IAA".into(),
            "2026-12-03T10:00:00.000+0000".into(),
        )]
        .into();
        let p = plan(json!(1));
        assert!(conflicts_of(&p, &item(json!({})), &before).is_empty());
        assert_eq!(conflicts_of(&p, &item(json!({})), &after).len(), 1);
        assert_eq!(conflicts_of(&p, &item(json!({})), &whole).len(), 1);
    }
}
