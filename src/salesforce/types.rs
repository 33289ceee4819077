//! Typed results of the REST API the [`super::Client`] reads: query pages and describe outcomes.
//!
//! Records stay `serde_json::Value` maps: their shape depends on the query and the org's schema.

use serde::Deserialize;

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
