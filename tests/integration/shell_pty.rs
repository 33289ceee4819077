//! The interactive shell driven through a pseudo-terminal (rexpect): first run on the built-in demo
//! org (banner, prompt with profile and user), tab completion, preview then Enter applies, `n`
//! cancels, a numbered choice between matching records, `:undo` with its preview, `:history`,
//! Ctrl-C during a slow command (the demo org's injected latency) and Ctrl-D to leave.
//!
//! Each test starts its own `sayso` process with a fresh `SAYSO_HOME`; the demo org runs inside it
//! (seeding takes well under a second), so tests are independent and run in parallel.

use std::path::Path;
use std::process::Command;

use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};

const BIN: &str = env!("CARGO_BIN_EXE_sayso");
const PROMPT: &str = "demo (Dana Reyes)> ";

fn shell(home: &Path, args: &[&str]) -> PtySession {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("SAYSO_HOME", home)
        .env("SAYSO_TODAY", "2026-11-18")
        .env("NO_COLOR", "1")
        .env_remove("SAYSO_PROFILE")
        .env("TERM", "xterm");
    // Escape codes stay in: rexpect's stripper swallows text after rustyline's `ESC[?2004h`.
    let opts = Options::new().timeout_ms(Some(30_000));
    spawn_with_options(c, opts).expect("spawn the shell")
}

#[track_caller]
fn expect(p: &mut PtySession, needle: &str) -> String {
    match p.exp_string(needle) {
        Ok(before) => before,
        Err(e) => panic!("waiting for {needle:?}: {e}"),
    }
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
    let dir = tempfile::tempdir().unwrap();
    let mut p = first_run(dir.path());
    // Tab completes a field label from the cached describes, then the command is previewed.
    p.send("set the amou").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    expect(&mut p, "amount");
    p.send_line(" on Initech Renewal to 92k").unwrap();
    expect(
        &mut p,
        "update Opportunity \"Initech Renewal\": Amount: 85,000 ",
    );
    expect(&mut p, " 92,000");
    expect(&mut p, "apply? [Enter = yes, n = no]");
    p.send_line("").unwrap();
    expect(&mut p, "applied");
    expect(&mut p, PROMPT);
    // the record name just seen now completes
    p.send("what's the status of Initech R").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    expect(&mut p, "Initech Renewal");
    p.send_line("").unwrap();
    expect(&mut p, "answered");
    expect(&mut p, "92,000");
    expect(&mut p, PROMPT);
    // :undo shows what it reverts, Enter confirms
    p.send_line(":undo").unwrap();
    expect(
        &mut p,
        "undo #1 \"set the amount on Initech Renewal to 92k\"",
    );
    expect(
        &mut p,
        "restore Opportunity \"Initech Renewal\": Amount: 92,000 ",
    );
    expect(&mut p, " 85,000");
    p.send_line("").unwrap();
    expect(&mut p, "applied");
    expect(&mut p, PROMPT);
    p.send_line(":history").unwrap();
    expect(&mut p, "(undo of #1)");
    expect(&mut p, PROMPT);
    p.send_line("what's the status of Initech Renewal").unwrap();
    expect(&mut p, "85,000");
    expect(&mut p, PROMPT);
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
    let dir = tempfile::tempdir().unwrap();
    let mut p = first_run(dir.path());
    p.send_line("set the amount on Initech Renewal to 95k")
        .unwrap();
    expect(&mut p, "Amount: 85,000 ");
    expect(&mut p, " 95,000");
    expect(&mut p, "apply?");
    p.send_line("n").unwrap();
    expect(&mut p, "cancelled; nothing changed");
    expect(&mut p, PROMPT);
    // two Globex deals: a numbered list with what tells them apart
    p.send_line("update the globex deal to negotiation")
        .unwrap();
    expect(&mut p, "`globex` matches 2 records");
    expect(&mut p, "Stage");
    expect(&mut p, "Globex Facilities Add-on");
    expect(&mut p, "Needs Analysis");
    expect(&mut p, "which one? [1-2, Enter cancels]");
    p.send_line("2").unwrap();
    expect(
        &mut p,
        "update Opportunity \"Globex Facilities Add-on\": StageName: Needs Analysis ",
    );
    expect(&mut p, " Negotiation/Review");
    expect(&mut p, "apply?");
    p.send_line("").unwrap();
    expect(&mut p, "applied");
    expect(&mut p, PROMPT);
    // only the picked deal changed; the cancelled amount did not
    p.send_line("what's the status of Initech Renewal").unwrap();
    expect(&mut p, "85,000");
    expect(&mut p, PROMPT);
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
    let dir = tempfile::tempdir().unwrap();
    let mut p = first_run(dir.path());
    p.send_line(":dry-run on").unwrap();
    expect(&mut p, "demo (Dana Reyes) [dry-run]> ");
    p.send_line("mark all my overdue tasks as done").unwrap();
    expect(&mut p, "changes");
    expect(&mut p, "Status:");
    expect(&mut p, "dry run: nothing changed");
    p.send_line(":dry-run off").unwrap();
    expect(&mut p, PROMPT);
    // a hint finishes an example as you type; the right arrow accepts it
    p.send("how many op").unwrap();
    p.flush().unwrap();
    expect(&mut p, "how many open deals do I have");
    p.send("\x1b[C").unwrap();
    p.send_line("").unwrap();
    expect(&mut p, "answered: 15 Opportunity records");
    expect(&mut p, PROMPT);
    p.send_line(":history").unwrap();
    expect(&mut p, "no changes yet");
    p.send_line(":help notes").unwrap();
    expect(&mut p, "add note:");
    expect(&mut p, PROMPT);
    // alone, :help shows each grammar's `help:` line
    p.send_line(":help").unwrap();
    expect(&mut p, "\"open a case for Acme Corp");
    expect(&mut p, PROMPT);
    p.send_line(":whoami").unwrap();
    expect(&mut p, "dana.reyes@demo.sayso.dev");
    expect(&mut p, PROMPT);
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
    for (n, line) in script.lines().enumerate() {
        if let Some(typed) = line
            .strip_prefix("> ")
            .or(if line == ">" { Some("") } else { None })
        {
            for (i, part) in typed.split("<TAB>").enumerate() {
                if i > 0 {
                    p.send("\t").unwrap();
                }
                p.send(part).unwrap();
                p.flush().unwrap();
            }
            p.send_line("").unwrap();
        } else if let Some(shown) = line.strip_prefix("< ")
            && let Err(e) = p.exp_string(shown)
        {
            panic!("walkthrough line {}: waiting for {shown:?}: {e}", n + 1);
        }
    }
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
    p.send_line(":profile").unwrap();
    expect(&mut p, "* default  sam.okafor@demo.sayso.dev");
    expect(&mut p, "default (Sam Okafor)> ");
    // switching to the demo profile starts the built-in org
    p.send_line(":profile demo").unwrap();
    expect(&mut p, "now demo (Dana Reyes)");
    p.send_line("how many open deals do I have").unwrap();
    expect(&mut p, "answered: 15 Opportunity records");
    expect(&mut p, PROMPT);
    leave(p);
    drop(served);
}
