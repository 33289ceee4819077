//! `revoke`, `introspect`, `userinfo` and the identity URL `/id/{orgId}/{userId}` (wire reference
//! §1.11–§1.14).
//!
//! Owns these four endpoints only; tokens are looked up through `session.rs` and the grant tables
//! (`oauth/grant.rs`). Never logs a token.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sandbox::oauth::grant as grants;
use crate::sandbox::oauth::{self, Params, TokenError, oauth_json, read_params};
use crate::sandbox::security::{Principal, UserInfo};
use crate::sandbox::session;
use crate::sandbox::state::AppState;
use crate::sandbox::wire::text_response;

/// `POST|GET /services/oauth2/revoke`: revokes an access token, or a refresh token and every access
/// token of its grant. 200 with an empty body; 400 `invalid_token` for an unknown token.
pub async fn revoke(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (_, params) = read_params(req).await;
    match revoke_inner(&state, &params) {
        Ok(()) => {
            let mut resp = StatusCode::OK.into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache,must-revalidate,max-age=0,no-store,private"),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}

fn revoke_inner(state: &AppState, params: &Params) -> Result<(), TokenError> {
    let invalid = || TokenError::new("invalid_token", "invalid token");
    let token = params.get("token").ok_or_else(invalid)?;
    let now = chrono::Utc::now().timestamp();
    let conn = state.lock_db();
    if let Some(grant) = grants::grant_by_refresh(&conn, token)? {
        grants::revoke_grant(&conn, &grant.id, now)?;
        return Ok(());
    }
    if session::lookup(&conn, token)?.is_none() {
        return Err(invalid());
    }
    session::revoke(&conn, token)?;
    // A grant without a refresh token is nothing but its access token: it goes too.
    if let Some(grant) = grants::grant_by_access(&conn, token)?
        && !grant_has_refresh(&conn, &grant.id)?
    {
        grants::revoke_grant(&conn, &grant.id, now)?;
    }
    Ok(())
}

fn grant_has_refresh(conn: &rusqlite::Connection, grant_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT refresh_hash IS NOT NULL FROM sayso_oauth_grant WHERE id = ?1",
        [grant_id],
        |r| r.get(0),
    )
}

/// `POST /services/oauth2/introspect`: `{active, scope, client_id, username, sub, token_type, exp,
/// iat, nbf}` or `{"active": false}`. The caller authenticates as a connected app (Basic or body);
/// apps with a secret must give it. As in Salesforce an app sees only the tokens issued to it
/// (others answer `{"active": false}`, like unknown ones) unless it has a secret and
/// `introspect_all`. A public client (no secret) can introspect only its own tokens, which
/// anyone holding them could use anyway.
pub async fn introspect(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, params) = read_params(req).await;
    match introspect_inner(&state, &headers, &params) {
        Ok(v) => oauth_json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

fn introspect_inner(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Value, TokenError> {
    let (cid, secret) = oauth::client_credentials(headers, params);
    let unauthorized = || TokenError {
        error: "invalid_client".into(),
        description: "invalid client credentials".into(),
        status: StatusCode::UNAUTHORIZED,
    };
    let app = cid
        .as_deref()
        .and_then(|c| state.policy.config().app(c))
        .ok_or_else(unauthorized)?;
    if let Some(s) = app.client_secret.as_deref()
        && secret.as_deref() != Some(s)
    {
        return Err(unauthorized());
    }
    let inactive = json!({"active": false});
    let Some(token) = params.get("token") else {
        return Ok(inactive);
    };
    let origin = oauth::origin(headers);
    let may_see = |client: Option<&str>| {
        (app.introspect_all && app.client_secret.is_some())
            || client == Some(app.client_id.as_str())
    };
    let conn = state.lock_db();
    let hint = params.get("token_type_hint");
    if hint != Some("refresh_token")
        && let Some(s) = session::lookup(&conn, token)?
        && may_see(s.client_id.as_deref())
    {
        let token = Introspected {
            token_type: "access_token",
            user_id: &s.user_id,
            client_id: s.client_id.as_deref(),
            scopes: &s.scopes,
            expires_at: Some(s.expires_at),
            issued_at: s.issued_at,
        };
        return Ok(token.json(state, &origin));
    }
    if let Some(g) = grants::grant_by_refresh(&conn, token)?
        && may_see(Some(&g.client_id))
    {
        let token = Introspected {
            token_type: "refresh_token",
            user_id: &g.user_id,
            client_id: Some(&g.client_id),
            scopes: &g.scopes,
            expires_at: None,
            issued_at: g.created_at,
        };
        return Ok(token.json(state, &origin));
    }
    Ok(inactive)
}

/// An active token as `introspect` describes it.
struct Introspected<'a> {
    token_type: &'static str,
    user_id: &'a str,
    client_id: Option<&'a str>,
    scopes: &'a [String],
    /// Refresh tokens do not expire on their own.
    expires_at: Option<i64>,
    issued_at: i64,
}

impl Introspected<'_> {
    fn json(&self, state: &AppState, origin: &str) -> Value {
        let user = state.policy.user(self.user_id);
        let mut v = json!({
            "active": true,
            "scope": self.scopes.join(" "),
            "client_id": self.client_id,
            "username": user.map(|u| u.username),
            "sub": oauth::identity_url(origin, &state.org_id, self.user_id),
            "token_type": self.token_type,
        });
        if let Some(exp) = self.expires_at {
            v["exp"] = json!(exp);
        }
        v["iat"] = json!(self.issued_at);
        v["nbf"] = json!(self.issued_at);
        v
    }
}

/// The bearer token of a request: `Authorization: Bearer|OAuth …` or `?oauth_token=` / `access_token=`.
fn bearer(headers: &HeaderMap, params: &Params) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
        .or_else(|| {
            params
                .get("oauth_token")
                .or_else(|| params.get("access_token"))
                .map(str::to_string)
        })
}

/// 403 `Bad_OAuth_Token` (text/plain), what the identity endpoints answer to a bad token.
fn bad_token() -> Response {
    text_response(StatusCode::FORBIDDEN, "Bad_OAuth_Token")
}

/// The user behind a request's bearer token.
fn token_user(state: &AppState, headers: &HeaderMap, params: &Params) -> Option<UserInfo> {
    token_principal(state, headers, params).and_then(|p| state.policy.user(&p.user_id))
}

/// The principal (user, app and scopes) behind a request's bearer token.
fn token_principal(state: &AppState, headers: &HeaderMap, params: &Params) -> Option<Principal> {
    let token = bearer(headers, params)?;
    let s = {
        let conn = state.lock_db();
        session::lookup(&conn, &token).ok().flatten()?
    };
    state
        .policy
        .principal(&s.user_id, s.client_id.as_deref(), &s.scopes)
}

fn urls(origin: &str, org15: &str, user_id: &str, version: &str) -> Value {
    let v = version;
    json!({
        "enterprise": format!("{origin}/services/Soap/c/{v}/{org15}"),
        "metadata": format!("{origin}/services/Soap/m/{v}/{org15}"),
        "partner": format!("{origin}/services/Soap/u/{v}/{org15}"),
        "rest": format!("{origin}/services/data/v{v}/"),
        "sobjects": format!("{origin}/services/data/v{v}/sobjects/"),
        "search": format!("{origin}/services/data/v{v}/search/"),
        "query": format!("{origin}/services/data/v{v}/query/"),
        "recent": format!("{origin}/services/data/v{v}/recent/"),
        "tooling_soap": format!("{origin}/services/Soap/T/{v}/{org15}"),
        "tooling_rest": format!("{origin}/services/data/v{v}/tooling/"),
        "profile": format!("{origin}/{user_id}"),
        "feeds": format!("{origin}/services/data/v{v}/chatter/feeds"),
        "groups": format!("{origin}/services/data/v{v}/chatter/groups"),
        "users": format!("{origin}/services/data/v{v}/chatter/users"),
        "feed_items": format!("{origin}/services/data/v{v}/chatter/feed-items"),
        "feed_elements": format!("{origin}/services/data/v{v}/chatter/feed-elements"),
        "custom_domain": origin,
    })
}

fn photos(origin: &str) -> Value {
    json!({"picture": format!("{origin}/profilephoto/005/F"), "thumbnail": format!("{origin}/profilephoto/005/T")})
}

fn version_param(params: &Params) -> String {
    match params.get("version") {
        Some("latest") => format!("{}.0", crate::sandbox::wire::LATEST_VERSION),
        Some(v) => v.to_string(),
        None => "{version}".to_string(),
    }
}

/// A user document of userinfo or the identity URL: the document's `own` names (OpenID Connect or
/// identity service) plus what both answer alike (ids, email, photos, URLs, account settings).
fn user_document(
    state: &AppState,
    origin: &str,
    user: &UserInfo,
    params: &Params,
    own: Value,
) -> Value {
    let org15: String = state.org_id.chars().take(15).collect();
    let mut doc = json!({
        "user_id": user.id,
        "organization_id": state.org_id,
        "email": user.email,
        "email_verified": true,
        "photos": photos(origin),
        "urls": urls(origin, &org15, &user.id, &version_param(params)),
        "active": user.active,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": -28800000,
        "is_app_installed": true,
    });
    if let (Value::Object(doc), Value::Object(own)) = (&mut doc, own) {
        doc.extend(own);
    }
    doc
}

/// `GET|POST /services/oauth2/userinfo` (OpenID Connect names).
pub async fn userinfo(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, params) = read_params(req).await;
    let Some(user) = token_user(&state, &headers, &params) else {
        return bad_token();
    };
    let origin = oauth::origin(&headers);
    let own = json!({
        "sub": oauth::identity_url(&origin, &state.org_id, &user.id),
        "preferred_username": user.username,
        "nickname": user.alias,
        "name": user.display_name(),
        "given_name": user.first_name,
        "family_name": user.last_name,
        "zoneinfo": user.time_zone,
        "profile": format!("{origin}/{}", user.id),
        "picture": format!("{origin}/profilephoto/005/F"),
        "address": {"country": "US"},
        "is_salesforce_integration_user": state.policy.config().profile(&user.profile).is_some_and(|p| p.grants.system.api_only),
        "updated_at": "2026-01-01T00:00:00Z",
    });
    let body = user_document(&state, &origin, &user, &params, own);
    oauth_json(StatusCode::OK, &body)
}

/// `GET|POST /id/{orgId}/{userId}` (identity service names; token in the header or `oauth_token`).
pub async fn identity(
    State(state): State<Arc<AppState>>,
    Path((org, user_id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (headers, params) = read_params(req).await;
    let Some(caller) = token_principal(&state, &headers, &params) else {
        return bad_token();
    };
    let same_org = org
        .get(..15)
        .is_some_and(|o| state.org_id.get(..15) == Some(o));
    // Another user's identity only for a caller who may read User; otherwise it answers like an
    // unknown user, so it tells nothing.
    let may_read =
        |u: &UserInfo| u.id == caller.user_id || state.policy.object_access(&caller, "User").read;
    let Some(user) = state
        .policy
        .user(&user_id)
        .filter(|u| same_org && may_read(u))
    else {
        return text_response(StatusCode::NOT_FOUND, "Bad_Id");
    };
    let origin = oauth::origin(&headers);
    let own = json!({
        "id": oauth::identity_url(&origin, &state.org_id, &user.id),
        "asserted_user": true,
        "username": user.username,
        "nick_name": user.alias,
        "display_name": user.display_name(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "timezone": user.time_zone,
        "addr_street": null, "addr_city": null, "addr_state": null, "addr_country": "US", "addr_zip": null,
        "mobile_phone": null, "mobile_phone_verified": false,
        "is_lightning_login_user": false,
        "status": {"created_date": null, "body": null},
        "last_modified_date": "2026-01-01T00:00:00.000Z",
    });
    let body = user_document(&state, &origin, &user, &params, own);
    oauth_json(StatusCode::OK, &body)
}
