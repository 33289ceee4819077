//! Test helpers for the journal and its callers (`exec` tests): entries begun the way a command
//! begins them, without repeating the command's bookkeeping in every test. Compiled for tests only.

use serde_json::Value;

use super::{ChangeState, EntryHead, EntryKind, Journal, Op, PlannedChange, RowResult};

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

    /// Records row `applied` as applied and row `failed` as failed with `error`.
    pub(crate) fn record_applied_and_failed(&mut self, applied: i64, failed: i64, error: &str) {
        self.record_results(&[
            RowResult::new(applied, ChangeState::Applied),
            RowResult {
                error: Some(error.into()),
                ..RowResult::new(failed, ChangeState::Failed)
            },
        ])
        .expect("results are recorded");
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
