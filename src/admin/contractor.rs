//! `sayso admin contractor NAME --object Case --read … --edit …`: the contractor set-up from the
//! connected-app walk-throughs in one command — an API-only integration user, a permission set with
//! exactly those object and field rights assigned to it, and a client-credentials connected app
//! running as that user, whose consumer key and secret are shown once.
//!
//! The sandbox does it through its `sayso/contractor` resource. A real org makes these in Setup and
//! the Metadata API (the consumer secret is only ever shown in Setup), so there [`checklist`] gives
//! the steps instead. Nothing here prints.

use serde::Serialize;
use serde_json::json;

use super::{Error, Result, text};
use crate::auth::Secret;
use crate::salesforce::{Client, Idempotency};

/// What the contractor gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractorOptions {
    /// The contractor's name (user, permission set and app are named after it).
    pub name: String,
    /// The one object it works on.
    pub object: String,
    /// Fields it may read.
    pub read: Vec<String>,
    /// Fields it may read and edit.
    pub edit: Vec<String>,
}

impl ContractorOptions {
    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::BadRequest`] without a name, an object, or any field.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::BadRequest("the contractor needs a name".into()));
        }
        if !crate::soql::builder::is_valid_name(&self.object) {
            return Err(Error::BadRequest(format!(
                "`{}` is not an object name",
                self.object
            )));
        }
        if self.read.is_empty() && self.edit.is_empty() {
            return Err(Error::BadRequest(
                "give fields with --read and/or --edit".into(),
            ));
        }
        for f in self.read.iter().chain(&self.edit) {
            if !crate::soql::builder::is_valid_name(f) {
                return Err(Error::BadRequest(format!("`{f}` is not a field name")));
            }
        }
        Ok(())
    }
}

/// What the sandbox created.
#[derive(Debug, Clone, Serialize)]
pub struct Contractor {
    /// The integration user's id.
    pub user_id: String,
    /// Its username.
    pub username: String,
    /// Its profile.
    pub profile: String,
    /// The permission set assigned to it.
    pub permission_set: String,
    /// The connected app's name.
    pub connected_app: String,
    /// Consumer key.
    pub client_id: String,
    /// Consumer secret (shown once; redacted in `Debug`).
    #[serde(skip)]
    pub client_secret: Secret,
}

/// Creates the contractor in the sandbox.
///
/// # Errors
/// [`Error::BadRequest`] for bad options; the sandbox's errors (unknown object or field, duplicate
/// name, INSUFFICIENT_ACCESS for non-admins).
pub async fn create_in_sandbox(client: &Client, opts: &ContractorOptions) -> Result<Contractor> {
    opts.validate()?;
    let body =
        json!({"name": opts.name, "object": opts.object, "read": opts.read, "edit": opts.edit});
    let out = client
        .post_json("sayso/contractor", &body, Idempotency::Once)
        .await?;
    let secret = text(&out, "clientSecret");
    if secret.is_empty() {
        return Err(Error::Decode(
            "the contractor answer has no consumer secret".into(),
        ));
    }
    Ok(Contractor {
        user_id: text(&out, "userId"),
        username: text(&out, "username"),
        profile: text(&out, "profile"),
        permission_set: text(&out, "permissionSet"),
        connected_app: text(&out, "connectedApp"),
        client_id: text(&out, "clientId"),
        client_secret: Secret::new(secret),
    })
}

/// The steps for a real org, in order.
pub fn checklist(opts: &ContractorOptions) -> Vec<String> {
    let object = &opts.object;
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    vec![
        format!(
            "Setup > Users > New User: \"{} Integration\", user license \"Salesforce Integration\", profile \"Minimum Access - API Only Integrations\"; no role unless records must be shared through one",
            opts.name
        ),
        format!(
            "Setup > Permission Sets > New: \"{} API Access\", license \"Salesforce API Integration\"",
            opts.name
        ),
        format!(
            "  Object Settings > {object}: Read{}; nothing else (no Create, Delete, View All or Modify All)",
            if opts.edit.is_empty() { "" } else { " and Edit" }
        ),
        format!("  Field permissions on {object}: Read {}; Read and Edit {}; every other field unchecked", list(&opts.read), list(&opts.edit)),
        "  Manage Assignments > Add Assignment: the integration user only".to_string(),
        format!(
            "Share the {object} records the contractor works on with the integration user (assign them, or add a sharing rule); with a Private default it sees nothing else"
        ),
        format!(
            "Setup > App Manager > New Connected App \"{}\": Enable OAuth Settings, scope \"Manage user data via APIs (api)\" only, Enable Client Credentials Flow; no refresh_token, no full",
            opts.name
        ),
        "  Manage > Edit Policies: Permitted Users \"Admin approved users are pre-authorized\"; Run As: the integration user; IP Relaxation \"Enforce IP restrictions\" with the contractor's IP ranges; Timeout Value 1 hour".to_string(),
        "  Manage Consumer Details: copy the consumer key and secret once, into the contractor's secret store; never email them".to_string(),
        "Check: `sayso login --client-credentials` with that key and secret, then `sayso admin apps` shows the app as ok".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_and_the_checklist_names_the_rights() {
        let mut o = ContractorOptions {
            name: "Acme".into(),
            object: "Case".into(),
            read: vec!["Subject".into()],
            edit: vec!["Status".into()],
        };
        assert!(o.validate().is_ok());
        let steps = checklist(&o).join("\n");
        assert!(
            steps.contains("Read Subject; Read and Edit Status"),
            "{steps}"
        );
        assert!(steps.contains("Minimum Access - API Only Integrations"));
        o.edit = vec!["Status' OR x".into()];
        assert!(o.validate().is_err());
        o.edit.clear();
        o.read.clear();
        assert!(o.validate().is_err());
    }
}
