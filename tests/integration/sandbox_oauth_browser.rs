//! The login and consent pages in a real headless browser: Debian's `chromium` driven through
//! `chromedriver` over the W3C WebDriver protocol (plain HTTP+JSON, spoken here with reqwest).
//! Logs in as Dana, consents, lands on the loopback redirect with a code, and exchanges the code
//! (PKCE) for a token that works on the data API.
//!
//! Skips (passes with a note on stderr) when `chromium` or `chromedriver` is not installed; `.ci/run`
//! installs them with `apt-get install -y chromium chromium-driver`.

use crate::support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Kills the driver (by its own child handle) when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("webdriver call");
        r.json::<Value>().await.expect("webdriver json")["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element matching `css`, waiting up to 10 s for it to appear.
    async fn element(&self, css: &str) -> String {
        for _ in 0..100 {
            let v = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element `{css}` on {}", self.url().await);
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A loopback "app" that answers 200 to the redirect, so the browser lands on a real page.
async fn callback_listener() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().expect("addr").port()
    );
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let body = "<html><body><p id=\"done\">You may close this window.</p></body></html>";
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn login_and_consent_in_a_headless_browser() {
    let (Some(chromium), Some(chromedriver)) = (
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
        find_program(&["chromedriver"]),
    ) else {
        eprintln!(
            "skipped: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let _driver = Driver(child);
    let http = reqwest::Client::new();
    let wd = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{wd}/status")).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "chromedriver did not start");
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
        }
    }}});
    let created: Value = http
        .post(format!("{wd}/session"))
        .json(&caps)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let sid = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_string();
    let s = Session {
        http: http.clone(),
        base: format!("{wd}/session/{sid}"),
    };

    let org = start().await;
    let redirect = callback_listener().await;
    let verifier = "browser-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let mut authorize =
        url::Url::parse(&format!("{}/services/oauth2/authorize", org.url)).expect("url");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "sayso-cli")
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "api refresh_token")
        .append_pair("state", "browser-state")
        .append_pair("code_challenge", &challenge);
    s.goto(authorize.as_str()).await;
    s.type_into("#username", DANA).await;
    s.type_into("#password", "demo-password").await;
    s.click("#Login").await;
    let scopes = s.text("#scopes").await;
    assert!(scopes.contains("Access and manage your data"), "{scopes}");
    assert!(
        scopes.contains("Perform requests on your behalf at any time"),
        "{scopes}"
    );
    assert_eq!(s.text("#user").await, DANA);
    s.click("#oaapprove").await;
    let mut landed = String::new();
    for _ in 0..100 {
        landed = s.url().await;
        if landed.starts_with(&redirect) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = http.delete(format!("{wd}/session/{sid}")).send().await;
    let landed = url::Url::parse(&landed).expect("landed url");
    assert!(landed.as_str().starts_with(&redirect), "{landed}");
    let param = |n: &str| {
        landed
            .query_pairs()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("browser-state"));
    let code = param("code").expect("code in the redirect");

    let (status, body) = org
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "sayso-cli"),
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
    let token = body["access_token"].as_str().expect("access token");
    let (_, q) = org.query(token, "SELECT Id FROM Opportunity").await;
    assert_eq!(q["totalSize"], 19, "Dana's deals: {q}");
}
