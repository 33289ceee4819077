//! OAuth state of the sandbox's authorization server, in its own `sayso_oauth_*` tables: grants
//! (one per approval; the refresh token, if any, belongs to the grant), the access tokens each grant
//! minted, authorization codes, pending browser authorizations, device codes and browser login
//! sessions. Each grant is also an `OauthToken` row (AppName, UserId, LastUsedDate, UseCount) that
//! administrators can query; deleting that row revokes the grant (SQLite triggers below).
//!
//! Owns these tables only. Access tokens themselves are minted and looked up by `session.rs`
//! (`sayso_session`); revoking a grant deletes its sessions there. Only SHA-256 hashes of tokens,
//! codes and cookies are stored.

use rand::RngExt;
use rusqlite::{Connection, OptionalExtension, params};

use crate::id::RecordId;
use crate::sandbox::session::hash_token;

/// Creates the tables and triggers (idempotent). The `OauthToken` object table normally exists
/// already (it is in the describes); it is created here with the describe's columns if not.
///
/// # Errors
/// SQLite failures.
pub fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        r#"CREATE TABLE IF NOT EXISTS sayso_oauth_grant (id TEXT PRIMARY KEY, client_id TEXT NOT NULL,
             user_id TEXT NOT NULL, scopes TEXT NOT NULL, flow TEXT NOT NULL, refresh_hash TEXT UNIQUE,
             created_at INTEGER NOT NULL, revoked_at INTEGER);
           CREATE TABLE IF NOT EXISTS sayso_oauth_access (token_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL);
           CREATE INDEX IF NOT EXISTS idx_sayso_oauth_access_grant ON sayso_oauth_access (grant_id);
           CREATE TABLE IF NOT EXISTS sayso_oauth_code (code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL,
             user_id TEXT NOT NULL, redirect_uri TEXT, scopes TEXT NOT NULL, challenge TEXT, method TEXT,
             expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
           CREATE TABLE IF NOT EXISTS sayso_oauth_request (id TEXT PRIMARY KEY, params TEXT NOT NULL,
             user_id TEXT, created_at INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS sayso_oauth_device (device_hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE,
             client_id TEXT NOT NULL, scopes TEXT NOT NULL, status TEXT NOT NULL, user_id TEXT,
             expires_at INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS sayso_oauth_login (sid_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL,
             created_at INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS "OauthToken" ("Id" TEXT PRIMARY KEY, "AccessToken" TEXT, "AppName" TEXT,
             "UserId" TEXT, "RequestToken" TEXT, "LastUsedDate" TEXT, "UseCount" INTEGER, "AppMenuItemId" TEXT,
             "CreatedDate" TEXT, "DeleteDate" TEXT, "IsDeleted" INTEGER NOT NULL DEFAULT 0);
           CREATE TRIGGER IF NOT EXISTS sayso_oauthtoken_soft_delete AFTER UPDATE OF "IsDeleted" ON "OauthToken"
             WHEN NEW."IsDeleted" = 1 BEGIN
               UPDATE sayso_oauth_grant SET revoked_at = CAST(strftime('%s','now') AS INTEGER)
                 WHERE id = NEW."Id" AND revoked_at IS NULL;
               DELETE FROM sayso_session WHERE token_hash IN
                 (SELECT token_hash FROM sayso_oauth_access WHERE grant_id = NEW."Id");
             END;
           CREATE TRIGGER IF NOT EXISTS sayso_oauthtoken_delete AFTER DELETE ON "OauthToken" BEGIN
               UPDATE sayso_oauth_grant SET revoked_at = CAST(strftime('%s','now') AS INTEGER)
                 WHERE id = OLD."Id" AND revoked_at IS NULL;
               DELETE FROM sayso_session WHERE token_hash IN
                 (SELECT token_hash FROM sayso_oauth_access WHERE grant_id = OLD."Id");
             END;"#,
    )
}

/// Random text from `alphabet`.
pub fn random_text(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

const B62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A grant: one user's approval of one app, with the scopes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The grant's id, which is also its `OauthToken` Id (`0CQ…`).
    pub id: String,
    /// The connected app.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The flow that created it (`authorization_code`, `jwt_bearer`, …).
    pub flow: String,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

fn next_grant_id(conn: &Connection) -> rusqlite::Result<String> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM sayso_oauth_grant", [], |r| r.get(0))?;
    // Same pod as the demo org's ids; sequence after the existing grants.
    Ok(RecordId::from_parts("0CQ", "Dm", (n + 1) as u64)
        .as_str()
        .to_string())
}

/// What a new grant is made of.
#[derive(Debug, Clone, Copy)]
pub struct NewGrant<'a> {
    /// The app's display name (`OauthToken.AppName`).
    pub app_name: &'a str,
    /// The app's client id.
    pub client_id: &'a str,
    /// The user.
    pub user_id: &'a str,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// The flow that created it.
    pub flow: &'a str,
    /// Whether it gets a refresh token.
    pub with_refresh: bool,
}

/// Records a new grant and its `OauthToken` row; returns it and, when `with_refresh`, the refresh
/// token (`5Aep861…`, shown once).
///
/// # Errors
/// SQLite failures.
pub fn create_grant(
    conn: &Connection,
    new: NewGrant<'_>,
    now: i64,
) -> rusqlite::Result<(Grant, Option<String>)> {
    let NewGrant {
        app_name,
        client_id,
        user_id,
        scopes,
        flow,
        with_refresh,
    } = new;
    let id = next_grant_id(conn)?;
    let refresh = with_refresh.then(|| format!("5Aep861{}", random_text(80, B62)));
    conn.execute(
        "INSERT INTO sayso_oauth_grant (id, client_id, user_id, scopes, flow, refresh_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, client_id, user_id, scopes.join(" "), flow, refresh.as_deref().map(hash_token), now],
    )?;
    let created = datetime_text(now);
    conn.execute(
        r#"INSERT INTO "OauthToken" ("Id", "AccessToken", "AppName", "UserId", "RequestToken", "LastUsedDate", "UseCount", "CreatedDate", "IsDeleted")
           VALUES (?1, ?2, ?3, ?4, NULL, NULL, 0, ?5, 0)"#,
        params![id, masked(refresh.as_deref().unwrap_or(client_id)), app_name, user_id, created],
    )?;
    let grant = Grant {
        id,
        client_id: client_id.to_string(),
        user_id: user_id.to_string(),
        scopes: scopes.to_vec(),
        flow: flow.to_string(),
        created_at: now,
        revoked_at: None,
    };
    Ok((grant, refresh))
}

/// What `OauthToken.AccessToken` shows: never the token, only a masked tail.
fn masked(token: &str) -> String {
    let tail: String = token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****{tail}")
}

/// A `scopes` column (the scopes joined by spaces) read back as a list.
fn scopes_at(r: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Vec<String>> {
    let scopes: String = r.get(column)?;
    Ok(scopes.split_whitespace().map(str::to_string).collect())
}

/// A time as the `OauthToken` date columns hold it.
fn datetime_text(epoch_secs: i64) -> String {
    crate::sandbox::clock::format_datetime(
        chrono::DateTime::from_timestamp(epoch_secs, 0).unwrap_or_default(),
    )
}

fn grant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: r.get(0)?,
        client_id: r.get(1)?,
        user_id: r.get(2)?,
        scopes: scopes_at(r, 3)?,
        flow: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

const GRANT_COLS: &str = "id, client_id, user_id, scopes, flow, created_at, revoked_at";

/// The live (unrevoked) grant whose refresh token is `refresh_token`.
///
/// # Errors
/// SQLite failures.
pub fn grant_by_refresh(conn: &Connection, refresh_token: &str) -> rusqlite::Result<Option<Grant>> {
    conn.query_row(
        &format!("SELECT {GRANT_COLS} FROM sayso_oauth_grant WHERE refresh_hash = ?1 AND revoked_at IS NULL"),
        [hash_token(refresh_token)],
        grant_from_row,
    )
    .optional()
}

/// The grant an access token was minted under (revoked or not).
///
/// # Errors
/// SQLite failures.
pub fn grant_by_access(conn: &Connection, access_token: &str) -> rusqlite::Result<Option<Grant>> {
    conn.query_row(
        &format!(
            "SELECT {GRANT_COLS} FROM sayso_oauth_grant WHERE id = (SELECT grant_id FROM sayso_oauth_access WHERE token_hash = ?1)"
        ),
        [hash_token(access_token)],
        grant_from_row,
    )
    .optional()
}

/// Whether `user_id` has a live grant for `client_id` (a remembered consent).
///
/// # Errors
/// SQLite failures.
pub fn has_live_grant(conn: &Connection, user_id: &str, client_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sayso_oauth_grant WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL AND flow IN ('authorization_code', 'device'))",
        params![user_id, client_id],
        |r| r.get(0),
    )
}

/// Gives `grant_id` a new refresh token and kills the one it had (refresh token rotation): the
/// new token is returned, shown once.
///
/// # Errors
/// SQLite failures.
pub fn rotate_refresh(conn: &Connection, grant_id: &str) -> rusqlite::Result<String> {
    let refresh = format!("5Aep861{}", random_text(80, B62));
    conn.execute(
        "UPDATE sayso_oauth_grant SET refresh_hash = ?1 WHERE id = ?2",
        params![hash_token(&refresh), grant_id],
    )?;
    conn.execute(
        r#"UPDATE "OauthToken" SET "AccessToken" = ?1 WHERE "Id" = ?2"#,
        params![masked(&refresh), grant_id],
    )?;
    Ok(refresh)
}

/// Links a freshly minted access token to its grant.
///
/// # Errors
/// SQLite failures.
pub fn link_access(conn: &Connection, access_token: &str, grant_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO sayso_oauth_access (token_hash, grant_id) VALUES (?1, ?2)",
        params![hash_token(access_token), grant_id],
    )?;
    Ok(())
}

/// Revokes a grant: its refresh token, every access token it minted, and its `OauthToken` row.
///
/// # Errors
/// SQLite failures.
pub fn revoke_grant(conn: &Connection, grant_id: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sayso_oauth_grant SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![grant_id, now],
    )?;
    conn.execute(
        "DELETE FROM sayso_session WHERE token_hash IN (SELECT token_hash FROM sayso_oauth_access WHERE grant_id = ?1)",
        [grant_id],
    )?;
    let deleted = datetime_text(now);
    conn.execute(
        r#"UPDATE "OauthToken" SET "IsDeleted" = 1, "DeleteDate" = ?2 WHERE "Id" = ?1 AND "IsDeleted" = 0"#,
        params![grant_id, deleted],
    )?;
    Ok(())
}

/// Revokes everything `user_id` holds, at once: every live grant (refresh tokens, their access
/// tokens and `OauthToken` rows) and every other session. Used when the user is deactivated, so
/// nothing works until the user logs in again after reactivation.
///
/// # Errors
/// SQLite failures.
pub fn revoke_user(conn: &Connection, user_id: &str, now: i64) -> rusqlite::Result<()> {
    let ids: Vec<String> = conn
        .prepare_cached(
            "SELECT id FROM sayso_oauth_grant WHERE user_id = ?1 AND revoked_at IS NULL",
        )?
        .query_map([user_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        revoke_grant(conn, &id, now)?;
    }
    conn.execute("DELETE FROM sayso_session WHERE user_id = ?1", [user_id])?;
    Ok(())
}

/// Counts one use of `access_token` on the data API against its grant's `OauthToken` row.
///
/// # Errors
/// SQLite failures.
pub fn record_use(conn: &Connection, access_token: &str, now: i64) -> rusqlite::Result<()> {
    let when = datetime_text(now);
    conn.prepare_cached(
        r#"UPDATE "OauthToken" SET "UseCount" = COALESCE("UseCount", 0) + 1, "LastUsedDate" = ?2
           WHERE "Id" = (SELECT grant_id FROM sayso_oauth_access WHERE token_hash = ?1)"#,
    )?
    .execute(params![hash_token(access_token), when])?;
    Ok(())
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// The app it was issued to.
    pub client_id: String,
    /// The user who approved.
    pub user_id: String,
    /// The redirect URI of the authorize request.
    pub redirect_uri: Option<String>,
    /// Approved scopes.
    pub scopes: Vec<String>,
    /// PKCE challenge, if any.
    pub challenge: Option<String>,
    /// PKCE method (`S256` when absent, as Salesforce treats it).
    pub method: Option<String>,
    /// Expiry, epoch seconds.
    pub expires_at: i64,
    /// Already exchanged once.
    pub used: bool,
}

/// Lifetime of an authorization code (Salesforce: 15 minutes).
pub const CODE_SECS: i64 = 15 * 60;

/// Issues an authorization code; returns its text (`aPrx…==`).
///
/// # Errors
/// SQLite failures.
pub fn issue_code(conn: &Connection, code: &AuthCode) -> rusqlite::Result<String> {
    let text = format!("aPrx{}==", random_text(80, B62));
    conn.execute(
        "INSERT INTO sayso_oauth_code (code_hash, client_id, user_id, redirect_uri, scopes, challenge, method, expires_at, used)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
        params![
            hash_token(&text),
            code.client_id,
            code.user_id,
            code.redirect_uri,
            code.scopes.join(" "),
            code.challenge,
            code.method,
            code.expires_at
        ],
    )?;
    Ok(text)
}

/// Looks a code up and marks it used (a code works once).
///
/// # Errors
/// SQLite failures.
pub fn take_code(conn: &Connection, text: &str) -> rusqlite::Result<Option<AuthCode>> {
    let hash = hash_token(text);
    let code = conn
        .query_row(
            "SELECT client_id, user_id, redirect_uri, scopes, challenge, method, expires_at, used FROM sayso_oauth_code WHERE code_hash = ?1",
            [&hash],
            |r| {
                Ok(AuthCode {
                    client_id: r.get(0)?,
                    user_id: r.get(1)?,
                    redirect_uri: r.get(2)?,
                    scopes: scopes_at(r, 3)?,
                    challenge: r.get(4)?,
                    method: r.get(5)?,
                    expires_at: r.get(6)?,
                    used: r.get::<_, i64>(7)? != 0,
                })
            },
        )
        .optional()?;
    conn.execute(
        "UPDATE sayso_oauth_code SET used = 1 WHERE code_hash = ?1",
        [&hash],
    )?;
    Ok(code)
}

/// Saves a pending browser authorization (the authorize request's parameters as JSON); returns
/// its id, which the login and consent forms carry.
///
/// # Errors
/// SQLite failures.
pub fn save_request(conn: &Connection, params_json: &str, now: i64) -> rusqlite::Result<String> {
    let id = random_text(32, B62);
    conn.execute(
        "INSERT INTO sayso_oauth_request (id, params, user_id, created_at) VALUES (?1, ?2, NULL, ?3)",
        params![id, params_json, now],
    )?;
    Ok(id)
}

/// A pending authorization: its parameters (JSON) and the user who has logged in for it, if any.
///
/// # Errors
/// SQLite failures.
pub fn load_request(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(String, Option<String>)>> {
    conn.query_row(
        "SELECT params, user_id FROM sayso_oauth_request WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Records who logged in for a pending authorization.
///
/// # Errors
/// SQLite failures.
pub fn set_request_user(conn: &Connection, id: &str, user_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sayso_oauth_request SET user_id = ?2 WHERE id = ?1",
        params![id, user_id],
    )?;
    Ok(())
}

/// Forgets a pending authorization (after consent or denial).
///
/// # Errors
/// SQLite failures.
pub fn drop_request(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sayso_oauth_request WHERE id = ?1", [id])?;
    Ok(())
}

/// A browser login session: returns the cookie value.
///
/// # Errors
/// SQLite failures.
pub fn create_login(conn: &Connection, user_id: &str, now: i64) -> rusqlite::Result<String> {
    let sid = random_text(40, B62);
    conn.execute(
        "INSERT INTO sayso_oauth_login (sid_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
        params![hash_token(&sid), user_id, now],
    )?;
    Ok(sid)
}

/// The user of a browser login cookie (valid 2 hours).
///
/// # Errors
/// SQLite failures.
pub fn login_user(conn: &Connection, sid: &str, now: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT user_id FROM sayso_oauth_login WHERE sid_hash = ?1 AND created_at > ?2",
        params![hash_token(sid), now - 2 * 60 * 60],
        |r| r.get(0),
    )
    .optional()
}

/// State of a device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The app.
    pub client_id: String,
    /// Requested (already app-limited) scopes.
    pub scopes: Vec<String>,
    /// `pending`, `approved`, `denied` or `used`.
    pub status: String,
    /// Who approved it.
    pub user_id: Option<String>,
    /// Expiry, epoch seconds.
    pub expires_at: i64,
    /// The code the user types.
    pub user_code: String,
}

/// Lifetime of a device code.
pub const DEVICE_SECS: i64 = 10 * 60;

/// Starts a device authorization; returns (device_code, user_code).
///
/// # Errors
/// SQLite failures.
pub fn start_device(
    conn: &Connection,
    client_id: &str,
    scopes: &[String],
    now: i64,
) -> rusqlite::Result<(String, String)> {
    let device_code = random_text(64, B62);
    let user_code = random_text(8, b"BCDFGHJKLMNPQRSTVWXZ");
    conn.execute(
        "INSERT INTO sayso_oauth_device (device_hash, user_code, client_id, scopes, status, user_id, expires_at) VALUES (?1, ?2, ?3, ?4, 'pending', NULL, ?5)",
        params![hash_token(&device_code), user_code, client_id, scopes.join(" "), now + DEVICE_SECS],
    )?;
    Ok((device_code, user_code))
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        client_id: r.get(0)?,
        scopes: scopes_at(r, 1)?,
        status: r.get(2)?,
        user_id: r.get(3)?,
        expires_at: r.get(4)?,
        user_code: r.get(5)?,
    })
}

/// The device authorization of a device code.
///
/// # Errors
/// SQLite failures.
pub fn device_by_code(conn: &Connection, device_code: &str) -> rusqlite::Result<Option<Device>> {
    conn.query_row(
        "SELECT client_id, scopes, status, user_id, expires_at, user_code FROM sayso_oauth_device WHERE device_hash = ?1",
        [hash_token(device_code)],
        device_from_row,
    )
    .optional()
}

/// The device authorization a user code (case-insensitive, dashes ignored) names.
///
/// # Errors
/// SQLite failures.
pub fn device_by_user_code(conn: &Connection, user_code: &str) -> rusqlite::Result<Option<Device>> {
    let code: String = user_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    conn.query_row(
        "SELECT client_id, scopes, status, user_id, expires_at, user_code FROM sayso_oauth_device WHERE user_code = ?1",
        [code],
        device_from_row,
    )
    .optional()
}

/// Sets the status (and approving user) of the device authorization with `user_code`.
///
/// # Errors
/// SQLite failures.
pub fn set_device_status(
    conn: &Connection,
    user_code: &str,
    status: &str,
    user_id: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sayso_oauth_device SET status = ?2, user_id = COALESCE(?3, user_id) WHERE user_code = ?1",
        params![user_code, status, user_id],
    )?;
    Ok(())
}

/// Marks a device code used (it yields one token response).
///
/// # Errors
/// SQLite failures.
pub fn use_device(conn: &Connection, device_code: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sayso_oauth_device SET status = 'used' WHERE device_hash = ?1",
        [hash_token(device_code)],
    )?;
    Ok(())
}
