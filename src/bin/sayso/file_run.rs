//! `sayso run --file rows.csv [--allow-duplicates] PHRASE`: runs a phrase over a file of rows
//! through [`sayso::app::Agent::import_file`] and renders the mapping, the rows skipped and
//! rejected, and the outcome. Exit 0 when every row was created or skipped as a duplicate; 1 when
//! any was rejected or failed (or nothing was confirmed).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use sayso::app::import::ImportOptions;
use sayso::app::{Agent, Outcome, Status};

/// Rows of the preview and of the skipped and rejected lists shown as text.
const SHOWN: usize = 10;

/// Runs a file; `interactive` asks before creating when `--yes` was not given.
pub async fn run(
    agent: &mut Agent,
    path: &Path,
    phrase: &str,
    opts: ImportOptions,
    json: bool,
    interactive: bool,
) -> ExitCode {
    let mut out = agent.import_file(path, phrase, opts).await;
    if out.status == Status::NeedsConfirmation && interactive {
        render(&out);
        if ask(&format!(
            "apply {} change(s)? [y/N] ",
            out.count.unwrap_or(0)
        )) {
            out = agent.import_confirm(phrase, &mut out, opts.run).await;
        } else {
            out = Outcome::new(Status::NeedsConfirmation, "not confirmed; nothing created");
        }
    }
    if json {
        crate::cmd_run::print(agent, &out, true, &[]);
    } else {
        render(&out);
    }
    if out.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn ask(prompt: &str) -> bool {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

/// The mapping, the skipped and rejected rows, then the outcome as any command renders it.
fn render(out: &Outcome) {
    if let Some(m) = &out.file.mapping {
        println!("{} rows of {} records; columns:", m.rows, m.object);
        for (col, field) in &m.columns {
            println!("  {col} → {field}");
        }
        if !m.left_out.is_empty() {
            println!("  left out (no field): {}", m.left_out.join(", "));
        }
    }
    if let Some(skipped) = &out.file.skipped {
        for s in skipped.iter().take(SHOWN) {
            let what = match (&s.matches, s.matches_line) {
                (Some(c), _) => format!("{} {} ({})", c.sobject, c.name, c.id),
                (None, Some(l)) => format!("line {l}"),
                _ => String::new(),
            };
            println!("  skipped line {}: {} — {what}", s.line, s.reason);
        }
        if skipped.len() > SHOWN {
            println!(
                "  … and {} more skipped (`--json` lists them all)",
                skipped.len() - SHOWN
            );
        }
    }
    if let Some(rejected) = &out.file.rejected {
        for r in rejected.iter().take(SHOWN) {
            println!("  rejected line {}: {}", r.line, r.reason);
        }
        if rejected.len() > SHOWN {
            println!(
                "  … and {} more rejected (`--json` lists them all)",
                rejected.len() - SHOWN
            );
        }
    }
    crate::cmd_run::render(out, false);
    let _ = std::io::stdout().is_terminal();
}
