//! `sayso parse [--json] [--grammar DIR] "PHRASE"`: show the intents a phrase parses to, without
//! touching any org. Rendering lives here; parsing is `sayso::lang`.

use anyhow::Context;
use chrono::NaiveDate;
use sayso::lang::{
    ChangeOp, CreateCase, CreateRecord, CreateTask, Criterion, Entity, FieldChange, Grammar,
    Intent, LogCall, ParsedCommand, RecordFilter, RecordRef, Regarding, ScheduleMeeting, Target,
    Value,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sayso parse`.
#[derive(clap::Args)]
pub struct Args {
    /// Print the intents as JSON (one object per phrase).
    #[arg(long)]
    json: bool,
    /// Load the grammar from this directory instead of the embedded one.
    #[arg(long, value_name = "DIR")]
    grammar: Option<PathBuf>,
    /// The phrase (several words are joined with spaces).
    #[arg(required = true, num_args = 1..)]
    phrase: Vec<String>,
}

/// `SAYSO_TODAY=YYYY-MM-DD`, else the local date.
fn today() -> anyhow::Result<NaiveDate> {
    match std::env::var("SAYSO_TODAY") {
        Ok(s) if !s.trim().is_empty() => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .with_context(|| format!("SAYSO_TODAY `{s}` is not a YYYY-MM-DD date")),
        _ => Ok(chrono::Local::now().date_naive()),
    }
}

/// Run `sayso parse`. Exit 0 when understood, 1 when not.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    let today = today()?;
    let owned;
    let grammar: &Grammar = match &args.grammar {
        Some(dir) => {
            owned = Grammar::load_dir(dir)?;
            &owned
        }
        None => Grammar::embedded()?,
    };
    let phrase = args.phrase.join(" ");
    let parsed = grammar.parse(&phrase, today);
    if args.json {
        println!("{}", serde_json::to_string(&parsed)?);
    } else {
        print!("{}", summary(&parsed));
    }
    Ok(if parsed.is_not_understood() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn summary(p: &ParsedCommand) -> String {
    let mut out = String::new();
    for (i, c) in p.clauses.iter().enumerate() {
        let prefix = if p.clauses.len() > 1 {
            format!("{}. ", i + 1)
        } else {
            String::new()
        };
        out.push_str(&format!("{prefix}{}\n", describe(&c.intent)));
    }
    out
}

fn describe_log_call(c: &LogCall) -> String {
    let mut s = String::from("log call");
    if let Some(x) = &c.subject {
        s.push_str(&format!(" \"{x}\""));
    }
    push_who_what(&mut s, &c.about);
    if let Some(d) = c.duration_seconds {
        s.push_str(&format!(", {} min", d / 60));
    }
    if let Some(d) = c.date {
        s.push_str(&format!(", {d}"));
    }
    if let Some(d) = &c.description {
        s.push_str(&format!(": \"{d}\""));
    }
    s
}

/// " with <person> on <record>", each when said.
fn push_who_what(s: &mut String, about: &Regarding) {
    s.push_str(&said_record("with", &about.who));
    s.push_str(&said_record("on", &about.what));
}

/// " <word> <record>" when a record was said, else nothing.
fn said_record(word: &str, r: &Option<RecordRef>) -> String {
    r.as_ref()
        .map(|r| format!(" {word} {}", record(r)))
        .unwrap_or_default()
}

fn describe_create_task(t: &CreateTask) -> String {
    let mut s = format!("create task \"{}\"", t.subject);
    if let Some(d) = t.due {
        s.push_str(&format!(" due {d}"));
    }
    push_who_what(&mut s, &t.about);
    if let Some(p) = t.priority {
        s.push_str(&format!(", priority {p:?}"));
    }
    s
}

fn describe_create_record(c: &CreateRecord) -> String {
    let mut s = format!("create {}", c.object.api_name());
    if let Some(p) = &c.person {
        s.push_str(&format!(
            " {}{}",
            p.first
                .as_deref()
                .map(|f| format!("{f} "))
                .unwrap_or_default(),
            p.last
        ));
    }
    if let Some(n) = &c.name {
        s.push_str(&format!(" \"{n}\""));
    }
    if let Some(a) = &c.account {
        s.push_str(&format!(" at {}", record(a)));
    }
    if let Some(co) = &c.company {
        s.push_str(&format!(" from {co}"));
    }
    for f in &c.fields {
        s.push_str(&format!(", {}", change(f)));
    }
    s
}

fn describe_meeting(m: &ScheduleMeeting) -> String {
    format!(
        "meeting \"{}\" on {}{} for {} min{}{}",
        m.subject.as_deref().unwrap_or("Meeting"),
        m.date,
        m.time
            .map(|t| format!(" at {}", t.format("%H:%M")))
            .unwrap_or_default(),
        m.minutes,
        said_record("with", &m.about.who),
        said_record("about", &m.about.what)
    )
}

fn describe_case(c: &CreateCase) -> String {
    format!(
        "case \"{}\"{}{}{}",
        c.subject,
        said_record("for", &c.account),
        said_record("contact", &c.contact),
        c.priority
            .map(|p| format!(", priority {p:?}"))
            .unwrap_or_default()
    )
}

fn describe(intent: &Intent) -> String {
    match intent {
        Intent::UpdateFields(u) => {
            let ch: Vec<String> = u.changes.iter().map(change).collect();
            format!("update {}: {}", target_text(&u.target), ch.join(", "))
        }
        Intent::AddNote(n) => {
            format!("add note to {}: \"{}\"", target_text(&n.target), n.text)
        }
        Intent::LogCall(c) => describe_log_call(c),
        Intent::CreateTask(t) => describe_create_task(t),
        Intent::CompleteTask(t) => format!("complete task {}", target_text(&t.target)),
        Intent::CreateRecord(c) => describe_create_record(c),
        Intent::AddContactRole(r) => format!(
            "add contact role {} on {}{}",
            record(&r.contact),
            record(&r.opportunity),
            r.role
                .as_ref()
                .map(|v| format!(" as {}", hinted(v)))
                .unwrap_or_default()
        ),
        Intent::Reassign(r) => {
            format!("reassign {} to {}", target_text(&r.target), r.owner)
        }
        Intent::Question(q) => {
            format!("question ({:?}) about {}", q.kind, target_text(&q.target))
        }
        Intent::Undo(u) => format!("undo {}", u.steps),
        Intent::ScheduleMeeting(m) => describe_meeting(m),
        Intent::CreateCase(c) => describe_case(c),
        Intent::Help(h) => format!(
            "help{}",
            h.topic
                .as_deref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default()
        ),
        Intent::NotUnderstood(n) => {
            let mut s = String::from("not understood");
            if !n.suggestions.is_empty() {
                s.push_str("; try:");
                for x in &n.suggestions {
                    s.push_str(&format!("\n   {x}"));
                }
            }
            s
        }
    }
}

/// A value's picklist hint when it has one, else the words said.
fn hinted(v: &Value) -> &str {
    v.hints
        .first()
        .map_or(v.said.as_str(), |h| h.value.as_str())
}

fn change(c: &FieldChange) -> String {
    let field = c.field.as_ref().map_or("(status)".to_string(), |f| {
        f.candidates
            .first()
            .map_or(f.said.clone(), |a| a.api_name.clone())
    });
    let value = c
        .value
        .hints
        .first()
        .map(|h| h.value.clone())
        .or_else(|| {
            c.value.entities.first().map(|e| match e {
                Entity::Date(d) => d.to_string(),
                Entity::Number(n) | Entity::Money(n) | Entity::Percent(n) => n.to_string(),
                Entity::Span(s) => format!("{} months {} days", s.months, s.days),
                Entity::Bool(b) => b.to_string(),
                _ => c.value.said.clone(),
            })
        })
        .unwrap_or_else(|| format!("\"{}\"", c.value.said));
    let op = match c.op {
        ChangeOp::Set => "=",
        ChangeOp::Add => "+=",
        ChangeOp::Subtract => "-=",
        ChangeOp::Shift => "shifted by",
    };
    format!("{field} {op} {value}")
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Record(r) => record(r),
        Target::Filter(f) => filter(f),
    }
}

fn record(r: &RecordRef) -> String {
    let mut s = String::new();
    if r.mine {
        s.push_str("my ");
    }
    match r.open {
        Some(true) => s.push_str("open "),
        Some(false) => s.push_str("closed "),
        None => {}
    }
    if let Some(o) = r.object {
        s.push_str(o.api_name());
        s.push(' ');
    }
    if let Some(n) = &r.number {
        s.push_str(n);
    }
    s.push_str(&format!("\"{}\"", r.text));
    if let Some(a) = &r.account {
        s.push_str(&format!(" at \"{a}\""));
    }
    if let Some(rel) = &r.related {
        s.push_str(&format!(" for \"{rel}\""));
    }
    if let Some(a) = &r.antecedent {
        s.push_str(&format!(
            " (= {} of clause {})",
            if a.created {
                "record created"
            } else {
                "record named"
            },
            a.clause + 1
        ));
    }
    s
}

fn filter(f: &RecordFilter) -> String {
    let (flags, said): (Vec<_>, Vec<_>) = f
        .criteria(|v| hinted(v).to_string())
        .into_iter()
        .partition(|(c, _)| c.is_flag());
    let mut parts = vec!["all".to_string()];
    parts.extend(flags.iter().map(|(c, v)| criterion(*c, v)));
    parts.push(f.object.map_or("records", |o| o.api_name()).to_string());
    parts.extend(said.iter().map(|(c, v)| criterion(*c, v)));
    parts.join(" ")
}

/// One condition of a filter in words ("my", "in stage Prospecting", "owned by sam").
fn criterion(c: Criterion, v: &str) -> String {
    match c {
        Criterion::Mine => "my".to_string(),
        Criterion::Open | Criterion::Closed | Criterion::Overdue => c.key().to_string(),
        Criterion::Industry => format!("in industry {v}"),
        Criterion::Stage => format!("in stage {v}"),
        Criterion::Closing => format!("closing {v}"),
        Criterion::Over => format!("over {v}"),
        Criterion::Under => format!("under {v}"),
        Criterion::Between => format!("between {v}"),
        Criterion::Won if v == "true" => "won".to_string(),
        Criterion::Won => "lost".to_string(),
        Criterion::UntouchedSince => format!("untouched since {v}"),
        Criterion::Owner => format!("owned by {v}"),
        Criterion::Priority => format!("{} priority", v.to_lowercase()),
        Criterion::Account => format!("at \"{v}\""),
        Criterion::Text => format!("matching \"{v}\""),
    }
}
