//! `sayso run [--yes] [--json] [--dry-run] [--max-records N] [--bulk-threshold N] PHRASE...|-`:
//! runs commands through [`sayso::app::Agent`] and renders each [`Outcome`] as text or one JSON
//! object per line. Exit 0 when every command was applied, answered or dry-run; 1 otherwise.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use sayso::app::{Agent, Outcome, RunOptions, Status};
use sayso::config::Home;

/// `--yes` and `--json`, as the commands that write (`run`, `sync`) take them.
#[derive(clap::Args, Clone, Copy)]
pub struct WriteFlags {
    /// Confirm writes without asking (bulk changes; each queued command on `sync`).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print one JSON object per command (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sayso run`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    flags: WriteFlags,
    /// Show the plan and the calls it would make; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Refuse bulk changes above this many records.
    #[arg(long, default_value_t = 2000)]
    max_records: usize,
    /// Use Bulk API 2.0 above this many records (sObject Collections below).
    #[arg(long, default_value_t = 2000)]
    bulk_threshold: usize,
    /// Rows per Bulk API 2.0 job (tests: several jobs from a small run).
    #[arg(long, hide = true)]
    bulk_job_rows: Option<usize>,
    /// The profile (logged-in user) to run as.
    #[arg(long, env = "SAYSO_PROFILE", default_value = "default")]
    profile: String,
    /// Run the phrase over the rows of this CSV file ("add these as leads").
    #[arg(long, value_name = "CSV")]
    file: Option<std::path::PathBuf>,
    /// With --file: create rows that match existing leads or contacts (or earlier rows) too.
    #[arg(long, requires = "file")]
    allow_duplicates: bool,
    /// Read voice-note transcripts from stdin and split them into commands (see piped.rs).
    #[arg(long)]
    notes: bool,
    /// When the org cannot be reached, queue the commands for `sayso sync` (also `[offline]
    /// queue = true` in config.toml).
    #[arg(long)]
    queue: bool,
    /// The command, or `-` (or nothing, with stdin not a terminal) to read one command per line.
    #[arg(num_args = 0..)]
    phrase: Vec<String>,
}

/// Runs `sayso run`.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    if args.phrase.is_empty() && std::io::stdin().is_terminal() {
        anyhow::bail!(
            "say what to do: `sayso run \"show my open deals\"`, or pipe commands into `sayso run -`"
        );
    }
    with_agent(&args.profile.clone(), async |home, agent| {
        if let Some(rows) = args.bulk_job_rows {
            agent.set_bulk_job_rows(rows);
        }
        reconcile_first(agent).await;
        let opts = RunOptions {
            yes: args.flags.yes,
            dry_run: args.dry_run,
            max_records: args.max_records,
            bulk_threshold: args.bulk_threshold,
        };
        // "add the leads in prospects.csv" names its file itself
        let named = (args.phrase.len() == 1 && args.phrase[0] != "-")
            .then(|| sayso::lang::Grammar::embedded().ok())
            .flatten()
            .and_then(|g| g.file_command(&args.phrase.join(" ")))
            .and_then(|c| c.path)
            .map(std::path::PathBuf::from);
        if let Some(file) = args.file.as_ref().or(named.as_ref()) {
            let phrase = args.phrase.join(" ");
            let interactive = !args.flags.json && std::io::stdin().is_terminal();
            let import = sayso::app::import::ImportOptions {
                run: opts,
                allow_duplicates: args.allow_duplicates,
            };
            let code =
                crate::file_run::run(agent, file, &phrase, import, args.flags.json, interactive)
                    .await;
            budget_warning(home, &args.profile);
            return Ok(code);
        }
        let queue = args.queue || sayso::app::offline::OfflineSettings::load(home)?.queue;
        let dash = args.phrase.len() == 1 && args.phrase[0] == "-";
        if args.notes || dash || args.phrase.is_empty() {
            let piped = crate::piped::PipedOptions {
                json: args.flags.json,
                notes: args.notes,
                run: opts,
                queue,
            };
            let code = crate::piped::run_stdin(agent, &piped).await;
            budget_warning(home, &args.profile);
            return code;
        }
        let phrases: Vec<String> = if args.phrase.len() == 1 && args.phrase[0] == "-" {
            std::io::stdin()
                .lock()
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.trim().is_empty())
                .collect()
        } else {
            vec![args.phrase.join(" ")]
        };
        let interactive = !args.flags.json
            && std::io::stdin().is_terminal()
            && !(args.phrase.len() == 1 && args.phrase[0] == "-");
        if !args.flags.json && std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::hidden();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            agent.set_progress(Box::new(move |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                if done >= total {
                    bar.finish_and_clear();
                }
            }));
        }
        let mut failures = 0;
        for phrase in phrases {
            let mut out = agent.submit_or_queue(&phrase, opts, queue).await;
            // Interactive: a numbered choice among the candidates, then the same command again.
            let mut picked: Vec<String> = Vec::new();
            while out.status == Status::Ambiguous && interactive && picked.len() < 5 {
                render(&out, false);
                let Some(choice) = choose(out.candidates().len()) else {
                    break;
                };
                picked.push(out.candidates()[choice].id.clone());
                let calls = out.api_calls;
                out = agent.submit_picked(&phrase, opts, &picked).await;
                out.api_calls += calls;
            }
            if out.status == Status::NeedsConfirmation && interactive {
                render(&out, false);
                if ask(&format!(
                    "apply {} change(s)? [y/N] ",
                    out.count.unwrap_or(0)
                )) {
                    if let Some(plan) = out.pending.take() {
                        let calls = out.api_calls;
                        out = agent.confirm(&phrase, &plan, opts).await;
                        out.api_calls += calls;
                    }
                } else {
                    if let Some(plan) = out.pending.take() {
                        agent.discard(&plan);
                    }
                    out = Outcome::new(Status::NeedsConfirmation, "not confirmed; nothing changed");
                }
            }
            if !out.status.is_success() {
                failures += 1;
            }
            print(agent, &out, args.flags.json, &[]);
            // A dry run or an unconfirmed bulk change is never applied from here.
            if let Some(plan) = out.pending.take() {
                agent.discard(&plan);
            }
        }
        budget_warning(home, &args.profile);
        Ok(if failures == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

/// Opens `profile`'s agent on a one-thread runtime and runs `body` with it (and the home).
pub fn with_agent(
    profile: &str,
    body: impl AsyncFnOnce(&Home, &mut Agent) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let today = sayso::app::today_from_env()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut agent = Agent::open(&home, profile, today).await?;
        body(&home, &mut agent).await
    })
}

/// Exit 0 when `out` succeeded, 1 otherwise.
pub fn exit_of(out: &Outcome) -> ExitCode {
    if out.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Finishes the journal of runs a killed process left unfinished, saying so on stderr.
pub async fn reconcile_first(agent: &mut Agent) {
    agent.reconcile().await;
    for note in agent.take_notes() {
        eprintln!("note: {note}");
    }
}

/// Past the budget's `warn_at`, every command says so (on stderr, so JSON output stays clean).
fn budget_warning(home: &Home, profile: &str) {
    if let Ok(ledger) = sayso::salesforce::limits::Ledger::for_profile(home, profile)
        && let Some(w) = ledger.status().warning()
    {
        eprintln!("warning: {w}");
    }
}

/// Asks for a number 1..=n; `None` when the answer is not one.
fn choose(n: usize) -> Option<usize> {
    eprint!("which one? [1-{n}, Enter to cancel] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let k: usize = line.trim().parse().ok()?;
    (1..=n).contains(&k).then(|| k - 1)
}

pub fn ask(prompt: &str) -> bool {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

/// Prints an outcome of `agent` as one JSON line (with `extra` fields) or as text. A streamed bulk
/// run's changes are written from the journal as they are read.
pub fn print(agent: &Agent, out: &Outcome, json: bool, extra: &[(&str, serde_json::Value)]) {
    if !json {
        render(out, false);
        return;
    }
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let written = agent
        .write_json(out, extra, &mut w)
        .and_then(|()| w.flush());
    if let Err(e) = written {
        eprintln!("error: cannot write the result: {e}");
    }
}

/// Changes (and failures) the text output lists; the rest are counted.
const SHOWN: usize = 20;

/// Prints an outcome as one JSON line or as text.
pub fn render(out: &Outcome, json: bool) {
    if json {
        match serde_json::to_string(out) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                println!("{{\"status\":\"failed\",\"message\":\"cannot render the result: {e}\"}}")
            }
        }
        return;
    }
    let status = serde_json::to_value(out.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    println!("{status}: {}", out.message);
    for c in out.changes().iter().take(SHOWN) {
        let fields: Vec<String> = c
            .fields
            .iter()
            .map(|(k, v)| format!("{k}: {} → {}", short(&v["old"]), short(&v["new"])))
            .collect();
        println!("  {} {} {} {}", c.op, c.sobject, c.name, fields.join(", "));
    }
    for r in out.records() {
        let name = ["Name", "CaseNumber", "Subject", "Title"]
            .iter()
            .find_map(|k| r.get(*k).and_then(|v| v.as_str()))
            .map(str::to_string)
            .or_else(|| {
                let first = r.get("FirstName").and_then(|v| v.as_str()).unwrap_or("");
                let last = r.get("LastName").and_then(|v| v.as_str()).unwrap_or("");
                Some(format!("{first} {last}").trim().to_string())
            })
            .unwrap_or_default();
        // A preview row carries `fields: {F: {old, new}}`; an answer carries the record's fields.
        let extra: Vec<String> = match r.get("fields").and_then(|f| f.as_object()) {
            Some(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {} → {}", short(&v["old"]), short(&v["new"])))
                .collect(),
            None => ["StageName", "Status", "Amount", "CloseDate"]
                .iter()
                .filter_map(|k| {
                    r.get(*k)
                        .filter(|v| !v.is_null())
                        .map(|v| format!("{k}: {}", short(v)))
                })
                .collect(),
        };
        println!("  - {name} {}", extra.join(", "));
    }
    if !out.groups().is_empty() {
        println!("{}", crate::shell::render::groups_table(out.groups()));
    }
    if !out.candidates().is_empty() {
        println!("  which one?");
        for (i, c) in out.candidates().iter().enumerate() {
            println!("  {}. {} {} ({})", i + 1, c.sobject, c.name, c.id);
        }
    }
    let made = out.count.map_or(out.changes().len(), |n| n as usize);
    if made > SHOWN && !out.changes().is_empty() {
        println!(
            "  … and {} more (`sayso history` lists them; `--json` prints them all)",
            made - SHOWN.min(out.changes().len())
        );
    }
    for f in out.failures().iter().take(SHOWN) {
        println!(
            "  failed: {} {}: {}",
            f.name,
            f.id.as_deref().unwrap_or(""),
            f.error
        );
    }
    if out.failures().len() > SHOWN {
        println!("  … and more failures (`sayso history` lists them; `sayso retry` re-sends them)");
    }
    for s in out.suggestions() {
        println!("  try: {s}");
    }
    for c in out.calls() {
        println!("  call: {c}");
    }
    println!(
        "  ({} API call{})",
        out.api_calls,
        if out.api_calls == 1 { "" } else { "s" }
    );
}

fn short(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}
