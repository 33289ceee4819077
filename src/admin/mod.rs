//! The administrator's side (`sayso admin …`): audit connected apps and their OAuth policies
//! ([`apps`]), list and revoke OAuth grants ([`grants`]), API usage per user and app from Event
//! Monitoring's ApiTotalUsage log files ([`usage`]), and the contractor set-up ([`contractor`]).
//!
//! Runs over [`crate::salesforce::Client`] under an administrator's profile, against the sandbox or
//! a real org; it reads only what a real org's API exposes (`ConnectedApplication` through the
//! Tooling API, `OauthToken`, `EventLogFile`, `User`, `Profile`). Every SOQL text is built with
//! [`crate::soql`]'s builder, never by formatting user text. Pure decisions (risk rules, breach
//! detection, report totals) are separate functions with their own tests. No printing or prompting:
//! the binary (`src/bin/sayso/cmd_admin.rs`) renders and confirms.
//!
//! May import: `salesforce`, `soql`, `auth::Secret`. Never imports `sandbox`.

pub mod apps;
pub mod contractor;
pub mod grants;
pub mod usage;

use std::collections::HashMap;

use crate::salesforce::Client;
use crate::soql::QueryBuilder;

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The org refused or could not be reached.
    #[error(transparent)]
    Api(#[from] crate::salesforce::Error),
    /// A query could not be built (a bug: names are constants).
    #[error("cannot build a query: {0}; this is a bug")]
    Build(#[from] crate::soql::BuildError),
    /// No user with that username.
    #[error("no user `{0}` in this org")]
    UnknownUser(String),
    /// No connected app with that name or consumer key.
    #[error("no connected app `{0}` in this org")]
    UnknownApp(String),
    /// `--token-of` needs `USER@APP`.
    #[error("`{0}` is not USER@APP (for example dana.reyes@demo.sayso.dev@sayso-cli)")]
    BadGrantSpec(String),
    /// The contractor request is incomplete.
    #[error("{0}")]
    BadRequest(String),
    /// An answer did not have the expected shape.
    #[error("unexpected answer from the org: {0}")]
    Decode(String),
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Usernames by user id (18-character ids, also found by their 15-character prefix).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_id: HashMap<String, (String, Option<String>)>,
}

impl Directory {
    /// Reads every user's id, username and profile id.
    ///
    /// # Errors
    /// API failures.
    pub async fn load(client: &Client) -> Result<Directory> {
        let soql = QueryBuilder::select("User", &["Id", "Username", "ProfileId"])?.to_soql();
        let rows = client.query(&soql).await?;
        let mut by_id = HashMap::new();
        for r in rows.records {
            let id = text(&r, "Id");
            let name = text(&r, "Username");
            let profile = r
                .get("ProfileId")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            if !id.is_empty() {
                by_id.insert(id, (name, profile));
            }
        }
        Ok(Directory { by_id })
    }

    /// The username of `id` (15 or 18 characters).
    pub fn username(&self, id: &str) -> Option<&str> {
        self.entry(id).map(|(n, _)| n.as_str())
    }

    /// The profile id of `id`.
    pub fn profile_id(&self, id: &str) -> Option<&str> {
        self.entry(id).and_then(|(_, p)| p.as_deref())
    }

    fn entry(&self, id: &str) -> Option<&(String, Option<String>)> {
        self.by_id.get(id).or_else(|| {
            let short: String = id.chars().take(15).collect();
            self.by_id
                .iter()
                .find(|(k, _)| k.chars().take(15).collect::<String>() == short)
                .map(|(_, v)| v)
        })
    }

    /// The id of `username` (case-insensitive).
    pub fn id_of(&self, username: &str) -> Option<&str> {
        self.by_id
            .iter()
            .find(|(_, (n, _))| n.eq_ignore_ascii_case(username))
            .map(|(id, _)| id.as_str())
    }
}

/// A string field of a record (`""` when absent or not a string).
pub(crate) fn text(record: &serde_json::Value, field: &str) -> String {
    record
        .get(field)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

/// Runs a Tooling API query (`tooling/query?q=`).
///
/// # Errors
/// API failures; [`Error::Decode`] for a body without `records`.
pub(crate) async fn tooling_query(client: &Client, soql: &str) -> Result<Vec<serde_json::Value>> {
    let req = crate::salesforce::Request::get("tooling/query").query("q", soql);
    let body = client.send(&req).await?.json_or_null()?;
    match body.get("records").and_then(|r| r.as_array()) {
        Some(rows) => Ok(rows.clone()),
        None => Err(Error::Decode(
            "a Tooling query answered without `records`".into(),
        )),
    }
}
