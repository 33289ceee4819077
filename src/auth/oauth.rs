//! The OAuth endpoints of a Salesforce org (`/services/oauth2/token|revoke|introspect|userinfo|
//! authorize`) as plain async functions over one shared `reqwest::Client`.
//!
//! Owns the wire shapes of token responses and OAuth errors. Never logs a token: only the endpoint
//! path and the HTTP status are traced.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use url::Url;

use super::{Error, Secret};

/// The HTTP client used for every call (OAuth and REST): rustls, gzip, connection reuse, timeouts.
/// `SAYSO_CA_CERT=<PEM file>` adds trusted roots (e.g. the CA of `sayso sandbox serve --tls`); a
/// file that cannot be read or parsed is reported and skipped, so the system roots still apply.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("sayso/", env!("CARGO_PKG_VERSION")))
        .gzip(true)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(90));
    if let Some(path) = std::env::var_os("SAYSO_CA_CERT").filter(|p| !p.is_empty()) {
        match std::fs::read(&path).map(|pem| reqwest::Certificate::from_pem_bundle(&pem)) {
            Ok(Ok(certs)) => builder = builder.tls_certs_merge(certs),
            Ok(Err(e)) => tracing::warn!("SAYSO_CA_CERT is not a PEM certificate bundle: {e}"),
            Err(e) => tracing::warn!("cannot read SAYSO_CA_CERT: {e}"),
        }
    }
    builder.build()
}

/// The OAuth endpoint URLs of one login host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthEndpoints {
    /// The login host (`https://login.salesforce.com`, a My Domain, the sandbox origin).
    pub login_url: Url,
    /// The token endpoint; `<login>/services/oauth2/token` unless configured.
    pub token_url: Url,
}

impl OAuthEndpoints {
    /// Endpoints of `login_url` with the default token path.
    ///
    /// # Errors
    /// [`Error::Usage`] when `login_url` is not an absolute http(s) URL.
    pub fn new(login_url: &str) -> Result<OAuthEndpoints, Error> {
        let login_url = parse_base_url(login_url)?;
        let token_url = join(&login_url, "services/oauth2/token")?;
        Ok(OAuthEndpoints {
            login_url,
            token_url,
        })
    }

    /// Endpoints with an explicit token URL.
    ///
    /// # Errors
    /// [`Error::Usage`] for invalid URLs.
    pub fn with_token_url(login_url: &str, token_url: &str) -> Result<OAuthEndpoints, Error> {
        Ok(OAuthEndpoints {
            login_url: parse_base_url(login_url)?,
            token_url: parse_base_url(token_url)?,
        })
    }

    /// `<login>/services/oauth2/authorize`.
    pub fn authorize_url(&self) -> Url {
        sibling(&self.token_url, "authorize")
    }

    /// `…/services/oauth2/revoke`, next to the token endpoint.
    pub fn revoke_url(&self) -> Url {
        sibling(&self.token_url, "revoke")
    }

    /// `…/services/oauth2/introspect`, next to the token endpoint.
    pub fn introspect_url(&self) -> Url {
        sibling(&self.token_url, "introspect")
    }
}

/// The URL next to `token_url` with its last path segment replaced by `name`.
fn sibling(token_url: &Url, name: &str) -> Url {
    let mut u = token_url.clone();
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.pop_if_empty().pop().push(name);
    }
    u
}

/// Parses an absolute http(s) URL given by the user.
///
/// # Errors
/// [`Error::Usage`] naming the value.
pub fn parse_base_url(s: &str) -> Result<Url, Error> {
    let u = Url::parse(s.trim()).map_err(|e| Error::Usage(format!("invalid URL `{s}`: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(Error::Usage(format!(
            "invalid URL `{s}`: expected http:// or https:// and a host"
        )));
    }
    Ok(u)
}

/// `base` joined with a relative path, keeping base's path as a directory.
///
/// # Errors
/// [`Error::Usage`] when the result is not a URL.
pub fn join(base: &Url, path: &str) -> Result<Url, Error> {
    let mut b = base.clone();
    if !b.path().ends_with('/') {
        let p = format!("{}/", b.path());
        b.set_path(&p);
    }
    b.join(path.trim_start_matches('/'))
        .map_err(|e| Error::Usage(format!("invalid URL `{base}` + `{path}`: {e}")))
}

/// A successful token response (all grants).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The session id.
    pub access_token: Secret,
    /// Present for grants with the `refresh_token` scope, and on refresh when rotation is on.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The REST host.
    pub instance_url: String,
    /// The identity URL `…/id/<orgId>/<userId>`.
    #[serde(default)]
    pub id: Option<String>,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// `Bearer` (older JWT responses omit it).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Epoch milliseconds as a string (some servers send a number).
    #[serde(default, deserialize_with = "string_or_number")]
    pub issued_at: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

impl TokenResponse {
    /// Granted scopes, split on whitespace.
    pub fn scopes(&self) -> Vec<String> {
        split_scopes(self.scope.as_deref().unwrap_or(""))
    }

    /// `(org id, user id)`: the last two path segments of the identity URL.
    pub fn org_and_user(&self) -> Option<(String, String)> {
        let id = Url::parse(self.id.as_deref()?).ok()?;
        let segs: Vec<&str> = id.path_segments()?.filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            [.., "id", org, user] => Some((org.to_string(), user.to_string())),
            _ => None,
        }
    }
}

/// Splits a space-separated scope string.
pub fn split_scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Turns a non-success answer of an OAuth endpoint into [`Error::OAuth`] (or
/// [`Error::Protocol`] when the body is not an OAuth error).
fn oauth_error(url: &Url, status: u16, body: &[u8]) -> Error {
    if let Ok(e) = serde_json::from_slice::<OAuthErrorBody>(body) {
        return Error::OAuth {
            status,
            error: e.error,
            description: e.error_description.unwrap_or_default(),
        };
    }
    // Revoke errors are sometimes form-encoded.
    if let Ok(text) = std::str::from_utf8(body) {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        if let Some((_, e)) = pairs.iter().find(|(k, _)| k == "error") {
            let d = pairs
                .iter()
                .find(|(k, _)| k == "error_description")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            return Error::OAuth {
                status,
                error: e.clone(),
                description: d,
            };
        }
    }
    Error::Protocol {
        url: endpoint_name(url),
        status,
        message: "not an OAuth error body".into(),
    }
}

/// The URL without query or fragment, for messages.
pub(crate) fn endpoint_name(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

fn http_err(url: &Url, source: reqwest::Error) -> Error {
    Error::Http {
        url: endpoint_name(url),
        source: source.without_url(),
    }
}

/// One OAuth grant: what a token request sends to `/services/oauth2/token`.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    /// Renews a session with a refresh token (with the client secret when the app has one);
    /// `invalid_grant` means the refresh token is dead.
    Refresh {
        /// The connected app's consumer key.
        client_id: &'a str,
        /// Its secret, for a confidential client.
        client_secret: Option<&'a Secret>,
        /// The refresh token.
        refresh_token: &'a Secret,
    },
    /// The client credentials grant (runs as the connected app's run-as user).
    ClientCredentials {
        /// The connected app's consumer key.
        client_id: &'a str,
        /// Its secret.
        client_secret: &'a Secret,
    },
    /// The JWT bearer grant with a signed assertion (see [`super::jwt`]).
    JwtBearer {
        /// The signed assertion.
        assertion: &'a Secret,
    },
    /// Exchanges an authorization code (+ PKCE verifier) for tokens.
    AuthorizationCode {
        /// The connected app's consumer key.
        client_id: &'a str,
        /// The code the redirect brought.
        code: &'a Secret,
        /// The PKCE verifier of the challenge sent.
        verifier: &'a Secret,
        /// The redirect URI of the authorize request.
        redirect_uri: &'a str,
    },
    /// A device code, once the user approved it.
    Device {
        /// The connected app's consumer key.
        client_id: &'a str,
        /// The device code.
        device_code: &'a Secret,
    },
}

impl<'a> Grant<'a> {
    /// The form fields this grant sends, client authentication included.
    fn form(&self) -> Vec<(&'static str, &'a str)> {
        match *self {
            Grant::Refresh {
                client_id,
                client_secret,
                refresh_token,
            } => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose()),
                    ("client_id", client_id),
                ];
                if let Some(secret) = client_secret {
                    form.push(("client_secret", secret.expose()));
                }
                form
            }
            Grant::ClientCredentials {
                client_id,
                client_secret,
            } => vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
            ],
            Grant::JwtBearer { assertion } => vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.expose()),
            ],
            Grant::AuthorizationCode {
                client_id,
                code,
                verifier,
                redirect_uri,
            } => vec![
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("code_verifier", verifier.expose()),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
            ],
            Grant::Device {
                client_id,
                device_code,
            } => vec![
                ("grant_type", "device"),
                ("code", device_code.expose()),
                ("client_id", client_id),
            ],
        }
    }
}

/// POSTs one grant to the token endpoint and parses the token response.
///
/// # Errors
/// [`Error::OAuth`] for a refused grant, [`Error::Http`] for transport failures,
/// [`Error::Protocol`] for anything else.
pub async fn request_token(
    http: &reqwest::Client,
    token_url: &Url,
    grant: Grant<'_>,
) -> Result<TokenResponse, Error> {
    let form = grant.form();
    let grant_type = form[0].1;
    tracing::debug!(url = %endpoint_name(token_url), grant_type, "token request");
    post_form(http, token_url, &form, "token").await
}

/// POSTs a form to an OAuth endpoint and reads its JSON answer (`what` names it in errors):
/// a non-200 answer is the endpoint's OAuth error.
async fn post_form<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    token_url: &Url,
    form: &[(&str, &str)],
    what: &str,
) -> Result<T, Error> {
    let resp = http
        .post(token_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| http_err(token_url, e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| http_err(token_url, e))?;
    tracing::debug!(status, what, "oauth response");
    if status != 200 {
        return Err(oauth_error(token_url, status, &body));
    }
    serde_json::from_slice(&body).map_err(|e| Error::Protocol {
        url: endpoint_name(token_url),
        status,
        message: format!("not a {what} response: {e}"),
    })
}

/// The first answer of the device flow.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    /// Polled with; secret until approved.
    pub device_code: Secret,
    /// What the user types on the verification page.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// Seconds between polls.
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// Starts the device flow (`response_type=device_code`).
///
/// # Errors
/// As [`request_token`].
pub async fn device_start(
    http: &reqwest::Client,
    token_url: &Url,
    client_id: &str,
    scope: &str,
) -> Result<DeviceCode, Error> {
    let form = [
        ("response_type", "device_code"),
        ("client_id", client_id),
        ("scope", scope),
    ];
    post_form(http, token_url, &form, "device code").await
}

/// Polls the device flow until approved, refused or `max_wait` passes.
///
/// # Errors
/// [`Error::Timeout`], or as [`request_token`] for a refusal.
pub async fn device_wait(
    http: &reqwest::Client,
    token_url: &Url,
    client_id: &str,
    device: &DeviceCode,
    max_wait: Duration,
) -> Result<TokenResponse, Error> {
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut interval = Duration::from_secs(device.interval.max(1));
    loop {
        let grant = Grant::Device {
            client_id,
            device_code: &device.device_code,
        };
        let r = request_token(http, token_url, grant).await;
        match r {
            Ok(t) => return Ok(t),
            Err(Error::OAuth { error, .. }) if error == "authorization_pending" => {}
            Err(Error::OAuth { error, .. }) if error == "slow_down" => {
                interval += Duration::from_secs(5);
            }
            Err(e) => return Err(e),
        }
        if tokio::time::Instant::now() + interval > deadline {
            return Err(Error::Timeout {
                what: "the device to be approved",
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// What a revocation achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The server revoked the token.
    Revoked,
    /// The server did not know the token (already revoked or expired).
    AlreadyInvalid,
}

/// Revokes an access or refresh token at `/services/oauth2/revoke`.
///
/// # Errors
/// [`Error::Http`] when the server cannot be reached; [`Error::OAuth`]/[`Error::Protocol`] for
/// other refusals.
pub async fn revoke(
    http: &reqwest::Client,
    revoke_url: &Url,
    token: &Secret,
) -> Result<Revoked, Error> {
    tracing::debug!(url = %endpoint_name(revoke_url), "revoke");
    let resp = http
        .post(revoke_url.clone())
        .form(&[("token", token.expose())])
        .send()
        .await
        .map_err(|e| http_err(revoke_url, e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| http_err(revoke_url, e))?;
    if status == 200 {
        return Ok(Revoked::Revoked);
    }
    match oauth_error(revoke_url, status, &body) {
        Error::OAuth { error, .. } if error == "invalid_token" => Ok(Revoked::AlreadyInvalid),
        e => Err(e),
    }
}

/// Asks `/services/oauth2/introspect` whether a token is active.
///
/// # Errors
/// As [`request_token`].
pub async fn introspect(
    http: &reqwest::Client,
    introspect_url: &Url,
    token: &Secret,
    client_id: &str,
    client_secret: Option<&Secret>,
) -> Result<serde_json::Value, Error> {
    let mut form = vec![("token", token.expose()), ("client_id", client_id)];
    if let Some(s) = client_secret {
        form.push(("client_secret", s.expose()));
    }
    let resp = http
        .post(introspect_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| http_err(introspect_url, e))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| http_err(introspect_url, e))?;
    if status != 200 {
        return Err(oauth_error(introspect_url, status, &body));
    }
    serde_json::from_slice(&body).map_err(|e| Error::Protocol {
        url: endpoint_name(introspect_url),
        status,
        message: e.to_string(),
    })
}

/// Who a token belongs to, from `/services/oauth2/userinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    /// 18-character User Id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// 18-character Organization Id.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Login name.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
}

/// Reads `/services/oauth2/userinfo` of `instance_url` with the bearer token.
///
/// # Errors
/// [`Error::Http`], or [`Error::Protocol`] for a refusal (a dead token gets 403).
pub async fn userinfo(
    http: &reqwest::Client,
    instance_url: &Url,
    access_token: &Secret,
) -> Result<UserInfo, Error> {
    let url = join(instance_url, "services/oauth2/userinfo")?;
    let resp = http
        .get(url.clone())
        .bearer_auth(access_token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| http_err(&url, e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| http_err(&url, e))?;
    if status != 200 {
        return Err(Error::Protocol {
            url: endpoint_name(&url),
            status,
            message: "userinfo refused".into(),
        });
    }
    serde_json::from_slice(&body).map_err(|e| Error::Protocol {
        url: endpoint_name(&url),
        status,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_siblings_of_the_token_url() {
        let e = OAuthEndpoints::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            e.token_url.as_str(),
            "http://127.0.0.1:8080/services/oauth2/token"
        );
        assert_eq!(
            e.revoke_url().as_str(),
            "http://127.0.0.1:8080/services/oauth2/revoke"
        );
        assert_eq!(
            e.authorize_url().as_str(),
            "http://127.0.0.1:8080/services/oauth2/authorize"
        );
        let e = OAuthEndpoints::new("https://acme.my.salesforce.com/").unwrap();
        assert_eq!(
            e.introspect_url().as_str(),
            "https://acme.my.salesforce.com/services/oauth2/introspect"
        );
        assert!(OAuthEndpoints::new("ftp://x").is_err());
        assert!(OAuthEndpoints::new("not a url").is_err());
    }

    #[test]
    fn token_response_parses_salesforce_shapes() {
        let t: TokenResponse = serde_json::from_str(
            r#"{"access_token":"00D!x","instance_url":"https://eu2.salesforce.com",
            "id":"https://login.salesforce.com/id/00D7F0000001I8vUAE/0057F000000l5xLQAQ",
            "scope":"refresh_token api full","issued_at":"1507919823485"}"#,
        )
        .unwrap();
        assert_eq!(t.scopes(), vec!["refresh_token", "api", "full"]);
        assert_eq!(
            t.org_and_user(),
            Some((
                "00D7F0000001I8vUAE".to_string(),
                "0057F000000l5xLQAQ".to_string()
            ))
        );
        assert_eq!(t.issued_at.as_deref(), Some("1507919823485"));
        assert!(!format!("{t:?}").contains("00D!x"));
        let t: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","instance_url":"u","issued_at":17}"#)
                .unwrap();
        assert_eq!(t.issued_at.as_deref(), Some("17"));
    }

    #[test]
    fn oauth_errors_from_json_and_form_bodies() {
        let u = Url::parse("http://h/services/oauth2/token").unwrap();
        let e = oauth_error(
            &u,
            400,
            br#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        );
        assert!(e.is_invalid_grant());
        let e = oauth_error(&u, 400, b"error=invalid_token&error_description=bad");
        assert!(matches!(e, Error::OAuth { ref error, .. } if error == "invalid_token"));
        let e = oauth_error(&u, 500, b"<html>");
        assert!(matches!(e, Error::Protocol { status: 500, .. }));
    }
}
