//! Typed intents: what a phrase asks for, before any name is resolved against the org.
//!
//! Owns the public data model the command language produces ([`ParsedCommand`] → [`Clause`] →
//! [`Intent`]). It does not resolve anything: record references stay text with qualifiers
//! ([`RecordRef`]), field names stay as said with alias candidates from the grammar ([`FieldRef`]),
//! values stay as said with typed entity candidates ([`Value`]). The resolver (`resolve`) maps them to
//! API names, picklist values and record ids using describe metadata.
//!
//! Every type here is `Serialize` so `sayso parse --json` can print it; the JSON shape is
//! `{"input": …, "today": …, "clauses": [{"text": …, "intent": {"intent": "update_fields", …}}]}`.

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

/// The result of parsing one phrase: its clauses in the order they were said.
///
/// A compound phrase ("create Jane Doe at Acme, associate her with the open Acme deal and log my call")
/// yields several clauses; they form one command that is applied together or not at all. A phrase
/// that could not be understood yields exactly one clause whose intent is [`Intent::NotUnderstood`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedCommand {
    /// The phrase exactly as given.
    pub input: String,
    /// The date relative dates were computed against (`SAYSO_TODAY` or the local date).
    pub today: NaiveDate,
    /// The clauses, in order. Never empty.
    pub clauses: Vec<Clause>,
}

impl ParsedCommand {
    /// True when some clause was not understood (the whole command must then not write anything).
    pub fn is_not_understood(&self) -> bool {
        self.clauses
            .iter()
            .any(|c| matches!(c.intent, Intent::NotUnderstood(_)))
    }
}

/// One clause of a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clause {
    /// The normalised words of this clause (lowercase, fillers removed), for messages and logs.
    pub text: String,
    /// What the clause asks for.
    pub intent: Intent,
}

/// What a clause asks for. One variant per kind of action; slots are typed.
///
/// Serialised with an `"intent"` tag in snake_case (`"update_fields"`, `"add_note"`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "intent", rename_all = "snake_case")]
pub enum Intent {
    /// Change one or more fields on a record, or on every record matching a filter (bulk).
    UpdateFields(UpdateFields),
    /// Attach a note (ContentNote) to a record or to every record matching a filter.
    AddNote(AddNote),
    /// Log a completed call (a Task with TaskSubtype Call).
    LogCall(LogCall),
    /// Create a task or reminder owned by the current user.
    CreateTask(CreateTask),
    /// Mark a task (or every task matching a filter) as completed.
    CompleteTask(CompleteTask),
    /// Create a contact, lead, opportunity or account.
    CreateRecord(CreateRecord),
    /// Add a contact to an opportunity with an optional role (OpportunityContactRole).
    AddContactRole(AddContactRole),
    /// Give a record (or every record matching a filter) to another user.
    Reassign(Reassign),
    /// A question: nothing changes.
    Question(Question),
    /// Revert the last `steps` commands.
    Undo(Undo),
    /// Schedule (or log) a meeting: an Event owned by the current user.
    ScheduleMeeting(ScheduleMeeting),
    /// Open a case for an account.
    CreateCase(CreateCase),
    /// Show help, optionally on a topic.
    Help(Help),
    /// Nothing in the grammar matched. Never leads to a write.
    NotUnderstood(NotUnderstood),
}

/// Change one or more fields on a record, or on every record matching a filter (bulk).
///
/// "set the amount on Initech Renewal to 92k", "update Initech Renewal: stage to negotiation,
/// close date to December 15", "mark Stark Security Suite as closed lost" (field `None`: the
/// resolver picks the status-like field whose picklist holds the value), "escalate case 00001005",
/// "push out the Hooli deal two weeks" ([`ChangeOp::Shift`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateFields {
    /// The record or filter to change.
    pub target: Target,
    /// The changes, in the order said. Never empty.
    pub changes: Vec<FieldChange>,
}

/// Attach a note (ContentNote) to a record or to every record matching a filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddNote {
    /// Where the note goes.
    pub target: Target,
    /// The note text, as said (original casing; surrounding quotes removed).
    pub text: String,
}

/// Log a completed call (a Task with TaskSubtype Call).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LogCall {
    /// The person spoken with and the deal/account/case the call was about. "log a call with
    /// Globex" names a company as the person (the words do not say which): a resolver that
    /// finds no contact or lead by that name may use it as the WhatId.
    #[serde(flatten)]
    pub about: Regarding,
    /// A short subject when one was said ("discovery call"); `None` → the executor's default.
    pub subject: Option<String>,
    /// The call notes, as said.
    pub description: Option<String>,
    /// Call length in seconds when said ("30-minute call" → 1800).
    pub duration_seconds: Option<u32>,
    /// The day of the call when said ("today", "yesterday"); `None` → today.
    pub date: Option<NaiveDate>,
}

/// Who and what an activity (a call, a task, a meeting) is about, each when named.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Regarding {
    /// The person (WhoId): a contact or a lead.
    pub who: Option<RecordRef>,
    /// The deal, account or case (WhatId).
    pub what: Option<RecordRef>,
}

/// Create a task or reminder owned by the current user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateTask {
    /// The subject, as said ("follow up", "send the proposal").
    pub subject: String,
    /// The due date (ActivityDate) when said.
    pub due: Option<NaiveDate>,
    /// The person and the deal/account/case the task is about.
    #[serde(flatten)]
    pub about: Regarding,
    /// Priority when said ("high priority").
    pub priority: Option<Priority>,
}

/// Mark a task (or every task matching a filter) as completed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompleteTask {
    /// The task: a [`RecordRef`] with object Task, its subject words in `text` and the related
    /// record ("for Monsters Inc", "with Sarah Chen") in `related`; or a filter ("my overdue tasks").
    pub target: Target,
}

/// Create a contact, lead, opportunity or account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateRecord {
    /// What to create.
    pub object: ObjectKind,
    /// A person's name when the record is a contact or lead ("Jane Doe").
    pub person: Option<PersonName>,
    /// A record name when one was said (opportunity or account name).
    pub name: Option<String>,
    /// The account it belongs to ("at ACME Corp", "for Initech").
    pub account: Option<RecordRef>,
    /// The company of a lead ("from ENCOM"), as said.
    pub company: Option<String>,
    /// Further fields said (title, email, phone, amount, close date, …).
    pub fields: Vec<FieldChange>,
}

/// Add a contact to an opportunity with an optional role (OpportunityContactRole).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddContactRole {
    /// The contact.
    pub contact: RecordRef,
    /// The opportunity.
    pub opportunity: RecordRef,
    /// The role as said, with the picklist hint ("economic buyer" → "Economic Buyer").
    pub role: Option<Value>,
}

/// Give a record (or every record matching a filter) to another user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reassign {
    /// The record(s).
    pub target: Target,
    /// The new owner's name as said ("Alex Johnson"); resolved against User.
    pub owner: String,
}

/// A question: nothing changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// Which kind of answer is wanted.
    pub kind: QuestionKind,
    /// The record or the set of records asked about.
    pub target: Target,
    /// The fields asked for ("the amount on X", "who owns X"), or the field a total or an
    /// average adds up (the amount unless said).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldRef>,
    /// The contact role asked about ("who is the economic buyer on X").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Value>,
    /// "by stage", "per owner", "in each status", "by close month": one answer per group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupBy>,
    /// "five biggest", "the smallest", "next to close", "the most recent".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<Rank>,
    /// History: the days asked about ("what did I change this week"); today when not said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<DateRange>,
}

/// Revert the last `steps` commands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undo {
    /// How many commands to undo (1 unless said).
    pub steps: u32,
}

/// Schedule (or log) a meeting: an Event owned by the current user.
///
/// "schedule a meeting with Pepper Potts on the Titan deal tuesday at 3pm about the phased
/// rollout", "log a meeting with Jane Smith on the Globex deal".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleMeeting {
    /// What the meeting is about ("phased rollout"); `None` → the executor's default.
    pub subject: Option<String>,
    /// The day (today when not said).
    pub date: NaiveDate,
    /// The start time in the user's time zone, when said ("3pm", "10:30am", "noon").
    pub time: Option<NaiveTime>,
    /// Length in minutes (30 unless said).
    pub minutes: u32,
    /// The person met and the deal/account/case it is about.
    #[serde(flatten)]
    pub about: Regarding,
}

/// Open a case for an account.
///
/// "open a case for Acme Corp: login page broken, high priority".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateCase {
    /// The account (AccountId), when named.
    pub account: Option<RecordRef>,
    /// The contact (ContactId), when named ("contact Peter Gibbons").
    pub contact: Option<RecordRef>,
    /// The subject, as said.
    pub subject: String,
    /// Priority when said.
    pub priority: Option<Priority>,
}

/// Show help, optionally on a topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Help {
    /// The topic words, when said ("help with notes" → "notes").
    pub topic: Option<String>,
}

/// Nothing in the grammar matched. Never leads to a write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotUnderstood {
    /// The closest example commands from the grammars, best first (at most 3).
    pub suggestions: Vec<String>,
}

impl Intent {
    /// Whether this intent changes the org (everything but questions, help, undo and
    /// not-understood; undo writes, but only what the journal says).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Intent::Question(_) | Intent::Help(_) | Intent::Undo(_) | Intent::NotUnderstood(_)
        )
    }

    /// The snake_case name of this intent, as used in grammar headers and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Intent::UpdateFields(_) => "update_fields",
            Intent::AddNote(_) => "add_note",
            Intent::LogCall(_) => "log_call",
            Intent::CreateTask(_) => "create_task",
            Intent::CompleteTask(_) => "complete_task",
            Intent::CreateRecord(_) => "create_record",
            Intent::AddContactRole(_) => "add_contact_role",
            Intent::Reassign(_) => "reassign",
            Intent::Question(_) => "question",
            Intent::Undo(_) => "undo",
            Intent::Help(_) => "help",
            Intent::ScheduleMeeting(_) => "schedule_meeting",
            Intent::CreateCase(_) => "create_case",
            Intent::NotUnderstood(_) => "not_understood",
        }
    }
}

/// The kind of answer a question wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// "show my open opportunities…", "list…", "find…": the records.
    List,
    /// "how many open deals do I have": the count.
    Count,
    /// "what's the status of …": the record with its status fields.
    Status,
    /// "look up Sarah Chen", "find john@acme.com": the record(s) matching.
    LookUp,
    /// "what's the amount on Titan", "who owns the Tyrell deal": the asked fields of one record.
    Field,
    /// "my total open pipeline", "how much have I won this year": the sum of a field.
    Total,
    /// "my average open deal size": the average of a field.
    Average,
    /// "when did I last talk to Jane Smith": the latest completed activity with a record.
    LastContact,
    /// "what did I change today": the user's own journal.
    History,
}

/// Grouping of an aggregate answer: a field ("by stage", "per owner"), or a date field by month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupBy {
    /// The field as said ("stage", "owner", "close"); `None` for "by month" alone (the object's
    /// own date: close date, due date).
    pub field: Option<FieldRef>,
    /// "by month", "by close month": calendar months of a date field.
    pub month: bool,
}

/// Top-N and superlatives: which end of which measure, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rank {
    /// What the records are ranked by.
    pub by: RankBy,
    /// How many ("five biggest" → 5; "the largest" → 1).
    pub limit: u32,
}

/// What a ranked question orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// "biggest", "largest", "top": the amount, highest first.
    Largest,
    /// "smallest": the amount, lowest first.
    Smallest,
    /// "next to close", "soonest", "due next": the record's date, from today on, earliest first.
    Soonest,
    /// "most recent", "latest": the record's date, latest first.
    Latest,
}

/// Task priority when said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Priority {
    /// "high priority", "urgent".
    High,
    /// "normal priority".
    Normal,
    /// "low priority".
    Low,
}

/// The Salesforce objects the language knows words for ("deal" → Opportunity, "ticket" → Case, …).
///
/// Serialised as the API name (`"Opportunity"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ObjectKind {
    /// Opportunity (deal, opp).
    Opportunity,
    /// Account (account, company, customer).
    Account,
    /// Contact.
    Contact,
    /// Lead.
    Lead,
    /// Case (ticket).
    Case,
    /// Task (to-do, reminder, follow-up).
    Task,
    /// Event (meeting).
    Event,
    /// User (owner, rep).
    User,
}

impl ObjectKind {
    /// The Salesforce API name of the object.
    pub fn api_name(self) -> &'static str {
        match self {
            ObjectKind::Opportunity => "Opportunity",
            ObjectKind::Account => "Account",
            ObjectKind::Contact => "Contact",
            ObjectKind::Lead => "Lead",
            ObjectKind::Case => "Case",
            ObjectKind::Task => "Task",
            ObjectKind::Event => "Event",
            ObjectKind::User => "User",
        }
    }

    /// The kind for an API name (case-insensitive), if the language knows it.
    pub fn from_api_name(name: &str) -> Option<ObjectKind> {
        const ALL: [ObjectKind; 8] = [
            ObjectKind::Opportunity,
            ObjectKind::Account,
            ObjectKind::Contact,
            ObjectKind::Lead,
            ObjectKind::Case,
            ObjectKind::Task,
            ObjectKind::Event,
            ObjectKind::User,
        ];
        ALL.into_iter()
            .find(|k| k.api_name().eq_ignore_ascii_case(name))
    }
}

/// Which record(s) a clause acts on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// One record, named (or referred to by a pronoun).
    Record(RecordRef),
    /// Every record matching a filter (bulk): "all my open opportunities in the tech sector".
    Filter(RecordFilter),
}

/// An unresolved reference to one record, as said.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RecordRef {
    /// The words naming the record, lowercase, with articles, qualifiers and object words removed
    /// ("the open ACME opportunity" → "acme"; "Sarah Chen's" → "sarah chen"). For a task reference,
    /// the subject words ("pricing call"). Empty when only a number or an antecedent names it.
    pub text: String,
    /// The object when said ("deal", "case", "contact"…) or implied by the slot.
    pub object: Option<ObjectKind>,
    /// A record number when said ("case 00001001" → "00001001").
    pub number: Option<String>,
    /// "my …": owned by the current user.
    pub mine: bool,
    /// "open …" → `Some(true)`, "closed …" → `Some(false)`.
    pub open: Option<bool>,
    /// "… at Acme" / "… from Acme": the account's name as said.
    pub account: Option<String>,
    /// For tasks: the record the task is about ("the pricing call task for Monsters Inc" →
    /// "monsters inc"; "the follow up call with sarah chen" → "sarah chen").
    pub related: Option<String>,
    /// Set when the reference was a pronoun or "that deal": which earlier clause named or created
    /// the record. The other fields are copied from that clause's reference so the resolver can
    /// resolve it the same way; when `created` is true it must use the record that clause creates.
    ///
    /// A reference with empty `text`, no `number` and no `antecedent` names no record at all (a
    /// pronoun or an implied record with nothing before it in this phrase, e.g. "add a note that …"
    /// alone): the record of the previous command in the session, if the caller keeps one.
    pub antecedent: Option<Antecedent>,
}

/// Where a pronoun ("her", "it", "that deal") points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Antecedent {
    /// The words said ("her", "that deal"); empty when the reference was implied (a clause with no
    /// record of its own, e.g. "… and log my call notes").
    pub pronoun: String,
    /// Index (into [`ParsedCommand::clauses`]) of the clause that named or created the record.
    pub clause: usize,
    /// True when that clause creates the record (the id only exists after it runs).
    pub created: bool,
}

/// A person's name split into first and last ("Jane Doe"; one word → last name only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonName {
    /// First name(s), original casing; `None` for a single-word name.
    pub first: Option<String>,
    /// Last name, original casing.
    pub last: String,
}

/// A set of records by qualifiers, for bulk changes and questions.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RecordFilter {
    /// The object (from "opportunities", "deals", "tasks", "cases"…); `None` if not said.
    pub object: Option<ObjectKind>,
    /// "my": owned by the current user.
    pub mine: bool,
    /// "open" → `Some(true)`, "closed" → `Some(false)`.
    pub open: Option<bool>,
    /// "in the tech sector" / "in technology": the account industry as said, with its picklist hint
    /// ("tech" → "Technology").
    pub industry: Option<Value>,
    /// "in negotiation" / "at the proposal stage": the stage as said, with its picklist hint.
    pub stage: Option<Value>,
    /// "closing this quarter" / "closing in June" / "due this week" / "for today": the close-date
    /// range for opportunities, the due-date (ActivityDate) range for tasks; inclusive.
    pub closing: Option<DateRange>,
    /// "over $100k": amount strictly greater than this.
    pub amount_over: Option<f64>,
    /// "under 50k": amount strictly less than this.
    pub amount_under: Option<f64>,
    /// "between 100k and 300k": amount in this range, both ends included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_between: Option<(f64, f64)>,
    /// "won" → `Some(true)`, "lost" → `Some(false)` (closed either way).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub won: Option<bool>,
    /// "not touched in 30 days", "stale": the record was last touched (its last activity, else its
    /// last change) before this day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untouched_since: Option<NaiveDate>,
    /// "does Sam have", "Sam's", "owned by Sam": another user's name as said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// "overdue": due date before today and not completed.
    pub overdue: bool,
    /// "high priority cases", "urgent tasks": the Priority field.
    pub priority: Option<Priority>,
    /// "at Acme" / "for Acme": the account's name as said.
    pub account: Option<String>,
    /// Remaining words that are not qualifiers (a name fragment), lowercase; empty if none.
    pub text: String,
}

/// One condition a filter says beyond its object, "my", open/closed and "overdue" (see
/// [`RecordFilter::criteria`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// The account industry.
    Industry,
    /// The stage.
    Stage,
    /// The close-date (or due-date) range.
    Closing,
    /// Amount over.
    Over,
    /// Amount under.
    Under,
    /// Amount between, both ends included.
    Between,
    /// Won or lost.
    Won,
    /// Not touched since.
    UntouchedSince,
    /// Another user's records.
    Owner,
    /// The priority.
    Priority,
    /// The account's name.
    Account,
    /// A name fragment.
    Text,
}

impl Criterion {
    /// Its name in compact summaries (`stage`, `over`, `owner`…).
    pub fn key(self) -> &'static str {
        match self {
            Criterion::Industry => "industry",
            Criterion::Stage => "stage",
            Criterion::Closing => "closing",
            Criterion::Over => "over",
            Criterion::Under => "under",
            Criterion::Between => "between",
            Criterion::Won => "won",
            Criterion::UntouchedSince => "untouched_since",
            Criterion::Owner => "owner",
            Criterion::Priority => "priority",
            Criterion::Account => "account",
            Criterion::Text => "text",
        }
    }
}

impl RecordFilter {
    /// The conditions this filter says beyond its object, "my", open/closed and "overdue", in a
    /// fixed order, each with its value as text; `value` renders a said value (industry, stage).
    pub fn criteria(&self, value: impl Fn(&Value) -> String) -> Vec<(Criterion, String)> {
        let mut out = Vec::new();
        let mut say = |c: Criterion, text: Option<String>| out.extend(text.map(|t| (c, t)));
        say(Criterion::Industry, self.industry.as_ref().map(&value));
        say(Criterion::Stage, self.stage.as_ref().map(&value));
        let closing = self.closing.map(|c| format!("{}..{}", c.start, c.end));
        say(Criterion::Closing, closing);
        say(Criterion::Over, self.amount_over.map(|v| v.to_string()));
        say(Criterion::Under, self.amount_under.map(|v| v.to_string()));
        let between = self.amount_between.map(|(lo, hi)| format!("{lo}..{hi}"));
        say(Criterion::Between, between);
        say(Criterion::Won, self.won.map(|w| w.to_string()));
        let untouched = self.untouched_since.map(|d| d.to_string());
        say(Criterion::UntouchedSince, untouched);
        say(Criterion::Owner, self.owner.clone());
        say(Criterion::Priority, self.priority.map(|p| format!("{p:?}")));
        say(Criterion::Account, self.account.clone());
        let text = (!self.text.is_empty()).then(|| self.text.clone());
        say(Criterion::Text, text);
        out
    }
}

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateRange {
    /// First day, inclusive.
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
}

/// One field change: which field, how, and to what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field as said, with alias candidates. `None` when the phrase gave only a value
    /// ("mark X as closed lost", "move X to negotiation"): the resolver picks the record's
    /// status-like field (StageName, Status) whose picklist holds the value; for a value that is
    /// only a date ("push it to next Friday"), the close date (Opportunity) or due date (Task).
    pub field: Option<FieldRef>,
    /// Set, add, subtract or shift.
    pub op: ChangeOp,
    /// The value as said with typed candidates.
    pub value: Value,
}

/// How a field changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Replace the value.
    Set,
    /// "add N to", "increase by N": current + value.
    Add,
    /// "decrease by N", "reduce by N": current − value.
    Subtract,
    /// "push out two weeks" (positive span) / "pull in 3 days" (negative span): a date moved by
    /// the [`Entity::Span`] in the value.
    Shift,
}

/// A field as said, with the aliases the grammar knows for those words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldRef {
    /// The words said, lowercase ("close date", "budget approved", "customer tier").
    pub said: String,
    /// Known API names for those words, from the grammar's field aliases, most specific first
    /// (e.g. "status" → Case.Status, Task.Status, Lead.Status). Empty when the words are unknown
    /// (the resolver then matches labels from describe).
    pub candidates: Vec<FieldAlias>,
}

/// One alias-table entry: an API field name, optionally on one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldAlias {
    /// The object the alias applies to; `None` = any object with that field.
    pub object: Option<ObjectKind>,
    /// The API name ("StageName", "Budget_Approved__c").
    pub api_name: String,
}

/// A value as said, with its typed readings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    /// The words as said, original casing, surrounding quotes removed ("negotiation", "Raviga",
    /// "send the security whitepaper").
    pub said: String,
    /// Typed readings of the whole value, most likely first (a date, a number, money…). Empty for
    /// plain text.
    pub entities: Vec<Entity>,
    /// Picklist synonyms from the grammar ("done" → "Completed", "won" → "Closed Won"), each with
    /// the field it applies to. The resolver still checks them against describe.
    pub hints: Vec<ValueHint>,
}

/// A picklist-value synonym from the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueHint {
    /// The field API name the value belongs to ("StageName"); `*` when any.
    pub field: String,
    /// The picklist value ("Negotiation/Review").
    pub value: String,
}

/// A typed reading of some words.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Entity {
    /// A calendar day.
    Date(NaiveDate),
    /// A plain number ("90,000", "ninety two thousand", "1.2 million").
    Number(f64),
    /// An amount of money ("$200K", "92k", "ninety two thousand dollars").
    Money(f64),
    /// A percentage ("20 percent", "20%") as the number of percent (20).
    Percent(f64),
    /// A duration in seconds ("30 minutes" → 1800).
    Duration(u32),
    /// A calendar span for date shifts ("two weeks" → 14 days, "1 month" → 1 month).
    Span(Span),
    /// A boolean ("approved", "yes", "true", "checked").
    Bool(bool),
    /// An email address ("john dot smith at hooli dot com" → "john.smith@hooli.com").
    Email(String),
    /// A phone number, as written ("+1-555-0199").
    Phone(String),
    /// Text that was quoted in the phrase.
    Quoted(String),
}

/// A calendar span: whole days and whole months (months are applied first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Months to add (may be negative).
    pub months: i32,
    /// Days to add (may be negative).
    pub days: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_name_every_condition_said_in_order() {
        let f = RecordFilter {
            amount_between: Some((100_000.0, 300_000.0)),
            won: Some(false),
            owner: Some("Sam".into()),
            priority: Some(Priority::High),
            untouched_since: NaiveDate::from_ymd_opt(2026, 11, 1),
            text: "globex".into(),
            ..RecordFilter::default()
        };
        let said: Vec<String> = f
            .criteria(|v| v.said.clone())
            .into_iter()
            .map(|(c, v)| format!("{}={v}", c.key()))
            .collect();
        assert_eq!(
            said,
            [
                "between=100000..300000",
                "won=false",
                "untouched_since=2026-11-01",
                "owner=Sam",
                "priority=High",
                "text=globex"
            ]
        );
        assert!(RecordFilter::default().criteria(|v| v.said.clone()).is_empty());
    }
}
