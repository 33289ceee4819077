//! Files of rows: `sayso run --file prospects.csv "add these as leads"`. Reads the CSV (the `csv`
//! crate), maps its columns to fields and checks every cell ([`crate::resolve::columns`]), skips
//! duplicates of existing leads and contacts and of earlier rows ([`super::dupes`]), and hands
//! the rest to the ordinary plan → execute → journal path as creates: sObject Collections in 200s
//! up to the Bulk threshold, Bulk API 2.0 insert jobs above it. Undo deletes exactly what was
//! created.
//!
//! Owns the import flow and the `skipped` / `rejected` / `mapping` parts of the JSON contract. Never
//! prints. May import everything `app` may.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value as Json, json};

mod stage;

use super::dupes::{self, DupKey};
use super::{Agent, FileRun, Outcome, Preview, RunOptions, Status, What};
use crate::lang::{FileOp, Grammar, ObjectKind};
use crate::plan::Plan;
use crate::resolve::columns::{ColumnMap, NOT_PROVIDED, Purpose};
use crate::resolve::schema::ObjectDescribe;
use crate::resolve::{Candidate, ResolveError};

/// Options of a file run.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// The options every command takes.
    pub run: RunOptions,
    /// Create rows that match existing records or earlier rows too.
    pub allow_duplicates: bool,
}

/// A row left out because it duplicates an existing record or an earlier row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Skipped {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// Why: "same email", "same first name, last name and company".
    pub reason: String,
    /// The existing record it matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Candidate>,
    /// The earlier row it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches_line: Option<u64>,
}

/// A row not sent because a cell or a required field is wrong.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejected {
    /// The row's line in the file.
    pub line: u64,
    /// What is wrong, naming the column.
    pub reason: String,
}

/// How the file's columns map to fields (shown in the preview and in `--json`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mapping {
    /// The object the rows create.
    pub object: String,
    /// Column → field API name, in file order.
    pub columns: BTreeMap<String, String>,
    /// Columns that map to no field: their cells are not sent.
    pub left_out: Vec<String>,
    /// Data rows read.
    pub rows: u64,
}

/// One checked row.
pub(super) struct Row {
    pub(super) line: u64,
    pub(super) fields: Map<String, Json>,
}

impl Row {
    fn text(&self, k: &str) -> String {
        self.fields
            .get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The keys another record with the same person has: the email; first name, last name and
    /// company; and a contact's first name, last name and account (its `AccountId`).
    pub(super) fn keys(&self) -> Vec<DupKey> {
        let mut keys = Vec::new();
        let email = self.text("Email");
        if !email.is_empty() {
            keys.push(DupKey::Email(email.to_lowercase()));
        }
        let (last, company) = (self.text("LastName"), self.text("Company"));
        let account: String = self.text("AccountId").chars().take(15).collect();
        if !last.is_empty() && !account.is_empty() {
            keys.push(DupKey::NameAt(
                self.text("FirstName").to_lowercase(),
                last.to_lowercase(),
                account,
            ));
        }
        if !last.is_empty() && !company.is_empty() {
            keys.push(DupKey::Name(
                self.text("FirstName").to_lowercase(),
                last.to_lowercase(),
                company.to_lowercase(),
            ));
        }
        keys
    }

    fn display(&self, object: &str) -> String {
        match object {
            "Lead" | "Contact" => {
                let n = format!("{} {}", self.text("FirstName"), self.text("LastName"));
                let n = n.trim().to_string();
                if n == NOT_PROVIDED && object == "Lead" {
                    self.text("Company")
                } else {
                    n
                }
            }
            _ => self.text("Name"),
        }
    }
}

/// What reading a file found: the rows to send, and those rejected.
pub(super) struct Read {
    pub(super) map: ColumnMap,
    pub(super) rows: Vec<Row>,
    pub(super) rejected: Vec<Rejected>,
    pub(super) total: u64,
}

/// Why a file can't be run at all.
#[derive(Debug, thiserror::Error)]
pub(super) enum ImportError {
    /// The file can't be read as CSV.
    #[error("cannot read {0}: {1}")]
    File(String, String),
    /// No column names a field.
    #[error("{0}")]
    NoColumns(String),
    /// Resolution (describe, permissions).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The journal (its stage) could not be written: nothing is sent without it.
    #[error("nothing was sent: {0}")]
    Journal(#[from] crate::journal::JournalError),
    /// The duplicate check could not be made: nothing is sent without it.
    #[error(transparent)]
    Screen(#[from] dupes::DupeError),
}

impl From<ImportError> for Outcome {
    fn from(e: ImportError) -> Outcome {
        match e {
            ImportError::Resolve(e) => super::outcome_of_error(e),
            ImportError::Screen(dupes::DupeError::Org(e)) => {
                super::outcome_of_error(ResolveError::Org(e))
            }
            e @ (ImportError::Journal(_) | ImportError::Screen(_)) => {
                Outcome::new(Status::Failed, e.to_string())
            }
            other => Outcome::new(Status::Invalid, other.to_string()),
        }
    }
}

/// Lead's default status: the active value that reads "open", else the first active one.
fn default_status(d: &ObjectDescribe) -> Option<String> {
    let f = d.field("Status")?;
    let active: Vec<_> = f.picklist.iter().filter(|p| p.active).collect();
    active
        .iter()
        .find(|p| p.value.to_lowercase().starts_with("open"))
        .or(active.first())
        .map(|p| p.value.clone())
}

/// A new record's defaults and checks, applied to a row's fields.
type Finish = dyn Fn(Map<String, Json>) -> Result<Map<String, Json>, String> + Send;

/// The rows of a file, read and checked one at a time: memory holds one row, not the file.
pub(super) struct RowReader {
    rdr: csv::Reader<std::fs::File>,
    pub(super) map: ColumnMap,
    purpose: Purpose,
    finish: Box<Finish>,
    rec: csv::StringRecord,
    /// Data rows read so far (blank rows are not counted).
    pub(super) total: u64,
}

impl RowReader {
    /// Opens `path` and maps its header onto `d`'s fields (a new record's defaults and required
    /// fields when creating).
    pub(super) fn open(
        g: &'static Grammar,
        d: &ObjectDescribe,
        path: &Path,
        me: &str,
        purpose: Purpose,
    ) -> Result<RowReader, ImportError> {
        let file_err = |e: &dyn std::fmt::Display| {
            ImportError::File(path.display().to_string(), e.to_string())
        };
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| file_err(&e))?;
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| file_err(&e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        let map = ColumnMap::new(g, d, &headers, purpose);
        if map.mapped().is_empty() {
            return Err(ImportError::NoColumns(format!(
                "no column of {} names a {} field you can set (columns: {})",
                path.display(),
                d.name,
                headers.join(", ")
            )));
        }
        Ok(RowReader {
            rdr,
            map,
            purpose,
            finish: Box::new(new_record(d, me)),
            rec: csv::StringRecord::new(),
            total: 0,
        })
    }

    /// The next data row, checked (`Err`: rejected, with its line and why); `None` at the end.
    pub(super) fn next_row(&mut self) -> Option<Result<Row, Rejected>> {
        loop {
            let line = self.rdr.position().line();
            match self.rdr.read_record(&mut self.rec) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    self.total += 1;
                    return Some(Err(Rejected {
                        line,
                        reason: format!("unreadable row: {e}"),
                    }));
                }
            }
            let line = self.rec.position().map_or(line, csv::Position::line);
            if self.rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            self.total += 1;
            let checked =
                self.map
                    .row(&self.rec)
                    .and_then(|fields| match self.purpose {
                        Purpose::Create => (self.finish)(fields)
                            .and_then(|f| self.map.check_required(&f).map(|()| f)),
                        Purpose::Update => Ok(fields),
                    });
            return Some(match checked {
                Ok(fields) => Ok(Row { line, fields }),
                Err(reason) => Err(Rejected { line, reason }),
            });
        }
    }
}

/// Reads and checks every row of `path` against `d` (a file of updates: its rows are matched
/// to records together). Memory holds the checked rows (their fields), not the file.
pub(super) fn read_rows(
    g: &'static Grammar,
    d: &ObjectDescribe,
    path: &Path,
    me: &str,
    purpose: Purpose,
) -> Result<Read, ImportError> {
    let mut reader = RowReader::open(g, d, path, me, purpose)?;
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    while let Some(r) = reader.next_row() {
        match r {
            Ok(row) => rows.push(row),
            Err(r) => rejected.push(r),
        }
    }
    Ok(Read {
        total: reader.total,
        map: reader.map,
        rows,
        rejected,
    })
}

/// A new record's defaults: a lead's LastName `[not provided]` when only a company is given, its
/// default Status, and the owner (the user).
fn new_record(
    d: &ObjectDescribe,
    me: &str,
) -> impl Fn(Map<String, Json>) -> Result<Map<String, Json>, String> + Send + 'static {
    let status = (d.name == "Lead").then(|| default_status(d)).flatten();
    let owner = d.field("OwnerId").is_some_and(|f| f.createable);
    let lead = d.name == "Lead";
    let me = me.to_string();
    move |mut fields| {
        if lead && !fields.contains_key("LastName") && fields.contains_key("Company") {
            fields.insert("LastName".into(), json!(NOT_PROVIDED));
        }
        if let Some(s) = &status {
            fields.entry("Status").or_insert_with(|| json!(s));
        }
        if owner {
            fields.entry("OwnerId").or_insert_with(|| json!(me));
        }
        Ok(fields)
    }
}

impl Agent {
    /// Runs a phrase over a file of rows ("add these as leads"): reads and checks the rows,
    /// skips duplicates (unless `allow_duplicates`), previews, and creates the rest as one
    /// journaled command. Without `yes` (and not a dry run) the outcome is `needs_confirmation`
    /// with the plan pending: apply it with [`Agent::import_confirm`].
    pub async fn import_file(&mut self, path: &Path, phrase: &str, opts: ImportOptions) -> Outcome {
        self.reconcile().await;
        let start = self.org.calls();
        let mut out = match self.import_inner(path, phrase, opts).await {
            Ok(o) => o,
            Err(e) => e.into(),
        };
        out.api_calls = u64::from(self.org.calls() - start);
        out
    }

    async fn import_inner(
        &mut self,
        path: &Path,
        phrase: &str,
        opts: ImportOptions,
    ) -> Result<Outcome, ImportError> {
        let g = Grammar::embedded()
            .map_err(|e| ImportError::File(path.display().to_string(), e.to_string()))?;
        let Some(cmd) = g.file_command(phrase) else {
            let tries = vec!["add these as leads".into(), "add these as contacts".into()];
            return Ok(Outcome::with(
                Status::NotUnderstood,
                format!(
                    "say what the rows of the file are, e.g. \"add these as leads\" (not `{phrase}`)"
                ),
                What::Suggestions(tries),
            ));
        };
        let object = cmd.object.api_name();
        if cmd.op == FileOp::Update {
            return self.update_from_file(g, path, phrase, object, opts).await;
        }
        let d = self.describe_for_import(object, true).await?;
        let mut reader = RowReader::open(g, &d, path, &self.me, Purpose::Create)?;
        let dedupe =
            !opts.allow_duplicates && matches!(cmd.object, ObjectKind::Lead | ObjectKind::Contact);
        let staged = self.stage_file(&mut reader, object, dedupe).await?;
        let mapping = Mapping {
            object: object.to_string(),
            columns: reader.map.mapped().into_iter().collect(),
            left_out: reader.map.left_out(),
            rows: reader.total,
        };
        let (skipped, rejected) = (staged.skipped.clone(), staged.rejected.clone());
        let plan = self.file_plan(object, staged, opts.run.bulk_threshold)?;
        let mut out = self.run_import_plan(phrase, plan, opts.run).await;
        out.file = FileRun {
            mapping: Some(mapping),
            skipped: Some(skipped),
            rejected: Some(rejected),
        };
        Ok(finish(out))
    }

    pub(super) async fn describe_for_import(
        &mut self,
        object: &str,
        create: bool,
    ) -> Result<std::sync::Arc<ObjectDescribe>, ResolveError> {
        let verb = if create { "create" } else { "update" };
        let d = match self.schema.describe(&self.org, object).await {
            Ok(d) => d,
            Err(crate::salesforce::org::OrgError::Api {
                status: 403 | 404, ..
            }) => {
                return Err(ResolveError::Denied(format!(
                    "you can't {verb} {object} records"
                )));
            }
            Err(e) => return Err(ResolveError::Org(e)),
        };
        if (create && !d.createable) || (!create && !d.updateable) {
            return Err(ResolveError::Denied(format!(
                "you can't {verb} {object} records"
            )));
        }
        Ok(d)
    }

    /// Previews (dry run), asks (`needs_confirmation`) or executes the plan of a file.
    pub(super) async fn run_import_plan(
        &mut self,
        phrase: &str,
        plan: Plan,
        opts: RunOptions,
    ) -> Outcome {
        let route = crate::plan::RouteOptions {
            bulk_threshold: opts.bulk_threshold,
            job_rows: self.job_rows,
        };
        if plan.is_empty() {
            let mut o = Outcome::new(Status::Applied, "nothing to create");
            o.count = Some(0);
            return o;
        }
        if opts.dry_run || !opts.yes {
            let (status, verb) = if opts.dry_run {
                (Status::DryRun, "would create")
            } else {
                (
                    Status::NeedsConfirmation,
                    "confirm (or run with --yes) to create",
                )
            };
            let mut o = Outcome::new(
                status,
                format!("{verb} {}", plan.summary.trim_start_matches("create ")),
            );
            o.what = What::Preview(Preview {
                records: self.preview(&plan, 10),
                calls: match &plan.staged {
                    Some(s) => insert_calls(&s.sobject, s.count, route.job_rows),
                    None => plan.calls(route),
                },
                failures: Vec::new(),
            });
            o.count = Some(plan.len() as u64);
            if opts.dry_run && plan.staged.is_some() {
                // Nothing will apply a dry run: its stage is not kept.
                self.discard(&plan);
            } else {
                o.pending = Some(plan);
            }
            return o;
        }
        self.execute_with(phrase, &plan, opts, true).await
    }

    /// Applies the plan an [`Agent::import_file`] outcome holds pending (after the person said
    /// yes), keeping its `skipped`, `rejected` and `mapping`.
    pub async fn import_confirm(
        &mut self,
        phrase: &str,
        prepared: &mut Outcome,
        opts: RunOptions,
    ) -> Outcome {
        let Some(plan) = prepared.pending.take() else {
            return Outcome::new(Status::Applied, "nothing to create");
        };
        let start = self.org.calls();
        let mut out = self.execute_with(phrase, &plan, opts, true).await;
        out.api_calls = u64::from(self.org.calls() - start) + prepared.api_calls;
        out.file = std::mem::take(&mut prepared.file);
        finish(out)
    }
}

/// The calls a staged file of `n` creates makes: Bulk insert jobs of at most
/// [`crate::exec::IMPORT_JOB_ROWS`] rows.
fn insert_calls(sobject: &str, n: usize, job_rows: usize) -> Vec<String> {
    let per_job = job_rows.clamp(1, crate::exec::IMPORT_JOB_ROWS);
    let jobs = n.div_ceil(per_job);
    vec![
        format!(
            "{jobs} Bulk API 2.0 insert job{} of at most {per_job} rows ({sobject}, {n} rows in all), each:",
            if jobs == 1 { "" } else { "s" }
        ),
        format!("POST /jobs/ingest {{\"object\":\"{sobject}\",\"operation\":\"insert\"}}"),
        "PUT /jobs/ingest/{id}/batches (the rows as CSV)".into(),
        "PATCH /jobs/ingest/{id} {\"state\":\"UploadComplete\"}".into(),
        "GET /jobs/ingest/{id} (until JobComplete)".into(),
        "GET /jobs/ingest/{id}/successfulResults/ (and failedResults/ when rows failed)".into(),
    ]
}

/// The status and message of a file run: applied only when no row was rejected or failed.
fn finish(mut out: Outcome) -> Outcome {
    let skipped = out.file.skipped.as_ref().map_or(0, Vec::len);
    let rejected = out.file.rejected.as_ref().map_or(0, Vec::len);
    if skipped + rejected == 0 {
        return out;
    }
    let mut parts = vec![out.message.clone()];
    if skipped > 0 {
        parts.push(format!("{skipped} skipped as duplicates"));
    }
    if let Some(first) = out.file.rejected.as_ref().and_then(|r| r.first()) {
        parts.push(format!(
            "{rejected} rejected (line {}: {})",
            first.line, first.reason
        ));
        if out.status == Status::Applied {
            out.status = Status::Invalid;
        }
    }
    out.message = parts.join("; ");
    out
}
