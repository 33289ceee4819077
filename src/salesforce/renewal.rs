//! Renewal of an expired session: how ([`Renewal`]: refresh token, JWT assertion, client
//! credentials), single-flight (one renewal for all requests that saw the same expired token), and
//! saving the new tokens (a rotated refresh token replaces the old one atomically).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use url::Url;

use super::client::Client;
use super::error::Error;
use crate::auth::oauth::{self, Grant};
use crate::auth::store::{Credentials, TokenStore};
use crate::auth::{Secret, jwt};

/// How an expired session is renewed.
#[derive(Debug, Clone)]
pub enum Renewal {
    /// `grant_type=refresh_token`; a rotated refresh token replaces this one.
    RefreshToken {
        /// Token endpoint.
        token_url: Url,
        /// Consumer key.
        client_id: String,
        /// Client secret of confidential apps.
        client_secret: Option<Secret>,
        /// The current refresh token.
        refresh_token: Secret,
    },
    /// A new JWT bearer assertion signed with the key file.
    Jwt {
        /// Token endpoint.
        token_url: Url,
        /// Consumer key.
        client_id: String,
        /// Username (`sub`).
        username: String,
        /// Private key file.
        key_path: PathBuf,
        /// `aud`.
        audience: String,
    },
    /// The client credentials grant again.
    ClientCredentials {
        /// Token endpoint.
        token_url: Url,
        /// Consumer key.
        client_id: String,
        /// Client secret.
        client_secret: Secret,
    },
}

/// Where renewed tokens are saved.
#[derive(Debug, Clone)]
pub struct Persist {
    /// The token store.
    pub store: TokenStore,
    /// The profile whose credentials are replaced.
    pub profile: String,
}

/// The lock file of a profile's renewals, beside its credentials file (file store only).
fn lock_path(p: &Persist) -> Option<PathBuf> {
    match &p.store {
        TokenStore::File { dir } => Some(dir.join(format!("{}.renew.lock", p.profile))),
        #[cfg(feature = "keyring")]
        TokenStore::Keyring { .. } => None,
    }
}

impl Client {
    /// Waits for, then holds (until dropped), the profile's renewal lock. `None` when there is
    /// no file store or the lock cannot be taken (then renewal goes on without it).
    async fn profile_lock(&self) -> Option<std::fs::File> {
        let path = lock_path(self.inner.persist.as_ref()?)?;
        tokio::task::spawn_blocking(move || {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .ok()?;
            f.lock().ok()?;
            Some(f)
        })
        .await
        .ok()
        .flatten()
    }

    /// Takes the session another process saved for this profile, when the stored access token
    /// is not the one this client holds: the stored tokens replace this client's (a rotated
    /// refresh token too). Returns whether it did.
    fn adopt_stored(&self, renewal: &mut Option<Renewal>) -> bool {
        let Some(p) = &self.inner.persist else {
            return false;
        };
        let Ok(Some(stored)) = p.store.load(&p.profile) else {
            return false;
        };
        let mut t = self.inner.token.write().unwrap_or_else(|p| p.into_inner());
        if stored.access_token.expose() == t.token.expose() {
            return false;
        }
        if let (Some(Renewal::RefreshToken { refresh_token, .. }), Some(r)) =
            (renewal.as_mut(), &stored.refresh_token)
        {
            *refresh_token = r.clone();
        }
        t.token = stored.access_token;
        t.generation += 1;
        tracing::debug!(profile = %p.profile, "took the session another process renewed");
        true
    }

    /// Renews the session unless another request already did since `seen_generation`.
    pub(super) async fn renew(&self, seen_generation: u64) -> Result<(), Error> {
        let mut state = self.inner.renew.lock().await;
        if self.current_token().1 != seen_generation {
            return Ok(()); // someone renewed while we waited: replay with the new token
        }
        if let Some(reason) = &state.ended {
            return Err(Error::SessionEnded {
                profile: self.inner.profile.clone(),
                reason: reason.clone(),
            });
        }
        // One renewal at a time per profile across processes: wait for another process's, then
        // take the session it saved instead of renewing again (a rotated refresh token would
        // make a second renewal fail).
        let _lock = self.profile_lock().await;
        if self.adopt_stored(&mut state.renewal) {
            return Ok(());
        }
        let Some(renewal) = state.renewal.clone() else {
            let reason = "the access token expired and this login cannot be renewed".to_string();
            state.ended = Some(reason.clone());
            return Err(Error::SessionEnded {
                profile: self.inner.profile.clone(),
                reason,
            });
        };
        let http = &self.inner.http;
        let result = match &renewal {
            Renewal::RefreshToken {
                token_url,
                client_id,
                client_secret,
                refresh_token,
            } => {
                let grant = Grant::Refresh {
                    client_id,
                    client_secret: client_secret.as_ref(),
                    refresh_token,
                };
                oauth::request_token(http, token_url, grant).await
            }
            Renewal::Jwt {
                token_url,
                client_id,
                username,
                key_path,
                audience,
            } => match jwt::assertion(key_path, client_id, username, audience) {
                Ok(a) => {
                    oauth::request_token(http, token_url, Grant::JwtBearer { assertion: &a }).await
                }
                Err(e) => Err(e),
            },
            Renewal::ClientCredentials {
                token_url,
                client_id,
                client_secret,
            } => {
                let grant = Grant::ClientCredentials {
                    client_id,
                    client_secret,
                };
                oauth::request_token(http, token_url, grant).await
            }
        };
        let token = match result {
            Ok(t) => t,
            Err(e) if e.is_invalid_grant() => {
                // Another process may have rotated the refresh token since it was read.
                if self.adopt_stored(&mut state.renewal) {
                    return Ok(());
                }
                let reason = match &e {
                    crate::auth::Error::OAuth { description, .. } if !description.is_empty() => {
                        description.clone()
                    }
                    _ => "invalid_grant".to_string(),
                };
                state.ended = Some(reason.clone());
                return Err(Error::SessionEnded {
                    profile: self.inner.profile.clone(),
                    reason,
                });
            }
            Err(e) => return Err(Error::Auth(e)),
        };
        // Rotation: a new refresh token replaces the old one, in memory and on disk together.
        let mut next = renewal.clone();
        if let (Renewal::RefreshToken { refresh_token, .. }, Some(rotated)) =
            (&mut next, &token.refresh_token)
        {
            *refresh_token = rotated.clone();
        }
        if let Some(p) = &self.inner.persist {
            let creds = Credentials {
                access_token: token.access_token.clone(),
                refresh_token: match &next {
                    Renewal::RefreshToken { refresh_token, .. } => Some(refresh_token.clone()),
                    _ => None,
                },
                client_secret: match &next {
                    Renewal::ClientCredentials { client_secret, .. } => Some(client_secret.clone()),
                    Renewal::RefreshToken { client_secret, .. } => client_secret.clone(),
                    Renewal::Jwt { .. } => None,
                },
                issued_at: token.issued_at.clone(),
            };
            if let Err(e) = p.store.save(&p.profile, &creds) {
                tracing::warn!(error = %e, "renewed tokens could not be saved");
            }
        }
        state.renewal = Some(next);
        {
            let mut t = self.inner.token.write().unwrap_or_else(|p| p.into_inner());
            t.token = token.access_token;
            t.generation += 1;
        }
        self.inner.renewals.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(profile = %self.inner.profile, "session renewed");
        Ok(())
    }
}
