//! Piped input for `sayso run -` (or `sayso run` with stdin that is not a terminal): one command per
//! line, or with `--notes` whole voice-note transcripts split into commands.
//!
//! Owns the non-interactive loop. Never waits for input that cannot come: a command that needs
//! confirmation (a bulk change without `--yes`) or a choice (several matching records) is reported
//! as `needs_confirmation` / `ambiguous` and the rest continues. Where one command ends and the
//! next begins is `sayso::lang::notes`. Called by `cmd_run`.

use std::io::Read;
use std::process::ExitCode;

use sayso::app::{Agent, Outcome, RunOptions, Status};
use sayso::lang::{Piece, script_line, split_notes};

/// How `sayso run` reads and reports piped commands.
#[derive(Debug, Clone)]
pub struct PipedOptions {
    /// One JSON object per command (JSON Lines).
    pub json: bool,
    /// Read voice-note transcripts, not one command per line.
    pub notes: bool,
    /// Options passed to every command.
    pub run: RunOptions,
    /// Queue the commands when the org cannot be reached (`--queue`, `[offline] queue`).
    pub queue: bool,
}

/// Reads every command from stdin and runs them in order; exit code per the contract (0 when every
/// command was applied, answered or dry-run, 1 otherwise).
pub async fn run_stdin(agent: &mut Agent, opts: &PipedOptions) -> anyhow::Result<ExitCode> {
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    let (text, bad) = valid_lines(&bytes);
    let pieces = if opts.notes {
        let (pieces, skipped) = split_notes(&text);
        if !opts.json {
            for s in skipped {
                eprintln!("skipped (not a command): {s}");
            }
        }
        pieces
    } else {
        text.lines()
            .enumerate()
            .filter_map(|(i, line)| {
                script_line(line).map(|phrase| Piece {
                    phrase,
                    source: i + 1,
                })
            })
            .collect()
    };
    // A line that is not UTF-8 is reported (as `invalid`, with its number) and the others run.
    for (n, lossy) in &bad {
        let p = Piece {
            phrase: lossy.clone(),
            source: *n,
        };
        let out = Outcome::new(
            Status::Invalid,
            format!("line {n} is not valid UTF-8; it was skipped (the other lines ran)"),
        );
        print_outcome(agent, &p, &out, opts.json);
    }
    let failures = run_pieces(agent, &pieces, opts).await + bad.len();
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The input as text, a line that is not valid UTF-8 left empty (so line numbers stay), and
/// each such line's number with its text as far as it can be read.
fn valid_lines(bytes: &[u8]) -> (String, Vec<(usize, String)>) {
    let mut text = String::with_capacity(bytes.len());
    let mut bad = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(l) => text.push_str(l),
            Err(_) => bad.push((i + 1, String::from_utf8_lossy(line).trim().to_string())),
        }
    }
    (text, bad)
}

/// Runs the commands; returns how many did not succeed.
async fn run_pieces(agent: &mut Agent, pieces: &[Piece], opts: &PipedOptions) -> usize {
    let mut failures = 0;
    for p in pieces {
        let mut out = agent.submit_or_queue(&p.phrase, opts.run, opts.queue).await;
        if !out.status.is_success() {
            failures += 1;
        }
        print_outcome(agent, p, &out, opts.json);
        // Piped input never confirms: a pending bulk change is dropped once reported.
        if let Some(plan) = out.pending.take() {
            agent.discard(&plan);
        }
    }
    failures
}

fn print_outcome(agent: &Agent, p: &Piece, out: &Outcome, json: bool) {
    if json {
        let extra = [
            ("input", serde_json::json!(p.phrase)),
            ("source", serde_json::json!(p.source)),
        ];
        crate::cmd_run::print(agent, out, true, &extra);
    } else {
        println!("> {}", p.phrase);
        crate::cmd_run::render(out, false);
    }
}
