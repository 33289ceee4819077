//! `sayso parse [--json] [--grammar DIR] "PHRASE"`: show the intents a phrase parses to, without
//! touching any org. Rendering lives here; parsing is `sayso::lang`.

use anyhow::Context;
use chrono::NaiveDate;
use sayso::lang::{
    ChangeOp, Entity, FieldChange, Grammar, Intent, ObjectKind, ParsedCommand, PersonName,
    Priority, RecordFilter, RecordRef, Target,
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

fn describe_log_call(
    who: &Option<RecordRef>,
    what: &Option<RecordRef>,
    subject: &Option<String>,
    description: &Option<String>,
    duration_seconds: &Option<u32>,
    date: &Option<NaiveDate>,
) -> String {
    let mut s = String::from("log call");
    if let Some(x) = subject {
        s.push_str(&format!(" \"{x}\""));
    }
    if let Some(w) = who {
        s.push_str(&format!(" with {}", record(w)));
    }
    if let Some(w) = what {
        s.push_str(&format!(" on {}", record(w)));
    }
    if let Some(d) = duration_seconds {
        s.push_str(&format!(", {} min", d / 60));
    }
    if let Some(d) = date {
        s.push_str(&format!(", {d}"));
    }
    if let Some(d) = description {
        s.push_str(&format!(": \"{d}\""));
    }
    s
}

fn describe_create_task(
    subject: &String,
    due: &Option<NaiveDate>,
    who: &Option<RecordRef>,
    what: &Option<RecordRef>,
    priority: &Option<Priority>,
) -> String {
    let mut s = format!("create task \"{subject}\"");
    if let Some(d) = due {
        s.push_str(&format!(" due {d}"));
    }
    if let Some(w) = who {
        s.push_str(&format!(" with {}", record(w)));
    }
    if let Some(w) = what {
        s.push_str(&format!(" on {}", record(w)));
    }
    if let Some(p) = priority {
        s.push_str(&format!(", priority {p:?}"));
    }
    s
}

fn describe_create_record(
    object: &ObjectKind,
    person: &Option<PersonName>,
    name: &Option<String>,
    account: &Option<RecordRef>,
    company: &Option<String>,
    fields: &[FieldChange],
) -> String {
    let mut s = format!("create {}", object.api_name());
    if let Some(p) = person {
        s.push_str(&format!(
            " {}{}",
            p.first
                .as_deref()
                .map(|f| format!("{f} "))
                .unwrap_or_default(),
            p.last
        ));
    }
    if let Some(n) = name {
        s.push_str(&format!(" \"{n}\""));
    }
    if let Some(a) = account {
        s.push_str(&format!(" at {}", record(a)));
    }
    if let Some(c) = company {
        s.push_str(&format!(" from {c}"));
    }
    for f in fields {
        s.push_str(&format!(", {}", change(f)));
    }
    s
}

fn describe(intent: &Intent) -> String {
    match intent {
        Intent::UpdateFields { target, changes } => {
            let ch: Vec<String> = changes.iter().map(change).collect();
            format!("update {}: {}", target_text(target), ch.join(", "))
        }
        Intent::AddNote { target, text } => {
            format!("add note to {}: \"{text}\"", target_text(target))
        }
        Intent::LogCall {
            who,
            what,
            subject,
            description,
            duration_seconds,
            date,
        } => describe_log_call(who, what, subject, description, duration_seconds, date),
        Intent::CreateTask {
            subject,
            due,
            who,
            what,
            priority,
        } => describe_create_task(subject, due, who, what, priority),
        Intent::CompleteTask { target } => format!("complete task {}", target_text(target)),
        Intent::CreateRecord {
            object,
            person,
            name,
            account,
            company,
            fields,
        } => describe_create_record(object, person, name, account, company, fields),
        Intent::AddContactRole {
            contact,
            opportunity,
            role,
        } => format!(
            "add contact role {} on {}{}",
            record(contact),
            record(opportunity),
            role.as_ref()
                .map(|r| format!(
                    " as {}",
                    r.hints
                        .first()
                        .map_or(r.said.as_str(), |h| h.value.as_str())
                ))
                .unwrap_or_default()
        ),
        Intent::Reassign { target, owner } => {
            format!("reassign {} to {owner}", target_text(target))
        }
        Intent::Question { kind, target, .. } => {
            format!("question ({kind:?}) about {}", target_text(target))
        }
        Intent::Undo { steps } => format!("undo {steps}"),
        Intent::ScheduleMeeting {
            subject,
            date,
            time,
            minutes,
            who,
            what,
        } => format!(
            "meeting \"{}\" on {date}{} for {minutes} min{}{}",
            subject.as_deref().unwrap_or("Meeting"),
            time.map(|t| format!(" at {}", t.format("%H:%M")))
                .unwrap_or_default(),
            who.as_ref()
                .map(|r| format!(" with {}", record(r)))
                .unwrap_or_default(),
            what.as_ref()
                .map(|r| format!(" about {}", record(r)))
                .unwrap_or_default()
        ),
        Intent::CreateCase {
            account,
            contact,
            subject,
            priority,
        } => format!(
            "case \"{subject}\"{}{}{}",
            account
                .as_ref()
                .map(|r| format!(" for {}", record(r)))
                .unwrap_or_default(),
            contact
                .as_ref()
                .map(|r| format!(" contact {}", record(r)))
                .unwrap_or_default(),
            priority
                .map(|p| format!(", priority {p:?}"))
                .unwrap_or_default()
        ),
        Intent::Help { topic } => format!(
            "help{}",
            topic
                .as_deref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default()
        ),
        Intent::NotUnderstood { suggestions } => {
            let mut s = String::from("not understood");
            if !suggestions.is_empty() {
                s.push_str("; try:");
                for x in suggestions {
                    s.push_str(&format!("\n   {x}"));
                }
            }
            s
        }
    }
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
    let mut parts = vec!["all".to_string()];
    if f.mine {
        parts.push("my".into());
    }
    match f.open {
        Some(true) => parts.push("open".into()),
        Some(false) => parts.push("closed".into()),
        None => {}
    }
    if f.overdue {
        parts.push("overdue".into());
    }
    parts.push(f.object.map_or("records", |o| o.api_name()).to_string());
    if let Some(i) = &f.industry {
        parts.push(format!(
            "in industry {}",
            i.hints
                .first()
                .map_or(i.said.as_str(), |h| h.value.as_str())
        ));
    }
    if let Some(s) = &f.stage {
        parts.push(format!(
            "in stage {}",
            s.hints
                .first()
                .map_or(s.said.as_str(), |h| h.value.as_str())
        ));
    }
    if let Some(c) = &f.closing {
        parts.push(format!("closing {}..{}", c.start, c.end));
    }
    if let Some(v) = f.amount_over {
        parts.push(format!("over {v}"));
    }
    if let Some(v) = f.amount_under {
        parts.push(format!("under {v}"));
    }
    if let Some(a) = &f.account {
        parts.push(format!("at \"{a}\""));
    }
    if !f.text.is_empty() {
        parts.push(format!("matching \"{}\"", f.text));
    }
    parts.join(" ")
}
