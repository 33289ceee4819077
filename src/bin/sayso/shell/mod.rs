//! `sayso shell` (and `sayso` with no subcommand): the interactive shell over [`sayso::app::Agent`].
//!
//! Owns the read–preview–confirm loop: every write is first submitted as a dry run and shown as a
//! compact preview (Enter applies exactly that plan through [`Agent::confirm`], `n` cancels);
//! several matching records are shown as a numbered list and the choice is resubmitted; Ctrl-C
//! cancels the command in flight (not the shell), Ctrl-D leaves. Also the `:` commands, per-profile
//! history under `SAYSO_HOME/history/`, and progress spinners for slow commands. The library never
//! prompts; all asking happens here. Completion lives in [`completion`], formatting in [`render`],
//! the first-run demo org in `crate::firstrun`.

mod completion;
mod flow;
mod offline;
pub(crate) mod render;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use sayso::app::{Agent, RunOptions};
use sayso::config::Home;
use sayso::sandbox::faults::FaultOptions;

use completion::{ShellHelper, Vocab};
use render::Style;

/// Arguments of `sayso shell`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// The profile to use (default: `SAYSO_PROFILE` or `default`; the built-in demo org when
    /// neither exists).
    #[arg(long)]
    profile: Option<String>,
    /// Add this many milliseconds to every data API call of the built-in demo org (testing).
    #[arg(long, hide = true, default_value_t = 0)]
    demo_latency_ms: u64,
}

/// What the loop should do after a line.
enum Next {
    Continue,
    Quit,
}

/// The shell's state for one session.
struct Shell {
    home: Home,
    profile: String,
    who: String,
    agent: Agent,
    today: chrono::NaiveDate,
    dry_run: bool,
    style: Style,
    vocab: Arc<Mutex<Vocab>>,
    editor: Editor<ShellHelper, DefaultHistory>,
    /// The progress bar of the command in flight (fed by the agent's bulk progress).
    progress: flow::ProgressSlot,
    /// The built-in demo org, while it runs (first run, or `:profile demo`).
    demo: Option<crate::firstrun::Demo>,
    /// Whether the shell already offered to sync the queue since the org last went away.
    sync_offered: bool,
}

/// Runs the shell until Ctrl-D or `:quit`.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let today = sayso::app::today_from_env()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let faults = FaultOptions {
        latency_ms: args.demo_latency_ms,
        ..FaultOptions::default()
    };
    let chosen = rt.block_on(crate::firstrun::choose(
        &home,
        args.profile.as_deref(),
        faults,
    ))?;
    let style = Style::detect();
    if let Some(b) = &chosen.banner {
        println!("{}", style.dim(b));
    }
    let mut agent = rt.block_on(Agent::open(&home, &chosen.profile, today))?;
    let progress: flow::ProgressSlot = Arc::new(Mutex::new(None));
    agent.set_progress(flow::progress_callback(progress.clone()));
    let vocab = Arc::new(Mutex::new(Vocab::default()));
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(ShellHelper {
        vocab: vocab.clone(),
        color: style.color,
    }));
    let mut shell = Shell {
        home,
        profile: String::new(),
        who: String::new(),
        agent,
        today,
        dry_run: false,
        style,
        vocab,
        editor,
        progress,
        demo: chosen.demo,
        sync_offered: false,
    };
    shell.switch_to(&chosen.profile);
    rt.block_on(shell.warm_describes());
    shell.refresh_vocab();
    println!(
        "{}",
        shell
            .style
            .dim("type a command (Tab completes, :help for examples, Ctrl-D leaves)")
    );
    shell.run(&rt)
}

impl Shell {
    fn history_path(&self) -> PathBuf {
        self.home
            .root()
            .join("history")
            .join(format!("{}.txt", self.profile))
    }

    fn describe_cache(&self) -> PathBuf {
        let user = sayso::auth::store::load_profile(&self.home, &self.profile)
            .ok()
            .and_then(|p| p.user_id)
            .unwrap_or_default();
        self.home.root().join("cache").join("describe").join(user)
    }

    /// Points the prompt, history and vocabulary at `profile` (the agent is opened by the caller).
    /// Saves the history: what was typed may name records, so the file is 0600 in a 0700 folder.
    fn save_history(&mut self) {
        let path = self.history_path();
        if let Some(dir) = path.parent() {
            let _ = sayso::journal::private_dir(dir);
        }
        let _ = self.editor.save_history(&path);
        let _ = sayso::journal::private_file(&path);
    }

    fn switch_to(&mut self, profile: &str) {
        self.save_history();
        self.profile = profile.to_string();
        let p = sayso::auth::store::load_profile(&self.home, profile).ok();
        self.who = p
            .as_ref()
            .and_then(|p| p.display_name.clone().or_else(|| p.username.clone()))
            .unwrap_or_else(|| "?".into());
        let _ = self.editor.clear_history();
        let _ = self.editor.load_history(&self.history_path());
        self.refresh_vocab();
    }

    fn refresh_vocab(&mut self) {
        let cache = self.describe_cache();
        if let Ok(mut v) = self.vocab.lock() {
            let records = std::mem::take(&mut v.records);
            *v = Vocab::load(&cache);
            v.records = records;
        }
    }

    /// Describes the common objects once so completion knows their fields (cached for later).
    async fn warm_describes(&mut self) {
        let dir = self.describe_cache();
        let mut cache = sayso::resolve::schema::SchemaCache::new(Some(dir.clone()));
        for object in ["Opportunity", "Account", "Contact", "Lead", "Case", "Task"] {
            if !dir.join(format!("{object}.json")).exists() {
                let _ = cache.describe(self.agent.org(), object).await;
            }
        }
    }

    fn prompt(&self) -> String {
        let mode = if self.dry_run { " [dry-run]" } else { "" };
        let queued = self.queue_mark();
        format!("{} ({}){mode}{queued}> ", self.profile, self.who)
    }

    fn run(&mut self, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
        loop {
            let prompt = self.prompt();
            match self.editor.readline(&prompt) {
                Ok(line) => {
                    let line = line.trim().to_string();
                    if line.is_empty() {
                        continue;
                    }
                    let _ = self.editor.add_history_entry(line.as_str());
                    self.save_history();
                    let next = if line.starts_with(':') {
                        self.colon(rt, &line)
                    } else {
                        self.phrase(rt, &line, &[]);
                        Next::Continue
                    };
                    if let Next::Quit = next {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            }
        }
        println!("bye");
        Ok(ExitCode::SUCCESS)
    }

    fn base_options(&self) -> RunOptions {
        RunOptions::default()
    }

    /// Asks a yes/no question: Enter or `y` means yes.
    /// Asks before applying `count` changes ([`render::confirmed`]).
    fn confirm_count(&mut self, question: &str, count: u64) -> bool {
        match self.editor.readline(question) {
            Ok(a) => render::confirmed(&a, count),
            Err(_) => false,
        }
    }

    fn confirm(&mut self, question: &str) -> bool {
        match self.editor.readline(question) {
            Ok(a) => matches!(a.trim().to_lowercase().as_str(), "" | "y" | "yes"),
            Err(_) => false,
        }
    }

    fn colon(&mut self, rt: &tokio::runtime::Runtime, line: &str) -> Next {
        let mut parts = line.split_whitespace();
        let cmd = parts.next().unwrap_or("");
        let arg = parts.collect::<Vec<_>>().join(" ");
        match cmd {
            ":quit" | ":q" | ":exit" => return Next::Quit,
            ":undo" => {
                self.undo(rt);
            }
            ":history" => self.history(),
            ":sync" => self.sync(rt),
            ":dry-run" => match arg.as_str() {
                "on" => self.dry_run = true,
                "off" => self.dry_run = false,
                "" => println!("dry-run is {}", if self.dry_run { "on" } else { "off" }),
                other => println!("error: `:dry-run {other}`: say on or off"),
            },
            ":whoami" => self
                .builtin::<crate::cmd_login::WhoamiArgs>("whoami", crate::cmd_login::exec_whoami),
            ":usage" => {
                self.builtin::<crate::cmd_login::UsageArgs>("usage", crate::cmd_login::exec_usage)
            }
            ":help" => println!("{}", help(&arg)),
            ":clear" => print!("\x1b[2J\x1b[H"),
            ":profile" => self.profile_cmd(rt, &arg),
            other => println!("error: unknown command `{other}`; try :help"),
        }
        Next::Continue
    }

    /// Runs one of the ordinary subcommands for the current profile (whoami, usage).
    fn builtin<A: clap::Args + clap::FromArgMatches>(
        &self,
        name: &'static str,
        run: fn(A) -> anyhow::Result<ExitCode>,
    ) {
        let cmd = A::augment_args(clap::Command::new(name));
        let parsed = cmd
            .try_get_matches_from([name, "--profile", self.profile.as_str()])
            .map_err(anyhow::Error::from)
            .and_then(|m| A::from_arg_matches(&m).map_err(anyhow::Error::from));
        if let Err(e) = parsed.and_then(run) {
            println!("error: {e:#}");
        }
    }

    fn profile_cmd(&mut self, rt: &tokio::runtime::Runtime, name: &str) {
        if name.is_empty() {
            match sayso::auth::store::load_profiles(&self.home) {
                Ok(all) => {
                    for (n, p) in all {
                        let mark = if n == self.profile { "*" } else { " " };
                        println!(
                            "{mark} {n}  {}  {}",
                            p.username.unwrap_or_default(),
                            p.instance_url
                        );
                    }
                }
                Err(e) => println!("error: {e}"),
            }
            return;
        }
        if name == crate::firstrun::DEMO_PROFILE && self.demo.is_none() {
            // The demo profile points at a port of an earlier session: start the org again.
            match rt.block_on(crate::firstrun::start_demo(
                &self.home,
                FaultOptions::default(),
            )) {
                Ok(d) => self.demo = Some(d),
                Err(e) => {
                    println!("error: {e:#}");
                    return;
                }
            }
        }
        match rt.block_on(Agent::open(&self.home, name, self.today)) {
            Ok(mut agent) => {
                agent.set_progress(flow::progress_callback(self.progress.clone()));
                self.agent = agent;
                self.switch_to(name);
                rt.block_on(self.warm_describes());
                self.refresh_vocab();
                println!("now {}", self.prompt().trim_end_matches("> "));
            }
            Err(e) => println!("error: {e}"),
        }
    }

    fn history(&self) {
        match self.agent.history(15) {
            Ok(entries) if entries.is_empty() => println!("no changes yet"),
            Ok(entries) => {
                for item in entries.iter().rev() {
                    let e = &item.entry;
                    let what = match (e.kind, e.refers_to) {
                        (sayso::journal::EntryKind::Undo, Some(r)) => format!(" (undo of #{r})"),
                        (sayso::journal::EntryKind::Retry, Some(r)) => {
                            format!(" (retry of #{r})")
                        }
                        _ => String::new(),
                    };
                    println!(
                        "#{:<3} {}  {}{}  [{}, {} change{}]",
                        e.id,
                        e.at.get(..16).unwrap_or(&e.at).replace('T', " "),
                        e.phrase,
                        what,
                        e.status,
                        item.total,
                        if item.total == 1 { "" } else { "s" }
                    );
                }
            }
            Err(e) => println!("error: {e}"),
        }
    }
}

/// `:help [topic]`: what to say. Alone, each grammar's `help:` line; with a topic, the examples of
/// every intent the topic names or appears in.
fn help(topic: &str) -> String {
    let Ok(g) = sayso::lang::Grammar::embedded() else {
        return "the grammar could not be loaded; this is a bug".into();
    };
    let topic = topic.trim().to_lowercase();
    // "tasks" finds "create task" as well as "… overdue tasks …"
    let topic = topic.strip_suffix('s').unwrap_or(&topic).to_string();
    let mut out = Vec::new();
    if topic.is_empty() {
        out.extend(g.help_lines().map(|(_, line)| line.to_string()));
    }
    let mut last = None;
    for (kind, example) in g.examples().filter(|_| !topic.is_empty()) {
        let name = kind.name().replace('_', " ");
        if !name.contains(&topic) && !example.to_lowercase().contains(&topic) {
            continue;
        }
        if last != Some(kind) {
            out.push(format!("{name}:"));
            last = Some(kind);
        }
        out.push(format!("  {example}"));
    }
    if out.is_empty() {
        out.push(format!("no examples about `{topic}`; try :help alone"));
    }
    out.push(String::new());
    out.push(
        ":undo  :history  :sync  :dry-run on|off  :whoami  :usage  :profile [NAME]  :help [topic]  :quit (or Ctrl-D)"
            .into(),
    );
    out.join("\n")
}
