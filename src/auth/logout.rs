//! Logout: revoke the refresh and access token at the server, then delete the local credentials and
//! profile; when the server cannot be reached, keep the tokens in a 0600 pending-revocation marker
//! and retry on the next start ([`retry_pending_revocations`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use super::oauth::{self, OAuthEndpoints, Revoked};
use super::store::{self, TokenStore};
use super::{Error, Secret};
use crate::config::Home;

/// A token whose revocation could not reach the server; retried on the next start.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingRevocation {
    revoke_url: String,
    token: Secret,
    profile: String,
    since: String,
}

fn pending_path(home: &Home) -> PathBuf {
    home.credentials_dir().join("pending-revocations.json")
}

fn load_pending(home: &Home) -> Result<Vec<PendingRevocation>, Error> {
    let path = pending_path(home);
    match store::read_private(&path)? {
        None => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Format {
            path,
            message: e.to_string(),
        }),
    }
}

fn save_pending(home: &Home, pending: &[PendingRevocation]) -> Result<(), Error> {
    let path = pending_path(home);
    if pending.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::Io { path, source: e })
            }
            _ => Ok(()),
        };
    }
    let bytes = serde_json::to_vec(pending).map_err(|e| Error::Format {
        path: path.clone(),
        message: e.to_string(),
    })?;
    store::write_atomic(&path, &bytes)
}

/// The outcome of a logout.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogoutReport {
    /// The profile.
    pub profile: String,
    /// Tokens the server revoked (`refresh token`, `access token`).
    pub revoked: Vec<String>,
    /// Tokens the server no longer knew (already expired or revoked).
    pub already_invalid: Vec<String>,
    /// Set when the server could not be reached: the tokens are kept in a pending-revocation
    /// marker and revoked on the next start.
    pub unreachable: Option<String>,
    /// Whether local credentials were deleted.
    pub deleted_local: bool,
}

/// Logs out one profile: revokes refresh and access token at the server, then deletes the local
/// credentials and profile. When the server cannot be reached the tokens are kept in a 0600
/// pending-revocation marker, retried by [`retry_pending_revocations`].
///
/// # Errors
/// [`Error::NotLoggedIn`] when there is no such profile; store errors. A refusal by the server
/// other than "unknown token" is also an error, and nothing is deleted.
pub async fn logout(
    home: &Home,
    http: &reqwest::Client,
    profile: &str,
) -> Result<LogoutReport, Error> {
    let prof = store::load_profiles(home)?.remove(profile);
    let tokens = TokenStore::open(home);
    let creds = tokens.load(profile)?;
    if prof.is_none() && creds.is_none() {
        return Err(Error::NotLoggedIn {
            profile: profile.to_string(),
        });
    }
    let mut report = LogoutReport {
        profile: profile.to_string(),
        ..LogoutReport::default()
    };
    let mut pending = Vec::new();
    if let (Some(p), Some(c)) = (&prof, &creds) {
        let revoke_url = OAuthEndpoints::with_token_url(&p.login_url, &p.token_url)?.revoke_url();
        let mut list: Vec<(&str, &Secret)> = Vec::new();
        if let Some(r) = &c.refresh_token {
            list.push(("refresh token", r));
        }
        list.push(("access token", &c.access_token));
        for (what, token) in list {
            if report.unreachable.is_some() {
                pending.push(PendingRevocation {
                    revoke_url: revoke_url.to_string(),
                    token: token.clone(),
                    profile: profile.to_string(),
                    since: chrono::Utc::now().to_rfc3339(),
                });
                continue;
            }
            match oauth::revoke(http, &revoke_url, token).await {
                Ok(Revoked::Revoked) => report.revoked.push(what.to_string()),
                Ok(Revoked::AlreadyInvalid) => report.already_invalid.push(what.to_string()),
                Err(e) if e.is_transport() => {
                    report.unreachable = Some(e.to_string());
                    pending.push(PendingRevocation {
                        revoke_url: revoke_url.to_string(),
                        token: token.clone(),
                        profile: profile.to_string(),
                        since: chrono::Utc::now().to_rfc3339(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
    if !pending.is_empty() {
        let mut all = load_pending(home)?;
        all.extend(pending);
        save_pending(home, &all)?;
    }
    report.deleted_local = tokens.delete(profile)?;
    store::remove_profile(home, profile)?;
    Ok(report)
}

/// Logs out every profile.
///
/// # Errors
/// The first error; profiles before it are logged out.
pub async fn logout_all(home: &Home, http: &reqwest::Client) -> Result<Vec<LogoutReport>, Error> {
    let mut out = Vec::new();
    for name in store::load_profiles(home)?.keys() {
        out.push(logout(home, http, name).await?);
    }
    Ok(out)
}

/// What retrying the pending revocations achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PendingReport {
    /// Tokens revoked (or found already invalid) now.
    pub done: usize,
    /// Tokens still waiting for the server.
    pub still_pending: usize,
}

/// Retries revocations that could not reach the server at logout. Cheap when there are none.
///
/// # Errors
/// Store errors only; an unreachable server leaves the marker in place.
pub async fn retry_pending_revocations(
    home: &Home,
    http: &reqwest::Client,
) -> Result<PendingReport, Error> {
    let all = load_pending(home)?;
    if all.is_empty() {
        return Ok(PendingReport::default());
    }
    let mut keep = Vec::new();
    let mut report = PendingReport::default();
    for p in all {
        let Ok(url) = Url::parse(&p.revoke_url) else {
            report.done += 1;
            continue;
        };
        match oauth::revoke(http, &url, &p.token).await {
            Ok(_) => report.done += 1,
            Err(e) if e.is_transport() => keep.push(p),
            Err(e) => {
                tracing::warn!(error = %e, profile = %p.profile, "pending revocation refused; dropped");
                report.done += 1;
            }
        }
    }
    report.still_pending = keep.len();
    save_pending(home, &keep)?;
    Ok(report)
}
