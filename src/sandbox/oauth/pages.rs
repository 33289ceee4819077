//! The browser side of the authorization server: `GET/POST /services/oauth2/authorize` (login page,
//! consent page listing the requested scopes in plain words, the code redirect), and the device
//! flow's verification page `/setup/connect`.
//!
//! Rules (wire reference §1.2): the client id must exist and the redirect URI must match one of the
//! app's callback URLs (a `…/*` callback matches any path, and on a loopback host any port) — else an
//! error page, never a redirect. Then errors go back to the redirect URI as
//! `?error=…&error_description=…&state=…`: unsupported `response_type`, missing PKCE challenge when
//! the app requires it, no allowed scope, API-only users, and users whose profile an admin-approved
//! app does not pre-authorize (`OAUTH_APP_ACCESS_DENIED`). `prompt=login` forces the login page,
//! `prompt=consent` the consent page; otherwise a browser login (cookie) and an earlier approval are
//! remembered.
//!
//! Owns the pages and the pending-authorization state machine; codes and grants are stored by
//! `oauth/grant.rs`. Every value put into HTML is escaped.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::sandbox::oauth::grant as grants;
use crate::sandbox::oauth::{self, Params, read_params};
use crate::sandbox::security::{ConnectedApp, UserInfo};
use crate::sandbox::state::AppState;

const LAYOUT: &str = include_str!("layout.html");
const COOKIE: &str = "sayso_sid";
const LOGIN_FAILED: &str = "Please check your username and password. If you still can't log in, contact your Salesforce administrator.";

/// An authorization waiting for the user to log in and approve.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    client_id: String,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    state: Option<String>,
    challenge: Option<String>,
    method: Option<String>,
    prompt: Option<String>,
    /// Set for the device flow: the user code being approved.
    device_user_code: Option<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = LAYOUT
        .replace("{{title}}", &escape(title))
        .replace("{{body}}", body);
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache,must-revalidate,max-age=0,no-store,private"),
    );
    resp
}

fn error_page(error: &str, description: &str) -> Response {
    let body = format!(
        "<h1>OAuth Error</h1><p class=\"error\" id=\"error\">error={}&amp;error_description={}</p>",
        escape(error),
        escape(description)
    );
    page(StatusCode::BAD_REQUEST, "Error", &body)
}

/// Whether `uri` matches one of the app's callback URLs.
pub fn redirect_allowed(app: &ConnectedApp, uri: &str) -> bool {
    let Ok(given) = url::Url::parse(uri) else {
        return false;
    };
    app.callback_urls
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            None => pattern == uri,
            Some(prefix) => {
                let Ok(base) = url::Url::parse(prefix) else {
                    return false;
                };
                let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
                base.scheme() == given.scheme()
                    && base.host_str() == given.host_str()
                    && (loopback || base.port_or_known_default() == given.port_or_known_default())
                    && given.path().starts_with(base.path())
            }
        })
}

/// `redirect_uri` plus query parameters (appended with `?` or `&`).
fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{sep}{}", ser.finish());
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn error_redirect(p: &Pending, error: &str, description: &str) -> Response {
    let Some(uri) = p.redirect_uri.as_deref() else {
        return error_page(error, description);
    };
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = p.state.as_deref() {
        pairs.push(("state", s));
    }
    redirect_with(uri, &pairs)
}

fn cookie_sid(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Plain words for a scope on the consent page.
pub fn describe_scope(app: &ConnectedApp, scope: &str) -> String {
    if let Some(c) = app.custom_scopes.iter().find(|c| c.name == scope) {
        return if c.description.is_empty() {
            c.name.clone()
        } else {
            c.description.clone()
        };
    }
    match scope {
        "api" => "Access and manage your data",
        "refresh_token" | "offline_access" => "Perform requests on your behalf at any time",
        "openid" => "Access unique user identifiers",
        "id" => "Access your basic information",
        "profile" => "Access your profile: name, title, photo",
        "email" => "Access your email address",
        "address" => "Access your address",
        "phone" => "Access your phone number",
        "full" => "Full access to your data and account",
        "web" => "Provide access to your data via the Web",
        other => other,
    }
    .to_string()
}

fn login_page(request_id: &str, p: &Pending, app: &ConnectedApp, error: Option<&str>) -> Response {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let what = if p.device_user_code.is_some() {
        "connect a device to"
    } else {
        "continue to"
    };
    let body = format!(
        "<h1>Log in to Sayso Sandbox</h1>{err}<p>Log in to {what} <strong>{app}</strong>.</p>\
         <form method=\"post\" action=\"/services/oauth2/authorize\" id=\"login_form\">\
         <input type=\"hidden\" name=\"request\" value=\"{rid}\"><input type=\"hidden\" name=\"action\" value=\"login\">\
         <label for=\"username\">Username</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" autofocus>\
         <label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\">\
         <button type=\"submit\" id=\"Login\" name=\"Login\">Log In</button></form>",
        app = escape(&app.name),
        rid = escape(request_id),
    );
    page(
        if error.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        },
        "Login",
        &body,
    )
}

fn consent_page(request_id: &str, p: &Pending, app: &ConnectedApp, user: &UserInfo) -> Response {
    let mut items = String::new();
    let mut seen: Vec<String> = Vec::new();
    for s in &p.scopes {
        let words = describe_scope(app, s);
        if seen.contains(&words) {
            continue;
        }
        seen.push(words.clone());
        items.push_str(&format!(
            "<li data-scope=\"{}\">{}</li>",
            escape(s),
            escape(&words)
        ));
    }
    let body = format!(
        "<h1>Allow Access?</h1><p><strong>{app}</strong> is asking to:</p><ul class=\"scopes\" id=\"scopes\">{items}</ul>\
         <p>Do you want to allow access for <strong id=\"user\">{user}</strong>? \
         (<a href=\"/services/oauth2/authorize?request={rid}&amp;action=switch\">Not you?</a>)</p>\
         <form method=\"post\" action=\"/services/oauth2/authorize\" id=\"consent_form\">\
         <input type=\"hidden\" name=\"request\" value=\"{rid}\">\
         <button type=\"submit\" name=\"action\" value=\"deny\" id=\"oadeny\" class=\"secondary\">Deny</button> \
         <button type=\"submit\" name=\"action\" value=\"approve\" id=\"oaapprove\">Allow</button></form>",
        app = escape(&app.name),
        user = escape(&user.username),
        rid = escape(request_id),
    );
    page(StatusCode::OK, "Allow Access", &body)
}

fn done_page(title: &str, text: &str) -> Response {
    page(
        StatusCode::OK,
        title,
        &format!(
            "<h1>{}</h1><p id=\"result\">{}</p>",
            escape(title),
            escape(text)
        ),
    )
}

/// `GET /services/oauth2/authorize`.
pub async fn authorize_get(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, params) = read_params(req).await;
    if params.get("request").is_some() {
        // "Not you?" link: log in again for the same pending authorization.
        return resume(&state, &params, true);
    }
    start(&state, &headers, &params)
}

/// `POST /services/oauth2/authorize`: the login and consent forms (and a device-code request).
pub async fn authorize_post(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, params) = read_params(req).await;
    if params.get("request").is_none() {
        if params.get("response_type") == Some("device_code") {
            let origin = oauth::origin(&headers);
            return match oauth::device_code(oauth::TokenRequest {
                state: &state,
                headers: &headers,
                params: &params,
                origin: &origin,
            }) {
                Ok(r) => r,
                Err(e) => e.into_response(),
            };
        }
        return start(&state, &headers, &params);
    }
    resume(&state, &params, false)
}

/// Validates a fresh authorize request and shows the first page.
fn start(state: &AppState, headers: &HeaderMap, params: &Params) -> Response {
    let Some(app) = params
        .get("client_id")
        .and_then(|c| state.policy.config().app(c))
    else {
        return error_page("invalid_client_id", "client identifier invalid");
    };
    let redirect = params.get("redirect_uri").map(str::to_string);
    if params.get("response_type") == Some("device_code") {
        let origin = oauth::origin(headers);
        return match oauth::device_code(oauth::TokenRequest {
            state,
            headers,
            params,
            origin: &origin,
        }) {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
    }
    match redirect.as_deref() {
        Some(r) if redirect_allowed(app, r) => {}
        _ => {
            return error_page(
                "redirect_uri_mismatch",
                "redirect_uri must match configuration",
            );
        }
    }
    let mut pending = Pending {
        client_id: app.client_id.clone(),
        redirect_uri: redirect,
        scopes: Vec::new(),
        state: params.get("state").map(str::to_string),
        challenge: params.get("code_challenge").map(str::to_string),
        method: params.get("code_challenge_method").map(str::to_string),
        prompt: params.get("prompt").map(str::to_string),
        device_user_code: None,
    };
    if params.get("response_type") != Some("code") || !app.allows_flow("authorization_code") {
        return error_redirect(
            &pending,
            "unsupported_response_type",
            "response type not supported",
        );
    }
    if app.require_pkce && pending.challenge.is_none() {
        return error_redirect(
            &pending,
            "invalid_request",
            "missing required code challenge",
        );
    }
    if let Some(m) = pending.method.as_deref()
        && !m.eq_ignore_ascii_case("S256")
        && !m.eq_ignore_ascii_case("plain")
    {
        return error_redirect(&pending, "invalid_request", "invalid code challenge method");
    }
    pending.scopes = oauth::negotiate_scopes(app, params.get("scope"));
    if pending.scopes.is_empty() {
        return error_redirect(
            &pending,
            "invalid_scope",
            "the requested scope is not allowed",
        );
    }
    begin(state, headers, pending, app)
}

/// Saves `pending` and shows the login page, or goes straight on when the browser is logged in.
fn begin(state: &AppState, headers: &HeaderMap, pending: Pending, app: &ConnectedApp) -> Response {
    let now = chrono::Utc::now().timestamp();
    let json = match serde_json::to_string(&pending) {
        Ok(j) => j,
        Err(_) => return error_page("server_error", "internal server error"),
    };
    let (rid, cookie_user) = {
        let conn = state.lock_db();
        let rid = match grants::save_request(&conn, &json, now) {
            Ok(r) => r,
            Err(_) => return error_page("server_error", "internal server error"),
        };
        let forced = matches!(pending.prompt.as_deref(), Some(p) if p.split(' ').any(|x| x == "login" || x == "select_account"));
        let user = if forced {
            None
        } else {
            cookie_sid(headers).and_then(|sid| grants::login_user(&conn, &sid, now).ok().flatten())
        };
        (rid, user)
    };
    match cookie_user
        .and_then(|u| state.policy.user(&u))
        .filter(|u| u.active)
    {
        Some(user) => {
            let conn = state.lock_db();
            if grants::set_request_user(&conn, &rid, &user.id).is_err() {
                return error_page("server_error", "internal server error");
            }
            drop(conn);
            approval_step(state, &rid, &pending, app, &user, None)
        }
        None => login_page(&rid, &pending, app, None),
    }
}

/// After login: refuse API-only and not-permitted users, then consent or finish.
fn approval_step(
    state: &AppState,
    rid: &str,
    p: &Pending,
    app: &ConnectedApp,
    user: &UserInfo,
    set_cookie: Option<String>,
) -> Response {
    let profile = state.policy.config().profile(&user.profile);
    let mut resp = if profile.is_some_and(|pr| pr.grants.system.api_only) {
        refuse(
            state,
            rid,
            p,
            "access_denied",
            "API only users can't log in through the user interface",
        )
    } else if app.permitted_users.eq_ignore_ascii_case("AdminApproved")
        && !app.preauthorizes(&user.profile)
    {
        refuse(
            state,
            rid,
            p,
            "OAUTH_APP_ACCESS_DENIED",
            "user is not admin approved to access this app",
        )
    } else {
        let remembered = {
            let conn = state.lock_db();
            grants::has_live_grant(&conn, &user.id, &app.client_id).unwrap_or(false)
        };
        let forced = p
            .prompt
            .as_deref()
            .is_some_and(|pr| pr.split(' ').any(|x| x == "consent"));
        let preapproved = app.permitted_users.eq_ignore_ascii_case("AdminApproved");
        if forced || !(remembered || preapproved) {
            consent_page(rid, p, app, user)
        } else {
            finish(state, rid, p, user)
        }
    };
    if let Some(sid) = set_cookie
        && let Ok(v) =
            HeaderValue::from_str(&format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax"))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn refuse(state: &AppState, rid: &str, p: &Pending, error: &str, description: &str) -> Response {
    {
        let conn = state.lock_db();
        let _ = grants::drop_request(&conn, rid);
    }
    if let Some(code) = p.device_user_code.as_deref() {
        let conn = state.lock_db();
        let _ = grants::set_device_status(&conn, code, "denied", None);
        return page(
            StatusCode::FORBIDDEN,
            "Error",
            &format!(
                "<h1>Access denied</h1><p class=\"error\" id=\"error\">{}</p>",
                escape(description)
            ),
        );
    }
    error_redirect(p, error, description)
}

/// Approval: a code redirect (web server flow) or an approved device.
fn finish(state: &AppState, rid: &str, p: &Pending, user: &UserInfo) -> Response {
    let conn = state.lock_db();
    let _ = grants::drop_request(&conn, rid);
    if let Some(code) = p.device_user_code.as_deref() {
        return match grants::set_device_status(&conn, code, "approved", Some(&user.id)) {
            Ok(()) => done_page(
                "You're connected",
                "Your device is connected. You can close this window and return to it.",
            ),
            Err(_) => error_page("server_error", "internal server error"),
        };
    }
    let code = grants::AuthCode {
        client_id: p.client_id.clone(),
        user_id: user.id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        scopes: p.scopes.clone(),
        challenge: p.challenge.clone(),
        method: p.method.clone(),
        expires_at: chrono::Utc::now().timestamp() + grants::CODE_SECS,
        used: false,
    };
    let text = match grants::issue_code(&conn, &code) {
        Ok(t) => t,
        Err(_) => return error_page("server_error", "internal server error"),
    };
    drop(conn);
    let uri = p.redirect_uri.clone().unwrap_or_default();
    let mut pairs = vec![("code", text.as_str())];
    if let Some(s) = p.state.as_deref() {
        pairs.push(("state", s));
    }
    redirect_with(&uri, &pairs)
}

/// A form post (or the "Not you?" link) for a pending authorization.
fn resume(state: &AppState, params: &Params, switch_user: bool) -> Response {
    let rid = params.get("request").unwrap_or_default().to_string();
    let loaded = {
        let conn = state.lock_db();
        grants::load_request(&conn, &rid).ok().flatten()
    };
    let Some((json, user_id)) = loaded else {
        return error_page(
            "invalid_request",
            "the authorization request expired; start again",
        );
    };
    let Ok(pending) = serde_json::from_str::<Pending>(&json) else {
        return error_page("server_error", "internal server error");
    };
    let Some(app) = state.policy.config().app(&pending.client_id) else {
        return error_page("invalid_client_id", "client identifier invalid");
    };
    if switch_user {
        return login_page(&rid, &pending, app, None);
    }
    match params.get("action") {
        Some("login") => {
            oauth::refresh_users(state);
            let username = params.get("username").unwrap_or_default();
            let password = params.get("password").unwrap_or_default();
            let ok = !state.policy.config().demo_password.is_empty()
                && password == state.policy.config().demo_password;
            let user = state
                .policy
                .user_by_username(username)
                .filter(|u| u.active && ok);
            let Some(user) = user else {
                return login_page(&rid, &pending, app, Some(LOGIN_FAILED));
            };
            let now = chrono::Utc::now().timestamp();
            let sid = {
                let conn = state.lock_db();
                if grants::set_request_user(&conn, &rid, &user.id).is_err() {
                    return error_page("server_error", "internal server error");
                }
                grants::create_login(&conn, &user.id, now).ok()
            };
            approval_step(state, &rid, &pending, app, &user, sid)
        }
        Some(action @ ("approve" | "deny")) => {
            let Some(user) = user_id.and_then(|u| state.policy.user(&u)) else {
                return login_page(&rid, &pending, app, None);
            };
            if action == "approve" {
                finish(state, &rid, &pending, &user)
            } else {
                refuse(
                    state,
                    &rid,
                    &pending,
                    "access_denied",
                    "end-user denied authorization",
                )
            }
        }
        _ => login_page(&rid, &pending, app, None),
    }
}

fn device_form(code: &str, error: Option<&str>) -> Response {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Connect a device</h1>{err}<p>Enter the code shown on your device.</p>\
         <form method=\"post\" action=\"/setup/connect\" id=\"device_form\">\
         <label for=\"user_code\">Code</label><input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{}\" autofocus>\
         <button type=\"submit\" id=\"connect\">Connect</button></form>",
        escape(code)
    );
    page(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "Connect",
        &body,
    )
}

/// `GET /setup/connect[?user_code=…]`: the device verification page.
pub async fn device_get(req: Request) -> Response {
    let (_, params) = read_params(req).await;
    device_form(params.get("user_code").unwrap_or_default(), None)
}

/// `POST /setup/connect`: checks the user code, then login and consent as for `authorize`.
pub async fn device_post(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, params) = read_params(req).await;
    let code = params.get("user_code").unwrap_or_default().to_string();
    let dev = {
        let conn = state.lock_db();
        grants::device_by_user_code(&conn, &code).ok().flatten()
    };
    let now = chrono::Utc::now().timestamp();
    let Some(dev) = dev.filter(|d| d.status == "pending" && d.expires_at > now) else {
        return device_form(&code, Some("That code is invalid or has expired."));
    };
    let Some(app) = state.policy.config().app(&dev.client_id) else {
        return error_page("invalid_client_id", "client identifier invalid");
    };
    let pending = Pending {
        client_id: dev.client_id.clone(),
        redirect_uri: None,
        scopes: dev.scopes.clone(),
        state: None,
        challenge: None,
        method: None,
        prompt: None,
        device_user_code: Some(dev.user_code.clone()),
    };
    begin(&state, &headers, pending, app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_callbacks_match_any_port() {
        let cfg = crate::sandbox::security::SecurityConfig::demo().expect("demo");
        let cli = cfg.app("sayso-cli").expect("cli");
        assert!(redirect_allowed(cli, "http://localhost:1717/OauthRedirect"));
        assert!(redirect_allowed(cli, "http://127.0.0.1:53122/callback"));
        assert!(redirect_allowed(cli, "http://localhost:9/x?y=1"));
        assert!(
            !redirect_allowed(cli, "https://127.0.0.1:53122/callback"),
            "scheme must match"
        );
        assert!(!redirect_allowed(cli, "http://evil.example.com/cb"));
        let kinetic = cfg.app("kinetic-ltd").expect("kinetic");
        assert!(!redirect_allowed(kinetic, "http://127.0.0.1:1/cb"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
