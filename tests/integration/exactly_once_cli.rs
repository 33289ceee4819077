//! Issue 16 through the real binary against a sandbox org served in-process over HTTP:
//!
//! - crash safety: the agent is killed at random points of Bulk API and sObject Collections
//!   runs, a few times; after
//!   the next command, `history` and the org agree row for row, and `retry` sends only what is
//!   missing;
//! - hygiene: `journal.db` is 0600 in a 0700 folder; login, a command and logout at trace level
//!   log no token or secret; `history --json` into a closed pipe ends quietly with success;
//!   invalid UTF-8 in piped input is reported with its line number and the other lines run.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

type Served = crate::support::Forever;

/// The org (with 500 more open deals for Dana, and 25 ms added to every data call so that a
/// run takes long enough to be killed in the middle); it lives until the test binary exits.
fn org() -> &'static Served {
    static ORG: OnceLock<Served> = OnceLock::new();
    ORG.get_or_init(|| {
        let served = crate::support::serve_forever(sayso::sandbox::SandboxOptions {
            faults: sayso::sandbox::faults::FaultOptions {
                latency_ms: 25,
                ..Default::default()
            },
            ..Default::default()
        });
        with_admin(&served, async |admin| {
            crate::support::add_open_deals(admin, 500, "Crash Test", false).await
        });
        served
    })
}

/// Runs `f` with the administrator's `Org` handle on `served`, on a runtime of its own.
fn with_admin<T>(served: &Served, f: impl AsyncFnOnce(&sayso::salesforce::org::Org) -> T) -> T {
    served.with_org(ADMIN, f)
}

/// Dana's open deals in the org: id (15 characters) → NextStep.
fn org_next_steps() -> std::collections::HashMap<String, Value> {
    let rows = with_admin(org(), async |admin| {
        crate::support::danas_open_next_steps(admin).await
    });
    rows.into_iter()
        .map(|(id, next_step)| (id[..15].to_string(), next_step))
        .collect()
}

use crate::support::Cli as Home;
use crate::support::{ADA as ADMIN, DANA};

/// A home with Dana logged in to the shared sandbox.
fn dana() -> Home {
    Home::logged_in(&org().url, DANA)
}

/// Runs `phrase` with `--yes` in `home`; it must succeed.
fn applied(home: &Home, phrase: &str) {
    let (code, _, err) = home.json(&["run", "--json", "--yes", phrase]);
    assert_eq!(code, 0, "{phrase}: {err}");
}

/// The journal, newest entry first, every change.
fn history(home: &Home) -> Vec<Value> {
    let (code, lines, err) = home.json(&["history", "--json", "-n", "1000"]);
    assert_eq!(code, 0, "{err}");
    lines
}

/// What one killed run left, checked against the org: every `applied` row's record holds the
/// new value, every `failed` row's the old one; no row is left `planned` or `sent`. Returns how
/// many rows failed.
fn journal_agrees_with_org(entry: &Value) -> usize {
    let org = org_next_steps();
    let mut failed = 0;
    for c in entry["changes"].as_array().unwrap() {
        let id = &c["id"].as_str().unwrap()[..15];
        let holds = &org[id];
        match c["state"].as_str().unwrap() {
            "applied" => assert_eq!(holds, &c["new"]["NextStep"], "{c}"),
            "failed" => {
                assert_eq!(holds, &c["old"]["NextStep"], "{c}");
                failed += 1;
            }
            other => panic!("entry {}: a row left {other}: {c}", entry["entry"]),
        }
    }
    failed
}

#[test]
fn runs_killed_at_random_points_are_reconciled_and_retry_sends_only_what_is_missing() {
    let home = Dana::get();
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let mut killed_mid_run = 0;
    let mut reconciled = 0;
    for round in 0..8 {
        // Bulk API jobs of 100 rows, and sObject Collections requests of 200, in turn
        let threshold = if round % 2 == 0 { "100" } else { "2000" };
        let value = format!("Crash round {round}");
        let phrase = format!("set the next step on all my open opportunities to '{value}'");
        let mut child = home
            .sayso(&[
                "run",
                "--yes",
                "--json",
                "--bulk-threshold",
                threshold,
                "--bulk-job-rows",
                "100",
                "--max-records",
                "5000",
                &phrase,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + next() % 900));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        if !finished {
            killed_mid_run += 1;
        }
        // the next command reconciles the killed run first
        let (_, _, err) = home.json(&["run", "--json", "how many open deals do I have"]);
        let entries = history(home);
        let Some(entry) = entries.iter().find(|e| e["phrase"] == phrase.as_str()) else {
            // killed before anything was journaled: nothing was written either
            assert!(org_next_steps().values().all(|v| v != value.as_str()));
            continue;
        };
        assert_ne!(entry["status"], "planned", "{err}");
        if entry["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("reconciled after the run was interrupted")
        {
            reconciled += 1;
        }
        let failed = journal_agrees_with_org(entry);
        eprintln!(
            "round {round} ({threshold}): finished before the kill {finished}; {}: {}",
            entry["status"], entry["message"]
        );
        let (_, lines, err) = home.json(&["retry", "--json", "--bulk-threshold", threshold]);
        if failed == 0 {
            assert_eq!(lines[0]["status"], "not_found", "{err}");
        } else {
            assert_eq!(lines[0]["status"], "applied", "{}: {err}", lines[0]);
            assert_eq!(
                lines[0]["count"], failed,
                "retry sends exactly the missing rows"
            );
        }
        assert!(
            org_next_steps().values().all(|v| v == value.as_str()),
            "after the retry every record holds the new value"
        );
    }
    assert!(killed_mid_run > 0, "no run was killed in the middle");
    assert!(reconciled > 0, "no killed run was reconciled");
}

/// One logged-in home shared by the crash test.
struct Dana;

impl Dana {
    fn get() -> &'static Home {
        static HOME: OnceLock<Home> = OnceLock::new();
        HOME.get_or_init(dana)
    }
}

#[cfg(unix)]
#[test]
fn the_journal_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let home = dana();
    applied(&home, "set the amount on Initech Renewal to 92k");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home.path().join("journal.db")), 0o600);
    assert_eq!(mode(home.path()), 0o700);
    for wal in ["journal.db-wal", "journal.db-shm"] {
        let p = home.path().join(wal);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{wal}");
        }
    }
}

#[test]
fn login_a_command_and_logout_at_trace_level_log_no_token_or_secret() {
    let home = Home::new();
    let secret = "sandbox-admin-secret";
    let trace = |args: &[&str]| {
        let out = home
            .sayso(args)
            .env("RUST_LOG", "trace")
            .env("SAYSO_CLIENT_SECRET", secret)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let mut log = trace(&[
        "login",
        "--instance-url",
        &org().url,
        "--client-credentials",
        "--client-id",
        "sandbox-admin",
    ]);
    let creds: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("credentials").join("default.json")).unwrap(),
    )
    .unwrap();
    let token = creds["access_token"].as_str().unwrap().to_string();
    log += &trace(&["run", "--json", "how many open deals do I have"]);
    log += &trace(&["logout"]);
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "logging is on: {log}"
    );
    assert!(log.contains("request"), "the agent's requests are logged");
    assert!(!log.contains(&token), "the access token is in the log");
    let session = token.split('!').nth(1).unwrap_or(&token);
    assert!(
        !log.contains(session),
        "part of the access token is in the log"
    );
    assert!(!log.contains(secret), "the client secret is in the log");
}

#[test]
fn history_into_a_closed_pipe_ends_quietly_with_success() {
    // its own home: the crash test kills runs in the shared one
    let home = &dana();
    applied(home, "set the amount on Project Titan to 93k");
    let mut child = home
        .sayso(&["history", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the reader goes away before anything is written (as `| head -0`)
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn invalid_utf8_in_piped_input_is_reported_with_its_line_and_the_other_lines_run() {
    // its own home: the crash test kills runs in the shared one
    let home = &dana();
    let mut input = b"how many open deals do I have\n".to_vec();
    input.extend_from_slice(b"show the account \xff\xfe Acme\n");
    input.extend_from_slice(b"how many open deals do I have\n");
    let mut child = home
        .sayso(&["run", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let bad = lines.iter().find(|l| l["status"] == "invalid").unwrap();
    assert_eq!(bad["source"], 2);
    assert!(bad["message"].as_str().unwrap().contains("line 2"), "{bad}");
    let ran: Vec<u64> = lines
        .iter()
        .filter(|l| l["status"] == "answered")
        .map(|l| l["source"].as_u64().unwrap())
        .collect();
    assert_eq!(ran, vec![1, 3]);
}
