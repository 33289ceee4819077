//! The command language: normalisation of typed and dictated text, entities (dates, money, numbers…),
//! grammar matching against the phrase patterns in `grammars/`, and typed intents.
//!
//! Pure: no network, no files except the grammar directory it is pointed at. Record references stay
//! unresolved text; the resolver decides what they name.
//!
//! Phases, in order: [`lexer`] (text → tokens) → `normalize` (fillers, spoken numbers, repairs) →
//! clause splitting (here) → `matcher` (tokens × patterns → best match) → `build` (slots → typed
//! [`Intent`]) → reference linking (here: "her", "it", "that deal", implied records) → folding
//! ("find all X and add a note" = one bulk note).
//!
//! Entry points: [`parse`] (embedded grammar) and [`Grammar::parse`]; [`notes`] cuts piped scripts
//! and voice-note transcripts into commands.

mod build;
mod clause;
pub(crate) mod entity;
pub mod grammar;
pub mod intent;
pub(crate) mod lexer;
pub mod list;
pub(crate) mod matcher;
pub(crate) mod normalize;
pub mod notes;
pub(crate) mod pattern;

pub use grammar::{Grammar, GrammarError, IntentKind};
pub use intent::{
    AddContactRole, AddNote, Antecedent, ChangeOp, Clause, CompleteTask, CreateCase, CreateRecord,
    CreateTask, Criterion, DateRange, Entity, FieldAlias, FieldChange, FieldRef, GroupBy, Help,
    Intent, LogCall, NotUnderstood, ObjectKind, ParsedCommand, PersonName, Priority, Question,
    QuestionKind, Rank, RankBy, Reassign, RecordFilter, RecordRef, Regarding, ScheduleMeeting,
    Span, Target, Undo, UpdateFields, Value, ValueHint,
};
pub use list::{FileCommand, FileOp};
pub use notes::{Piece, script_line, split_notes};

use chrono::NaiveDate;

/// Parse a phrase with the embedded English grammar, relative dates computed from `today`.
///
/// Never fails and never panics: text that matches nothing yields one [`Intent::NotUnderstood`]
/// clause carrying the closest example commands.
///
/// # Errors
/// Only if the embedded grammar is invalid, which the test suite rules out.
pub fn parse(text: &str, today: NaiveDate) -> Result<ParsedCommand, GrammarError> {
    Ok(Grammar::embedded()?.parse(text, today))
}

impl Grammar {
    /// Parse a phrase with this grammar, relative dates computed from `today`. See [`parse`].
    pub fn parse(&self, text: &str, today: NaiveDate) -> ParsedCommand {
        clause::parse_command(self, text, today)
    }

    /// [`Grammar::parse`], reading a list's run of "and"s ("add Procter and Gamble and Kramerica
    /// as leads") through `known`: the names with an "and" inside that the org holds, lower-case
    /// (ask for them with [`Grammar::and_run_names`]).
    pub fn parse_with_names(
        &self,
        text: &str,
        today: NaiveDate,
        known: &std::collections::HashSet<String>,
    ) -> ParsedCommand {
        clause::parse_command_with(self, text, today, known)
    }

    /// The names a list phrase's run of "and"s may hold; see [`list::and_run_names`].
    pub fn and_run_names(&self, text: &str) -> Vec<String> {
        list::and_run_names(self, text)
    }

    /// A list's run of "and"s that `known` can't read: as said, and the readings with commas;
    /// see [`list::unread_and_run`].
    pub fn unread_and_run(
        &self,
        text: &str,
        known: &std::collections::HashSet<String>,
    ) -> Option<(String, Vec<String>)> {
        list::unread_and_run(self, text, known)
    }

    /// What a phrase said about a file of rows ("add these as leads", "update the
    /// opportunities in forecast.csv"); see [`list::file_command`].
    pub fn file_command(&self, text: &str) -> Option<FileCommand> {
        list::file_command(self, text)
    }
}
