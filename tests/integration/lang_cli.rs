//! `sayso parse` through the real binary: JSON output, the readable summary, exit codes,
//! `SAYSO_TODAY`, and `--grammar DIR` (including an invalid grammar named by file and line).

use std::process::{Command, Output};

fn sayso(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sayso"))
        .args(args)
        .env("SAYSO_TODAY", "2026-11-18")
        .env(
            "SAYSO_HOME",
            std::env::temp_dir().join("sayso-lang-cli-test"),
        )
        .output()
        .expect("the sayso binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The JSON a successful `sayso parse --json` printed (exit 0, else the test fails with stderr).
#[track_caller]
fn understood_json(o: &Output) -> serde_json::Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(stdout(o).trim()).expect("one JSON object")
}

#[test]
fn json_output_has_typed_intents_and_respects_sayso_today() {
    let o = sayso(&[
        "parse",
        "--json",
        "set the close date of the wayne security upgrade to next friday",
    ]);
    let v = understood_json(&o);
    assert_eq!(v["today"], "2026-11-18");
    let intent = &v["clauses"][0]["intent"];
    assert_eq!(intent["intent"], "update_fields");
    assert_eq!(intent["target"]["kind"], "record");
    assert_eq!(intent["target"]["text"], "wayne security upgrade");
    let change = &intent["changes"][0];
    assert_eq!(change["field"]["candidates"][0]["api_name"], "CloseDate");
    assert_eq!(change["value"]["entities"][0]["type"], "date");
    assert_eq!(change["value"]["entities"][0]["value"], "2026-11-27");
}

/// The text summary `sayso parse` prints for `phrase` (the command must succeed).
#[track_caller]
fn summary(phrase: &str) -> String {
    let o = sayso(&["parse", phrase]);
    assert_eq!(o.status.code(), Some(0), "{phrase}");
    stdout(&o)
}

#[test]
fn summary_names_every_condition_of_a_filter() {
    for (phrase, said) in [
        (
            "how many of my open deals are between 100k and 300k",
            "all my open Opportunity between 100000..300000",
        ),
        (
            "how many open deals does sam have",
            "all open Opportunity owned by sam",
        ),
    ] {
        let out = summary(phrase);
        assert!(out.contains(said), "{out}");
    }
}

#[test]
fn compound_summary_numbers_the_clauses() {
    let out = summary(
        "create a contact for Jane Doe at Acme Corp and associate her with the open Acme deal",
    );
    assert!(out.starts_with("1. create Contact Jane Doe"), "{out}");
    assert!(out.contains("2. add contact role"), "{out}");
    assert!(out.contains("record created of clause 1"), "{out}");
}

#[test]
fn not_understood_exits_1_with_suggestions() {
    let o = sayso(&["parse", "--json", "make me a sandwich"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("JSON");
    let intent = &v["clauses"][0]["intent"];
    assert_eq!(intent["intent"], "not_understood");
    assert_eq!(intent["suggestions"].as_array().map(Vec::len), Some(3));
}

#[test]
fn grammar_dir_is_loaded_and_errors_name_file_and_line() {
    // the source grammar directory loads and parses like the embedded one
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/grammars/en");
    let o = sayso(&["parse", "--grammar", dir, "show my cases"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("question (List)"));

    // a broken copy: the error names the file and line, exit code 2
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(dir).expect("grammar dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        std::fs::copy(&path, tmp.path().join(name)).expect("copy");
    }
    let undo = tmp.path().join("undo.grammar");
    let mut text = std::fs::read_to_string(&undo).expect("read");
    let line = text.lines().count() + 1;
    text.push_str("pattern: undo (that\n");
    std::fs::write(&undo, text).expect("write");
    let o = sayso(&["parse", "--grammar", &tmp.path().to_string_lossy(), "undo"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("undo.grammar:{line}:")), "{err}");
    assert!(err.contains("missing `)`"), "{err}");

    // a new synonym is a grammar edit, not code
    let lexicon = tmp.path().join("lexicon.grammar");
    let mut text = std::fs::read_to_string(&undo).expect("read");
    text = text.replace("pattern: undo (that\n", "pattern: oops\n");
    std::fs::write(&undo, text).expect("write");
    let mut lex = std::fs::read_to_string(&lexicon).expect("read");
    lex.push_str("object Opportunity = pursuit\n");
    std::fs::write(&lexicon, lex).expect("write");
    let o = sayso(&[
        "parse",
        "--json",
        "--grammar",
        &tmp.path().to_string_lossy(),
        "move the titan pursuit to negotiation",
    ]);
    let v = understood_json(&o);
    assert_eq!(v["clauses"][0]["intent"]["target"]["object"], "Opportunity");
    assert_eq!(v["clauses"][0]["intent"]["target"]["text"], "titan");
    let o = sayso(&["parse", "--grammar", &tmp.path().to_string_lossy(), "oops"]);
    assert!(stdout(&o).starts_with("undo 1"), "{}", stdout(&o));
}

#[test]
fn bad_sayso_today_is_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_sayso"))
        .args(["parse", "undo"])
        .env("SAYSO_TODAY", "18/11/2026")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
}
