//! How the shell shows things: outcomes, record tables (comfy-table, sized to the terminal), write
//! previews (record, field: old → new, what will be created), numbered candidate lists, and colour
//! (off when `NO_COLOR` is set or stdout is not a terminal).
//!
//! Pure formatting: every function returns a `String`; the shell loop prints it. Owns no state.

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};
use sayso::app::{Outcome, Status};
use sayso::resolve::answer::Group;
use serde_json::Value as Json;

/// Whether to colour output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub(crate) color: bool,
}

impl Style {
    /// Colour only on a terminal and when `NO_COLOR` is not set.
    pub(crate) fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    pub(crate) fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub(crate) fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub(crate) fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    pub(crate) fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
}

/// The status word as the JSON contract spells it.
pub(crate) fn status_word(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A value for humans: strings bare, whole numbers with thousands separators, null as `—`.
pub(crate) fn value(v: &Json) -> String {
    match v {
        Json::Null => "—".into(),
        Json::String(s) => s.clone(),
        Json::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => thousands(f as i64),
            Some(f) => format!("{f:.2}"),
            None => n.to_string(),
        },
        Json::Object(o) => o
            .get("Name")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        Json::Array(_) => v.to_string(),
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The display name of a record row.
pub(crate) fn record_name(r: &Json) -> String {
    for k in ["Name", "CaseNumber", "Subject", "Title"] {
        if let Some(s) = r.get(k).and_then(Json::as_str) {
            return s.to_string();
        }
    }
    let first = r.get("FirstName").and_then(Json::as_str).unwrap_or("");
    let last = r.get("LastName").and_then(Json::as_str).unwrap_or("");
    format!("{first} {last}").trim().to_string()
}

/// Columns not worth showing in a table.
fn hidden(key: &str) -> bool {
    matches!(
        key,
        "attributes"
            | "sobject"
            | "Id"
            | "LastModifiedDate"
            | "SystemModstamp"
            | "CreatedDate"
            | "IsClosed"
            | "IsWon"
            | "IsDeleted"
            | "FirstName"
            | "LastName"
            | "Name"
    ) || (key.ends_with("Id") && key.len() > 2)
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    // Not a terminal, or one that reports no size (some pseudo-terminals): assume 100 columns.
    if t.width().is_none_or(|w| w < 40) {
        t.set_width(100);
    }
    t
}

/// Records as a table: the name first, then the other fields in the order the org sent them.
pub(crate) fn records_table(records: &[Json]) -> String {
    let mut cols: Vec<String> = Vec::new();
    for r in records {
        if let Some(o) = r.as_object() {
            for k in o.keys() {
                if !hidden(k) && !cols.contains(k) && cols.len() < 7 {
                    cols.push(k.clone());
                }
            }
        }
    }
    let mut t = new_table();
    let mut header = vec!["Name".to_string()];
    header.extend(cols.iter().cloned());
    t.set_header(header);
    for r in records {
        let mut row = vec![record_name(r)];
        for c in &cols {
            row.push(r.get(c).map(value).unwrap_or_default());
        }
        t.add_row(row);
    }
    t.to_string()
}

/// Grouped figures as a table: the group, its count and, where there is one, its total.
pub(crate) fn groups_table(groups: &[Group]) -> String {
    let mut t = new_table();
    let with_sum = groups.iter().any(|g| g.sum.is_some());
    let mut header = vec!["Group", "Count"];
    if with_sum {
        header.push("Total");
    }
    t.set_header(header);
    for g in groups {
        let mut row = vec![g.key.clone(), thousands(g.count as i64)];
        if let Some(s) = g.sum {
            row.push(thousands(s.round() as i64));
        }
        t.add_row(row);
    }
    t.to_string()
}

/// Names of record ids (and of the plan's own `@{sN.id}` references) for previews.
pub(crate) type Names = std::collections::HashMap<String, String>;

/// The compact preview of a dry-run outcome: one line per change, a sample for bulk changes.
/// Ids found in `names` are shown as the record's name.
pub(crate) fn preview(out: &Outcome, names: &Names, style: &Style) -> String {
    const SAMPLE: usize = 5;
    let total = out.count.unwrap_or(out.records().len() as u64) as usize;
    let mut lines = Vec::new();
    if total > 1 {
        let bulk = out
            .records()
            .iter()
            .all(|r| r["op"] == out.records()[0]["op"])
            && out
                .records()
                .iter()
                .all(|r| r["sobject"] == out.records()[0]["sobject"]);
        if bulk && total > SAMPLE {
            lines.push(style.bold(&format!("{total} changes; a sample:")));
        } else {
            lines.push(style.bold(&format!("{total} changes:")));
        }
    }
    let mut names = names.clone();
    for (i, r) in out.records().iter().enumerate() {
        if let Some(n) = r["Name"].as_str() {
            names.insert(format!("@{{s{i}.id}}"), format!("(new) {n}"));
        }
    }
    for r in out.records().iter().take(SAMPLE) {
        lines.push(format!("  {}", change_line(r, &names, style)));
    }
    if out.records().len() > SAMPLE {
        lines.push(style.dim(&format!("  … and {} more", total.saturating_sub(SAMPLE))));
    }
    lines.join("\n")
}

/// One planned change: `update Opportunity "Initech Renewal": Amount 85,000 → 92,000`.
fn change_line(r: &Json, names: &Names, style: &Style) -> String {
    let show = |v: &Json| {
        let text = value(v);
        short(names.get(&text).unwrap_or(&text))
    };
    let op = r["op"].as_str().unwrap_or("change");
    let sobject = r["sobject"].as_str().unwrap_or("");
    let name = r["Name"].as_str().unwrap_or("");
    let fields: Vec<String> = r["fields"]
        .as_object()
        .map(|f| {
            f.iter()
                // the owner of a new record is the user; note bodies repeat the title (base64)
                .filter(|(k, _)| {
                    op != "create" || !matches!(k.as_str(), "OwnerId" | "Content" | "ShareType")
                })
                .map(|(k, v)| {
                    if op == "create" || v["old"].is_null() && op != "update" {
                        format!("{k} = {}", show(&v["new"]))
                    } else {
                        format!(
                            "{k}: {} → {}",
                            show(&v["old"]),
                            style.bold(&show(&v["new"]))
                        )
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let head = match op {
        "create" => style.green(&format!("create {sobject}")),
        "delete" => style.red(&format!("delete {sobject}")),
        _ => style.yellow(&format!("{op} {sobject}")),
    };
    format!("{head} \"{name}\": {}", fields.join(", "))
}

fn short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX - 1).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

/// One candidate record: object, name, and `(label, value)` of the fields that may tell it apart.
pub(crate) type CandidateRow = (String, String, Vec<(String, String)>);

/// A numbered list of candidates with the fields that tell them apart.
pub(crate) fn candidates(rows: &[CandidateRow]) -> String {
    // Only the fields whose values differ between candidates are shown.
    let mut cols: Vec<String> = Vec::new();
    for (_, _, fields) in rows {
        for (k, _) in fields {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    let get = |fields: &[(String, String)], k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    cols.retain(|c| {
        let first = get(&rows[0].2, c);
        rows.iter().any(|r| get(&r.2, c) != first)
    });
    let mut t = new_table();
    let mut header = vec!["#".to_string(), "Record".to_string()];
    header.extend(cols.iter().cloned());
    t.set_header(header);
    for (i, (sobject, name, fields)) in rows.iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), format!("{sobject} {name}")];
        for c in &cols {
            row.push(get(fields, c));
        }
        t.add_row(row);
    }
    t.to_string()
}

/// Changes (and failures) a finished outcome lists; the rest are counted.
const SHOWN: usize = 20;

/// A finished outcome: status line, changes, records, suggestions.
pub(crate) fn outcome(out: &Outcome, style: &Style) -> String {
    outcome_named(out, &Names::new(), style)
}

/// Whether the answer to "apply?" applies `count` changes: Enter or `y` for one change; a change
/// to several records must be confirmed by typing `yes` or the count.
pub(crate) fn confirmed(answer: &str, count: u64) -> bool {
    let a = answer.trim().to_lowercase();
    if count > 1 {
        a == "yes" || a == count.to_string()
    } else {
        matches!(a.as_str(), "" | "y" | "yes")
    }
}

/// The question before applying `count` changes ([`confirmed`] reads the answer).
pub(crate) fn apply_question(count: u64) -> String {
    if count > 1 {
        format!("apply these {count} changes? [type yes or {count} to apply, Enter cancels] ")
    } else {
        "apply? [Enter = yes, n = no] ".to_string()
    }
}

/// A finished outcome, its changes written as the preview writes them: ids found in `names`
/// (and records the outcome created) by name, note bodies left out.
pub(crate) fn outcome_named(out: &Outcome, names: &Names, style: &Style) -> String {
    let word = status_word(out.status);
    let head = if out.status.is_success() {
        style.green(&word)
    } else if matches!(out.status, Status::NeedsConfirmation | Status::Ambiguous) {
        style.yellow(&word)
    } else {
        style.red(&word)
    };
    let mut lines = vec![format!("{head}: {}", out.message)];
    let mut names = names.clone();
    for c in out.changes() {
        if let (true, Some(id)) = (c.op == "create", &c.id) {
            names.insert(id.clone(), format!("(new) {}", c.name));
        }
    }
    for c in out.changes().iter().take(SHOWN) {
        let r = serde_json::json!({"op": c.op, "sobject": c.sobject, "Name": c.name, "fields": c.fields});
        lines.push(format!("  {}", change_line(&r, &names, style)));
    }
    let made = out.count.map_or(out.changes().len(), |n| n as usize);
    if made > SHOWN && !out.changes().is_empty() {
        lines.push(style.dim(&format!(
            "  … and {} more (:history lists them)",
            made - SHOWN.min(out.changes().len())
        )));
    }
    if out.status == Status::Answered && !out.records().is_empty() {
        lines.push(records_table(out.records()));
    }
    if !out.groups().is_empty() {
        lines.push(groups_table(out.groups()));
    }
    for f in out.failures().iter().take(SHOWN) {
        lines.push(style.red(&format!("  failed: {}: {}", f.name, f.error)));
    }
    if out.failures().len() > SHOWN {
        lines.push(
            style.red("  … and more failures (:history lists them; `sayso retry` re-sends them)"),
        );
    }
    // A typed list's people already in the org or said twice (a file run shows its own).
    if out.file.mapping.is_none() {
        for s in out.file.skipped.iter().flatten().take(SHOWN) {
            let what = match (&s.matches, s.matches_line) {
                (Some(c), _) => format!(" — {} {}", c.sobject, c.name),
                (None, Some(l)) => format!(" — item {l}"),
                _ => String::new(),
            };
            lines.push(style.yellow(&format!("  skipped item {}: {}{what}", s.line, s.reason)));
        }
    }
    for s in out.suggestions() {
        lines.push(format!("  try: {s}"));
    }
    if out.api_calls > 0 {
        lines.push(style.dim(&format!(
            "  ({} API call{})",
            out.api_calls,
            if out.api_calls == 1 { "" } else { "s" }
        )));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sayso::app::{Preview, What, Written};
    use serde_json::json;

    const PLAIN: Style = Style { color: false };

    /// A create that wrote `fields` (each new, none before).
    fn created(
        sobject: &str,
        id: &str,
        name: &str,
        fields: &[(&str, &str)],
    ) -> sayso::exec::ChangeReport {
        sayso::exec::ChangeReport {
            op: "create".into(),
            sobject: sobject.into(),
            id: Some(id.into()),
            name: name.into(),
            fields: fields
                .iter()
                .map(|(f, v)| (f.to_string(), json!({"old": null, "new": v})))
                .collect(),
        }
    }

    #[test]
    fn applied_changes_name_records_and_leave_note_bodies_out() {
        let mut o = Outcome::new(Status::Applied, "2 changes made");
        o.what = What::Written(Written {
            changes: vec![
                created(
                    "ContentNote",
                    "069Dm0000000001AAA",
                    "Budget approved",
                    &[
                        ("Title", "Budget approved"),
                        ("Content", "QnVkZ2V0IGFwcHJvdmVk"),
                    ],
                ),
                created(
                    "ContentDocumentLink",
                    "06ADm0000000001AAA",
                    "link",
                    &[
                        ("ContentDocumentId", "069Dm0000000001AAA"),
                        ("LinkedEntityId", "006Dm0000000001IAA"),
                    ],
                ),
            ],
            failures: Vec::new(),
        });
        let names = Names::from([(
            "006Dm0000000001IAA".to_string(),
            "Project Titan".to_string(),
        )]);
        let text = outcome_named(&o, &names, &PLAIN);
        assert!(!text.contains("QnVkZ2V0"), "{text}");
        assert!(!text.contains("006Dm0000000001IAA"), "{text}");
        assert!(text.contains("LinkedEntityId = Project Titan"), "{text}");
        assert!(
            text.contains("ContentDocumentId = (new) Budget approved"),
            "{text}"
        );
    }

    #[test]
    fn a_typed_lists_skipped_people_are_shown_with_their_match() {
        let mut o = Outcome::new(Status::Applied, "1 change made");
        o.file.skipped = Some(vec![
            sayso::app::import::Skipped {
                line: 1,
                reason: "same first name, last name and account".into(),
                matches: Some(sayso::resolve::Candidate {
                    sobject: "Contact".into(),
                    id: "003Dm0000000001IAA".into(),
                    name: "Babu Bhatt".into(),
                }),
                matches_line: None,
            },
            sayso::app::import::Skipped {
                line: 3,
                reason: "same first name, last name and account as item 1".into(),
                matches: None,
                matches_line: Some(1),
            },
        ]);
        let text = outcome_named(&o, &Names::new(), &PLAIN);
        assert!(
            text.contains(
                "skipped item 1: same first name, last name and account — Contact Babu Bhatt"
            ),
            "{text}"
        );
        assert!(text.contains("skipped item 3:"), "{text}");
    }

    #[test]
    fn a_change_to_several_records_is_confirmed_by_typing_yes_or_the_count() {
        assert!(!confirmed("", 2), "Enter does not apply a bulk change");
        assert!(!confirmed("y", 2));
        assert!(!confirmed("n", 2));
        assert!(confirmed("yes", 2));
        assert!(confirmed(" 2 ", 2));
        assert!(!confirmed("3", 2));
        assert!(confirmed("", 1), "Enter applies one change");
        assert!(confirmed("y", 1));
        assert!(!confirmed("n", 1));
        assert!(apply_question(2).contains("type yes or 2"));
    }

    #[test]
    fn grouped_answers_are_a_table_of_count_and_total() {
        let g = |key: &str, count, sum| Group {
            key: key.into(),
            count,
            sum,
        };
        let t = groups_table(&[
            g("Prospecting", 2, Some(1_080_000.0)),
            g("Negotiation/Review", 1, Some(95_000.5)),
        ]);
        assert!(
            t.contains("Total") && t.contains("1,080,000") && t.contains("95,001"),
            "{t}"
        );
        let t = groups_table(&[g("Escalated", 3, None)]);
        assert!(!t.contains("Total") && t.contains("Escalated"), "{t}");
    }

    #[test]
    fn answer_tables_have_no_sobject_column() {
        let t =
            records_table(&[json!({"sobject": "Account", "Name": "Acme", "Industry": "Energy"})]);
        assert!(!t.contains("sobject"), "{t}");
        assert!(t.contains("Industry"), "{t}");
    }

    #[test]
    fn values_read_like_a_person_wrote_them() {
        assert_eq!(value(&json!(92000.0)), "92,000");
        assert_eq!(value(&json!(-1500000)), "-1,500,000");
        assert_eq!(value(&json!(12.5)), "12.50");
        assert_eq!(value(&json!(null)), "—");
        assert_eq!(value(&json!({"Name": "Acme"})), "Acme");
    }

    #[test]
    fn a_large_outcome_lists_twenty_changes_and_counts_the_rest() {
        let mut o = Outcome::new(Status::Applied, "1000000 changes made");
        o.what = What::Written(Written {
            changes: (0..1000)
                .map(|i| sayso::exec::ChangeReport {
                    op: "update".into(),
                    sobject: "Opportunity".into(),
                    id: None,
                    name: format!("Deal {i}"),
                    fields: [("NextStep".to_string(), json!({"old": null, "new": "x"}))].into(),
                })
                .collect(),
            failures: Vec::new(),
        });
        o.count = Some(1_000_000);
        let text = outcome(&o, &PLAIN);
        assert_eq!(text.matches("update Opportunity").count(), SHOWN);
        assert!(text.contains("… and 999980 more"), "{text}");
    }

    #[test]
    fn preview_shows_old_and_new_and_samples_bulk() {
        let mut o = Outcome::new(Status::DryRun, "would make 1 change");
        o.what = What::Preview(Preview {
            records: vec![
                json!({"op": "update", "sobject": "Opportunity", "Name": "Initech Renewal",
            "fields": {"Amount": {"old": 85000.0, "new": 92000.0}}}),
            ],
            ..Preview::default()
        });
        o.count = Some(1);
        assert_eq!(
            preview(&o, &Names::new(), &PLAIN),
            "  update Opportunity \"Initech Renewal\": Amount: 85,000 → 92,000"
        );
        o.what = What::Preview(Preview {
            records: (0..8)
                .map(|i| {
                    json!({"op": "update", "sobject": "Task", "Name": format!("T{i}"),
                "fields": {"Status": {"old": "Not Started", "new": "Completed"}}})
                })
                .collect(),
            ..Preview::default()
        });
        o.count = Some(8);
        let p = preview(&o, &Names::new(), &PLAIN);
        assert!(p.starts_with("8 changes; a sample:"), "{p}");
        assert!(p.contains("T4") && !p.contains("T5"), "{p}");
        assert!(p.ends_with("… and 3 more"), "{p}");
    }

    #[test]
    fn preview_names_ids_and_references() {
        let mut o = Outcome::new(Status::DryRun, "would make 2 changes");
        o.what = What::Preview(Preview {
            records: vec![
                json!({"op": "create", "sobject": "Contact", "Name": "Jane Doe",
                "fields": {"LastName": {"old": null, "new": "Doe"}, "OwnerId": {"old": null, "new": "005x"}}}),
                json!({"op": "create", "sobject": "Task", "Name": "Call with Jane Doe",
                "fields": {"WhoId": {"old": null, "new": "@{s0.id}"}, "WhatId": {"old": null, "new": "006Dm0000000002IAA"}}}),
            ],
            ..Preview::default()
        });
        o.count = Some(2);
        let names = Names::from([("006Dm0000000002IAA".to_string(), "Acme Renewal".to_string())]);
        let p = preview(&o, &names, &PLAIN);
        assert!(
            p.contains("create Contact \"Jane Doe\": LastName = Doe\n"),
            "{p}"
        );
        assert!(
            p.contains("WhatId = Acme Renewal, WhoId = (new) Jane Doe"),
            "{p}"
        );
    }

    #[test]
    fn candidates_show_only_fields_that_differ() {
        let rows = vec![
            (
                "Opportunity".to_string(),
                "Globex Enterprise License".to_string(),
                vec![
                    ("Stage".to_string(), "Negotiation/Review".to_string()),
                    ("Account".to_string(), "Globex".to_string()),
                ],
            ),
            (
                "Opportunity".to_string(),
                "Globex Facilities Add-on".to_string(),
                vec![
                    ("Stage".to_string(), "Needs Analysis".to_string()),
                    ("Account".to_string(), "Globex".to_string()),
                ],
            ),
        ];
        let t = candidates(&rows);
        assert!(t.contains("Stage") && t.contains("Needs Analysis"), "{t}");
        assert!(!t.contains("Account"), "{t}");
    }
}
