//! The agent's side of OAuth: login flows (authorization code + PKCE, JWT bearer, client credentials,
//! device, access token, Salesforce CLI session), renewal grants, revocation and token storage
//! (keyring, else a 0600 file).
//!
//! Never logs or prints a secret: tokens travel as [`Secret`]. Does not know about commands, the REST
//! data API or the sandbox; [`crate::salesforce`] calls [`oauth`] to renew a session and [`store`] to
//! save the rotated tokens, and the binary calls [`login`] for `sayso login`/`logout`/`whoami`.
//! May import [`crate::config`] only.
//!
//! # Layout
//! - [`secret`] — [`Secret`], a string whose `Debug`/`Display` redact.
//! - [`store`] — profiles (`profiles.toml`, no secrets) and credentials (keyring or 0600 file).
//! - [`oauth`] — the token, revoke, introspect and userinfo endpoints; token responses and errors.
//! - [`jwt`] — JWT bearer assertions (RS256).
//! - [`pkce`] — PKCE pair, `state`, authorize URL and the loopback redirect listener.
//! - [`login`] — the flows end to end: login, identity, scope check.
//! - [`logout`] — revocation at the server, local deletion, pending revocations.
//!
//! The `oauth2` crate is not used: Salesforce's token responses deviate from RFC 6749 (no
//! `expires_in`, `issued_at` in milliseconds as a string, `token_type` sometimes missing, the device
//! grant is `grant_type=device`), and the JWT bearer and revoke calls would be hand-written anyway;
//! the few form posts here are simpler than adapting it (and it would pull a second reqwest).

pub mod jwt;
pub mod login;
pub mod logout;
pub mod oauth;
pub mod pkce;
pub mod redact;
pub mod secret;
pub mod store;

use std::path::PathBuf;

pub use login::{LoginOptions, LoginReport, LogoutReport};
pub use oauth::{OAuthEndpoints, TokenResponse};
pub use secret::Secret;
pub use store::{Credentials, LoginMethod, Profile, TokenStore};

/// Errors of the auth layer. No variant ever carries a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No profile of this name: nobody logged in.
    #[error("not logged in (profile `{profile}`); run `sayso login`")]
    NotLoggedIn {
        /// The profile name.
        profile: String,
    },
    /// The profile exists but its credentials are gone.
    #[error("no stored credentials for profile `{profile}`; run `sayso login` again")]
    NoCredentials {
        /// The profile name.
        profile: String,
    },
    /// The token endpoint refused the grant (HTTP 400 `{error, error_description}`).
    #[error("login refused by the org: {error}: {description}")]
    OAuth {
        /// HTTP status.
        status: u16,
        /// OAuth error code, e.g. `invalid_grant`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The session cannot be renewed any more (refresh token revoked or expired).
    #[error("the session of profile `{profile}` has ended ({reason}); run `sayso login` again")]
    SessionEnded {
        /// The profile name.
        profile: String,
        /// The org's description.
        reason: String,
    },
    /// The authorization server redirected back with an error.
    #[error("authorization refused: {error}: {description}")]
    AuthorizationDenied {
        /// OAuth error code, e.g. `access_denied`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The redirect carried a `state` other than the one sent: possibly forged; ignored.
    #[error("the redirect's `state` does not match the login request; login aborted")]
    StateMismatch,
    /// Waiting for the browser or device approval took too long.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
    },
    /// A credentials file that others may read.
    #[error(
        "`{path}` is readable by other users (mode {mode:o}); run `chmod 600 {path}` and try again"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The JWT key file could not be read or is not an RSA private key in PEM.
    #[error("cannot use JWT key `{path}`: {message}")]
    JwtKey {
        /// The key file.
        path: PathBuf,
        /// What went wrong (never the key).
        message: String,
    },
    /// A request to the authorization server failed at the transport level.
    #[error("cannot reach `{url}`")]
    Http {
        /// The endpoint (no query string).
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The authorization server answered something that is not the expected JSON.
    #[error("unexpected answer from `{url}` (HTTP {status}): {message}")]
    Protocol {
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
    /// A file of the home could not be read or written.
    #[error("cannot access `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the home is malformed.
    #[error("invalid file `{path}`: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The OS keyring failed.
    #[error("keyring error: {message}")]
    Keyring {
        /// The keyring's message.
        message: String,
    },
    /// The Salesforce CLI could not give a session.
    #[error("cannot use the Salesforce CLI session: {message}")]
    SfCli {
        /// What went wrong.
        message: String,
    },
    /// An option is missing or invalid.
    #[error("{0}")]
    Usage(String),
    /// Reading settings failed.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl Error {
    /// Whether the org said the grant (refresh token, code, assertion) is no longer valid.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Error::OAuth { error, .. } if error == "invalid_grant")
    }

    /// Whether the failure is the transport (server unreachable, reset), not an answer.
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Http { .. })
    }
}
