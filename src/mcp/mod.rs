//! The MCP server (`sayso mcp`): sayso as the safe hands of AI assistants, over stdio with the
//! official Rust SDK (`rmcp`).
//!
//! Owns the tools (`ask`, `preview`, `apply`, `undo`, `history`, `whoami`), the previews an
//! assistant applies by id (each exactly once, guarded, expiring), the person's confirmation by
//! elicitation, and the `[mcp]` settings of `config.toml` (read-only mode, object allowlist,
//! field denylist, records per apply), enforced on preview and again on apply. Every write goes
//! through [`crate::app::Agent`] under the profile's own session, budget and journal, and is
//! journaled with the MCP client's name.
//!
//! May import [`crate::app`], [`crate::lang`] (types and parsing only), [`crate::plan`],
//! [`crate::config`], [`crate::auth`] (the profile) and [`crate::journal`]; nothing imports it
//! but the binary and tests.

mod core;
pub mod intent;
pub mod policy;
pub mod previews;
pub mod server;
pub mod settings;

pub use settings::{Confirm, McpSettings};

use rmcp::ServiceExt;

use crate::config::{ConfigError, Home};

/// Errors starting or running the server (usage, config or login: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// `[mcp]` or the rest of `config.toml` is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The profile can't be opened (not logged in, journal).
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    /// A thread or runtime could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The MCP transport failed.
    #[error("MCP: {0}")]
    Protocol(String),
    /// The agent's thread ended.
    #[error("the sayso agent stopped")]
    Stopped,
}

/// Serves MCP over stdin/stdout as `profile` until the client closes the connection.
///
/// # Errors
/// [`McpError`] when the profile or the settings can't be loaded, or the transport fails.
pub async fn serve_stdio(home: Home, profile: &str) -> Result<(), McpError> {
    let settings = McpSettings::load(&home)?;
    let core = core::start(home, profile.to_string(), settings.clone())?;
    let server = server::SaysoServer::new(core, settings);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Protocol(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::Protocol(e.to_string()))?;
    Ok(())
}
