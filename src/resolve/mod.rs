//! Resolution: a parsed command ([`crate::lang::ParsedCommand`]) → API names, picklist values and
//! record ids → a [`Plan`] of writes, or an answer to a question.
//!
//! Owns the mapping from intents to steps. Reads the org only through [`crate::salesforce::Org`] (queries and
//! describes, never writes) and builds SOQL only with the escaping builder ([`crate::soql::builder`]). Field-level
//! permissions are checked here, before anything is written. Called by `app`; may import `lang`,
//! `plan`, `journal` (types only), `salesforce` (the [`Org`] handle), `soql` and `id`.
//!
//! - [`schema`] — the per-user describe cache.
//! - [`field`] — fields, picklists, value coercion, field permissions.
//! - [`record`] — which record a reference names.
//! - [`filter`] — bulk filters ("all my open opportunities in the tech sector").
//! - [`stream`] — bulk updates too large to hold: a query and per-field rules.
//! - `intent` — one file per intent: how each kind of clause becomes steps.

mod activity;
pub mod answer;
pub mod columns;
pub mod field;
pub mod filter;
mod intent;
use intent::{Resolve, Resolved};
pub mod record;
pub mod schema;
pub mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use chrono::{Datelike, NaiveDate};
use serde_json::{Value as Json, json};

use crate::id::{ObjectName, RecordId};
use crate::journal::Op;
use crate::lang::{
    AddContactRole, AddNote, CompleteTask, CreateCase, CreateRecord, CreateTask, DateRange,
    FieldChange, Intent, LogCall, ObjectKind, ParsedCommand, Question, QuestionKind, Reassign,
    RecordFilter, RecordRef, ScheduleMeeting, Target, Value,
};
use crate::plan::{Plan, Step, Val};
use crate::salesforce::rest::http_date_from_iso;
use crate::salesforce::{Org, OrgError};
use field::{FieldValue, check_writable, coerce, field_for_value, find_field};
use record::{Found, display_name};
use schema::{ObjectDescribe, SchemaCache};

/// A record offered when a reference is ambiguous.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// Object API name.
    pub sobject: String,
    /// Record id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// Why a command could not be resolved. Each variant maps to one status of the JSON contract.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// `not_found`: no visible record matches.
    #[error("{0}")]
    NotFound(String),
    /// `ambiguous`: several records match.
    #[error("{0}")]
    Ambiguous(String, Vec<Candidate>),
    /// `denied`: the user's permissions forbid it.
    #[error("{0}")]
    Denied(String),
    /// `invalid`: a value the field can't take.
    #[error("{0}")]
    Invalid(String),
    /// `not_understood`, with the closest commands.
    #[error("{0}")]
    NotUnderstood(String, Vec<String>),
    /// The org failed.
    #[error(transparent)]
    Org(#[from] OrgError),
}

/// What a command resolves to.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Writes.
    Write(Plan),
    /// A question's answer: nothing changes.
    Answer(answer::Answer),
    /// "what did I change today": the journal's entries over these days (the app reads them).
    History(DateRange),
    /// `undo [N]` said as a phrase.
    Undo(u32),
    /// `help [topic]`.
    Help(Option<String>),
    /// A bulk update over more records than [`Resolver::stream_above`]: `app` streams it.
    Stream(Box<stream::BulkSource>),
}

/// Resolves commands for one user against one org.
pub struct Resolver<'a> {
    /// The org, as this user.
    pub org: &'a Org,
    /// This user's describe cache.
    pub schema: &'a mut SchemaCache,
    /// This user's id.
    pub me: String,
    /// Today (SAYSO_TODAY or the local date).
    pub today: NaiveDate,
    /// Record ids the user picked from an earlier `ambiguous` answer: among several matches,
    /// a picked one wins.
    pub picked: Vec<String>,
    /// A one-clause bulk update whose filter matches more records than this is returned as
    /// [`Resolution::Stream`] instead of a step per record. `None`: always steps.
    pub stream_above: Option<usize>,
}

/// Objects a reference with no object word may name, most likely first.
const ANY_OBJECT: [&str; 5] = ["Opportunity", "Account", "Contact", "Lead", "Case"];
/// Objects a "who" reference (a person) may name.
const WHO: [&str; 2] = ["Contact", "Lead"];
/// Words of a request to delete, which the language never turns into a write.
const DELETE_WORDS: [&str; 6] = ["delete", "remove", "erase", "destroy", "purge", "wipe"];
/// Objects a "what" reference (what a call or task is about) may name.
const WHAT: [&str; 3] = ["Opportunity", "Account", "Case"];

/// What a clause named or created, for pronouns in later clauses.
#[derive(Debug, Clone)]
enum Named {
    Existing(Found),
    Created {
        reference: String,
        sobject: String,
        name: String,
    },
}

impl Named {
    fn val(&self) -> Val {
        match self {
            Named::Existing(f) => Val::Lit(json!(f.id)),
            Named::Created { reference, .. } => Val::Ref(reference.clone()),
        }
    }
    fn sobject(&self) -> &str {
        match self {
            Named::Existing(f) => &f.sobject,
            Named::Created { sobject, .. } => sobject,
        }
    }
    fn name(&self) -> &str {
        match self {
            Named::Existing(f) => &f.name,
            Named::Created { name, .. } => name,
        }
    }
}

/// The last day of the calendar quarter containing `d`.
pub fn end_of_quarter(d: NaiveDate) -> NaiveDate {
    let q_end_month = ((d.month0() / 3) + 1) * 3;
    let (y, m) = if q_end_month == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), q_end_month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .map(|x| x - chrono::Duration::days(1))
        .unwrap_or(d)
}

fn objects_of<'a>(kind: Option<ObjectKind>, default: &[&'a str]) -> Vec<&'a str> {
    match kind {
        Some(k) => vec![k.api_name()],
        None => default.to_vec(),
    }
}

impl Resolver<'_> {
    /// The user's describe of an object; an object the user can't see is `not_found`.
    ///
    /// # Errors
    /// [`ResolveError::NotFound`] or the org's error.
    pub async fn describe(&mut self, object: &str) -> Result<Arc<ObjectDescribe>, ResolveError> {
        match self.schema.describe(self.org, object).await {
            Ok(d) => Ok(d),
            Err(OrgError::Api {
                status: 403 | 404, ..
            }) => Err(ResolveError::NotFound(format!(
                "no {object} records that you can see"
            ))),
            Err(e) => Err(ResolveError::Org(e)),
        }
    }

    /// The describe of an object the command will create records of: an object the user can't
    /// see at all is `denied` (creating is an action on the object, not a lookup).
    async fn describe_for_create(
        &mut self,
        object: &str,
    ) -> Result<Arc<ObjectDescribe>, ResolveError> {
        match self.describe(object).await {
            Err(ResolveError::NotFound(_)) => Err(ResolveError::Denied(format!(
                "you can't create {object} records"
            ))),
            other => other,
        }
    }

    /// The describe of an object the clause creates a record of; `denied` ("you can't {action}")
    /// when the user can't create one.
    async fn describe_creatable(
        &mut self,
        object: &str,
        action: &str,
    ) -> Result<Arc<ObjectDescribe>, ResolveError> {
        let d = self.describe_for_create(object).await?;
        if !d.createable {
            return Err(ResolveError::Denied(format!("you can't {action}")));
        }
        Ok(d)
    }

    /// Resolves a whole command. Clauses resolve in order; pronouns point at what earlier clauses
    /// named or created. Any failure fails the whole command (nothing is written).
    ///
    /// # Errors
    /// The first clause's [`ResolveError`].
    pub async fn resolve(&mut self, cmd: &ParsedCommand) -> Result<Resolution, ResolveError> {
        if let Some(suggestions) = cmd.clauses.iter().find_map(|c| match &c.intent {
            Intent::NotUnderstood(n) => Some(&n.suggestions),
            _ => None,
        }) {
            let deleting = cmd
                .input
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| DELETE_WORDS.iter().any(|d| w.eq_ignore_ascii_case(d)));
            let message = if deleting {
                format!(
                    "sayso does not delete records (`{}`); `sayso undo` reverts what you changed with sayso",
                    cmd.input.trim()
                )
            } else {
                format!("I didn't understand `{}`", cmd.input.trim())
            };
            return Err(ResolveError::NotUnderstood(message, suggestions.clone()));
        }
        if cmd.clauses.len() == 1 {
            match &cmd.clauses[0].intent {
                Intent::Question(q) => return self.question(q).await,
                Intent::Undo(u) => return Ok(Resolution::Undo(u.steps)),
                Intent::Help(h) => return Ok(Resolution::Help(h.topic.clone())),
                _ => {}
            }
        }
        let mut named: Vec<Option<Named>> = Vec::new();
        let mut steps: Vec<Step> = Vec::new();
        let mut bulk = false;
        let mut summary = Vec::new();
        // Only a command of one clause streams: a compound one needs its steps side by side.
        let mut stream = None;
        let large_above = self.stream_above.filter(|_| cmd.clauses.len() == 1);
        for clause in &cmd.clauses {
            let before = steps.len();
            let mut cx = ClauseCx {
                named: &named,
                steps: &mut steps,
                bulk: &mut bulk,
                stream: &mut stream,
                large_above,
                intent: clause.intent.name(),
            };
            let n = self.clause(&clause.intent, &mut cx).await?;
            if let Some(source) = stream.take() {
                return Ok(Resolution::Stream(source));
            }
            named.push(n);
            summary.push(format!(
                "{} ({} change{})",
                clause.intent.name(),
                steps.len() - before,
                if steps.len() - before == 1 { "" } else { "s" }
            ));
        }
        Ok(Resolution::Write(Plan {
            steps: crate::plan::merge_updates(steps),
            bulk,
            summary: summary.join("; "),
            staged: None,
        }))
    }

    async fn reference(
        &mut self,
        r: &RecordRef,
        named: &[Option<Named>],
        objects: &[&str],
        extra: &[String],
    ) -> Result<Named, ResolveError> {
        if let Some(a) = &r.antecedent
            && let Some(Some(n)) = named.get(a.clause)
        {
            let fits = r.object.is_none_or(|o| o.api_name() == n.sobject())
                && objects.contains(&n.sobject());
            // a record the earlier clause creates can only be that one; a record it only named
            // (the deal of "log a call … on the X deal, then push the close date") is found again
            // by its name when the clause's own record is something else
            if fits || (a.created && r.object.is_some()) {
                return Ok(n.clone());
            }
        }
        let objs = objects_of(r.object, objects);
        Ok(Named::Existing(self.find_record(r, &objs, extra).await?))
    }

    fn next_ref(steps: &[Step]) -> String {
        format!("s{}", steps.len())
    }

    /// Resolves one clause into steps; returns the record it names, for later clauses ("it").
    async fn clause(
        &mut self,
        intent: &Intent,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        match intent {
            Intent::UpdateFields(x) => x.resolve(self, cx).await,
            Intent::Reassign(x) => x.resolve(self, cx).await,
            Intent::CompleteTask(x) => x.resolve(self, cx).await,
            Intent::AddNote(x) => x.resolve(self, cx).await,
            Intent::LogCall(x) => x.resolve(self, cx).await,
            Intent::CreateTask(x) => x.resolve(self, cx).await,
            Intent::ScheduleMeeting(x) => x.resolve(self, cx).await,
            Intent::CreateCase(x) => x.resolve(self, cx).await,
            Intent::CreateRecord(x) => x.resolve(self, cx).await,
            Intent::AddContactRole(x) => x.resolve(self, cx).await,
            // A question inside a compound command names a record for later clauses.
            Intent::Question(q) => match &q.target {
                Target::Record(r) => Ok(Some(
                    self.reference(r, cx.named, &objects_of(r.object, &ANY_OBJECT), &[])
                        .await?,
                )),
                Target::Filter(_) => Ok(None),
            },
            Intent::Undo(_) | Intent::Help(_) => Err(ResolveError::NotUnderstood(
                "undo and help can't be combined with other commands".into(),
                vec![],
            )),
            Intent::NotUnderstood(n) => Err(ResolveError::NotUnderstood(
                "not understood".into(),
                n.suggestions.clone(),
            )),
        }
    }

    /// Objects that have the fields a change names (from the grammar's aliases).
    fn objects_for_changes(&self, changes: &[FieldChange]) -> Vec<&'static str> {
        let mut objs: Vec<&'static str> = Vec::new();
        for c in changes {
            if let Some(fr) = &c.field {
                for a in &fr.candidates {
                    if let Some(o) = a.object {
                        if !objs.contains(&o.api_name()) {
                            objs.push(o.api_name());
                        }
                    } else {
                        return ANY_OBJECT.to_vec();
                    }
                }
            }
        }
        if objs.is_empty() {
            // A value alone ("move X to negotiation") or unknown field words: any object.
            return ANY_OBJECT.to_vec();
        }
        ANY_OBJECT
            .iter()
            .copied()
            .filter(|o| objs.contains(o))
            .chain(objs.iter().copied().filter(|o| !ANY_OBJECT.contains(o)))
            .collect()
    }

    /// API names of the fields the changes name on `object` (best effort; errors surface later).
    async fn field_names(
        &mut self,
        object: &str,
        changes: &[FieldChange],
    ) -> Result<Vec<String>, ResolveError> {
        let d = self.describe(object).await?;
        Ok(changes
            .iter()
            .filter_map(|c| match &c.field {
                Some(fr) => find_field(&d, fr).ok(),
                None => field_for_value(&d, &c.value).ok(),
            })
            .map(|f| f.name.clone())
            .collect())
    }

    /// The step that applies `changes` to one found record: only fields whose value changes.
    async fn update_step(
        &mut self,
        found: &Found,
        changes: &[FieldChange],
        steps: &[Step],
    ) -> Result<Step, ResolveError> {
        let d = self.describe(&found.sobject).await?;
        let mut targets = Vec::new();
        for c in changes {
            let f = match &c.field {
                Some(fr) => find_field(&d, fr)?,
                None => field_for_value(&d, &c.value)?,
            };
            check_writable(&d, f, false)?;
            targets.push((f.clone(), c));
        }
        let mut row = found.row.clone();
        let missing = targets.iter().any(|(f, _)| row.get(&f.name).is_none())
            || row.get("LastModifiedDate").is_none();
        if missing && d.field("LastModifiedDate").is_some() {
            let extra: Vec<String> = targets.iter().map(|(f, _)| f.name.clone()).collect();
            row = self.read_row(&found.sobject, &found.id, &extra).await?;
        }
        let mut fields = BTreeMap::new();
        let mut old = BTreeMap::new();
        for (f, c) in targets {
            let current = row.get(&f.name).cloned();
            let v = match coerce(&f, c, current.as_ref())? {
                FieldValue::Literal(j) => j,
                FieldValue::Lookup { objects, name } => {
                    json!(self.lookup(&objects, &name).await?.id)
                }
            };
            if current.as_ref().is_some_and(|cur| same_value(cur, &v)) {
                continue;
            }
            old.insert(f.name.clone(), current.unwrap_or(Json::Null));
            fields.insert(f.name.clone(), Val::Lit(v));
        }
        update_of(found, &row, Self::next_ref(steps), fields, old)
    }

    /// The rules of a streamed update: each field checked writable, lookups resolved once.
    async fn change_rules(
        &mut self,
        sobject: &str,
        changes: &[FieldChange],
    ) -> Result<Vec<stream::Rule>, ResolveError> {
        let d = self.describe(sobject).await?;
        let mut rules = Vec::new();
        for c in changes {
            let f = match &c.field {
                Some(fr) => find_field(&d, fr)?,
                None => field_for_value(&d, &c.value)?,
            }
            .clone();
            check_writable(&d, &f, false)?;
            let value = match coerce(&f, c, None) {
                // A lookup names one record for every row: find it now, once.
                Ok(FieldValue::Lookup { objects, name }) => {
                    stream::RuleValue::Fixed(json!(self.lookup(&objects, &name).await?.id))
                }
                _ => stream::RuleValue::Said(c.clone()),
            };
            rules.push(stream::Rule { field: f, value });
        }
        Ok(rules)
    }

    /// The rule of a streamed update that sets one field to one value, checked writable.
    async fn fixed_rule(
        &mut self,
        sobject: &str,
        field_name: &str,
        value: Json,
    ) -> Result<stream::Rule, ResolveError> {
        let d = self.describe(sobject).await?;
        let f = d.field(field_name).ok_or_else(|| {
            ResolveError::Denied(format!("you can't see {field_name} on {sobject}"))
        })?;
        check_writable(&d, f, false)?;
        Ok(stream::Rule {
            field: f.clone(),
            value: stream::RuleValue::Fixed(value),
        })
    }

    async fn update_literal(
        &mut self,
        found: &Found,
        field_name: &str,
        value: Json,
        steps: &[Step],
    ) -> Result<Step, ResolveError> {
        let d = self.describe(&found.sobject).await?;
        let f = d.field(field_name).ok_or_else(|| {
            ResolveError::Denied(format!("you can't see {} on {}", field_name, found.sobject))
        })?;
        check_writable(&d, f, false)?;
        let mut row = found.row.clone();
        if row.get(field_name).is_none() || row.get("LastModifiedDate").is_none() {
            row = self
                .read_row(&found.sobject, &found.id, &[field_name.to_string()])
                .await?;
        }
        let current = row.get(field_name).cloned().unwrap_or(Json::Null);
        let mut fields = BTreeMap::new();
        let mut old = BTreeMap::new();
        if !same_value(&current, &value) {
            old.insert(field_name.to_string(), current);
            fields.insert(field_name.to_string(), Val::Lit(value));
        }
        update_of(found, &row, Self::next_ref(steps), fields, old)
    }

    /// Sets one field to one value on a named record or on every record a filter matches (held as
    /// steps, or streamed when large); `objects` are those a reference with no object word may name.
    async fn set_field_on(
        &mut self,
        target: &Target,
        objects: &[&str],
        field_name: &str,
        value: Json,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let field = [field_name.to_string()];
        match target {
            Target::Record(r) => {
                let objs = objects_of(r.object, objects);
                let n = self.reference(r, cx.named, &objs, &field).await?;
                let Named::Existing(found) = &n else {
                    return Ok(Some(n));
                };
                let step = self
                    .update_literal(found, field_name, value, cx.steps)
                    .await?;
                push_change(cx.steps, step);
                Ok(Some(n))
            }
            Target::Filter(f) => {
                *cx.bulk = true;
                let object = filter::object_of(f);
                let rows = match self.filter_page(f, &field, cx.large_above).await? {
                    filter::Rows::All(rows) => rows,
                    filter::Rows::Large(page) => {
                        let rule = self.fixed_rule(object, field_name, value).await?;
                        *cx.stream = Some(page.source(object, cx.intent, vec![rule]));
                        return Ok(None);
                    }
                };
                for row in rows {
                    let found = found_of(object, row);
                    let step = self
                        .update_literal(&found, field_name, value.clone(), cx.steps)
                        .await?;
                    push_change(cx.steps, step);
                }
                Ok(None)
            }
        }
    }

    async fn lookup(&mut self, objects: &[String], name: &str) -> Result<Found, ResolveError> {
        if objects.iter().any(|o| o == "User") {
            return self.find_user(name).await;
        }
        let objs: Vec<&str> = objects.iter().map(String::as_str).collect();
        let r = RecordRef {
            text: name.to_string(),
            ..RecordRef::default()
        };
        self.find_record(&r, &objs, &[]).await
    }

    fn picklist_value(&self, d: &ObjectDescribe, field_name: &str, said: &str) -> String {
        let Some(f) = d.field(field_name) else {
            return capitalise(said);
        };
        if said.is_empty() {
            return f
                .picklist
                .iter()
                .find(|p| p.active)
                .map(|p| p.value.clone())
                .unwrap_or_default();
        }
        field::match_picklist(f, &said_value(said)).unwrap_or_else(|_| {
            f.picklist
                .iter()
                .find(|p| p.active)
                .map(|p| p.value.clone())
                .unwrap_or_else(|| capitalise(said))
        })
    }

    async fn check_create(&mut self, object: &str, fields: &[&str]) -> Result<(), ResolveError> {
        let d = self
            .describe_creatable(object, &format!("create {object} records"))
            .await?;
        for name in fields {
            match d.field(name) {
                Some(f) => check_writable(&d, f, true)?,
                None => {
                    return Err(ResolveError::Denied(format!(
                        "you can't see {object}.{name}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_fields(
        &self,
        d: &ObjectDescribe,
        fields: &BTreeMap<String, Val>,
        create: bool,
    ) -> Result<(), ResolveError> {
        for name in fields.keys() {
            match d.field(name) {
                Some(f) => check_writable(d, f, create)?,
                None => {
                    return Err(ResolveError::Denied(format!(
                        "you can't see {}.{name}",
                        d.name
                    )));
                }
            }
        }
        Ok(())
    }

    fn note_steps(&self, n: &Named, text: &str, steps: &mut Vec<Step>) {
        let title: String = {
            let t: String = text.chars().take(60).collect();
            if text.chars().count() > 60 {
                format!("{}…", t.trim_end())
            } else {
                t
            }
        };
        let content = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        let note_ref = Self::next_ref(steps);
        let mut fields = BTreeMap::new();
        fields.insert("Title".into(), Val::Lit(json!(title)));
        fields.insert("Content".into(), Val::Lit(json!(content)));
        steps.push(create_step("ContentNote", &title, note_ref.clone(), fields));
        let mut link = BTreeMap::new();
        link.insert("ContentDocumentId".into(), Val::Ref(note_ref));
        link.insert("LinkedEntityId".into(), n.val());
        link.insert("ShareType".into(), Val::Lit(json!("V")));
        let link_ref = Self::next_ref(steps);
        steps.push(create_step(
            "ContentDocumentLink",
            &format!("note on {}", n.name()),
            link_ref,
            link,
        ));
    }

    /// A question's answer, by what is asked: a record's fields, a figure, groups, a top-N, the
    /// last contact, the user's history, or the records themselves.
    async fn question(&mut self, q: &Question) -> Result<Resolution, ResolveError> {
        let kind = q.kind;
        let answer = match (kind, &q.target) {
            (QuestionKind::History, _) => {
                let today = DateRange {
                    start: self.today,
                    end: self.today,
                };
                return Ok(Resolution::History(q.period.unwrap_or(today)));
            }
            (QuestionKind::Field, Target::Record(r)) => {
                self.field_answer(r, &q.fields, q.role.as_ref()).await?
            }
            (QuestionKind::LastContact, Target::Record(r)) => self.last_contact(r).await?,
            (_, Target::Filter(f)) if q.group.is_some() => {
                let measure = q.fields.first().filter(|_| kind == QuestionKind::Total);
                self.group_answer(f, q.group.as_ref().expect("checked"), measure)
                    .await?
            }
            (_, Target::Filter(f)) if q.rank.is_some() => {
                self.ranked_answer(f, q.rank.expect("checked")).await?
            }
            (QuestionKind::Count, Target::Filter(f)) => self.count_answer(f).await?,
            (QuestionKind::Total | QuestionKind::Average, Target::Filter(f)) => {
                let amount = answer::amount_field();
                let field = q.fields.first().unwrap_or(&amount);
                self.figure_answer(f, field, kind == QuestionKind::Average)
                    .await?
            }
            _ => self.answer(kind, &q.target).await?,
        };
        Ok(Resolution::Answer(answer))
    }

    /// Records: a named record (status, look up), or a filter's records (lists, counts).
    async fn answer(
        &mut self,
        kind: QuestionKind,
        target: &Target,
    ) -> Result<answer::Answer, ResolveError> {
        // "look up Sarah Chen": a name with no qualifiers is one record, whatever the parser called it.
        let as_record;
        let target = match target {
            Target::Filter(f)
                if f.object.is_none()
                    && !f.text.trim().is_empty()
                    && !f.mine
                    && f.open.is_none()
                    && f.stage.is_none()
                    && f.closing.is_none()
                    && f.industry.is_none()
                    && !f.overdue
                    && kind != QuestionKind::Count =>
            {
                as_record = Target::Record(RecordRef {
                    text: f.text.clone(),
                    account: f.account.clone(),
                    ..RecordRef::default()
                });
                &as_record
            }
            t => t,
        };
        match target {
            Target::Record(r) => {
                let objs = objects_of(r.object, &ANY_OBJECT);
                // Several records by that name: `ambiguous` with the candidates, like a command.
                let found = self.find_record(r, &objs, &[]).await?;
                let row = if found.row.get("LastModifiedDate").is_none() {
                    self.read_row(&found.sobject, &found.id, &[])
                        .await
                        .unwrap_or(found.row.clone())
                } else {
                    found.row.clone()
                };
                let mut row = row;
                if let Some(o) = row.as_object_mut() {
                    o.remove("attributes");
                    o.insert("sobject".into(), json!(found.sobject));
                }
                let status = ["StageName", "Status"]
                    .iter()
                    .find_map(|f| row.get(*f).and_then(Json::as_str))
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default();
                Ok(answer::Answer::records(
                    vec![row],
                    None,
                    format!("{} {}{status}", found.sobject, found.name),
                ))
            }
            Target::Filter(f) => {
                let object = filter::object_of(f);
                if kind == QuestionKind::Count {
                    return self.count_answer(f).await;
                }
                let rows = self.filter_rows(f, &[]).await?;
                let records: Vec<Json> = rows
                    .into_iter()
                    .map(|mut r| {
                        if let Some(o) = r.as_object_mut() {
                            o.remove("attributes");
                        }
                        r
                    })
                    .collect();
                let names: Vec<String> = records.iter().map(|r| display_name(object, r)).collect();
                let message = format!(
                    "{} {object} record{}: {}",
                    records.len(),
                    if records.len() == 1 { "" } else { "s" },
                    names.join(", ")
                );
                let n = records.len() as u64;
                Ok(answer::Answer::records(records, Some(n), message))
            }
        }
    }
}

fn found_of(object: &str, row: Json) -> Found {
    Found {
        sobject: object.to_string(),
        id: row
            .get("Id")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        name: display_name(object, &row),
        row,
    }
}

/// The update of one found record, guarded by the `LastModifiedDate` its row was read with.
fn update_of(
    found: &Found,
    row: &Json,
    reference: String,
    fields: BTreeMap<String, Val>,
    old: BTreeMap<String, Json>,
) -> Result<Step, ResolveError> {
    let id = RecordId::parse(&found.id).map_err(|e| ResolveError::Invalid(e.to_string()))?;
    Ok(Step {
        op: Op::Update,
        sobject: ObjectName::known(found.sobject.clone()),
        id: Some(id),
        name: found.name.clone(),
        reference,
        fields,
        old,
        guard: row
            .get("LastModifiedDate")
            .and_then(Json::as_str)
            .and_then(http_date_from_iso),
    })
}

fn create_step(
    sobject: &str,
    name: &str,
    reference: String,
    fields: BTreeMap<String, Val>,
) -> Step {
    Step {
        op: Op::Create,
        sobject: ObjectName::known(sobject),
        id: None,
        name: name.into(),
        reference,
        fields,
        old: BTreeMap::new(),
        guard: None,
    }
}

/// What every clause's resolver gets: the records earlier clauses named, and where its steps go.
struct ClauseCx<'s> {
    /// What each earlier clause named or created, for pronouns.
    named: &'s [Option<Named>],
    steps: &'s mut Vec<Step>,
    bulk: &'s mut bool,
    /// Set instead of `steps` when the clause's filter is too large to hold.
    stream: &'s mut Option<Box<stream::BulkSource>>,
    /// Above this many matching records, a bulk update streams (one-clause commands only).
    large_above: Option<usize>,
    /// The clause's intent name, for a streamed source.
    intent: &'static str,
}

/// Adds an update step unless it changes nothing.
fn push_change(steps: &mut Vec<Step>, step: Step) {
    if !step.fields.is_empty() {
        steps.push(step);
    }
}

/// A value as if said, with no typed readings or hints (a picklist value to match).
fn said_value(said: &str) -> Value {
    Value {
        said: said.into(),
        entities: vec![],
        hints: vec![],
    }
}

fn same_value(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn format_money(n: f64) -> String {
    if n >= 1_000_000.0 {
        format!("${}M", (n / 100_000.0).round() / 10.0)
    } else if n >= 1000.0 {
        format!("${}K", (n / 100.0).round() / 10.0)
    } else {
        format!("${n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_keeps_whole_seconds() {
        assert_eq!(
            http_date_from_iso("2026-11-18T10:00:00.000+0000").unwrap(),
            "Wed, 18 Nov 2026 10:00:00 GMT"
        );
        assert_eq!(
            http_date_from_iso("2026-11-18T10:00:00.750+0000").unwrap(),
            "Wed, 18 Nov 2026 10:00:00 GMT"
        );
    }

    #[test]
    fn quarter_ends() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(end_of_quarter(d(2026, 11, 18)), d(2026, 12, 31));
        assert_eq!(end_of_quarter(d(2026, 2, 1)), d(2026, 3, 31));
        assert_eq!(end_of_quarter(d(2026, 6, 30)), d(2026, 6, 30));
    }
}
