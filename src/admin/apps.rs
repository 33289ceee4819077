//! `sayso admin apps`: every connected app with its flows, scopes, permitted-users policy, token
//! lifetimes and a risk verdict from [`RULES`].
//!
//! Reads `ConnectedApplication` through the Tooling API, with its `Metadata` (the Metadata API's
//! `ConnectedApp`: `oauthConfig`, `oauthPolicy`, `sessionPolicy`, `ipRanges`); a real org that does
//! not return `Metadata` there gets the object's own fields only, and the settings it cannot see are
//! shown as unknown (read them with the Metadata API). Run-as users are judged by their profile's
//! `PermissionsModifyAllData` / `ViewAllData` / `ManageUsers`. [`assess`] is pure.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{Directory, Result, text, tooling_query};
use crate::salesforce::Client;
use crate::soql::QueryBuilder;

/// Salesforce's default session timeout; a token lifetime above it is no session limit.
pub const DEFAULT_SESSION_MINUTES: u64 = 120;

/// A connected app and its OAuth policies, as far as the org's API shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppInfo {
    /// `ConnectedApplication.Id` (`0H4…`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Consumer key, when the metadata is readable.
    pub client_id: Option<String>,
    /// Enabled flows (`authorization_code`, `refresh_token`, `client_credentials`, `jwt_bearer`, `device`).
    pub flows: Vec<String>,
    /// OAuth scopes in their token form (`api`, `refresh_token`, `full`, custom scopes as named).
    pub scopes: Vec<String>,
    /// `AdminApproved` or `AllSelfAuthorize`.
    pub permitted_users: String,
    /// Profiles pre-authorized for the app.
    pub preauthorized_profiles: Vec<String>,
    /// The user the client credentials flow runs as.
    pub run_as: Option<String>,
    /// Whether that user is an administrator (`None` when unknown).
    pub run_as_admin: Option<bool>,
    /// Access-token (session) lifetime in minutes.
    pub session_minutes: Option<u64>,
    /// `infinite` (valid until revoked) or a lifetime policy.
    pub refresh_token_policy: Option<String>,
    /// Trusted IP ranges of the app.
    pub ip_ranges: Vec<String>,
    /// `ENFORCE`, `BYPASS`, … (IP relaxation).
    pub ip_relaxation: Option<String>,
    /// A high-assurance session is required.
    pub high_assurance: bool,
    /// PKCE is required on the authorization code flow.
    pub pkce_required: bool,
    /// Whether the OAuth settings (metadata) could be read at all.
    pub metadata_known: bool,
}

/// One risk rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The `full` scope: everything the user can do, including the web UI.
    FullScope,
    /// `api` + `refresh_token` to any self-authorizing user, with no PKCE and no pre-authorized profiles.
    SelfAuthorizedOffline,
    /// Client credentials running as an administrator.
    ClientCredentialsAsAdmin,
    /// No trusted IP ranges and no session limit.
    NoNetworkOrSessionLimit,
}

/// The rules in the order they are reported, each with its least-privilege alternative.
pub const RULES: &[(Rule, &str)] = &[
    (
        Rule::FullScope,
        "grant `api` (plus `refresh_token` only if the app must work offline) instead of `full`",
    ),
    (
        Rule::SelfAuthorizedOffline,
        "set Permitted Users to \"Admin approved users are pre-authorized\" and pre-authorize only the profiles or permission sets that need it, or require PKCE",
    ),
    (
        Rule::ClientCredentialsAsAdmin,
        "run client credentials as an API-only integration user with a permission set holding exactly the objects and fields the app needs (`sayso admin contractor`)",
    ),
    (
        Rule::NoNetworkOrSessionLimit,
        "add the app's trusted IP ranges with \"Enforce IP restrictions\", or set a session timeout of at most 2 hours",
    ),
];

/// A rule that fired, with the reason in this app's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// Why it fired for this app.
    pub reason: String,
    /// The least-privilege alternative.
    pub alternative: String,
}

/// An app with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The app.
    pub app: AppInfo,
    /// `flagged` or `ok`.
    pub verdict: &'static str,
    /// Rules that fired (empty = ok).
    pub findings: Vec<Finding>,
    /// Advice that does not flag the app.
    pub notes: Vec<String>,
}

fn alternative(rule: Rule) -> String {
    RULES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, a)| (*a).to_string())
        .unwrap_or_default()
}

/// Judges one app against [`RULES`].
pub fn assess(app: &AppInfo) -> Assessment {
    let has = |s: &str| app.scopes.iter().any(|x| x == s);
    let flow = |f: &str| app.flows.iter().any(|x| x == f);
    let self_authorize = app.permitted_users.eq_ignore_ascii_case("AllSelfAuthorize");
    let mut findings = Vec::new();
    let mut fire = |rule: Rule, reason: String| {
        findings.push(Finding {
            rule,
            reason,
            alternative: alternative(rule),
        })
    };
    if has("full") {
        fire(
            Rule::FullScope,
            "grants the `full` scope: every right of the user, web sessions included".into(),
        );
    }
    let offline = has("refresh_token") || has("offline_access");
    if has("api")
        && offline
        && self_authorize
        && !app.pkce_required
        && app.preauthorized_profiles.is_empty()
    {
        fire(
            Rule::SelfAuthorizedOffline,
            "any user may self-authorize `api` + `refresh_token`, without PKCE or pre-authorized profiles: a leaked consumer key gets long-lived API access".into(),
        );
    }
    if flow("client_credentials") && app.run_as_admin == Some(true) {
        fire(
            Rule::ClientCredentialsAsAdmin,
            format!(
                "client credentials run as administrator `{}`: the consumer secret alone opens the whole org",
                app.run_as.as_deref().unwrap_or("?")
            ),
        );
    }
    let ip_limited = !app.ip_ranges.is_empty()
        && app
            .ip_relaxation
            .as_deref()
            .is_none_or(|r| r.to_ascii_uppercase().starts_with("ENFORCE"));
    let session_limited = app.high_assurance
        || app
            .session_minutes
            .is_some_and(|m| m <= DEFAULT_SESSION_MINUTES);
    if app.metadata_known && !ip_limited && !session_limited {
        let lifetime = match app.session_minutes {
            Some(m) => format!("sessions last {m} minutes"),
            None => "no session timeout".to_string(),
        };
        fire(
            Rule::NoNetworkOrSessionLimit,
            format!("no trusted IP ranges and {lifetime}"),
        );
    }
    let mut notes = Vec::new();
    if !app.metadata_known {
        notes.push("OAuth settings not readable through the API here; check them with the Metadata API (ConnectedApp) or in Setup".into());
    }
    if flow("client_credentials") && app.run_as_admin.is_none() {
        notes.push("run-as user's profile unknown; check it is not an administrator".into());
    }
    if offline
        && app
            .refresh_token_policy
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("infinite"))
    {
        notes.push("refresh tokens are valid until revoked; consider expiring them after a period of inactivity".into());
    }
    Assessment {
        app: app.clone(),
        verdict: if findings.is_empty() { "ok" } else { "flagged" },
        findings,
        notes,
    }
}

/// The token form of a scope named in metadata (`RefreshToken` → `refresh_token`).
pub fn scope_token(name: &str) -> String {
    match name {
        "Api" => "api".into(),
        "RefreshToken" => "refresh_token".into(),
        "OfflineAccess" => "offline_access".into(),
        "Full" => "full".into(),
        "OpenID" => "openid".into(),
        "Basic" => "id".into(),
        "Profile" => "profile".into(),
        "Email" => "email".into(),
        "Web" => "web".into(),
        other => other.to_string(),
    }
}

/// Builds an [`AppInfo`] from a `ConnectedApplication` row (with or without `Metadata`).
pub fn app_from_row(row: &Value) -> AppInfo {
    let admin_only = row
        .get("OptionsAllowAdminApprovedUsersOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut app = AppInfo {
        id: text(row, "Id"),
        name: text(row, "Name"),
        permitted_users: if admin_only {
            "AdminApproved"
        } else {
            "AllSelfAuthorize"
        }
        .into(),
        ..AppInfo::default()
    };
    let Some(meta) = row.get("Metadata").filter(|m| m.is_object()) else {
        return app;
    };
    app.metadata_known = true;
    let oauth = &meta["oauthConfig"];
    let policy = &meta["oauthPolicy"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    app.client_id = oauth["consumerKey"].as_str().map(str::to_string);
    app.scopes = strings(&oauth["scopes"])
        .iter()
        .map(|s| scope_token(s))
        .collect();
    let enabled = |key: &str| oauth[key].as_bool().unwrap_or(false);
    for (key, flow) in [
        ("isAuthorizationCodeEnabled", "authorization_code"),
        ("isRefreshTokenEnabled", "refresh_token"),
        ("isClientCredentialEnabled", "client_credentials"),
        ("isJwtBearerEnabled", "jwt_bearer"),
        ("isDeviceFlowEnabled", "device"),
    ] {
        if enabled(key) {
            app.flows.push(flow.to_string());
        }
    }
    app.run_as = oauth["oauthClientCredentialUser"]
        .as_str()
        .map(str::to_string);
    app.pkce_required = enabled("isPkceRequired");
    if let Some(p) = policy["permittedUsers"].as_str() {
        app.permitted_users = if p.starts_with("AdminApproved") {
            "AdminApproved".into()
        } else {
            "AllSelfAuthorize".into()
        };
    }
    app.refresh_token_policy = policy["refreshTokenPolicy"].as_str().map(str::to_string);
    app.ip_relaxation = policy["ipRelaxation"].as_str().map(str::to_string);
    app.session_minutes = meta["sessionPolicy"]["sessionTimeout"].as_u64();
    app.high_assurance = row
        .get("OptionsHasSessionLevelPolicy")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    app.ip_ranges = meta["ipRanges"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| format!("{}-{}", text(r, "start"), text(r, "end")))
                .collect()
        })
        .unwrap_or_default();
    app.preauthorized_profiles = strings(&meta["profileName"]);
    app
}

/// Ids of profiles with Modify All Data, View All Data or Manage Users.
///
/// # Errors
/// API failures.
pub async fn admin_profiles(client: &Client) -> Result<Vec<String>> {
    let soql = QueryBuilder::select(
        "Profile",
        &[
            "Id",
            "PermissionsModifyAllData",
            "PermissionsViewAllData",
            "PermissionsManageUsers",
        ],
    )?
    .to_soql();
    let rows = client.query(&soql).await?;
    Ok(rows
        .records
        .iter()
        .filter(|r| {
            [
                "PermissionsModifyAllData",
                "PermissionsViewAllData",
                "PermissionsManageUsers",
            ]
            .iter()
            .any(|f| r.get(*f).and_then(Value::as_bool) == Some(true))
        })
        .map(|r| text(r, "Id"))
        .collect())
}

/// Fields of `ConnectedApplication` every org serves.
const BASIC_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "OptionsAllowAdminApprovedUsersOnly",
    "OptionsHasSessionLevelPolicy",
    "RefreshTokenValidityPeriod",
];

/// `ConnectedApplication` rows: through the Tooling API with `Metadata` where the org serves it
/// (the sandbox), else through the data API with the object's own fields (the OAuth settings are
/// then unknown and [`assess`] says so).
async fn read_apps(client: &Client) -> Result<Vec<Value>> {
    let mut with_meta = BASIC_FIELDS.to_vec();
    with_meta.push("Metadata");
    let soql = QueryBuilder::select("ConnectedApplication", &with_meta)?.to_soql();
    match tooling_query(client, &soql).await {
        Ok(rows) => Ok(rows),
        Err(super::Error::Api(e)) if is_unsupported(&e) => {
            let soql = QueryBuilder::select("ConnectedApplication", BASIC_FIELDS)?.to_soql();
            Ok(client.query(&soql).await?.records)
        }
        Err(e) => Err(e),
    }
}

/// Whether an API error says the query asked for something this org does not serve.
pub(crate) fn is_unsupported(e: &crate::salesforce::Error) -> bool {
    e.api().is_some_and(|a| {
        [
            "INVALID_FIELD",
            "INVALID_TYPE",
            "NOT_FOUND",
            "MALFORMED_QUERY",
        ]
        .iter()
        .any(|c| a.has_code(c))
    })
}

/// Every connected app of the org, assessed, in name order.
///
/// # Errors
/// API failures (a non-admin gets the org's INSUFFICIENT_ACCESS).
pub async fn list(client: &Client) -> Result<Vec<Assessment>> {
    let rows = read_apps(client).await?;
    let mut apps: Vec<AppInfo> = rows.iter().map(app_from_row).collect();
    if apps.iter().any(|a| a.run_as.is_some()) {
        let directory = Directory::load(client).await?;
        let admins = admin_profiles(client).await?;
        let profile_of: HashMap<String, Option<String>> = apps
            .iter()
            .filter_map(|a| a.run_as.clone())
            .map(|u| {
                let p = directory
                    .id_of(&u)
                    .and_then(|id| directory.profile_id(id))
                    .map(str::to_string);
                (u, p)
            })
            .collect();
        for app in &mut apps {
            if let Some(user) = &app.run_as {
                app.run_as_admin = profile_of
                    .get(user)
                    .cloned()
                    .flatten()
                    .map(|p| admins.contains(&p));
            }
        }
    }
    apps.sort_by(|a, b| {
        a.name
            .to_ascii_lowercase()
            .cmp(&b.name.to_ascii_lowercase())
    });
    Ok(apps.iter().map(assess).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn least_privilege() -> AppInfo {
        AppInfo {
            id: "0H4".into(),
            name: "x".into(),
            flows: vec!["client_credentials".into()],
            scopes: vec!["api".into()],
            permitted_users: "AdminApproved".into(),
            run_as: Some("int@x".into()),
            run_as_admin: Some(false),
            session_minutes: Some(60),
            metadata_known: true,
            ..AppInfo::default()
        }
    }

    #[track_caller]
    fn fired(app: &AppInfo) -> Vec<Rule> {
        assess(app).findings.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn each_rule_fires_alone_on_a_crafted_app() {
        assert_eq!(fired(&least_privilege()), vec![]);
        let mut full = least_privilege();
        full.scopes = vec!["full".into()];
        assert_eq!(fired(&full), vec![Rule::FullScope]);
        let mut offline = least_privilege();
        offline.flows = vec!["authorization_code".into(), "refresh_token".into()];
        offline.scopes = vec!["api".into(), "refresh_token".into()];
        offline.permitted_users = "AllSelfAuthorize".into();
        assert_eq!(fired(&offline), vec![Rule::SelfAuthorizedOffline]);
        let mut pkce = offline.clone();
        pkce.pkce_required = true;
        assert_eq!(
            fired(&pkce),
            vec![],
            "PKCE makes a leaked key useless alone"
        );
        let mut admin = least_privilege();
        admin.run_as_admin = Some(true);
        assert_eq!(fired(&admin), vec![Rule::ClientCredentialsAsAdmin]);
        let mut open = least_privilege();
        open.session_minutes = Some(24 * 60);
        assert_eq!(fired(&open), vec![Rule::NoNetworkOrSessionLimit]);
        open.ip_ranges = vec!["10.0.0.1-10.0.0.9".into()];
        open.ip_relaxation = Some("ENFORCE".into());
        assert_eq!(fired(&open), vec![], "trusted IP ranges are a limit");
        open.ip_relaxation = Some("BYPASS".into());
        assert_eq!(fired(&open), vec![Rule::NoNetworkOrSessionLimit]);
    }

    #[test]
    fn only_unsupported_queries_fall_back_to_the_data_api() {
        use crate::salesforce::{ApiError, Error};
        let api = |status, body: &str| Error::Api(ApiError::from_body(status, body.as_bytes()));
        assert!(is_unsupported(&api(
            400,
            r#"[{"errorCode":"INVALID_FIELD","message":"No such column 'Metadata'"}]"#
        )));
        assert!(is_unsupported(&api(
            404,
            r#"[{"errorCode":"NOT_FOUND","message":"x"}]"#
        )));
        assert!(
            !is_unsupported(&api(
                403,
                r#"[{"errorCode":"INSUFFICIENT_ACCESS","message":"x"}]"#
            )),
            "a refusal is reported, not hidden by a fallback"
        );
    }

    #[test]
    fn every_rule_has_an_alternative() {
        for (rule, alt) in RULES {
            assert!(!alt.is_empty(), "{rule:?}");
        }
    }

    #[test]
    fn unknown_metadata_is_a_note_not_a_flag() {
        let app = app_from_row(
            &serde_json::json!({"Id": "0H4", "Name": "Legacy", "OptionsAllowAdminApprovedUsersOnly": false}),
        );
        let a = assess(&app);
        assert_eq!(a.verdict, "ok");
        assert!(a.notes[0].contains("Metadata API"), "{:?}", a.notes);
    }
}
