//! Piped input through the binary against one sandbox org served in-process for the whole file:
//! `examples/bulk-script.txt` (200 commands, one per line) through `sayso run - --json`, and the
//! 20-note transcript `examples/voice-notes.txt` through `sayso run --notes --json`. Checks every
//! JSON result, that nothing waits for input (confirmations and choices are reported), the exit
//! code, and the org afterwards.
//!
//! Each test logs Dana in to its own `SAYSO_HOME`; the two scripts touch different records.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The sandbox URL; the org lives on a background thread until the test binary exits.
fn org() -> &'static str {
    static ORG: OnceLock<crate::support::Forever> = OnceLock::new();
    &ORG.get_or_init(|| crate::support::serve_forever(sayso::sandbox::SandboxOptions::default()))
        .url
}

use crate::support::Cli as Home;
use crate::support::DANA;

/// A home with Dana logged in to the file's sandbox.
fn dana() -> Home {
    Home::logged_in(org(), DANA)
}

/// One question, answered.
fn ask(home: &Home, phrase: &str) -> Value {
    let (code, lines, err) = home.json(&["run", "--json", phrase]);
    assert_eq!(code, 0, "{phrase}: {err}");
    lines[0].clone()
}

fn example(name: &str) -> String {
    let p: PathBuf = [ROOT, "examples", name].iter().collect();
    std::fs::read_to_string(p).unwrap()
}

fn status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or("")
}

#[test]
fn a_200_line_script_runs_every_line_and_reports_what_needs_a_person() {
    let home = dana();
    let script = example("bulk-script.txt");
    // stdin that is not a terminal is read as a script even without `-`
    let (code, results, err) = home.pipe(&["run", "--json"], &script);
    assert_eq!(results.len(), 200, "{err}");
    assert_eq!(code, 1, "some lines are not applied or answered");
    // every result names its line
    let lines: Vec<&str> = script.lines().collect();
    for r in &results {
        let n = r["source"].as_u64().unwrap() as usize;
        assert_eq!(r["input"], lines[n - 1].trim(), "{r}");
    }
    let by_status = |s: &str| results.iter().filter(|r| status(r) == s).count();
    assert_eq!(by_status("applied"), 120);
    assert_eq!(by_status("answered"), 76);
    assert_eq!(by_status("needs_confirmation"), 1);
    assert_eq!(by_status("ambiguous"), 1);
    assert_eq!(by_status("not_understood"), 2);
    // creates, then updates with old → new, then look-ups that see them
    let first = &results[0];
    assert_eq!(first["changes"][0]["op"], "create");
    assert_eq!(first["changes"][0]["sobject"], "Lead");
    assert_eq!(
        first["changes"][0]["fields"]["Company"]["new"],
        "Analytical Engines"
    );
    let title = &results[40];
    assert_eq!(
        title["input"],
        "change Ada Lovelace's title to chief technology officer"
    );
    assert_eq!(
        title["changes"][0]["fields"]["Title"],
        serde_json::json!({"old": null, "new": "chief technology officer"})
    );
    let lookup = &results[80];
    assert_eq!(status(lookup), "answered");
    assert_eq!(lookup["records"][0]["Name"], "Ada Lovelace");
    let note = &results[120];
    assert_eq!(note["changes"][0]["sobject"], "ContentNote");
    assert_eq!(note["changes"][1]["sobject"], "ContentDocumentLink");
    // the bulk change waited for confirmation with a preview, and nothing was written
    let bulk = results
        .iter()
        .find(|r| status(r) == "needs_confirmation")
        .unwrap();
    assert!(bulk["count"].as_u64().unwrap() >= 2, "{bulk}");
    assert!(bulk["changes"].as_array().unwrap().is_empty());
    assert!(!bulk["records"].as_array().unwrap().is_empty());
    let amb = results.iter().find(|r| status(r) == "ambiguous").unwrap();
    assert_eq!(amb["candidates"].as_array().unwrap().len(), 2);
    // the org agrees
    let v = ask(&home, "look up Betty Holberton");
    assert_eq!(v["records"][0]["Company"], "Bletchley Systems");
    // saying the title again changes nothing: it holds
    let v = ask(&home, "change Betty Holberton's title to procurement lead");
    assert_eq!(status(&v), "applied");
    assert!(v["changes"].as_array().unwrap().is_empty(), "{v}");
    let v = ask(&home, "what's the status of the Globex Enterprise License");
    assert_ne!(v["records"][0]["NextStep"], "Send final contract");
}

#[test]
fn a_20_note_transcript_is_split_into_commands_and_chatter_is_skipped() {
    let home = dana();
    let notes = example("voice-notes.txt");
    let (code, results, _) = home.pipe(&["run", "--notes", "--json"], &notes);
    let got: Vec<(u64, &str)> = results
        .iter()
        .map(|r| (r["source"].as_u64().unwrap(), status(r)))
        .collect();
    let want: Vec<(u64, &str)> = vec![
        (1, "applied"), // "got off the phone with Pepper Potts" logs a call
        (1, "applied"),
        (2, "applied"),
        (3, "applied"),
        (4, "applied"),
        (5, "applied"),
        (6, "applied"),
        (7, "applied"),
        (8, "applied"),
        (8, "applied"),
        (9, "applied"),
        (10, "applied"),
        (11, "applied"),
        (12, "applied"),
        (13, "applied"),
        (14, "ambiguous"),
        (15, "applied"),
        (16, "answered"),
        (17, "applied"),
        (17, "applied"),
        (18, "not_found"),
        (19, "applied"),
        (20, "applied"),
    ];
    assert_eq!(got, want, "{results:#?}");
    assert_eq!(code, 1);
    // chatter never reaches the agent
    for r in &results {
        let input = r["input"].as_str().unwrap();
        assert!(
            !input.contains("went really well") && !input.contains("hard to reach"),
            "{input}"
        );
    }
    // a pronoun in the same sentence stays one command: contact, role and call together
    let acme = &results[10];
    assert_eq!(acme["changes"].as_array().unwrap().len(), 3, "{acme}");
    // the org changed as said
    let v = ask(&home, "what's the status of Initech Renewal");
    assert_eq!(v["records"][0]["Amount"], 92000.0);
    let v = ask(&home, "what's the status of Project Titan");
    assert_eq!(v["records"][0]["StageName"], "Negotiation/Review");
    let v = ask(&home, "look up Sam Flynn");
    assert_eq!(v["records"][0]["Company"], "ENCOM");
    // the ambiguous deal was left alone
    let v = ask(&home, "what's the status of Hooli XYZ Data Platform");
    assert_ne!(v["records"][0]["StageName"], "Negotiation/Review");
    let v = ask(
        &home,
        "set the probability of Hooli XYZ Data Platform to 20 percent",
    );
    assert!(v["changes"].as_array().unwrap().is_empty(), "{v}");
    // text mode says what it skipped
    let (_, _, err) = home.pipe(
        &["run", "--notes"],
        "It went really well. How many open deals do I have?",
    );
    assert!(
        err.contains("skipped (not a command): It went really well."),
        "{err}"
    );
}
