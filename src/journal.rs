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

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

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

/// The state of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeState {
    /// Written to the journal, not confirmed by the org (may or may not have happened).
    Planned,
    /// The org confirmed it.
    Done,
    /// The org refused it.
    Failed,
}

impl ChangeState {
    fn as_str(self) -> &'static str {
        match self {
            ChangeState::Planned => "planned",
            ChangeState::Done => "done",
            ChangeState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> ChangeState {
        match s {
            "done" => ChangeState::Done,
            "failed" => ChangeState::Failed,
            _ => ChangeState::Planned,
        }
    }
}

/// A change with its latest result.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    /// Row id.
    pub id: i64,
    /// Planned change.
    pub change: PlannedChange,
    /// Latest state.
    pub state: ChangeState,
    /// Error text when failed.
    pub error: Option<String>,
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
    /// `command`, `undo` or `retry`.
    pub kind: String,
    /// The entry this one reverts or retries.
    pub refers_to: Option<i64>,
    /// Latest status: `planned`, `applied`, `partial`, `failed`, `conflict`.
    pub status: String,
    /// Latest message.
    pub message: String,
}

/// The append-only journal.
pub struct Journal {
    conn: Connection,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
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
    c.seq";

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
    pub done: usize,
    /// Refused.
    pub failed: usize,
    /// Not confirmed either way.
    pub planned: usize,
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
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Journal { conn })
    }

    /// An in-memory journal (tests).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn in_memory() -> Result<Journal, JournalError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Journal { conn })
    }

    /// Starts an entry and writes its planned changes, in one transaction. Returns the entry id and
    /// the change row ids in order.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn begin(
        &mut self,
        user: &str,
        phrase: &str,
        kind: &str,
        refers_to: Option<i64>,
        changes: &[PlannedChange],
    ) -> Result<(i64, Vec<i64>), JournalError> {
        let tx = self.conn.transaction()?;
        let entry = insert_entry(&tx, user, phrase, kind, refers_to)?;
        let ids = insert_changes(&tx, INSERT_CHANGE, entry, 0, changes)?;
        tx.commit()?;
        Ok((entry, ids))
    }

    /// Appends results for changes (one transaction): `(change row id, state, record id, error)`.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn record_results(
        &mut self,
        results: &[(i64, ChangeState, Option<String>, Option<String>)],
    ) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        {
            let at = now();
            let mut stmt = tx.prepare(
                "INSERT INTO change_result (change_id, at, state, record_id, error) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (id, state, record, error) in results {
                stmt.execute(params![id, at, state.as_str(), record, error])?;
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
        status: &str,
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
                    (SELECT message FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1)
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
                    (SELECT message FROM entry_status s WHERE s.entry_id = e.id ORDER BY s.id DESC LIMIT 1)
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
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM change c WHERE c.entry_id = ?1
               AND coalesce((SELECT state FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1), 'planned') = ?2
             ORDER BY c.seq LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![entry, state.as_str(), limit as i64], row_to_change)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Calls `f(position, record id, new values)` for up to `limit` changes of an entry after
    /// position `after` (`None`: from the start) that have no result yet, in plan order: what a
    /// Bulk job's CSV needs, a row at a time. Returns the last position seen.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn for_each_new_value(
        &self,
        entry: i64,
        after: Option<i64>,
        limit: usize,
        mut f: impl FnMut(i64, Option<&str>, &Value),
    ) -> Result<Option<i64>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, record_id, new FROM change c WHERE entry_id = ?1 AND seq > ?2
               AND NOT EXISTS (SELECT 1 FROM change_result r WHERE r.change_id = c.id)
             ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![entry, after.unwrap_or(-1), limit as i64])?;
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
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (state, n) = row?;
            let n = usize::try_from(n).unwrap_or(0);
            match state.as_deref().map(ChangeState::parse) {
                Some(ChangeState::Done) => counts.done += n,
                Some(ChangeState::Failed) => counts.failed += n,
                _ => counts.planned += n,
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
                stmt.execute(params![entry, id, at, "done", Option::<&str>::None])?;
            }
            for (id, error) in failed {
                stmt.execute(params![entry, id, at, "failed", error])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks every change of an entry that has no result yet as failed with `error` (the rest of
    /// a run that stopped). Returns how many.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn fail_unrecorded(&mut self, entry: i64, error: &str) -> Result<usize, JournalError> {
        Ok(self.conn.execute(
            "INSERT INTO change_result (change_id, at, state, record_id, error)
             SELECT c.id, ?2, 'failed', NULL, ?3 FROM change c
             WHERE c.entry_id = ?1 AND NOT EXISTS (SELECT 1 FROM change_result r WHERE r.change_id = c.id)",
            params![entry, now(), error],
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

    /// Starts a `retry` entry holding the updates of `from` that did not go through and were not
    /// conflicts, copied in one statement. Returns the entry and how many it holds.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn begin_retry_of_updates(
        &mut self,
        user: &str,
        phrase: &str,
        from: i64,
    ) -> Result<(i64, usize), JournalError> {
        let (entry, _) = self.begin(user, phrase, "retry", Some(from), &[])?;
        let n = self.conn.execute(
            "INSERT INTO change (entry_id, seq, op, sobject, record_id, name, old, new)
             SELECT ?1, c.seq, c.op, c.sobject, c.record_id, c.name, c.old, c.new FROM change c
             WHERE c.entry_id = ?2 AND c.op = 'update'
               AND coalesce((SELECT state FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1), 'planned') != 'done'
               AND coalesce((SELECT error FROM change_result r WHERE r.change_id = c.id ORDER BY r.id DESC LIMIT 1), '') NOT LIKE 'conflict:%'
             ORDER BY c.seq",
            params![entry, from],
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
        tx.execute(
            "DELETE FROM stage_change WHERE stage_id IN (SELECT id FROM stage WHERE at < ?1)",
            params![cutoff],
        )?;
        tx.execute("DELETE FROM stage WHERE at < ?1", params![cutoff])?;
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
        tx.execute(
            "DELETE FROM stage_change WHERE stage_id = ?1",
            params![stage],
        )?;
        tx.execute("DELETE FROM stage WHERE id = ?1", params![stage])?;
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
        user: &str,
        phrase: &str,
        kind: &str,
        refers_to: Option<i64>,
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
        let entry = insert_entry(&tx, user, phrase, kind, refers_to)?;
        let n = tx.execute(
            "INSERT INTO change (entry_id, seq, op, sobject, record_id, name, old, new)
             SELECT ?1, seq, op, sobject, record_id, name, old, new FROM stage_change WHERE stage_id = ?2 ORDER BY seq",
            params![entry, stage],
        )?;
        tx.execute(
            "DELETE FROM stage_change WHERE stage_id = ?1",
            params![stage],
        )?;
        tx.execute("DELETE FROM stage WHERE id = ?1", params![stage])?;
        tx.commit()?;
        Ok(Some((entry, n)))
    }

    /// Entries already reverted by an undo entry that finished (`applied`/`partial`).
    fn undone(&self) -> Result<Vec<i64>, JournalError> {
        Ok(self
            .entries(100_000)?
            .into_iter()
            .filter(|e| e.kind == "undo" && matches!(e.status.as_str(), "applied" | "partial"))
            .filter_map(|e| e.refers_to)
            .collect())
    }

    /// The entry `sayso undo [N]` means: N = None → the latest command not yet undone; otherwise
    /// entry number N.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn undo_target(&self, n: Option<i64>) -> Result<Option<Entry>, JournalError> {
        if let Some(n) = n {
            return self.entry(n);
        }
        let undone = self.undone()?;
        Ok(self.entries(100_000)?.into_iter().find(|e| {
            e.kind != "undo"
                && !undone.contains(&e.id)
                && matches!(e.status.as_str(), "applied" | "partial" | "planned")
        }))
    }

    /// Whether an entry has already been undone.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn is_undone(&self, entry: i64) -> Result<bool, JournalError> {
        Ok(self.undone()?.contains(&entry))
    }

    /// The latest entry with failed changes (for `sayso retry`).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn retry_target(&self) -> Result<Option<Entry>, JournalError> {
        for e in self.entries(1000)? {
            if e.kind == "undo" {
                continue;
            }
            // Counted in SQLite: an entry may hold a million changes.
            let counts = self.state_counts(e.id)?;
            if counts.failed + counts.planned > 0 {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }
}

/// Starts an entry (status `planned`) inside `tx`; returns its id.
fn insert_entry(
    tx: &rusqlite::Transaction<'_>,
    user: &str,
    phrase: &str,
    kind: &str,
    refers_to: Option<i64>,
) -> Result<i64, JournalError> {
    let at = now();
    tx.execute(
        "INSERT INTO entry (at, user, phrase, kind, refers_to) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, user, phrase, kind, refers_to],
    )?;
    let entry = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO entry_status (entry_id, at, status, message) VALUES (?1, ?2, 'planned', '')",
        params![entry, at],
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
    let state: Option<String> = r.get(7)?;
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
        state: state
            .as_deref()
            .map(ChangeState::parse)
            .unwrap_or(ChangeState::Planned),
        error: r.get(9)?,
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
        status: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        message: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
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
        let (entry, ids) = j
            .begin("dana", "update titan", "command", None, &[update("006A")])
            .unwrap();
        assert_eq!(j.changes(entry).unwrap()[0].state, ChangeState::Planned);
        j.record_results(&[(ids[0], ChangeState::Done, None, None)])
            .unwrap();
        j.set_status(entry, "applied", "ok").unwrap();
        let c = j.changes(entry).unwrap();
        assert_eq!(c[0].state, ChangeState::Done);
        assert_eq!(c[0].change.old["StageName"], "Prospecting");
        assert_eq!(j.entry(entry).unwrap().unwrap().status, "applied");
    }

    #[test]
    fn created_id_comes_from_result() {
        let mut j = Journal::in_memory().unwrap();
        let mut c = update("x");
        c.op = Op::Create;
        c.record_id = None;
        let (entry, ids) = j.begin("dana", "create", "command", None, &[c]).unwrap();
        j.record_results(&[(ids[0], ChangeState::Done, Some("003NEW".into()), None)])
            .unwrap();
        assert_eq!(
            j.changes(entry).unwrap()[0].change.record_id.as_deref(),
            Some("003NEW")
        );
    }

    #[test]
    fn undo_target_skips_undone_entries() {
        let mut j = Journal::in_memory().unwrap();
        let (a, _) = j
            .begin("dana", "one", "command", None, &[update("1")])
            .unwrap();
        j.set_status(a, "applied", "").unwrap();
        let (b, _) = j
            .begin("dana", "two", "command", None, &[update("2")])
            .unwrap();
        j.set_status(b, "applied", "").unwrap();
        assert_eq!(j.undo_target(None).unwrap().unwrap().id, b);
        let (u, _) = j.begin("dana", "undo", "undo", Some(b), &[]).unwrap();
        j.set_status(u, "applied", "").unwrap();
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
            .begin_from_stage("dana", "bulk", "command", None, stage)
            .unwrap()
            .unwrap();
        assert_eq!(n, 3);
        // the stage is gone: applying it again starts nothing
        assert!(
            j.begin_from_stage("dana", "bulk", "command", None, stage)
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
                done: 1,
                failed: 1,
                planned: 1
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
            j.begin_from_stage("dana", "x", "command", None, a)
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
            j.begin_from_stage("dana", "x", "command", None, old)
                .unwrap()
                .is_none()
        );
        assert!(
            j.begin_from_stage("dana", "x", "command", None, fresh)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn streaming_changes_stops_at_the_writer_error() {
        let mut j = Journal::in_memory().unwrap();
        let (entry, _) = j
            .begin("dana", "bulk", "command", None, &[update("1"), update("2")])
            .unwrap();
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
        let (a, ids) = j
            .begin("dana", "bulk", "command", None, &[update("1"), update("2")])
            .unwrap();
        j.record_results(&[
            (ids[0], ChangeState::Done, None, None),
            (ids[1], ChangeState::Failed, None, Some("boom".into())),
        ])
        .unwrap();
        j.set_status(a, "partial", "").unwrap();
        assert_eq!(j.retry_target().unwrap().unwrap().id, a);
    }
}
