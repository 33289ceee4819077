//! Access tokens of the sandbox org: minting a token for a user ([`mint`]), resolving a bearer
//! token to its [`Session`] and [`Principal`] ([`lookup`], [`principal_for`]), revoking, and the
//! axum middleware ([`authenticate`]) + extractors ([`Auth`], and [`DataCall`] with the path
//! parameters) that every data route goes through.
//!
//! Tokens look like Salesforce's: `<15-char org id>!<random [A-Za-z0-9._]>`. Only their SHA-256
//! is stored (`sayso_session.token_hash`), so a token never sits in the database or a log.
//!
//! Owns sessions only. The OAuth endpoints (`oauth/mod.rs`) call [`mint`]; who the user is and what
//! they may do comes from `security/mod.rs` ([`crate::sandbox::security::Policy::principal`]).

use crate::sandbox::error::SfError;
use crate::sandbox::rest::limits;
use crate::sandbox::security::Principal;
use crate::sandbox::state::AppState;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Default access-token lifetime (Salesforce's default session timeout is 2 hours).
pub const DEFAULT_LIFETIME_SECS: i64 = 2 * 60 * 60;

/// What to mint a token with.
#[derive(Debug, Clone, Default)]
pub struct MintOptions {
    /// The connected app's client id (`None` for `sayso sandbox token`).
    pub client_id: Option<String>,
    /// Granted scopes (empty = a full-access session, like a UI/CLI session).
    pub scopes: Vec<String>,
    /// Lifetime in seconds (`None` = [`DEFAULT_LIFETIME_SECS`]).
    pub lifetime_secs: Option<i64>,
}

/// A live session row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// 18-character user id.
    pub user_id: String,
    /// Connected app client id, if minted through OAuth.
    pub client_id: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Issue time, epoch seconds.
    pub issued_at: i64,
    /// Expiry time, epoch seconds.
    pub expires_at: i64,
}

/// SHA-256 (hex) of a token: the key under which it is stored.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Mints an access token for `user_id` (18-char) in org `org_id`; returns the token text
/// (`00D…!…`) and the session row. The caller checks that the user exists and may log in.
///
/// # Errors
/// SQLite failures (`UNKNOWN_EXCEPTION`).
pub fn mint(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    opts: &MintOptions,
) -> Result<(String, Session), SfError> {
    let org15: String = org_id.chars().take(15).collect();
    let token = format!("{org15}!{}", random_secret(96));
    let now = chrono::Utc::now().timestamp();
    let session = Session {
        user_id: user_id.to_string(),
        client_id: opts.client_id.clone(),
        scopes: opts.scopes.clone(),
        issued_at: now,
        expires_at: now + opts.lifetime_secs.unwrap_or(DEFAULT_LIFETIME_SECS),
    };
    conn.execute(
        "INSERT INTO sayso_session (token_hash, user_id, client_id, scopes, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![hash_token(&token), session.user_id, session.client_id, session.scopes.join(" "), session.issued_at, session.expires_at],
    )?;
    Ok((token, session))
}

/// The live session of `token`, or `None` if it is unknown or expired.
///
/// # Errors
/// SQLite failures.
pub fn lookup(conn: &Connection, token: &str) -> Result<Option<Session>, SfError> {
    let row = conn
        .prepare_cached("SELECT user_id, client_id, scopes, issued_at, expires_at FROM sayso_session WHERE token_hash = ?1")?
        .query_row([hash_token(token)], |r| {
            let scopes: String = r.get(2)?;
            Ok(Session {
                user_id: r.get(0)?,
                client_id: r.get(1)?,
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
                issued_at: r.get(3)?,
                expires_at: r.get(4)?,
            })
        })
        .optional()?;
    let now = chrono::Utc::now().timestamp();
    Ok(row.filter(|s| s.expires_at > now))
}

/// Revokes `token`; returns whether it existed.
///
/// # Errors
/// SQLite failures.
pub fn revoke(conn: &Connection, token: &str) -> Result<bool, SfError> {
    Ok(conn.execute(
        "DELETE FROM sayso_session WHERE token_hash = ?1",
        [hash_token(token)],
    )? > 0)
}

/// The principal a session runs as, built by the policy from the user's profile, role and
/// permission sets. `None` if the user no longer exists.
pub fn principal_for(state: &AppState, session: &Session) -> Option<Principal> {
    state.policy.principal(
        &session.user_id,
        session.client_id.as_deref(),
        &session.scopes,
    )
}

/// Resolves an `Authorization: Bearer …` (or `OAuth …`) header value to a principal.
///
/// # Errors
/// `401 INVALID_SESSION_ID` for a missing, unknown or expired token; the policy's refusal when the
/// session may not use the API.
pub fn authorize(state: &AppState, header: Option<&str>) -> Result<Principal, SfError> {
    let token = header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("OAuth "))
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(SfError::invalid_session)?;
    let session = {
        let conn = state.lock_db();
        lookup(&conn, token)?
    };
    let session = session.ok_or_else(SfError::invalid_session)?;
    // Counts the use on the token's OauthToken row (LastUsedDate, UseCount).
    crate::sandbox::oauth::grant::record_use(
        &state.lock_db(),
        token,
        chrono::Utc::now().timestamp(),
    )?;
    let principal = principal_for(state, &session).ok_or_else(SfError::invalid_session)?;
    state.policy.check_api(&principal).map_err(|r| {
        SfError::new(
            StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNAUTHORIZED),
            r.error_code(),
            r.message(),
        )
    })?;
    Ok(principal)
}

/// Middleware for every `/services/data/vNN.N/…` route: checks the version segment, authenticates
/// the bearer token (401 otherwise), counts the call against the API allocation and adds the
/// `Sforce-Limit-Info` header to the response. The principal is stored in the request extensions
/// for [`Auth`].
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !version_ok(req.uri().path()) {
        return SfError::not_found().into_response();
    }
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let principal = match authorize(&state, header.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let usage = match limits::record_call(&state, &principal, 1) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(principal);
    let mut resp = next.run(req).await;
    // A handler that counts more calls (`/composite/batch`) sets the header itself.
    if !resp.headers().contains_key("sforce-limit-info")
        && let Ok(v) = HeaderValue::from_str(&usage.header_value())
    {
        resp.headers_mut().insert("sforce-limit-info", v);
    }
    resp
}

/// Whether the path's version segment (`/services/data/<v>/…`) looks like `vNN.N`.
fn version_ok(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/services/data/") else {
        return true;
    };
    let v = rest.split('/').next().unwrap_or("");
    crate::sandbox::wire::parse_version(v).is_some()
}

/// Extractor for the authenticated principal of a data route (set by [`authenticate`]).
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = SfError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(SfError::invalid_session)
    }
}

/// An authenticated call on a data route: the state, the principal, the route's path parameters
/// by name (`version`, `object`, `id`, …) and the query string's, what most data handlers start
/// from.
#[derive(Debug, Clone)]
pub struct DataCall {
    /// The sandbox.
    pub state: Arc<AppState>,
    /// Who calls.
    pub principal: Principal,
    params: HashMap<String, String>,
    /// The query string's parameters, percent-decoded (the last value of a repeated name).
    query: HashMap<String, String>,
}

impl DataCall {
    /// The API version the path names (`63.0` when it names none).
    pub fn version(&self) -> &str {
        crate::sandbox::wire::parse_version(self.param("version")).unwrap_or("63.0")
    }

    /// A path parameter (`""` when the route has none of that name).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// A query string parameter (`?q=…`), if the request has it.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

impl FromRequestParts<Arc<AppState>> for DataCall {
    type Rejection = SfError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| SfError::not_found())?;
        let query = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(DataCall {
            state: state.clone(),
            principal,
            params,
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_look_like_salesforce_and_expire() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sandbox::store::create_tables(
            &conn,
            &crate::sandbox::schema::Schema::demo().unwrap(),
        )
        .unwrap();
        let (token, s) = mint(
            &conn,
            "00DDm0000000001MAA",
            "005Dm0000000003IAA",
            &MintOptions::default(),
        )
        .unwrap();
        assert!(token.starts_with("00DDm0000000001!"), "{token}");
        assert!(
            token[16..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        );
        assert_eq!(lookup(&conn, &token).unwrap(), Some(s));
        assert_eq!(lookup(&conn, "00DDm0000000001!nope").unwrap(), None);
        let opts = MintOptions {
            lifetime_secs: Some(-1),
            ..Default::default()
        };
        let (expired, _) = mint(&conn, "00DDm0000000001MAA", "005Dm0000000003IAA", &opts).unwrap();
        assert_eq!(lookup(&conn, &expired).unwrap(), None);
        assert!(revoke(&conn, &token).unwrap());
        assert_eq!(lookup(&conn, &token).unwrap(), None);
    }
}
