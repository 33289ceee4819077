//! Current values read back from the org for a large undo, retry or reconciliation: a scratch
//! table (`temp.readback`, in a temporary file beside the connection, never in the log) filled a
//! Bulk query page at a time and looked up a journal page at a time, so memory holds one page
//! whatever the size of the entry. Also the id ranges (per object) a read must cover, and the
//! creates whose answer was lost (read back by the next command).
//!
//! Part of [`crate::journal`]; does no network. Filled and read by `exec::readback`.

use std::collections::{HashMap, HashSet};

use rusqlite::params;
use serde_json::Value;

use super::{ChangeState, EntryStatus, Journal, JournalError, LATEST_STATE, Op};

/// The updates of some entries on one object, as a read of their records needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRange {
    /// The object.
    pub sobject: String,
    /// The smallest record id (15 characters).
    pub min: String,
    /// The largest record id (15 characters).
    pub max: String,
    /// Every field the updates write (or held before), in name order.
    pub fields: Vec<String>,
    /// How many updates.
    pub count: usize,
}

impl Journal {
    /// Per object, the id range and fields of the updates of `entries` that name a record.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn update_ranges(&self, entries: &[i64]) -> Result<Vec<IdRange>, JournalError> {
        let list = serde_json::to_string(entries).unwrap_or_default();
        let mut stmt = self.conn.prepare(
            "SELECT sobject, min(substr(record_id, 1, 15)), max(substr(record_id, 1, 15)), COUNT(*)
             FROM change WHERE entry_id IN (SELECT value FROM json_each(?1)) AND op = ?2
               AND record_id IS NOT NULL
             GROUP BY sobject ORDER BY sobject",
        )?;
        let rows = stmt.query_map(params![list, Op::Update.as_str()], |r| {
            Ok(IdRange {
                sobject: r.get(0)?,
                min: r.get(1)?,
                max: r.get(2)?,
                fields: Vec::new(),
                count: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })?;
        let mut ranges = rows.collect::<Result<Vec<_>, _>>()?;
        let mut fields = self.conn.prepare(
            "SELECT DISTINCT j.key FROM change c, json_each(c.new) j
             WHERE c.entry_id IN (SELECT value FROM json_each(?1)) AND c.op = ?2 AND c.sobject = ?3
             UNION
             SELECT DISTINCT j.key FROM change c, json_each(c.old) j
             WHERE c.entry_id IN (SELECT value FROM json_each(?1)) AND c.op = ?2 AND c.sobject = ?3
             ORDER BY 1",
        )?;
        for r in &mut ranges {
            r.fields = fields
                .query_map(params![list, Op::Update.as_str(), r.sobject], |row| {
                    row.get(0)
                })?
                .collect::<Result<Vec<String>, _>>()?;
        }
        Ok(ranges)
    }

    /// Empties the read-back scratch table (creating it, in a temporary file, if needed).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn readback_reset(&mut self) -> Result<(), JournalError> {
        // FILE: a read of a million records must not live in memory. Changing the setting drops
        // temporary tables, which is what a reset wants anyway.
        self.conn.execute_batch(
            "PRAGMA temp_store = FILE;
             CREATE TEMP TABLE IF NOT EXISTS readback (key TEXT PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID;
             DELETE FROM temp.readback;",
        )?;
        Ok(())
    }

    /// Stores the rows (as a query returns them, with `Id`) whose record an update of `entries`
    /// names, keyed by 15-character id, in one transaction; others are skipped. Returns how many
    /// were kept.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn readback_store(
        &mut self,
        entries: &[i64],
        rows: &[Value],
    ) -> Result<usize, JournalError> {
        let tx = self.conn.transaction()?;
        let mut kept = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO temp.readback (key, row) SELECT ?1, ?2
                 WHERE EXISTS (SELECT 1 FROM change c WHERE c.entry_id = ?3 AND substr(c.record_id, 1, 15) = ?1)",
            )?;
            for row in rows {
                let Some(id) = row.get("Id").and_then(Value::as_str) else {
                    continue;
                };
                let key: String = id.chars().take(15).collect();
                let text = row.to_string();
                for &e in entries {
                    if stmt.execute(params![key, text, e])? > 0 {
                        kept += 1;
                        break;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(kept)
    }

    /// The stored rows of the records `keys` (15-character ids) name; a record not read back is
    /// absent.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn readback_get(&self, keys: &[String]) -> Result<HashMap<String, Value>, JournalError> {
        let list = serde_json::to_string(keys).unwrap_or_default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, row FROM temp.readback WHERE key IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map(params![list], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (key, text) = row?;
            out.insert(key, serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        Ok(out)
    }

    /// Entries among the latest `recent` whose run ended (status no longer `planned`) with a
    /// create or an update left `sent` (its answer was lost), on an object other than `skip`:
    /// what the next command reads back. Oldest first.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn unconfirmed_writes(
        &self,
        recent: usize,
        skip: &[&str],
    ) -> Result<Vec<super::Entry>, JournalError> {
        let skip = serde_json::to_string(skip).unwrap_or_default();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT DISTINCT c.entry_id FROM change c
             WHERE c.entry_id IN (SELECT id FROM entry ORDER BY id DESC LIMIT ?1)
               AND c.op IN (?2, ?6) AND c.sobject NOT IN (SELECT value FROM json_each(?3))
               AND {LATEST_STATE} = ?4
               AND coalesce((SELECT status FROM entry_status s WHERE s.entry_id = c.entry_id
                             ORDER BY s.id DESC LIMIT 1), ?5) != ?5
             ORDER BY c.entry_id"
        ))?;
        let ids = stmt
            .query_map(
                params![
                    recent as i64,
                    Op::Create.as_str(),
                    skip,
                    ChangeState::Sent,
                    EntryStatus::Planned,
                    Op::Update.as_str()
                ],
                |r| r.get::<_, i64>(0),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        self.entries_by_id(ids)
    }

    /// The records (15-character ids) that creates of entries begun at `since` (RFC 3339, UTC)
    /// or later are known to have made: a record read back for a lost answer must not be one of
    /// them.
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn created_since(&self, since: &str) -> Result<HashSet<String>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT substr(r.record_id, 1, 15) FROM change c JOIN change_result r ON r.change_id = c.id
             WHERE c.entry_id IN (SELECT id FROM entry WHERE at >= ?1) AND c.op = ?2
               AND r.record_id IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![since, Op::Create.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<HashSet<String>, _>>()?)
    }

    /// Drops the read-back scratch table (its temporary file goes with it).
    ///
    /// # Errors
    /// [`JournalError`] from SQLite.
    pub fn readback_drop(&mut self) -> Result<(), JournalError> {
        self.conn
            .execute_batch("DROP TABLE IF EXISTS temp.readback")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::journal::testing::update_of;

    #[test]
    fn rows_of_a_job_whose_results_were_not_read_stay_sent_until_it_is_settled() {
        let mut j = Journal::in_memory().unwrap();
        let ch = |id: &str| update_of(id, json!({"NextStep": "a"}), json!({"NextStep": "b"}));
        let (e, _) = j.begin_test("bulk", &[ch("1"), ch("2"), ch("3")]);
        let job = j.job_started(e, "750X", 0, 1).unwrap();
        assert_eq!(
            j.fail_unrecorded(e, "not sent").unwrap(),
            1,
            "the unsent one only"
        );
        assert!(j.unsettled().unwrap().is_empty(), "its run is not over");
        j.set_status(e, EntryStatus::Partial, "1 unconfirmed")
            .unwrap();
        assert_eq!(j.unsettled().unwrap()[0].id, e);
        assert_eq!(j.state_counts(e).unwrap().pending, 2);
        j.job_finished(job).unwrap();
        assert!(j.unsettled().unwrap().is_empty());
        assert_eq!(j.fail_unrecorded(e, "not processed").unwrap(), 2);
    }

    #[test]
    fn ranges_cover_the_updates_and_only_their_records_are_kept() {
        let mut j = Journal::in_memory().unwrap();
        let (e, _) = j.begin_test(
            "bulk",
            &[
                update_of(
                    "006A00000000002AAA",
                    json!({"NextStep": "a"}),
                    json!({"NextStep": "b"}),
                ),
                update_of(
                    "006A00000000009AAA",
                    json!({"Amount": 1}),
                    json!({"Amount": 2}),
                ),
                update_of(
                    "006A00000000005AAA",
                    json!({"NextStep": "a"}),
                    json!({"NextStep": "b"}),
                ),
            ],
        );
        let r = j.update_ranges(&[e]).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].min, "006A00000000002");
        assert_eq!(r[0].max, "006A00000000009");
        assert_eq!(r[0].fields, ["Amount", "NextStep"]);
        assert_eq!(r[0].count, 3);
        j.readback_reset().unwrap();
        let rows = [
            json!({"Id": "006A00000000002AAA", "NextStep": "b"}),
            json!({"Id": "006A00000000003AAA", "NextStep": "someone else's"}),
            json!({"Id": "006A00000000009AAA", "Amount": "2"}),
        ];
        assert_eq!(j.readback_store(&[e], &rows).unwrap(), 2);
        let got = j
            .readback_get(&[
                "006A00000000002".into(),
                "006A00000000003".into(),
                "006A00000000005".into(),
            ])
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got["006A00000000002"]["NextStep"], "b");
        j.readback_reset().unwrap();
        assert!(
            j.readback_get(&["006A00000000002".into()])
                .unwrap()
                .is_empty()
        );
        j.readback_drop().unwrap();
    }
}
