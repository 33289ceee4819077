//! `sayso mcp [--profile P]`: serves the MCP tools over stdin/stdout for an AI assistant
//! ([`sayso::mcp`]). Logs go to stderr only: stdout carries the protocol.

use std::process::ExitCode;

use sayso::config::Home;

/// Arguments of `sayso mcp`.
#[derive(clap::Args)]
pub struct Args {
    /// The profile (logged-in user) the assistant acts as.
    #[arg(long, env = "SAYSO_PROFILE", default_value = "default")]
    profile: String,
}

/// Runs `sayso mcp` until the client disconnects.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(sayso::mcp::serve_stdio(home, &args.profile))?;
    Ok(ExitCode::SUCCESS)
}
