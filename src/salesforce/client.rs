//! [`Client`]: one session against one org — the request loop every REST call goes through.
//!
//! Per request: budget check (nothing is sent past the budget), bearer token, call counter,
//! `Sforce-Limit-Info` into the ledger, one renewal on `401 INVALID_SESSION_ID` (single-flight:
//! concurrent requests wait for the one renewal and replay), retries with backoff where the
//! request's [`Idempotency`](super::Idempotency) allows, and Salesforce error bodies turned into typed errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use url::Url;

use super::error::{ApiError, Error, LimitExceeded, LimitScope};
use super::limits::{BudgetStatus, Ledger, parse_limit_info};
pub use super::renewal::{Persist, Renewal};
pub use super::request::{Body, Request, Response};
use super::retry::{Failure, RetryPolicy};
use crate::auth::Secret;
use crate::auth::oauth;
use crate::auth::store::{self, LoginMethod, TokenStore};
use crate::config::{Home, Settings};

/// The API version used unless the profile or `config.toml` says otherwise.
pub const DEFAULT_API_VERSION: &str = "v63.0";

/// Everything a [`Client`] is built from; [`Client::from_profile`] fills it from `SAYSO_HOME`.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The REST host.
    pub instance_url: Url,
    /// `vNN.N`.
    pub api_version: String,
    /// The current access token.
    pub access_token: Secret,
    /// How to renew it; `None` = the session ends when it expires.
    pub renewal: Option<Renewal>,
    /// Where to save renewed tokens; `None` = memory only.
    pub persist: Option<Persist>,
    /// Usage ledger and budget; `None` = no accounting.
    pub ledger: Option<Arc<Ledger>>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Profile name for messages.
    pub profile: String,
    /// A shared HTTP client; a new one when `None`.
    pub http: Option<reqwest::Client>,
}

impl ClientOptions {
    /// Options for a bare token: no renewal, no persistence, no ledger, default retries.
    pub fn new(instance_url: Url, access_token: Secret) -> ClientOptions {
        ClientOptions {
            instance_url,
            api_version: DEFAULT_API_VERSION.to_string(),
            access_token,
            renewal: None,
            persist: None,
            ledger: None,
            retry: RetryPolicy::default(),
            profile: "default".to_string(),
            http: None,
        }
    }
}

#[derive(Debug)]
pub(super) struct TokenState {
    pub(super) token: Secret,
    pub(super) generation: u64,
}

#[derive(Debug)]
pub(super) struct RenewState {
    pub(super) renewal: Option<Renewal>,
    /// Set once renewal failed for good; later callers get the same error without a request.
    pub(super) ended: Option<String>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) instance_url: Url,
    pub(super) data_base: Url,
    pub(super) api_version: String,
    pub(super) profile: String,
    /// Read by every request, replaced by renewal; a std lock held for a clone only.
    pub(super) token: std::sync::RwLock<TokenState>,
    /// Single-flight renewal: the first request to see a 401 renews while holding this lock;
    /// the others wait on it, see the new generation, and replay without renewing again.
    pub(super) renew: tokio::sync::Mutex<RenewState>,
    pub(super) renewals: AtomicU64,
    pub(super) persist: Option<Persist>,
    pub(super) ledger: Option<Arc<Ledger>>,
    pub(super) retry: RetryPolicy,
}

/// A REST session against one org. Cheap to clone; clones share the session, the connection
/// pool and the call counter (see [`Client::with_new_counter`] for a per-command count).
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
    calls: Arc<AtomicU64>,
}

fn url_for_messages(url: &Url) -> String {
    oauth::endpoint_name(url)
}

/// Today's ledger day: `SAYSO_TODAY` when set, else the local date.
pub fn ledger_day() -> String {
    match std::env::var("SAYSO_TODAY") {
        Ok(d) if chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_ok() => d,
        _ => chrono::Local::now().date_naive().to_string(),
    }
}

impl Client {
    /// A client from explicit options.
    ///
    /// # Errors
    /// [`Error::Usage`] for an invalid instance URL or version; [`Error::Transport`] when the HTTP
    /// client cannot be built.
    pub fn new(opts: ClientOptions) -> Result<Client, Error> {
        let http = match opts.http {
            Some(h) => h,
            None => oauth::http_client().map_err(|source| Error::Transport {
                url: opts.instance_url.to_string(),
                source,
            })?,
        };
        let version = normalize_version(&opts.api_version)?;
        let data_base = oauth::join(&opts.instance_url, &format!("services/data/{version}/"))
            .map_err(|e| Error::Usage(e.to_string()))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                instance_url: opts.instance_url,
                data_base,
                api_version: version,
                profile: opts.profile,
                token: std::sync::RwLock::new(TokenState {
                    token: opts.access_token,
                    generation: 0,
                }),
                renew: tokio::sync::Mutex::new(RenewState {
                    renewal: opts.renewal,
                    ended: None,
                }),
                renewals: AtomicU64::new(0),
                persist: opts.persist,
                ledger: opts.ledger,
                retry: opts.retry,
            }),
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The session of a saved profile: what `sayso run` and every command use.
    ///
    /// Reads `SAYSO_HOME/profiles.toml` (instance, login method), the credentials (keyring or 0600
    /// file), `config.toml` (`[budget]`, `[api] version`), opens the usage ledger for today
    /// (`SAYSO_TODAY` or the local date), and first retries any pending revocations. The session
    /// renews itself on expiry according to the login method: refresh token (browser/device),
    /// a new JWT assertion, or client credentials; reused access tokens cannot be renewed.
    ///
    /// # Errors
    /// [`crate::auth::Error::NotLoggedIn`] / [`crate::auth::Error::NoCredentials`] (wrapped in
    /// [`Error::Auth`]) when nobody logged in, [`crate::auth::Error::InsecurePermissions`] for a
    /// loose token file, [`Error::Config`] for a bad `config.toml`.
    pub async fn from_profile(home: &Home, profile: &str) -> Result<Client, Error> {
        let http = oauth::http_client().map_err(|source| Error::Transport {
            url: "https://".into(),
            source,
        })?;
        Client::from_profile_with(home, profile, http).await
    }

    /// As [`Client::from_profile`], with a given HTTP client.
    ///
    /// # Errors
    /// As [`Client::from_profile`].
    pub async fn from_profile_with(
        home: &Home,
        profile: &str,
        http: reqwest::Client,
    ) -> Result<Client, Error> {
        if let Err(e) = crate::auth::login::retry_pending_revocations(home, &http).await {
            tracing::warn!(error = %e, "cannot retry pending revocations");
        }
        let settings = Settings::load(home)?;
        let prof = store::load_profile(home, profile)?;
        let tokens = TokenStore::open(home);
        let creds = tokens
            .load(profile)?
            .ok_or_else(|| crate::auth::Error::NoCredentials {
                profile: profile.to_string(),
            })?;
        let token_url = oauth::parse_base_url(&prof.token_url)?;
        let client_id = prof.client_id.clone().unwrap_or_default();
        let renewal = match (&creds.refresh_token, prof.method) {
            (Some(rt), _) => Some(Renewal::RefreshToken {
                token_url,
                client_id,
                client_secret: creds.client_secret.clone(),
                refresh_token: rt.clone(),
            }),
            (None, LoginMethod::Jwt) => match (&prof.jwt_key, &prof.username) {
                (Some(key), Some(user)) => Some(Renewal::Jwt {
                    token_url,
                    client_id,
                    username: user.clone(),
                    key_path: key.clone(),
                    audience: prof
                        .audience
                        .clone()
                        .unwrap_or_else(|| prof.login_url.clone()),
                }),
                _ => None,
            },
            (None, LoginMethod::ClientCredentials) => {
                creds
                    .client_secret
                    .clone()
                    .map(|client_secret| Renewal::ClientCredentials {
                        token_url,
                        client_id,
                        client_secret,
                    })
            }
            (None, _) => None,
        };
        let api_version = prof
            .api_version
            .clone()
            .or(settings.api_version.clone())
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        let ledger = Ledger::new(home, profile, &ledger_day(), settings.budget);
        Client::new(ClientOptions {
            instance_url: oauth::parse_base_url(&prof.instance_url)?,
            api_version,
            access_token: creds.access_token,
            renewal,
            persist: Some(Persist {
                store: tokens,
                profile: profile.to_string(),
            }),
            ledger: Some(Arc::new(ledger)),
            retry: RetryPolicy::default(),
            profile: profile.to_string(),
            http: Some(http),
        })
    }

    /// A client sharing this session and connection pool but counting calls from zero, for the
    /// `api_calls` of one command.
    pub fn with_new_counter(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// REST calls sent through this client (and clones sharing its counter), retries included.
    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// How many times the session was renewed.
    pub fn renewals(&self) -> u64 {
        self.inner.renewals.load(Ordering::SeqCst)
    }

    /// The budget status today, `None` without a ledger.
    pub fn budget_status(&self) -> Option<BudgetStatus> {
        self.inner.ledger.as_ref().map(|l| l.status())
    }

    /// The REST host.
    pub fn instance_url(&self) -> &Url {
        &self.inner.instance_url
    }

    /// `vNN.N`.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// The profile name.
    pub fn profile(&self) -> &str {
        &self.inner.profile
    }

    /// The underlying HTTP client (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(super) fn current_token(&self) -> (Secret, u64) {
        let t = self.inner.token.read().unwrap_or_else(|p| p.into_inner());
        (t.token.clone(), t.generation)
    }

    fn resolve(&self, req: &Request) -> Result<Url, Error> {
        let mut url = if req.path.starts_with("http://") || req.path.starts_with("https://") {
            let u = Url::parse(&req.path).map_err(|e| Error::Usage(e.to_string()))?;
            if u.origin() != self.inner.instance_url.origin() {
                return Err(Error::Usage(format!(
                    "refusing to send the session to another host: `{}`",
                    url_for_messages(&u)
                )));
            }
            u
        } else if req.path.starts_with('/') {
            oauth::join(&self.inner.instance_url, &req.path)
                .map_err(|e| Error::Usage(e.to_string()))?
        } else {
            self.inner
                .data_base
                .join(&req.path)
                .map_err(|e| Error::Usage(format!("invalid path `{}`: {e}", req.path)))?
        };
        if !req.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &req.query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends one request through the whole loop: budget, token, counting, ledger, renewal on
    /// 401, retries where safe, typed errors. 2xx and 304 are `Ok`.
    ///
    /// # Errors
    /// [`Error::Api`], [`Error::Conflict`] (412), [`Error::LimitExceeded`],
    /// [`Error::SessionEnded`], [`Error::MultipleChoices`] (300), [`Error::Transport`].
    pub async fn send(&self, req: &Request) -> Result<Response, Error> {
        let url = self.resolve(req)?;
        let shown = url_for_messages(&url);
        let mut attempt: u32 = 0;
        let mut renewed = false;
        loop {
            attempt += 1;
            if let Some(ledger) = &self.inner.ledger {
                ledger.check()?;
            }
            let (token, generation) = self.current_token();
            let mut rb = self
                .inner
                .http
                .request(req.method.clone(), url.clone())
                .bearer_auth(token.expose());
            if !req
                .headers
                .iter()
                .any(|(k, _)| k == reqwest::header::ACCEPT)
            {
                rb = rb.header(reqwest::header::ACCEPT, "application/json");
            }
            for (k, v) in &req.headers {
                rb = rb.header(k.clone(), v.clone());
            }
            if let Some(body) = &req.body {
                rb = rb
                    .header(reqwest::header::CONTENT_TYPE, body.content_type)
                    .body(body.bytes.clone());
            }
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(ledger) = &self.inner.ledger
                && let Err(e) = ledger.record_call()
            {
                tracing::warn!(error = %e, "usage ledger not updated");
            }
            tracing::debug!(method = %req.method, url = %shown, attempt, "request");
            let sent = rb.send().await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    let failure = classify(&e);
                    if self
                        .inner
                        .retry
                        .should_retry(failure, req.idempotency, attempt)
                    {
                        tracing::debug!(?failure, attempt, "transient failure; retrying");
                        tokio::time::sleep(self.inner.retry.delay(attempt)).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        url: shown,
                        source: e.without_url(),
                    });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if let (Some(ledger), Some(info)) = (
                &self.inner.ledger,
                headers
                    .get("sforce-limit-info")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_limit_info),
            ) && let Err(e) = ledger.observe(info)
            {
                tracing::warn!(error = %e, "usage ledger not updated");
            }
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    if self.inner.retry.should_retry(
                        Failure::ConnectionReset,
                        req.idempotency,
                        attempt,
                    ) {
                        tokio::time::sleep(self.inner.retry.delay(attempt)).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        url: shown,
                        source: e.without_url(),
                    });
                }
            };
            tracing::debug!(status, url = %shown, "response");
            if (200..300).contains(&status) || status == 304 {
                return Ok(Response {
                    status,
                    headers,
                    body,
                    url: shown,
                });
            }
            let api = ApiError::from_body(status, &body);
            // Renew on INVALID_SESSION_ID (or a 401 without a Salesforce body), once.
            if status == 401
                && !renewed
                && (api.has_code("INVALID_SESSION_ID") || api.code == "HTTP_401")
            {
                renewed = true;
                self.renew(generation).await?;
                attempt -= 1; // the replay after renewal is not a retry
                continue;
            }
            if status == 401 && renewed {
                return Err(Error::SessionEnded {
                    profile: self.inner.profile.clone(),
                    reason: "the org refused the renewed session".into(),
                });
            }
            let failure = if matches!(status, 502..=504) {
                Some(Failure::Unavailable)
            } else if api.has_code("UNABLE_TO_LOCK_ROW") {
                Some(Failure::LockRow)
            } else {
                None
            };
            if let Some(f) = failure
                && self.inner.retry.should_retry(f, req.idempotency, attempt)
            {
                tracing::debug!(?f, attempt, "transient failure; retrying");
                tokio::time::sleep(self.inner.retry.delay(attempt)).await;
                continue;
            }
            if api.has_code("REQUEST_LIMIT_EXCEEDED") {
                let org = self.inner.ledger.as_ref().and_then(|l| l.org());
                return Err(Error::LimitExceeded(LimitExceeded {
                    scope: LimitScope::Org,
                    used: org.as_ref().map(|o| o.used),
                    max: org.as_ref().map(|o| o.max),
                    profile: self.inner.profile.clone(),
                }));
            }
            if status == 412 {
                return Err(Error::Conflict(api));
            }
            if status == 300 {
                let urls: Vec<String> = serde_json::from_slice(&body).unwrap_or_default();
                return Err(Error::MultipleChoices(urls));
            }
            return Err(Error::Api(api));
        }
    }
}

fn classify(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        Failure::Connect
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::ConnectionReset
    }
}

/// Accepts `63.0`, `v63.0`, `63` and returns `v63.0`.
///
/// # Errors
/// [`Error::Usage`] for anything else.
pub fn normalize_version(v: &str) -> Result<String, Error> {
    let t = v.trim().trim_start_matches(['v', 'V']);
    let (major, minor) = t.split_once('.').unwrap_or((t, "0"));
    if major.is_empty()
        || !major.bytes().all(|b| b.is_ascii_digit())
        || minor.is_empty()
        || !minor.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::Usage(format!(
            "invalid API version `{v}`; expected e.g. `v63.0`"
        )));
    }
    Ok(format!("v{major}.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_normalised() {
        assert_eq!(normalize_version("63.0").unwrap(), "v63.0");
        assert_eq!(normalize_version("v59.0").unwrap(), "v59.0");
        assert_eq!(normalize_version("60").unwrap(), "v60.0");
        assert!(normalize_version("latest").is_err());
        assert!(normalize_version("v6x.0").is_err());
    }

    #[test]
    fn paths_resolve_under_the_data_base_or_the_host() {
        let c = Client::new(ClientOptions::new(
            Url::parse("http://127.0.0.1:9/").unwrap(),
            Secret::new("t"),
        ))
        .unwrap();
        for (path, url) in [
            (
                "sobjects/Account/describe",
                "http://127.0.0.1:9/services/data/v63.0/sobjects/Account/describe",
            ),
            (
                "/services/data/v63.0/query/01gX-2000",
                "http://127.0.0.1:9/services/data/v63.0/query/01gX-2000",
            ),
        ] {
            assert_eq!(c.resolve(&Request::get(path)).unwrap().as_str(), url);
        }
        let u = c
            .resolve(&Request::get("query").query("q", "SELECT Id FROM Account WHERE Name = 'A&B'"))
            .unwrap();
        assert!(
            u.as_str()
                .contains("q=SELECT+Id+FROM+Account+WHERE+Name+%3D+%27A%26B%27"),
            "{u}"
        );
        assert!(
            c.resolve(&Request::get("https://evil.example/steal"))
                .is_err()
        );
    }
}
