//! Property tests: arbitrary and adversarial text (quotes, backslashes, SOQL fragments, very long
//! lines, emoji, control characters) never panics the parser and always yields intents or
//! `not_understood`; the output always serialises to JSON.

use chrono::NaiveDate;
use proptest::prelude::*;
use sayso::lang::{Grammar, Intent, ParsedCommand};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 18).expect("valid date")
}

fn grammar() -> &'static Grammar {
    Grammar::embedded().expect("embedded grammar")
}

/// The invariants every parse result keeps.
fn check_invariants(text: &str, parsed: &ParsedCommand) {
    assert_eq!(parsed.input, text);
    assert!(!parsed.clauses.is_empty(), "no clauses for {text:?}");
    if parsed.is_not_understood() {
        // a command with a not-understood clause never carries a guess that writes
        assert!(
            parsed
                .clauses
                .iter()
                .any(|c| matches!(c.intent, Intent::NotUnderstood(_)))
        );
    }
    let json = serde_json::to_string(parsed).expect("serialises");
    let back: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert!(back["clauses"].is_array());
    // every pronoun points at an earlier clause
    for (i, clause) in back["clauses"].as_array().into_iter().flatten().enumerate() {
        let mut stack = vec![&clause["intent"]];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(a) = map.get("antecedent").filter(|a| !a.is_null()) {
                        let c = a["clause"].as_u64().expect("clause index");
                        assert!(
                            (c as usize) < i,
                            "clause {i} points at clause {c} in {text:?}"
                        );
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
    }
}

/// Fragments that stress quoting, escaping and the grammar's keywords.
const FRAGMENTS: &[&str] = &[
    "update",
    "set",
    "the amount",
    "on",
    "to",
    "'",
    "\"",
    "\u{201C}",
    "\u{2019}",
    "\\",
    "\\'",
    "' OR Name != 'x",
    "'; DELETE FROM Account; --",
    "%",
    "_",
    "SELECT Id FROM Opportunity WHERE Name LIKE '%a%'",
    ":",
    ",",
    "and",
    "then",
    "her",
    "it",
    "that deal",
    "all my open",
    "opportunities",
    "tasks",
    "as",
    "done",
    "92k",
    "$1.2M",
    "ninety",
    "thousand",
    "next friday",
    "end of next quarter",
    "12/45",
    "2026-13-40",
    "um",
    "I mean",
    "no wait",
    "\u{1F600}",
    "\u{0}",
    "\u{7}",
    "\t",
    "\r\n",
    "\u{202E}",
    "case 00001001",
    "add a note to",
    "log a call with",
    "remind me to",
    "99999999999999999999999",
    "1e308",
    "-5",
    ".",
    "!=",
    "=>",
    "{target}",
    "@set",
    "[the]",
    "(on|of)",
];

fn fragment_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            "[a-zA-Z]{1,8}",
            "\\PC{0,6}",
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..40,
    )
    .prop_map(|parts| parts.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,200}") {
        let parsed = grammar().parse(&text, today());
        check_invariants(&text, &parsed);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let parsed = grammar().parse(&text, today());
        check_invariants(&text, &parsed);
    }

    #[test]
    fn adversarial_fragment_soup_never_panics(text in fragment_soup()) {
        let parsed = grammar().parse(&text, today());
        check_invariants(&text, &parsed);
    }

    #[test]
    fn compound_soup_links_only_backwards(
        parts in prop::collection::vec(prop::sample::select(&[
            "create a contact for jane doe at acme",
            "associate her with the acme deal",
            "log my call notes",
            "add a note that it went well",
            "update it to negotiation",
            "set the amount on that deal to 5k",
            "show my open deals",
            "and mark them as done",
            "remind me to call him tomorrow",
        ][..]), 1..5),
    ) {
        let text = parts.join(", ");
        let parsed = grammar().parse(&text, today());
        check_invariants(&text, &parsed);
    }

    #[test]
    fn commands_with_injected_fragments_keep_the_fragment_as_text(
        frag in prop::sample::select(FRAGMENTS),
    ) {
        // the fragment becomes part of the record name; it is never interpreted
        let text = format!("update opportunity titan{frag} to negotiation");
        let parsed = grammar().parse(&text, today());
        check_invariants(&text, &parsed);
    }
}

#[test]
fn ten_kilobyte_lines_are_handled() {
    let words = "update the amount on initech renewal to 92k and ".repeat(220);
    assert!(words.len() > 10_000);
    for text in [
        words.clone(),
        "a".repeat(10_240),
        "'".repeat(10_240),
        "\\".repeat(10_240),
        format!("add a note to acme: {}", "blah ".repeat(2100)),
        "\u{1F600}".repeat(3000),
        "and ".repeat(2600),
        "set the amount on ".repeat(600),
    ] {
        let parsed = grammar().parse(&text, today());
        check_invariants(&text, &parsed);
    }
}

#[test]
fn control_characters_and_emoji() {
    for text in [
        "update\u{0}titan to negotiation",
        "\u{1b}[31mupdate titan to negotiation",
        "add a note to acme: \u{1F680} launch went great \u{1F389}",
        "\u{202E}noitaitogen ot natit etadpu",
        "update titan to negotiation\u{7}\u{8}",
    ] {
        let parsed = grammar().parse(text, today());
        check_invariants(text, &parsed);
    }
    // control characters count as spaces, so the command still parses
    let parsed = grammar().parse("update\u{0}titan to negotiation", today());
    assert!(!parsed.is_not_understood());
}
