//! The sandbox's OAuth 2.0 authorization server on `/services/oauth2/`: the token endpoint (grants
//! `authorization_code` + PKCE, `refresh_token`, `client_credentials`,
//! `urn:ietf:params:oauth:grant-type:jwt-bearer`, `device`, and the `device_code` request), with
//! responses and errors shaped exactly as Salesforce sends them (wire reference §1).
//!
//! Layout: this file holds the routes, request parsing (form, multipart, Basic client auth), scope
//! negotiation and the token endpoint; [`pages`] the browser pages (`authorize`, login, consent,
//! device verification); [`identity`] `revoke`, `introspect`, `userinfo` and the identity URL;
//! [`grant`] the grant tables; [`jwt`] JWT assertions.
//!
//! Owns OAuth only. Access tokens are minted by `session.rs`; who a user is and what an app may
//! have comes from `security/mod.rs`. Never logs a token, code, secret or password.

pub mod grant;
pub mod identity;
pub mod jwt;
pub mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, get, on, post};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use self::grant as grants;
use crate::sandbox::security::{ConnectedApp, UserInfo};
use crate::sandbox::session;
use crate::sandbox::state::AppState;

/// The JWT bearer grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The token request form of the demo org's `sandbox-admin` app (client credentials, full
/// access): how tests and tools get an administrator token.
pub const ADMIN_TOKEN_FORM: [(&str, &str); 3] = [
    ("grant_type", "client_credentials"),
    ("client_id", "sandbox-admin"),
    ("client_secret", "sandbox-admin-secret"),
];

/// Endpoints Salesforce answers the same on GET and POST (revoke, userinfo, the identity URL).
const GET_OR_POST: MethodFilter = MethodFilter::GET.or(MethodFilter::POST);

/// Routes: `/services/oauth2/{token,authorize,revoke,introspect,userinfo}`, `/id/{org}/{user}` and
/// the device verification page `/setup/connect`. None of them counts against the API allocation.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route(
            "/services/oauth2/authorize",
            get(pages::authorize_get).post(pages::authorize_post),
        )
        .route("/services/oauth2/revoke", on(GET_OR_POST, identity::revoke))
        .route("/services/oauth2/introspect", post(identity::introspect))
        .route(
            "/services/oauth2/userinfo",
            on(GET_OR_POST, identity::userinfo),
        )
        .route("/id/{org}/{user}", on(GET_OR_POST, identity::identity))
        .route(
            "/setup/connect",
            get(pages::device_get).post(pages::device_post),
        )
}

/// An OAuth error as the token endpoint answers it: HTTP 400 (unless told otherwise) with
/// `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct TokenError {
    /// The `error` code (`invalid_grant`, `invalid_client_id`, …).
    pub error: String,
    /// The `error_description`.
    pub description: String,
    /// HTTP status (400 for every documented token error).
    pub status: StatusCode,
}

impl TokenError {
    /// A 400 error.
    pub fn new(error: &str, description: &str) -> TokenError {
        TokenError {
            error: error.to_string(),
            description: description.to_string(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    fn internal() -> TokenError {
        TokenError {
            error: "server_error".into(),
            description: "internal server error".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<rusqlite::Error> for TokenError {
    fn from(_: rusqlite::Error) -> Self {
        TokenError::internal()
    }
}

impl From<crate::sandbox::error::SfError> for TokenError {
    fn from(_: crate::sandbox::error::SfError) -> Self {
        TokenError::internal()
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        oauth_json(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        )
    }
}

/// A JSON response with the headers Salesforce puts on OAuth responses.
pub fn oauth_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::sandbox::wire::JSON_CONTENT_TYPE),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache,must-revalidate,max-age=0,no-store,private"),
    );
    resp
}

/// Request parameters from the query string and a form or multipart body, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The first value of `name` (non-empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Parses a query string / urlencoded body.
    pub fn from_urlencoded(text: &[u8]) -> Params {
        Params(
            url::form_urlencoded::parse(text)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
}

/// Reads the query string and the body (urlencoded or multipart) of `req`.
pub async fn read_params(req: Request) -> (HeaderMap, Params) {
    let headers = req.headers().clone();
    let mut params = req
        .uri()
        .query()
        .map(|q| Params::from_urlencoded(q.as_bytes()))
        .unwrap_or_default();
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if multipart {
        if let Ok(mut mp) = axum::extract::Multipart::from_request(req, &()).await {
            while let Ok(Some(field)) = mp.next_field().await {
                let name = field.name().unwrap_or("").to_string();
                if let Ok(text) = field.text().await {
                    params.0.push((name, text));
                }
            }
        }
    } else if let Ok(body) = axum::body::to_bytes(req.into_body(), 1 << 20).await {
        params.0.extend(Params::from_urlencoded(&body).0);
    }
    (headers, params)
}

/// The client id and secret from `Authorization: Basic` (percent-decoded) or the parameters.
pub fn client_credentials(
    headers: &HeaderMap,
    params: &Params,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let dec = |t: &str| {
                url::form_urlencoded::parse(format!("x={t}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((dec(id)?, dec(secret)?))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            params.get("client_id").map(str::to_string),
            params.get("client_secret").map(str::to_string),
        ),
    }
}

/// The sandbox's own origin as the client reached it: `http://<Host>`, or `https://<Host>` when
/// served over TLS (`X-Forwarded-Proto: https`, set by [`crate::sandbox::tls`]).
pub fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let https = headers
        .get(crate::sandbox::tls::FORWARDED_PROTO)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The identity URL of a user: `<origin>/id/<orgId>/<userId>`.
pub fn identity_url(origin: &str, org_id: &str, user_id: &str) -> String {
    format!("{origin}/id/{org_id}/{user_id}")
}

/// The scopes a `scope` parameter names: separated by spaces, `+` or commas.
fn scope_words(requested: &str) -> impl Iterator<Item = &str> {
    requested.split([' ', '+', ',']).filter(|s| !s.is_empty())
}

/// Scopes an app grants for a request: the requested ones it allows (in request order, without
/// repeats), or all of its scopes when none are requested. Never more than the app allows.
pub fn negotiate_scopes(app: &ConnectedApp, requested: Option<&str>) -> Vec<String> {
    let allowed = app.all_scopes();
    let Some(req) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return allowed;
    };
    let mut out: Vec<String> = Vec::new();
    for s in scope_words(req) {
        if allowed.iter().any(|a| a == s) && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// Like [`negotiate_scopes`], but a requested scope the app does not allow (or that does not
/// exist) is an error rather than silently dropped, as Salesforce answers it.
///
/// # Errors
/// `invalid_scope` naming the first such scope.
pub fn strict_scopes(
    app: &ConnectedApp,
    requested: Option<&str>,
) -> Result<Vec<String>, TokenError> {
    let allowed = app.all_scopes();
    if let Some(req) = requested
        && let Some(bad) = scope_words(req).find(|s| !allowed.iter().any(|a| a == s))
    {
        return Err(TokenError::new(
            "invalid_scope",
            &format!("the requested scope is not allowed: {bad}"),
        ));
    }
    Ok(negotiate_scopes(app, requested))
}

/// Whether the scopes earn a refresh token.
pub fn wants_refresh(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|s| s == "refresh_token" || s == "offline_access")
}

/// HMAC-SHA256 (RFC 2104) — the token response `signature` is one, keyed with the client secret.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        let d = Sha256::digest(key);
        k[..d.len()].copy_from_slice(&d);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().to_vec()
}

/// Everything needed to answer a successful grant.
struct Issue<'a> {
    app: &'a ConnectedApp,
    user: &'a UserInfo,
    scopes: Vec<String>,
    flow: &'a str,
    /// Issue a refresh token (only for flows that can: authorization code, device).
    refresh_allowed: bool,
    /// An existing grant to mint under (refresh_token grant) instead of a new one.
    existing: Option<grants::Grant>,
}

impl<'a> Issue<'a> {
    /// A new grant of `scopes` to `user` through `app` by `flow`, without a refresh token.
    fn new(app: &'a ConnectedApp, user: &'a UserInfo, scopes: Vec<String>, flow: &'a str) -> Self {
        Issue {
            app,
            user,
            scopes,
            flow,
            refresh_allowed: false,
            existing: None,
        }
    }

    /// Lets the grant carry a refresh token when its scopes ask for one.
    fn with_refresh(self) -> Self {
        Issue {
            refresh_allowed: true,
            ..self
        }
    }

    /// Mints under `grant` instead of recording a new one.
    fn under(self, grant: grants::Grant) -> Self {
        Issue {
            existing: Some(grant),
            ..self
        }
    }
}

/// The access-token lifetime for `app`: the `--token-minutes` override, else the app's policy.
fn lifetime_secs(state: &AppState, app: &ConnectedApp) -> i64 {
    let minutes = state
        .faults
        .token_minutes
        .unwrap_or(app.access_token_minutes);
    (minutes as i64).saturating_mul(60)
}

/// Whether a refresh with `app` answers with a new refresh token (the app's setting, or the
/// `--rotate-refresh-tokens` override).
fn rotates(state: &AppState, app: &ConnectedApp) -> bool {
    app.rotate_refresh_tokens || state.faults.rotate_refresh_tokens
}

/// Records the grant (or reuses `existing`, rotating its refresh token when the app says so), mints the access token and renders §1.3.
fn issue(state: &AppState, origin: &str, it: Issue<'_>) -> Result<Response, TokenError> {
    let now = chrono::Utc::now();
    let now_secs = now.timestamp();
    let conn = state.lock_db();
    let (grant, refresh) = match it.existing {
        Some(g) if rotates(state, it.app) => {
            let fresh = grants::rotate_refresh(&conn, &g.id)?;
            (g, Some(fresh))
        }
        Some(g) => (g, None),
        None => grants::create_grant(
            &conn,
            grants::NewGrant {
                app_name: &it.app.name,
                client_id: &it.app.client_id,
                user_id: &it.user.id,
                scopes: &it.scopes,
                flow: it.flow,
                with_refresh: it.refresh_allowed && wants_refresh(&it.scopes),
            },
            now_secs,
        )?,
    };
    let opts = session::MintOptions {
        client_id: Some(it.app.client_id.clone()),
        scopes: it.scopes.clone(),
        lifetime_secs: Some(lifetime_secs(state, it.app)),
    };
    let (access, sess) = session::mint(&conn, &state.org_id, &it.user.id, &opts)?;
    grants::link_access(&conn, &access, &grant.id)?;
    drop(conn);
    let id = identity_url(origin, &state.org_id, &it.user.id);
    let issued_at = (sess.issued_at * 1000 + i64::from(now.timestamp_subsec_millis())).to_string();
    let key = it.app.client_secret.as_deref().unwrap_or(&it.app.client_id);
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        key.as_bytes(),
        format!("{id}{issued_at}").as_bytes(),
    ));
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), Value::String(access));
    if let Some(r) = refresh {
        body.insert("refresh_token".into(), Value::String(r));
    }
    body.insert("signature".into(), Value::String(signature));
    body.insert("scope".into(), Value::String(it.scopes.join(" ")));
    if it.scopes.iter().any(|s| s == "openid") {
        let mut claims = serde_json::Map::new();
        claims.insert(
            "preferred_username".into(),
            Value::String(it.user.username.clone()),
        );
        claims.insert("name".into(), Value::String(it.user.display_name()));
        claims.insert("email".into(), Value::String(it.user.email.clone()));
        if let Some(t) = jwt::id_token(origin, &it.app.client_id, &id, &claims, now_secs) {
            body.insert("id_token".into(), Value::String(t));
        }
    }
    body.insert("instance_url".into(), Value::String(origin.to_string()));
    body.insert("id".into(), Value::String(id));
    body.insert("token_type".into(), Value::String("Bearer".into()));
    body.insert("issued_at".into(), Value::String(issued_at));
    Ok(oauth_json(StatusCode::OK, &Value::Object(body)))
}

/// One request to the token endpoint: what every grant reads.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'r> {
    /// The sandbox.
    pub state: &'r AppState,
    /// The request's headers (`Authorization: Basic`, `Host`).
    pub headers: &'r HeaderMap,
    /// The query string and body parameters.
    pub params: &'r Params,
    /// The sandbox's origin as the client reached it (see [`origin`]).
    pub origin: &'r str,
}

impl<'r> TokenRequest<'r> {
    /// The app the client names (`Authorization: Basic` or the parameters), with the secret it
    /// gave.
    fn client_app(&self) -> Result<(&'r ConnectedApp, Option<String>), TokenError> {
        let (cid, secret) = client_credentials(self.headers, self.params);
        Ok((app_of(self.state, cid.as_deref())?, secret))
    }

    /// The connected app a code or refresh-token grant is for: the client must exist, allow
    /// `flow`, and give its secret when it has one (public clients such as `sayso-cli` have none).
    fn app_for_grant(&self, flow: &str) -> Result<&'r ConnectedApp, TokenError> {
        let (app, secret) = self.client_app()?;
        if !app.allows_flow(flow) {
            return Err(TokenError::new(
                "unsupported_grant_type",
                "grant type not supported",
            ));
        }
        check_secret(app, secret.as_deref(), false)?;
        Ok(app)
    }

    /// Answers the grant: see [`issue`].
    fn issue(&self, it: Issue<'_>) -> Result<Response, TokenError> {
        issue(self.state, self.origin, it)
    }
}

fn app_of<'c>(
    state: &'c AppState,
    client_id: Option<&str>,
) -> Result<&'c ConnectedApp, TokenError> {
    client_id
        .and_then(|c| state.policy.config().app(c))
        .ok_or_else(|| TokenError::new("invalid_client_id", "client identifier invalid"))
}

/// Checks the client secret when the app has one (or when `required`).
fn check_secret(app: &ConnectedApp, given: Option<&str>, required: bool) -> Result<(), TokenError> {
    match app.client_secret.as_deref() {
        Some(secret) if given == Some(secret) => Ok(()),
        Some(_) => Err(TokenError::new(
            "invalid_client",
            "invalid client credentials",
        )),
        None if required => Err(TokenError::new(
            "invalid_client",
            "invalid client credentials",
        )),
        None => Ok(()),
    }
}

fn active_user(state: &AppState, id_or_name: &str) -> Option<UserInfo> {
    state
        .policy
        .user(id_or_name)
        .or_else(|| state.policy.user_by_username(id_or_name))
        .filter(|u| u.active)
}

/// The user a code, grant or device was approved by, who must still be active (none, or one no
/// longer active, is refused alike).
fn approving_user(state: &AppState, id: Option<&str>) -> Result<UserInfo, TokenError> {
    id.and_then(|u| active_user(state, u))
        .ok_or_else(|| TokenError::new("inactive_user", "user is inactive"))
}

/// Runs `read` (a code, grant or device lookup) under the database lock, released at once.
fn locked<T>(
    state: &AppState,
    read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, TokenError> {
    Ok(read(&state.lock_db())?)
}

/// A code (authorization or device) past `expires_at` is refused.
fn unexpired(expires_at: i64) -> Result<(), TokenError> {
    if expires_at < chrono::Utc::now().timestamp() {
        return Err(TokenError::new(
            "invalid_grant",
            "expired authorization code",
        ));
    }
    Ok(())
}

/// `POST /services/oauth2/token`.
async fn token(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, params) = read_params(req).await;
    match token_inner(&state, &headers, &params) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Reloads the users before a login, so users added through the API can log in.
pub fn refresh_users(state: &AppState) {
    if let Err(e) = state.policy.refresh_users(&state.lock_db()) {
        tracing::warn!(error = %e, "could not reload the sandbox users; using the ones loaded before");
    }
}

fn token_inner(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, TokenError> {
    let origin = origin(headers);
    refresh_users(state);
    let r = TokenRequest {
        state,
        headers,
        params,
        origin: &origin,
    };
    if params.get("response_type") == Some("device_code") {
        return device_code(r);
    }
    match params.get("grant_type") {
        Some("authorization_code") => authorization_code(r),
        Some("refresh_token") => refresh_token(r),
        Some("client_credentials") => client_credentials_grant(r),
        Some(JWT_BEARER) => jwt_bearer(r),
        Some("device") => device(r),
        _ => Err(TokenError::new(
            "unsupported_grant_type",
            "grant type not supported",
        )),
    }
}

/// PKCE: S256 (also when the method is absent, as Salesforce does) or plain.
pub fn pkce_matches(challenge: &str, method: Option<&str>, verifier: &str) -> bool {
    match method.unwrap_or("S256") {
        m if m.eq_ignore_ascii_case("plain") => challenge == verifier,
        _ => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
                == challenge
        }
    }
}

fn authorization_code(r: TokenRequest<'_>) -> Result<Response, TokenError> {
    let app = r.app_for_grant("authorization_code")?;
    let text = r
        .params
        .get("code")
        .ok_or_else(|| TokenError::new("invalid_grant", "invalid authorization code"))?;
    let code = locked(r.state, |conn| grants::take_code(conn, text))?
        .filter(|c| !c.used && c.client_id == app.client_id)
        .ok_or_else(|| TokenError::new("invalid_grant", "invalid authorization code"))?;
    unexpired(code.expires_at)?;
    if let Some(expected) = code.redirect_uri.as_deref()
        && r.params.get("redirect_uri") != Some(expected)
    {
        return Err(TokenError::new(
            "invalid_grant",
            "redirect_uri must match configuration",
        ));
    }
    if let Some(challenge) = code.challenge.as_deref() {
        match r.params.get("code_verifier") {
            None => return Err(TokenError::new("invalid_grant", "invalid code verifier")),
            Some(v) if !pkce_matches(challenge, code.method.as_deref(), v) => {
                return Err(TokenError::new("invalid_request", "invalid code verifier"));
            }
            Some(_) => {}
        }
    }
    let user = approving_user(r.state, Some(&code.user_id))?;
    r.issue(Issue::new(app, &user, code.scopes, "authorization_code").with_refresh())
}

fn refresh_token(r: TokenRequest<'_>) -> Result<Response, TokenError> {
    let app = r.app_for_grant("refresh_token")?;
    let expired = || TokenError::new("invalid_grant", "expired access/refresh token");
    let text = r.params.get("refresh_token").ok_or_else(expired)?;
    let grant = locked(r.state, |conn| grants::grant_by_refresh(conn, text))?
        .filter(|g| g.client_id == app.client_id)
        .ok_or_else(expired)?;
    let user = approving_user(r.state, Some(&grant.user_id))?;
    // A refresh may narrow the scopes, never widen them.
    let scopes = match r.params.get("scope") {
        Some(req) => {
            let wanted: Vec<&str> = scope_words(req).collect();
            grant
                .scopes
                .iter()
                .filter(|s| wanted.contains(&s.as_str()))
                .cloned()
                .collect()
        }
        None => grant.scopes.clone(),
    };
    r.issue(Issue::new(app, &user, scopes, "refresh_token").under(grant))
}

fn client_credentials_grant(r: TokenRequest<'_>) -> Result<Response, TokenError> {
    let (app, secret) = r.client_app()?;
    check_secret(app, secret.as_deref(), true)?;
    if !app.allows_flow("client_credentials") {
        return Err(TokenError::new(
            "invalid_grant",
            "no client credentials user enabled",
        ));
    }
    let user = app
        .run_as
        .as_deref()
        .and_then(|u| active_user(r.state, u))
        .ok_or_else(|| TokenError::new("invalid_grant", "no client credentials user enabled"))?;
    let scopes = negotiate_scopes(app, r.params.get("scope"));
    if scopes.is_empty() {
        return Err(TokenError::new("invalid_grant", "no valid scopes defined"));
    }
    r.issue(Issue::new(app, &user, scopes, "client_credentials"))
}

fn jwt_bearer(r: TokenRequest<'_>) -> Result<Response, TokenError> {
    let assertion = r
        .params
        .get("assertion")
        .ok_or_else(|| TokenError::new("invalid_grant", "invalid assertion"))?;
    let now = chrono::Utc::now().timestamp();
    let claims = jwt::verify(r.state.policy.config(), assertion, r.origin, now)?;
    let app = app_of(r.state, Some(&claims.client_id))?;
    let user = r
        .state
        .policy
        .user_by_username(&claims.username)
        .ok_or_else(|| TokenError::new("invalid_grant", "authentication failure"))?;
    if !user.active {
        return Err(TokenError::new("inactive_user", "user is inactive"));
    }
    if !app.preauthorizes(&user.profile) {
        return Err(TokenError::new(
            "invalid_grant",
            "user hasn't approved this consumer",
        ));
    }
    let scopes = strict_scopes(app, r.params.get("scope"))?;
    r.issue(Issue::new(app, &user, scopes, "jwt_bearer"))
}

/// `response_type=device_code`: starts a device authorization.
pub fn device_code(r: TokenRequest<'_>) -> Result<Response, TokenError> {
    let (app, _) = r.client_app()?;
    if !app.allows_flow("device") {
        return Err(TokenError::new(
            "invalid_request",
            "device flow not enabled for this client",
        ));
    }
    let scopes = negotiate_scopes(app, r.params.get("scope"));
    if scopes.is_empty() {
        return Err(TokenError::new(
            "invalid_scope",
            "the requested scope is not allowed",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let (device_code, user_code) = locked(r.state, |conn| {
        grants::start_device(conn, &app.client_id, &scopes, now)
    })?;
    Ok(oauth_json(
        StatusCode::OK,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": format!("{}/setup/connect", r.origin),
            "interval": 5
        }),
    ))
}

fn device(r: TokenRequest<'_>) -> Result<Response, TokenError> {
    let (app, _) = r.client_app()?;
    let invalid = || TokenError::new("invalid_grant", "invalid device code");
    let code = r
        .params
        .get("code")
        .or_else(|| r.params.get("device_code"))
        .ok_or_else(invalid)?;
    let dev = locked(r.state, |conn| grants::device_by_code(conn, code))?
        .filter(|d| d.client_id == app.client_id)
        .ok_or_else(invalid)?;
    unexpired(dev.expires_at)?;
    match dev.status.as_str() {
        "pending" => Err(TokenError::new(
            "authorization_pending",
            "authorization pending",
        )),
        "denied" => Err(TokenError::new(
            "access_denied",
            "end-user denied authorization",
        )),
        "approved" => {
            let user = approving_user(r.state, dev.user_id.as_deref())?;
            locked(r.state, |conn| grants::use_device(conn, code))?;
            r.issue(Issue::new(app, &user, dev.scopes, "device").with_refresh())
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pkce_defaults_to_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, None, verifier));
        assert!(pkce_matches(challenge, Some("S256"), verifier));
        assert!(!pkce_matches(challenge, None, "something-else"));
        assert!(pkce_matches("abc", Some("plain"), "abc"));
    }

    #[test]
    fn scopes_never_exceed_the_app() {
        let cfg = crate::sandbox::security::SecurityConfig::demo().expect("demo");
        let cli = cfg.app("sayso-cli").expect("cli");
        assert_eq!(
            negotiate_scopes(cli, Some("refresh_token api web")),
            vec!["refresh_token", "api"]
        );
        assert_eq!(negotiate_scopes(cli, Some("full")), Vec::<String>::new());
        assert_eq!(negotiate_scopes(cli, None).len(), 7);
        let portal = cfg.app("order-status-portal").expect("portal");
        assert_eq!(negotiate_scopes(portal, None), vec!["api", "order_status"]);
        assert!(wants_refresh(&["offline_access".to_string()]));
        assert!(!wants_refresh(&["api".to_string()]));
    }

    #[test]
    fn basic_auth_wins_over_the_body() {
        let mut h = HeaderMap::new();
        let enc =
            base64::engine::general_purpose::STANDARD.encode("kinetic-ltd:kinetic%2Ddemo-secret");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {enc}")).expect("header"),
        );
        let p = Params::from_urlencoded(b"client_id=other&client_secret=x");
        assert_eq!(
            client_credentials(&h, &p),
            (
                Some("kinetic-ltd".into()),
                Some("kinetic-demo-secret".into())
            )
        );
        assert_eq!(
            client_credentials(&HeaderMap::new(), &p),
            (Some("other".into()), Some("x".into()))
        );
    }
}
