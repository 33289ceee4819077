//! Reading back the current values of a large entry's records (a streamed undo, retry or
//! reconciliation): one Bulk API 2.0 query job per object, `SELECT Id, LastModifiedDate,
//! <fields> FROM X WHERE Id >= :min AND Id <= :max` over the id range the journal holds, its
//! result pages streamed into the journal's scratch table ([`Journal::readback_store`]), then
//! looked up a journal page at a time ([`current_of`]). Calls grow with the pages of the read
//! (50,000 rows each), not with the records: no `Id IN (200 ids)` reads. Memory holds one page.
//!
//! Owns the read only; what the values mean (reverting rules, conflicts) is [`super::undo`]'s.
//! Imports the journal, the SOQL builder and `Org`.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::ExecError;
use crate::journal::{ChangeRow, IdRange, Journal};
use crate::salesforce::org::{Org, OrgError};
use crate::soql::ast::{Literal, Operator};
use crate::soql::builder::{self as query, and, compare, to_soql};

/// Rows per page of a read-back query job's results.
const READ_PAGE: usize = 50_000;

/// The SOQL of the read of one object's range: `Id`, `LastModifiedDate` and the fields, between
/// the smallest and the largest id (values escaped by the builder).
pub(super) fn range_query(range: &IdRange) -> String {
    let mut select = vec!["Id".to_string(), "LastModifiedDate".to_string()];
    for f in &range.fields {
        if !select.contains(f) {
            select.push(f.clone());
        }
    }
    let mut q = query::select(&range.sobject, &select);
    q.where_clause = and(vec![
        compare("Id", Operator::Ge, Literal::string(&range.min)),
        compare("Id", Operator::Le, Literal::string(&range.max)),
    ]);
    to_soql(&q)
}

/// Reads the current values of every record the updates of `entries` name into the journal's
/// scratch table (emptied first). Returns how many records were read back, or the org's error
/// (then the scratch table holds a part only and must not be used).
///
/// # Errors
/// [`ExecError::Journal`].
pub(super) async fn load(
    org: &Org,
    journal: &mut Journal,
    entries: &[i64],
) -> Result<Result<usize, OrgError>, ExecError> {
    journal.readback_reset()?;
    let mut kept = 0;
    for range in journal.update_ranges(entries)? {
        let mut job = match org.bulk_query(&range_query(&range)).await {
            Ok(job) => job,
            Err(e) => return Ok(Err(e)),
        };
        loop {
            match org.bulk_query_page(&mut job, READ_PAGE).await {
                Ok(Some(rows)) => kept += journal.readback_store(entries, &rows)?,
                Ok(None) => break,
                Err(e) => return Ok(Err(e)),
            }
        }
        // The org keeps a query job's results for a week otherwise; failing to delete them
        // changes nothing read.
        if let Err(e) = org.bulk_query_delete(job).await {
            tracing::debug!(error = %e, "could not delete a read-back query job");
        }
    }
    tracing::debug!(records = kept, "read back through bulk query jobs");
    Ok(Ok(kept))
}

/// The read-back values of the records `rows` name, keyed by 15-character id, as
/// [`super::undo::read_current`] returns them from REST (a record not read back is absent).
///
/// # Errors
/// [`ExecError::Journal`].
pub(super) fn current_of(
    journal: &Journal,
    rows: &[&ChangeRow],
) -> Result<HashMap<String, Json>, ExecError> {
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|r| r.change.record_id.as_deref())
        .map(|id| id.chars().take(15).collect())
        .collect();
    Ok(journal.readback_get(&keys)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_query_escapes_its_ids_and_reads_the_fields() {
        let q = range_query(&IdRange {
            sobject: "Opportunity".into(),
            min: "006A0000000000'".into(),
            max: "006A00000000009".into(),
            fields: vec!["NextStep".into(), "Id".into()],
            count: 2,
        });
        assert_eq!(
            q,
            "SELECT Id, LastModifiedDate, NextStep FROM Opportunity WHERE Id >= '006A0000000000\\'' AND Id <= '006A00000000009'"
        );
    }
}
