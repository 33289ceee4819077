//! The sandbox's security model: who a principal is, what objects and fields they may touch, and
//! which rows they may see or edit (org-wide defaults, role hierarchy, ownership, ControlledByParent,
//! View All / Modify All Data, profile + permission sets). Driven by `demo-org/security.json`.
//!
//! Owns the policy decisions only; it never reads HTTP requests and never writes records. Every data
//! path (query, describe, CRUD, composite, bulk, search) asks it before acting.
//!
//! INTERIM: the bodies below grant everything; the security work (issue 3) replaces them behind the
//! same signatures.

use rusqlite::types::Value;

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

/// What a principal may do with an object as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// The policy, built once from `security.json` and the org's users.
#[derive(Debug, Clone, Default)]
pub struct Policy {}

impl Policy {
    /// What `principal` may do with `object`.
    pub fn object_access(&self, _principal: &Principal, _object: &str) -> ObjectAccess {
        ObjectAccess { read: true, create: true, edit: true, delete: true, view_all: true, modify_all: true }
    }

    /// Field-level access of `principal` to `object.field`.
    pub fn field_access(&self, _principal: &Principal, _object: &str, _field: &str) -> FieldAccess {
        FieldAccess::Edit
    }

    /// A predicate over the rows of `object` (its table aliased `alias`) that `principal` may read
    /// or edit; `None` means every row.
    pub fn row_filter(&self, _principal: &Principal, _object: &str, _alias: &str, _access: RowAccess) -> Option<SqlFilter> {
        None
    }
}
