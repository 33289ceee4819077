//! The journal: an append-only SQLite log (under `SAYSO_HOME`) of every command that changed the org —
//! who, when, the phrase, each record's old and new values, created ids and the outcome.
//!
//! Owns the journal file only. Rows are never updated or deleted: a change is written as *planned*
//! before it is sent and its *result* is appended after, so a process killed at any moment leaves a
//! record of what may have been written. An entry's status is the latest row of `entry_status`; an
//! undo is a new entry that points at the one it reverts. Called by `exec` and `app`; does no network.
//!
//! Beside the log, one scratch area: *stages*. A bulk change too large to hold in memory is written
//! to a stage while its records are read, previewed and confirmed from there, and moved into a new
//! entry in one statement when it is applied ([`Journal::begin_from_stage`]). Stages are not part of
//! the log: a cancelled one is dropped, and one left by a killed process is dropped a day later.
//!
//! Also beside the log, in [`queue`]: the offline queue (commands said while the org could not
//! be reached) and the values of records last seen, for the queue's conflict check; and in
//! `readback`, a temporary scratch table of records read back for a large undo or retry.

mod queue;
mod readback;
#[cfg(test)]
pub(crate) mod testing;

pub use queue::{QueueState, QueuedCommand, SeenRecord};
pub use readback::IdRange;

use std::path::Path;

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::id::{ObjectName, RecordId};

/// Journal errors.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed.
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A caller's writer failed while changes were streamed to it.
    #[error("journal: {0}")]
    Io(#[from] std::io::Error),
    /// The journal directory could not be created.
    #[error("journal: cannot create `{path}`")]
    Dir {
        /// Directory.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// What one change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// PATCH of an existing record.
    Update,
    /// POST of a new record.
    Create,
    /// DELETE of a record.
    Delete,
}

impl Op {
    /// `update`, `create`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Update => "update",
            Op::Create => "create",
            Op::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Op {
        match s {
            "create" => Op::Create,
            "delete" => Op::Delete,
            _ => Op::Update,
        }
    }
}

/// A change as planned, before it is sent.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    /// What it does.
    pub op: Op,
    /// Object API name.
    pub sobject: String,
    /// Record id (None for a create until it is made).
    pub record_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Values before (field → value), for updates and deletes.
    pub old: Value,
    /// Values after (field → value).
    pub new: Value,
}

impl PlannedChange {
    /// The object, typed (the journal holds names the org gave).
    pub fn object(&self) -> ObjectName {
        ObjectName::known(self.sobject.clone())
    }

    /// The record id, typed; `None` for a create not yet made (or text that is not an id).
    pub fn id(&self) -> Option<RecordId> {
        self.record_id
            .as_deref()
            .and_then(|s| RecordId::parse(s).ok())
    }
}

/// The state of one change: `Planned → Sent → Applied | Failed | Conflict`, and `Applied →
/// Reverted`. Stored as its word ([`ChangeState::as_str`]) and parsed when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeState {
    /// Journaled, not sent: the org has not seen it.
    Planned,
    /// Sent (or about to be, in a Bulk job whose id is journaled): it may or may not have happened.
    Sent,
    /// The org confirmed it.
    Applied,
    /// The org refused it; nothing was written. `sayso retry` re-sends it.
    Failed,
    /// The record was changed by someone else since it was read: left as it is, never re-sent.
    Conflict,
    /// Applied, then put back by an undo.
    Reverted,
}

impl ChangeState {
    /// The journal's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Planned => "planned",
            ChangeState::Sent => "sent",
            ChangeState::Applied => "applied",
            ChangeState::Failed => "failed",
            ChangeState::Conflict => "conflict",
            ChangeState::Reverted => "reverted",
        }
    }

    /// Parses a stored word (`done`, from journals written before `applied`, is `Applied`).
    pub fn parse(s: &str) -> Option<ChangeState> {
        Some(match s {
            "planned" => ChangeState::Planned,
            "sent" => ChangeState::Sent,
            "applied" | "done" => ChangeState::Applied,
            "failed" => ChangeState::Failed,
            "conflict" => ChangeState::Conflict,
            "reverted" => ChangeState::Reverted,
            _ => return None,
        })
    }

    /// Whether the org did not take it (failed or a conflict): what a run reports as failures.
    pub fn is_refused(self) -> bool {
        matches!(self, ChangeState::Failed | ChangeState::Conflict)
    }

    /// Whether the org may hold it: applied, or sent with no answer (an interrupted run).
    pub fn may_be_applied(self) -> bool {
        matches!(self, ChangeState::Applied | ChangeState::Sent)
    }
}

/// What kind of entry: a command, an undo of one, or a retry of one's failed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A command as the user gave it.
    Command,
    /// Reverts the entry it refers to.
    Undo,
    /// Re-sends the failed changes of the entry it refers to.
    Retry,
}

impl EntryKind {
    /// `command`, `undo`, `retry`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Command => "command",
            EntryKind::Undo => "undo",
            EntryKind::Retry => "retry",
        }
    }

    /// Parses a stored word.
    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "command" => EntryKind::Command,
            "undo" => EntryKind::Undo,
            "retry" => EntryKind::Retry,
            _ => return None,
        })
    }
}

/// How an entry stands: `planned` until its run ends, then how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryStatus {
    /// Started; its run has not ended (or was killed).
    Planned,
    /// Every change was made.
    Applied,
    /// Some changes were made, some not.
    Partial,
    /// Nothing was made.
    Failed,
    /// Records changed underneath; nothing (or not everything) was written.
    Conflict,
    /// The API budget was spent.
    LimitExceeded,
}

impl EntryStatus {
    /// The journal's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Planned => "planned",
            EntryStatus::Applied => "applied",
            EntryStatus::Partial => "partial",
            EntryStatus::Failed => "failed",
            EntryStatus::Conflict => "conflict",
            EntryStatus::LimitExceeded => "limit_exceeded",
        }
    }

    /// Parses a stored word.
    pub fn parse(s: &str) -> Option<EntryStatus> {
        Some(match s {
            "planned" => EntryStatus::Planned,
            "applied" => EntryStatus::Applied,
            "partial" => EntryStatus::Partial,
            "failed" => EntryStatus::Failed,
            "conflict" => EntryStatus::Conflict,
            "limit_exceeded" => EntryStatus::LimitExceeded,
            _ => return None,
        })
    }

    /// Whether some of the entry's changes may be in the org (applied, partial, or unfinished).
    pub fn may_have_written(self) -> bool {
        matches!(
            self,
            EntryStatus::Applied | EntryStatus::Partial | EntryStatus::Planned
        )
    }
}

macro_rules! stored_as_text {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl rusqlite::types::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }
        impl rusqlite::types::FromSql for $t {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                <$t>::parse(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} `{s}`", stringify!($t)).into(),
                    )
                })
            }
        }
    };
}

stored_as_text!(ChangeState);
stored_as_text!(EntryKind);
stored_as_text!(EntryStatus);

/// A change with its latest result.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    /// Row id.
    pub id: i64,
    /// Planned change.
    pub change: PlannedChange,
    /// Latest state.
    pub state: ChangeState,
    /// Error text when failed or a conflict.
    pub error: Option<String>,
    /// For a conflict: the values the record held when it was found changed (field → value).
    pub found: Option<Value>,
}

/// The result of one change, appended to the journal ([`Journal::record_results`]).
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The change's row id.
    pub row: i64,
    /// Its new state.
    pub state: ChangeState,
    /// The record's id, when the org gave one (a create).
    pub record_id: Option<String>,
    /// Why, when failed or a conflict.
    pub error: Option<String>,
    /// For a conflict: what the record held instead.
    pub found: Option<Value>,
}

impl RowResult {
    /// A result with no id, error or found values.
    pub fn new(row: i64, state: ChangeState) -> RowResult {
        RowResult {
            row,
            state,
            record_id: None,
            error: None,
            found: None,
        }
    }
}

/// One journal entry (a command, an undo or a retry).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Entry number (1, 2, …).
    pub id: i64,
    /// When it started (RFC 3339, UTC).
    pub at: String,
    /// Who ran it (username).
    pub user: String,
    /// The phrase as given.
    pub phrase: String,
    /// A command, an undo or a retry.
    pub kind: EntryKind,
    /// The entry this one reverts or retries.
    pub refers_to: Option<i64>,
    /// Latest status.
    pub status: EntryStatus,
    /// Latest message.
    pub message: String,
    /// The program it came through when not the CLI: an MCP client's name (`claude-ai`).
    pub client: Option<String>,
}

/// The append-only journal.
pub struct Journal {
    conn: Connection,
    owner: Owner,
    /// Written into each entry this journal starts ([`Journal::set_client`]).
    client: Option<String>,
}

/// This process as the owner of the entries it starts: a token written into each entry, and a
/// lock file (`runs/<token>.lock` beside the journal) locked for as long as the process lives.
/// An unfinished entry whose owner's lock is free was left by a process that is gone.
struct Owner {
    token: String,
    lock: Option<(std::path::PathBuf, std::fs::File)>,
}

impl Owner {
    fn new(dir: Option<&Path>) -> Owner {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let lock = dir.and_then(|dir| {
            let runs = dir.join("runs");
            private_dir(&runs).ok()?;
            let path = runs.join(format!("{token}.lock"));
            let file = std::fs::File::create(&path).ok()?;
            file.try_lock().ok()?;
            Some((path, file))
        });
        Owner { token, lock }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some((path, file)) = self.lock.take() {
            let _ = std::fs::remove_file(&path);
            drop(file);
        }
    }
}

/// A Bulk job a run started and did not see to the end ([`Journal::open_jobs`]).
#[derive(Debug, Clone)]
pub struct OpenJob {
    /// Its journal row.
    pub row: i64,
    /// The Bulk API job id.
    pub job_id: String,
}

/// How the journal file is written: write-ahead log, synced at every commit.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entry (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT NOT NULL, phrase TEXT NOT NULL,
  kind TEXT NOT NULL, refers_to INTEGER);
CREATE TABLE IF NOT EXISTS entry_status (
  id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS change (
  id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL, seq INTEGER NOT NULL, op TEXT NOT NULL,
  sobject TEXT NOT NULL, record_id TEXT, name TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS change_result (
  id INTEGER PRIMARY KEY, change_id INTEGER NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL,
  record_id TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS change_entry ON change(entry_id);
CREATE TABLE IF NOT EXISTS bulk_job (
  id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL, job_id TEXT NOT NULL, first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL, at TEXT NOT NULL, finished INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS result_change ON change_result(change_id);
CREATE INDEX IF NOT EXISTS status_entry ON entry_status(entry_id);
CREATE INDEX IF NOT EXISTS change_entry_record ON change(entry_id, substr(record_id, 1, 15));
CREATE INDEX IF NOT EXISTS change_entry_seq ON change(entry_id, seq);
-- AUTOINCREMENT: a stage id is never reused, so a plan that names a dropped stage finds nothing.
CREATE TABLE IF NOT EXISTS stage (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stage_change (
  stage_id INTEGER NOT NULL, seq INTEGER NOT NULL, op TEXT NOT NULL, sobject TEXT NOT NULL,
  record_id TEXT, name TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
  PRIMARY KEY (stage_id, seq));
";

/// The columns of a change with its latest result, as [`row_to_change`] reads them.
const CHANGE_COLUMNS: &str = "c.id, c.op, c.sobject, c.record_id, c.name, c.old, c.new,
    (SELECT state FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1),
    (SELECT record_id FROM change_result r WHERE r.change_id = c.id AND r.record_id IS NOT NULL ORDER BY r.id DESC LIMIT 1),
    (SELECT error FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1),
    c.seq,
    (SELECT found FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1)";

/// The latest state of change `c` (`planned` when it has no result), as SQL.
const LATEST_STATE: &str = "coalesce((SELECT state FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1), 'planned')";

/// The shape of an entry ([`Journal::entry_shape`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryShape {
    /// How many changes it holds.
    pub changes: usize,
    /// Whether every change is an update.
    pub only_updates: bool,
    /// Its objects (at most two).
    pub objects: Vec<String>,
}

/// How long a stage nobody applied or dropped is kept.
const STAGE_MAX_AGE_HOURS: i64 = 24;

/// Counts of an entry's changes by latest state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// Confirmed by the org.
    pub applied: usize,
    /// Refused (re-sent by `sayso retry`).
    pub failed: usize,
    /// Left as they are: changed by someone else.
    pub conflict: usize,
    /// Not confirmed either way (planned or sent).
    pub pending: usize,
    /// Applied, then undone.
    pub reverted: usize,
}

impl StateCounts {
    /// Every change of the entry.
    pub fn total(&self) -> usize {
        self.applied + self.failed + self.conflict + self.pending + self.reverted
    }

    /// Changes the org did not take (failed or conflicts).
    pub fn refused(&self) -> usize {
        self.failed + self.conflict
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    ///
    /// # Errors
    /// [`JournalError`] when the file can't be opened.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent() {
            private_dir(dir).map_err(|source| JournalError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        create_private(path)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(PRAGMAS)?;
        set_up(&mut conn)?;
        let owner = Owner::new(path.parent());
        // The journal holds record data: readable by its owner only (the WAL files too).
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            private_file(Path::new(&p))?;
        }
        Ok(Journal {
            conn,
            owner,
            client: None,
        })
    }

    /// An in-memory journal (tests).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn in_memory() -> Result<Journal, JournalError> {
        let mut conn = Connection::open_in_memory()?;
        set_up(&mut conn)?;
        Ok(Journal {
            conn,
            owner: Owner::new(None),
            client: None,
        })
    }

    /// Names the program the entries started from now on come through (an MCP client), or
    /// `None` for the CLI.
    pub fn set_client(&mut self, client: Option<String>) {
        self.client = client;
    }

    /// Starts an entry and writes its planned changes, in one transaction. Returns the entry id and
    /// the change row ids in order.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn begin(
        &mut self,
        head: EntryHead<'_>,
        changes: &[PlannedChange],
    ) -> Result<(i64, Vec<i64>), JournalError> {
        let tx = self.conn.transaction()?;
        let entry = insert_entry(&tx, owner_of(&self.owner.token, &self.client), head)?;
        let ids = insert_changes(&tx, INSERT_CHANGE, entry, 0, changes)?;
        tx.commit()?;
        Ok((entry, ids))
    }

    /// Appends results for changes (one transaction).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn record_results(&mut self, results: &[RowResult]) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        {
            let at = now();
            let mut stmt = tx.prepare(
                "INSERT INTO change_result (change_id, at, state, record_id, error, found) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in results {
                let found = r.found.as_ref().map(Value::to_string);
                stmt.execute(params![r.row, at, r.state, r.record_id, r.error, found])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Appends a status for an entry.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn set_status(
        &mut self,
        entry: i64,
        status: EntryStatus,
        message: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO entry_status (entry_id, at, status, message) VALUES (?1, ?2, ?3, ?4)",
            params![entry, now(), status, message],
        )?;
        Ok(())
    }

    /// The most recent entries, newest first.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn entries(&self, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.at, e.user, e.phrase, e.kind, e.refers_to,
                    (SELECT status FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1),
                    (SELECT message FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1),
                    e.client
             FROM entry e ORDER BY e.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], row_to_entry)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// One entry by number.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn entry(&self, id: i64) -> Result<Option<Entry>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT e.id, e.at, e.user, e.phrase, e.kind, e.refers_to,
                    (SELECT status FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1),
                    (SELECT message FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1),
                    e.client
                 FROM entry e WHERE e.id = ?1",
                params![id],
                row_to_entry,
            )
            .optional()?)
    }

    /// The changes of an entry with their latest results, in plan order.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn changes(&self, entry: i64) -> Result<Vec<ChangeRow>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change c WHERE c.entry_id = ?1 ORDER BY c.seq"
        ))?;
        let rows = stmt.query_map(params![entry], row_to_change)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Up to `limit` changes of an entry after position `after` (`None`: from the start), in plan
    /// order, each with its position: a large entry is read a page at a time.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn changes_page(
        &self,
        entry: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, ChangeRow)>, JournalError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change c WHERE c.entry_id = ?1 AND c.seq > ?2 ORDER BY c.seq LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![entry, after.unwrap_or(-1), limit as i64], |r| {
            Ok((r.get::<_, i64>(10)?, row_to_change(r)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The first `limit` changes of an entry whose latest state is `state`, in plan order.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn changes_in_state(
        &self,
        entry: i64,
        state: ChangeState,
        limit: usize,
    ) -> Result<Vec<ChangeRow>, JournalError> {
        self.changes_in_states(entry, &[state], limit)
    }

    /// The first `limit` changes of an entry whose latest state is one of `states`, in plan order.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn changes_in_states(
        &self,
        entry: i64,
        states: &[ChangeState],
        limit: usize,
    ) -> Result<Vec<ChangeRow>, JournalError> {
        let words: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let words = serde_json::to_string(&words).unwrap_or_default();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change c WHERE c.entry_id = ?1
               AND {LATEST_STATE} IN (SELECT value FROM json_each(?2))
             ORDER BY c.seq LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![entry, words, limit as i64], row_to_change)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Calls `f(position, record id, new values)` for up to `limit` changes of an entry after
    /// position `after` (`None`: from the start) and up to position `upto` (`None`: to the end)
    /// that have no result yet, in plan order: what a Bulk job's CSV needs, a row at a time.
    /// Returns the last position seen.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn for_each_new_value(
        &self,
        entry: i64,
        after: Option<i64>,
        upto: Option<i64>,
        limit: usize,
        mut f: impl FnMut(i64, Option<&str>, &Value),
    ) -> Result<Option<i64>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, record_id, new FROM change c WHERE entry_id = ?1 AND seq > ?2 AND seq <= ?4
               AND NOT EXISTS (SELECT 1 FROM change_result r WHERE r.change_id = c.id)
             ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![
            entry,
            after.unwrap_or(-1),
            limit as i64,
            upto.unwrap_or(i64::MAX)
        ])?;
        let mut last = None;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let id: Option<String> = r.get(1)?;
            let new: String = r.get(2)?;
            let new: Value = serde_json::from_str(&new).unwrap_or(Value::Null);
            f(seq, id.as_deref(), &new);
            last = Some(seq);
        }
        Ok(last)
    }

    /// Calls `f` with each change of an entry in plan order without holding them all.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite, or [`JournalError::Io`] with the first error `f` returns.
    pub fn for_each_change(
        &self,
        entry: i64,
        mut f: impl FnMut(ChangeRow) -> std::io::Result<()>,
    ) -> Result<(), JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change c WHERE c.entry_id = ?1 ORDER BY c.seq"
        ))?;
        let rows = stmt.query_map(params![entry], row_to_change)?;
        for row in rows {
            f(row?)?;
        }
        Ok(())
    }

    /// How many of an entry's changes are done, failed, or still planned.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn state_counts(&self, entry: i64) -> Result<StateCounts, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT (SELECT state FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1) AS st,
                    COUNT(*)
             FROM change c WHERE c.entry_id = ?1 GROUP BY st",
        )?;
        let mut counts = StateCounts::default();
        let rows = stmt.query_map(params![entry], |r| {
            Ok((r.get::<_, Option<ChangeState>>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (state, n) = row?;
            let n = usize::try_from(n).unwrap_or(0);
            match state.unwrap_or(ChangeState::Planned) {
                ChangeState::Applied => counts.applied += n,
                ChangeState::Failed => counts.failed += n,
                ChangeState::Conflict => counts.conflict += n,
                ChangeState::Planned | ChangeState::Sent => counts.pending += n,
                ChangeState::Reverted => counts.reverted += n,
            }
        }
        Ok(counts)
    }

    /// Records results of an entry's changes by record id (as Bulk API result files name them;
    /// compared on the 15-character id), in one transaction. `failed` pairs an id with its error.
    /// Ids the entry does not hold are ignored.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn record_by_record_id<'a>(
        &mut self,
        entry: i64,
        done: impl IntoIterator<Item = &'a str>,
        failed: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        {
            let at = now();
            let mut stmt = tx.prepare(
                "INSERT INTO change_result (change_id, at, state, record_id, error)
                 SELECT c.id, ?3, ?4, NULL, ?5 FROM change c
                 WHERE c.entry_id = ?1 AND substr(c.record_id, 1, 15) = substr(?2, 1, 15)",
            )?;
            for id in done {
                stmt.execute(params![
                    entry,
                    id,
                    at,
                    ChangeState::Applied,
                    Option::<&str>::None
                ])?;
            }
            for (id, error) in failed {
                stmt.execute(params![entry, id, at, ChangeState::Failed, error])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks every change of an entry still planned or sent as failed with `error` (the rest of
    /// a run that stopped, when the org is known not to hold it). A change sent in a Bulk job
    /// whose results were never read ([`Journal::job_finished`] not called) stays `sent`: the org
    /// may hold it, and the next command reads it back. Returns how many.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn fail_unrecorded(&mut self, entry: i64, error: &str) -> Result<usize, JournalError> {
        Ok(self.conn.execute(
            &format!(
                "INSERT INTO change_result (change_id, at, state, record_id, error)
                 SELECT c.id, ?2, ?4, NULL, ?3 FROM change c
                 WHERE c.entry_id = ?1 AND {LATEST_STATE} IN (?5, ?6)
                   AND NOT EXISTS (SELECT 1 FROM bulk_job b WHERE b.entry_id = c.entry_id
                                   AND b.finished = 0 AND c.seq BETWEEN b.first_seq AND b.last_seq)"
            ),
            params![
                entry,
                now(),
                error,
                ChangeState::Failed,
                ChangeState::Planned,
                ChangeState::Sent
            ],
        )?)
    }

    /// Marks every change of an entry whose latest state is `state` as failed with `error`.
    /// Returns how many.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn fail_in_state(
        &mut self,
        entry: i64,
        state: ChangeState,
        error: &str,
    ) -> Result<usize, JournalError> {
        Ok(self.conn.execute(
            &format!(
                "INSERT INTO change_result (change_id, at, state, record_id, error)
                 SELECT c.id, ?2, ?4, NULL, ?3 FROM change c
                 WHERE c.entry_id = ?1 AND {LATEST_STATE} = ?5"
            ),
            params![entry, now(), error, ChangeState::Failed, state],
        )?)
    }

    /// Marks the changes of an entry at positions in `first..=last` that have no result yet as
    /// [`ChangeState::Sent`] (a Bulk job is about to carry them). Returns how many.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn mark_sent(&mut self, entry: i64, first: i64, last: i64) -> Result<usize, JournalError> {
        Ok(self.conn.execute(
            "INSERT INTO change_result (change_id, at, state)
             SELECT c.id, ?2, ?5 FROM change c
             WHERE c.entry_id = ?1 AND c.seq BETWEEN ?3 AND ?4
               AND NOT EXISTS (SELECT 1 FROM change_result r WHERE r.change_id = c.id)",
            params![entry, now(), first, last, ChangeState::Sent],
        )?)
    }

    /// Appends planned changes to an entry at positions `first`, `first + 1`, … (one
    /// transaction); returns their row ids. For entries built a page at a time.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn append_changes(
        &mut self,
        entry: i64,
        first: usize,
        changes: &[PlannedChange],
    ) -> Result<Vec<i64>, JournalError> {
        let tx = self.conn.transaction()?;
        let ids = insert_changes(&tx, INSERT_CHANGE, entry, first, changes)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Starts a `retry` entry holding the updates of `from` the org refused ([`ChangeState::Failed`]:
    /// not conflicts, not unconfirmed ones), copied in one statement. Returns the entry and how
    /// many it holds.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn begin_retry_of_updates(
        &mut self,
        user: &str,
        phrase: &str,
        from: i64,
    ) -> Result<(i64, usize), JournalError> {
        let (entry, _) = self.begin(
            EntryHead::new(user, phrase, EntryKind::Retry, Some(from)),
            &[],
        )?;
        let n = self.conn.execute(
            &format!(
                "INSERT INTO change (entry_id, seq, op, sobject, record_id, name, old, new)
                 SELECT ?1, c.seq, c.op, c.sobject, c.record_id, c.name, c.old, c.new FROM change c
                 WHERE c.entry_id = ?2 AND c.op = ?3 AND {LATEST_STATE} = ?4
                 ORDER BY c.seq"
            ),
            params![entry, from, Op::Update.as_str(), ChangeState::Failed],
        )?;
        Ok((entry, n))
    }

    /// What an entry holds: how many changes, whether all are updates, and its objects (at most
    /// two are listed: enough to tell one from several).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn entry_shape(&self, entry: i64) -> Result<EntryShape, JournalError> {
        let (changes, updates): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), coalesce(SUM(op = 'update'), 0) FROM change WHERE entry_id = ?1",
            params![entry],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT sobject FROM change WHERE entry_id = ?1 LIMIT 2")?;
        let objects = stmt
            .query_map(params![entry], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(EntryShape {
            changes: usize::try_from(changes).unwrap_or(0),
            only_updates: changes == updates,
            objects,
        })
    }

    /// Every field some change of an entry writes, in name order.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn new_fields(&self, entry: i64) -> Result<Vec<String>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT j.key FROM change c, json_each(c.new) j WHERE c.entry_id = ?1 ORDER BY j.key",
        )?;
        let rows = stmt.query_map(params![entry], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }

    /// Starts a stage for a bulk change (and drops stages older than a day). Returns its id.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn stage_begin(&mut self) -> Result<i64, JournalError> {
        let cutoff = (chrono::Utc::now() - chrono::Duration::hours(STAGE_MAX_AGE_HOURS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let tx = self.conn.transaction()?;
        delete_stages(&tx, StagesOf::OlderThan(&cutoff))?;
        tx.execute("INSERT INTO stage (at) VALUES (?1)", params![now()])?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// Appends changes to a stage at positions `first`, `first + 1`, … (one transaction).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn stage_append(
        &mut self,
        stage: i64,
        first: usize,
        changes: &[PlannedChange],
    ) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        insert_changes(&tx, INSERT_STAGE_CHANGE, stage, first, changes)?;
        tx.commit()?;
        Ok(())
    }

    /// The first `limit` changes of a stage (previews).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn stage_sample(
        &self,
        stage: i64,
        limit: usize,
    ) -> Result<Vec<PlannedChange>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT op, sobject, record_id, name, old, new FROM stage_change WHERE stage_id = ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![stage, limit as i64], |r| {
            let old: String = r.get(4)?;
            let new: String = r.get(5)?;
            Ok(PlannedChange {
                op: Op::parse(&r.get::<_, String>(0)?),
                sobject: r.get(1)?,
                record_id: r.get(2)?,
                name: r.get(3)?,
                old: serde_json::from_str(&old).unwrap_or(Value::Null),
                new: serde_json::from_str(&new).unwrap_or(Value::Null),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Drops a stage (a cancelled bulk change).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn stage_drop(&mut self, stage: i64) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        delete_stages(&tx, StagesOf::Id(stage))?;
        tx.commit()?;
        Ok(())
    }

    /// Starts an entry whose planned changes are a stage's, moved in one transaction (the stage
    /// is dropped). Returns the entry id and how many changes it holds; `None` when the stage is
    /// gone (dropped as stale, or applied already).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn begin_from_stage(
        &mut self,
        head: EntryHead<'_>,
        stage: i64,
    ) -> Result<Option<(i64, usize)>, JournalError> {
        let tx = self.conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM stage WHERE id = ?1", params![stage], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let entry = insert_entry(&tx, owner_of(&self.owner.token, &self.client), head)?;
        let n = tx.execute(
            "INSERT INTO change (entry_id, seq, op, sobject, record_id, name, old, new)
             SELECT ?1, seq, op, sobject, record_id, name, old, new FROM stage_change WHERE stage_id = ?2 ORDER BY seq",
            params![entry, stage],
        )?;
        delete_stages(&tx, StagesOf::Id(stage))?;
        tx.commit()?;
        Ok(Some((entry, n)))
    }

    /// Entries reverted by an undo that finished (`applied` or `partial`).
    fn undone(entries: &[Entry]) -> HashSet<i64> {
        entries
            .iter()
            .filter(|e| {
                e.kind == EntryKind::Undo
                    && matches!(e.status, EntryStatus::Applied | EntryStatus::Partial)
            })
            .filter_map(|e| e.refers_to)
            .collect()
    }

    /// Whether `id` or, for a retry, the entry it retries (and so on up) was undone.
    fn undone_in(entries: &[Entry], undone: &HashSet<i64>, mut id: i64) -> bool {
        let by_id: HashMap<i64, &Entry> = entries.iter().map(|e| (e.id, e)).collect();
        loop {
            if undone.contains(&id) {
                return true;
            }
            match by_id.get(&id) {
                Some(e) if e.kind == EntryKind::Retry => match e.refers_to {
                    Some(up) => id = up,
                    None => return false,
                },
                _ => return false,
            }
        }
    }

    /// An entry and its retries (and their retries), oldest first: what undoing the entry reverts.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn family(&self, entry: i64) -> Result<Vec<Entry>, JournalError> {
        let mut all = self.entries(100_000)?;
        all.reverse();
        let mut ids = vec![entry];
        let mut out: Vec<Entry> = all.iter().filter(|e| e.id == entry).cloned().collect();
        for e in &all {
            if e.kind == EntryKind::Retry && e.refers_to.is_some_and(|r| ids.contains(&r)) {
                ids.push(e.id);
                out.push(e.clone());
            }
        }
        Ok(out)
    }

    /// The entry `sayso undo [N]` means: N = None → the latest command not yet undone that may
    /// have written something (itself or a retry of it); otherwise entry number N.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn undo_target(&self, n: Option<i64>) -> Result<Option<Entry>, JournalError> {
        if let Some(n) = n {
            return self.entry(n);
        }
        let all = self.entries(100_000)?;
        let undone = Self::undone(&all);
        for e in all.iter().filter(|e| e.kind == EntryKind::Command) {
            if Self::undone_in(&all, &undone, e.id) {
                continue;
            }
            if self
                .family(e.id)?
                .iter()
                .any(|f| f.status.may_have_written())
            {
                return Ok(Some(e.clone()));
            }
        }
        Ok(None)
    }

    /// Whether an entry has already been undone (a retry: or the entry it retries).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn is_undone(&self, entry: i64) -> Result<bool, JournalError> {
        let all = self.entries(100_000)?;
        let undone = Self::undone(&all);
        Ok(Self::undone_in(&all, &undone, entry))
    }

    /// The retry entry that already re-sent `entry`'s failed changes, if any.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn retried_by(&self, entry: i64) -> Result<Option<i64>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM entry WHERE kind = ?1 AND refers_to = ?2 ORDER BY id LIMIT 1",
                params![EntryKind::Retry, entry],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The entry `sayso retry` re-sends: the latest command or retry that has failed changes and
    /// was neither undone nor retried already.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn retry_target(&self) -> Result<Option<Entry>, JournalError> {
        let all = self.entries(1000)?;
        let undone = Self::undone(&all);
        for e in all.iter().filter(|e| e.kind != EntryKind::Undo) {
            if Self::undone_in(&all, &undone, e.id) || self.retried_by(e.id)?.is_some() {
                continue;
            }
            // Counted in SQLite: an entry may hold a million changes.
            if self.state_counts(e.id)?.failed > 0 {
                return Ok(Some(e.clone()));
            }
        }
        Ok(None)
    }

    /// Journals that a Bulk job `job_id` carries `entry`'s unsent rows at positions
    /// `first..=last`, and marks them sent, in one transaction, before its data is uploaded.
    /// Returns the job's journal row.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn job_started(
        &mut self,
        entry: i64,
        job_id: &str,
        first: i64,
        last: i64,
    ) -> Result<i64, JournalError> {
        let tx = self.conn.transaction()?;
        let at = now();
        tx.execute(
            "INSERT INTO bulk_job (entry_id, job_id, first_seq, last_seq, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![entry, job_id, first, last, at],
        )?;
        let row = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO change_result (change_id, at, state)
             SELECT c.id, ?2, ?5 FROM change c
             WHERE c.entry_id = ?1 AND c.seq BETWEEN ?3 AND ?4
               AND NOT EXISTS (SELECT 1 FROM change_result r WHERE r.change_id = c.id)",
            params![entry, at, first, last, ChangeState::Sent],
        )?;
        tx.commit()?;
        Ok(row)
    }

    /// Journals that a Bulk job's results are recorded (or that it was aborted).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn job_finished(&mut self, row: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE bulk_job SET finished = 1 WHERE id = ?1",
            params![row],
        )?;
        Ok(())
    }

    /// The Bulk jobs of an entry not seen to the end.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn open_jobs(&self, entry: i64) -> Result<Vec<OpenJob>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, job_id FROM bulk_job WHERE entry_id = ?1 AND finished = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![entry], |r| {
            Ok(OpenJob {
                row: r.get(0)?,
                job_id: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Entries whose run never ended (still `planned`) and whose process is gone: what the
    /// next command reconciles first. Oldest first.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn abandoned(&self) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.owner, e.id FROM entry e
             WHERE (SELECT status FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1) = ?1
             ORDER BY e.id",
        )?;
        let rows = stmt.query_map(params![EntryStatus::Planned], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (owner, id) = row?;
            if owner.as_deref().is_some_and(|o| self.owner_alive(o)) {
                continue;
            }
            if let Some(e) = self.entry(id)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Entries whose run ended (their status is no longer `planned`) with a Bulk job whose
    /// results could not be read: their rows stay `sent` until the next command reads them back.
    /// Oldest first.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn unsettled(&self) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT b.entry_id FROM bulk_job b WHERE b.finished = 0
               AND coalesce((SELECT status FROM entry_status s WHERE s.entry_id = b.entry_id
                             ORDER BY s.id DESC LIMIT 1), ?1) != ?1
             ORDER BY b.entry_id",
        )?;
        let ids = stmt
            .query_map(params![EntryStatus::Planned], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        self.entries_by_id(ids)
    }

    /// The entries with these ids that exist, in the order given.
    fn entries_by_id(&self, ids: Vec<i64>) -> Result<Vec<Entry>, JournalError> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(e) = self.entry(id)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Whether the process that owns `token` is still running (this one is).
    fn owner_alive(&self, token: &str) -> bool {
        if token == self.owner.token {
            return true;
        }
        let Some((mine, _)) = &self.owner.lock else {
            return false;
        };
        let Some(runs) = mine.parent() else {
            return false;
        };
        let path = runs.join(format!("{token}.lock"));
        match std::fs::File::open(&path) {
            Err(_) => false,
            Ok(f) => match f.try_lock() {
                Ok(()) => {
                    let _ = std::fs::remove_file(&path);
                    false
                }
                Err(_) => true,
            },
        }
    }

    /// Marks as [`ChangeState::Reverted`] the applied changes of `entries` whose record an
    /// applied change of `undo_entry` put back (matched on the 15-character id). Returns how many.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn mark_reverted(
        &mut self,
        undo_entry: i64,
        entries: &[i64],
    ) -> Result<usize, JournalError> {
        let list = serde_json::to_string(entries).unwrap_or_default();
        Ok(self.conn.execute(
            &format!(
                "INSERT INTO change_result (change_id, at, state)
                 SELECT c.id, ?2, ?4 FROM change c
                 WHERE c.entry_id IN (SELECT value FROM json_each(?3)) AND {LATEST_STATE} = ?5
                   AND substr(coalesce((SELECT record_id FROM change_result r WHERE r.change_id = c.id
                                        AND r.record_id IS NOT NULL ORDER BY r.id DESC LIMIT 1), c.record_id), 1, 15)
                       IN (SELECT substr(u.record_id, 1, 15) FROM change u WHERE u.entry_id = ?1
                           AND coalesce((SELECT state FROM change_result r WHERE r.change_id = u.id ORDER BY r.id DESC LIMIT 1), 'planned') = ?5)"
            ),
            params![
                undo_entry,
                now(),
                list,
                ChangeState::Reverted,
                ChangeState::Applied
            ],
        )?)
    }
}

/// Creates the tables and brings an older journal up to date, in one write transaction, so
/// processes opening a new journal at the same moment do not both add the same column.
fn set_up(conn: &mut Connection) -> Result<(), JournalError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    migrate(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Adds what journals written by earlier versions lack: the `found` column of results.
fn migrate(conn: &Connection) -> Result<(), JournalError> {
    if conn
        .prepare("SELECT found FROM change_result LIMIT 0")
        .is_err()
    {
        conn.execute_batch("ALTER TABLE change_result ADD COLUMN found TEXT")?;
    }
    if conn.prepare("SELECT owner FROM entry LIMIT 0").is_err() {
        conn.execute_batch("ALTER TABLE entry ADD COLUMN owner TEXT")?;
    }
    if conn.prepare("SELECT client FROM entry LIMIT 0").is_err() {
        conn.execute_batch("ALTER TABLE entry ADD COLUMN client TEXT")?;
    }
    Ok(())
}

/// Creates `dir` (and its parents) and makes it private to its owner (0700 on Unix).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 when it does not exist, so it is never readable by others,
/// not even for a moment (SQLite gives its WAL files the database file's mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        r => r.map(drop),
    }
}

/// Makes an existing file private to its owner (0600 on Unix); a missing file is fine.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            r => r?,
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Who starts an entry: this process's owner token and the client it came through.
struct EntryOwner<'a> {
    token: &'a str,
    client: Option<&'a str>,
}

fn owner_of<'a>(token: &'a str, client: &'a Option<String>) -> EntryOwner<'a> {
    EntryOwner {
        token,
        client: client.as_deref(),
    }
}

/// Which stages [`delete_stages`] drops.
enum StagesOf<'a> {
    /// One stage.
    Id(i64),
    /// Every stage begun before this time (RFC 3339).
    OlderThan(&'a str),
}

/// Drops stages and their changes.
fn delete_stages(tx: &rusqlite::Transaction<'_>, which: StagesOf<'_>) -> Result<(), JournalError> {
    let (matching, value): (&str, rusqlite::types::Value) = match which {
        StagesOf::Id(id) => ("id = ?1", id.into()),
        StagesOf::OlderThan(at) => ("at < ?1", at.to_string().into()),
    };
    tx.execute(
        &format!(
            "DELETE FROM stage_change WHERE stage_id IN (SELECT id FROM stage WHERE {matching})"
        ),
        params![value],
    )?;
    tx.execute(
        &format!("DELETE FROM stage WHERE {matching}"),
        params![value],
    )?;
    Ok(())
}

/// Who starts an entry, what they said, and what kind of entry it is.
#[derive(Debug, Clone, Copy)]
pub struct EntryHead<'a> {
    /// The user's username.
    pub user: &'a str,
    /// The phrase as said.
    pub phrase: &'a str,
    /// A command, an undo, a retry…
    pub kind: EntryKind,
    /// The entry an undo or a retry is about.
    pub refers_to: Option<i64>,
}

impl<'a> EntryHead<'a> {
    /// The head of an entry of `kind` (about `refers_to`, for an undo or a retry).
    pub fn new(user: &'a str, phrase: &'a str, kind: EntryKind, refers_to: Option<i64>) -> Self {
        EntryHead {
            user,
            phrase,
            kind,
            refers_to,
        }
    }
}

/// Starts an entry (status `planned`) inside `tx`; returns its id.
fn insert_entry(
    tx: &rusqlite::Transaction<'_>,
    owner: EntryOwner<'_>,
    head: EntryHead<'_>,
) -> Result<i64, JournalError> {
    let at = now();
    let EntryHead {
        user,
        phrase,
        kind,
        refers_to,
    } = head;
    tx.execute(
        "INSERT INTO entry (at, user, phrase, kind, refers_to, owner, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![at, user, phrase, kind, refers_to, owner.token, owner.client],
    )?;
    let entry = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO entry_status (entry_id, at, status, message) VALUES (?1, ?2, ?3, '')",
        params![entry, at, EntryStatus::Planned],
    )?;
    Ok(entry)
}

const INSERT_CHANGE: &str = "INSERT INTO change (entry_id, seq, op, sobject, record_id, name, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const INSERT_STAGE_CHANGE: &str = "INSERT INTO stage_change (stage_id, seq, op, sobject, record_id, name, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Inserts planned changes of an entry or a stage (`owner`) at positions `first`, `first + 1`,
/// … with `sql` ([`INSERT_CHANGE`] or [`INSERT_STAGE_CHANGE`]); returns their row ids.
fn insert_changes(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    owner: i64,
    first: usize,
    changes: &[PlannedChange],
) -> Result<Vec<i64>, JournalError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let mut ids = Vec::with_capacity(changes.len());
    for (k, c) in changes.iter().enumerate() {
        stmt.execute(params![
            owner,
            (first + k) as i64,
            c.op.as_str(),
            c.sobject,
            c.record_id,
            c.name,
            c.old.to_string(),
            c.new.to_string()
        ])?;
        ids.push(tx.last_insert_rowid());
    }
    Ok(ids)
}

fn row_to_change(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRow> {
    let old: String = r.get(5)?;
    let new: String = r.get(6)?;
    let planned_id: Option<String> = r.get(3)?;
    let result_id: Option<String> = r.get(8)?;
    let state: Option<ChangeState> = r.get(7)?;
    Ok(ChangeRow {
        id: r.get(0)?,
        change: PlannedChange {
            op: Op::parse(&r.get::<_, String>(1)?),
            sobject: r.get(2)?,
            record_id: result_id.or(planned_id),
            name: r.get(4)?,
            old: serde_json::from_str(&old).unwrap_or(Value::Null),
            new: serde_json::from_str(&new).unwrap_or(Value::Null),
        },
        state: state.unwrap_or(ChangeState::Planned),
        error: r.get(9)?,
        found: r
            .get::<_, Option<String>>(11)?
            .and_then(|f| serde_json::from_str(&f).ok()),
    })
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        at: r.get(1)?,
        user: r.get(2)?,
        phrase: r.get(3)?,
        kind: r.get(4)?,
        refers_to: r.get(5)?,
        status: r
            .get::<_, Option<EntryStatus>>(6)?
            .unwrap_or(EntryStatus::Planned),
        message: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        client: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(id: &str) -> PlannedChange {
        PlannedChange {
            op: Op::Update,
            sobject: "Opportunity".into(),
            record_id: Some(id.into()),
            name: "Project Titan".into(),
            old: json!({"StageName": "Prospecting"}),
            new: json!({"StageName": "Negotiation/Review"}),
        }
    }

    #[test]
    fn planned_then_result_is_latest_state() {
        let mut j = Journal::in_memory().unwrap();
        let (entry, ids) = j.begin_test("update titan", &[update("006A")]);
        assert_eq!(j.changes(entry).unwrap()[0].state, ChangeState::Planned);
        j.record_results(&[RowResult::new(ids[0], ChangeState::Applied)])
            .unwrap();
        j.set_status(entry, EntryStatus::Applied, "ok").unwrap();
        let c = j.changes(entry).unwrap();
        assert_eq!(c[0].state, ChangeState::Applied);
        assert_eq!(c[0].change.old["StageName"], "Prospecting");
        assert_eq!(
            j.entry(entry).unwrap().unwrap().status,
            EntryStatus::Applied
        );
    }

    #[test]
    fn processes_opening_a_new_journal_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let opens: Vec<_> = (0..8)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || Journal::open(&p).map(|_| ()))
            })
            .collect();
        for o in opens {
            o.join().unwrap().expect("each open succeeds");
        }
    }

    #[test]
    fn an_old_journal_gets_the_client_column_and_entries_carry_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            // A journal as written before the `client` column existed.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch("ALTER TABLE entry ADD COLUMN owner TEXT; INSERT INTO entry (at, user, phrase, kind) VALUES ('2026-01-01T00:00:00Z', 'dana', 'old', 'command')").unwrap();
        }
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.entries(5).unwrap()[0].client, None);
        j.set_client(Some("claude-ai".into()));
        let (entry, _) = j.begin_test("update titan", &[update("006A")]);
        assert_eq!(
            j.entry(entry).unwrap().unwrap().client.as_deref(),
            Some("claude-ai")
        );
        j.set_client(None);
        let (cli, _) = j.begin_test("update titan", &[update("006A")]);
        assert_eq!(j.entry(cli).unwrap().unwrap().client, None);
    }

    #[test]
    fn created_id_comes_from_result() {
        let mut j = Journal::in_memory().unwrap();
        let mut c = update("x");
        c.op = Op::Create;
        c.record_id = None;
        let (entry, ids) = j.begin_test("create", &[c]);
        j.record_results(&[RowResult {
            record_id: Some("003NEW".into()),
            ..RowResult::new(ids[0], ChangeState::Applied)
        }])
        .unwrap();
        assert_eq!(
            j.changes(entry).unwrap()[0].change.record_id.as_deref(),
            Some("003NEW")
        );
    }

    #[test]
    fn undo_target_skips_undone_entries() {
        let mut j = Journal::in_memory().unwrap();
        let (a, _) = j.begin_test("one", &[update("1")]);
        j.set_status(a, EntryStatus::Applied, "").unwrap();
        let (b, _) = j.begin_test("two", &[update("2")]);
        j.set_status(b, EntryStatus::Applied, "").unwrap();
        assert_eq!(j.undo_target(None).unwrap().unwrap().id, b);
        let (u, _) = j
            .begin(
                EntryHead::new("dana", "undo", EntryKind::Undo, Some(b)),
                &[],
            )
            .unwrap();
        j.set_status(u, EntryStatus::Applied, "").unwrap();
        assert_eq!(j.undo_target(None).unwrap().unwrap().id, a);
        assert!(j.is_undone(b).unwrap());
    }

    #[test]
    fn a_stage_becomes_an_entry_exactly_once_and_results_match_by_record_id() {
        let mut j = Journal::in_memory().unwrap();
        let stage = j.stage_begin().unwrap();
        j.stage_append(
            stage,
            0,
            &[update("006A00000000001AAA"), update("006A00000000002AAA")],
        )
        .unwrap();
        j.stage_append(stage, 2, &[update("006A00000000003AAA")])
            .unwrap();
        let sample = j.stage_sample(stage, 2).unwrap();
        assert_eq!(sample.len(), 2);
        assert_eq!(sample[1].record_id.as_deref(), Some("006A00000000002AAA"));
        let (entry, n) = j
            .begin_from_stage(
                EntryHead::new("dana", "bulk", EntryKind::Command, None),
                stage,
            )
            .unwrap()
            .unwrap();
        assert_eq!(n, 3);
        // the stage is gone: applying it again starts nothing
        assert!(
            j.begin_from_stage(
                EntryHead::new("dana", "bulk", EntryKind::Command, None),
                stage
            )
            .unwrap()
            .is_none()
        );
        assert!(j.stage_sample(stage, 10).unwrap().is_empty());
        // results by id: a 15-character id names the same record; unknown ids are ignored
        j.record_by_record_id(
            entry,
            ["006A00000000001", "001UNKNOWN000000"],
            [(
                "006A00000000002AAA",
                "FIELD_CUSTOM_VALIDATION_EXCEPTION: no",
            )],
        )
        .unwrap();
        assert_eq!(
            j.state_counts(entry).unwrap(),
            StateCounts {
                applied: 1,
                failed: 1,
                pending: 1,
                ..StateCounts::default()
            }
        );
        assert_eq!(j.fail_unrecorded(entry, "not processed").unwrap(), 1);
        assert_eq!(j.fail_unrecorded(entry, "not processed").unwrap(), 0);
        let failed = j.changes_in_state(entry, ChangeState::Failed, 10).unwrap();
        assert_eq!(failed.len(), 2);
        assert!(
            failed[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("FIELD_CUSTOM")
        );
        assert_eq!(failed[1].error.as_deref(), Some("not processed"));
        // paging in plan order
        let page = j.changes_page(entry, None, 2).unwrap();
        assert_eq!(page.len(), 2);
        let rest = j.changes_page(entry, Some(page[1].0), 2).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(
            rest[0].1.change.record_id.as_deref(),
            Some("006A00000000003AAA")
        );
        assert_eq!(j.retry_target().unwrap().unwrap().id, entry);
    }

    #[test]
    fn dropped_and_stale_stages_are_gone() {
        let mut j = Journal::in_memory().unwrap();
        let a = j.stage_begin().unwrap();
        j.stage_append(a, 0, &[update("1")]).unwrap();
        j.stage_drop(a).unwrap();
        assert!(
            j.begin_from_stage(EntryHead::new("dana", "x", EntryKind::Command, None), a)
                .unwrap()
                .is_none()
        );
        let old = j.stage_begin().unwrap();
        j.stage_append(old, 0, &[update("2")]).unwrap();
        j.conn
            .execute(
                "UPDATE stage SET at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
                [old],
            )
            .unwrap();
        let fresh = j.stage_begin().unwrap();
        assert!(j.stage_sample(old, 10).unwrap().is_empty());
        assert!(
            j.begin_from_stage(EntryHead::new("dana", "x", EntryKind::Command, None), old)
                .unwrap()
                .is_none()
        );
        assert!(
            j.begin_from_stage(EntryHead::new("dana", "x", EntryKind::Command, None), fresh)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn streaming_changes_stops_at_the_writer_error() {
        let mut j = Journal::in_memory().unwrap();
        let (entry, _) = j.begin_test("bulk", &[update("1"), update("2")]);
        let mut seen = 0;
        let err = j
            .for_each_change(entry, |_| {
                seen += 1;
                Err(std::io::Error::other("pipe closed"))
            })
            .unwrap_err();
        assert_eq!(seen, 1);
        assert!(err.to_string().contains("pipe closed"));
    }

    #[test]
    fn retry_target_finds_failed_changes() {
        let mut j = Journal::in_memory().unwrap();
        let (a, ids) = j.begin_test("bulk", &[update("1"), update("2")]);
        j.record_applied_and_failed(ids[0], ids[1], "boom");
        j.set_status(a, EntryStatus::Partial, "").unwrap();
        assert_eq!(j.retry_target().unwrap().unwrap().id, a);
    }
}
