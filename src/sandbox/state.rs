//! The shared state of a running sandbox ([`AppState`]), handed down to every handler as
//! `State<Arc<AppState>>` and to the Bulk workers.
//!
//! Owns the state's shape only; it imports the core types it holds ([`Clock`], [`IdAllocator`],
//! [`Schema`], [`Policy`], [`FaultOptions`]) and nothing that serves routes.

use rusqlite::Connection;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sandbox::clock::Clock;
use crate::sandbox::dml::IdAllocator;
use crate::sandbox::faults::FaultOptions;
use crate::sandbox::schema::Schema;
use crate::sandbox::security::Policy;

/// Shared state of a running sandbox, passed to every handler as `State<Arc<AppState>>`.
pub struct AppState {
    /// The database. `rusqlite::Connection` is `!Sync`, so it sits behind a std `Mutex`: lock it
    /// with [`AppState::lock_db`] for one short piece of work and never hold it across `.await`.
    pub db: Mutex<Connection>,
    /// Served objects and fields (parsed once per process).
    pub schema: Arc<Schema>,
    /// The security model: object/field access and row filters.
    pub policy: Policy,
    /// Today and the org time zone.
    pub clock: Clock,
    /// New ids and Case numbers.
    pub ids: IdAllocator,
    /// 18-character org id (`00DDm0000000001MAA`).
    pub org_id: String,
    /// Wakes the Bulk worker when a job becomes UploadComplete.
    pub bulk_wake: tokio::sync::Notify,
    /// Wakes the Bulk query worker when a query job is created.
    pub bulk_query_wake: tokio::sync::Notify,
    /// Injected faults and policy overrides (see `faults.rs`).
    pub faults: FaultOptions,
}

impl AppState {
    /// Locks the database (recovering from a poisoned lock: SQLite state stays consistent because
    /// every multi-statement write runs in a transaction).
    pub fn lock_db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("org_id", &self.org_id)
            .finish_non_exhaustive()
    }
}
