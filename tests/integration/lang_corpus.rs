//! The command language on the corpus (`../shared/corpus/commands.jsonl`, mirrored with the
//! expected intents in `tests/fixtures/lang_corpus/corpus.cases`), dictated variants of every
//! corpus case, and paraphrases that are not in the corpus (the other `.cases` files there, one per
//! test). Each case is compared through a compact signature of the intents (see `sig`).

use chrono::NaiveDate;
use sayso::lang::{
    ChangeOp, CreateRecord, Entity, FieldChange, Intent, ParsedCommand, Priority, RecordFilter,
    RecordRef, Target, Value, parse,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 18).expect("valid date")
}

fn p(text: &str) -> ParsedCommand {
    parse(text, today()).expect("embedded grammar loads")
}

// ---------------------------------------------------------------------------------------------
// Signatures: a compact, readable rendering of intents that tests compare.

fn rec(r: &RecordRef) -> String {
    let mut s = format!("\"{}\"", r.text);
    if let Some(o) = r.object {
        s.push_str(&format!("#{}", o.api_name()));
    }
    if let Some(n) = &r.number {
        s.push_str(&format!("&{n}"));
    }
    if r.mine {
        s.push_str("/mine");
    }
    match r.open {
        Some(true) => s.push_str("/open"),
        Some(false) => s.push_str("/closed"),
        None => {}
    }
    if let Some(a) = &r.account {
        s.push_str(&format!("@{a}"));
    }
    if let Some(a) = &r.related {
        s.push_str(&format!("~{a}"));
    }
    if let Some(a) = &r.antecedent {
        s.push_str(&format!(
            "<-{}{}",
            a.clause,
            if a.created { "*" } else { "" }
        ));
    }
    s
}

fn filt(f: &RecordFilter) -> String {
    let mut parts = Vec::new();
    if let Some(o) = f.object {
        parts.push(o.api_name().to_string());
    }
    if f.mine {
        parts.push("mine".into());
    }
    match f.open {
        Some(true) => parts.push("open".into()),
        Some(false) => parts.push("closed".into()),
        None => {}
    }
    if f.overdue {
        parts.push("overdue".into());
    }
    for (c, v) in f.criteria(val) {
        parts.push(format!("{}={v}", c.key()));
    }
    format!("{{{}}}", parts.join(" "))
}

fn tgt(t: &Target) -> String {
    match t {
        Target::Record(r) => rec(r),
        Target::Filter(f) => filt(f),
    }
}

fn val(v: &Value) -> String {
    if let Some(h) = v.hints.first() {
        return h.value.clone();
    }
    for e in &v.entities {
        let s = match e {
            Entity::Date(d) => d.to_string(),
            Entity::Number(n) => format!("{n}"),
            Entity::Money(n) => format!("${n}"),
            Entity::Percent(n) => format!("{n}%"),
            Entity::Duration(d) => format!("{d}s"),
            Entity::Span(s) => format!("{}m{}d", s.months, s.days),
            Entity::Bool(b) => b.to_string(),
            Entity::Email(e) => e.clone(),
            Entity::Phone(p) => p.clone(),
            Entity::Quoted(_) => continue,
        };
        return s;
    }
    format!("\"{}\"", v.said.to_lowercase())
}

fn chg(c: &FieldChange) -> String {
    let f = match &c.field {
        None => "?".to_string(),
        Some(f) => f
            .candidates
            .first()
            .map_or(format!("{}?", f.said), |a| a.api_name.clone()),
    };
    let op = match c.op {
        ChangeOp::Set => "=",
        ChangeOp::Add => "+=",
        ChangeOp::Subtract => "-=",
        ChangeOp::Shift => ">>",
    };
    format!("{f}{op}{}", val(&c.value))
}

fn opt<T>(o: &Option<T>, f: impl Fn(&T) -> String) -> String {
    o.as_ref().map_or("-".to_string(), f)
}

fn intent_sig(i: &Intent) -> String {
    match i {
        Intent::UpdateFields(u) => format!(
            "update({}; {})",
            tgt(&u.target),
            u.changes.iter().map(chg).collect::<Vec<_>>().join(", ")
        ),
        Intent::AddNote(n) => {
            format!("note({}; \"{}\")", tgt(&n.target), n.text.to_lowercase())
        }
        Intent::LogCall(c) => format!(
            "call(who={}; what={}; subj={}; desc={}; dur={}; date={})",
            opt(&c.about.who, rec),
            opt(&c.about.what, rec),
            opt(&c.subject, |s| s.to_lowercase()),
            opt(&c.description, |s| format!("\"{}\"", s.to_lowercase())),
            opt(&c.duration_seconds, |d| d.to_string()),
            opt(&c.date, |d| d.to_string())
        ),
        Intent::CreateTask(t) => format!(
            "task(\"{}\"; due={}; who={}; what={}; prio={})",
            t.subject.to_lowercase(),
            opt(&t.due, |d| d.to_string()),
            opt(&t.about.who, rec),
            opt(&t.about.what, rec),
            opt(&t.priority, |p: &Priority| format!("{p:?}"))
        ),
        Intent::CompleteTask(t) => format!("complete({})", tgt(&t.target)),
        Intent::CreateRecord(c) => create_sig(c),
        Intent::AddContactRole(r) => format!(
            "role({}; {}; {})",
            rec(&r.contact),
            rec(&r.opportunity),
            opt(&r.role, val)
        ),
        Intent::Reassign(r) => {
            format!("reassign({}; {})", tgt(&r.target), r.owner.to_lowercase())
        }
        Intent::Question(q) => format!("ask({:?}; {})", q.kind, tgt(&q.target)),
        Intent::Undo(u) => format!("undo({})", u.steps),
        Intent::Help(h) => format!("help({})", opt(&h.topic, Clone::clone)),
        Intent::ScheduleMeeting(m) => format!(
            "meeting({}; {}; {}; {}m; who={}; what={})",
            opt(&m.subject, Clone::clone),
            m.date,
            opt(&m.time, |t| t.format("%H:%M").to_string()),
            m.minutes,
            opt(&m.about.who, rec),
            opt(&m.about.what, rec)
        ),
        Intent::CreateCase(c) => format!(
            "case({}; {}; {}; {})",
            c.subject,
            opt(&c.account, rec),
            opt(&c.contact, rec),
            opt(&c.priority, |p| format!("{p:?}"))
        ),
        Intent::NotUnderstood(_) => "??".to_string(),
    }
}

fn create_sig(c: &CreateRecord) -> String {
    format!(
        "create({}; person={}; name={}; account={}; company={}; {})",
        c.object.api_name(),
        opt(&c.person, |p| format!(
            "{}|{}",
            p.first.as_deref().unwrap_or("").to_lowercase(),
            p.last.to_lowercase()
        )),
        opt(&c.name, |n| n.to_lowercase()),
        opt(&c.account, rec),
        opt(&c.company, |c| c.to_lowercase()),
        c.fields.iter().map(chg).collect::<Vec<_>>().join(", ")
    )
}

fn sig(text: &str) -> String {
    p(text)
        .clauses
        .iter()
        .map(|c| intent_sig(&c.intent))
        .collect::<Vec<_>>()
        .join(" | ")
}

// ---------------------------------------------------------------------------------------------
// The corpus: every phrase with the intent it must parse to.

/// One case of a fixture under `tests/fixtures/lang_corpus/`: a phrase and the signature it must
/// parse to, with its corpus id (corpus cases only) and its line (for messages).
struct Case {
    id: String,
    line: usize,
    say: String,
    sig: String,
}

/// The cases of `tests/fixtures/lang_corpus/<name>.cases`: an optional `id:` line, then `say:` and
/// `sig:` lines; `#` starts a comment.
fn cases(name: &str) -> Vec<Case> {
    let path = format!(
        "{}/tests/fixtures/lang_corpus/{name}.cases",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let (mut id, mut say) = (String::new(), None);
    for (n, line) in text.lines().enumerate() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.to_string();
        } else if let Some(v) = line.strip_prefix("say: ") {
            say = Some((n + 1, v.to_string()));
        } else if let Some(v) = line.strip_prefix("sig: ") {
            let (line, say) = say
                .take()
                .unwrap_or_else(|| panic!("{path}:{}: `sig:` with no `say:` before it", n + 1));
            out.push(Case {
                id: std::mem::take(&mut id),
                line,
                say,
                sig: v.to_string(),
            });
        } else {
            assert!(
                line.is_empty() || line.starts_with('#'),
                "{path}:{}: not an `id:`, `say:` or `sig:` line",
                n + 1
            );
        }
    }
    assert!(!out.is_empty(), "{path}: no cases");
    out
}

/// Checks every case of a fixture and reports all the mismatches at once, each with its line.
#[track_caller]
fn check_cases(name: &str) {
    let mut failures = Vec::new();
    for c in cases(name) {
        let got = sig(&c.say);
        if got != c.sig {
            failures.push(format!(
                "{name}.cases:{} {}: {}\n   expected {}\n   got      {got}",
                c.line, c.id, c.say, c.sig
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_corpus_phrase_parses_to_its_intent() {
    check_cases("corpus");
}

#[test]
fn corpus_table_covers_the_corpus_file() {
    // The corpus fixture mirrors ../shared/corpus/commands.jsonl; when the file is present, every
    // phrase in it must be in the table.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/commands.jsonl"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let corpus = cases("corpus");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let say = v["say"].as_str().expect("say");
        assert!(
            corpus.iter().any(|c| c.say == say),
            "corpus phrase missing from the table: {say}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Dictated variants: lowercase, no punctuation or quotes, fillers, spoken numbers and dates.

/// Turn a typed phrase into what speech-to-text would give.
fn dictate(text: &str) -> String {
    const SPOKEN: &[(&str, &str)] = &[
        ("92k", "ninety two k"),
        ("90,000", "ninety thousand"),
        ("20 percent", "twenty percent"),
        ("$200K", "two hundred thousand dollars"),
        ("1.2 million", "one point two million"),
        ("December 15", "december fifteenth"),
        (
            "john.smith@hooli.example.com",
            "john dot smith at hooli dot example dot com",
        ),
        ("+1-555-0199", "+1-555-0199"),
    ];
    let mut t = text.to_string();
    for (a, b) in SPOKEN {
        t = t.replace(a, b);
    }
    let t: String = t
        .chars()
        .filter(|c| {
            !matches!(
                c,
                ',' | ':' | '.' | '!' | '?' | '\u{201C}' | '\u{201D}' | '"'
            )
        })
        .collect();
    // quotes go, apostrophes inside words stay ("chen's")
    let t = t
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    // fillers: a lead-in and an "uh" after the first word
    let mut words: Vec<&str> = t.split_whitespace().collect();
    if words.len() > 2 {
        words.insert(1, "uh");
    }
    format!("um okay so {}", words.join(" "))
}

/// Signatures compared without the differences dictation may make in free text (case).
fn loose(s: &str) -> String {
    s.to_lowercase().replace(['\'', ','], "")
}

#[test]
fn dictated_variants_of_every_corpus_case_parse_the_same() {
    let mut failures = Vec::new();
    for c in cases("corpus") {
        if c.id == "v30" {
            continue; // a SOQL-injection probe, not something anyone dictates
        }
        let spoken = dictate(&c.say);
        let got = sig(&spoken);
        if loose(&got) != loose(&c.sig) {
            failures.push(format!(
                "{}: {spoken}\n   expected {}\n   got      {got}",
                c.id, c.sig
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Paraphrases that are not in the corpus, per intent.

#[test]
fn paraphrases_update_fields() {
    check_cases("paraphrases_update_fields");
}

#[test]
fn paraphrases_notes() {
    check_cases("paraphrases_notes");
}

#[test]
fn paraphrases_calls_tasks_and_completion() {
    check_cases("paraphrases_calls_tasks_and_completion");
}

#[test]
fn paraphrases_records_roles_reassign() {
    check_cases("paraphrases_records_roles_reassign");
}

#[test]
fn paraphrases_questions_undo_help() {
    check_cases("paraphrases_questions_undo_help");
}

#[test]
fn compound_commands_keep_order_and_references() {
    check_cases("compound_commands_keep_order_and_references");
}

#[test]
fn notes_keep_their_text_whole() {
    check_cases("notes_keep_their_text_whole");
}

#[test]
fn unknown_phrases_are_not_understood_with_suggestions() {
    for text in [
        "make me a sandwich",
        "",
        "   ",
        "purple monkey dishwasher",
        "' OR 1=1 --",
    ] {
        let parsed = p(text);
        assert!(parsed.is_not_understood(), "{text}: {}", sig(text));
        if let Intent::NotUnderstood(n) = &parsed.clauses[0].intent {
            assert_eq!(n.suggestions.len(), 3, "{text}");
        }
    }
}

#[test]
fn more_paraphrases_not_in_the_corpus() {
    check_cases("more_paraphrases_not_in_the_corpus");
}

#[test]
fn paraphrases_round_three() {
    check_cases("paraphrases_round_three");
}

#[test]
fn paraphrases_questions_statements_and_tasks() {
    check_cases("paraphrases_questions_statements_and_tasks");
}

#[test]
fn compounds_repairs_and_name_field_collisions() {
    check_cases("compounds_repairs_and_name_field_collisions");
}

/// General rules behind the held-out phrasings: change lists after a first change or after the
/// record, values without "to", reassign synonyms, "about <topic>" on calls, names cut before
/// "he/she/they", "to <person>" in task subjects, "worth N" amounts, check-in tasks.
#[test]
fn paraphrases_general_rules() {
    check_cases("paraphrases_general_rules");
}

#[test]
fn picklist_values_said_whole_and_stages_are_not_owners() {
    check_cases("picklist_values_said_whole_and_stages_are_not_owners");
}

#[test]
fn set_by_raise_or_drop_make_x_amount_calls_about_a_record_and_field_is_value_clauses() {
    check_cases(
        "set_by_raise_or_drop_make_x_amount_calls_about_a_record_and_field_is_value_clauses",
    );
}

#[test]
fn meetings_and_cases() {
    check_cases("meetings_and_cases");
}
