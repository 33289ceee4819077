//! The command language: normalisation of typed and dictated text, entities (dates, money, numbers…),
//! grammar matching against the phrase patterns in `grammars/`, and typed intents.
//!
//! Pure: no network, no files except the grammar directory it is pointed at. Record references stay
//! unresolved text; the resolver decides what they name.

pub mod intent;

pub use intent::{
    Antecedent, ChangeOp, Clause, DateRange, Entity, FieldAlias, FieldChange, FieldRef, Intent,
    ObjectKind, ParsedCommand, PersonName, Priority, QuestionKind, RecordFilter, RecordRef, Span,
    Target, Value, ValueHint,
};
