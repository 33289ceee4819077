//! API usage accounting and `GET /services/data/vNN.N/limits`.
//!
//! Every counted REST call is one row in `sayso_api_usage(ts, user_id, client_id)` (epoch seconds),
//! so usage over the rolling 24 hours can be split per user and per connected app. The daily
//! allocation is `security.json` `api.DailyApiRequests`. [`record_call`] is called once per request
//! by the auth middleware (`session.rs`); `/composite/batch` adds one per extra subrequest.
//!
//! Owns counting and the limits document; enforcing REQUEST_LIMIT_EXCEEDED per app is the
//! security model's business, built on [`usage`].

use crate::sandbox::error::SfError;
use crate::sandbox::security::Principal;
use crate::sandbox::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

/// Length of the rolling usage window.
pub const WINDOW_SECS: i64 = 24 * 60 * 60;

/// API usage after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Calls in the last 24 hours, org-wide.
    pub used: u64,
    /// The daily allocation.
    pub max: u64,
    /// This call's connected app: its calls in the window and its name (`per-app-api-usage`).
    pub app: Option<(u64, String)>,
}

impl Usage {
    /// The `Sforce-Limit-Info` value: `api-usage=N/M` (must come first for simple-salesforce).
    pub fn header_value(&self) -> String {
        match &self.app {
            Some((n, name)) => format!(
                "api-usage={}/{}; per-app-api-usage={n}/{}(appName={name})",
                self.used, self.max, self.max
            ),
            None => format!("api-usage={}/{}", self.used, self.max),
        }
    }
}

/// The org's daily API allocation.
pub fn daily_max(state: &AppState) -> u64 {
    state
        .faults
        .api_limit
        .unwrap_or(state.policy.config().api.daily_api_requests)
}

/// Counts `calls` REST calls by `principal` now and returns the org-wide usage.
///
/// # Errors
/// `403 REQUEST_LIMIT_EXCEEDED` once the daily allocation is used up (the refused call is not
/// counted); SQLite failures.
pub fn record_call(state: &AppState, principal: &Principal, calls: u32) -> Result<Usage, SfError> {
    let now = chrono::Utc::now().timestamp();
    let conn = state.lock_db();
    let before: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM sayso_api_usage WHERE ts > ?1")?
        .query_row([now - WINDOW_SECS], |r| r.get(0))?;
    if before.max(0) as u64 + u64::from(calls) > daily_max(state) {
        return Err(SfError::new(
            axum::http::StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ));
    }
    {
        let mut ins = conn.prepare_cached(
            "INSERT INTO sayso_api_usage (ts, user_id, client_id) VALUES (?1, ?2, ?3)",
        )?;
        for _ in 0..calls {
            ins.execute(rusqlite::params![
                now,
                principal.user_id,
                principal.client_id
            ])?;
        }
    }
    let used: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM sayso_api_usage WHERE ts > ?1")?
        .query_row([now - WINDOW_SECS], |r| r.get(0))?;
    let app = match principal
        .client_id
        .as_deref()
        .and_then(|c| state.policy.config().app(c))
    {
        Some(a) => {
            let n: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM sayso_api_usage WHERE ts > ?1 AND client_id = ?2",
                )?
                .query_row(rusqlite::params![now - WINDOW_SECS, a.client_id], |r| {
                    r.get(0)
                })?;
            Some((n.max(0) as u64, a.name.clone()))
        }
        None => None,
    };
    Ok(Usage {
        used: used.max(0) as u64,
        max: daily_max(state),
        app,
    })
}

/// Org-wide usage over the rolling window, without counting a call.
///
/// # Errors
/// SQLite failures.
pub fn usage(state: &AppState) -> Result<Usage, SfError> {
    let now = chrono::Utc::now().timestamp();
    let conn = state.lock_db();
    let used: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM sayso_api_usage WHERE ts > ?1")?
        .query_row([now - WINDOW_SECS], |r| r.get(0))?;
    Ok(Usage {
        used: used.max(0) as u64,
        max: daily_max(state),
        app: None,
    })
}

/// Calls by one user through one app (or without an app) over the rolling window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    /// The user's username (or id, if the user is gone).
    pub username: String,
    /// The connected app's name; `None` for tokens minted without OAuth.
    pub app: Option<String>,
    /// Calls in the last 24 hours.
    pub calls: u64,
}

/// Calls per user and app over the last 24 hours, busiest first (`sayso sandbox usage`).
///
/// # Errors
/// SQLite failures.
pub fn usage_by_user_and_app(state: &AppState) -> Result<Vec<UsageLine>, SfError> {
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<(Option<String>, Option<String>, i64)> = {
        let conn = state.lock_db();
        let mut stmt = conn.prepare(
            "SELECT user_id, client_id, COUNT(*) FROM sayso_api_usage WHERE ts > ?1 GROUP BY user_id, client_id ORDER BY COUNT(*) DESC, user_id",
        )?;
        let mapped = stmt.query_map([now - WINDOW_SECS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        mapped.collect::<Result<_, _>>()?
    };
    Ok(rows
        .into_iter()
        .map(|(user, client, n)| UsageLine {
            username: user
                .as_deref()
                .and_then(|u| state.policy.user(u))
                .map(|u| u.username)
                .or(user)
                .unwrap_or_default(),
            app: client.map(|c| {
                state
                    .policy
                    .config()
                    .app(&c)
                    .map(|a| a.name.clone())
                    .unwrap_or(c)
            }),
            calls: n.max(0) as u64,
        })
        .collect())
}

/// Routes: `GET /services/data/{v}/limits`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/services/data/{version}/limits", get(limits))
}

fn pair(max: u64, remaining: u64) -> Value {
    json!({"Max": max, "Remaining": remaining})
}

async fn limits(State(state): State<Arc<AppState>>) -> Result<Json<Value>, SfError> {
    let u = usage(&state)?;
    let remaining = u.max.saturating_sub(u.used);
    let bulk_batches: i64 = {
        let conn = state.lock_db();
        conn.query_row("SELECT COUNT(*) FROM sayso_bulk_job", [], |r| r.get(0))?
    };
    Ok(Json(json!({
        "ActiveScratchOrgs": pair(3, 3),
        "ConcurrentAsyncGetReportInstances": pair(200, 200),
        "ConcurrentSyncReportRuns": pair(20, 20),
        "DailyApiRequests": pair(u.max, remaining),
        "DailyAsyncApexExecutions": pair(250000, 250000),
        "DailyBulkApiBatches": pair(15000, 15000u64.saturating_sub(bulk_batches.max(0) as u64)),
        "DailyBulkV2QueryFileStorageMB": pair(976562, 976562),
        "DailyBulkV2QueryJobs": pair(10000, 10000),
        "DailyGenericStreamingApiEvents": pair(10000, 10000),
        "DailyStreamingApiEvents": pair(10000, 10000),
        "DailyWorkflowEmails": pair(100000, 100000),
        "DataStorageMB": pair(1024, 1024),
        "FileStorageMB": pair(1024, 1024),
        "HourlyODataCallout": pair(20000, 20000),
        "HourlySyncReportRuns": pair(500, 500),
        "MassEmail": pair(5000, 5000),
        "PermissionSets": {"Max": 1500, "Remaining": 1499, "CreateCustom": pair(1000, 999)},
        "SingleEmail": pair(5000, 5000),
        "StreamingApiConcurrentClients": pair(20, 20)
    })))
}
