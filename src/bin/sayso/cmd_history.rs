//! `sayso history`, `sayso undo [N]`, `sayso retry`: the journal from the command line.

use std::io::Write;
use std::process::ExitCode;

use sayso::app::RunOptions;
use sayso::config::Home;
use sayso::journal::EntryKind;

use crate::cmd_run::{exit_of, print, reconcile_first, with_agent};

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

/// Whether an error is a write to a closed pipe (`sayso history --json | head -1`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Runs `sayso history`. A reader that stops early (a closed pipe) ends it quietly, with success.
pub fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    match write_history(args) {
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        r => r,
    }
}

fn write_history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let journal = sayso::app::open_journal(&home)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for e in journal.entries(args.limit)? {
        if args.json {
            // One line per entry; its changes are written as they are read (an entry may hold a
            // million).
            let head = serde_json::json!({"entry": e.id, "at": e.at, "user": e.user, "phrase": e.phrase, "kind": e.kind,
                "refers_to": e.refers_to, "status": e.status, "message": e.message, "client": e.client})
            .to_string();
            write!(out, "{},\"changes\":[", &head[..head.len() - 1])?;
            let mut first = true;
            journal.for_each_change(e.id, |c| {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                let row = serde_json::json!({"op": c.change.op.as_str(), "sobject": c.change.sobject, "id": c.change.record_id,
                    "name": c.change.name, "old": c.change.old, "new": c.change.new,
                    "state": c.state, "error": c.error, "found": c.found});
                serde_json::to_writer(&mut out, &row)?;
                Ok(())
            })?;
            writeln!(out, "]}}")?;
        } else {
            let what = match (e.kind, e.refers_to) {
                (EntryKind::Undo, Some(r)) => format!(" (undo of {r})"),
                (EntryKind::Retry, Some(r)) => format!(" (retry of {r})"),
                _ => String::new(),
            };
            let via = e
                .client
                .as_ref()
                .map(|c| format!(" (via {c})"))
                .unwrap_or_default();
            writeln!(
                out,
                "{:>4}  {}  {}{via}  {}{}  [{}] {}",
                e.id, e.at, e.user, e.phrase, what, e.status, e.message
            )?;
            let shown = journal.changes_page(e.id, None, 10)?;
            for (_, c) in &shown {
                writeln!(
                    out,
                    "        {} {} {} {} {} → {}",
                    c.change.op.as_str(),
                    c.change.sobject,
                    c.change.name,
                    c.state,
                    c.change.old,
                    c.change.new
                )?;
            }
            let total = journal.state_counts(e.id)?.total();
            if total > shown.len() {
                writeln!(out, "        … {} more", total - shown.len())?;
            }
        }
    }
    // Commands said offline: waiting, held by a conflict, or synced (with their entry).
    let queued = journal.queue_list(true)?;
    if !queued.is_empty() && !args.json {
        writeln!(out, "offline queue:")?;
    }
    for q in queued.iter().rev().take(args.limit) {
        if args.json {
            writeln!(out, "{}", crate::cmd_queue::queued_json(q))?;
        } else {
            writeln!(out, "  {}", crate::cmd_queue::queued_line(q))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `sayso undo [N]`.
pub fn undo(args: UndoArgs) -> anyhow::Result<ExitCode> {
    with_agent(&args.profile, async |_, agent| {
        reconcile_first(agent).await;
        let phrase = match args.entry {
            Some(n) => format!("undo {n}"),
            None => "undo".to_string(),
        };
        let out = agent.undo(args.entry, &phrase).await;
        print(agent, &out, args.json, &[]);
        Ok(exit_of(&out))
    })
}

/// Runs `sayso retry`.
pub fn retry(args: RetryArgs) -> anyhow::Result<ExitCode> {
    with_agent(&args.profile, async |_, agent| {
        reconcile_first(agent).await;
        let opts = RunOptions {
            bulk_threshold: args.bulk_threshold,
            yes: true,
            ..RunOptions::default()
        };
        let out = agent.retry(opts).await;
        print(agent, &out, args.json, &[]);
        Ok(exit_of(&out))
    })
}
