//! `sayso sandbox …`: serve, reset, token, usage.

use std::process::ExitCode;

/// Arguments of `sayso sandbox`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SandboxCommand,
}

#[derive(clap::Subcommand)]
enum SandboxCommand {
    /// Serve the sandbox org over HTTP on 127.0.0.1.
    Serve,
}

pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Serve => anyhow::bail!("the sandbox server is not built yet"),
    }
}
