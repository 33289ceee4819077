//! Typed results of the REST API: query pages, save results, describe outcomes, Bulk 2.0 jobs.
//!
//! Records stay `serde_json::Value` maps: their shape depends on the query and the org's schema.

use serde::{Deserialize, Serialize};

/// One page of a SOQL query.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    /// Rows matching the query in total (all pages).
    pub total_size: u64,
    /// Whether this is the last page.
    pub done: bool,
    /// The next page, relative to the host.
    #[serde(default)]
    pub next_records_url: Option<String>,
    /// The rows of this page.
    #[serde(default)]
    pub records: Vec<serde_json::Value>,
}

/// All rows of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// `totalSize` (for `SELECT COUNT()` the count, with no rows).
    pub total_size: u64,
    /// Every row of every page.
    pub records: Vec<serde_json::Value>,
}

/// An error inside a save result (collections use `statusCode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveError {
    /// `statusCode`/`errorCode`.
    #[serde(alias = "errorCode")]
    pub status_code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// Fields concerned.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The result of a create/update/upsert/delete of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveResult {
    /// The record id, when known.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether it worked.
    pub success: bool,
    /// Errors when it did not.
    #[serde(default)]
    pub errors: Vec<SaveError>,
    /// Upserts: whether a record was inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

/// The outcome of a conditional describe.
#[derive(Debug, Clone, PartialEq)]
pub enum Describe {
    /// The describe changed (or no condition was sent).
    Modified {
        /// The describe JSON.
        body: serde_json::Value,
        /// The `Last-Modified` header, for the next `If-Modified-Since`.
        last_modified: Option<String>,
    },
    /// `304 Not Modified`: the cached describe is still valid.
    NotModified,
}

/// Bulk 2.0 ingest operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BulkOperation {
    /// Insert.
    Insert,
    /// Update (rows carry Id).
    Update,
    /// Upsert by `externalIdFieldName`.
    Upsert,
    /// Delete (rows carry Id).
    Delete,
    /// Hard delete.
    HardDelete,
}

impl BulkOperation {
    /// Whether a retried upload of the same job could not duplicate records.
    pub fn is_repeatable(self) -> bool {
        !matches!(self, BulkOperation::Insert)
    }
}

/// The request to create an ingest job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestJobSpec {
    /// sObject API name.
    pub object: String,
    /// Operation.
    pub operation: BulkOperation,
    /// Required for upsert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id_field_name: Option<String>,
    /// `CSV`.
    pub content_type: String,
    /// `COMMA`.
    pub column_delimiter: String,
    /// `LF`.
    pub line_ending: String,
}

impl IngestJobSpec {
    /// A CSV/COMMA/LF job.
    pub fn new(object: &str, operation: BulkOperation) -> IngestJobSpec {
        IngestJobSpec {
            object: object.to_string(),
            operation,
            external_id_field_name: None,
            content_type: "CSV".into(),
            column_delimiter: "COMMA".into(),
            line_ending: "LF".into(),
        }
    }
}

/// Bulk 2.0 job info.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// Job id (`750…`).
    pub id: String,
    /// `Open`, `UploadComplete`, `InProgress`, `JobComplete`, `Failed`, `Aborted`.
    pub state: String,
    /// sObject.
    #[serde(default)]
    pub object: Option<String>,
    /// Operation.
    #[serde(default)]
    pub operation: Option<String>,
    /// Rows processed (failed included).
    #[serde(default)]
    pub number_records_processed: Option<u64>,
    /// Rows failed.
    #[serde(default)]
    pub number_records_failed: Option<u64>,
    /// Set on `Failed` jobs.
    #[serde(default)]
    pub error_message: Option<String>,
}

impl JobInfo {
    /// Whether the job will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self.state.as_str(), "JobComplete" | "Failed" | "Aborted")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_info_parses_a_salesforce_answer() {
        let j: JobInfo = serde_json::from_str(
            r#"{"id":"7505fEXAMPLE4C2AAM","operation":"insert","object":"Account","state":"JobComplete",
            "apiVersion":63.0,"numberRecordsProcessed":3,"numberRecordsFailed":1}"#,
        )
        .unwrap();
        assert!(j.is_terminal());
        assert_eq!(j.number_records_failed, Some(1));
    }

    #[test]
    fn save_results_accept_both_error_keys() {
        let r: Vec<SaveResult> = serde_json::from_str(
            r#"[{"id":"001","success":true,"errors":[]},
                {"success":false,"errors":[{"statusCode":"MALFORMED_ID","message":"m","fields":["Id"]}]},
                {"success":false,"errors":[{"errorCode":"X","message":"m"}]}]"#,
        )
        .unwrap();
        assert_eq!(r[1].errors[0].status_code, "MALFORMED_ID");
        assert_eq!(r[2].errors[0].status_code, "X");
    }

    #[test]
    fn job_spec_serialises_camel_case() {
        let mut s = IngestJobSpec::new("Contact", BulkOperation::Upsert);
        s.external_id_field_name = Some("Ext__c".into());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["operation"], "upsert");
        assert_eq!(v["externalIdFieldName"], "Ext__c");
        assert_eq!(v["columnDelimiter"], "COMMA");
    }
}
