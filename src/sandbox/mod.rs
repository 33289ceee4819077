//! The sandbox org: an embedded Salesforce org emulator backed by SQLite, serving the demo org.
//!
//! Owns its own wire JSON; imports only [`crate::soql`] and [`crate::id`], never agent modules.
//!
//! # Layout
//! The core, flat in this folder; every part below imports from it, never from this file:
//! - [`state`] — [`AppState`], the shared state handed down to every handler and worker.
//! - [`wire`] — served API versions ([`parse_version`]) and [`json_response`].
//! - [`schema`] — served objects and fields from the embedded describes (+ custom-field overlay).
//! - [`store`] — SQLite layout (one table per object, `sayso_*` tables) and value conversion.
//! - [`seed`] — loads `demo-org/data/*.csv`.
//! - [`clock`] — today (`SAYSO_TODAY`), org time zone, date/datetime formats.
//! - [`error`] — [`error::SfError`], the `[{message, errorCode, fields}]` REST error.
//! - [`session`] — access tokens, the auth middleware and the [`session::Auth`] extractor.
//! - [`dml`], [`derive`](mod@derive) — record writes/reads with validation, defaults and derived values.
//! - [`faults`] — injected latency, errors and policy overrides; [`tls`] — serving over HTTPS.
//!
//! The parts, one folder each:
//! - [`security`] — who may see and change what (`Policy`, `Principal`): [`security::config`],
//!   [`security::users`], and [`security::lookup`] (sharing on the write path).
//! - [`rest`] — record routes: [`rest::records`], [`rest::composite`], [`rest::describe`],
//!   [`rest::limits`].
//! - [`query`] — SOQL (`query`, `queryAll`): [`query::compile`], [`query::exec`],
//!   [`query::dates`], [`query::flat`], [`query::columns`], and SOSL in [`query::search`].
//! - [`bulk`] — Bulk API 2.0: [`bulk::ingest`] and [`bulk::query`] jobs.
//! - [`oauth`] — the OAuth server: token endpoint, [`oauth::pages`], [`oauth::identity`],
//!   [`oauth::grant`], [`oauth::jwt`].
//! - [`admin_api`] — the admin objects (connected apps, users, event logs) over REST.
//!
//! This file opens the org ([`Sandbox`]), builds the [`router`], serves it (also over TLS through
//! [`tls`]) and re-exports [`AppState`] and the wire helpers for callers outside the sandbox.
//!
//! # Concurrency
//! `rusqlite::Connection` is `!Sync`, so [`AppState::db`] is a std `Mutex`, locked briefly by each
//! handler and never held across an `.await`. The database runs in WAL mode. Long work (Bulk jobs)
//! runs on a blocking thread and takes the lock one chunk at a time.
//!
//! # Routes
//! [`router`] merges one sub-router per file. Data routes (`/services/data/vNN.N/…`) sit behind
//! [`session::authenticate`], which authenticates, counts the call and adds `Sforce-Limit-Info`.
//! Trailing slashes are stripped before routing. The outermost layers turn a panic in any handler
//! into `500 UNKNOWN_EXCEPTION` (the server lives on) and give the router's bare `405`s
//! Salesforce's `METHOD_NOT_ALLOWED` body.

pub mod admin_api;
pub mod bulk;
pub mod clock;
pub mod derive;
pub mod dml;
pub mod error;
pub mod faults;
pub mod oauth;
pub mod query;
pub mod rest;
pub mod schema;
pub mod security;
pub mod seed;
pub mod session;
pub mod state;
pub mod store;
pub mod tls;
pub mod wire;

pub use state::AppState;
pub use wire::{JSON_CONTENT_TYPE, LATEST_VERSION, OLDEST_VERSION, json_response, parse_version};

use axum::Router;
use axum::extract::Request;
use axum::http::{Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::sandbox::clock::Clock;
use crate::sandbox::dml::IdAllocator;
use crate::sandbox::error::SfError;
use crate::sandbox::schema::Schema;
use crate::sandbox::security::Policy;

/// Options for [`Sandbox::open`].
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// The SQLite file; `None` keeps the org in memory (tests).
    pub db_path: Option<PathBuf>,
    /// Delete the database first and reload the demo org.
    pub fresh: bool,
    /// Pin "today"; `None` reads `SAYSO_TODAY`, else the real date in the org time zone.
    pub today: Option<NaiveDate>,
    /// Fault injection and policy overrides (`--latency-ms`, `--token-minutes`, `--api-limit`, …).
    pub faults: faults::FaultOptions,
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The embedded describes are broken.
    #[error(transparent)]
    Schema(#[from] schema::SchemaError),
    /// The database could not be opened or built.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The demo data could not be loaded.
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    /// A user named on the command line does not exist.
    #[error("no sandbox user `{0}`")]
    UnknownUser(String),
    /// `SAYSO_TODAY` is not a date.
    #[error("SAYSO_TODAY `{0}` is not a date (expected YYYY-MM-DD)")]
    BadToday(String),
    /// A request-level failure while minting a token.
    #[error("{0}")]
    Api(#[from] SfError),
}

/// A sandbox org ready to serve: `Sandbox::open(options)?.serve(listener, shutdown).await`.
#[derive(Debug, Clone)]
pub struct Sandbox {
    state: Arc<AppState>,
}

impl Sandbox {
    /// Opens (and if needed builds and seeds) the sandbox database.
    ///
    /// # Errors
    /// [`SandboxError`] when the database cannot be opened or seeded.
    pub fn open(options: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let today = match options.today {
            Some(d) => Some(d),
            None => match std::env::var("SAYSO_TODAY") {
                Ok(s) if !s.trim().is_empty() => {
                    Some(clock::parse_date(&s).ok_or(SandboxError::BadToday(s))?)
                }
                _ => None,
            },
        };
        let clock = Clock::new(today);
        let schema = Schema::demo()?;
        let mut conn = store::open(options.db_path.as_deref(), options.fresh)?;
        if store::stored_layout_version(&conn)? != Some(store::LAYOUT_VERSION) {
            store::drop_all(&conn)?;
            store::create_tables(&conn, &schema)?;
            seed::load(&mut conn, &schema, clock.today(), &clock.now_string())?;
        }
        // Once per database; Bulk loads keep them fresh after that (see store.rs).
        if !store::has_statistics(&conn).map_err(store::StoreError::from)? {
            store::refresh_statistics(&conn, None).map_err(store::StoreError::from)?;
        }
        let ids = IdAllocator::load(&conn, &schema).map_err(store::StoreError::from)?;
        oauth::grant::create_tables(&conn).map_err(store::StoreError::from)?;
        let policy = Policy::default();
        policy
            .refresh_users(&conn)
            .map_err(store::StoreError::from)?;
        admin_api::restore(&conn, &policy).map_err(store::StoreError::from)?;
        let org_id = policy.config().org_id().to_string();
        let state = AppState {
            db: Mutex::new(conn),
            schema,
            policy,
            clock,
            ids,
            org_id,
            bulk_wake: tokio::sync::Notify::new(),
            bulk_query_wake: tokio::sync::Notify::new(),
            faults: options.faults.clone(),
        };
        Ok(Sandbox {
            state: Arc::new(state),
        })
    }

    /// The shared state (for tests and in-process callers).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Mints an access token for `username` (no OAuth), as `sayso sandbox token` does.
    ///
    /// # Errors
    /// [`SandboxError::UnknownUser`] for an unknown username.
    pub fn mint_token(&self, username: &str) -> Result<String, SandboxError> {
        let user = self
            .state
            .policy
            .user_by_username(username)
            .ok_or_else(|| SandboxError::UnknownUser(username.to_string()))?;
        let conn = self.state.lock_db();
        let (token, _) = session::mint(
            &conn,
            &self.state.org_id,
            &user.id,
            &session::MintOptions::default(),
        )?;
        Ok(token)
    }

    /// The HTTP application (routes + middleware), e.g. for `tower::ServiceExt::oneshot`.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves HTTP on `listener` until `shutdown` completes; also runs the Bulk API workers.
    ///
    /// # Errors
    /// I/O errors from the server.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let workers = self.spawn_workers();
        let app = self.router();
        // Without TCP_NODELAY small responses wait on delayed ACKs (~40 ms per request).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        drop(workers);
        result
    }

    /// Serves HTTPS with `material` on `listener` until `shutdown` completes (`sayso sandbox serve
    /// --tls`); also runs the Bulk API workers.
    ///
    /// # Errors
    /// I/O errors from the server.
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        material: &tls::TlsMaterial,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let workers = self.spawn_workers();
        let result = tls::serve_tls(self.router(), listener, material, shutdown).await;
        drop(workers);
        result
    }

    /// Starts the Bulk API workers (ingest and query jobs); they stop when the guard is dropped.
    pub fn spawn_workers(&self) -> Workers {
        Workers(vec![
            tokio::spawn(bulk::ingest::worker(self.state.clone())),
            tokio::spawn(bulk::query::worker(self.state.clone())),
        ])
    }
}

/// The running Bulk API workers of a sandbox, aborted on drop.
#[derive(Debug)]
pub struct Workers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &self.0 {
            w.abort();
        }
    }
}

/// The complete router of the sandbox.
pub fn router(state: Arc<AppState>) -> Router {
    let data: Router<Arc<AppState>> = Router::new()
        .route("/services/data/{version}", get(resources))
        .merge(rest::records::routes())
        .merge(rest::limits::routes())
        .merge(rest::composite::routes())
        .merge(bulk::ingest::routes())
        .merge(bulk::query::routes())
        .merge(query::routes())
        .merge(admin_api::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::authenticate,
        ));
    let open: Router<Arc<AppState>> = Router::new().route("/services/data", get(versions));
    let open = open.merge(oauth::routes());
    let inner = open
        .merge(data)
        .fallback(fallback)
        .with_state(state.clone());
    let app = Router::new()
        .fallback_service(inner)
        .layer(middleware::from_fn_with_state(state, faults::inject))
        .layer(middleware::from_fn(strip_trailing_slash));
    guard(app)
}

/// The outermost layer: a panic in any handler or middleware becomes `500 UNKNOWN_EXCEPTION`
/// (the panic text goes to the log, not the caller) and the server keeps serving.
fn guard(app: Router) -> Router {
    app.layer(middleware::from_fn(method_not_allowed_body))
        .layer(middleware::from_fn(catch_panic))
}

/// Gives the router's bare `405` (a method a route does not take, e.g. `PUT` on a record) the
/// Salesforce body: `METHOD_NOT_ALLOWED` naming the method and the allowed ones.
async fn method_not_allowed_body(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let resp = next.run(req).await;
    if resp.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED
        || resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return resp;
    }
    let allowed = resp
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace(' ', ""))
        .unwrap_or_default();
    let mut out = SfError::method_not_allowed(method.as_str(), &allowed).into_response();
    if let Some(allow) = resp.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

async fn catch_panic(req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            SfError::internal(format!("handler panicked: {what}")).into_response()
        }
    }
}

/// Removes a trailing `/` from the path (simple-salesforce adds them) and collapses repeated
/// slashes (the Salesforce CLI stores instance URLs with a trailing `/` and asks for
/// `//services/data/…`) before routing.
async fn strip_trailing_slash(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.len() > 1 && (path.ends_with('/') || path.contains("//")) {
        let mut collapsed = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        let trimmed = match collapsed.trim_end_matches('/') {
            "" => "/",
            t => t,
        };
        let new = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

async fn fallback() -> SfError {
    SfError::not_found()
}

fn season_label(version: u32) -> String {
    // 31.0 = Summer '14; three releases a year: Spring, Summer, Winter (Winter 'YY+1 ships in autumn).
    let idx = version as i64 - 31;
    let seasons = ["Summer", "Winter", "Spring"];
    let season = seasons[(idx.rem_euclid(3)) as usize];
    // Summer '14 (31), Winter '15 (32), Spring '15 (33), Summer '15 (34)…
    let year = 14 + (idx + 2).div_euclid(3);
    format!("{season} '{year:02}")
}

async fn versions() -> Response {
    let list: Vec<serde_json::Value> = (31..=LATEST_VERSION)
        .map(|v| serde_json::json!({"label": season_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
        .collect();
    json_response(axum::http::StatusCode::OK, &serde_json::Value::Array(list))
}

async fn resources(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    axum::extract::Path(version): axum::extract::Path<String>,
    session::Auth(principal): session::Auth,
    headers: axum::http::HeaderMap,
) -> Response {
    let v = parse_version(&version).unwrap_or("63.0");
    let base = format!("/services/data/v{v}");
    let origin = oauth::origin(&headers);
    let mut map = serde_json::Map::new();
    for r in [
        "tooling",
        "metadata",
        "eclair",
        "folders",
        "prechatForms",
        "chatter",
        "tabs",
        "appMenu",
        "quickActions",
        "queryAll",
        "commerce",
        "wave",
        "analytics",
        "search",
        "smartdatadiscovery",
        "composite",
        "parameterizedSearch",
        "theme",
        "nouns",
        "recent",
        "connect",
        "licensing",
        "limits",
        "process",
        "async-queries",
        "query",
        "jobs",
        "match",
        "emailConnect",
        "compactLayouts",
        "knowledgeManagement",
        "sobjects",
        "actions",
        "support",
    ] {
        map.insert(r.into(), serde_json::Value::String(format!("{base}/{r}")));
    }
    map.insert(
        "identity".into(),
        serde_json::Value::String(format!(
            "{origin}/id/{}/{}",
            state.org_id, principal.user_id
        )),
    );
    json_response(axum::http::StatusCode::OK, &serde_json::Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn boom() -> &'static str {
        panic!("secret internals t0.\"Name\"")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_without_internals_and_the_server_lives_on() {
        let app = guard(
            Router::new()
                .route("/boom", get(boom))
                .route("/ok", get(|| async { "fine" })),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        for _ in 0..2 {
            let resp = http
                .get(format!("http://{addr}/boom"))
                .send()
                .await
                .expect("an answer, not a dropped connection");
            assert_eq!(resp.status().as_u16(), 500);
            let body: serde_json::Value = resp.json().await.expect("json body");
            assert_eq!(body[0]["errorCode"], "UNKNOWN_EXCEPTION");
            assert!(!body.to_string().contains("secret"), "{body}");
        }
        let ok = http
            .get(format!("http://{addr}/ok"))
            .send()
            .await
            .expect("still serving");
        assert_eq!(ok.text().await.expect("text"), "fine");
        server.abort();
    }

    #[test]
    fn version_segments_and_labels() {
        assert_eq!(parse_version("v63.0"), Some("63.0"));
        assert_eq!(parse_version("v51.0"), Some("51.0"));
        assert_eq!(parse_version("63.0"), None);
        assert_eq!(parse_version("vxx.0"), None);
        // Retired and future versions are not served (issue 17, point 10).
        assert_eq!(parse_version("v9.0"), None);
        assert_eq!(parse_version("v30.0"), None);
        assert_eq!(parse_version("v31.0"), Some("31.0"));
        assert_eq!(parse_version(&format!("v{}.0", LATEST_VERSION + 1)), None);
        assert_eq!(parse_version("v63.5"), None);
        assert_eq!(season_label(31), "Summer '14");
        assert_eq!(season_label(59), "Winter '24");
        assert_eq!(season_label(63), "Spring '25");
        assert_eq!(season_label(64), "Summer '25");
    }
}
