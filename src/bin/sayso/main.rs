//! The `sayso` binary: argument parsing and dispatch only. Each subcommand lives in its own file
//! under `src/bin/sayso/` with an `Args` struct and an `exec` function that makes one call into the
//! library; rendering and prompting stay here, never in the library.

#![warn(clippy::too_many_lines)]

mod cmd_admin;
mod cmd_history;
mod cmd_login;
mod cmd_mcp;
mod cmd_parse;
mod cmd_queue;
mod cmd_run;
mod cmd_sandbox;
mod cmd_sync;
mod file_run;
mod firstrun;
mod logging;
mod piped;
mod shell;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A natural-language command agent for Salesforce.
#[derive(Parser)]
#[command(name = "sayso", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log what sayso does to stderr (-v: debug, -vv: trace); `RUST_LOG` overrides. Secrets are
    /// masked.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded Salesforce org emulator (the demo org).
    Sandbox(cmd_sandbox::Args),
    /// Run a command said in plain words ("update the Acme deal to negotiation").
    Run(cmd_run::Args),
    /// Show the intents a phrase parses to (no org needed).
    Parse(cmd_parse::Args),
    /// List the journal of changes made.
    History(cmd_history::HistoryArgs),
    /// Revert the last (or the Nth) command.
    Undo(cmd_history::UndoArgs),
    /// Retry the failed part of the last command.
    Retry(cmd_history::RetryArgs),
    /// List the commands queued while the org could not be reached; `queue drop N` removes one.
    Queue(cmd_queue::Args),
    /// Send the queued commands, in order, without overwriting what others changed since.
    Sync(cmd_sync::Args),
    /// Log in to an org (browser, --jwt, --client-credentials, --device, --access-token, --from-sf-cli).
    Login(cmd_login::LoginArgs),
    /// Revoke the session at the server and delete local secrets.
    Logout(cmd_login::LogoutArgs),
    /// Show who a profile is logged in as.
    Whoami(cmd_login::WhoamiArgs),
    /// Show today's API usage and budget.
    Usage(cmd_login::UsageArgs),
    /// Administer the org: connected apps, grants, revocation, API usage, contractors.
    Admin(cmd_admin::Args),
    /// Serve the MCP tools over stdio for an AI assistant (Claude, VS Code, Cursor…).
    Mcp(cmd_mcp::Args),
    /// The interactive shell (also what `sayso` alone opens; the built-in demo org on first run).
    Shell(shell::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let result = match cli.command {
        Some(Command::Sandbox(args)) => cmd_sandbox::exec(args),
        Some(Command::Run(args)) => cmd_run::exec(args),
        Some(Command::Parse(args)) => cmd_parse::exec(args),
        Some(Command::History(args)) => cmd_history::history(args),
        Some(Command::Undo(args)) => cmd_history::undo(args),
        Some(Command::Retry(args)) => cmd_history::retry(args),
        Some(Command::Queue(args)) => cmd_queue::exec(args),
        Some(Command::Sync(args)) => cmd_sync::exec(args),
        Some(Command::Login(args)) => cmd_login::exec_login(args),
        Some(Command::Logout(args)) => cmd_login::exec_logout(args),
        Some(Command::Whoami(args)) => cmd_login::exec_whoami(args),
        Some(Command::Usage(args)) => cmd_login::exec_usage(args),
        Some(Command::Admin(args)) => cmd_admin::exec(args),
        Some(Command::Mcp(args)) => cmd_mcp::exec(args),
        Some(Command::Shell(args)) => shell::exec(args),
        None => shell::exec(shell::Args::default()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
