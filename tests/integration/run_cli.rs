//! `sayso run`, `history`, `undo` and `retry` through the binary against a spawned sandbox
//! (`sayso sandbox serve --port 0`): JSON Lines output, statuses and exit codes, and a bulk run
//! killed with SIGKILL and resumed from the journal.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{AdminRest, Spawned as Served};

fn serve(extra: &[&str]) -> Served {
    Served::start(extra)
}

/// Runs the binary with the sandbox's home: (exit code, JSON lines).
fn json(s: &Served, args: &[&str]) -> (i32, Vec<Value>) {
    let (code, lines, _) = s.cli().json(args);
    (code, lines)
}

/// One phrase through `sayso run --yes --json`: (exit code, its result).
fn run(s: &Served, phrase: &str) -> (i32, Value) {
    let (code, lines) = json(s, &["run", "--yes", "--json", phrase]);
    assert_eq!(lines.len(), 1, "{phrase}");
    (code, lines[0].clone())
}

fn stage(s: &Served, name: &str) -> String {
    let (_, v) = run(s, &format!("what's the status of {name}"));
    v["records"][0]["StageName"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn statuses_and_exit_codes() {
    let s = serve(&[]);
    s.login("dana.reyes@demo.sayso.dev");
    let cases = [
        (
            "update opportunity Project Titan to Negotiation",
            "applied",
            0,
        ),
        ("how many open deals do I have", "answered", 0),
        ("move the hooli deal to negotiation", "ambiguous", 1),
        (
            "update the acme logistics fleet expansion to negotiation",
            "not_found",
            1,
        ),
        ("set acme corp's customer tier to gold", "denied", 1),
        ("update project titan's stage to wonderful", "invalid", 1),
        ("make me a sandwich", "not_understood", 1),
        (
            "update opportunity titan' OR Name != 'x to negotiation",
            "not_found",
            1,
        ),
    ];
    for (phrase, status, code) in cases {
        let (got, v) = run(&s, phrase);
        assert_eq!(v["status"], status, "{phrase}: {v}");
        assert_eq!(got, code, "{phrase}");
        assert!(v["api_calls"].as_u64().is_some());
    }
    // a question about a name that fits several records: `ambiguous` with the candidates
    for phrase in ["show the account Acme%", "look up the acme account"] {
        let (got, v) = run(&s, phrase);
        assert_eq!(
            (got, v["status"].as_str()),
            (1, Some("ambiguous")),
            "{phrase}: {v}"
        );
        let names: Vec<&str> = v["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["Acme Corp", "Acme Logistics"], "{phrase}: {v}");
        assert!(
            v["candidates"][0]["id"]
                .as_str()
                .is_some_and(|i| i.starts_with("001"))
        );
    }
    // dry run: exit 0, nothing changes
    let (code, lines) = json(
        &s,
        &[
            "run",
            "--dry-run",
            "--json",
            "update the initech deal to closed won",
        ],
    );
    assert_eq!((code, lines[0]["status"].as_str()), (0, Some("dry_run")));
    assert_eq!(stage(&s, "Initech Renewal"), "Proposal/Price Quote");
    // bulk without --yes and without a terminal: needs confirmation, exit 1
    let (code, lines) = json(
        &s,
        &["run", "--json", "mark all my overdue tasks as complete"],
    );
    assert_eq!(
        (code, lines[0]["status"].as_str()),
        (1, Some("needs_confirmation"))
    );
    // above --max-records
    let (code, lines) = json(
        &s,
        &[
            "run",
            "--yes",
            "--json",
            "--max-records",
            "1",
            "mark all my overdue tasks as complete",
        ],
    );
    assert_eq!(
        (code, lines[0]["status"].as_str()),
        (1, Some("limit_exceeded"))
    );
    // usage error
    let (code, _) = json(&s, &["run", "--json", "--no-such-flag", "x"]);
    assert_eq!(code, 2);
    // several commands from stdin: one JSON line each
    let mut child = s
        .cli()
        .sayso(&["run", "--yes", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"show my open opportunities closing this quarter\nmake me a sandwich\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let statuses: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(statuses, ["answered", "not_understood"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn history_and_undo_through_the_binary() {
    let s = serve(&[]);
    s.login("dana.reyes@demo.sayso.dev");
    let (code, v) = run(&s, "move the globex enterprise license to closed won");
    assert_eq!((code, v["status"].as_str()), (0, Some("applied")), "{v}");
    let (code, v) = run(&s, "log a note on Acme Corp: they want to move forward");
    assert_eq!((code, v["status"].as_str()), (0, Some("applied")), "{v}");
    let (_, entries) = json(&s, &["history", "--json"]);
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0]["phrase"],
        "log a note on Acme Corp: they want to move forward"
    );
    assert_eq!(
        entries[1]["changes"][0]["old"]["StageName"],
        "Negotiation/Review"
    );
    // undo the note (latest), then the stage change (entry 1)
    let (code, lines) = json(&s, &["undo", "--json"]);
    assert_eq!(
        (code, lines[0]["status"].as_str()),
        (0, Some("applied")),
        "{:?}",
        lines
    );
    let (code, lines) = json(&s, &["undo", "1", "--json"]);
    assert_eq!(
        (code, lines[0]["status"].as_str()),
        (0, Some("applied")),
        "{:?}",
        lines
    );
    assert_eq!(stage(&s, "Globex Enterprise License"), "Negotiation/Review");
    let (_, entries) = json(&s, &["history", "--json"]);
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["kind"], "undo");
}

fn journal_results(home: &Path) -> (i64, i64) {
    let Ok(conn) = rusqlite::Connection::open(home.join("journal.db")) else {
        return (0, 0);
    };
    let planned: i64 = conn
        .query_row("SELECT COUNT(*) FROM change", [], |r| r.get(0))
        .unwrap_or(0);
    let done: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM change_result WHERE state = 'applied'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    (planned, done)
}

/// Inserts `n` (a multiple of 200) open tasks for Dana as the sandbox administrator (through the
/// agent's own bulk path this would be too slow to set up).
fn insert_open_tasks(s: &Served, n: usize) {
    let admin = AdminRest::login(&s.url);
    for chunk in 0..n / 200 {
        let records: Vec<Value> = (0..200)
            .map(|i| {
                serde_json::json!({"attributes": {"type": "Task"}, "Subject": format!("Bulk chore {}", chunk * 200 + i),
                    "Status": "Not Started", "OwnerId": "005Dm0000000003IAA", "WhatId": "006Dm0000000001IAA"})
            })
            .collect();
        admin.post(
            "composite/sobjects",
            serde_json::json!({"allOrNone": true, "records": records}),
        );
    }
}

fn stage_rows(home: &Path) -> i64 {
    let conn = rusqlite::Connection::open(home.join("journal.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM stage_change", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn streamed_bulk_run_prints_every_change_and_is_undone() {
    let s = serve(&[]);
    s.login("dana.reyes@demo.sayso.dev");
    // more than the default threshold (2,000), so that `sayso undo` streams too
    insert_open_tasks(&s, 2200);
    let (_, before) = run(&s, "how many open tasks do I have");
    let open = before["count"].as_u64().unwrap();
    assert!(open >= 2200, "{before}");
    let phrase = "mark all my open tasks as complete";
    let flags = ["--bulk-threshold", "50", "--max-records", "5000"];
    // a dry run stages the records to count them, and leaves nothing behind
    let mut args = vec!["run", "--json", "--dry-run"];
    args.extend(flags);
    args.push(phrase);
    let (code, lines) = json(&s, &args);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines[0]["status"], "dry_run");
    assert_eq!(lines[0]["count"], open);
    assert!(
        lines[0]["calls"][0]
            .as_str()
            .unwrap()
            .contains("Bulk API 2.0 job"),
        "{}",
        lines[0]["calls"]
    );
    assert_eq!(stage_rows(&s.home), 0);
    // without --yes: needs confirmation, nothing written, nothing left staged
    let mut args = vec!["run", "--json"];
    args.extend(flags);
    args.push(phrase);
    let (code, lines) = json(&s, &args);
    assert_eq!(code, 1);
    assert_eq!(lines[0]["status"], "needs_confirmation");
    assert_eq!(stage_rows(&s.home), 0);
    // applied: one JSON line whose `changes` lists every record, streamed from the journal
    let mut args = vec!["run", "--json", "--yes"];
    args.extend(flags);
    args.push(phrase);
    let (code, lines) = json(&s, &args);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines.len(), 1);
    let v = &lines[0];
    assert_eq!(v["status"], "applied", "{}", v["message"]);
    assert_eq!(v["count"], open);
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len() as u64, open);
    assert!(
        changes
            .iter()
            .all(|c| c["fields"]["Status"]["new"] == "Completed"
                && c["fields"]["Status"]["old"].is_string()
                && c["fields"]["Status"]["old"] != "Completed"
                && c["sobject"] == "Task"),
        "{changes:?}"
    );
    let inserted = changes
        .iter()
        .filter(|c| c["fields"]["Status"]["old"] == "Not Started")
        .count();
    assert!(inserted >= 2200, "{inserted}");
    assert!(v["failures"].as_array().unwrap().is_empty());
    assert_eq!(stage_rows(&s.home), 0);
    let (_, after) = run(&s, "how many open tasks do I have");
    assert_eq!(after["count"], 0, "{after}");
    // the whole run is one journal entry, and history lists every change of it
    let (code, lines) = json(&s, &["history", "--json", "--limit", "1"]);
    assert_eq!(code, 0);
    assert_eq!(lines[0]["changes"].as_array().unwrap().len() as u64, open);
    assert_eq!(lines[0]["changes"][0]["state"], "applied");
    // undo puts every task back
    let (code, lines) = json(&s, &["undo", "--json"]);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines[0]["status"], "applied", "{}", lines[0]["message"]);
    assert_eq!(lines[0]["changes"].as_array().unwrap().len() as u64, open);
    let (_, back) = run(&s, "how many open tasks do I have");
    assert_eq!(back["count"], open);
}

#[test]
fn killed_bulk_run_resumes_from_the_journal() {
    // Slow every data call down so the run can be killed between two collection requests.
    let s = serve(&["--latency-ms", "300"]);
    s.login("dana.reyes@demo.sayso.dev");
    insert_open_tasks(&s, 600);
    let mut child = s
        .cli()
        .sayso(&[
            "run",
            "--yes",
            "--json",
            "mark all my open tasks as complete",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // wait until part of the run is journaled as done, then SIGKILL
    let mut seen = (0, 0);
    for _ in 0..400 {
        seen = journal_results(&s.home);
        if seen.1 > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let (planned, done) = journal_results(&s.home);
    assert!(planned > 600, "planned {planned}, seen {seen:?}");
    assert!(done > 0 && done < planned, "done {done} of {planned}");
    let (code, lines) = json(&s, &["retry", "--json"]);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines[0]["status"], "applied");
    let (_, v) = run(&s, "how many open tasks do I have");
    assert_eq!(v["count"], 0, "{v}");
}

#[test]
fn spent_api_allocation_is_limit_exceeded() {
    let s = serve(&["--api-limit", "3"]);
    s.login("dana.reyes@demo.sayso.dev");
    let mut last = Value::Null;
    for _ in 0..4 {
        let (code, v) = run(&s, "set the next step on Project Titan to 'Call legal'");
        last = v;
        if last["status"] == "limit_exceeded" {
            assert_eq!(code, 1);
            break;
        }
    }
    assert_eq!(last["status"], "limit_exceeded", "{last}");
}

#[test]
fn past_the_budget_warning_every_command_says_so() {
    let s = serve(&[]);
    s.login("dana.reyes@demo.sayso.dev");
    let run = |phrase: &str| {
        s.cli()
            .sayso(&["run", "--yes", "--json", phrase])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Below the threshold: no warning.
    let out = run("how many open deals do I have");
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A budget whose warning threshold the calls made so far already pass.
    std::fs::write(
        s.home.join("config.toml"),
        "[budget]\ndaily_calls = 1000\nwarn_at = 0.001\n",
    )
    .unwrap();
    let out = run("how many open deals do I have");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning:") && err.contains("budget"), "{err}");
    // The JSON on stdout stays one clean object.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with('{')).count(), 1);
}

/// What the org holds, as the administrator sees it: every record's id and last change, by object.
fn org_state(admin: &AdminRest) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for object in [
        "Opportunity",
        "Account",
        "Contact",
        "Lead",
        "Case",
        "Task",
        "Event",
        "OpportunityContactRole",
        "ContentNote",
    ] {
        for r in admin.rows(&format!("SELECT Id, SystemModstamp FROM {object}")) {
            out.push((r["Id"].to_string(), r["SystemModstamp"].to_string()));
        }
    }
    out.sort();
    out
}

/// Dana's open opportunities as the administrator reads them, row by row (no aggregates).
fn danas_open_deals(admin: &AdminRest) -> Vec<Value> {
    let me = admin.rows("SELECT Id FROM User WHERE Username = 'dana.reyes@demo.sayso.dev'");
    let me = me[0]["Id"].as_str().unwrap().to_string();
    admin
        .rows("SELECT Id, Name, OwnerId, Amount, StageName, CloseDate, IsClosed FROM Opportunity")
        .into_iter()
        .filter(|r| r["OwnerId"] == me.as_str() && r["IsClosed"] == false)
        .collect()
}

/// The `Name` of each row.
fn names(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["Name"].as_str().unwrap()).collect()
}

fn amount(r: &Value) -> f64 {
    r["Amount"].as_f64().unwrap_or(0.0)
}

#[test]
fn questions_answer_what_the_org_holds_in_one_query_and_never_write() {
    let s = serve(&[]);
    s.login("dana.reyes@demo.sayso.dev");
    let admin = AdminRest::login(&s.url);
    let before = org_state(&admin);
    let deals = danas_open_deals(&admin);
    assert!(deals.len() > 5, "the demo org gives Dana open deals");
    let total: f64 = deals.iter().map(amount).sum();

    // warm the describe cache: then every aggregate question is exactly one query
    let (code, v) = run(&s, "how many open deals do I have");
    assert_eq!((code, v["status"].as_str()), (0, Some("answered")), "{v}");
    assert_eq!(v["count"], deals.len() as u64, "{v}");
    let (_, v) = run(&s, "what's my total open pipeline");
    assert!((v["sum"].as_f64().unwrap() - total).abs() < 0.5, "{v}");
    assert_eq!(v["api_calls"], 1, "a total is one query: {v}");
    let (_, v) = run(&s, "what's my average open deal size");
    let avg = total / deals.len() as f64;
    assert!((v["avg"].as_f64().unwrap() - avg).abs() < 0.5, "{v}");
    assert_eq!(v["api_calls"], 1, "{v}");

    // grouped: by stage and by close month, each group's count and sum
    let (_, v) = run(&s, "break down my open pipeline by stage");
    assert_eq!(v["api_calls"], 1, "{v}");
    let groups = v["groups"].as_array().unwrap();
    let mut stages: Vec<&str> = deals
        .iter()
        .map(|d| d["StageName"].as_str().unwrap())
        .collect();
    stages.sort();
    stages.dedup();
    assert_eq!(groups.len(), stages.len(), "{v}");
    for g in groups {
        let key = g["key"].as_str().unwrap();
        let mine: Vec<&Value> = deals.iter().filter(|d| d["StageName"] == key).collect();
        assert_eq!(g["count"], mine.len() as u64, "{key}");
        let sum: f64 = mine.iter().map(|d| amount(d)).sum();
        assert!((g["sum"].as_f64().unwrap() - sum).abs() < 0.5, "{key}");
    }
    let (_, v) = run(&s, "my open pipeline by close month");
    for g in v["groups"].as_array().unwrap() {
        let key = g["key"].as_str().unwrap();
        let n = deals
            .iter()
            .filter(|d| d["CloseDate"].as_str().unwrap().starts_with(key))
            .count();
        assert_eq!(g["count"], n as u64, "{key}: {v}");
    }

    // top-N and "closes next": in order, from today on
    let mut by_amount = deals.clone();
    by_amount.sort_by(|a, b| amount(b).total_cmp(&amount(a)));
    let (_, v) = run(&s, "what are my 3 biggest open deals");
    assert_eq!(
        names(v["records"].as_array().unwrap()),
        names(&by_amount[..3])
    );
    let next = deals
        .iter()
        .filter(|d| d["CloseDate"].as_str().unwrap() >= "2026-11-18")
        .min_by_key(|d| d["CloseDate"].as_str().unwrap().to_string())
        .unwrap();
    let (_, v) = run(&s, "which of my deals closes next");
    assert_eq!(v["records"][0]["Name"], next["Name"], "{v}");
    assert_eq!(v["records"].as_array().unwrap().len(), 1, "{v}");

    // staleness: the last activity, else the last change, before 30 days ago
    let rows = admin
        .rows("SELECT Id, OwnerId, IsClosed, LastActivityDate, LastModifiedDate FROM Opportunity");
    let ids: Vec<&Value> = deals.iter().map(|d| &d["Id"]).collect();
    let stale = rows
        .iter()
        .filter(|r| ids.contains(&&r["Id"]))
        .filter(|r| match r["LastActivityDate"].as_str() {
            Some(d) => d < "2026-10-19",
            None => r["LastModifiedDate"].as_str().unwrap() < "2026-10-19",
        })
        .count();
    let (_, v) = run(
        &s,
        "how many of my open deals haven't been touched in 30 days",
    );
    assert_eq!(v["count"], stale as u64, "{v}");

    // the asked field of a named record, and a related record's name
    let titan = deals.iter().find(|d| d["Name"] == "Project Titan").unwrap();
    let (_, v) = run(&s, "what's the amount on project titan");
    assert_eq!(v["records"][0]["Amount"], titan["Amount"], "{v}");
    let (_, v) = run(&s, "who owns project titan");
    assert_eq!(v["records"][0]["Owner.Name"], "Dana Reyes", "{v}");

    // a question is never a write, even when it reads like one
    let (code, v) = run(&s, "who is the economic buyer on project titan");
    assert_eq!(code, 0, "{v}");
    let (code, v) = run(&s, "what did I change today");
    assert_eq!((code, v["count"].as_u64()), (0, Some(0)), "{v}");
    assert_eq!(org_state(&admin), before, "a question changed the org");

    // history answers from the journal: today's commands (the real clock, as the journal keeps it)
    let write = "set the next step on project titan to call the CFO";
    let (code, _) = run(&s, write);
    assert_eq!(code, 0);
    let out = s
        .cli()
        .sayso(&["run", "--json", "what did I change today"])
        .env_remove("SAYSO_TODAY")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(v["records"][0]["Name"], write, "{v}");
}
