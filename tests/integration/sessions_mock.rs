//! Session behaviour against a small in-test OAuth + REST server (axum on 127.0.0.1:0).
//!
//! These tests use a local mock rather than the sandbox where they need control the sandbox does
//! not give deterministically: a token that expires at a chosen moment for 20 concurrent requests,
//! refresh-token rotation, exact counts of 503 / UNABLE_TO_LOCK_ROW answers, a connection dropped
//! after the request was sent, `REQUEST_LIMIT_EXCEEDED`, 412 and 304, and an unreachable server at
//! logout. End-to-end flows against the real sandbox are in `sessions_sandbox.rs`.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sayso::auth::store::{self, Credentials, LoginMethod, Profile, TokenStore};
use sayso::auth::{LoginOptions, Secret, login};
use sayso::config::Home;
use sayso::salesforce::{
    Client, Describe, Error, Idempotency, LimitScope, Org, OrgError, RetryPolicy,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Log capture: every test in this binary logs at TRACE into one buffer.

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("one subscriber per test binary");
        buf
    })
    .clone()
}

// ---------------------------------------------------------------------------------------------
// The mock org.

#[derive(Default)]
struct Mock {
    base: Mutex<String>,
    access: Mutex<HashSet<String>>,
    refresh: Mutex<HashSet<String>>,
    rotate: AtomicBool,
    refresh_calls: AtomicU64,
    next: AtomicU64,
    data_calls: AtomicU64,
    /// (method, path) of data calls that reached a handler (after auth).
    hits: Mutex<Vec<(String, String)>>,
    unavailable: AtomicU64,
    lock_row: AtomicU64,
    limit_exceeded: AtomicBool,
    revoked: Mutex<Vec<String>>,
    challenges: Mutex<HashMap<String, String>>,
    device_polls: AtomicU64,
    bulk_csv: Mutex<String>,
    bulk_state: Mutex<String>,
    uploads: AtomicU64,
}

impl Mock {
    fn mint(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let t = format!("00Dmock!ACCESS{n:04}xyz");
        self.access.lock().unwrap().insert(t.clone());
        t
    }
    fn mint_refresh(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let t = format!("5Aep-REFRESH{n:04}");
        self.refresh.lock().unwrap().insert(t.clone());
        t
    }
    fn refreshes(&self) -> u64 {
        self.refresh_calls.load(Ordering::SeqCst)
    }
    fn expire_all_access(&self) {
        self.access.lock().unwrap().clear();
    }
    fn hits_of(&self, method: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }
}

/// Takes one from a count of faults still to inject; whether there was one.
fn take_one(count: &AtomicU64) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// The bearer token of a request (empty without one).
fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_start_matches("Bearer ")
        .to_string()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn sf_error(status: StatusCode, code: &str, msg: &str) -> Response {
    (
        status,
        axum::Json(json!([{"message": msg, "errorCode": code}])),
    )
        .into_response()
}

fn token_json(mock: &Mock, access: &str, refresh: Option<String>, scope: &str) -> Value {
    let base = mock.base.lock().unwrap().clone();
    let mut v = json!({
        "access_token": access,
        "instance_url": base,
        "id": format!("{base}/id/00DMOCK0000000001AAA/005MOCK0000000001AAA"),
        "token_type": "Bearer",
        "scope": scope,
        "issued_at": "1700000000000",
        "signature": "sig="
    });
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
    }
    v
}

async fn handler(
    State(mock): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    match (method.as_str(), path.as_str()) {
        ("POST", "/services/oauth2/token") => {
            let f = form(&body);
            match f.get("grant_type").map(String::as_str) {
                Some("refresh_token") => {
                    mock.refresh_calls.fetch_add(1, Ordering::SeqCst);
                    // Widen the race window: concurrent requests must still wait for this one.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let rt = f.get("refresh_token").cloned().unwrap_or_default();
                    if !mock.refresh.lock().unwrap().contains(&rt) {
                        return (
                            StatusCode::BAD_REQUEST,
                            axum::Json(json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})),
                        )
                            .into_response();
                    }
                    let new_refresh = if mock.rotate.load(Ordering::SeqCst) {
                        mock.refresh.lock().unwrap().remove(&rt);
                        Some(mock.mint_refresh())
                    } else {
                        None
                    };
                    let access = mock.mint();
                    axum::Json(token_json(&mock, &access, new_refresh, "api refresh_token")).into_response()
                }
                Some("authorization_code") => {
                    let code = f.get("code").cloned().unwrap_or_default();
                    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                    let Some(challenge) = mock.challenges.lock().unwrap().remove(&code) else {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant", "error_description": "invalid authorization code"}))).into_response();
                    };
                    if sayso::auth::pkce::challenge_of(&verifier) != challenge {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_request", "error_description": "invalid code verifier"}))).into_response();
                    }
                    let access = mock.mint();
                    let refresh = mock.mint_refresh();
                    axum::Json(token_json(&mock, &access, Some(refresh), "api refresh_token")).into_response()
                }
                Some("device") => {
                    if mock.device_polls.fetch_add(1, Ordering::SeqCst) < 1 {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "authorization_pending", "error_description": "pending"}))).into_response();
                    }
                    let access = mock.mint();
                    let refresh = mock.mint_refresh();
                    axum::Json(token_json(&mock, &access, Some(refresh), "api refresh_token")).into_response()
                }
                _ if f.get("response_type").map(String::as_str) == Some("device_code") => axum::Json(json!({
                    "device_code": "DEVICE-SECRET-CODE", "user_code": "ABCD1234",
                    "verification_uri": "http://example.invalid/setup/connect", "interval": 1
                }))
                .into_response(),
                Some("client_credentials") => {
                    if f.get("client_secret").map(String::as_str) != Some("mock-client-secret") {
                        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_client", "error_description": "invalid client credentials"}))).into_response();
                    }
                    let access = mock.mint();
                    axum::Json(token_json(&mock, &access, None, "api full")).into_response()
                }
                _ => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"}))).into_response(),
            }
        }
        ("GET", "/services/oauth2/authorize") => {
            let q: HashMap<String, String> =
                url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            let code = format!("aPrx{}==", mock.next.fetch_add(1, Ordering::SeqCst));
            mock.challenges.lock().unwrap().insert(
                code.clone(),
                q.get("code_challenge").cloned().unwrap_or_default(),
            );
            let mut loc = url::Url::parse(&q["redirect_uri"]).unwrap();
            loc.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &q["state"]);
            (StatusCode::FOUND, [("location", loc.to_string())]).into_response()
        }
        ("POST", "/services/oauth2/revoke") => {
            let t = form(&body).get("token").cloned().unwrap_or_default();
            let known =
                mock.access.lock().unwrap().remove(&t) | mock.refresh.lock().unwrap().remove(&t);
            mock.revoked.lock().unwrap().push(t);
            if known {
                StatusCode::OK.into_response()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(
                        json!({"error": "invalid_token", "error_description": "invalid token"}),
                    ),
                )
                    .into_response()
            }
        }
        ("GET", "/services/oauth2/userinfo") => {
            let bearer = bearer(&headers);
            if !mock.access.lock().unwrap().contains(&bearer) {
                return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
            }
            axum::Json(
                json!({"user_id": "005MOCK0000000001AAA", "organization_id": "00DMOCK0000000001AAA",
                "preferred_username": "dana@mock.test", "name": "Dana Mock"}),
            )
            .into_response()
        }
        (_, p) if p.starts_with("/services/data/") => {
            mock.data_calls.fetch_add(1, Ordering::SeqCst);
            let used = mock.data_calls.load(Ordering::SeqCst);
            let limit = [("sforce-limit-info", format!("api-usage={used}/1000"))];
            let bearer = bearer(&headers);
            if !mock.access.lock().unwrap().contains(&bearer) {
                return (
                    limit,
                    sf_error(
                        StatusCode::UNAUTHORIZED,
                        "INVALID_SESSION_ID",
                        "Session expired or invalid",
                    ),
                )
                    .into_response();
            }
            if mock.limit_exceeded.load(Ordering::SeqCst) {
                return (
                    [("sforce-limit-info", "api-usage=1000/1000".to_string())],
                    sf_error(
                        StatusCode::FORBIDDEN,
                        "REQUEST_LIMIT_EXCEEDED",
                        "TotalRequests Limit exceeded.",
                    ),
                )
                    .into_response();
            }
            mock.hits
                .lock()
                .unwrap()
                .push((method.to_string(), p.to_string()));
            // Injected faults, each answered once per count.
            let fault = |status, code, message| (limit.clone(), sf_error(status, code, message));
            if take_one(&mock.unavailable) {
                let unavailable = StatusCode::SERVICE_UNAVAILABLE;
                return fault(unavailable, "SERVER_UNAVAILABLE", "try later").into_response();
            }
            if method != Method::GET && take_one(&mock.lock_row) {
                let message = "unable to obtain exclusive access to this record";
                return fault(StatusCode::BAD_REQUEST, "UNABLE_TO_LOCK_ROW", message)
                    .into_response();
            }
            let rest = p.trim_start_matches("/services/data/v63.0/");
            let resp: Response = match (method.as_str(), rest) {
                ("GET", "query") => axum::Json(json!({"totalSize": 3, "done": false, "nextRecordsUrl": "/services/data/v63.0/query/01gMOCK-2",
                    "records": [{"Id": "001000000000001AAA"}, {"Id": "001000000000002AAA"}]})).into_response(),
                ("GET", "query/01gMOCK-2") => axum::Json(json!({"totalSize": 3, "done": true, "records": [{"Id": "001000000000003AAA"}]})).into_response(),
                ("GET", "sobjects/Account/describe") => {
                    if headers.contains_key("if-modified-since") {
                        StatusCode::NOT_MODIFIED.into_response()
                    } else {
                        ([("last-modified", "Tue, 10 Nov 2026 00:00:00 GMT")], axum::Json(json!({"name": "Account", "fields": []}))).into_response()
                    }
                }
                ("POST", "sobjects/Account") => (StatusCode::CREATED, axum::Json(json!({"id": "001000000000009AAA", "success": true, "errors": []}))).into_response(),
                ("PATCH", r) if r.starts_with("sobjects/Account/") => {
                    if headers.contains_key("if-unmodified-since") {
                        sf_error(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED", "The record was modified")
                    } else {
                        StatusCode::NO_CONTENT.into_response()
                    }
                }
                ("POST", "jobs/ingest") => {
                    *mock.bulk_state.lock().unwrap() = "Open".into();
                    axum::Json(json!({"id": "750MOCK00000001AAA", "state": "Open", "object": "Contact", "operation": "insert"})).into_response()
                }
                ("PUT", "jobs/ingest/750MOCK00000001AAA/batches") => {
                    mock.uploads.fetch_add(1, Ordering::SeqCst);
                    mock.bulk_csv.lock().unwrap().push_str(&String::from_utf8_lossy(&body));
                    StatusCode::CREATED.into_response()
                }
                ("PATCH", "jobs/ingest/750MOCK00000001AAA") => {
                    *mock.bulk_state.lock().unwrap() = "JobComplete".into();
                    axum::Json(json!({"id": "750MOCK00000001AAA", "state": "UploadComplete"})).into_response()
                }
                ("GET", "jobs/ingest/750MOCK00000001AAA") => {
                    let rows = mock.bulk_csv.lock().unwrap().lines().count().saturating_sub(1);
                    let state = mock.bulk_state.lock().unwrap().clone();
                    axum::Json(json!({"id": "750MOCK00000001AAA", "state": state, "numberRecordsProcessed": rows, "numberRecordsFailed": 0})).into_response()
                }
                ("GET", "jobs/ingest/750MOCK00000001AAA/failedResults/") => ([("content-type", "text/csv")], "\"sf__Id\",\"sf__Error\",LastName\n").into_response(),
                ("GET", "jobs/ingest/750MOCK00000001AAA/successfulResults/") => {
                    let csv = mock.bulk_csv.lock().unwrap().clone();
                    let mut out = String::from("\"sf__Id\",\"sf__Created\",LastName\n");
                    for (i, line) in csv.lines().skip(1).enumerate() {
                        out.push_str(&format!("\"003MOCK{i:011}\",\"true\",{line}\n"));
                    }
                    ([("content-type", "text/csv")], out).into_response()
                }
                ("GET", "limits") => axum::Json(json!({"DailyApiRequests": {"Max": 1000, "Remaining": 1000 - used}})).into_response(),
                _ => sf_error(StatusCode::NOT_FOUND, "NOT_FOUND", "The requested resource does not exist"),
            };
            (limit, resp).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_mock() -> (Arc<Mock>, String) {
    let mock = Arc::new(Mock::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *mock.base.lock().unwrap() = base.clone();
    let app = Router::new().fallback(handler).with_state(mock.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (mock, base)
}

/// A test's mock org (logs captured) and an empty `SAYSO_HOME` in a temporary folder.
struct Setup {
    mock: Arc<Mock>,
    base: String,
    home: Home,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        capture_logs();
        let (mock, base) = start_mock().await;
        let dir = tempfile::tempdir().unwrap();
        Setup {
            mock,
            base,
            home: Home::new(dir.path()),
            _dir: dir,
        }
    }

    /// A browser-style session saved in the home, and a client from it.
    async fn logged_in(&self) -> Client {
        logged_in(&self.mock, &self.base, &self.home).await
    }

    /// Login options for `profile` against the mock, and an HTTP client.
    fn login_options(&self, profile: &str) -> (LoginOptions, reqwest::Client) {
        let mut opts = LoginOptions::new(profile);
        opts.login_url = self.base.clone();
        (opts, reqwest::Client::new())
    }
}

/// Each client asks for the org's limits, all at once; every one must succeed (`why` says so in
/// a failure).
async fn limits_at_once(clients: impl IntoIterator<Item = Client>, why: &str) {
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| tokio::spawn(async move { c.limits().await }))
        .collect();
    for t in tasks {
        t.await.unwrap().expect(why);
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

/// Saves a browser-style profile (refresh token) into `home` and returns a client from it.
async fn logged_in(mock: &Mock, base: &str, home: &Home) -> Client {
    let access = mock.mint();
    let refresh = mock.mint_refresh();
    save_session(base, home, "default", &access, Some(&refresh));
    client_from(home, "default").await
}

fn save_session(base: &str, home: &Home, profile: &str, access: &str, refresh: Option<&str>) {
    let p = Profile {
        instance_url: base.to_string(),
        login_url: base.to_string(),
        token_url: format!("{base}/services/oauth2/token"),
        client_id: Some("sayso-cli".into()),
        username: Some("dana@mock.test".into()),
        display_name: None,
        user_id: None,
        org_id: None,
        scopes: vec!["api".into(), "refresh_token".into()],
        method: LoginMethod::Browser,
        jwt_key: None,
        audience: None,
        api_version: None,
        logged_in_at: None,
    };
    store::save_profile(home, profile, &p).unwrap();
    TokenStore::file(home)
        .save(
            profile,
            &Credentials {
                access_token: Secret::new(access),
                refresh_token: refresh.map(Secret::new),
                client_secret: None,
                issued_at: None,
            },
        )
        .unwrap();
}

async fn client_from(home: &Home, profile: &str) -> Client {
    Client::from_profile(home, profile).await.unwrap()
}

fn stored(home: &Home) -> Credentials {
    TokenStore::file(home).load("default").unwrap().unwrap()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_on_an_expired_session_refresh_exactly_once() {
    let fx = Setup::new().await;
    let client = fx.logged_in().await;
    fx.mock.expire_all_access();
    let clients = (0..20).map(|_| client.clone());
    limits_at_once(clients, "every request succeeds after the one refresh").await;
    assert_eq!(fx.mock.refreshes(), 1, "single-flight refresh");
    assert_eq!(client.renewals(), 1);
    assert_eq!(
        fx.mock.hits_of("GET"),
        20,
        "every request replayed once with the new token"
    );
    // The renewed access token was saved.
    let saved = stored(&fx.home);
    assert!(
        fx.mock
            .access
            .lock()
            .unwrap()
            .contains(saved.access_token.expose())
    );
}

#[tokio::test]
async fn rotated_refresh_tokens_are_saved_and_the_old_one_is_dead() {
    let fx = Setup::new().await;
    fx.mock.rotate.store(true, Ordering::SeqCst);
    let client = fx.logged_in().await;
    let first_refresh = stored(&fx.home).refresh_token.unwrap();
    fx.mock.expire_all_access();
    client.limits().await.unwrap();
    let second = stored(&fx.home).refresh_token.unwrap();
    assert_ne!(first_refresh, second, "rotated refresh token saved");
    assert!(
        !fx.mock
            .refresh
            .lock()
            .unwrap()
            .contains(first_refresh.expose())
    );
    // The same client renews again with the rotated token, and a new process (from_profile) too.
    fx.mock.expire_all_access();
    client.limits().await.unwrap();
    let third = stored(&fx.home).refresh_token.unwrap();
    assert_ne!(second, third);
    fx.mock.expire_all_access();
    let again = Client::from_profile(&fx.home, "default").await.unwrap();
    again.limits().await.unwrap();
    assert_eq!(fx.mock.refreshes(), 3);
    // No temporary files left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(fx.home.credentials_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn invalid_grant_ends_the_session_cleanly() {
    let fx = Setup::new().await;
    let client = fx.logged_in().await;
    let before = std::fs::read(fx.home.credentials_dir().join("default.json")).unwrap();
    fx.mock.expire_all_access();
    fx.mock.refresh.lock().unwrap().clear(); // revoked by an admin
    let err = client.limits().await.unwrap_err();
    assert!(err.is_session_ended(), "{err:?}");
    assert!(err.to_string().contains("run `sayso login` again"), "{err}");
    // Concurrent and later requests fail the same way without another refresh attempt.
    let err2 = client.query("SELECT Id FROM Account").await.unwrap_err();
    assert!(err2.is_session_ended());
    assert_eq!(fx.mock.refreshes(), 1);
    let after = std::fs::read(fx.home.credentials_dir().join("default.json")).unwrap();
    assert_eq!(before, after, "nothing half-written");
}

#[tokio::test]
async fn reads_and_absolute_patches_are_retried_creates_are_not() {
    capture_logs();
    let (mock, base) = start_mock().await;
    let access = mock.mint();
    let mut opts =
        sayso::salesforce::ClientOptions::new(url::Url::parse(&base).unwrap(), Secret::new(access));
    opts.retry = fast_retry();
    let client = Client::new(opts).unwrap();

    mock.unavailable.store(2, Ordering::SeqCst);
    client.limits().await.expect("GET retried through two 503s");
    assert_eq!(client.api_calls(), 3);

    mock.unavailable.store(1, Ordering::SeqCst);
    let org = Org::over(client.clone());
    let err = org
        .create("Account", json!({"Name": "Acme"}))
        .await
        .unwrap_err();
    assert!(matches!(err, OrgError::Api { status: 503, .. }), "{err}");
    assert_eq!(mock.hits_of("POST"), 1, "a create is never repeated");

    mock.lock_row.store(2, Ordering::SeqCst);
    org.update(
        "Account",
        "001000000000001AAA",
        json!({"Name": "Acme"}),
        None,
    )
    .await
    .expect("absolute PATCH retried through UNABLE_TO_LOCK_ROW");
    assert_eq!(mock.hits_of("PATCH"), 3);

    mock.lock_row.store(1, Ordering::SeqCst);
    let err = client
        .post_json("sobjects/Account", &json!({"Name": "B"}), Idempotency::Once)
        .await
        .unwrap_err();
    assert!(err.api().unwrap().has_code("UNABLE_TO_LOCK_ROW"));
    assert_eq!(mock.hits_of("POST"), 2);

    mock.unavailable.store(10, Ordering::SeqCst);
    let before = client.api_calls();
    assert!(client.limits().await.is_err(), "attempts are bounded");
    assert_eq!(client.api_calls() - before, 4);
}

/// A server that reads each request and closes the connection without answering.
async fn start_dropper() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                break;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
            drop(sock);
        }
    });
    (base, count)
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_reads_only() {
    capture_logs();
    let (base, count) = start_dropper().await;
    let mut opts = sayso::salesforce::ClientOptions::new(
        url::Url::parse(&base).unwrap(),
        Secret::new("00Dx!t"),
    );
    opts.retry = fast_retry();
    let client = Client::new(opts).unwrap();
    assert!(matches!(
        client.limits().await,
        Err(Error::Transport { .. })
    ));
    let reads = count.load(Ordering::SeqCst);
    assert_eq!(reads, 4, "GET retried up to the attempt limit");
    assert!(
        Org::over(client.clone())
            .create("Account", json!({"Name": "x"}))
            .await
            .is_err()
    );
    assert_eq!(
        count.load(Ordering::SeqCst) - reads,
        1,
        "POST sent once: it may have been processed"
    );
}

#[tokio::test]
async fn budget_warns_then_stops_before_sending_and_org_limit_maps_to_the_same() {
    let fx = Setup::new().await;
    std::fs::create_dir_all(fx.home.root()).unwrap();
    std::fs::write(
        fx.home.config_file(),
        "[budget]\ndaily_calls = 3\nwarn_at = 0.6\n",
    )
    .unwrap();
    let client = fx.logged_in().await;
    client.limits().await.unwrap();
    assert_eq!(client.budget_status().unwrap().warning(), None);
    client.limits().await.unwrap();
    let w = client
        .budget_status()
        .unwrap()
        .warning()
        .expect("past 60% warns");
    assert!(w.contains("2 of 3"), "{w}");
    client.limits().await.unwrap();
    let sent = fx.mock.data_calls.load(Ordering::SeqCst);
    let err = client.limits().await.unwrap_err();
    assert!(err.is_limit_exceeded(), "{err:?}");
    assert!(matches!(&err, Error::LimitExceeded(l) if l.scope == LimitScope::Budget));
    assert_eq!(
        fx.mock.data_calls.load(Ordering::SeqCst),
        sent,
        "nothing sent past the budget"
    );
    // The org's own numbers were recorded from Sforce-Limit-Info.
    let org = client.budget_status().unwrap().org.unwrap();
    assert_eq!((org.used, org.max), (3, 1000));

    // The org's REQUEST_LIMIT_EXCEEDED gives the same status.
    std::fs::write(fx.home.config_file(), "").unwrap();
    let client = Client::from_profile(&fx.home, "default").await.unwrap();
    fx.mock.limit_exceeded.store(true, Ordering::SeqCst);
    let err = client.limits().await.unwrap_err();
    match err {
        Error::LimitExceeded(l) => {
            assert_eq!(l.scope, LimitScope::Org);
            assert_eq!((l.used, l.max), (Some(1000), Some(1000)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn queries_follow_pages_and_describe_and_conflicts_are_typed() {
    let fx = Setup::new().await;
    let client = fx.logged_in().await.with_new_counter();
    let all = client.query("SELECT Id FROM Account").await.unwrap();
    assert_eq!(all.total_size, 3);
    assert_eq!(all.records.len(), 3);
    assert_eq!(client.api_calls(), 2, "one call per page");
    let mut pager = client.query_pages("SELECT Id FROM Account");
    let first = pager.next_page().await.unwrap().unwrap();
    assert_eq!(first.records.len(), 2);
    assert!(pager.next_page().await.unwrap().unwrap().done);
    assert!(pager.next_page().await.unwrap().is_none());

    match client.describe("Account", None).await.unwrap() {
        Describe::Modified { last_modified, .. } => assert!(last_modified.is_some()),
        Describe::NotModified => panic!("no condition sent"),
    }
    let since = chrono::Utc::now();
    assert_eq!(
        client.describe("Account", Some(since)).await.unwrap(),
        Describe::NotModified
    );

    let since = sayso::salesforce::rest::http_date(since);
    let applied = Org::over(client.clone())
        .update(
            "Account",
            "001000000000001AAA",
            json!({"Name": "x"}),
            Some(&since),
        )
        .await
        .unwrap();
    assert!(!applied, "412: the record changed since");
    assert_eq!(client.api_calls(), 7);
    // Usage is in the ledger under SAYSO_HOME.
    assert!(fx.home.usage_dir().read_dir().unwrap().count() >= 1);
}

#[tokio::test]
async fn logout_revokes_both_tokens_then_deletes_local_secrets() {
    let fx = Setup::new().await;
    let _client = fx.logged_in().await;
    let creds = stored(&fx.home);
    let http = reqwest::Client::new();
    let report = login::logout(&fx.home, &http, "default").await.unwrap();
    assert_eq!(report.revoked, vec!["refresh token", "access token"]);
    assert!(report.unreachable.is_none());
    let revoked = fx.mock.revoked.lock().unwrap().clone();
    assert!(revoked.contains(&creds.refresh_token.unwrap().expose().to_string()));
    assert!(revoked.contains(&creds.access_token.expose().to_string()));
    assert!(
        TokenStore::file(&fx.home)
            .load("default")
            .unwrap()
            .is_none()
    );
    assert!(store::load_profiles(&fx.home).unwrap().is_empty());
    assert!(matches!(
        login::logout(&fx.home, &http, "default").await,
        Err(sayso::auth::Error::NotLoggedIn { .. })
    ));
}

#[tokio::test]
async fn logout_with_the_server_unreachable_keeps_a_marker_and_retries_later() {
    let fx = Setup::new().await;
    // A profile whose token endpoint is a closed port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("http://127.0.0.1:{closed}");
    let access = fx.mock.mint();
    let refresh = fx.mock.mint_refresh();
    save_session(&dead, &fx.home, "default", &access, Some(&refresh));
    let http = reqwest::Client::new();
    let report = login::logout(&fx.home, &http, "default").await.unwrap();
    assert!(report.unreachable.is_some());
    assert!(report.revoked.is_empty());
    assert!(report.deleted_local);
    let marker = fx.home.credentials_dir().join("pending-revocations.json");
    assert!(marker.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&marker).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Still unreachable: kept.
    let r = login::retry_pending_revocations(&fx.home, &http)
        .await
        .unwrap();
    assert_eq!((r.done, r.still_pending), (0, 2));
    // The server is back (point the marker at the mock): the next start revokes.
    let text = std::fs::read_to_string(&marker)
        .unwrap()
        .replace(&dead, &fx.base);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&marker)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    drop(f);
    let r = login::retry_pending_revocations(&fx.home, &http)
        .await
        .unwrap();
    assert_eq!((r.done, r.still_pending), (2, 0));
    assert!(!marker.exists());
    assert!(!fx.mock.refresh.lock().unwrap().contains(&refresh));
}

#[tokio::test]
async fn browser_login_with_pkce_and_state_end_to_end() {
    let fx = Setup::new().await;
    let (opts, http) = fx.login_options("work");
    let browser = login::start_browser(&opts, 0).await.unwrap();
    let url = browser.url.clone();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "api refresh_token");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    // The "browser": follows the authorize redirect to the loopback listener.
    let browser_task =
        tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    let report = login::PendingLogin::Browser(browser)
        .finish(&fx.home, &http, &opts, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(browser_task.await.unwrap().unwrap(), 200);
    assert_eq!(report.profile.username.as_deref(), Some("dana@mock.test"));
    assert_eq!(
        report.profile.org_id.as_deref(),
        Some("00DMOCK0000000001AAA")
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let creds = TokenStore::file(&fx.home).load("work").unwrap().unwrap();
    assert!(creds.refresh_token.is_some());
    // The profile file holds no secret.
    let profiles = std::fs::read_to_string(fx.home.profiles_file()).unwrap();
    assert!(!profiles.contains(creds.access_token.expose()));
    assert!(!profiles.contains(creds.refresh_token.unwrap().expose()));
}

#[tokio::test]
async fn device_login_polls_until_approved() {
    let fx = Setup::new().await;
    let (opts, http) = fx.login_options("default");
    let device = login::start_device(&http, &opts).await.unwrap();
    assert_eq!(device.code.user_code, "ABCD1234");
    let report = login::PendingLogin::Device(device)
        .finish(&fx.home, &http, &opts, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(report.profile.method, LoginMethod::Device);
    assert_eq!(fx.mock.device_polls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn client_credentials_with_a_full_grant_warns() {
    let fx = Setup::new().await;
    let (mut opts, http) = fx.login_options("default");
    opts.client_id = "kinetic".into();
    let err = login::login_client_credentials(&fx.home, &http, &opts, Secret::new("wrong"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(!err.to_string().contains("wrong"));
    let report =
        login::login_client_credentials(&fx.home, &http, &opts, Secret::new("mock-client-secret"))
            .await
            .unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("`full`")),
        "{:?}",
        report.warnings
    );
}

#[cfg(unix)]
#[tokio::test]
async fn sf_cli_session_is_reused_through_sf_org_display() {
    use std::os::unix::fs::PermissionsExt;
    capture_logs();
    let (mock, base) = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("home"));
    let token = mock.mint();
    let sf = dir.path().join("sf");
    std::fs::write(
        &sf,
        format!(
            "#!/bin/sh\n[ \"$5\" = \"myorg\" ] || {{ echo '{{\"status\":1,\"message\":\"No authorization information found for nope.\"}}'; exit 1; }}\n\
             echo '{{\"status\":0,\"result\":{{\"accessToken\":\"{token}\",\"instanceUrl\":\"{base}\",\"username\":\"dana@mock.test\"}}}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sf, std::fs::Permissions::from_mode(0o755)).unwrap();
    let opts = LoginOptions::new("default");
    let http = reqwest::Client::new();
    let report = login::login_sf_cli(&home, &http, &opts, "myorg", Some(&sf))
        .await
        .unwrap();
    assert_eq!(report.profile.method, LoginMethod::SfCli);
    assert_eq!(report.profile.instance_url, base);
    let err = login::login_sf_cli(&home, &http, &opts, "nope", Some(&sf))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("No authorization information"),
        "{err}"
    );
    let err = login::login_sf_cli(&home, &http, &opts, "x", Some(&dir.path().join("missing")))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not installed") || err.to_string().contains("cannot run"),
        "{err}"
    );
    // Such a session cannot be renewed: an expired token ends it with a clear message.
    let client = Client::from_profile(&home, "default").await.unwrap();
    mock.expire_all_access();
    assert!(client.limits().await.unwrap_err().is_session_ended());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_at_trace_level() {
    let logs = capture_logs();
    let (mock, base) = start_mock().await;
    mock.rotate.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path());
    let client = logged_in(&mock, &base, &home).await;
    mock.expire_all_access();
    client.query("SELECT Id FROM Account").await.unwrap();
    mock.refresh.lock().unwrap().clear();
    mock.expire_all_access();
    let err = client.limits().await.unwrap_err();
    tracing::error!(error = %err, debug = ?err, "final error");
    let http = reqwest::Client::new();
    let creds = stored(&home);
    tracing::debug!(creds = ?creds, "stored credentials (Debug must redact)");
    login::logout(&home, &http, "default").await.unwrap();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("token request"),
        "trace capture works: {}",
        &text[..text.len().min(500)]
    );
    assert!(text.contains("final error"));
    for secret in [
        "00Dmock!ACCESS",
        "5Aep-REFRESH",
        "mock-client-secret",
        "DEVICE-SECRET-CODE",
        "aPrx",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked into the logs");
    }
}

#[tokio::test]
async fn an_expired_session_mid_bulk_recovers_without_losing_a_record() {
    let fx = Setup::new().await;
    let client = fx.logged_in().await;
    let org = sayso::salesforce::Org::over(client);
    let job = org.ingest_create("Contact", "insert").await.unwrap();
    let mut csv = String::from("LastName\n");
    for i in 0..500 {
        csv.push_str(&format!("Person{i}\n"));
    }
    org.ingest_upload(&job, csv).await.unwrap();
    fx.mock.expire_all_access(); // the session expires between upload and close
    org.ingest_set_state(&job, "UploadComplete").await.unwrap();
    org.ingest_wait(&job).await.unwrap();
    let (ok, failed) = org.ingest_results(&job).await.unwrap();
    assert_eq!(failed.lines().count(), 1, "no failed rows: {failed}");
    assert_eq!(ok.lines().count() - 1, 500, "every record made it");
    assert_eq!(
        fx.mock.uploads.load(Ordering::SeqCst),
        1,
        "the upload was not repeated"
    );
    assert_eq!(fx.mock.refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_processes_at_expiry_with_rotation_renew_once_and_all_go_on() {
    let fx = Setup::new().await;
    fx.mock.rotate.store(true, Ordering::SeqCst);
    let _ = fx.logged_in().await;
    // eight "processes": each reads the profile on its own, as `sayso` started eight times would
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(Client::from_profile(&fx.home, "default").await.unwrap());
    }
    fx.mock.expire_all_access();
    limits_at_once(
        clients,
        "every process goes on with the one renewed session",
    )
    .await;
    assert_eq!(
        fx.mock.refreshes(),
        1,
        "one renewal for the profile, whatever the number of processes"
    );
    assert!(
        fx.mock
            .refresh
            .lock()
            .unwrap()
            .contains(stored(&fx.home).refresh_token.unwrap().expose()),
        "the rotated refresh token is the one saved"
    );
}
