//! A file's rows on their way to the org, streamed: the file is read [`CHUNK`] rows at a time;
//! each chunk is checked, screened for duplicates ([`super::super::dupes::Screen`], batched
//! queries per chunk, earlier rows kept as keys in a temporary SQLite file, never as rows) and
//! appended to a journal stage. Memory holds one chunk, whatever the number of rows.
//!
//! A file of at most the Bulk threshold comes back out of the stage as an ordinary plan (sObject
//! Collections); a larger one stays staged and is sent in Bulk insert jobs read from the journal
//! ([`crate::exec::run_staged`]).
//!
//! Owns the staging of a create file. Part of `app::import`; imports `journal`, `plan`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json};

use super::super::dupes::Screen;
use super::{ImportError, Rejected, Row, RowReader, Skipped};
use crate::app::Agent;
use crate::id::ObjectName;
use crate::journal::{Op, PlannedChange};
use crate::plan::{Plan, Staged, Step, Val};
use crate::resolve::ResolveError;

/// Rows read, checked and screened at a time (fewer when the Bulk jobs are set smaller).
pub(crate) const CHUNK: usize = 10_000;

/// A file read into a journal stage.
pub(in crate::app) struct StagedFile {
    /// The stage.
    pub(in crate::app) stage: i64,
    /// Rows staged (to be created).
    pub(in crate::app) count: usize,
    /// Every field some row sets, in name order.
    pub(in crate::app) columns: BTreeSet<String>,
    /// Rows left out as duplicates.
    pub(in crate::app) skipped: Vec<Skipped>,
    /// Rows not sent: a bad cell, a missing required field.
    pub(in crate::app) rejected: Vec<Rejected>,
}

/// The create a checked row becomes.
fn planned(object: &str, row: Row) -> PlannedChange {
    PlannedChange {
        op: Op::Create,
        sobject: object.to_string(),
        record_id: None,
        name: row.display(object),
        old: Json::Object(Map::new()),
        new: Json::Object(row.fields),
    }
}

/// The plan step of a staged create (`k`: its position, for its reference).
fn step_of(k: usize, c: PlannedChange) -> Step {
    Step {
        op: c.op,
        sobject: ObjectName::known(c.sobject),
        id: None,
        name: c.name,
        reference: format!("r{k}"),
        fields: match c.new {
            Json::Object(m) => m.into_iter().map(|(f, v)| (f, Val::Lit(v))).collect(),
            _ => BTreeMap::new(),
        },
        old: BTreeMap::new(),
        guard: None,
    }
}

impl Agent {
    /// Reads every row of `reader` into a new journal stage, a chunk at a time, leaving out the
    /// rejected ones and (with `dedupe`) the duplicates. The stage is dropped on error.
    pub(in crate::app) async fn stage_file(
        &mut self,
        reader: &mut RowReader,
        object: &str,
        dedupe: bool,
    ) -> Result<StagedFile, ImportError> {
        let stage = self.journal.stage_begin()?;
        let mut staged = StagedFile {
            stage,
            count: 0,
            columns: BTreeSet::new(),
            skipped: Vec::new(),
            rejected: Vec::new(),
        };
        match self.fill(reader, object, dedupe, &mut staged).await {
            Ok(()) => Ok(staged),
            Err(e) => {
                let _ = self.journal.stage_drop(stage);
                Err(e)
            }
        }
    }

    async fn fill(
        &mut self,
        reader: &mut RowReader,
        object: &str,
        dedupe: bool,
        staged: &mut StagedFile,
    ) -> Result<(), ImportError> {
        let mut screen = if dedupe { Some(Screen::new()?) } else { None };
        let chunk = self.job_rows.clamp(1, CHUNK);
        loop {
            let mut rows = Vec::new();
            let mut end = true;
            while let Some(r) = reader.next_row() {
                match r {
                    Ok(row) => rows.push(row),
                    Err(r) => staged.rejected.push(r),
                }
                if rows.len() == chunk {
                    end = false;
                    break;
                }
            }
            if let Some(screen) = screen.as_mut() {
                let (keep, skipped) = screen
                    .split(&self.org, rows)
                    .await
                    .map_err(ImportError::Screen)?;
                staged.skipped.extend(skipped);
                rows = keep;
            }
            for r in &rows {
                for f in r.fields.keys() {
                    if !staged.columns.contains(f) {
                        staged.columns.insert(f.clone());
                    }
                }
            }
            let changes: Vec<PlannedChange> =
                rows.into_iter().map(|r| planned(object, r)).collect();
            self.journal
                .stage_append(staged.stage, staged.count, &changes)?;
            staged.count += changes.len();
            if end {
                return Ok(());
            }
        }
    }

    /// The plan of a staged file: up to `bulk_threshold` rows, its steps (read back from the
    /// stage, which is dropped); above it, the stage itself, sent in Bulk insert jobs.
    pub(in crate::app) fn file_plan(
        &mut self,
        object: &str,
        staged: StagedFile,
        bulk_threshold: usize,
    ) -> Result<Plan, ImportError> {
        let n = staged.count;
        let summary = format!(
            "create {n} {object} record{} from a file",
            if n == 1 { "" } else { "s" }
        );
        if n > bulk_threshold {
            return Ok(Plan {
                steps: Vec::new(),
                bulk: true,
                summary,
                staged: Some(Staged {
                    stage: staged.stage,
                    sobject: ObjectName::known(object),
                    count: n,
                    columns: staged.columns.into_iter().collect(),
                }),
            });
        }
        let changes = self.journal.stage_sample(staged.stage, n);
        let _ = self.journal.stage_drop(staged.stage);
        let steps = changes
            .map_err(|e| ImportError::Resolve(ResolveError::Invalid(e.to_string())))?
            .into_iter()
            .enumerate()
            .map(|(k, c)| step_of(k, c))
            .collect();
        Ok(Plan {
            steps,
            bulk: true,
            summary,
            staged: None,
        })
    }
}
