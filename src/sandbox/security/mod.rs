//! The sandbox's security model: who a principal is, what objects and fields they may touch, and
//! which rows they may see or edit (org-wide defaults, role hierarchy, ownership, ControlledByParent,
//! View All / Modify All Data, profile + permission sets). Driven by `demo-org/security.json`.
//!
//! Owns the policy decisions only; it never reads HTTP requests and never writes records. Every data
//! path (query, describe, CRUD, composite, bulk, search) asks it before acting. OAuth (token minting,
//! grants) lives in `sandbox::oauth`; sessions in `sandbox::session`.
//!
//! Row access is expressed as SQL predicates with bound parameters over the object's table (see the
//! sandbox contract): the caller splices [`SqlFilter::sql`] into its `WHERE` and binds
//! [`SqlFilter::params`] in order. No user text is ever interpolated.

pub mod config;
pub mod lookup;
pub mod users;

use std::sync::{Arc, RwLock};

use rusqlite::types::Value;

pub use config::{ConnectedApp, SecurityConfig, Sharing};
pub use users::{UserDirectory, UserInfo};

use config::{FieldLevel, ObjectPermissions, SystemPermissions, lookup_ci};

/// Errors building a policy.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// `security.json` is malformed.
    #[error("security.json is malformed: {0}")]
    Config(String),
    /// The users file is malformed.
    #[error("the users file is malformed: {0}")]
    Users(String),
}

/// The user (and connected app) a request runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// 18-character User Id.
    pub user_id: String,
    /// Login name, e.g. `dana.reyes@demo.sayso.dev`.
    pub username: String,
    /// Profile name, e.g. `Standard User`.
    pub profile: String,
    /// Role name, if the user has one.
    pub role: Option<String>,
    /// Permission set names.
    pub permission_sets: Vec<String>,
    /// The connected app's client id, when the session came through OAuth.
    pub client_id: Option<String>,
    /// Granted OAuth scopes (`api`, `refresh_token`, `full`, …).
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether the session was granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What a principal may do with an object as a whole (also what one profile or permission set
/// grants on it in `security.json`, where an absent flag is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub struct ObjectAccess {
    /// May read records.
    pub read: bool,
    /// May create records.
    pub create: bool,
    /// May edit records.
    pub edit: bool,
    /// May delete records.
    pub delete: bool,
    /// Sees every record regardless of sharing.
    pub view_all: bool,
    /// Edits every record regardless of sharing.
    pub modify_all: bool,
}

/// Field-level access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldAccess {
    /// Absent from describe, INVALID_FIELD in SOQL.
    Hidden,
    /// Readable, `updateable: false`.
    Read,
    /// Readable and editable.
    Edit,
}

impl ObjectAccess {
    /// Every flag on (Modify All Data).
    pub const ALL: ObjectAccess = ObjectAccess {
        read: true,
        create: true,
        edit: true,
        delete: true,
        view_all: true,
        modify_all: true,
    };

    /// The flags either grants (permission sets only add).
    fn union(self, other: &ObjectAccess) -> ObjectAccess {
        ObjectAccess {
            read: self.read || other.read,
            create: self.create || other.create,
            edit: self.edit || other.edit,
            delete: self.delete || other.delete,
            view_all: self.view_all || other.view_all,
            modify_all: self.modify_all || other.modify_all,
        }
    }
}

impl FieldAccess {
    /// Readable at all.
    pub fn readable(self) -> bool {
        self != FieldAccess::Hidden
    }

    /// Editable (before the describe's own `updateable`/`createable` is taken into account).
    pub fn editable(self) -> bool {
        self == FieldAccess::Edit
    }
}

/// Which describe flag a field write is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldWrite {
    /// `updateable`: object edit access.
    Update,
    /// `createable`: object create access.
    Create,
}

/// Which kind of row access a filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAccess {
    /// Rows the principal can see.
    Read,
    /// Rows the principal can edit or delete.
    Edit,
}

/// An SQL predicate with `?` placeholders and its bound parameters, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlFilter {
    /// The predicate, e.g. `t."OwnerId" IN (?, ?)`.
    pub sql: String,
    /// Values for the `?` placeholders, in order.
    pub params: Vec<Value>,
}

impl SqlFilter {
    /// A predicate no row satisfies.
    pub fn deny() -> Self {
        SqlFilter {
            sql: "0 = 1".to_string(),
            params: Vec::new(),
        }
    }

    /// Whether this is the predicate no row satisfies.
    pub fn is_deny(&self) -> bool {
        self.sql == "0 = 1"
    }

    /// A predicate built around this one's SQL by `around`, keeping its parameters.
    fn wrapped(self, around: impl FnOnce(&str) -> String) -> Self {
        SqlFilter {
            sql: around(&self.sql),
            params: self.params,
        }
    }
}

/// Why a session may not use the data API at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRefusal {
    /// The OAuth grant lacks `api` and `full`: 401 INVALID_SESSION_ID
    /// "This session is not valid for use with the REST API".
    MissingApiScope,
    /// The user's profile lacks "API Enabled": 403 API_DISABLED_FOR_ORG.
    ApiDisabled,
    /// The user is inactive: 401 INVALID_SESSION_ID.
    InactiveUser,
}

impl ApiRefusal {
    /// The HTTP status Salesforce answers with.
    pub fn status(self) -> u16 {
        match self {
            ApiRefusal::MissingApiScope | ApiRefusal::InactiveUser => 401,
            ApiRefusal::ApiDisabled => 403,
        }
    }

    /// The `errorCode`.
    pub fn error_code(self) -> &'static str {
        match self {
            ApiRefusal::MissingApiScope | ApiRefusal::InactiveUser => "INVALID_SESSION_ID",
            ApiRefusal::ApiDisabled => "API_DISABLED_FOR_ORG",
        }
    }

    /// The `message`.
    pub fn message(self) -> &'static str {
        match self {
            ApiRefusal::MissingApiScope => "This session is not valid for use with the REST API",
            ApiRefusal::InactiveUser => "Session expired or invalid",
            ApiRefusal::ApiDisabled => "The REST API is not enabled for this Organization.",
        }
    }
}

/// Fields every user who can read an object can read, whatever the field permissions say; they
/// are never editable.
pub const SYSTEM_FIELDS: &[&str] = &[
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
];

/// Parents a Task/Event `WhatId` may point at, in the order they are tried.
const WHAT_PARENTS: &[&str] = &["Account", "Opportunity", "Case"];
/// Parents a Task/Event `WhoId` may point at.
const WHO_PARENTS: &[&str] = &["Contact", "Lead"];
/// Records a ContentDocumentLink may link a note to.
const LINK_PARENTS: &[&str] = &["Account", "Opportunity", "Case", "Contact", "Lead"];

/// The policy, built once from `security.json` and the org's users.
///
/// Cheap to clone (shared). The user directory sits behind a std `RwLock` because users can be added
/// at runtime (through the `User` table) while requests are being answered; it is locked only for
/// the duration of one decision, never across `.await`.
#[derive(Debug, Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

#[derive(Debug)]
struct PolicyInner {
    config: SecurityConfig,
    /// The configuration after admin changes (new permission sets and connected apps from the
    /// sandbox admin API, `admin_api/mod.rs`), replacing `config` at once for every decision and for
    /// the OAuth token endpoint. [`Policy::config`] hands out plain references, so each replaced
    /// configuration is leaked rather than freed: a few KB per admin change, which is rare.
    changed: RwLock<Option<&'static SecurityConfig>>,
    users: RwLock<UserDirectory>,
}

impl Default for Policy {
    /// The demo org's policy. Falls back to an empty org (no profiles, so no access) only if the
    /// embedded files were malformed, which the tests rule out.
    fn default() -> Self {
        Policy::demo().unwrap_or_else(|_| Policy::new(empty_config(), UserDirectory::default()))
    }
}

fn empty_config() -> SecurityConfig {
    SecurityConfig {
        organization: serde_json::Map::new(),
        api: config::ApiConfig {
            daily_api_requests: 15_000,
        },
        sharing: Default::default(),
        roles: Vec::new(),
        profiles: Vec::new(),
        permission_sets: Vec::new(),
        connected_apps: Vec::new(),
        demo_password: String::new(),
    }
}

impl Policy {
    /// A policy over `config` and `users`.
    pub fn new(config: SecurityConfig, users: UserDirectory) -> Self {
        Policy {
            inner: Arc::new(PolicyInner {
                config,
                changed: RwLock::new(None),
                users: RwLock::new(users),
            }),
        }
    }

    /// The embedded demo org's policy (`security.json` + `data/User.csv`).
    ///
    /// # Errors
    /// [`SecurityError`] if an embedded file is malformed (a bug).
    pub fn demo() -> Result<Self, SecurityError> {
        Ok(Policy::new(
            SecurityConfig::demo()?,
            UserDirectory::from_csv(users::DEMO_USERS_CSV)?,
        ))
    }

    /// The configuration in force: the one the policy was built from, plus admin changes.
    pub fn config(&self) -> &SecurityConfig {
        let changed = match self.inner.changed.read() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        };
        changed.unwrap_or(&self.inner.config)
    }

    /// Applies an admin change (adds a permission set or connected app) to the configuration;
    /// every later decision and token request sees it. Used by the sandbox admin API only.
    pub fn update_config(&self, change: impl FnOnce(&mut SecurityConfig)) {
        let mut guard = match self.inner.changed.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = guard.unwrap_or(&self.inner.config).clone();
        change(&mut next);
        *guard = Some(Box::leak(Box::new(next)));
    }

    /// A snapshot of one user, by 15/18-character id.
    pub fn user(&self, id: &str) -> Option<UserInfo> {
        self.read_users().by_id(id).cloned()
    }

    /// A snapshot of one user, by username (case-insensitive).
    pub fn user_by_username(&self, username: &str) -> Option<UserInfo> {
        self.read_users().by_username(username).cloned()
    }

    /// A snapshot of every user.
    pub fn users(&self) -> Vec<UserInfo> {
        self.read_users().all().to_vec()
    }

    /// Adds a user or replaces the one with the same id; sharing sees the change at once.
    pub fn upsert_user(&self, user: UserInfo) {
        let mut guard = match self.inner.users.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.upsert(user);
    }

    /// Reloads the user directory from a sandbox database (`User` + `sayso_user`), so users added
    /// or changed through the API take part in logins and sharing. Keeps the current directory
    /// when the database has no users.
    ///
    /// # Errors
    /// SQLite failures; the directory is then left as it was.
    pub fn refresh_users(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        let fresh = UserDirectory::from_db(conn)?;
        if fresh.all().is_empty() {
            return Ok(());
        }
        let mut guard = match self.inner.users.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = fresh;
        Ok(())
    }

    fn read_users(&self) -> std::sync::RwLockReadGuard<'_, UserDirectory> {
        match self.inner.users.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The principal for user `id_or_username` over an OAuth grant of `client_id` with `scopes`.
    /// `None` when there is no such user.
    pub fn principal(
        &self,
        id_or_username: &str,
        client_id: Option<&str>,
        scopes: &[String],
    ) -> Option<Principal> {
        let users = self.read_users();
        let u = users
            .by_id(id_or_username)
            .or_else(|| users.by_username(id_or_username))?;
        Some(Principal {
            user_id: u.id.clone(),
            username: u.username.clone(),
            profile: u.profile.clone(),
            role: u.role().map(str::to_string),
            permission_sets: u.permission_sets.clone(),
            client_id: client_id.map(str::to_string),
            scopes: scopes.to_vec(),
        })
    }

    /// System permissions of `principal`: profile ∪ permission sets.
    pub fn system_permissions(&self, principal: &Principal) -> SystemPermissions {
        let cfg = self.config();
        let mut sys = cfg
            .profile(&principal.profile)
            .map(|p| p.grants.system)
            .unwrap_or_default();
        for ps in principal
            .permission_sets
            .iter()
            .filter_map(|n| cfg.permission_set(n))
        {
            let s = ps.grants.system;
            sys.view_all_data |= s.view_all_data;
            sys.modify_all_data |= s.modify_all_data;
            sys.api_enabled |= s.api_enabled;
            sys.manage_users |= s.manage_users;
        }
        sys
    }

    /// Whether `principal` may use the data API at all (scope, profile, active user).
    ///
    /// # Errors
    /// The [`ApiRefusal`] to answer with.
    pub fn check_api(&self, principal: &Principal) -> Result<(), ApiRefusal> {
        if principal.client_id.is_some()
            && !principal.has_scope("api")
            && !principal.has_scope("full")
        {
            return Err(ApiRefusal::MissingApiScope);
        }
        if let Some(u) = self.read_users().by_id(&principal.user_id)
            && !u.active
        {
            return Err(ApiRefusal::InactiveUser);
        }
        if !self.system_permissions(principal).api_enabled {
            return Err(ApiRefusal::ApiDisabled);
        }
        Ok(())
    }

    /// What `principal` may do with `object`.
    pub fn object_access(&self, principal: &Principal, object: &str) -> ObjectAccess {
        let cfg = self.config();
        let mut perms = ObjectPermissions::default();
        if let Some(p) = cfg.profile(&principal.profile).and_then(|profile| {
            lookup_ci(&profile.grants.objects, object).or_else(|| profile.grants.objects.get("*"))
        }) {
            perms = *p;
        }
        for ps in principal
            .permission_sets
            .iter()
            .filter_map(|n| cfg.permission_set(n))
        {
            if let Some(p) =
                lookup_ci(&ps.grants.objects, object).or_else(|| ps.grants.objects.get("*"))
            {
                perms = perms.union(p);
            }
        }
        let sys = self.system_permissions(principal);
        let mut a = perms;
        a.view_all |= a.modify_all;
        if sys.modify_all_data {
            a = ObjectAccess::ALL;
        } else if sys.view_all_data && a.read {
            a.view_all = true;
        }
        // Salesforce's dependencies: edit needs read, delete needs edit, create needs read.
        a.edit &= a.read;
        a.delete &= a.edit;
        a.create &= a.read;
        a.view_all &= a.read;
        a.modify_all &= a.edit;
        a
    }

    /// Field-level access of `principal` to `object.field`: profile ∪ permission sets, `'*'` the
    /// default; system fields ([`SYSTEM_FIELDS`]) are always readable and never editable; nothing is
    /// visible without object read, and nothing editable without object create or edit.
    ///
    /// The caller still combines [`FieldAccess::Edit`] with the describe's own `updateable` /
    /// `createable` (see [`Policy::field_writable`]).
    pub fn field_access(&self, principal: &Principal, object: &str, field: &str) -> FieldAccess {
        let oa = self.object_access(principal, object);
        if !oa.read {
            return FieldAccess::Hidden;
        }
        if SYSTEM_FIELDS.iter().any(|s| s.eq_ignore_ascii_case(field)) {
            return FieldAccess::Read;
        }
        let cfg = self.config();
        let key = format!("{object}.{field}");
        let wildcard = format!("{object}.*");
        let level_in = |fields: &std::collections::BTreeMap<String, FieldLevel>,
                        default_star: bool| {
            lookup_ci(fields, &key)
                .or_else(|| lookup_ci(fields, &wildcard))
                .or_else(|| if default_star { fields.get("*") } else { None })
                .copied()
        };
        let mut level = cfg
            .profile(&principal.profile)
            .and_then(|p| level_in(&p.grants.fields, true))
            .unwrap_or(FieldLevel::None);
        for ps in principal
            .permission_sets
            .iter()
            .filter_map(|n| cfg.permission_set(n))
        {
            if let Some(l) = level_in(&ps.grants.fields, true) {
                level = level.max(l);
            }
        }
        match level {
            FieldLevel::None => FieldAccess::Hidden,
            FieldLevel::Read => FieldAccess::Read,
            FieldLevel::Edit if oa.edit || oa.create => FieldAccess::Edit,
            FieldLevel::Edit => FieldAccess::Read,
        }
    }

    /// The `updateable` ([`FieldWrite::Update`]) or `createable` ([`FieldWrite::Create`]) a
    /// describe shows this principal: the describe's own flag, the field permission, and object
    /// edit (or create) access.
    pub fn field_writable(
        &self,
        principal: &Principal,
        object: &str,
        field: &str,
        describe_flag: bool,
        write: FieldWrite,
    ) -> bool {
        let oa = self.object_access(principal, object);
        let object_allows = match write {
            FieldWrite::Update => oa.edit,
            FieldWrite::Create => oa.create,
        };
        describe_flag
            && object_allows
            && self.field_access(principal, object, field) == FieldAccess::Edit
    }

    /// User ids whose records `principal` reaches through ownership: the principal and every user
    /// whose role sits below the principal's role.
    pub fn covered_owner_ids(&self, principal: &Principal) -> Vec<String> {
        let mut ids = vec![principal.user_id.clone()];
        let Some(role) = principal.role.as_deref().filter(|r| !r.is_empty()) else {
            return ids;
        };
        let below: Vec<String> = self
            .inner
            .config
            .role_and_subordinates(role)
            .into_iter()
            .skip(1)
            .collect();
        if below.is_empty() {
            return ids;
        }
        for u in self.read_users().all() {
            if let Some(r) = u.role()
                && below.iter().any(|b| b.eq_ignore_ascii_case(r))
                && !ids.contains(&u.id)
            {
                ids.push(u.id.clone());
            }
        }
        ids
    }

    /// A predicate over the rows of `object` (its table aliased `alias`) that `principal` may read
    /// or edit; `None` means every row. A principal without object read (or edit, for
    /// [`RowAccess::Edit`]) gets a predicate no row satisfies.
    pub fn row_filter(
        &self,
        principal: &Principal,
        object: &str,
        alias: &str,
        access: RowAccess,
    ) -> Option<SqlFilter> {
        let mut b = FilterBuilder {
            policy: self,
            principal,
            next_alias: 0,
            owners: None,
        };
        b.filter(object, &qualifier(alias, object), access)
    }
}

/// How a column of the filtered table is referenced: `alias."Col"`, or `"Table"."Col"` when the
/// caller gave no alias.
fn qualifier(alias: &str, object: &str) -> String {
    if alias.is_empty() {
        quote_ident(object)
    } else {
        alias.to_string()
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Builds one row filter; numbers the subquery aliases so nested filters never collide.
struct FilterBuilder<'a> {
    policy: &'a Policy,
    principal: &'a Principal,
    next_alias: usize,
    owners: Option<Vec<String>>,
}

impl FilterBuilder<'_> {
    fn fresh_alias(&mut self) -> String {
        self.next_alias += 1;
        format!("sayso_s{}", self.next_alias)
    }

    fn owners(&mut self) -> Vec<String> {
        if self.owners.is_none() {
            self.owners = Some(self.policy.covered_owner_ids(self.principal));
        }
        self.owners.clone().unwrap_or_default()
    }

    /// `q."column" IN (?, …)` over the covered owners.
    fn owner_pred(&mut self, q: &str, column: &str) -> SqlFilter {
        let owners = self.owners();
        let marks = vec!["?"; owners.len()].join(", ");
        SqlFilter {
            sql: format!("{q}.{} IN ({marks})", quote_ident(column)),
            params: owners.into_iter().map(Value::Text).collect(),
        }
    }

    fn filter(&mut self, object: &str, q: &str, access: RowAccess) -> Option<SqlFilter> {
        let policy = self.policy;
        let oa = policy.object_access(self.principal, object);
        if !oa.read || (access == RowAccess::Edit && !oa.edit) {
            return Some(SqlFilter::deny());
        }
        if (access == RowAccess::Read && oa.view_all)
            || (access == RowAccess::Edit && oa.modify_all)
        {
            return None;
        }
        let canonical = policy
            .inner
            .config
            .sharing
            .keys()
            .find(|k| k.eq_ignore_ascii_case(object))
            .cloned()
            .unwrap_or_else(|| object.to_string());
        match policy.config().sharing_of(object) {
            Some(Sharing::ReadWrite) => None,
            Some(Sharing::Read) if access == RowAccess::Read => None,
            Some(Sharing::Read) | Some(Sharing::Private) => {
                if canonical == "User" {
                    // Users edit their own record; everyone above them does not.
                    let me = self.principal.user_id.clone();
                    return Some(SqlFilter {
                        sql: format!("{q}.\"Id\" = ?"),
                        params: vec![Value::Text(me)],
                    });
                }
                Some(self.owner_pred(q, "OwnerId"))
            }
            Some(Sharing::ControlledByParent) => Some(self.parent_filter(&canonical, q, access)),
            None if canonical.eq_ignore_ascii_case("OauthToken") => {
                let me = self.principal.user_id.clone();
                Some(SqlFilter {
                    sql: format!("{q}.\"UserId\" = ?"),
                    params: vec![Value::Text(me)],
                })
            }
            None => None,
        }
    }

    /// `q."column" IN (SELECT s."Id" FROM "Parent" s WHERE <parent filter>)`.
    fn via_parent(&mut self, q: &str, column: &str, parent: &str, access: RowAccess) -> SqlFilter {
        let s = self.fresh_alias();
        let inner = self.filter(parent, &s, access);
        let col = quote_ident(column);
        let table = quote_ident(parent);
        match inner {
            None => SqlFilter {
                sql: format!("{q}.{col} IN (SELECT {s}.\"Id\" FROM {table} {s})"),
                params: Vec::new(),
            },
            Some(f) if f.is_deny() => SqlFilter::deny(),
            Some(f) => f.wrapped(|w| {
                format!("{q}.{col} IN (SELECT {s}.\"Id\" FROM {table} {s} WHERE {w})")
            }),
        }
    }

    /// Any of `parents` reached through `column` is visible.
    fn via_any_parent(
        &mut self,
        q: &str,
        column: &str,
        parents: &[&str],
        access: RowAccess,
    ) -> SqlFilter {
        let served: Vec<&str> = parents
            .iter()
            .copied()
            .filter(|p| self.policy.config().sharing_of(p).is_some())
            .collect();
        let parts: Vec<SqlFilter> = served
            .into_iter()
            .map(|p| self.via_parent(q, column, p, access))
            .collect();
        or_all(parts)
    }

    fn parent_filter(&mut self, object: &str, q: &str, access: RowAccess) -> SqlFilter {
        match object {
            "Contact" => {
                let own = self.owner_pred(q, "OwnerId");
                let parent = self.via_parent(q, "AccountId", "Account", access);
                or_all(vec![own, parent])
            }
            "OpportunityContactRole" => self.via_parent(q, "OpportunityId", "Opportunity", access),
            "Task" | "Event" => {
                let own = self.owner_pred(q, "OwnerId");
                let what = self.via_any_parent(q, "WhatId", WHAT_PARENTS, access);
                let who = self.via_any_parent(q, "WhoId", WHO_PARENTS, access);
                let what = and_all(vec![plain(format!("{q}.\"WhatId\" IS NOT NULL")), what]);
                let who = and_all(vec![plain(format!("{q}.\"WhatId\" IS NULL")), who]);
                or_all(vec![own, what, who])
            }
            "ContentNote" => {
                let own = self.owner_pred(q, "OwnerId");
                let l = self.fresh_alias();
                let sub = self.linked_entity(&l, access).wrapped(|linked| {
                    format!(
                        "{q}.\"Id\" IN (SELECT {l}.\"ContentDocumentId\" FROM \"ContentDocumentLink\" {l} WHERE {linked})"
                    )
                });
                or_all(vec![own, sub])
            }
            "ContentDocumentLink" => {
                let linked = self.linked_entity(q, access);
                let n = self.fresh_alias();
                let doc = self.owner_pred(&n, "OwnerId").wrapped(|own| {
                    format!(
                        "{q}.\"ContentDocumentId\" IN (SELECT {n}.\"Id\" FROM \"ContentNote\" {n} WHERE {own})"
                    )
                });
                or_all(vec![linked, doc])
            }
            // A ControlledByParent object the policy does not know the parent of: owner only.
            _ => self.owner_pred(q, "OwnerId"),
        }
    }

    /// The linked entity of a ContentDocumentLink (aliased `l`) is visible: one of the served
    /// parents, or the principal's own user record.
    fn linked_entity(&mut self, l: &str, access: RowAccess) -> SqlFilter {
        let parents = self.via_any_parent(l, "LinkedEntityId", LINK_PARENTS, access);
        let me = SqlFilter {
            sql: format!("{l}.\"LinkedEntityId\" = ?"),
            params: vec![Value::Text(self.principal.user_id.clone())],
        };
        or_all(vec![parents, me])
    }
}

fn plain(sql: String) -> SqlFilter {
    SqlFilter {
        sql,
        params: Vec::new(),
    }
}

/// `(a OR b OR …)`, dropping parts no row satisfies.
fn or_all(parts: Vec<SqlFilter>) -> SqlFilter {
    let parts: Vec<SqlFilter> = parts.into_iter().filter(|p| !p.is_deny()).collect();
    if parts.is_empty() {
        return SqlFilter::deny();
    }
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_else(SqlFilter::deny);
    }
    join(parts, " OR ")
}

/// `(a AND b AND …)`; no row satisfies it if any part is the deny predicate.
fn and_all(parts: Vec<SqlFilter>) -> SqlFilter {
    if parts.iter().any(SqlFilter::is_deny) {
        return SqlFilter::deny();
    }
    join(parts, " AND ")
}

fn join(parts: Vec<SqlFilter>, op: &str) -> SqlFilter {
    let mut sql = Vec::with_capacity(parts.len());
    let mut params = Vec::new();
    for p in parts {
        sql.push(format!("({})", p.sql));
        params.extend(p.params);
    }
    SqlFilter {
        sql: format!("({})", sql.join(op)),
        params,
    }
}

#[cfg(test)]
mod test;
