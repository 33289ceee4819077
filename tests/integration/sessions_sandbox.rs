//! Sessions end to end against the sandbox org served in-process on 127.0.0.1:0: each login flow
//! (through the real binary where the evaluation uses it), renewal after an expired session,
//! invalid_grant, logout with server-side revocation checked by introspection, file permissions,
//! and retries under the sandbox's fault injection.

use std::path::{Path, PathBuf};

use sayso::auth::login::{self, LoginOptions};
use sayso::auth::{Secret, TokenStore, oauth};
use sayso::config::Home;
use sayso::salesforce::{Client, Error, LimitScope};
use sayso::sandbox::faults::FaultOptions;
use serde_json::{Value, json};

fn demo_key() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/demo-org/keys/demo-jwt.key")
}

use crate::support::DANA;
use crate::support::{Org, start_with as start};

/// A sandbox with `faults`, and an empty `SAYSO_HOME` (in the temporary folder returned with it).
async fn org_and_home(faults: FaultOptions) -> (Org, tempfile::TempDir, Home) {
    let org = start(faults).await;
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path());
    (org, dir, home)
}

/// A fresh sandbox and a `SAYSO_HOME` path for the binary (not made yet), in the temporary folder
/// returned with it.
async fn org_and_home_path() -> (Org, tempfile::TempDir, PathBuf) {
    let org = start(FaultOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    (org, dir, home)
}

/// Revokes `token` at the sandbox's revocation endpoint.
async fn revoke(org: &Org, token: &Secret) {
    let http = reqwest::Client::new();
    let ep = oauth::OAuthEndpoints::new(&org.url).unwrap();
    oauth::revoke(&http, &ep.revoke_url(), token).await.unwrap();
}

/// The text of the page `request` answers with.
async fn page_of(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

/// The request id of a sandbox login page.
fn request_id(page: &str) -> String {
    regex::Regex::new(r#"name="request" value="([^"]+)""#)
        .unwrap()
        .captures(page)
        .unwrap_or_else(|| panic!("login page has a request id: {page}"))[1]
        .to_string()
}

/// Posts the sandbox's login form (request `rid`) as `username` to the authorize URL `url`.
async fn sign_in(
    http: &reqwest::Client,
    url: &str,
    rid: &str,
    username: &str,
) -> reqwest::Response {
    let form = [
        ("request", rid),
        ("action", "login"),
        ("username", username),
        ("password", "demo-password"),
    ];
    http.post(url).form(&form).send().await.unwrap()
}

/// Posts the consent form's approval (request `rid`) to the authorize URL `url`.
async fn approve(http: &reqwest::Client, url: &str, rid: &str) -> reqwest::Response {
    let form = [("request", rid), ("action", "approve")];
    http.post(url).form(&form).send().await.unwrap()
}

/// `sayso login --instance-url URL --client-credentials --client-id kinetic-ltd EXTRA…` in `home`,
/// with `stdin`.
async fn kinetic_login(
    home: &Path,
    org: &Org,
    extra: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut args = vec!["login", "--instance-url", &org.url, "--client-credentials"];
    args.extend(["--client-id", "kinetic-ltd"]);
    args.extend_from_slice(extra);
    sayso(home, &args, stdin).await
}

fn opts(org: &Org, profile: &str) -> LoginOptions {
    let mut o = LoginOptions::new(profile);
    o.login_url = org.url.clone();
    o
}

async fn introspect_active(org: &Org, token: &Secret) -> bool {
    let http = reqwest::Client::new();
    let url = oauth::OAuthEndpoints::new(&org.url)
        .unwrap()
        .introspect_url();
    let v = oauth::introspect(&http, &url, token, "sayso-cli", None)
        .await
        .unwrap();
    v["active"].as_bool().unwrap_or(false)
}

/// Plays the browser: follows the authorize URL through the sandbox's login and consent pages and
/// lands on the loopback redirect.
async fn play_browser(authorize: url::Url, username: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let origin = format!(
        "{}://{}",
        authorize.scheme(),
        authorize.host_str().unwrap().to_string() + &format!(":{}", authorize.port().unwrap())
    );
    let post_url = format!("{origin}/services/oauth2/authorize");
    let page = page_of(http.get(authorize)).await;
    let rid = request_id(&page);
    let mut resp = sign_in(&http, &post_url, &rid, username).await;
    if resp.status().as_u16() == 200 {
        // Consent page.
        resp = approve(&http, &post_url, &rid).await;
    }
    assert_eq!(resp.status().as_u16(), 302, "redirect to the loopback");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let landed = reqwest::get(location).await.unwrap();
    assert_eq!(landed.status().as_u16(), 200);
}

/// Logs Dana in through the browser flow (refresh token) into `home`.
async fn browser_login(org: &Org, home: &Home) -> login::LoginReport {
    let o = opts(org, "default");
    let http = reqwest::Client::new();
    let b = login::start_browser(&o, 0).await.unwrap();
    let url = b.url.clone();
    let browser = tokio::spawn(play_browser(url, DANA));
    let report = login::PendingLogin::Browser(b)
        .finish(home, &http, &o, std::time::Duration::from_secs(20))
        .await
        .unwrap();
    browser.await.unwrap();
    report
}

/// `sayso ARGS` with `home` and none of the caller's session settings, its output piped.
fn sayso_command(home: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sayso"));
    cmd.args(args)
        .env("SAYSO_HOME", home)
        .env_remove("SAYSO_CLIENT_SECRET")
        .env_remove("SAYSO_PROFILE")
        .env_remove("SAYSO_INSTANCE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

async fn sayso(home: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = sayso_command(home, args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).await.unwrap();
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_as_dana_through_the_binary_then_whoami_usage_logout() {
    let (org, _dir, home) = org_and_home_path().await;
    let key = demo_key();
    let (code, out, err) = sayso(
        &home,
        &[
            "login",
            "--instance-url",
            &org.url,
            "--jwt",
            "--client-id",
            "sayso-cli",
            "--username",
            DANA,
            "--jwt-key",
            key.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Dana Reyes"), "{out}");
    assert!(out.contains(&org.url), "{out}");
    assert!(out.contains("scopes:") && out.contains("api"), "{out}");
    let creds_file = home.join("credentials/default.json");
    #[cfg(unix)]
    {
        assert_eq!(mode(&creds_file), 0o600);
        assert_eq!(mode(&home.join("credentials")), 0o700);
    }
    let h = Home::new(&home);
    let creds = TokenStore::file(&h).load("default").unwrap().unwrap();
    for text in [
        &out,
        &err,
        &std::fs::read_to_string(h.profiles_file()).unwrap(),
    ] {
        assert!(
            !text.contains(creds.access_token.expose()),
            "token printed or in the profile"
        );
    }

    // The session works through the library, as `sayso run` uses it.
    let client = Client::from_profile(&h, "default").await.unwrap();
    let me = client
        .query("SELECT Id, Name FROM User WHERE Username = 'dana.reyes@demo.sayso.dev'")
        .await
        .unwrap();
    assert_eq!(me.records.len(), 1);
    assert_eq!(client.api_calls(), 1);

    let (code, out, _) = sayso(&home, &["whoami", "--json"], None).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profile"]["username"], DANA);
    assert_eq!(v["profile"]["method"], "jwt");
    assert_eq!(v["session"], "active");
    assert!(!out.contains(creds.access_token.expose()));

    let (code, out, _) = sayso(&home, &["usage", "--json"], None).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["calls_today"], 1);
    assert!(v["org"]["max"].as_u64().unwrap() > 0, "{v}");

    // A loose token file is refused with the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&creds_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, _, err) = sayso(&home, &["whoami"], None).await;
        assert_eq!(code, 2);
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&creds_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    assert!(introspect_active(&org, &creds.access_token).await);
    let (code, out, err) = sayso(&home, &["logout"], None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("revoked access token"), "{out}");
    assert!(
        !introspect_active(&org, &creds.access_token).await,
        "revoked at the server"
    );
    assert!(!creds_file.exists(), "local secrets deleted");
    let (code, _, err) = sayso(&home, &["whoami"], None).await;
    assert_eq!(code, 2);
    assert!(err.contains("sayso login"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_as_kinetic_through_the_binary_flag_and_stdin() {
    let (org, _dir, home) = org_and_home_path().await;
    let (code, out, err) = kinetic_login(
        &home,
        &org,
        &["--client-secret", "kinetic-demo-secret"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("kinetic.integration@demo.sayso.dev"), "{out}");
    assert!(!out.contains("kinetic-demo-secret") && !err.contains("kinetic-demo-secret"));
    let h = Home::new(&home);
    let client = Client::from_profile(&h, "default").await.unwrap();
    let cases = client.query("SELECT Id, Subject FROM Case").await.unwrap();
    assert_eq!(
        cases.records.len(),
        3,
        "the contractor sees its three cases"
    );

    // The secret from stdin, into a second profile; a wrong secret fails without echoing it.
    let (code, out, err) = kinetic_login(
        &home,
        &org,
        &["--profile", "contractor", "--json"],
        Some("kinetic-demo-secret\n"),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profile"]["method"], "client_credentials");
    assert!(!out.contains("kinetic-demo-secret"));
    let (code, _, err) =
        kinetic_login(&home, &org, &["--profile", "bad"], Some("not-the-secret\n")).await;
    assert_eq!(code, 2);
    assert!(err.contains("invalid_client"), "{err}");
    assert!(!err.contains("not-the-secret"));
    let profiles = sayso::auth::store::load_profiles(&h).unwrap();
    assert!(profiles.contains_key("default") && profiles.contains_key("contractor"));
    assert!(
        !profiles.contains_key("bad"),
        "a failed login writes nothing"
    );

    let (code, out, _) = sayso(&home, &["logout", "--all"], None).await;
    assert_eq!(code, 0, "{out}");
    assert!(sayso::auth::store::load_profiles(&h).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_in_process_and_errors() {
    let (org, _dir, home) = org_and_home(FaultOptions::default()).await;
    let http = reqwest::Client::new();
    let o = opts(&org, "default");
    let r = login::login_jwt(&home, &http, &o, DANA, &demo_key(), None)
        .await
        .unwrap();
    assert_eq!(r.profile.username.as_deref(), Some(DANA));
    assert!(
        r.profile.scopes.iter().any(|s| s == "api"),
        "{:?}",
        r.profile.scopes
    );
    // Unknown user / wrong audience are refused by the org with its words.
    let err = login::login_jwt(&home, &http, &o, "nobody@demo.sayso.dev", &demo_key(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    let err = login::login_jwt(
        &home,
        &http,
        &o,
        DANA,
        &demo_key(),
        Some("https://evil.example"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_login_then_expiry_renews_once_for_twenty_requests_and_logout_revokes() {
    let (org, _dir, home) = org_and_home(FaultOptions::default()).await;
    let report = browser_login(&org, &home).await;
    assert_eq!(report.profile.username.as_deref(), Some(DANA));
    assert_eq!(report.profile.method, sayso::auth::LoginMethod::Browser);
    let mut granted = report.profile.scopes.clone();
    granted.sort();
    assert_eq!(
        granted,
        vec!["api", "refresh_token"],
        "least scopes asked and granted"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let creds = TokenStore::file(&home).load("default").unwrap().unwrap();
    let refresh = creds.refresh_token.clone().expect("refresh token");

    // The access token dies (revoked at the server = expired for the client).
    revoke(&org, &creds.access_token).await;
    let client = Client::from_profile(&home, "default").await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.query("SELECT Id FROM Opportunity").await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("every request succeeds after renewal");
    }
    assert_eq!(client.renewals(), 1, "one refresh for twenty requests");
    let renewed = TokenStore::file(&home).load("default").unwrap().unwrap();
    assert_ne!(renewed.access_token, creds.access_token);
    assert!(introspect_active(&org, &renewed.access_token).await);

    // Logout revokes the refresh token (and with it the access token) at the server.
    let http = reqwest::Client::new();
    let ep = oauth::OAuthEndpoints::new(&org.url).unwrap();
    let r = login::logout(&home, &http, "default").await.unwrap();
    assert!(r.revoked.contains(&"refresh token".to_string()), "{r:?}");
    assert!(!introspect_active(&org, &renewed.access_token).await);
    let v = oauth::introspect(&http, &ep.introspect_url(), &refresh, "sayso-cli", None)
        .await
        .unwrap();
    assert_eq!(v["active"], json!(false));
    assert!(TokenStore::file(&home).load("default").unwrap().is_none());
}

/// How many access tokens the sandbox minted under the grant of `refresh` (its login and each
/// renewal), read off the server.
fn minted_under(org: &Org, grant_id: &str) -> i64 {
    org.state
        .lock_db()
        .query_row(
            "SELECT COUNT(*) FROM sayso_oauth_access WHERE grant_id = ?1",
            [grant_id],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_processes_at_expiry_with_refresh_token_rotation_all_succeed_with_one_renewal() {
    let (org, dir, home) = org_and_home(FaultOptions {
        rotate_refresh_tokens: true,
        ..Default::default()
    })
    .await;
    browser_login(&org, &home).await;
    let creds = TokenStore::file(&home).load("default").unwrap().unwrap();
    let first_refresh = creds.refresh_token.clone().expect("refresh token");
    let grant: String = org
        .state
        .lock_db()
        .query_row("SELECT grant_id FROM sayso_oauth_access LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(minted_under(&org, &grant), 1);

    // The access token dies; eight commands start together, each its own process.
    revoke(&org, &creds.access_token).await;
    let runs = (0..8).map(|_| {
        sayso(
            dir.path(),
            &["run", "--json", "how many opportunities do I have"],
            None,
        )
    });
    for (code, out, err) in futures_util::future::join_all(runs).await {
        assert_eq!(code, 0, "every command succeeds: {out}\n{err}");
        assert!(
            !err.contains("login"),
            "nobody is asked to log in again: {err}"
        );
    }
    assert_eq!(
        minted_under(&org, &grant),
        2,
        "one renewal for eight processes"
    );

    // The renewal rotated the refresh token: the stored one is new and live, the first is dead.
    let renewed = TokenStore::file(&home).load("default").unwrap().unwrap();
    let second_refresh = renewed.refresh_token.clone().expect("rotated token saved");
    assert_ne!(second_refresh, first_refresh);
    let (status, body) = org_token(&org, first_refresh.expose()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = org_token(&org, second_refresh.expose()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string(), "each use rotates again");
}

/// Uses `refresh` once at the sandbox's token endpoint, as the CLI app.
async fn org_token(org: &Org, refresh: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/services/oauth2/token", org.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "sayso-cli"),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_ends_the_session_with_login_again() {
    let (org, _dir, home) = org_and_home(FaultOptions::default()).await;
    browser_login(&org, &home).await;
    let creds = TokenStore::file(&home).load("default").unwrap().unwrap();
    revoke(&org, creds.refresh_token.as_ref().unwrap()).await;
    let client = Client::from_profile(&home, "default").await.unwrap();
    let err = client.query("SELECT Id FROM Account").await.unwrap_err();
    assert!(err.is_session_ended(), "{err:?}");
    assert!(err.to_string().contains("sayso login"), "{err}");
    assert_eq!(
        TokenStore::file(&home).load("default").unwrap().unwrap(),
        creds,
        "nothing half-written"
    );
}

/// Logs Dana in by JWT (the demo key) into `home` as `profile`.
async fn jwt_login(org: &Org, home: &Home, profile: &str) -> login::LoginReport {
    let http = reqwest::Client::new();
    let o = opts(org, profile);
    login::login_jwt(home, &http, &o, DANA, &demo_key(), None)
        .await
        .unwrap()
}

/// A sandbox with the faults `set` turns on, and a client for Dana logged in by JWT (the org and
/// the home's folder are returned with it, to keep them).
async fn jwt_session(set: impl FnOnce(&mut FaultOptions)) -> (Org, tempfile::TempDir, Client) {
    let mut faults = FaultOptions::default();
    set(&mut faults);
    let (org, dir, home) = org_and_home(faults).await;
    jwt_login(&org, &home, "default").await;
    let client = Client::from_profile(&home, "default").await.unwrap();
    (org, dir, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_503s_are_retried_for_reads_but_not_for_creates() {
    let (_org, _dir, client) = jwt_session(|f| f.fail_rate = 1.0).await;
    let client = client.with_new_counter();
    let err = client.query("SELECT Id FROM Account").await.unwrap_err();
    assert_eq!(err.api().map(|e| e.status), Some(503), "{err}");
    assert_eq!(client.api_calls(), 4, "a read is retried up to the limit");
    let c2 = client.with_new_counter();
    let tasks = sayso::salesforce::Org::over(c2.clone());
    assert!(tasks.create("Task", json!({"Subject": "x"})).await.is_err());
    assert_eq!(c2.api_calls(), 1, "a create is sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_lock_errors_are_retried_for_absolute_updates_only() {
    let (_org, _dir, client) = jwt_session(|f| f.lock_rate = 1.0).await;
    let opp = client
        .query("SELECT Id FROM Opportunity LIMIT 1")
        .await
        .unwrap()
        .records[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = client.with_new_counter();
    let err = sayso::salesforce::Org::over(c.clone())
        .update("Opportunity", &opp, json!({"NextStep": "Call"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UNABLE_TO_LOCK_ROW"), "{err}");
    assert_eq!(c.api_calls(), 4);
    let c = client.with_new_counter();
    let tasks = sayso::salesforce::Org::over(c.clone());
    assert!(tasks.create("Task", json!({"Subject": "x"})).await.is_err());
    assert_eq!(c.api_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orgs_request_limit_maps_to_limit_exceeded() {
    let (_org, _dir, client) = jwt_session(|f| f.api_limit = Some(2)).await;
    let mut last = None;
    for _ in 0..4 {
        if let Err(e) = client.query("SELECT Id FROM Account LIMIT 1").await {
            last = Some(e);
            break;
        }
    }
    match last {
        Some(Error::LimitExceeded(l)) => assert_eq!(l.scope, LimitScope::Org),
        other => panic!("expected the org's limit, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_through_the_binary_prints_the_url_and_checks_state() {
    use tokio::io::AsyncBufReadExt;
    let (org, _dir, home) = org_and_home_path().await;
    let args = [
        "login",
        "--instance-url",
        &org.url,
        "--no-browser",
        "--json",
    ];
    let mut child = sayso_command(&home, &args)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the URL is printed");
        if let Some(i) = line.find("http") {
            break url::Url::parse(line[i..].trim()).unwrap();
        }
    };
    assert!(url.path().ends_with("/services/oauth2/authorize"));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "api refresh_token");
    assert_eq!(q["code_challenge_method"], "S256");
    play_browser(url, DANA).await;
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profile"]["method"], "browser");
    assert_eq!(v["profile"]["username"], DANA);
    let creds = TokenStore::file(&Home::new(&home))
        .load("default")
        .unwrap()
        .unwrap();
    assert!(creds.refresh_token.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_mid_bulk_job_recovers_without_losing_a_record() {
    let (org, _dir, home) = org_and_home(FaultOptions::default()).await;
    browser_login(&org, &home).await;
    let client = Client::from_profile(&home, "default").await.unwrap();
    let org_handle = sayso::salesforce::Org::over(client.clone());
    let job = org_handle.ingest_create("Contact", "insert").await.unwrap();
    let mut csv = String::from("FirstName,LastName\n");
    for i in 0..200 {
        csv.push_str(&format!("Bulk,Person{i:03}\n"));
    }
    org_handle.ingest_upload(&job, csv).await.unwrap();
    // The access token dies between upload and close.
    let creds = TokenStore::file(&home).load("default").unwrap().unwrap();
    revoke(&org, &creds.access_token).await;
    org_handle
        .ingest_set_state(&job, "UploadComplete")
        .await
        .unwrap();
    org_handle.ingest_wait(&job).await.unwrap();
    assert_eq!(client.renewals(), 1);
    let (ok, failed) = org_handle.ingest_results(&job).await.unwrap();
    assert_eq!(failed.lines().count(), 1, "no failed rows: {failed}");
    assert_eq!(ok.lines().count() - 1, 200, "{ok}");
    let n = client
        .query("SELECT COUNT() FROM Contact WHERE FirstName = 'Bulk'")
        .await
        .unwrap();
    assert_eq!(n.total_size, 200, "every record arrived, none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_access_token_works_until_it_dies() {
    let (org, _dir, home) = org_and_home(FaultOptions::default()).await;
    let http = reqwest::Client::new();
    // Any valid session id will do: take one from a JWT login in another home.
    let other = tempfile::tempdir().unwrap();
    let other_home = Home::new(other.path());
    jwt_login(&org, &other_home, "x").await;
    let token = TokenStore::file(&other_home)
        .load("x")
        .unwrap()
        .unwrap()
        .access_token;
    let r = login::login_access_token(
        &home,
        &http,
        &opts(&org, "default"),
        token.clone(),
        &org.url,
    )
    .await
    .unwrap();
    assert_eq!(r.profile.username.as_deref(), Some(DANA));
    assert!(r.warnings.iter().any(|w| w.contains("cannot be renewed")));
    let client = Client::from_profile(&home, "default").await.unwrap();
    client
        .query("SELECT Id FROM Account LIMIT 1")
        .await
        .unwrap();
    revoke(&org, &token).await;
    let err = client
        .query("SELECT Id FROM Account LIMIT 1")
        .await
        .unwrap_err();
    assert!(err.is_session_ended(), "{err:?}");
    let bad = login::login_access_token(
        &home,
        &http,
        &opts(&org, "bad"),
        Secret::new("00Dnope!x"),
        &org.url,
    )
    .await
    .unwrap_err();
    assert!(!bad.to_string().contains("00Dnope"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_against_the_sandbox() {
    let (org, _dir, home) = org_and_home(FaultOptions::default()).await;
    let http = reqwest::Client::new();
    let o = opts(&org, "default");
    let device = login::start_device(&http, &o).await.unwrap();
    assert!(!device.code.user_code.is_empty());
    // The user approves on "another device" before the first poll, so the test need not wait.
    let pages = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let connect = format!("{}/setup/connect", org.url);
    let page = page_of(
        pages
            .post(&connect)
            .form(&[("user_code", device.code.user_code.as_str())]),
    )
    .await;
    let rid = request_id(&page);
    let authorize = format!("{}/services/oauth2/authorize", org.url);
    let body = sign_in(&pages, &authorize, &rid, DANA)
        .await
        .text()
        .await
        .unwrap();
    if body.contains("consent_form") {
        approve(&pages, &authorize, &rid).await;
    }
    let report = login::PendingLogin::Device(device)
        .finish(&home, &http, &o, std::time::Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(report.profile.method, sayso::auth::LoginMethod::Device);
    assert_eq!(report.profile.username.as_deref(), Some(DANA));
    let client = Client::from_profile(&home, "default").await.unwrap();
    client
        .query("SELECT Id FROM Account LIMIT 1")
        .await
        .unwrap();
}
