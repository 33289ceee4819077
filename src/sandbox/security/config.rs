//! The parsed form of `demo-org/security.json`: organization, API allocation, org-wide sharing
//! defaults, roles, profiles, permission sets and connected apps.
//!
//! Owns parsing and name lookups only (case-insensitive, as Salesforce names are). Decisions live in
//! [`super::Policy`]; OAuth flows live in `sandbox::oauth`. Never logs secrets.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SecurityError;

/// The demo org's `security.json`, embedded in the binary.
pub const DEMO_SECURITY_JSON: &str = include_str!("../demo-org/security.json");

/// Everything `security.json` says.
#[derive(Debug, Clone, Deserialize)]
pub struct SecurityConfig {
    /// The organization record (Id, Name, TimeZoneSidKey, …), kept as JSON.
    pub organization: serde_json::Map<String, serde_json::Value>,
    /// The API allocation.
    pub api: ApiConfig,
    /// Org-wide defaults per object (`note` keys are skipped).
    #[serde(deserialize_with = "sharing_map")]
    pub sharing: BTreeMap<String, Sharing>,
    /// The role hierarchy.
    pub roles: Vec<Role>,
    /// Profiles.
    pub profiles: Vec<Profile>,
    /// Permission sets.
    #[serde(default)]
    pub permission_sets: Vec<PermissionSet>,
    /// Connected apps.
    #[serde(default)]
    pub connected_apps: Vec<ConnectedApp>,
    /// The password every demo user logs in with on the sandbox login page.
    pub demo_password: String,
}

/// The org-wide API allocation.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiConfig {
    /// Calls allowed per rolling 24 hours, org-wide.
    #[serde(rename = "DailyApiRequests")]
    pub daily_api_requests: u64,
}

/// An org-wide sharing default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Sharing {
    /// Owner, users above the owner in the role hierarchy, and View All holders.
    Private,
    /// Everyone reads; owner, hierarchy and Modify All edit.
    Read,
    /// Everyone reads and edits.
    ReadWrite,
    /// Access follows the parent record.
    ControlledByParent,
}

fn sharing_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Sharing>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        if k == "note" {
            continue;
        }
        let s = Sharing::deserialize(v).map_err(serde::de::Error::custom)?;
        out.insert(k, s);
    }
    Ok(out)
}

/// A role; `parent` is the role directly above it.
#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// The role directly above, if any.
    pub parent: Option<String>,
}

/// System permissions of a profile or permission set.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemPermissions {
    /// Sees every record of every object.
    pub view_all_data: bool,
    /// Edits and deletes every record of every object.
    pub modify_all_data: bool,
    /// May use the API at all.
    pub api_enabled: bool,
    /// May not log in through the user interface.
    pub api_only: bool,
    /// May manage users.
    pub manage_users: bool,
}

/// CRUD on one object, as a profile or permission set grants it: the same flags as the
/// [`super::ObjectAccess`] they add up to.
pub type ObjectPermissions = super::ObjectAccess;

/// A field permission level as written in `security.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldLevel {
    /// Hidden.
    None,
    /// Read only.
    Read,
    /// Read and edit.
    Edit,
}

/// A profile.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// License name.
    #[serde(default)]
    pub license: String,
    /// What the profile grants.
    #[serde(flatten)]
    pub grants: Grants,
}

/// A permission set: adds to a profile, never takes away.
#[derive(Debug, Clone, Deserialize)]
pub struct PermissionSet {
    /// Permission set name.
    pub name: String,
    /// What the set adds.
    #[serde(flatten)]
    pub grants: Grants,
}

/// What a profile grants, or a permission set adds (the `system`, `objects` and `fields` keys of
/// either in `security.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Grants {
    /// System permissions.
    #[serde(default)]
    pub system: SystemPermissions,
    /// Object CRUD by object name; `*` is the default.
    #[serde(default)]
    pub objects: BTreeMap<String, ObjectPermissions>,
    /// Field levels by `Object.Field`; `*` is the default.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldLevel>,
}

/// A custom OAuth scope of a connected app.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomScope {
    /// Scope name, e.g. `order_status`.
    pub name: String,
    /// Plain-words description shown on the consent page.
    #[serde(default)]
    pub description: String,
}

/// A connected app.
#[derive(Clone, Deserialize)]
pub struct ConnectedApp {
    /// Display name (`AppName` in OauthToken).
    pub name: String,
    /// Consumer key.
    pub client_id: String,
    /// Consumer secret; `None` for public clients.
    pub client_secret: Option<String>,
    /// Enabled flows: `authorization_code`, `refresh_token`, `client_credentials`, `jwt_bearer`, `device`.
    #[serde(default)]
    pub flows: Vec<String>,
    /// PKCE required on the authorization code flow.
    #[serde(default)]
    pub require_pkce: bool,
    /// Callback URLs; a trailing `/*` matches any path, and on loopback hosts any port.
    #[serde(default)]
    pub callback_urls: Vec<String>,
    /// Scopes the app may be granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Custom scopes.
    #[serde(default)]
    pub custom_scopes: Vec<CustomScope>,
    /// `AllSelfAuthorize` or `AdminApproved`.
    #[serde(default)]
    pub permitted_users: String,
    /// Profiles pre-authorized for the app (JWT bearer and admin-approved logins).
    #[serde(default)]
    pub preauthorized_profiles: Vec<String>,
    /// Username the client credentials flow runs as.
    #[serde(default)]
    pub run_as: Option<String>,
    /// Access token lifetime.
    #[serde(default = "default_token_minutes")]
    pub access_token_minutes: u64,
    /// `ValidUntilRevoked` (the only policy the sandbox implements).
    #[serde(default)]
    pub refresh_token_policy: Option<String>,
    /// Refresh token rotation (Salesforce's "Enable Refresh Token Rotation"): each use of a refresh
    /// token answers with a new one and the used one stops working.
    #[serde(default)]
    pub rotate_refresh_tokens: bool,
    /// PEM certificate the JWT bearer flow verifies assertions against.
    #[serde(default)]
    pub jwt_certificate: Option<String>,
    /// May introspect tokens issued to other apps (Salesforce's "Allow access to all tokens";
    /// off by default, and only for apps with a secret).
    #[serde(default)]
    pub introspect_all: bool,
}

fn default_token_minutes() -> u64 {
    120
}

impl std::fmt::Debug for ConnectedApp {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectedApp")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("flows", &self.flows)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ConnectedApp {
    /// Whether the app enables `flow`.
    pub fn allows_flow(&self, flow: &str) -> bool {
        self.flows.iter().any(|f| f == flow)
    }

    /// Every scope the app may grant: its standard scopes plus its custom scopes.
    pub fn all_scopes(&self) -> Vec<String> {
        let mut out = self.scopes.clone();
        out.extend(self.custom_scopes.iter().map(|c| c.name.clone()));
        out
    }

    /// Whether `profile` is pre-authorized.
    pub fn preauthorizes(&self, profile: &str) -> bool {
        self.preauthorized_profiles
            .iter()
            .any(|p| p.eq_ignore_ascii_case(profile))
    }
}

impl SecurityConfig {
    /// Parses `security.json` text.
    ///
    /// # Errors
    /// [`SecurityError::Config`] when the JSON does not have the expected shape.
    pub fn parse(text: &str) -> Result<Self, SecurityError> {
        serde_json::from_str(text).map_err(|e| SecurityError::Config(e.to_string()))
    }

    /// The embedded demo org's configuration.
    ///
    /// # Errors
    /// [`SecurityError::Config`] if the embedded file is malformed (a bug, caught by the tests).
    pub fn demo() -> Result<Self, SecurityError> {
        Self::parse(DEMO_SECURITY_JSON)
    }

    /// The 18-character organization id.
    pub fn org_id(&self) -> &str {
        self.organization
            .get("Id")
            .and_then(|v| v.as_str())
            .unwrap_or("00D000000000000AAA")
    }

    /// The org's time zone (`TimeZoneSidKey`).
    pub fn time_zone(&self) -> &str {
        self.organization
            .get("TimeZoneSidKey")
            .and_then(|v| v.as_str())
            .unwrap_or("America/Los_Angeles")
    }

    /// The org-wide default of `object` (case-insensitive); `None` when not configured.
    pub fn sharing_of(&self, object: &str) -> Option<Sharing> {
        self.sharing
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(object))
            .map(|(_, v)| *v)
    }

    /// The profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The permission set named `name`.
    pub fn permission_set(&self, name: &str) -> Option<&PermissionSet> {
        self.permission_sets
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The connected app with consumer key `client_id` (exact match: keys are case-sensitive).
    pub fn app(&self, client_id: &str) -> Option<&ConnectedApp> {
        self.connected_apps
            .iter()
            .find(|a| a.client_id == client_id)
    }

    /// The connected app named `name` (case-insensitive).
    pub fn app_by_name(&self, name: &str) -> Option<&ConnectedApp> {
        self.connected_apps
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Names of `role` and every role below it, `role` first.
    pub fn role_and_subordinates(&self, role: &str) -> Vec<String> {
        let mut out = vec![role.to_string()];
        let mut i = 0;
        while i < out.len() {
            let current = out[i].clone();
            for r in &self.roles {
                if r.parent
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(&current))
                    && !out.iter().any(|o| o.eq_ignore_ascii_case(&r.name))
                {
                    out.push(r.name.clone());
                }
            }
            i += 1;
        }
        out
    }
}

/// Looks up `key` in a map case-insensitively.
pub(crate) fn lookup_ci<'a, V>(map: &'a BTreeMap<String, V>, key: &str) -> Option<&'a V> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}
