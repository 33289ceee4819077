//! What one command did: its [`Status`] (the exit contract of `sayso run`) and an [`Outcome`] —
//! the one-line message plus [`What`] happened (an answer, a preview, the writes made, the
//! candidates to choose among, phrases to try) — and its JSON form (`sayso run --json`, one
//! object per command, the same keys whatever happened).
//!
//! May import `exec`, `resolve` and `plan` types; imported by the rest of `app`, the MCP server
//! and the binary.

use serde::Serialize;
use serde_json::Value as Json;

use super::import::{Mapping, Rejected, Skipped};
use crate::exec::{ChangeReport, Failure};
use crate::plan::Plan;
use crate::resolve::Candidate;
use crate::resolve::answer::Group;

/// The status of one command, as `sayso run --json` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The change was made.
    Applied,
    /// A question was answered; nothing changed.
    Answered,
    /// `--dry-run`: the plan, nothing changed.
    DryRun,
    /// Several records match.
    Ambiguous,
    /// No visible record matches.
    NotFound,
    /// The user's permissions forbid it.
    Denied,
    /// A value the field can't take.
    Invalid,
    /// The phrase was not understood.
    NotUnderstood,
    /// The record changed underneath.
    Conflict,
    /// The API budget (or `--max-records`) stops it.
    LimitExceeded,
    /// A bulk change waits for confirmation.
    NeedsConfirmation,
    /// The org refused (all or part of) it.
    Failed,
    /// The org could not be reached; the command waits in the queue for `sayso sync`.
    Queued,
}

impl Status {
    /// Whether the command counts as a success for the exit code.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Status::Applied | Status::Answered | Status::DryRun | Status::Queued
        )
    }
}

/// What a command did, beyond its status and message.
#[derive(Debug, Clone, Default)]
pub enum What {
    /// Nothing more than the message (refused, nothing to change, not found).
    #[default]
    Nothing,
    /// Records read and figures over them (questions, `history`).
    Answer(Answer),
    /// Writes shown and not made: a dry run, a bulk change waiting for confirmation, an undo
    /// preview, a queued command.
    Preview(Preview),
    /// Writes sent: each change made and each one refused.
    Written(Written),
    /// Several records fit a name: which one?
    Candidates(Vec<Candidate>),
    /// Phrases to try (not understood, help, a file that could be leads or contacts).
    Suggestions(Vec<String>),
}

/// An answer.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The records (lists, asked fields, top-N).
    pub records: Vec<Json>,
    /// A total ("my total open pipeline").
    pub sum: Option<f64>,
    /// An average ("my average deal size").
    pub avg: Option<f64>,
    /// Grouped figures ("my pipeline by stage").
    pub groups: Vec<Group>,
}

/// Writes shown, not made.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// One row per change (its record and `{field: {old, new}}`).
    pub records: Vec<Json>,
    /// The API calls it would make.
    pub calls: Vec<String>,
    /// Changes that would be left as they are, and why (an undo over someone's edit).
    pub failures: Vec<Failure>,
}

/// Writes sent.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// The changes made.
    pub changes: Vec<ChangeReport>,
    /// The ones refused, in conflict or unconfirmed.
    pub failures: Vec<Failure>,
}

/// A file run (or a typed list): how its columns map to fields, and the rows it left out.
#[derive(Debug, Clone, Default)]
pub struct FileRun {
    /// How the columns map to fields.
    pub mapping: Option<Mapping>,
    /// Rows (or people) skipped as duplicates, with what they match.
    pub skipped: Option<Vec<Skipped>>,
    /// Rows not sent, with their line and why.
    pub rejected: Option<Vec<Rejected>>,
}

/// The result of one command.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Status.
    pub status: Status,
    /// One line for humans.
    pub message: String,
    /// What happened.
    pub what: What,
    /// How many records it concerns (answers to "how many", previews, a streamed run, a
    /// refusal over `--max-records`).
    pub count: Option<u64>,
    /// REST calls this command made (describe cache hits excluded).
    pub api_calls: u64,
    /// The journal entry written, if any.
    pub journal_entry: Option<i64>,
    /// A file run's mapping and left-out rows.
    pub file: FileRun,
    /// The plan waiting for confirmation ([`super::Agent::confirm`]); a dry run sets it too.
    pub pending: Option<Plan>,
    /// A streamed bulk run: its changes and failures are in this journal entry;
    /// [`Outcome::changes`] and [`Outcome::failures`] hold only the first
    /// [`super::STREAMED_SAMPLE`] of each, and [`super::Agent::write_json`] writes them all
    /// from the journal.
    pub streamed: Option<i64>,
    /// Nothing reached the org: no connection before anything was sent.
    pub unreachable: bool,
}

impl Outcome {
    /// An outcome with only a status and a message.
    pub fn new(status: Status, message: impl Into<String>) -> Outcome {
        Outcome::with(status, message, What::Nothing)
    }

    /// An outcome with a status, a message and what happened.
    pub fn with(status: Status, message: impl Into<String>, what: What) -> Outcome {
        Outcome {
            status,
            message: message.into(),
            what,
            count: None,
            api_calls: 0,
            journal_entry: None,
            file: FileRun::default(),
            pending: None,
            streamed: None,
            unreachable: false,
        }
    }

    /// The records of an answer or a preview.
    pub fn records(&self) -> &[Json] {
        match &self.what {
            What::Answer(a) => &a.records,
            What::Preview(p) => &p.records,
            _ => &[],
        }
    }

    /// The records of an answer or a preview, to trim or redact.
    pub fn records_mut(&mut self) -> Option<&mut Vec<Json>> {
        match &mut self.what {
            What::Answer(a) => Some(&mut a.records),
            What::Preview(p) => Some(&mut p.records),
            _ => None,
        }
    }

    /// The changes made.
    pub fn changes(&self) -> &[ChangeReport] {
        match &self.what {
            What::Written(w) => &w.changes,
            _ => &[],
        }
    }

    /// The changes refused (writes) or that would be left as they are (previews).
    pub fn failures(&self) -> &[Failure] {
        match &self.what {
            What::Written(w) => &w.failures,
            What::Preview(p) => &p.failures,
            _ => &[],
        }
    }

    /// The candidates of an ambiguous name.
    pub fn candidates(&self) -> &[Candidate] {
        match &self.what {
            What::Candidates(c) => c,
            _ => &[],
        }
    }

    /// Phrases to try.
    pub fn suggestions(&self) -> &[String] {
        match &self.what {
            What::Suggestions(s) => s,
            _ => &[],
        }
    }

    /// The calls a preview would make.
    pub fn calls(&self) -> &[String] {
        match &self.what {
            What::Preview(p) => &p.calls,
            _ => &[],
        }
    }

    /// The groups of a grouped answer.
    pub fn groups(&self) -> &[Group] {
        match &self.what {
            What::Answer(a) => &a.groups,
            _ => &[],
        }
    }

    fn figures(&self) -> (Option<f64>, Option<f64>) {
        match &self.what {
            What::Answer(a) => (a.sum, a.avg),
            _ => (None, None),
        }
    }
}

/// The JSON form of an [`Outcome`]: every kind of outcome has the same keys (`changes`,
/// `records`, `count`, `candidates` always; the others when they hold something), so scripts
/// read one shape.
#[derive(Serialize)]
struct Wire<'a> {
    status: Status,
    message: &'a str,
    changes: &'a [ChangeReport],
    records: &'a [Json],
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg: Option<f64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    groups: &'a [Group],
    candidates: &'a [Candidate],
    api_calls: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    failures: &'a [Failure],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    suggestions: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    calls: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    journal_entry: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mapping: Option<&'a Mapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a [Skipped]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a [Rejected]>,
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (sum, avg) = self.figures();
        Wire {
            status: self.status,
            message: &self.message,
            changes: self.changes(),
            records: self.records(),
            count: self.count,
            sum,
            avg,
            groups: self.groups(),
            candidates: self.candidates(),
            api_calls: self.api_calls,
            failures: self.failures(),
            suggestions: self.suggestions(),
            calls: self.calls(),
            journal_entry: self.journal_entry,
            mapping: self.file.mapping.as_ref(),
            skipped: self.file.skipped.as_deref(),
            rejected: self.file.rejected.as_deref(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_the_same_keys_in_json() {
        let answer = Outcome::with(
            Status::Answered,
            "2 deals",
            What::Answer(Answer {
                records: vec![serde_json::json!({"Name": "Titan"})],
                sum: Some(5.0),
                ..Answer::default()
            }),
        );
        let v = serde_json::to_value(&answer).unwrap();
        assert_eq!(v["records"][0]["Name"], "Titan");
        assert_eq!(v["sum"], 5.0);
        assert!(v.get("avg").is_none(), "an absent figure is left out");
        let refused = serde_json::to_value(Outcome::new(Status::Denied, "no")).unwrap();
        for key in [
            "status",
            "message",
            "changes",
            "records",
            "count",
            "candidates",
            "api_calls",
        ] {
            assert!(refused.get(key).is_some(), "{key} missing from {refused}");
        }
        assert_eq!(refused["changes"], serde_json::json!([]));
        assert!(refused.get("failures").is_none());
    }
}
