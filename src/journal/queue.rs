//! The offline queue and the record cache, two tables beside the journal's log in the same file.
//!
//! *Queue*: commands said while the org could not be reached, in the order said, with the time
//! said and the values the rep could see then. Unlike the log, a queued row changes state
//! (`queued` → `applied`, `conflict`, `failed` or `dropped`): it is a to-do list, and the changes
//! a synced command makes are journaled as an ordinary entry ([`QueuedCommand::entry`]).
//!
//! *Seen records*: the last values of records the rep was shown or changed, kept so a command
//! queued offline knows what the rep saw (its conflict check's *base*).
//!
//! Part of [`crate::journal`]; does no network. Called by `app::offline`.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Journal, JournalError, now};

const QUEUE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS offline_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    said_at TEXT NOT NULL,
    user TEXT NOT NULL,
    phrase TEXT NOT NULL,
    seen TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT 'null',
    entry_id INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_record (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    name TEXT NOT NULL,
    fields TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
";

/// Where a queued command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for `sayso sync`.
    Queued,
    /// Synced: its changes are journal entry [`QueuedCommand::entry`].
    Applied,
    /// Someone else changed what it changes since it was said; nothing written. It stays in the
    /// queue until dropped or synced with `--prefer mine`.
    Conflict,
    /// The org refused it at sync time (not found, invalid, …); it stays in the queue.
    Failed,
    /// Removed by `sayso queue drop`.
    Dropped,
}

impl QueueState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Applied => "applied",
            QueueState::Conflict => "conflict",
            QueueState::Failed => "failed",
            QueueState::Dropped => "dropped",
        }
    }

    fn parse(s: &str) -> QueueState {
        match s {
            "applied" => QueueState::Applied,
            "conflict" => QueueState::Conflict,
            "failed" => QueueState::Failed,
            "dropped" => QueueState::Dropped,
            _ => QueueState::Queued,
        }
    }

    /// Whether the command still waits to be synced (queued, or held by a conflict or failure).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            QueueState::Queued | QueueState::Conflict | QueueState::Failed
        )
    }
}

/// One command of the offline queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedCommand {
    /// Queue number (what `sayso queue drop N` takes).
    pub id: i64,
    /// When it was said (RFC 3339, UTC, milliseconds).
    pub said_at: String,
    /// Who said it (username).
    pub user: String,
    /// The phrase as said.
    pub phrase: String,
    /// The records the rep could see when saying it ([`SeenRecord`]s), by id.
    pub seen: Value,
    /// Where it stands.
    pub state: QueueState,
    /// The latest message (why it conflicts or failed).
    pub message: String,
    /// The latest sync's details (a conflict's base/theirs/yours).
    pub detail: Value,
    /// The journal entry of its changes, once synced.
    pub entry: Option<i64>,
    /// When its state last changed.
    pub updated_at: String,
}

/// The last values of a record the rep was shown or changed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SeenRecord {
    /// Record id.
    pub id: String,
    /// Object API name.
    pub sobject: String,
    /// Display name.
    pub name: String,
    /// Field API name → value, as last seen.
    pub fields: Map<String, Value>,
    /// When they were seen (RFC 3339, UTC).
    pub seen_at: String,
}

fn ensure(conn: &Connection) -> Result<(), JournalError> {
    conn.execute_batch(QUEUE_SCHEMA)?;
    Ok(())
}

fn queued_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedCommand> {
    let seen: String = r.get(4)?;
    let state: String = r.get(5)?;
    let detail: String = r.get(7)?;
    Ok(QueuedCommand {
        id: r.get(0)?,
        said_at: r.get(1)?,
        user: r.get(2)?,
        phrase: r.get(3)?,
        seen: serde_json::from_str(&seen).unwrap_or(Value::Null),
        state: QueueState::parse(&state),
        message: r.get(6)?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
        entry: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

const QUEUE_COLUMNS: &str =
    "id, said_at, user, phrase, seen, state, message, detail, entry_id, updated_at";

impl Journal {
    /// Appends a command to the offline queue; returns its number.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn queue_push(
        &self,
        user: &str,
        phrase: &str,
        said_at: &str,
        seen: &Value,
    ) -> Result<i64, JournalError> {
        ensure(&self.conn)?;
        self.conn.execute(
            "INSERT INTO offline_queue (said_at, user, phrase, seen, state, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                said_at,
                user,
                phrase,
                seen.to_string(),
                QueueState::Queued.as_str(),
                now()
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The queue in the order said: the pending commands only, or (`all`) every one not dropped.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn queue_list(&self, all: bool) -> Result<Vec<QueuedCommand>, JournalError> {
        ensure(&self.conn)?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {QUEUE_COLUMNS} FROM offline_queue WHERE state != 'dropped' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], queued_of)?;
        let mut out = Vec::new();
        for row in rows {
            let q = row?;
            if all || q.state.is_pending() {
                out.push(q);
            }
        }
        Ok(out)
    }

    /// How many commands wait to be synced.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn queue_pending(&self) -> Result<usize, JournalError> {
        ensure(&self.conn)?;
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM offline_queue WHERE state IN ('queued', 'conflict', 'failed')",
            [],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Queued command `id`, whatever its state.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn queue_get(&self, id: i64) -> Result<Option<QueuedCommand>, JournalError> {
        ensure(&self.conn)?;
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {QUEUE_COLUMNS} FROM offline_queue WHERE id = ?1"),
                params![id],
                queued_of,
            )
            .optional()?)
    }

    /// Records where queued command `id` stands after a sync (or a drop).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn queue_set(
        &self,
        id: i64,
        state: QueueState,
        message: &str,
        detail: &Value,
        entry: Option<i64>,
    ) -> Result<(), JournalError> {
        ensure(&self.conn)?;
        self.conn.execute(
            "UPDATE offline_queue SET state = ?2, message = ?3, detail = ?4,
                 entry_id = COALESCE(?5, entry_id), updated_at = ?6 WHERE id = ?1",
            params![
                id,
                state.as_str(),
                message,
                detail.to_string(),
                entry,
                now()
            ],
        )?;
        Ok(())
    }

    /// Remembers the values of records the rep was shown or changed (merged into what was
    /// seen before), in one transaction.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn seen_records_put(&self, recs: &[SeenRecord]) -> Result<(), JournalError> {
        if recs.is_empty() {
            return Ok(());
        }
        ensure(&self.conn)?;
        let tx = self.conn.unchecked_transaction()?;
        for rec in recs {
            self.seen_record(rec)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Remembers the values of a record the rep was shown or changed (merged into what was
    /// seen before).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn seen_record(&self, rec: &SeenRecord) -> Result<(), JournalError> {
        ensure(&self.conn)?;
        let old: Option<String> = self
            .conn
            .query_row(
                "SELECT fields FROM seen_record WHERE id = ?1",
                params![rec.id],
                |r| r.get(0),
            )
            .optional()?;
        let mut fields: Map<String, Value> = old
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        fields.extend(rec.fields.clone());
        self.conn.execute(
            "INSERT INTO seen_record (id, sobject, name, fields, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET sobject = ?2, name = ?3, fields = ?4, seen_at = ?5",
            params![
                rec.id,
                rec.sobject,
                rec.name,
                Value::Object(fields).to_string(),
                rec.seen_at
            ],
        )?;
        Ok(())
    }

    /// Every record seen, for matching the names in a phrase said offline.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn seen_records(&self) -> Result<Vec<SeenRecord>, JournalError> {
        ensure(&self.conn)?;
        let mut stmt = self
            .conn
            .prepare("SELECT id, sobject, name, fields, seen_at FROM seen_record ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let fields: String = r.get(3)?;
            Ok(SeenRecord {
                id: r.get(0)?,
                sobject: r.get(1)?,
                name: r.get(2)?,
                fields: serde_json::from_str(&fields).unwrap_or_default(),
                seen_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queue_keeps_order_and_state() {
        let j = Journal::in_memory().unwrap();
        let a = j
            .queue_push("dana", "set x", "2026-01-01T00:00:00.000Z", &json!({}))
            .unwrap();
        let b = j
            .queue_push("dana", "set y", "2026-01-01T00:00:01.000Z", &json!({}))
            .unwrap();
        assert_eq!(j.queue_pending().unwrap(), 2);
        j.queue_set(a, QueueState::Dropped, "", &Value::Null, None)
            .unwrap();
        j.queue_set(b, QueueState::Applied, "ok", &Value::Null, Some(7))
            .unwrap();
        assert_eq!(j.queue_pending().unwrap(), 0);
        let all = j.queue_list(true).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].entry, Some(7));
        assert_eq!(all[0].state, QueueState::Applied);
    }

    #[test]
    fn seen_fields_merge() {
        let j = Journal::in_memory().unwrap();
        let mut r = SeenRecord {
            id: "006A".into(),
            sobject: "Opportunity".into(),
            name: "Initech".into(),
            fields: json!({"Amount": 1}).as_object().unwrap().clone(),
            seen_at: "t1".into(),
        };
        j.seen_record(&r).unwrap();
        r.fields = json!({"StageName": "Won"}).as_object().unwrap().clone();
        j.seen_record(&r).unwrap();
        let all = j.seen_records().unwrap();
        assert_eq!(all[0].fields["Amount"], json!(1));
        assert_eq!(all[0].fields["StageName"], json!("Won"));
    }
}
