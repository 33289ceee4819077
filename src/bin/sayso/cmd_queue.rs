//! `sayso queue [--json] [--all]` and `sayso queue drop N`: the commands said while the org could
//! not be reached, waiting for `sayso sync`. Reads the journal only (no session, no network).

use std::process::ExitCode;

use clap::Subcommand;
use sayso::app::offline;
use sayso::config::Home;
use sayso::journal::QueuedCommand;

/// Arguments of `sayso queue`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// One JSON object per queued command (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Also the commands already synced.
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand)]
enum Action {
    /// Remove queued command N (its number in `sayso queue`); it will not be synced.
    Drop {
        /// The queued command's number.
        n: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// One queued command as `sayso queue --json` (and `sayso history --json`) prints it.
pub fn queued_json(q: &QueuedCommand) -> serde_json::Value {
    serde_json::json!({
        "queue": q.id, "said_at": q.said_at, "user": q.user, "phrase": q.phrase,
        "state": q.state, "message": q.message, "entry": q.entry,
        "conflicts": q.detail.get("conflicts").cloned().unwrap_or(serde_json::json!([])),
    })
}

/// One queued command as a line of text.
pub fn queued_line(q: &QueuedCommand) -> String {
    let mut line = format!(
        "#{:<3} {} [{}] {}",
        q.id,
        q.said_at,
        q.state.as_str(),
        q.phrase
    );
    if let Some(e) = q.entry {
        line.push_str(&format!(" (journal entry {e})"));
    } else if !q.message.is_empty() && q.state != sayso::journal::QueueState::Queued {
        line.push_str(&format!(" — {}", q.message));
    }
    line
}

/// Runs `sayso queue`.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    if let Some(Action::Drop { n, json }) = args.action {
        return match offline::queue_drop(&home, n) {
            Ok(q) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"status": "dropped", "queue": q.id, "phrase": q.phrase})
                    );
                } else {
                    println!("dropped #{}: {}", q.id, q.phrase);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"status": "not_found", "message": e.to_string()})
                    );
                } else {
                    eprintln!("error: {e}");
                }
                Ok(ExitCode::from(1))
            }
        };
    }
    let items = offline::queue_list(&home, args.all)?;
    if args.json {
        for q in &items {
            println!("{}", queued_json(q));
        }
    } else if items.is_empty() {
        println!("nothing queued");
    } else {
        for q in &items {
            println!("{}", queued_line(q));
        }
        println!("`sayso sync` sends them; `sayso queue drop N` removes one");
    }
    Ok(ExitCode::SUCCESS)
}
