//! `sayso history`, `sayso undo [N]`, `sayso retry`: the journal from the command line.

use std::process::ExitCode;

use sayso::app::{Agent, RunOptions};
use sayso::config::Home;

/// Arguments of `sayso history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// How many entries to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// One JSON object per entry.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sayso undo`.
#[derive(clap::Args)]
pub struct UndoArgs {
    /// The journal entry to undo (default: the latest command not yet undone).
    entry: Option<i64>,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// The profile to run as.
    #[arg(long, env = "SAYSO_PROFILE", default_value = "default")]
    profile: String,
}

/// Arguments of `sayso retry`.
#[derive(clap::Args)]
pub struct RetryArgs {
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// Use Bulk API 2.0 above this many records.
    #[arg(long, default_value_t = 2000)]
    bulk_threshold: usize,
    /// The profile to run as.
    #[arg(long, env = "SAYSO_PROFILE", default_value = "default")]
    profile: String,
}

/// Runs `sayso history`.
pub fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let journal = sayso::app::open_journal(&home)?;
    for e in journal.entries(args.limit)? {
        let changes = journal.changes(e.id)?;
        if args.json {
            let list: Vec<serde_json::Value> = changes
                .iter()
                .map(|c| {
                    serde_json::json!({"op": c.change.op.as_str(), "sobject": c.change.sobject, "id": c.change.record_id,
                        "name": c.change.name, "old": c.change.old, "new": c.change.new,
                        "state": format!("{:?}", c.state).to_lowercase(), "error": c.error})
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({"entry": e.id, "at": e.at, "user": e.user, "phrase": e.phrase, "kind": e.kind,
                    "refers_to": e.refers_to, "status": e.status, "message": e.message, "changes": list})
            );
        } else {
            let what = match (e.kind.as_str(), e.refers_to) {
                ("undo", Some(r)) => format!(" (undo of {r})"),
                ("retry", Some(r)) => format!(" (retry of {r})"),
                _ => String::new(),
            };
            println!(
                "{:>4}  {}  {}  {}{}  [{}] {}",
                e.id, e.at, e.user, e.phrase, what, e.status, e.message
            );
            for c in changes.iter().take(10) {
                println!(
                    "        {} {} {} {:?} {} → {}",
                    c.change.op.as_str(),
                    c.change.sobject,
                    c.change.name,
                    c.state,
                    c.change.old,
                    c.change.new
                );
            }
            if changes.len() > 10 {
                println!("        … {} more", changes.len() - 10);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `sayso undo [N]`.
pub fn undo(args: UndoArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let today = sayso::app::today_from_env()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut agent = Agent::open(&home, &args.profile, today).await?;
        let phrase = match args.entry {
            Some(n) => format!("undo {n}"),
            None => "undo".to_string(),
        };
        let out = agent.undo(args.entry, &phrase).await;
        crate::cmd_run::print(&agent, &out, args.json, &[]);
        Ok(if out.status.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

/// Runs `sayso retry`.
pub fn retry(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let today = sayso::app::today_from_env()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut agent = Agent::open(&home, &args.profile, today).await?;
        let opts = RunOptions {
            bulk_threshold: args.bulk_threshold,
            yes: true,
            ..RunOptions::default()
        };
        let out = agent.retry(opts).await;
        crate::cmd_run::print(&agent, &out, args.json, &[]);
        Ok(if out.status.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
