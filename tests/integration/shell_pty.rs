//! The interactive shell driven through a pseudo-terminal (rexpect): first run on the built-in demo
//! org (banner, prompt with profile and user), tab completion, preview then Enter applies, `n`
//! cancels, a numbered choice between matching records, `:undo` with its preview, `:history`,
//! Ctrl-C during a slow command (the demo org's injected latency) and Ctrl-D to leave.
//!
//! The dialogues are data: `tests/fixtures/shell/*.txt` (the format of
//! `examples/shell-walkthrough.txt`), played by `support::play_shell`.
//!
//! Each test starts its own `sayso` process with a fresh `SAYSO_HOME`; the demo org runs inside it
//! (seeding takes well under a second), so tests are independent and run in parallel.

use std::path::Path;

use rexpect::session::PtySession;

use crate::support::{Cli, expect_text as expect, play_shell, pty, shell_fixture};

const PROMPT: &str = "demo (Dana Reyes)> ";

fn shell(home: &Path, args: &[&str]) -> PtySession {
    pty(Cli::at(home).sayso(args))
}

/// Plays the dialogue `tests/fixtures/shell/{name}.txt` on the shell `p`.
fn play(p: &mut PtySession, name: &str) {
    play_shell(p, name, &shell_fixture(name));
}

/// A first run of the shell on the demo org in a fresh home, through the dialogue
/// `tests/fixtures/shell/{name}.txt`: the home, and the shell after the dialogue.
fn demo_dialogue(name: &str) -> (tempfile::TempDir, PtySession) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = shell(dir.path(), &[]);
    play(&mut p, name);
    (dir, p)
}

fn first_run(home: &Path) -> PtySession {
    let mut p = shell(home, &[]);
    expect(&mut p, "demo data");
    expect(&mut p, "sayso login");
    expect(&mut p, PROMPT);
    p
}

fn leave(mut p: PtySession) {
    p.send_control('d').unwrap();
    expect(&mut p, "bye");
    p.exp_eof().unwrap();
}

#[test]
fn first_run_completes_previews_applies_and_undoes() {
    let (dir, p) = demo_dialogue("first-run");
    leave(p);
    // the history of the demo profile persists
    let hist = std::fs::read_to_string(dir.path().join("history/demo.txt")).unwrap();
    assert!(
        hist.contains("set the amount on Initech Renewal to 92k"),
        "{hist}"
    );
}

#[test]
fn n_cancels_and_a_number_picks_among_matching_records() {
    let (_dir, mut p) = demo_dialogue("pick-and-cancel");
    p.send_line(":history").unwrap();
    let h = expect(&mut p, "change]");
    assert!(h.contains("#1 "), "{h}");
    assert!(h.contains("update the globex deal to negotiation"), "{h}");
    let rest = expect(&mut p, PROMPT);
    assert!(!rest.contains("#2"), "only one command was applied: {rest}");
    leave(p);
}

#[test]
fn bulk_shows_the_count_and_dry_run_mode_changes_nothing() {
    let (_dir, p) = demo_dialogue("dry-run-and-hints");
    leave(p);
}

#[test]
fn ctrl_c_cancels_a_slow_command_not_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    // Warm the describe cache at full speed first, as a returning user would have it.
    let p = first_run(dir.path());
    leave(p);
    let mut p = shell(dir.path(), &["shell", "--demo-latency-ms", "4000"]);
    expect(&mut p, PROMPT);
    p.send_line("how many open deals do I have").unwrap();
    expect(&mut p, "working (Ctrl-C cancels)");
    p.send_control('c').unwrap();
    expect(&mut p, "cancelled");
    expect(&mut p, PROMPT);
    // the shell is still alive and answers
    p.send_line(":dry-run").unwrap();
    expect(&mut p, "dry-run is off");
    leave(p);
}

#[test]
fn the_walkthrough_in_examples_holds() {
    let dir = tempfile::tempdir().unwrap();
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/shell-walkthrough.txt"
    ))
    .unwrap();
    let mut p = shell(dir.path(), &[]);
    play_shell(&mut p, "walkthrough", &script);
    leave(p);
}

#[test]
fn an_existing_profile_is_used_instead_of_the_demo() {
    let served = crate::support::Spawned::start(&[]);
    served.login("sam.okafor@demo.sayso.dev");
    let home = served.home.clone();
    let mut p = shell(&home, &[]);
    let before = expect(&mut p, "default (Sam Okafor)> ");
    assert!(!before.contains("demo data"), "{before}");
    play(&mut p, "existing-profile");
    leave(p);
    drop(served);
}
