//! Shared helpers of the integration suite: an in-process sandbox on 127.0.0.1:0 (fresh,
//! in memory, today pinned to the corpus date), a reqwest client that does not follow redirects,
//! and token helpers for each demo login path.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sayso::sandbox::faults::FaultOptions;
use sayso::sandbox::{AppState, Sandbox, SandboxOptions};
use serde_json::{Value, json};

pub const DEMO_KEY: &str = include_str!("../../src/sandbox/demo-org/keys/demo-jwt.key");
pub const DANA: &str = "dana.reyes@demo.sayso.dev";
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
            .post(format!("{}/services/oauth2/token", self.url))
            .form(form)
            .send()
            .await
            .expect("token call");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
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
        assert_eq!(s, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
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
        assert_eq!(s, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
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
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn query(&self, token: &str, soql: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/services/data/{V}/query", self.url))
            .query(&[("q", soql)])
            .bearer_auth(token)
            .send()
            .await
            .expect("query");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .patch(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("patch");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn delete(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("delete");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
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
