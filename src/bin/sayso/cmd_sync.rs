//! `sayso sync [--yes] [--json] [--prefer mine N]`: replays the offline queue through
//! [`sayso::app::Agent::sync`]; renders each command's outcome (a conflict as base / theirs /
//! yours) and asks before each write unless `--yes`.

use std::io::IsTerminal;
use std::process::ExitCode;

use sayso::app::offline::{FieldConflict, SyncOptions, Synced};
use sayso::app::{Agent, Outcome, RunOptions, Status};
use sayso::journal::QueuedCommand;

use crate::cmd_run::WriteFlags;

/// Whose value wins a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefer {
    /// The queued value overwrites the org's (for the one command named).
    Mine,
}

/// Arguments of `sayso sync`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    flags: WriteFlags,
    /// Overwrite a conflict with the queued value, for the command given after it.
    #[arg(long, value_enum, requires = "command")]
    prefer: Option<Prefer>,
    /// The queued command `--prefer mine` applies to (its number in `sayso queue`).
    command: Option<i64>,
    /// The profile to run as.
    #[arg(long, env = "SAYSO_PROFILE", default_value = "default")]
    profile: String,
}

/// Runs `sayso sync`.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    crate::cmd_run::with_agent(&args.profile, async |_, agent| {
        let opts = SyncOptions {
            run: RunOptions::default(),
            prefer_mine: args.prefer.and(args.command),
        };
        Ok(run(agent, opts, args.flags).await)
    })
}

/// Syncs and renders; the exit code is 0 when every queued command was applied.
pub async fn run(agent: &mut Agent, opts: SyncOptions, flags: WriteFlags) -> ExitCode {
    let WriteFlags { yes, json } = flags;
    let interactive = !json && std::io::stdin().is_terminal();
    let mut ask = |item: &QueuedCommand, preview: &Outcome| {
        if yes {
            return true;
        }
        if !interactive {
            return false;
        }
        println!("#{} said {}: {}", item.id, item.said_at, item.phrase);
        crate::cmd_run::render(preview, false);
        crate::cmd_run::ask("apply? [y/N] ")
    };
    let report = agent.sync(opts, &mut ask).await;
    let mut ok = true;
    for s in &report.items {
        ok &= s.outcome.status == Status::Applied;
        print_synced(agent, s, json);
    }
    if let Some(m) = &report.unreachable {
        ok = false;
        let waiting = agent.queued_count();
        let message = format!("{m}; {waiting} command(s) stay queued");
        if json {
            println!(
                "{}",
                serde_json::json!({"status": "queued", "message": message, "count": waiting})
            );
        } else {
            println!("queued: {message}");
        }
    } else if report.items.is_empty() && !json {
        println!("nothing queued");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_synced(agent: &Agent, s: &Synced, json: bool) {
    if json {
        let extra = [
            ("queue", serde_json::json!(s.item.id)),
            ("phrase", serde_json::json!(s.item.phrase)),
            ("said_at", serde_json::json!(s.item.said_at)),
            ("conflicts", serde_json::json!(s.conflicts)),
        ];
        crate::cmd_run::print(agent, &s.outcome, true, &extra);
        return;
    }
    println!("#{} {}", s.item.id, s.item.phrase);
    crate::cmd_run::render(&s.outcome, false);
    for c in &s.conflicts {
        println!("  {}", conflict_line(c));
    }
}

/// `Amount on Initech Renewal: base 85000 / theirs 99000 / yours 92000`.
pub fn conflict_line(c: &FieldConflict) -> String {
    let v = |j: &serde_json::Value| match j {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    };
    format!(
        "conflict: {} on {}: base {} / theirs {} / yours {}",
        c.field,
        c.name,
        c.base.as_ref().map_or("(not known)".into(), v),
        v(&c.theirs),
        v(&c.yours)
    )
}
