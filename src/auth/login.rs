//! The login flows end to end — get tokens, find out who they belong to, check the granted scopes,
//! save profile and credentials. Logout lives in [`super::logout`] and is re-exported here.
//!
//! Never prints: every outcome is a report the binary renders.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

pub use super::logout::{
    LogoutReport, PendingReport, logout, logout_all, retry_pending_revocations,
};
use super::oauth::{self, DeviceCode, Grant, OAuthEndpoints, TokenResponse, UserInfo};
use super::pkce::{self, Loopback, PkcePair};
use super::store::{self, Credentials, LoginMethod, Profile, TokenStore};
use super::{Error, Secret, jwt};
use crate::config::Home;

/// The production login host.
pub const LOGIN_URL: &str = "https://login.salesforce.com";
/// The sandbox-org login host (`--sandbox`).
pub const TEST_LOGIN_URL: &str = "https://test.salesforce.com";
/// The client id of sayso's own connected app (the sandbox org has it; a real org needs its own).
pub const DEFAULT_CLIENT_ID: &str = "sayso-cli";
/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";
/// The least scopes that work: REST access and a refresh token.
pub const DEFAULT_SCOPES: &[&str] = &["api", "refresh_token"];

/// What every login flow needs.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// The profile to save into.
    pub profile: String,
    /// Login host (`--instance-url`, `--sandbox`).
    pub login_url: String,
    /// Token endpoint when it differs from `<login_url>/services/oauth2/token`.
    pub token_url: Option<String>,
    /// Consumer key of the connected app.
    pub client_id: String,
    /// Scopes to ask for (flows that take a scope).
    pub scopes: Vec<String>,
    /// API version to keep for this profile.
    pub api_version: Option<String>,
}

impl LoginOptions {
    /// Options with the defaults: login.salesforce.com, `sayso-cli`, `api refresh_token`.
    pub fn new(profile: impl Into<String>) -> LoginOptions {
        LoginOptions {
            profile: profile.into(),
            login_url: LOGIN_URL.to_string(),
            token_url: None,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            api_version: None,
        }
    }

    /// The OAuth endpoints these options point at.
    ///
    /// # Errors
    /// [`Error::Usage`] for invalid URLs.
    pub fn endpoints(&self) -> Result<OAuthEndpoints, Error> {
        match &self.token_url {
            Some(t) => OAuthEndpoints::with_token_url(&self.login_url, t),
            None => OAuthEndpoints::new(&self.login_url),
        }
    }

    fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }
}

/// The outcome of a login, for the binary to print.
#[derive(Debug, Clone, Serialize)]
pub struct LoginReport {
    /// The profile name.
    pub profile_name: String,
    /// What was saved (no secrets).
    pub profile: Profile,
    /// Scopes asked for (empty when the flow takes none, e.g. client credentials).
    pub asked_scopes: Vec<String>,
    /// Warnings about the grant: broader than asked, missing `api`, no refresh token.
    pub warnings: Vec<String>,
    /// Where the secrets went: the file path or "the OS keyring".
    pub stored_in: String,
}

/// Checks the granted scopes against what sayso needs and what it asked for.
pub fn scope_warnings(asked: &[String], granted: &[String], method: LoginMethod) -> Vec<String> {
    let mut w = Vec::new();
    if granted.is_empty() {
        w.push("the org did not say which scopes it granted; sayso cannot check them".to_string());
        return w;
    }
    let has = |s: &str| granted.iter().any(|g| g == s);
    if has("full") && !asked.iter().any(|a| a == "full") {
        w.push(
            "the org granted `full` (everything the user can do), broader than sayso needs; \
             restrict the connected app to `api refresh_token`"
                .to_string(),
        );
    }
    // Flows that take no scope (JWT, client credentials) are held to the least sayso needs.
    let wanted: Vec<&str> = if asked.is_empty() {
        DEFAULT_SCOPES.to_vec()
    } else {
        asked.iter().map(String::as_str).collect()
    };
    // Identity scopes only reveal who the user is; they add no access to data.
    const HARMLESS: &[&str] = &[
        "full",
        "id",
        "openid",
        "profile",
        "email",
        "address",
        "phone",
        "offline_access",
    ];
    let extra: Vec<&str> = granted
        .iter()
        .map(String::as_str)
        .filter(|g| !wanted.contains(g) && !HARMLESS.contains(g))
        .collect();
    if !extra.is_empty() {
        w.push(format!(
            "the org granted more than asked: `{}`",
            extra.join(" ")
        ));
    }
    if !has("api") && !has("full") {
        w.push(
            "the grant lacks `api`: sayso cannot call the REST API with this session; \
             add the `api` scope to the connected app"
                .to_string(),
        );
    }
    let wants_refresh = asked
        .iter()
        .any(|a| a == "refresh_token" || a == "offline_access");
    if wants_refresh
        && matches!(method, LoginMethod::Browser | LoginMethod::Device)
        && !has("refresh_token")
        && !has("offline_access")
    {
        w.push(
            "no refresh token was granted: the session ends when the access token expires"
                .to_string(),
        );
    }
    w
}

/// Secrets and settings a flow keeps besides the token response.
#[derive(Debug, Clone, Default)]
struct Extras {
    client_secret: Option<Secret>,
    jwt_key: Option<PathBuf>,
    audience: Option<String>,
    /// Identity known without asking the server (Salesforce CLI).
    username: Option<String>,
    asked: Vec<String>,
}

/// Finds out who the token belongs to, checks scopes, saves credentials, then the profile.
async fn finish(
    home: &Home,
    http: &reqwest::Client,
    opts: &LoginOptions,
    method: LoginMethod,
    token: TokenResponse,
    extras: Extras,
) -> Result<LoginReport, Error> {
    let endpoints = opts.endpoints()?;
    let instance = oauth::parse_base_url(&token.instance_url)?;
    let info = match oauth::userinfo(http, &instance, &token.access_token).await {
        Ok(i) => i,
        Err(e) => {
            tracing::debug!(error = %e, "userinfo failed; using the identity URL");
            UserInfo::default()
        }
    };
    let ids = token.org_and_user();
    let granted = token.scopes();
    let mut warnings = scope_warnings(&extras.asked, &granted, method);
    if info.user_id.is_none() && ids.is_none() && extras.username.is_none() {
        warnings.push("the org did not say who this session belongs to".to_string());
    }
    let profile = Profile {
        instance_url: instance.as_str().trim_end_matches('/').to_string(),
        login_url: endpoints
            .login_url
            .as_str()
            .trim_end_matches('/')
            .to_string(),
        token_url: endpoints.token_url.to_string(),
        client_id: Some(opts.client_id.clone()),
        username: info.preferred_username.clone().or(extras.username),
        display_name: info.name.clone(),
        user_id: info
            .user_id
            .clone()
            .or_else(|| ids.as_ref().map(|(_, u)| u.clone())),
        org_id: info
            .organization_id
            .clone()
            .or_else(|| ids.as_ref().map(|(o, _)| o.clone())),
        scopes: granted,
        method,
        jwt_key: extras.jwt_key,
        audience: extras.audience,
        api_version: opts.api_version.clone(),
        logged_in_at: Some(chrono::Utc::now().to_rfc3339()),
    };
    let creds = Credentials {
        access_token: token.access_token,
        refresh_token: token.refresh_token,
        client_secret: extras.client_secret,
        issued_at: token.issued_at,
    };
    home.ensure().map_err(|source| Error::Io {
        path: home.root().to_path_buf(),
        source,
    })?;
    let tokens = TokenStore::open(home);
    tokens.save(&opts.profile, &creds)?;
    store::save_profile(home, &opts.profile, &profile)?;
    Ok(LoginReport {
        profile_name: opts.profile.clone(),
        profile,
        asked_scopes: extras.asked,
        warnings,
        stored_in: tokens.describe(&opts.profile),
    })
}

/// JWT bearer login: signs an assertion with `key_path` for `username`.
///
/// `audience` defaults to the login URL.
///
/// # Errors
/// [`Error::JwtKey`], [`Error::OAuth`] (e.g. `user hasn't approved this consumer`), I/O errors.
pub async fn login_jwt(
    home: &Home,
    http: &reqwest::Client,
    opts: &LoginOptions,
    username: &str,
    key_path: &Path,
    audience: Option<&str>,
) -> Result<LoginReport, Error> {
    let endpoints = opts.endpoints()?;
    let aud = audience.map(str::to_string).unwrap_or_else(|| {
        endpoints
            .login_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    });
    let assertion = jwt::assertion(key_path, &opts.client_id, username, &aud)?;
    let grant = Grant::JwtBearer {
        assertion: &assertion,
    };
    let token = oauth::request_token(http, &endpoints.token_url, grant).await?;
    let key_path = std::path::absolute(key_path).unwrap_or_else(|_| key_path.to_path_buf());
    let extras = Extras {
        jwt_key: Some(key_path),
        audience: audience.map(str::to_string),
        username: Some(username.to_string()),
        ..Extras::default()
    };
    finish(home, http, opts, LoginMethod::Jwt, token, extras).await
}

/// Client credentials login: the session runs as the connected app's run-as user.
///
/// # Errors
/// [`Error::OAuth`] (e.g. `invalid_client`), I/O errors.
pub async fn login_client_credentials(
    home: &Home,
    http: &reqwest::Client,
    opts: &LoginOptions,
    client_secret: Secret,
) -> Result<LoginReport, Error> {
    let endpoints = opts.endpoints()?;
    let grant = Grant::ClientCredentials {
        client_id: &opts.client_id,
        client_secret: &client_secret,
    };
    let token = oauth::request_token(http, &endpoints.token_url, grant).await?;
    let extras = Extras {
        client_secret: Some(client_secret),
        ..Extras::default()
    };
    finish(
        home,
        http,
        opts,
        LoginMethod::ClientCredentials,
        token,
        extras,
    )
    .await
}

/// Reuses an existing access token for `instance_url` (cannot be renewed).
///
/// # Errors
/// [`Error::Protocol`] when userinfo refuses the token, I/O errors.
pub async fn login_access_token(
    home: &Home,
    http: &reqwest::Client,
    opts: &LoginOptions,
    access_token: Secret,
    instance_url: &str,
) -> Result<LoginReport, Error> {
    let instance = oauth::parse_base_url(instance_url)?;
    let info = oauth::userinfo(http, &instance, &access_token).await?;
    let borrowed = Borrowed {
        method: LoginMethod::AccessToken,
        access_token,
        instance,
        username: info.preferred_username,
        warning: "a reused access token cannot be renewed: run `sayso login` again when it expires"
            .to_string(),
    };
    borrowed.finish(home, http, opts).await
}

/// A session made elsewhere (a pasted access token, the Salesforce CLI's): saved without a
/// refresh token, with a warning saying how to renew it.
struct Borrowed {
    method: LoginMethod,
    access_token: Secret,
    instance: Url,
    username: Option<String>,
    warning: String,
}

impl Borrowed {
    async fn finish(
        self,
        home: &Home,
        http: &reqwest::Client,
        opts: &LoginOptions,
    ) -> Result<LoginReport, Error> {
        let token = TokenResponse {
            access_token: self.access_token,
            refresh_token: None,
            instance_url: self.instance.to_string(),
            id: None,
            scope: None,
            token_type: Some("Bearer".into()),
            issued_at: None,
        };
        let extras = Extras {
            username: self.username,
            ..Extras::default()
        };
        let mut report = finish(home, http, opts, self.method, token, extras).await?;
        report.warnings.push(self.warning);
        Ok(report)
    }
}

#[derive(Deserialize)]
struct SfDisplay {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    result: Option<SfOrg>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SfOrg {
    access_token: Option<Secret>,
    instance_url: Option<String>,
    username: Option<String>,
}

/// Reuses the session of a Salesforce CLI org alias (`sf org display --json --target-org ALIAS`).
///
/// `sf_bin` overrides the `sf` executable (tests use a stand-in).
///
/// # Errors
/// [`Error::SfCli`] when `sf` is missing or has no session for the alias.
pub async fn login_sf_cli(
    home: &Home,
    http: &reqwest::Client,
    opts: &LoginOptions,
    alias: &str,
    sf_bin: Option<&Path>,
) -> Result<LoginReport, Error> {
    let bin = sf_bin.unwrap_or_else(|| Path::new("sf"));
    let out = tokio::process::Command::new(bin)
        .args(["org", "display", "--json", "--target-org", alias])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| Error::SfCli {
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "the Salesforce CLI (`sf`) is not installed".to_string()
            } else {
                format!("cannot run `{}`: {e}", bin.display())
            },
        })?;
    let parsed: SfDisplay = serde_json::from_slice(&out.stdout).map_err(|_| Error::SfCli {
        message: format!("`sf org display` gave no JSON (exit {})", out.status),
    })?;
    let org = match (parsed.status, parsed.result) {
        (0, Some(org)) => org,
        (_, _) => {
            return Err(Error::SfCli {
                message: parsed
                    .message
                    .unwrap_or_else(|| format!("no org `{alias}` in the Salesforce CLI")),
            });
        }
    };
    let (Some(token), Some(instance)) = (org.access_token, org.instance_url) else {
        return Err(Error::SfCli {
            message: format!(
                "the Salesforce CLI has no session for `{alias}`; run `sf org login web --alias {alias}`"
            ),
        });
    };
    let borrowed = Borrowed {
        method: LoginMethod::SfCli,
        access_token: token,
        instance: oauth::parse_base_url(&instance)?,
        username: org.username,
        warning: format!(
            "this session belongs to the Salesforce CLI: when it expires, refresh it with `sf org display --target-org {alias}` and log in again"
        ),
    };
    borrowed.finish(home, http, opts).await
}

/// An authorization-code login waiting for the browser.
#[derive(Debug)]
pub struct BrowserLogin {
    /// Open this URL in a browser (print it when none opens).
    pub url: Url,
    loopback: Loopback,
    pkce: PkcePair,
    state: String,
}

/// Starts the authorization code + PKCE flow: binds the loopback listener on `127.0.0.1:port`
/// (0 = ephemeral) and builds the authorize URL.
///
/// # Errors
/// [`Error::Io`] when the port cannot be bound, [`Error::Usage`] for bad URLs.
pub async fn start_browser(opts: &LoginOptions, port: u16) -> Result<BrowserLogin, Error> {
    let endpoints = opts.endpoints()?;
    let loopback = Loopback::bind(port).await?;
    let pkce = PkcePair::generate();
    let state = pkce::new_state();
    let url = pkce::authorize_url(
        &endpoints.authorize_url(),
        &opts.client_id,
        loopback.redirect_uri(),
        &opts.scope_string(),
        &state,
        &pkce.challenge,
    );
    Ok(BrowserLogin {
        url,
        loopback,
        pkce,
        state,
    })
}

/// A device-flow login waiting for approval.
#[derive(Debug)]
pub struct DeviceLogin {
    /// What to show the user: code and verification URL.
    pub code: DeviceCode,
}

/// Starts the device flow.
///
/// # Errors
/// [`Error::OAuth`] when the app does not allow it.
pub async fn start_device(
    http: &reqwest::Client,
    opts: &LoginOptions,
) -> Result<DeviceLogin, Error> {
    let endpoints = opts.endpoints()?;
    let code = oauth::device_start(
        http,
        &endpoints.token_url,
        &opts.client_id,
        &opts.scope_string(),
    )
    .await?;
    Ok(DeviceLogin { code })
}

/// A login waiting for the user, by browser or by device; both finish the same way.
#[derive(Debug)]
pub enum PendingLogin {
    /// Waiting for the browser's redirect.
    Browser(BrowserLogin),
    /// Waiting for the device approval.
    Device(DeviceLogin),
}

impl PendingLogin {
    /// Waits for the user (the browser's redirect, with `state` checked and the code exchanged
    /// with the PKCE verifier; or the device approval, polled), then saves the session.
    ///
    /// # Errors
    /// [`Error::StateMismatch`], [`Error::AuthorizationDenied`], [`Error::Timeout`], [`Error::OAuth`].
    pub async fn finish(
        self,
        home: &Home,
        http: &reqwest::Client,
        opts: &LoginOptions,
        timeout: Duration,
    ) -> Result<LoginReport, Error> {
        let token_url = opts.endpoints()?.token_url;
        let (method, token) = match self {
            PendingLogin::Browser(b) => {
                let redirect_uri = b.loopback.redirect_uri().to_string();
                let code = b.loopback.wait_for_code(&b.state, timeout).await?;
                let grant = Grant::AuthorizationCode {
                    client_id: &opts.client_id,
                    code: &code,
                    verifier: &b.pkce.verifier,
                    redirect_uri: &redirect_uri,
                };
                let token = oauth::request_token(http, &token_url, grant).await?;
                (LoginMethod::Browser, token)
            }
            PendingLogin::Device(d) => {
                let token =
                    oauth::device_wait(http, &token_url, &opts.client_id, &d.code, timeout).await?;
                (LoginMethod::Device, token)
            }
        };
        let extras = Extras {
            asked: opts.scopes.clone(),
            ..Extras::default()
        };
        finish(home, http, opts, method, token, extras).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        oauth::split_scopes(s)
    }

    #[test]
    fn grants_broader_or_narrower_than_asked_are_reported() {
        for (asked, granted, method, said) in [
            (
                "api refresh_token",
                "api refresh_token full",
                LoginMethod::Browser,
                "`full`",
            ),
            (
                "api refresh_token",
                "refresh_token id",
                LoginMethod::Browser,
                "lacks `api`",
            ),
            (
                "api refresh_token",
                "api web",
                LoginMethod::Browser,
                "`web`",
            ),
            (
                "api refresh_token",
                "api web",
                LoginMethod::Browser,
                "no refresh token",
            ),
            (
                "",
                "api web chatter_api",
                LoginMethod::Jwt,
                "`web chatter_api`",
            ),
            ("", "full", LoginMethod::ClientCredentials, "`full`"),
        ] {
            let w = scope_warnings(&v(asked), &v(granted), method);
            assert!(w.iter().any(|w| w.contains(said)), "{granted}: {w:?}");
        }
    }

    #[test]
    fn the_least_grant_has_no_warning() {
        assert!(
            scope_warnings(
                &v("api refresh_token"),
                &v("api refresh_token"),
                LoginMethod::Browser
            )
            .is_empty()
        );
        assert!(scope_warnings(&[], &v("api"), LoginMethod::ClientCredentials).is_empty());
    }

    #[test]
    fn flows_without_a_scope_are_held_to_the_least_scopes() {
        let granted = v("api refresh_token offline_access openid id profile email");
        assert!(scope_warnings(&[], &granted, LoginMethod::Jwt).is_empty());
    }
}
