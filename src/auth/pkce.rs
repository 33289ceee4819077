//! The browser half of the authorization code flow: PKCE pair (S256), `state`, the authorize URL,
//! and a one-shot loopback listener on `127.0.0.1` that receives the redirect.
//!
//! The listener is a few lines of hand-written HTTP/1.1: it only has to read one request line and
//! answer a small page, and it must check `state` before anything else.

use std::time::Duration;

use base64::Engine;
use rand::RngExt;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use super::{Error, Secret};

/// The path the loopback listener answers on.
pub const REDIRECT_PATH: &str = "/OauthRedirect";

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct PkcePair {
    /// The verifier (43–128 unreserved characters), sent with the code exchange.
    pub verifier: Secret,
    /// `base64url(sha256(verifier))`, no padding, sent with the authorize request.
    pub challenge: String,
}

impl PkcePair {
    /// A fresh random pair with a 64-character verifier.
    pub fn generate() -> PkcePair {
        let mut rng = rand::rng();
        let verifier: String = (0..64)
            .map(|_| UNRESERVED[rng.random_range(0..UNRESERVED.len())] as char)
            .collect();
        let challenge = challenge_of(&verifier);
        PkcePair {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// The S256 challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A random `state` value (128 bits, hex).
pub fn new_state() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The authorize URL for the code flow with PKCE.
pub fn authorize_url(
    authorize_endpoint: &Url,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: &str,
    challenge: &str,
) -> Url {
    let mut u = authorize_endpoint.clone();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    u
}

/// A bound loopback listener waiting for the authorization redirect.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
}

impl Loopback {
    /// Binds `127.0.0.1:port` (0 = an ephemeral port).
    ///
    /// # Errors
    /// [`Error::Io`] when the port cannot be bound.
    pub async fn bind(port: u16) -> Result<Loopback, Error> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| Error::Io {
                path: format!("127.0.0.1:{port}").into(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| Error::Io {
                path: "127.0.0.1".into(),
                source,
            })?
            .port();
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{REDIRECT_PATH}"),
        })
    }

    /// `http://127.0.0.1:<port>/OauthRedirect`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the redirect and returns the authorization code once `state` matches.
    ///
    /// Requests for other paths (a browser's `/favicon.ico`) get 404 and are ignored.
    ///
    /// # Errors
    /// [`Error::StateMismatch`] for a redirect with another state, [`Error::AuthorizationDenied`]
    /// for an error redirect, [`Error::Timeout`] after `timeout`.
    pub async fn wait_for_code(self, state: &str, timeout: Duration) -> Result<Secret, Error> {
        tokio::time::timeout(timeout, self.accept_loop(state))
            .await
            .map_err(|_| Error::Timeout {
                what: "the browser to complete the login",
            })?
    }

    async fn accept_loop(self, state: &str) -> Result<Secret, Error> {
        loop {
            let Ok((mut sock, _)) = self.listener.accept().await else {
                continue;
            };
            let Some(target) = read_request_target(&mut sock).await else {
                continue;
            };
            let url = match Url::parse("http://127.0.0.1").and_then(|b| b.join(&target)) {
                Ok(u) => u,
                Err(_) => {
                    respond(&mut sock, 400, "Bad request.").await;
                    continue;
                }
            };
            if url.path() != REDIRECT_PATH {
                respond(&mut sock, 404, "Not found.").await;
                continue;
            }
            let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if get("state").as_deref() != Some(state) {
                respond(
                    &mut sock,
                    400,
                    "This login response does not belong to the running `sayso login`; it was ignored.",
                )
                .await;
                return Err(Error::StateMismatch);
            }
            if let Some(error) = get("error") {
                respond(&mut sock, 400, "Login refused. You can close this tab.").await;
                return Err(Error::AuthorizationDenied {
                    error,
                    description: get("error_description").unwrap_or_default(),
                });
            }
            let Some(code) = get("code") else {
                respond(&mut sock, 400, "No authorization code in the redirect.").await;
                continue;
            };
            respond(
                &mut sock,
                200,
                "sayso is logged in. You can close this tab and return to the terminal.",
            )
            .await;
            return Ok(Secret::new(code));
        }
    }
}

/// Reads the request head and returns the request target of a GET, `None` for anything else.
async fn read_request_target(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    (method == "GET").then(|| target.to_string())
}

async fn respond(sock: &mut tokio::net::TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sayso</title></head>\
         <body><p>{text}</p></body></html>"
    );
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_challenge() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_pairs_are_valid_and_distinct() {
        let a = PkcePair::generate();
        let b = PkcePair::generate();
        assert_eq!(a.verifier.expose().len(), 64);
        assert!(a.verifier.expose().bytes().all(|c| UNRESERVED.contains(&c)));
        assert_eq!(a.challenge, challenge_of(a.verifier.expose()));
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(new_state(), new_state());
        assert_eq!(new_state().len(), 32);
    }

    #[test]
    fn authorize_url_carries_pkce_and_least_scopes() {
        let u = authorize_url(
            &Url::parse("https://login.salesforce.com/services/oauth2/authorize").unwrap(),
            "cid",
            "http://127.0.0.1:5555/OauthRedirect",
            "api refresh_token",
            "st",
            "ch",
        );
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["scope"], "api refresh_token");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], "st");
        assert_eq!(q["response_type"], "code");
    }

    /// A loopback listener waiting for a redirect carrying `state`: its redirect URI and the wait.
    async fn waiting(
        state: &'static str,
    ) -> (String, tokio::task::JoinHandle<Result<Secret, Error>>) {
        let lb = Loopback::bind(0).await.unwrap();
        let uri = lb.redirect_uri().to_string();
        let wait =
            tokio::spawn(async move { lb.wait_for_code(state, Duration::from_secs(5)).await });
        (uri, wait)
    }

    async fn get(url: &str) -> (u16, String) {
        let r = reqwest::get(url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    #[tokio::test]
    async fn loopback_checks_state_and_returns_the_code() {
        let (uri, waiter) = waiting("good").await;
        let base = uri.trim_end_matches(REDIRECT_PATH).to_string();
        assert_eq!(get(&format!("{base}/favicon.ico")).await.0, 404);
        let (status, _) = get(&format!("{uri}?code=abc%3D%3D&state=good")).await;
        assert_eq!(status, 200);
        let code = waiter.await.unwrap().unwrap();
        assert_eq!(code.expose(), "abc==");
    }

    #[tokio::test]
    async fn loopback_rejects_a_foreign_state() {
        let (uri, waiter) = waiting("good").await;
        let (status, _) = get(&format!("{uri}?code=abc&state=evil")).await;
        assert_eq!(status, 400);
        assert!(matches!(waiter.await.unwrap(), Err(Error::StateMismatch)));
    }

    #[tokio::test]
    async fn loopback_reports_an_error_redirect() {
        let (uri, waiter) = waiting("s").await;
        get(&format!(
            "{uri}?error=access_denied&error_description=end-user+denied&state=s"
        ))
        .await;
        match waiter.await.unwrap() {
            Err(Error::AuthorizationDenied { error, .. }) => assert_eq!(error, "access_denied"),
            other => panic!("{other:?}"),
        }
    }
}
