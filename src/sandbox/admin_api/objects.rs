//! `ConnectedApplication` rows (with the `ConnectedApp` metadata as JSON) and `Profile` rows, built
//! from the security configuration in force. Called by [`super::virtual_query`]; owns no table.

use rusqlite::OptionalExtension;
use serde_json::{Map, Value as Json, json};

use crate::id::RecordId;
use crate::sandbox::security::config::ConnectedApp;
use crate::sandbox::state::AppState;

pub(super) const CA_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "CreatedDate",
    "OptionsAllowAdminApprovedUsersOnly",
    "OptionsRefreshTokenValidityMetric",
    "RefreshTokenValidityPeriod",
    "OptionsHasSessionLevelPolicy",
    "MobileSessionTimeout",
    "MobileStartUrl",
    "StartUrl",
    "PinLength",
    "FullName",
    "Metadata",
];

/// The `0H4` id of the connected app at `index` in the configuration (apps are only appended).
pub fn connected_app_id(index: usize) -> String {
    RecordId::from_parts("0H4", "Dm", index as u64 + 1).to_string()
}

/// The Metadata API's name for an OAuth scope (`api` → `Api`).
pub(super) fn metadata_scope(scope: &str) -> String {
    match scope {
        "api" => "Api".into(),
        "refresh_token" => "RefreshToken".into(),
        "offline_access" => "OfflineAccess".into(),
        "full" => "Full".into(),
        "openid" => "OpenID".into(),
        "id" => "Basic".into(),
        "profile" => "Profile".into(),
        "email" => "Email".into(),
        "web" => "Web".into(),
        other => other.to_string(),
    }
}

fn full_name(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

pub(super) fn connected_applications(state: &AppState) -> Vec<Map<String, Json>> {
    let cfg = state.policy.config();
    cfg.connected_apps
        .iter()
        .enumerate()
        .map(|(i, app)| connected_application(i, app))
        .collect()
}

fn connected_application(index: usize, app: &ConnectedApp) -> Map<String, Json> {
    let admin_approved = app.permitted_users.eq_ignore_ascii_case("AdminApproved");
    let never_expires = app
        .refresh_token_policy
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case("ValidUntilRevoked"));
    let mut scopes: Vec<String> = app.scopes.iter().map(|s| metadata_scope(s)).collect();
    scopes.extend(app.custom_scopes.iter().map(|c| c.name.clone()));
    let metadata = json!({
        "fullName": full_name(&app.name),
        "label": app.name,
        "oauthConfig": {
            "consumerKey": app.client_id,
            "callbackUrl": if app.callback_urls.is_empty() { Json::Null } else { Json::String(app.callback_urls.join("\n")) },
            "scopes": scopes,
            "isClientCredentialEnabled": app.allows_flow("client_credentials"),
            "oauthClientCredentialUser": app.run_as,
            "isPkceRequired": app.require_pkce,
            "isConsumerSecretOptional": app.client_secret.is_none(),
            "certificate": app.jwt_certificate.as_ref().map(|_| "(certificate)"),
            "isDeviceFlowEnabled": app.allows_flow("device"),
            "isRefreshTokenEnabled": app.allows_flow("refresh_token"),
            "isJwtBearerEnabled": app.allows_flow("jwt_bearer"),
            "isAuthorizationCodeEnabled": app.allows_flow("authorization_code"),
        },
        "oauthPolicy": {
            "ipRelaxation": "ENFORCE",
            "refreshTokenPolicy": if never_expires { "infinite" } else { "specific_lifetime" },
            "permittedUsers": if admin_approved { "AdminApprovedPreAuthorized" } else { "AllSelfAuthorized" },
        },
        "sessionPolicy": {"sessionTimeout": app.access_token_minutes, "policyAction": Json::Null},
        "ipRanges": [],
        "profileName": app.preauthorized_profiles,
        "permissionSetName": [],
    });
    let mut row = Map::new();
    row.insert("Id".into(), json!(connected_app_id(index)));
    row.insert("Name".into(), json!(app.name));
    row.insert("CreatedDate".into(), json!("2026-01-05T17:00:00.000+0000"));
    row.insert(
        "OptionsAllowAdminApprovedUsersOnly".into(),
        json!(admin_approved),
    );
    row.insert("OptionsRefreshTokenValidityMetric".into(), json!(false));
    row.insert("RefreshTokenValidityPeriod".into(), Json::Null);
    row.insert("OptionsHasSessionLevelPolicy".into(), json!(false));
    row.insert("MobileSessionTimeout".into(), Json::Null);
    row.insert("MobileStartUrl".into(), Json::Null);
    row.insert("StartUrl".into(), Json::Null);
    row.insert("PinLength".into(), Json::Null);
    row.insert("FullName".into(), json!(full_name(&app.name)));
    row.insert("Metadata".into(), metadata);
    row
}

// ---------------------------------------------------------------------------------------------
// Profile

pub(super) const PROFILE_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "UserLicenseId",
    "PermissionsApiEnabled",
    "PermissionsApiUserOnly",
    "PermissionsModifyAllData",
    "PermissionsViewAllData",
    "PermissionsManageUsers",
];

/// The id a profile has in `User.ProfileId`: the one seeded users carry (`sayso_user`), else the
/// seed's deterministic formula.
fn profile_id(state: &AppState, name: &str) -> String {
    let stored: Option<String> = state
        .lock_db()
        .query_row(
            "SELECT profile_id FROM sayso_user WHERE profile = ?1 AND profile_id IS NOT NULL LIMIT 1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    stored.unwrap_or_else(|| {
        let n = name
            .bytes()
            .fold(0u64, |acc, b| (acc * 131 + u64::from(b)) % 9_999_999_999);
        RecordId::from_parts("00e", "Dm", n).to_string()
    })
}

pub(super) fn profiles(state: &AppState) -> Vec<Map<String, Json>> {
    let cfg = state.policy.config();
    cfg.profiles
        .iter()
        .map(|p| {
            let mut row = Map::new();
            row.insert("Id".into(), json!(profile_id(state, &p.name)));
            row.insert("Name".into(), json!(p.name));
            row.insert("UserLicenseId".into(), Json::Null);
            let system = &p.grants.system;
            let permissions = [
                ("PermissionsApiEnabled", system.api_enabled),
                ("PermissionsApiUserOnly", system.api_only),
                ("PermissionsModifyAllData", system.modify_all_data),
                ("PermissionsViewAllData", system.view_all_data),
                ("PermissionsManageUsers", system.manage_users),
            ];
            for (field, on) in permissions {
                row.insert(field.into(), json!(on));
            }
            row
        })
        .collect()
}
