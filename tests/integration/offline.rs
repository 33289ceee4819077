//! Working offline (issue 20), through the real binary: the sandbox serves on a fixed port from a
//! database file, is stopped (no connection: commands are queued or refused), started again on
//! the same database and port, an administrator changes a field a queued command also changes,
//! and `sayso sync` applies the rest and reports that one as a conflict with base/theirs/yours,
//! leaving the administrator's value in place. Also piped voice notes with `--queue`, and the
//! shell (queues on its own, counts the queue in its prompt, offers to sync).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::support::{AdminRest, DANA};

/// The sandbox org served from `db` on `port` by a thread of its own, until stopped.
struct Served {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    fn start(db: &Path, port: u16) -> Served {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel();
        let db = db.to_path_buf();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let sandbox = sayso::sandbox::Sandbox::open(sayso::sandbox::SandboxOptions {
                    db_path: Some(db),
                    fresh: false,
                    today: chrono::NaiveDate::from_ymd_opt(2026, 11, 18),
                    ..Default::default()
                })
                .unwrap();
                // The port was just released: bind again until the OS lets go of it.
                let mut tries = 0;
                let listener = loop {
                    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => break l,
                        Err(e) if tries < 100 => {
                            tries += 1;
                            let _ = e;
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("cannot bind port {port}: {e}"),
                    }
                };
                ready.send(()).unwrap();
                sandbox
                    .serve(listener, async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        is_ready.recv().unwrap();
        Served {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops serving: from now on a connection to the port is refused.
    fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A free loopback port (bound, then released for the sandbox).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A rep's `SAYSO_HOME` and the org's database file.
struct Field {
    dir: tempfile::TempDir,
    port: u16,
}

impl Field {
    fn new() -> Field {
        Field {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("org.db")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&self) -> Served {
        Served::start(&self.db(), self.port)
    }

    fn cli(&self) -> crate::support::Cli {
        crate::support::Cli::at(&self.home())
    }

    fn sayso(&self, args: &[&str]) -> Command {
        self.cli().sayso(args)
    }

    /// `sayso ARGS` with `input` on stdin: (exit code, JSON lines, stderr).
    fn run(&self, args: &[&str], input: &str) -> (i32, Vec<Value>, String) {
        self.cli().pipe(args, input)
    }

    /// One command through `sayso run --json [extra…]`: its JSON result and exit code.
    fn one(&self, extra: &[&str], phrase: &str) -> (i32, Value) {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        args.push(phrase);
        let (code, lines, err) = self.run(&args, "");
        assert_eq!(lines.len(), 1, "{phrase}: {lines:?} {err}");
        (code, lines[0].clone())
    }

    fn login(&self) {
        self.cli().login(&self.url(), DANA);
    }

    /// Dana logged in while the org was up; the org is stopped now.
    fn logged_in_then_offline() -> Field {
        let field = Field::new();
        let org = field.serve();
        field.login();
        org.stop();
        field
    }
}

/// Opportunity `name`, as the administrator reads it.
fn opportunity(admin: &AdminRest, name: &str) -> Value {
    let quoted = sayso::soql::quote_string(name);
    let rows = admin.rows(&format!(
        "SELECT Id, Amount, StageName, NextStep FROM Opportunity WHERE Name = {quoted}"
    ));
    assert_eq!(rows.len(), 1, "{name}: {rows:?}");
    rows[0].clone()
}

fn status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or("")
}

const UPDATE: &str = "set the amount on Initech Renewal to 92k";
const COMPOUND: &str =
    "move Project Titan to negotiation and add a note that the client approved the budget";
const TASK: &str = "remind me to follow up with Richard Hendricks tomorrow";
const BULK: &str = "set the next step on all my opportunities in qualification to send the deck";
const QUESTION: &str = "show my open opportunities";

#[test]
fn commands_said_offline_are_queued_and_synced_without_overwriting_a_colleague() {
    let field = Field::new();
    let org = field.serve();
    field.login();
    // Online, the rep looks at the deal: what she saw is the base of a later conflict.
    let (code, seen) = field.one(&[], "what's the amount on Initech Renewal");
    assert_eq!(code, 0, "{seen}");
    let admin = AdminRest::login(&field.url());
    let before = opportunity(&admin, "Initech Renewal");
    drop(admin);
    org.stop();

    // No connection: without --queue nothing is kept, and the message says how to.
    let (code, out) = field.one(&[], UPDATE);
    assert_eq!((code, status(&out)), (1, "failed"), "{out}");
    assert!(
        out["message"].as_str().unwrap().contains("--queue"),
        "{out}"
    );

    let mut queued = Vec::new();
    for phrase in [UPDATE, COMPOUND, TASK, BULK] {
        let (code, out) = field.one(&["--queue"], phrase);
        assert_eq!((code, status(&out)), (0, "queued"), "{phrase}: {out}");
        queued.push(out["records"][0]["queue"].as_i64().unwrap());
    }
    // A question needs the org; a phrase not understood is refused at once. Neither is queued.
    let (code, out) = field.one(&["--queue"], QUESTION);
    assert_eq!((code, status(&out)), (1, "failed"), "{out}");
    assert!(
        out["message"].as_str().unwrap().contains("needs the org"),
        "{out}"
    );
    let (code, out) = field.one(&["--queue"], "flibber the gronk sideways");
    assert_eq!((code, status(&out)), (1, "not_understood"), "{out}");
    // `[offline] queue = true` queues without the flag; `queue drop` removes one.
    std::fs::write(
        field.home().join("config.toml"),
        "[offline]\nqueue = true\n",
    )
    .unwrap();
    let (code, out) = field.one(&[], "mark Stark Security Suite as closed lost");
    assert_eq!((code, status(&out)), (0, "queued"), "{out}");
    let extra = out["records"][0]["queue"].as_i64().unwrap().to_string();
    let (code, lines, _) = field.run(&["queue", "--json"], "");
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 5, "{lines:?}");
    let (code, _, err) = field.run(&["queue", "drop", &extra], "");
    assert_eq!(code, 0, "{err}");
    let (_, lines, _) = field.run(&["queue", "--json"], "");
    let phrases: Vec<&str> = lines
        .iter()
        .map(|l| l["phrase"].as_str().unwrap())
        .collect();
    assert_eq!(phrases, [UPDATE, COMPOUND, TASK, BULK]);
    assert!(lines.iter().all(|l| l["state"] == "queued"), "{lines:?}");

    // The org is back, and an administrator changes the amount the first command changes.
    let _org = field.serve();
    let admin = AdminRest::login(&field.url());
    let initech = opportunity(&admin, "Initech Renewal");
    let id = initech["Id"].as_str().unwrap();
    admin.patch("Opportunity", id, json!({"Amount": 99000}));

    let (code, lines, err) = field.run(&["sync", "--yes", "--json"], "");
    assert_eq!(code, 1, "a conflict is not a success: {lines:?} {err}");
    assert_eq!(lines.len(), 4, "{lines:?} {err}");
    let by_phrase = |p: &str| lines.iter().find(|l| l["phrase"] == p).unwrap().clone();
    let conflict = by_phrase(UPDATE);
    assert_eq!(status(&conflict), "conflict", "{conflict}");
    let c = &conflict["conflicts"][0];
    assert_eq!(c["field"], "Amount", "{conflict}");
    assert_eq!(c["base"].as_f64(), before["Amount"].as_f64(), "{conflict}");
    assert_eq!(c["theirs"].as_f64(), Some(99000.0), "{conflict}");
    assert_eq!(c["yours"].as_f64(), Some(92000.0), "{conflict}");
    for p in [COMPOUND, TASK, BULK] {
        let l = by_phrase(p);
        assert_eq!(status(&l), "applied", "{p}: {l}");
        assert!(l["journal_entry"].as_i64().is_some(), "{l}");
    }
    // The administrator's value is still there; the others were written.
    assert_eq!(
        opportunity(&admin, "Initech Renewal")["Amount"].as_f64(),
        Some(99000.0)
    );
    assert_eq!(
        opportunity(&admin, "Project Titan")["StageName"],
        "Negotiation/Review"
    );
    let task = by_phrase(TASK)["changes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tasks = admin.rows(&format!(
        "SELECT Id, ActivityDate FROM Task WHERE Id = '{task}'"
    ));
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["ActivityDate"], "2026-11-19", "{tasks:?}");

    // History shows the synced commands as journal entries, and the conflict still waiting.
    let (code, lines, _) = field.run(&["history", "--json"], "");
    assert_eq!(code, 0);
    let states: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l.get("queue").is_some())
        .map(|l| {
            (
                l["phrase"].as_str().unwrap().into(),
                l["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        states.contains(&(UPDATE.into(), "conflict".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(TASK.into(), "applied".into())),
        "{states:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["phrase"] == BULK && l.get("entry").is_some()),
        "{lines:?}"
    );
    let (_, lines, _) = field.run(&["queue", "--json"], "");
    assert_eq!(lines.len(), 1, "{lines:?}");

    // Undo works on a synced command like on any other.
    let (code, lines, err) = field.run(&["undo", "--json"], "");
    assert_eq!(code, 0, "{lines:?} {err}");

    // On request the rep's value wins, for that one command.
    let n = queued[0].to_string();
    let (code, lines, err) = field.run(&["sync", "--yes", "--json", "--prefer", "mine", &n], "");
    assert_eq!(code, 0, "{lines:?} {err}");
    assert_eq!(status(&lines[0]), "applied", "{lines:?}");
    assert_eq!(
        opportunity(&admin, "Initech Renewal")["Amount"].as_f64(),
        Some(92000.0)
    );
}

#[test]
fn piped_voice_notes_with_queue_are_all_queued_then_synced() {
    let field = Field::logged_in_then_offline();
    let notes = "Okay so, I just got off the phone with Pepper Potts. Update opportunity Project Titan to negotiation.\n\n\
                 Set the next step on Pied Piper Compression Pilot to send the security whitepaper.\n\n\
                 Remind me to follow up with Richard Hendricks tomorrow.\n";
    let (code, lines, err) = field.run(&["run", "--notes", "--queue", "--json"], notes);
    assert_eq!(code, 0, "{lines:?} {err}");
    // The first note is two commands: a call logged with Pepper Potts, and the update.
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| status(l) == "queued"), "{lines:?}");

    let _org = field.serve();
    let (code, lines, err) = field.run(&["sync", "--yes", "--json"], "");
    assert_eq!(code, 0, "{lines:?} {err}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| status(l) == "applied"), "{lines:?}");
    let admin = AdminRest::login(&field.url());
    assert_eq!(
        opportunity(&admin, "Pied Piper Compression Pilot")["NextStep"],
        "send the security whitepaper"
    );
    let (_, lines, _) = field.run(&["queue", "--json"], "");
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn the_shell_queues_on_its_own_shows_the_count_and_offers_to_sync() {
    use crate::support::{expect_text, play_shell, pty, shell_fixture};
    let field = Field::logged_in_then_offline();
    let mut p = pty(field.sayso(&["shell"]));
    play_shell(&mut p, "offline-queue", &shell_fixture("offline-queue"));
    // The org answers again: the next command reaches it, and the shell offers to sync.
    let _org = field.serve();
    play_shell(&mut p, "offline-sync", &shell_fixture("offline-sync"));
    p.send_control('d').unwrap();
    expect_text(&mut p, "bye");
    let (_, lines, _) = field.run(&["queue", "--json", "--all"], "");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["state"], "applied", "{lines:?}");
}
