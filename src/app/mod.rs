//! The ops layer: [`Agent::submit`] takes a phrase and returns an [`Outcome`] — parse, resolve,
//! plan, confirm, execute, journal — under the logged-in user's session. Also `undo`, `retry` and
//! `history` over the journal.
//!
//! Owns the command-level flow and the status/exit contract of `sayso run`. Never prints, prompts
//! or exits: when a bulk change needs confirmation it returns [`Status::NeedsConfirmation`] with the
//! pending plan, and the binary asks. May import every agent module; nothing imports it but the
//! binary and tests.
//!
//! - [`lookup`] — record names for summaries, candidate details, undo phrases.
//! - [`offline`] — the offline queue: commands said with no connection, `sync` with conflicts.

mod dupes;
mod file_update;
pub mod import;
mod lists;
pub mod lookup;
pub mod offline;
mod outcome;

pub use outcome::{Answer, FileRun, Outcome, Preview, Status, What, Written};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::config::Home;
use crate::exec::{
    self, ChangeReport, Failure, RunOptions as ExecRunOptions, RunReport, RunStatus,
};
use crate::id::ObjectName;
use crate::journal::{
    ChangeRow, ChangeState, Entry, EntryKind, Journal, JournalError, PlannedChange,
};
use crate::lang::ParsedCommand;
use crate::plan::{BULK_JOB_ROWS, Plan, RouteOptions, Staged};
use crate::resolve::schema::SchemaCache;
use crate::resolve::stream::BulkSource;
use crate::resolve::{Resolution, ResolveError, Resolver};
use crate::salesforce::org::{Org, OrgError};
use crate::salesforce::transport::{ClientTransport, now_ms};

/// Why records could not be staged: a value that does not fit one of them, or the journal.
#[derive(Debug, thiserror::Error)]
enum StageError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl From<StageError> for Outcome {
    fn from(e: StageError) -> Outcome {
        match e {
            StageError::Resolve(e) => outcome_of_error(e),
            StageError::Journal(e) => {
                Outcome::new(Status::Failed, format!("nothing was sent: {e}"))
            }
        }
    }
}

/// One journal entry as [`Agent::history`] lists it.
#[derive(Debug, Clone)]
pub struct HistoryItem {
    /// The entry.
    pub entry: Entry,
    /// Its first [`HISTORY_SAMPLE`] changes, in plan order.
    pub changes: Vec<ChangeRow>,
    /// How many changes it holds.
    pub total: usize,
}

/// How many recent entries "what did I change …" looks through.
const HISTORY_SCAN: usize = 500;

/// The local calendar day of a journal time (RFC 3339).
fn local_day(at: &str) -> Option<NaiveDate> {
    let t = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some(t.with_timezone(&chrono::Local).date_naive())
}

/// How many changes of each entry [`Agent::history`] reads.
pub const HISTORY_SAMPLE: usize = 20;

/// Options of `sayso run`.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Confirm bulk changes without asking.
    pub yes: bool,
    /// Show the plan, change nothing.
    pub dry_run: bool,
    /// Refuse bulk changes above this many records.
    pub max_records: usize,
    /// Use Bulk API 2.0 above this many records.
    pub bulk_threshold: usize,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            yes: false,
            dry_run: false,
            max_records: 2000,
            bulk_threshold: 2000,
        }
    }
}

/// Errors opening the agent (usage/config/auth: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not logged in, bad config, unreachable session store.
    #[error(transparent)]
    Session(#[from] crate::salesforce::Error),
    /// The journal can't be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Bad SAYSO_TODAY and similar.
    #[error("{0}")]
    Config(String),
    /// The profile has no user id (log in again).
    #[error("profile `{0}` does not say who is logged in; run `sayso login` again")]
    NoUser(String),
}

/// "Today": `SAYSO_TODAY` (YYYY-MM-DD) when set, else the local date.
///
/// # Errors
/// [`AppError::Config`] for a malformed `SAYSO_TODAY`.
pub fn today_from_env() -> Result<NaiveDate, AppError> {
    match std::env::var("SAYSO_TODAY") {
        Ok(s) if !s.trim().is_empty() => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::Config(format!("SAYSO_TODAY must be YYYY-MM-DD, not `{s}`"))),
        _ => Ok(chrono::Local::now().date_naive()),
    }
}

/// The journal file under `SAYSO_HOME`.
pub fn journal_path(home: &Home) -> PathBuf {
    home.root().join("journal.db")
}

/// One user's agent: session, describe cache, journal.
pub struct Agent {
    org: Org,
    schema: SchemaCache,
    journal: Journal,
    me: String,
    username: String,
    today: NaiveDate,
    progress: Option<Box<dyn Fn(usize, usize) + Send + Sync>>,
    job_rows: usize,
    undo_above: usize,
    /// What reconciling interrupted runs found, for the caller to show ([`Agent::take_notes`]).
    notes: Vec<String>,
    /// When the transport last found no connection ([`now_ms`]; [`offline`]).
    unreachable: Arc<AtomicU64>,
}

/// Parses a phrase with the embedded command language.
fn parse_phrase(phrase: &str, today: NaiveDate) -> ParsedCommand {
    match crate::lang::parse(phrase, today) {
        Ok(p) => p,
        // The embedded grammar is checked by the language's tests; if it ever fails to load,
        // nothing is understood (and nothing is written).
        Err(e) => ParsedCommand {
            input: phrase.to_string(),
            today,
            clauses: vec![crate::lang::Clause {
                text: format!("grammar error: {e}"),
                intent: crate::lang::Intent::NotUnderstood {
                    suggestions: Vec::new(),
                },
            }],
        },
    }
}

/// Example commands from the embedded grammar (for help).
fn examples() -> Vec<String> {
    crate::lang::Grammar::embedded()
        .map(|g| g.examples().map(|(_, e)| e.to_string()).collect())
        .unwrap_or_default()
}

impl Agent {
    /// Opens the agent for a logged-in profile.
    ///
    /// # Errors
    /// [`AppError`] when nobody is logged in or the journal can't be opened.
    pub async fn open(home: &Home, profile: &str, today: NaiveDate) -> Result<Agent, AppError> {
        let client = crate::salesforce::Client::from_profile(home, profile).await?;
        let prof = crate::auth::store::load_profile(home, profile)
            .map_err(crate::salesforce::Error::Auth)?;
        let me = prof
            .user_id
            .clone()
            .ok_or_else(|| AppError::NoUser(profile.to_string()))?;
        let username = prof.username.clone().unwrap_or_else(|| me.clone());
        let version = client.api_version().to_string();
        let transport = ClientTransport::new(client);
        let unreachable = transport.unreachable_flag();
        let org = Org::new(Box::new(transport), &version);
        let cache = home.root().join("cache").join("describe").join(&me);
        Ok(Agent {
            org,
            schema: SchemaCache::new(Some(cache)),
            journal: Journal::open(&journal_path(home))?,
            me,
            username,
            today,
            progress: None,
            job_rows: BULK_JOB_ROWS,
            undo_above: RunOptions::default().bulk_threshold,
            notes: Vec::new(),
            unreachable,
        })
    }

    /// An agent over any transport (tests, examples).
    pub fn with_org(
        org: Org,
        journal: Journal,
        me: &str,
        username: &str,
        today: NaiveDate,
        cache: Option<PathBuf>,
    ) -> Agent {
        Agent {
            org,
            schema: SchemaCache::new(cache),
            journal,
            me: me.into(),
            username: username.into(),
            today,
            progress: None,
            job_rows: BULK_JOB_ROWS,
            undo_above: RunOptions::default().bulk_threshold,
            notes: Vec::new(),
            unreachable: Arc::default(),
        }
    }

    /// Finishes the journal of runs a killed process left unfinished ([`exec::reconcile`]);
    /// every command does this first. What it found is kept for [`Agent::take_notes`].
    pub async fn reconcile(&mut self) {
        match exec::reconcile(&self.org, &mut self.journal).await {
            Ok(notes) => self.notes.extend(notes),
            Err(e) => self
                .notes
                .push(format!("could not reconcile an interrupted run: {e}")),
        }
    }

    /// Lines about interrupted runs reconciled since the last call.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Runs one phrase end to end.
    pub async fn submit(&mut self, phrase: &str, opts: RunOptions) -> Outcome {
        self.submit_picked(phrase, opts, &[]).await
    }

    /// Runs a phrase again after the user picked records (by id) from an `ambiguous` answer.
    pub async fn submit_picked(
        &mut self,
        phrase: &str,
        opts: RunOptions,
        picked: &[String],
    ) -> Outcome {
        let began = now_ms();
        // Each command tries the network again, however recently it failed.
        self.unreachable.store(0, Ordering::Relaxed);
        self.reconcile().await;
        let start = self.org.calls();
        let mut out = self.submit_inner(phrase, opts, picked).await;
        out.api_calls = u64::from(self.org.calls() - start);
        // A lookup that found no connection may read as "not found": nothing here is reliable.
        out.unreachable |= self.unreachable.load(Ordering::Relaxed) >= began;
        out
    }

    /// Sends streamed bulk updates in Bulk API jobs of at most `rows` rows (default
    /// [`BULK_JOB_ROWS`]; tests and benches set fewer to exercise several jobs).
    pub fn set_bulk_job_rows(&mut self, rows: usize) {
        self.job_rows = rows.max(1);
    }

    /// Undoes entries of more than `n` updates of one object in Bulk API jobs, streamed through
    /// the journal (default: the default `--bulk-threshold`, 2,000).
    pub fn set_undo_threshold(&mut self, n: usize) {
        self.undo_above = n;
    }

    /// Reports bulk progress (records done, total) to `f` from now on.
    pub fn set_progress(&mut self, f: Box<dyn Fn(usize, usize) + Send + Sync>) {
        self.progress = Some(f);
    }

    async fn submit_inner(&mut self, phrase: &str, opts: RunOptions, picked: &[String]) -> Outcome {
        let parsed = match self.parse_reading_ands(phrase).await {
            Ok(p) => p,
            Err(o) => return *o,
        };
        self.run_parsed(phrase, parsed, opts, picked).await
    }

    /// Runs a command already parsed (or built from a structured intent, as the MCP server
    /// does) through the same resolution, plan and execution as a phrase; `parsed.input` is the
    /// phrase journaled.
    pub async fn submit_parsed(&mut self, parsed: ParsedCommand, opts: RunOptions) -> Outcome {
        self.reconcile().await;
        let start = self.org.calls();
        let phrase = parsed.input.clone();
        let mut out = self.run_parsed(&phrase, parsed, opts, &[]).await;
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    async fn run_parsed(
        &mut self,
        phrase: &str,
        parsed: ParsedCommand,
        opts: RunOptions,
        picked: &[String],
    ) -> Outcome {
        let resolution = {
            let mut resolver = Resolver {
                org: &self.org,
                schema: &mut self.schema,
                me: self.me.clone(),
                today: self.today,
                picked: picked.to_vec(),
                // Past the Bulk threshold a filter's records are streamed, never held.
                stream_above: Some(opts.bulk_threshold),
            };
            resolver.resolve(&parsed).await
        };
        let plan = match resolution {
            Err(e) => return outcome_of_error(e),
            Ok(Resolution::Stream(source)) => {
                let total = usize::try_from(source.total).unwrap_or(usize::MAX);
                if total > opts.max_records {
                    return too_many(total, opts.max_records);
                }
                match self.stage(*source).await {
                    Ok(plan) => plan,
                    Err(o) => return o,
                }
            }
            Ok(Resolution::Answer(a)) => {
                let answer = Answer {
                    records: a.records,
                    sum: a.sum,
                    avg: a.avg,
                    groups: a.groups,
                };
                let mut o = Outcome::with(Status::Answered, a.message, What::Answer(answer));
                o.count = a.count;
                return o;
            }
            Ok(Resolution::History(days)) => return self.changes_in(days),
            Ok(Resolution::Undo(steps)) => {
                let mut last = Outcome::new(Status::Applied, "nothing to undo");
                for _ in 0..steps.max(1) {
                    last = self.undo(None, phrase).await;
                    if !last.status.is_success() {
                        break;
                    }
                }
                return last;
            }
            Ok(Resolution::Help(topic)) => {
                let tries = examples().into_iter().take(12).collect();
                return Outcome::with(
                    Status::Answered,
                    help_text(topic.as_deref()),
                    What::Suggestions(tries),
                );
            }
            Ok(Resolution::Write(plan)) => plan,
        };
        self.write_outcome(phrase, plan, opts).await
    }

    /// A write's outcome: a typed list of people screened for duplicates first
    /// ([`lists::screen_list`]; the ones skipped are in the outcome), then [`Agent::carry_out`].
    async fn write_outcome(&mut self, phrase: &str, mut plan: Plan, opts: RunOptions) -> Outcome {
        let skipped = match lists::screen_list(&self.org, &mut plan).await {
            Ok(s) => s,
            Err(o) => {
                self.discard(&plan);
                return o;
            }
        };
        if skipped.is_empty() {
            return self.carry_out(phrase, plan, opts).await;
        }
        let mut out = if plan.steps.is_empty() {
            let mut o = Outcome::new(
                Status::Applied,
                "nothing to create: every one is already in the org or said twice",
            );
            o.count = Some(0);
            o
        } else {
            self.carry_out(phrase, plan, opts).await
        };
        out.file.skipped = Some(skipped);
        out
    }

    /// Previews, asks for confirmation of, or executes `plan`, as `opts` say.
    async fn carry_out(&mut self, phrase: &str, plan: Plan, opts: RunOptions) -> Outcome {
        let route = RouteOptions {
            bulk_threshold: opts.bulk_threshold,
            job_rows: self.job_rows,
        };
        if plan.is_empty() {
            self.discard(&plan);
            let mut o = Outcome::new(
                Status::Applied,
                "nothing to change: the records already hold those values",
            );
            o.count = Some(0);
            return o;
        }
        let records = match &plan.staged {
            Some(s) => s.count,
            None => plan
                .steps
                .iter()
                .filter(|s| s.id.is_some() || !plan.bulk)
                .count(),
        };
        if plan.bulk && records > opts.max_records {
            self.discard(&plan);
            return too_many(records, opts.max_records);
        }
        if opts.dry_run {
            let mut o = Outcome::new(
                Status::DryRun,
                format!(
                    "would make {} change{}: {}",
                    plan.len(),
                    if plan.len() == 1 { "" } else { "s" },
                    plan.summary
                ),
            );
            // A staged plan shows its first rows (its count says how many there are).
            let shown = if plan.staged.is_some() {
                PREVIEW_STAGED
            } else {
                usize::MAX
            };
            o.what = What::Preview(Preview {
                records: self.preview(&plan, shown),
                calls: plan.calls(route),
                failures: Vec::new(),
            });
            o.count = Some(plan.len() as u64);
            // The shell previews every write this way, then applies exactly this plan.
            o.pending = Some(plan);
            return o;
        }
        if plan.bulk && !opts.yes {
            let mut o = Outcome::new(
                Status::NeedsConfirmation,
                format!(
                    "{} change{} to make; confirm (or run with --yes)",
                    plan.len(),
                    if plan.len() == 1 { "" } else { "s" }
                ),
            );
            o.what = What::Preview(Preview {
                records: self.preview(&plan, 10),
                calls: plan.calls(route),
                failures: Vec::new(),
            });
            o.count = Some(plan.len() as u64);
            o.pending = Some(plan);
            return o;
        }
        self.execute(phrase, &plan, opts).await
    }

    /// Executes a plan (after confirmation).
    pub async fn confirm(&mut self, phrase: &str, plan: &Plan, opts: RunOptions) -> Outcome {
        let start = self.org.calls();
        let mut out = self.execute(phrase, plan, opts).await;
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    /// Executes a plan previewed a while ago (the MCP server's `apply`): each record it updates
    /// is read again first and compared with the previewed old values; one changed since is a
    /// `conflict` and left as it is (a record's `LastModifiedDate` has whole seconds, so a guard
    /// alone misses a change made in the second of the preview). The write is then guarded by
    /// the `LastModifiedDate` just read.
    pub async fn confirm_guarded(
        &mut self,
        phrase: &str,
        plan: &Plan,
        opts: RunOptions,
    ) -> Outcome {
        self.reconcile().await;
        let start = self.org.calls();
        let mut out = self.execute_with(phrase, plan, opts, true).await;
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    /// Names the program the following journal entries come through (an MCP client's name),
    /// or `None` for the CLI; `history` shows it.
    pub fn set_client(&mut self, client: Option<String>) {
        self.journal.set_client(client);
    }

    async fn execute(&mut self, phrase: &str, plan: &Plan, opts: RunOptions) -> Outcome {
        self.execute_with(phrase, plan, opts, false).await
    }

    async fn execute_with(
        &mut self,
        phrase: &str,
        plan: &Plan,
        opts: RunOptions,
        verify: bool,
    ) -> Outcome {
        let progress: Option<exec::Progress<'_>> =
            self.progress.as_deref().map(|p| p as exec::Progress<'_>);
        let run_opts = ExecRunOptions {
            user: self.username.clone(),
            phrase: phrase.to_string(),
            route: RouteOptions {
                bulk_threshold: opts.bulk_threshold,
                job_rows: self.job_rows,
            },
            progress,
            verify,
        };
        let report = if plan.staged.is_some() {
            exec::run_staged(&self.org, &mut self.journal, plan, &run_opts).await
        } else {
            exec::run(
                &self.org,
                &mut self.journal,
                plan,
                &run_opts,
                EntryKind::Command,
                None,
            )
            .await
        };
        match report {
            Ok(report) => self.outcome_of_run(report),
            Err(e) => Outcome::new(Status::Failed, format!("nothing was sent: {e}")),
        }
    }

    /// The outcome of a run; a streamed one gets the first changes and failures from the journal
    /// for callers that look at them (the shell, tests) — `write_json` writes them all.
    fn outcome_of_run(&self, report: RunReport) -> Outcome {
        let failed = report.streamed.map_or(0, |(_, failed)| failed);
        let mut out = outcome_of_run(report);
        if let (Some(entry), What::Written(w)) = (out.streamed, &mut out.what) {
            let rows = |states: &[ChangeState]| {
                self.journal
                    .changes_in_states(entry, states, STREAMED_SAMPLE)
                    .unwrap_or_default()
            };
            w.changes = rows(&[ChangeState::Applied])
                .iter()
                .map(change_report)
                .collect();
            // Each read scans the entry: skip the one that can find nothing.
            if failed > 0 {
                w.failures = rows(&[ChangeState::Failed, ChangeState::Conflict])
                    .iter()
                    .map(failure_of)
                    .collect();
            }
        }
        out
    }

    /// The one object of a journal entry of more than `above` updates and nothing else: such
    /// an entry is undone or retried in Bulk API jobs, streamed through the journal.
    fn large_update_entry(&self, entry: i64, above: usize) -> Option<String> {
        let shape = self.journal.entry_shape(entry).ok()?;
        (shape.only_updates && shape.changes > above && shape.objects.len() == 1)
            .then(|| shape.objects[0].clone())
    }

    /// Reads a streamed bulk update's records page by page into a journal stage: the plan that
    /// is previewed, confirmed and applied is exactly what was read, and memory holds one page.
    async fn stage(&mut self, source: BulkSource) -> Result<Plan, Outcome> {
        let journal_failed =
            |e: JournalError| Outcome::new(Status::Failed, format!("nothing was sent: {e}"));
        let stage = self.journal.stage_begin().map_err(journal_failed)?;
        let mut source = source;
        match self.fill_stage(stage, &mut source).await {
            Ok(count) => Ok(Plan {
                steps: Vec::new(),
                bulk: true,
                summary: format!(
                    "{} ({count} change{})",
                    source.intent,
                    if count == 1 { "" } else { "s" }
                ),
                staged: Some(Staged {
                    stage,
                    sobject: ObjectName::known(source.sobject.clone()),
                    count,
                    columns: source.columns(),
                }),
            }),
            Err(o) => {
                let _ = self.journal.stage_drop(stage);
                Err(o)
            }
        }
    }

    /// Reads the source's records into the stage: past [`BULK_READ_ABOVE`] records through a
    /// Bulk API 2.0 query job (a few calls instead of one per 2,000 records), else through the
    /// REST query's pages. Returns how many changes were staged.
    async fn fill_stage(&mut self, stage: i64, source: &mut BulkSource) -> Result<usize, Outcome> {
        let org_failed = |e: OrgError| outcome_of_error(ResolveError::Org(e));
        let mut count = 0;
        if usize::try_from(source.total).unwrap_or(usize::MAX) > BULK_READ_ABOVE {
            let mut job = self
                .org
                .bulk_query(&source.bulk_soql())
                .await
                .map_err(org_failed)?;
            let read = loop {
                match self.org.bulk_query_page(&mut job, BULK_READ_PAGE).await {
                    Ok(Some(rows)) => {
                        let rows: Vec<Json> = rows.into_iter().map(|r| source.typed(r)).collect();
                        match self.stage_rows(stage, count, source, &rows) {
                            Ok(n) => count += n,
                            Err(e) => break Err(e.into()),
                        }
                    }
                    Ok(None) => break Ok(count),
                    Err(e) => break Err(org_failed(e)),
                }
            };
            // Its results are a copy of the records: don't leave them in the org.
            let _ = self.org.bulk_query_delete(job).await;
            return read;
        }
        let mut page = std::mem::take(&mut source.first);
        let mut next = source.next.take();
        loop {
            count += self
                .stage_rows(stage, count, source, &page)
                .map_err(Outcome::from)?;
            let Some(url) = next.take() else {
                return Ok(count);
            };
            let (rows, after) = self.org.query_more(&url).await.map_err(org_failed)?;
            page = rows;
            next = after;
        }
    }

    /// Stages the changes of one page of rows at position `first`; returns how many.
    fn stage_rows(
        &mut self,
        stage: i64,
        first: usize,
        source: &BulkSource,
        rows: &[Json],
    ) -> Result<usize, StageError> {
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(c) = source.change_for(row)? {
                changes.push(c);
            }
        }
        self.journal.stage_append(stage, first, &changes)?;
        Ok(changes.len())
    }

    /// Drops what a plan left pending (a staged bulk change that will not be applied). Harmless
    /// for any other plan.
    pub fn discard(&mut self, plan: &Plan) {
        if let Some(s) = &plan.staged {
            let _ = self.journal.stage_drop(s.stage);
        }
    }

    /// The first `limit` changes of a plan, as previews show them.
    fn preview(&self, plan: &Plan, limit: usize) -> Vec<Json> {
        match &plan.staged {
            Some(s) => self
                .journal
                .stage_sample(s.stage, limit)
                .unwrap_or_default()
                .iter()
                .map(preview_row)
                .collect(),
            None => plan
                .steps
                .iter()
                .take(limit)
                .map(|s| preview_row(&s.to_planned()))
                .collect(),
        }
    }

    /// Writes an outcome as one JSON line (the `sayso run --json` contract), with `extra` fields
    /// added. A streamed bulk run's `changes` and `failures` are written from its journal entry
    /// as they are read, so a million changes are printed without being held.
    ///
    /// # Errors
    /// The writer's error, or the journal's as an I/O error.
    pub fn write_json(
        &self,
        out: &Outcome,
        extra: &[(&str, Json)],
        w: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let mut v = serde_json::to_value(out)?;
        let Some(obj) = v.as_object_mut() else {
            return Ok(());
        };
        for (k, x) in extra {
            obj.insert((*k).to_string(), x.clone());
        }
        let Some(entry) = out.streamed else {
            serde_json::to_writer(&mut *w, &v)?;
            return writeln!(w);
        };
        obj.remove("changes");
        obj.remove("failures");
        let list = |failures| JournalList {
            journal: &self.journal,
            entry,
            failures,
        };
        let streamed = Streamed {
            head: obj,
            changes: list(false),
            // `failures` holds the first failed changes: empty means none, and no second pass.
            failures: (!out.failures().is_empty()).then(|| list(true)),
        };
        serde_json::to_writer(&mut *w, &streamed)?;
        writeln!(w)
    }

    /// Reverts journal entry `n` (or the latest command not yet undone).
    pub async fn undo(&mut self, n: Option<i64>, phrase: &str) -> Outcome {
        self.reconcile().await;
        let start = self.org.calls();
        let target = match self.undo_target(n) {
            Ok(e) => e,
            Err(o) => return *o,
        };
        let threshold = self.undo_above;
        let report = match self.large_update_entry(target.id, threshold) {
            Some(sobject) => {
                let opts = exec_options(
                    &self.username,
                    self.progress.as_deref(),
                    self.job_rows,
                    phrase.to_string(),
                    threshold,
                );
                exec::undo_staged(&self.org, &mut self.journal, target.id, &sobject, &opts).await
            }
            None => {
                exec::undo(
                    &self.org,
                    &mut self.journal,
                    target.id,
                    &self.username,
                    phrase,
                )
                .await
            }
        };
        let mut out = match report {
            Ok(report) => self.outcome_of_run(report),
            Err(e) => Outcome::new(Status::Failed, e.to_string()),
        };
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    /// The entry `sayso undo [n]` reverts, or why there is none.
    fn undo_target(&self, n: Option<i64>) -> Result<Entry, Box<Outcome>> {
        let target = match self.journal.undo_target(n) {
            Ok(Some(e)) => e,
            Ok(None) => return Err(Box::new(Outcome::new(Status::NotFound, "nothing to undo"))),
            Err(e) => return Err(Box::new(Outcome::new(Status::Failed, e.to_string()))),
        };
        if target.kind == EntryKind::Undo {
            return Err(Box::new(Outcome::new(
                Status::Invalid,
                format!(
                    "entry {} is itself an undo; undo the command instead",
                    target.id
                ),
            )));
        }
        match self.journal.is_undone(target.id) {
            Ok(true) => Err(Box::new(Outcome::new(
                Status::Invalid,
                format!("entry {} was already undone", target.id),
            ))),
            Err(e) => Err(Box::new(Outcome::new(Status::Failed, e.to_string()))),
            Ok(false) => Ok(target),
        }
    }

    /// What [`Agent::undo`] of entry `n` (or the latest command) would do now, without doing
    /// it: [`Status::DryRun`] with the reverting changes as preview rows in `records`, the
    /// changes that would be left as they are in `failures`, and the entry in `journal_entry`.
    /// An entry of more than `max` changes is [`Status::LimitExceeded`] (undo it with the CLI).
    pub async fn undo_preview(&mut self, n: Option<i64>, max: usize) -> Outcome {
        self.reconcile().await;
        let start = self.org.calls();
        let target = match self.undo_target(n) {
            Ok(e) => e,
            Err(o) => return *o,
        };
        let size = self.journal.entry_shape(target.id).map_or(0, |s| s.changes);
        if size > max {
            let mut o = Outcome::new(
                Status::LimitExceeded,
                format!(
                    "entry {} has {size} changes, above {max}; undo it with `sayso undo {}`",
                    target.id, target.id
                ),
            );
            o.count = Some(size as u64);
            return o;
        }
        let mut out = match exec::undo_preview(&self.org, &self.journal, target.id).await {
            Ok(p) => {
                let mut o = Outcome::new(
                    Status::DryRun,
                    format!(
                        "undo of entry {} (\"{}\") would revert {} change{}{}",
                        target.id,
                        target.phrase,
                        p.changes.len(),
                        if p.changes.len() == 1 { "" } else { "s" },
                        if p.conflicts.is_empty() {
                            String::new()
                        } else {
                            format!(" and leave {} as they are", p.conflicts.len())
                        }
                    ),
                );
                o.count = Some(p.changes.len() as u64);
                o.what = What::Preview(Preview {
                    records: p.changes.iter().map(preview_row).collect(),
                    calls: Vec::new(),
                    failures: p.conflicts,
                });
                o
            }
            Err(e) => Outcome::new(Status::Failed, e.to_string()),
        };
        out.journal_entry = Some(target.id);
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    /// Re-sends the failed (or, after an interrupted run, unconfirmed) changes of the latest entry
    /// that has any.
    pub async fn retry(&mut self, opts: RunOptions) -> Outcome {
        self.reconcile().await;
        let start = self.org.calls();
        let target = match self.journal.retry_target() {
            Ok(Some(e)) => e,
            Ok(None) => {
                return Outcome::new(
                    Status::NotFound,
                    "nothing to retry: every journaled change went through",
                );
            }
            Err(e) => return Outcome::new(Status::Failed, e.to_string()),
        };
        if let Some(sobject) = self.large_update_entry(target.id, opts.bulk_threshold) {
            let run_opts = exec_options(
                &self.username,
                self.progress.as_deref(),
                self.job_rows,
                format!("retry: {}", target.phrase),
                opts.bulk_threshold,
            );
            let report =
                exec::retry_staged(&self.org, &mut self.journal, target.id, &sobject, &run_opts)
                    .await;
            let mut out = match report {
                Ok(r) => self.outcome_of_run(r),
                Err(e) => Outcome::new(Status::Failed, e.to_string()),
            };
            out.api_calls = u64::from(self.org.calls() - start);
            return out;
        }
        let (plan, skipped) = match exec::retry_plan(&self.journal, target.id) {
            Ok(p) => p,
            Err(e) => return Outcome::new(Status::Failed, e.to_string()),
        };
        if plan.steps.is_empty() {
            return Outcome::new(
                Status::NotFound,
                format!(
                    "entry {}: nothing to retry safely ({skipped} change(s) were conflicts or unconfirmed creates; check them)",
                    target.id
                ),
            );
        }
        let run_opts = ExecRunOptions {
            user: self.username.clone(),
            phrase: format!("retry: {}", target.phrase),
            route: RouteOptions {
                bulk_threshold: opts.bulk_threshold,
                job_rows: self.job_rows,
            },
            progress: None,
            verify: true,
        };
        let mut out = match exec::run(
            &self.org,
            &mut self.journal,
            &plan,
            &run_opts,
            EntryKind::Retry,
            Some(target.id),
        )
        .await
        {
            Ok(r) => outcome_of_run(r),
            Err(e) => Outcome::new(Status::Failed, e.to_string()),
        };
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    /// The latest journal entries, newest first, each with its first [`HISTORY_SAMPLE`] changes
    /// and how many it holds (an entry may hold a million).
    ///
    /// # Errors
    /// [`JournalError`].
    pub fn history(&self, limit: usize) -> Result<Vec<HistoryItem>, JournalError> {
        let mut out = Vec::new();
        for entry in self.journal.entries(limit)? {
            let changes: Vec<ChangeRow> = self
                .journal
                .changes_page(entry.id, None, HISTORY_SAMPLE)?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            let c = self.journal.state_counts(entry.id)?;
            out.push(HistoryItem {
                entry,
                changes,
                total: c.total(),
            });
        }
        Ok(out)
    }

    /// "what did I change today": the user's own entries over those days (local dates), newest
    /// first, as records (`Name` is the phrase). Reads the journal only.
    fn changes_in(&self, days: crate::lang::DateRange) -> Outcome {
        let items = match self.history(HISTORY_SCAN) {
            Ok(items) => items,
            Err(e) => return Outcome::new(Status::Failed, format!("journal: {e}")),
        };
        let records: Vec<Json> = items
            .iter()
            .filter(|h| h.entry.user == self.username)
            .filter(|h| local_day(&h.entry.at).is_some_and(|d| d >= days.start && d <= days.end))
            .map(|h| {
                json!({
                    "Id": h.entry.id,
                    "Name": h.entry.phrase,
                    "at": h.entry.at,
                    "kind": h.entry.kind,
                    "status": h.entry.status,
                    "changes": h.total,
                })
            })
            .collect();
        let when = if days.start == days.end {
            days.start.to_string()
        } else {
            format!("{} to {}", days.start, days.end)
        };
        let n = records.len();
        let mut o = Outcome::new(
            Status::Answered,
            match n {
                0 => format!("you changed nothing with sayso on {when}"),
                1 => format!("1 command on {when}"),
                _ => format!("{n} commands on {when}"),
            },
        );
        o.count = Some(n as u64);
        o.what = What::Answer(Answer {
            records,
            ..Answer::default()
        });
        o
    }

    /// The org handle (call counter).
    pub fn org(&self) -> &Org {
        &self.org
    }
}

/// Opens just the journal of a home (for `sayso history` without a session).
///
/// # Errors
/// [`JournalError`].
pub fn open_journal(home: &Home) -> Result<Journal, JournalError> {
    Journal::open(&journal_path(home))
}

/// Execution options for a run as `user`.
fn exec_options<'a>(
    user: &str,
    progress: Option<&'a (dyn Fn(usize, usize) + Send + Sync)>,
    job_rows: usize,
    phrase: String,
    bulk_threshold: usize,
) -> ExecRunOptions<'a> {
    ExecRunOptions {
        user: user.to_string(),
        phrase,
        route: RouteOptions {
            bulk_threshold,
            job_rows,
        },
        progress,
        verify: false,
    }
}

/// Past this many matching records, a streamed update reads them through a Bulk API 2.0 query
/// job instead of REST query pages of 2,000.
pub const BULK_READ_ABOVE: usize = 10_000;
/// Rows per page of a Bulk query job's results (bounds the memory of staging).
const BULK_READ_PAGE: usize = 25_000;

/// How many changes (and failures) of a streamed run an [`Outcome`] holds.
pub const STREAMED_SAMPLE: usize = 1000;

/// How many rows a dry run of a staged plan shows.
const PREVIEW_STAGED: usize = 100;

fn too_many(records: usize, max: usize) -> Outcome {
    let mut o = Outcome::new(
        Status::LimitExceeded,
        format!(
            "{records} records match, above --max-records {max}; narrow the filter or raise --max-records"
        ),
    );
    o.count = Some(records as u64);
    o
}

/// `{field: {old, new}}` of a planned change.
fn old_new(c: &PlannedChange) -> serde_json::Map<String, Json> {
    c.new
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, new)| {
            let old = c.old.get(&k).cloned().unwrap_or(Json::Null);
            (k, json!({"old": old, "new": new}))
        })
        .collect()
}

fn preview_row(c: &PlannedChange) -> Json {
    json!({"op": c.op.as_str(), "sobject": c.sobject, "id": c.record_id, "Name": c.name, "fields": old_new(c)})
}

/// A journaled failed change as the JSON contract reports it.
/// A streamed run's `--json` line: the outcome's fields, then its lists read from the journal.
#[derive(Serialize)]
struct Streamed<'a> {
    #[serde(flatten)]
    head: &'a serde_json::Map<String, Json>,
    changes: JournalList<'a>,
    #[serde(serialize_with = "empty_when_none")]
    failures: Option<JournalList<'a>>,
}

fn empty_when_none<S: serde::Serializer>(
    list: &Option<JournalList<'_>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match list {
        Some(l) => l.serialize(s),
        None => s.collect_seq(std::iter::empty::<()>()),
    }
}

/// The applied (or, with `failures`, the refused) changes of a journal entry, serialized one by
/// one as the journal is read, so a million of them are never held.
struct JournalList<'a> {
    journal: &'a Journal,
    entry: i64,
    failures: bool,
}

impl Serialize for JournalList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(None)?;
        let mut failed = None;
        let read = self.journal.for_each_change(self.entry, |row| {
            let written = if self.failures {
                if !row.state.is_refused() {
                    return Ok(());
                }
                seq.serialize_element(&failure_of(&row))
            } else {
                if row.state != ChangeState::Applied {
                    return Ok(());
                }
                seq.serialize_element(&change_report(&row))
            };
            written.map_err(|e| {
                failed = Some(e);
                std::io::Error::other("stopped writing")
            })
        });
        // the writer's own error (a closed pipe stays a closed pipe)
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(S::Error::custom)?;
        seq.end()
    }
}

fn failure_of(row: &ChangeRow) -> Failure {
    Failure {
        id: row.change.record_id.clone(),
        name: row.change.name.clone(),
        error: row.error.clone().unwrap_or_default(),
    }
}

/// A journaled change as the JSON contract reports it.
fn change_report(row: &ChangeRow) -> ChangeReport {
    ChangeReport {
        op: row.change.op.as_str().into(),
        sobject: row.change.sobject.clone(),
        id: row.change.record_id.clone(),
        name: row.change.name.clone(),
        fields: old_new(&row.change).into_iter().collect(),
    }
}

fn outcome_of_error(e: ResolveError) -> Outcome {
    match e {
        ResolveError::NotFound(m) => Outcome::new(Status::NotFound, m),
        ResolveError::Ambiguous(m, c) => Outcome::with(Status::Ambiguous, m, What::Candidates(c)),
        ResolveError::Denied(m) => Outcome::new(Status::Denied, m),
        ResolveError::Invalid(m) => Outcome::new(Status::Invalid, m),
        ResolveError::NotUnderstood(m, s) => {
            Outcome::with(Status::NotUnderstood, m, What::Suggestions(s))
        }
        ResolveError::Org(OrgError::LimitExceeded(m)) => Outcome::new(Status::LimitExceeded, m),
        ResolveError::Org(e @ OrgError::Unreachable(_)) => {
            let mut o = Outcome::new(Status::Failed, e.to_string());
            o.unreachable = true;
            o
        }
        ResolveError::Org(e) => Outcome::new(Status::Failed, e.to_string()),
    }
}

fn outcome_of_run(r: RunReport) -> Outcome {
    let status = match r.status {
        RunStatus::Applied => Status::Applied,
        RunStatus::Partial | RunStatus::Failed => Status::Failed,
        RunStatus::Conflict => Status::Conflict,
        RunStatus::LimitExceeded => Status::LimitExceeded,
    };
    let mut o = Outcome::new(status, r.message);
    o.count = Some(r.streamed.map_or(r.changes.len(), |(done, _)| done) as u64);
    if r.streamed.is_some() {
        o.streamed = r.entry;
    }
    o.what = What::Written(Written {
        changes: r.changes,
        failures: r.failures,
    });
    o.journal_entry = r.entry;
    o
}

fn help_text(topic: Option<&str>) -> String {
    match topic {
        Some(t) => format!("examples of what you can say about {t} are listed below"),
        None => "say what you want changed, e.g. \"update the Acme deal to negotiation\"; examples below".into(),
    }
}
