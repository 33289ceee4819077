//! `POST sayso/contractor` (sandbox only): integration user, permission set and client-credentials
//! app in one transaction; the changes are stored in `sayso_admin_change` and replayed by
//! [`restore`] at start. Never logs the consumer secret.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value as Json, json};

use crate::sandbox::error::SfError;
use crate::sandbox::oauth::grant::random_text;
use crate::sandbox::security::config::{ConnectedApp, PermissionSet};
use crate::sandbox::security::{Policy, Principal};
use crate::sandbox::session::Auth;
use crate::sandbox::state::AppState;
use crate::sandbox::wire::json_response;

use super::{API_ONLY_PROFILE, connected_app_id, require_admin};

/// Creates `sayso_admin_change` (idempotent).
///
/// # Errors
/// SQLite failures.
pub fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sayso_admin_change (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL)",
    )
}

/// Replays the admin changes stored in `conn` into `policy` (at sandbox start).
///
/// # Errors
/// SQLite failures; a change that no longer parses is skipped with a warning.
pub fn restore(conn: &Connection, policy: &Policy) -> rusqlite::Result<()> {
    create_tables(conn)?;
    let mut stmt = conn.prepare("SELECT kind, body FROM sayso_admin_change ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (kind, body) = row?;
        if let Err(e) = apply_change(policy, &kind, &body) {
            tracing::warn!(kind = %kind, error = %e, "skipping a stored admin change");
        }
    }
    Ok(())
}

fn apply_change(policy: &Policy, kind: &str, body: &str) -> Result<(), serde_json::Error> {
    match kind {
        "permission_set" => {
            let ps: PermissionSet = serde_json::from_str(body)?;
            policy.update_config(|c| {
                c.permission_sets
                    .retain(|p| !p.name.eq_ignore_ascii_case(&ps.name));
                c.permission_sets.push(ps);
            });
        }
        "connected_app" => {
            let app: ConnectedApp = serde_json::from_str(body)?;
            policy.update_config(|c| {
                c.connected_apps.retain(|a| a.client_id != app.client_id);
                c.connected_apps.push(app);
            });
        }
        _ => {}
    }
    Ok(())
}

/// What `POST sayso/contractor` takes.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContractorRequest {
    name: String,
    object: String,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    edit: Vec<String>,
    #[serde(default)]
    username: Option<String>,
}

fn bad_value(message: String) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "FIELD_INTEGRITY_EXCEPTION",
        message,
    )
}

pub(super) async fn contractor(
    State(state): State<Arc<AppState>>,
    Auth(principal): Auth,
    body: Bytes,
) -> Response {
    match create_contractor(&state, &principal, &body) {
        Ok(out) => json_response(StatusCode::CREATED, &out),
        Err(e) => e.into_response(),
    }
}

pub(super) fn slug(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '.' })
        .collect();
    s.split('.')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

fn create_contractor(
    state: &AppState,
    principal: &Principal,
    body: &[u8],
) -> Result<Json, SfError> {
    require_admin(state, principal)?;
    let req: ContractorRequest =
        serde_json::from_slice(body).map_err(|e| SfError::json_parser(e.to_string()))?;
    let name = req.name.trim();
    if name.is_empty() || slug(name).is_empty() {
        return Err(bad_value("the contractor needs a name".into()));
    }
    let obj = state
        .schema
        .object(&req.object)
        .ok_or_else(|| SfError::invalid_type(&req.object))?;
    let object = obj.name.clone();
    let mut fields: BTreeMap<String, Json> = BTreeMap::new();
    for (list, level) in [(&req.read, "read"), (&req.edit, "edit")] {
        for f in list {
            let field = obj
                .field(f.trim())
                .ok_or_else(|| bad_value(format!("no field `{f}` on `{object}`")))?;
            if level == "edit" && !field.updateable {
                return Err(bad_value(format!(
                    "`{object}.{}` cannot be edited",
                    field.name
                )));
            }
            fields.insert(format!("{object}.{}", field.name), json!(level));
        }
    }
    if fields.is_empty() {
        return Err(bad_value("give at least one field to read or edit".into()));
    }
    let cfg = state.policy.config();
    let ps_name = format!("{name} API Access");
    if cfg.permission_set(&ps_name).is_some() || cfg.app_by_name(name).is_some() {
        return Err(SfError::new(
            StatusCode::BAD_REQUEST,
            "DUPLICATE_VALUE",
            format!("duplicate value found: a contractor named `{name}` already exists"),
        ));
    }
    let username = req
        .username
        .unwrap_or_else(|| format!("{}.integration@demo.sayso.dev", slug(name)));
    if state.policy.user_by_username(&username).is_some() {
        return Err(SfError::new(
            StatusCode::BAD_REQUEST,
            "DUPLICATE_USERNAME",
            "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address). ",
        ));
    }
    let user_schema = state
        .schema
        .object("User")
        .ok_or_else(|| SfError::internal("no User object"))?;
    let user_id = state.ids.next_id(user_schema).to_string();
    let has_edit = !req.edit.is_empty();
    let ps_json = json!({
        "name": ps_name,
        "objects": {object.clone(): {"read": true, "create": false, "edit": has_edit, "delete": false}},
        "fields": fields,
    });
    let client_id = format!(
        "3MVG9{}",
        random_text(
            80,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
        )
    );
    let client_secret = random_text(64, b"0123456789ABCDEF");
    let app_json = json!({
        "name": name,
        "client_id": client_id,
        "client_secret": client_secret,
        "flows": ["client_credentials"],
        "run_as": username,
        "scopes": ["api"],
        "permitted_users": "AdminApproved",
        "access_token_minutes": 60,
    });
    let ps: PermissionSet = serde_json::from_value(ps_json.clone()).map_err(SfError::internal)?;
    let app: ConnectedApp = serde_json::from_value(app_json.clone()).map_err(SfError::internal)?;
    let now = state.clock.now_string();
    {
        let mut conn = state.lock_db();
        create_tables(&conn)?;
        let tx = conn.transaction()?;
        let profile_id: Option<String> = tx
            .query_row(
                "SELECT profile_id FROM sayso_user WHERE profile = ?1 AND profile_id IS NOT NULL LIMIT 1",
                [API_ONLY_PROFILE],
                |r| r.get(0),
            )
            .optional()?;
        let alias: String = slug(name).chars().filter(|c| *c != '.').take(8).collect();
        tx.execute(
            r#"INSERT INTO "User" ("Id", "Username", "FirstName", "LastName", "Name", "Alias", "Email", "Title", "IsActive",
                 "ProfileId", "TimeZoneSidKey", "LocaleSidKey", "LanguageLocaleKey", "UserType", "CreatedDate", "CreatedById",
                 "LastModifiedDate", "LastModifiedById", "SystemModstamp", "IsDeleted")
               VALUES (?1, ?2, ?3, 'Integration', ?4, ?5, ?2, 'Contractor API access', 1, ?6, 'America/Los_Angeles', 'en_US',
                 'en_US', 'Standard', ?7, ?8, ?7, ?8, ?7, 0)"#,
            params![user_id, username, name, format!("{name} Integration"), alias, profile_id, now, principal.user_id],
        )?;
        tx.execute(
            "INSERT INTO sayso_user (user_id, username, profile, role, permission_sets, profile_id, role_id) VALUES (?1, ?2, ?3, NULL, ?4, ?5, NULL)",
            params![user_id, username, API_ONLY_PROFILE, ps_name, profile_id],
        )?;
        for (kind, body) in [("permission_set", &ps_json), ("connected_app", &app_json)] {
            tx.execute(
                "INSERT INTO sayso_admin_change (kind, body) VALUES (?1, ?2)",
                params![kind, body.to_string()],
            )?;
        }
        tx.commit()?;
        // Order matters: the permission set exists before the user who holds it logs in.
        state.policy.update_config(|c| {
            c.permission_sets.push(ps);
            c.connected_apps.push(app);
        });
        state.policy.refresh_users(&conn)?;
    }
    let index = state.policy.config().connected_apps.len().saturating_sub(1);
    Ok(json!({
        "userId": user_id,
        "username": username,
        "profile": API_ONLY_PROFILE,
        "permissionSet": ps_name,
        "object": object,
        "fields": fields,
        "connectedAppId": connected_app_id(index),
        "connectedApp": name,
        "clientId": client_id,
        "clientSecret": client_secret,
    }))
}
