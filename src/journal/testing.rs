//! Test helpers for the journal and its callers (`exec` tests): entries begun the way a command
//! begins them, without repeating the command's bookkeeping in every test. Compiled for tests only.

use serde_json::Value;

use super::{EntryHead, EntryKind, Journal, Op, PlannedChange};

impl Journal {
    /// Begins a command entry by `dana` for `phrase` with `changes`: its id and its rows' ids.
    pub(crate) fn begin_test(
        &mut self,
        phrase: &str,
        changes: &[PlannedChange],
    ) -> (i64, Vec<i64>) {
        self.begin(
            EntryHead::new("dana", phrase, EntryKind::Command, None),
            changes,
        )
        .expect("a journal entry begins")
    }
}

/// An update of Opportunity `id` from `old` to `new`, named after its id.
pub(crate) fn update_of(id: &str, old: Value, new: Value) -> PlannedChange {
    PlannedChange {
        op: Op::Update,
        sobject: "Opportunity".into(),
        record_id: Some(id.into()),
        name: id.into(),
        old,
        new,
    }
}
