//! Shared helpers of the integration suite: an in-process sandbox on 127.0.0.1:0 (fresh,
//! in memory, today pinned to the corpus date), a reqwest client that does not follow redirects,
//! and token helpers for each demo login path; for the tests of the binary and the agent (the
//! "cli test helpers" section), a `SAYSO_HOME` running the real binary, a sandbox served in a
//! process of its own, library clients and `Org` handles for a served org, the administrator over
//! REST from a blocking test, and shell dialogues played through a pseudo-terminal.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sayso::sandbox::faults::FaultOptions;
use sayso::sandbox::{AppState, Sandbox, SandboxOptions};
use serde_json::{Value, json};

pub const DEMO_KEY: &str = include_str!("../../src/sandbox/demo-org/keys/demo-jwt.key");
pub const DANA: &str = "dana.reyes@demo.sayso.dev";
pub const DANA_ID: &str = "005Dm0000000003IAA";
pub const SAM: &str = "sam.okafor@demo.sayso.dev";
pub const ALEX: &str = "alex.johnson@demo.sayso.dev";
pub const MARIA: &str = "maria.chen@demo.sayso.dev";
pub const PRIYA: &str = "priya.nair@demo.sayso.dev";
pub const ADA: &str = "admin@demo.sayso.dev";
pub const KINETIC: &str = "kinetic.integration@demo.sayso.dev";
pub const V: &str = "v63.0";

/// A running sandbox; dropping it shuts the server down.
pub struct Org {
    pub url: String,
    pub http: reqwest::Client,
    pub state: Arc<AppState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start() -> Org {
    start_with(FaultOptions::default()).await
}

pub async fn start_with(faults: FaultOptions) -> Org {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 18);
    let sandbox = Sandbox::open(SandboxOptions {
        db_path: None,
        fresh: true,
        today,
        faults,
    })
    .expect("sandbox opens");
    let state = sandbox.state().clone();
    let (url, tx) = serve(sandbox).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Org {
        url,
        http,
        state,
        _stop: tx,
    }
}

/// Serves `sandbox` on a free port of 127.0.0.1: its base URL, and the sender that stops the
/// server when dropped.
pub async fn serve(sandbox: Sandbox) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = sandbox
            .serve(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    (url, tx)
}

impl Org {
    /// POSTs a form to the token endpoint; returns (status, JSON body).
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/services/oauth2/token", self.url));
        json_answer(r.form(form), "token call").await
    }

    /// A client-credentials access token for `client_id`.
    pub async fn cc_token(&self, client_id: &str, secret: &str) -> String {
        let (s, body) = self
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .await;
        access_token(s, &body)
    }

    pub async fn admin(&self) -> String {
        self.cc_token("sandbox-admin", "sandbox-admin-secret").await
    }

    pub async fn kinetic(&self) -> String {
        self.cc_token("kinetic-ltd", "kinetic-demo-secret").await
    }

    /// A JWT bearer access token for `username` through `sayso-cli`.
    pub async fn jwt_token(&self, username: &str) -> String {
        let (s, body) = self
            .jwt(
                username,
                json!(chrono::Utc::now().timestamp() + 300),
                &self.url,
            )
            .await;
        access_token(s, &body)
    }

    pub async fn jwt(&self, username: &str, exp: Value, aud: &str) -> (u16, Value) {
        let assertion = sign(json!({"iss": "sayso-cli", "sub": username, "aud": aud, "exp": exp}));
        self.token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ])
        .await
    }

    /// GET `path` (under the origin) with a bearer token; returns (status, headers, JSON or text).
    pub async fn get(&self, token: &str, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self.http.get(format!("{}{path}", self.url));
        let r = r.bearer_auth(token).send().await.expect("get");
        let headers = r.headers().clone();
        let (status, body) = answer(r).await;
        (status, headers, body)
    }

    pub async fn query(&self, token: &str, soql: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/services/data/{V}/query", self.url));
        json_answer(r.query(&[("q", soql)]).bearer_auth(token), "query").await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.patch(format!("{}{path}", self.url));
        answer(
            r.bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("patch"),
        )
        .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self.http.delete(format!("{}{path}", self.url));
        answer(r.bearer_auth(token).send().await.expect("delete")).await
    }
}

/// The access token of a token endpoint's answer, which must be a 200.
fn access_token(status: u16, body: &Value) -> String {
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// Sends `request` (`what` names it in a panic): its status and JSON body (null when the body
/// is not JSON).
pub async fn json_answer(request: reqwest::RequestBuilder, what: &str) -> (u16, Value) {
    let r = request.send().await.expect(what);
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A response's status and body: JSON, or the text when it is not JSON.
pub async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn sign(claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(DEMO_KEY.as_bytes()).expect("demo key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("sign")
}

/// The `errorCode` of a REST error body.
pub fn error_code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or("")
}

/// Ids of the records of a query result.
pub fn ids(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body["records"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["Id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A sandbox served for the whole test binary (for tests that run the real `sayso` binary
/// against it): its URL and the sandbox itself (to mint tokens, read the store).
pub struct Forever {
    pub url: String,
    pub sandbox: Sandbox,
}

/// Opens the demo org with `options` (today pinned to the corpus date unless set) and serves it
/// on a free port from a background thread until the test binary exits.
pub fn serve_forever(mut options: SandboxOptions) -> Forever {
    options.today = options
        .today
        .or(chrono::NaiveDate::from_ymd_opt(2026, 11, 18));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let sandbox = Sandbox::open(options).expect("sandbox opens");
            let (url, stop) = serve(sandbox.clone()).await;
            tx.send(Forever { url, sandbox })
                .expect("test thread waits");
            std::future::pending::<()>().await;
            drop(stop);
        });
    });
    rx.recv().expect("sandbox served")
}

/// Logs `user` in through the real binary with the demo JWT key; `sayso` is the binary's command
/// with its `SAYSO_HOME` set. Panics with the binary's stderr when the login fails.
pub fn login_through_binary(mut sayso: std::process::Command, url: &str, user: &str) {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/sandbox/demo-org/keys/demo-jwt.key"
    );
    let out = sayso
        .args([
            "login",
            "--instance-url",
            url,
            "--jwt",
            "--client-id",
            "sayso-cli",
        ])
        .args(["--username", user, "--jwt-key", key])
        .output()
        .expect("sayso runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The real binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_sayso");

/// A `SAYSO_HOME` for the real binary. Its commands run on the corpus date, without colour, and
/// without the caller's profile or log level.
pub struct Cli {
    home: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Cli {
    /// A new, empty home in a temporary folder (removed on drop).
    pub fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        Cli {
            home: dir.path().to_path_buf(),
            _dir: Some(dir),
        }
    }

    /// The home at `path` (kept on drop).
    pub fn at(path: &std::path::Path) -> Cli {
        Cli {
            home: path.to_path_buf(),
            _dir: None,
        }
    }

    /// A new home with `user` logged in to the sandbox at `url`.
    pub fn logged_in(url: &str, user: &str) -> Cli {
        let cli = Cli::new();
        cli.login(url, user);
        cli
    }

    /// Logs `user` in to the sandbox at `url` through the binary (JWT, the demo key).
    pub fn login(&self, url: &str, user: &str) {
        login_through_binary(self.sayso(&[]), url, user);
    }

    pub fn path(&self) -> &std::path::Path {
        &self.home
    }

    /// `sayso ARGS` with this home (`output()` gives it an empty stdin; a PTY or a pipe can be
    /// set instead).
    pub fn sayso(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(BIN);
        c.args(args)
            .env("SAYSO_HOME", &self.home)
            .env("SAYSO_TODAY", "2026-11-18")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("SAYSO_PROFILE");
        c
    }

    /// Runs `sayso ARGS`: (exit code, the JSON lines of stdout, stderr).
    pub fn json(&self, args: &[&str]) -> (i32, Vec<Value>, String) {
        finished(self.sayso(args).output().unwrap())
    }

    /// Pipes `input` into `sayso ARGS`: (exit code, the JSON lines of stdout, stderr).
    pub fn pipe(&self, args: &[&str], input: &str) -> (i32, Vec<Value>, String) {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .sayso(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        finished(child.wait_with_output().unwrap())
    }
}

/// A finished run: (exit code, the JSON lines of stdout, stderr).
fn finished(out: std::process::Output) -> (i32, Vec<Value>, String) {
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sandbox served by the real binary in a process of its own (`sayso sandbox serve --port 0
/// --fresh`, its database in a temporary folder beside an empty `home`), killed on drop.
pub struct Spawned {
    child: std::process::Child,
    /// Where it answers (`http://127.0.0.1:PORT`).
    pub url: String,
    /// A `SAYSO_HOME` beside it, empty until someone logs in.
    pub home: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    /// Serves a fresh sandbox with the extra `sandbox serve` flags `extra`.
    pub fn start(extra: &[&str]) -> Spawned {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(BIN)
            .args(["sandbox", "serve", "--port", "0", "--fresh", "--db"])
            .arg(dir.path().join("org.db"))
            .args(extra)
            .env("SAYSO_TODAY", "2026-11-18")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        let mut line = String::new();
        while url.is_empty() && reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(i) = line.find("http://127.0.0.1:") {
                let found = line[i..].split_whitespace().next().unwrap_or("");
                url = found.trim_end_matches('/').to_string();
            }
            line.clear();
        }
        assert!(!url.is_empty(), "sandbox printed no URL");
        // keep reading so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in reader.lines() {});
        Spawned {
            child,
            url,
            home: dir.path().join("home"),
            _dir: dir,
        }
    }

    /// The binary with the `home` beside this sandbox.
    pub fn cli(&self) -> Cli {
        Cli::at(&self.home)
    }

    /// Logs `user` in, in the `home` beside this sandbox.
    pub fn login(&self, user: &str) {
        self.cli().login(&self.url, user);
    }
}

// --- cli test helpers
// Shared by the tests of the binary and of the agent: a library client or `Org` handle for a
// user of a served sandbox, the administrator over REST from a blocking test, and driving the
// shell through a pseudo-terminal.

/// A library client for `username` on the sandbox `sandbox` served at `url` (a token the sandbox
/// mints, no login).
pub fn client_as(sandbox: &Sandbox, url: &str, username: &str) -> sayso::salesforce::Client {
    let token = sandbox.mint_token(username).unwrap();
    sayso::salesforce::Client::new(sayso::salesforce::ClientOptions::new(
        url::Url::parse(url).unwrap(),
        sayso::auth::Secret::new(token),
    ))
    .unwrap()
}

/// `username`'s plain `Org` handle (no hook) on the sandbox served at `url`: the administrator
/// reading or changing the org underneath the agent, for one.
pub fn org_as(sandbox: &Sandbox, url: &str, username: &str) -> sayso::salesforce::Org {
    sayso::salesforce::Org::over(client_as(sandbox, url, username))
}

/// A fresh demo org served in-process on 127.0.0.1:0 for the tests of the agent's library: its
/// URL and the sandbox itself (to mint tokens, read its state); dropping it stops the server.
pub struct LiveOrg {
    pub url: String,
    pub sandbox: Sandbox,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl LiveOrg {
    /// `sandbox`, served.
    pub async fn serve(sandbox: Sandbox) -> LiveOrg {
        let (url, stop) = serve(sandbox.clone()).await;
        LiveOrg {
            url,
            sandbox,
            _stop: stop,
        }
    }

    /// A fresh demo org in memory, on the corpus date.
    pub async fn fresh() -> LiveOrg {
        let sandbox = Sandbox::open(SandboxOptions {
            db_path: None,
            fresh: true,
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 18),
            faults: FaultOptions::default(),
        })
        .expect("sandbox opens");
        LiveOrg::serve(sandbox).await
    }

    /// A library client for `username`.
    pub fn client(&self, username: &str) -> sayso::salesforce::Client {
        client_as(&self.sandbox, &self.url, username)
    }

    /// `username`'s plain `Org` handle (the administrator checking the org, for one).
    pub fn org(&self, username: &str) -> sayso::salesforce::Org {
        org_as(&self.sandbox, &self.url, username)
    }

    /// An agent acting as `username` (user id `me`) with `journal`, on the corpus date; its
    /// requests go through `wrap` of the plain transport (a test's hook or script).
    pub fn agent<T: sayso::salesforce::org::Transport + 'static>(
        &self,
        username: &str,
        me: &str,
        journal: sayso::journal::Journal,
        wrap: impl FnOnce(sayso::salesforce::transport::ClientTransport) -> T,
    ) -> sayso::app::Agent {
        let plain = sayso::salesforce::transport::ClientTransport::new(self.client(username));
        let org = sayso::salesforce::Org::new(Box::new(wrap(plain)), "v63.0");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        sayso::app::Agent::with_org(org, journal, me, username, today, None)
    }
}

/// Dana's open opportunities as `admin` reads them: (id, NextStep), ordered by id.
pub async fn danas_open_next_steps(admin: &sayso::salesforce::Org) -> Vec<(String, Value)> {
    admin
        .query_all("SELECT Id, NextStep FROM Opportunity WHERE OwnerId = '005Dm0000000003IAA' AND IsClosed = false ORDER BY Id")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r["Id"].as_str().unwrap().to_string(), r["NextStep"].clone()))
        .collect()
}

/// Creates `n` more open deals for Dana as `admin` (sObject Collections of 200), named
/// `{prefix} {batch}-{k}`, with the next step `step {batch}-{k}` when `next_step`.
pub async fn add_open_deals(
    admin: &sayso::salesforce::Org,
    n: usize,
    prefix: &str,
    next_step: bool,
) {
    for batch in 0..n.div_ceil(200) {
        let records: Vec<Value> = (0..200)
            .filter(|k| batch * 200 + k < n)
            .map(|k| {
                let mut r = json!({"attributes": {"type": "Opportunity"}, "Name": format!("{prefix} {batch}-{k}"),
                    "StageName": "Prospecting", "CloseDate": "2026-12-31", "OwnerId": "005Dm0000000003IAA"});
                if next_step {
                    r["NextStep"] = json!(format!("step {batch}-{k}"));
                }
                r
            })
            .collect();
        let rs = admin.collection("POST", records, true).await.unwrap();
        assert!(rs.iter().all(|r| r["success"] == true), "{rs:?}");
    }
}

impl Forever {
    /// Runs `f` with `username`'s `Org` handle on this sandbox, on a runtime of its own (for the
    /// blocking tests of the binary).
    pub fn with_org<T>(
        &self,
        username: &str,
        f: impl AsyncFnOnce(&sayso::salesforce::Org) -> T,
    ) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { f(&org_as(&self.sandbox, &self.url, username)).await })
    }
}

/// The sandbox administrator straight through the REST API (client credentials), from a
/// blocking test: what the org holds, and changes made underneath the binary.
pub struct AdminRest {
    url: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    token: String,
}

impl AdminRest {
    /// Logs the administrator in to the sandbox at `url`.
    pub fn login(url: &str) -> AdminRest {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // No pooled connection may outlive a sandbox that is stopped.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-admin"),
            ("client_secret", "sandbox-admin-secret"),
        ];
        let r = http
            .post(format!("{url}/services/oauth2/token"))
            .form(&form);
        let (status, body) = rt.block_on(json_answer(r, "admin token"));
        let token = access_token(status, &body);
        AdminRest {
            url: url.into(),
            rt,
            http,
            token,
        }
    }

    /// Every row of `soql` (all pages).
    pub fn rows(&self, soql: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut next = format!(
            "{}/services/data/{V}/query?q={}",
            self.url,
            url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
        );
        loop {
            let (status, page) = self.send(self.http.get(&next));
            assert_eq!(status, 200, "{soql}: {page}");
            rows.extend(page["records"].as_array().cloned().unwrap_or_default());
            match page["nextRecordsUrl"].as_str() {
                Some(n) => next = format!("{}{n}", self.url),
                None => return rows,
            }
        }
    }

    /// PATCHes `body` onto the record `object`/`id`; the change must succeed.
    pub fn patch(&self, object: &str, id: &str, body: Value) {
        let path = format!("{}/services/data/{V}/sobjects/{object}/{id}", self.url);
        let (status, answer) = self.send(self.http.patch(path).json(&body));
        assert!(
            (200..300).contains(&status),
            "admin PATCH: {status} {answer}"
        );
    }

    /// POSTs `body` to `path` (under the API version); the call must succeed.
    pub fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/services/data/{V}/{path}", self.url);
        let (status, answer) = self.send(self.http.post(url).json(&body));
        assert!(
            (200..300).contains(&status),
            "admin POST {path}: {status} {answer}"
        );
        answer
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let request = request.bearer_auth(&self.token);
        self.rt.block_on(json_answer(request, "admin call"))
    }
}

/// `sayso shell` (the command `c`) in a pseudo-terminal, as a terminal user runs it (`TERM=xterm`;
/// each wait gives up after 30 s). Escape codes stay in: rexpect's stripper swallows text after
/// rustyline's `ESC[?2004h`.
pub fn pty(mut c: std::process::Command) -> rexpect::session::PtySession {
    c.env("TERM", "xterm");
    let opts = rexpect::reader::Options::new().timeout_ms(Some(30_000));
    rexpect::session::spawn_with_options(c, opts).expect("spawn the shell")
}

/// Waits until the shell shows `needle`; what it showed before. Panics naming the needle.
#[track_caller]
pub fn expect_text(p: &mut rexpect::session::PtySession, needle: &str) -> String {
    match p.exp_string(needle) {
        Ok(before) => before,
        Err(e) => panic!("waiting for {needle:?}: {e}"),
    }
}

/// The shell dialogue `tests/fixtures/shell/{name}.txt`.
pub fn shell_fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/shell/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Plays the dialogue `script` (named `name` in a failure) against the shell `p`: `> TEXT` types
/// TEXT and Enter, `>_ TEXT` types it without Enter (`<TAB>` is the Tab key, `<RIGHT>` the right
/// arrow), `< TEXT` waits until the shell shows TEXT; other lines are comments.
pub fn play_shell(p: &mut rexpect::session::PtySession, name: &str, script: &str) {
    for (n, line) in script.lines().enumerate() {
        let typed = match line.strip_prefix("> ").or((line == ">").then_some("")) {
            Some(typed) => Some((typed, true)),
            None => line.strip_prefix(">_ ").map(|typed| (typed, false)),
        };
        if let Some((typed, enter)) = typed {
            for (i, part) in typed.split("<TAB>").enumerate() {
                if i > 0 {
                    p.send("\t").unwrap();
                }
                p.send(&part.replace("<RIGHT>", "\x1b[C")).unwrap();
                p.flush().unwrap();
            }
            if enter {
                p.send_line("").unwrap();
            }
        } else if let Some(shown) = line.strip_prefix("< ")
            && let Err(e) = p.exp_string(shown)
        {
            panic!("{name} line {}: waiting for {shown:?}: {e}", n + 1);
        }
    }
}

// --- sandbox test helpers

/// Demo records more than one sandbox test names.
pub const TITAN: &str = "006Dm0000000001IAA";
pub const CASE_1001: &str = "500Dm0000000001IAA";
pub const CASE_1004: &str = "500Dm0000000004IAA";

/// The `key` texts of the objects in the JSON array `items` (none when it is not an array).
pub fn texts<'v>(items: &'v Value, key: &str) -> Vec<&'v str> {
    items
        .as_array()
        .map(|xs| xs.iter().filter_map(|x| x[key].as_str()).collect())
        .unwrap_or_default()
}

/// Asserts that the answer `(status, body)` is the REST error `want` (status, `errorCode`); the
/// failure message names `what` and shows the body.
#[track_caller]
pub fn assert_error(status: u16, body: &Value, want: (u16, &str), what: &str) {
    assert_eq!((status, error_code(body)), want, "{what}: {body}");
}

/// `text` percent-encoded for a query string (`q=`).
pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An id of the object with key `prefix` that no record has.
pub fn missing_id(prefix: &str) -> String {
    sayso::id::RecordId::from_parts(prefix, "Dm", 999)
        .as_str()
        .to_string()
}

impl Org {
    /// Runs `soql` as `token` and asserts it answers 200: the result.
    pub async fn query_ok(&self, token: &str, soql: &str) -> Value {
        let (status, body) = self.query(token, soql).await;
        assert_eq!(status, 200, "{soql}: {body}");
        body
    }

    /// GET `path` (under the origin) with the parameter `q=text` as `token`: (status, JSON body,
    /// null when not JSON).
    pub async fn get_q(&self, token: &str, path: &str, text: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.url));
        json_answer(r.query(&[("q", text)]).bearer_auth(token), path).await
    }

    /// `GET limits` (one counted data call) with `token`: (status, JSON body).
    pub async fn limits(&self, token: &str) -> (u16, Value) {
        let (status, _, body) = self.get(token, &format!("/services/data/{V}/limits")).await;
        (status, body)
    }

    /// `method` on `path` (under the origin) with a bearer token and an optional JSON body;
    /// returns (status, JSON or text).
    pub async fn send(
        &self,
        method: &str,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("an answer")).await
    }

    /// POSTs the JSON `body` to `path` (under the origin) with a bearer token.
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", token, path, Some(body)).await
    }

    /// POSTs `form` to `path` without a token (the OAuth endpoints); returns (status, JSON or
    /// text).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.url)).form(form);
        answer(r.send().await.expect("an answer")).await
    }
}

/// A whole HTTP answer: status, headers and the body as text.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// Reads `resp` to the end.
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// A header's value (`""` when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
}

/// A sandbox served on a free port of 127.0.0.1 until `stop` is sent or dropped.
pub struct Served {
    /// Where it answers (`http://127.0.0.1:PORT`).
    pub base: String,
    pub sandbox: Sandbox,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub server: tokio::task::JoinHandle<()>,
}

/// Opens a sandbox with `options` and serves it: with its background workers, or (`workers`
/// false) only its router, so a test can run the jobs itself.
pub async fn serve_sandbox(options: SandboxOptions, workers: bool) -> Served {
    let sandbox = Sandbox::open(options).expect("sandbox opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = sandbox.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if workers {
            let _ = served.serve(listener, shutdown).await;
        } else {
            let _ = axum::serve(listener, served.router())
                .with_graceful_shutdown(shutdown)
                .await;
        }
    });
    Served {
        base,
        sandbox,
        stop,
        server,
    }
}
