//! Values the org derives on every write: Opportunity IsClosed/IsWon/Probability/
//! ForecastCategoryName/ExpectedRevenue/fiscal period from the stage and close date, Contact/Lead/
//! User Name from the name parts, Case IsClosed/ClosedDate, Task IsClosed/IsHighPriority/
//! CompletedDateTime, Event activity dates, ContentNote TextPreview/ContentSize.
//!
//! Pure functions over a [`Row`]; `dml.rs` calls [`apply`] after merging the request into the old
//! row, and `seed.rs` calls it for the demo data. Audit fields and autonumbers are set by `dml.rs`.

use crate::sandbox::clock;
use rusqlite::types::Value as SqlValue;
use std::collections::HashMap;

/// A record being written: canonical field name → column value. Absent = not set.
pub type Row = HashMap<String, SqlValue>;

/// The default stage table of a fresh org: (stage, probability, forecast category, closed, won).
pub const OPPORTUNITY_STAGES: &[(&str, f64, &str, bool, bool)] = &[
    ("Prospecting", 10.0, "Pipeline", false, false),
    ("Qualification", 10.0, "Pipeline", false, false),
    ("Needs Analysis", 20.0, "Pipeline", false, false),
    ("Value Proposition", 50.0, "Pipeline", false, false),
    ("Id. Decision Makers", 60.0, "Pipeline", false, false),
    ("Perception Analysis", 70.0, "Pipeline", false, false),
    ("Proposal/Price Quote", 75.0, "Pipeline", false, false),
    ("Negotiation/Review", 90.0, "Pipeline", false, false),
    ("Closed Won", 100.0, "Closed", true, true),
    ("Closed Lost", 0.0, "Omitted", true, false),
];

/// The stage entry for `stage` (case-insensitive).
pub fn stage_info(stage: &str) -> Option<(f64, &'static str, bool, bool)> {
    OPPORTUNITY_STAGES
        .iter()
        .find(|s| s.0.eq_ignore_ascii_case(stage))
        .map(|s| (s.1, s.2, s.3, s.4))
}

fn text<'a>(row: &'a Row, f: &str) -> Option<&'a str> {
    match row.get(f) {
        Some(SqlValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn num(row: &Row, f: &str) -> Option<f64> {
    match row.get(f) {
        Some(SqlValue::Real(x)) => Some(*x),
        Some(SqlValue::Integer(i)) => Some(*i as f64),
        _ => None,
    }
}

fn set_bool(row: &mut Row, f: &str, b: bool) {
    row.insert(f.to_string(), SqlValue::Integer(i64::from(b)));
}

/// Whether a field was given in this request (explicitly, even as null).
fn given(changes: &Row, f: &str) -> bool {
    changes.contains_key(f)
}

/// Applies the derived values of `object` to `row` (the merged new state). `changes` holds only
/// what the request set; `is_insert` tells create from update; `now` is the write time.
pub fn apply(object: &str, row: &mut Row, changes: &Row, is_insert: bool, now: &str) {
    match object {
        "Opportunity" => opportunity(row, changes, is_insert, now),
        "Contact" | "Lead" | "User"
            if is_insert || given(changes, "FirstName") || given(changes, "LastName") =>
        {
            let first = text(row, "FirstName").unwrap_or("").trim().to_string();
            let last = text(row, "LastName").unwrap_or("").trim().to_string();
            let name = if first.is_empty() {
                last
            } else {
                format!("{first} {last}")
            };
            row.insert("Name".into(), SqlValue::Text(name));
        }
        "Case" => {
            let closed = text(row, "Status").is_some_and(|s| s.eq_ignore_ascii_case("Closed"));
            let was_closed = matches!(row.get("IsClosed"), Some(SqlValue::Integer(1)));
            set_bool(row, "IsClosed", closed);
            if closed
                && (!was_closed || is_insert)
                && !matches!(row.get("ClosedDate"), Some(SqlValue::Text(_)))
            {
                row.insert("ClosedDate".into(), SqlValue::Text(now.to_string()));
            }
            if !closed {
                row.insert("ClosedDate".into(), SqlValue::Null);
            }
        }
        "Task" => {
            let closed = text(row, "Status").is_some_and(|s| s.eq_ignore_ascii_case("Completed"));
            set_bool(row, "IsClosed", closed);
            let high = text(row, "Priority").is_some_and(|s| s.eq_ignore_ascii_case("High"));
            set_bool(row, "IsHighPriority", high);
            if closed {
                if !matches!(row.get("CompletedDateTime"), Some(SqlValue::Text(_))) {
                    row.insert("CompletedDateTime".into(), SqlValue::Text(now.to_string()));
                }
            } else {
                row.insert("CompletedDateTime".into(), SqlValue::Null);
            }
        }
        "Event" => event(row, changes),
        "ContentNote" if is_insert || given(changes, "Content") => {
            let body = text(row, "Content").unwrap_or("").to_string();
            let preview: String = strip_tags(&body).chars().take(255).collect();
            row.insert(
                "TextPreview".into(),
                if body.is_empty() {
                    SqlValue::Null
                } else {
                    SqlValue::Text(preview)
                },
            );
            row.insert("ContentSize".into(), SqlValue::Integer(body.len() as i64));
            row.insert("FileType".into(), SqlValue::Text("SNOTE".into()));
        }
        _ => {}
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn opportunity(row: &mut Row, changes: &Row, is_insert: bool, now: &str) {
    let stage_changed = is_insert || given(changes, "StageName");
    if let Some(stage) = text(row, "StageName").map(str::to_string) {
        let info = stage_info(&stage);
        if stage_changed {
            if let Some((prob, forecast, _, _)) = info {
                if !given(changes, "Probability") {
                    row.insert("Probability".into(), SqlValue::Real(prob));
                }
                if !given(changes, "ForecastCategoryName") {
                    row.insert(
                        "ForecastCategoryName".into(),
                        SqlValue::Text(forecast.to_string()),
                    );
                }
            }
            row.insert(
                "LastStageChangeDate".into(),
                SqlValue::Text(now.to_string()),
            );
        }
        let (closed, won) = info.map(|i| (i.2, i.3)).unwrap_or((false, false));
        set_bool(row, "IsClosed", closed);
        set_bool(row, "IsWon", won);
    }
    let category = match text(row, "ForecastCategoryName") {
        Some("Pipeline") => "Pipeline",
        Some("Best Case") => "BestCase",
        Some("Commit") => "Forecast",
        Some("Closed") => "Closed",
        _ => "Omitted",
    };
    row.insert(
        "ForecastCategory".into(),
        SqlValue::Text(category.to_string()),
    );
    let expected = match (num(row, "Amount"), num(row, "Probability")) {
        (Some(a), Some(p)) => SqlValue::Real(a * p / 100.0),
        _ => SqlValue::Null,
    };
    row.insert("ExpectedRevenue".into(), expected);
    if let Some(d) = text(row, "CloseDate").and_then(clock::parse_date) {
        use chrono::Datelike;
        let q = (d.month() - 1) / 3 + 1;
        row.insert("FiscalYear".into(), SqlValue::Integer(i64::from(d.year())));
        row.insert("FiscalQuarter".into(), SqlValue::Integer(i64::from(q)));
        row.insert("Fiscal".into(), SqlValue::Text(format!("{} {q}", d.year())));
    }
}

fn event(row: &mut Row, changes: &Row) {
    let start = text(row, "StartDateTime").and_then(clock::parse_datetime);
    let Some(start) = start else { return };
    if given(changes, "EndDateTime")
        && !given(changes, "DurationInMinutes")
        && let Some(end) = text(row, "EndDateTime").and_then(clock::parse_datetime)
    {
        row.insert(
            "DurationInMinutes".into(),
            SqlValue::Integer((end - start).num_minutes()),
        );
    }
    let minutes = match row.get("DurationInMinutes") {
        Some(SqlValue::Integer(m)) => *m,
        _ => 0,
    };
    let end = start + chrono::Duration::minutes(minutes);
    row.insert(
        "EndDateTime".into(),
        SqlValue::Text(clock::format_datetime(end)),
    );
    row.insert(
        "ActivityDateTime".into(),
        SqlValue::Text(clock::format_datetime(start)),
    );
    row.insert(
        "ActivityDate".into(),
        SqlValue::Text(clock::utc_to_org(start).date().to_string()),
    );
    row.insert(
        "EndDate".into(),
        SqlValue::Text(clock::utc_to_org(end).date().to_string()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SqlValue {
        SqlValue::Text(s.into())
    }

    #[test]
    fn stage_drives_opportunity_fields_but_explicit_values_win() {
        let mut row = Row::new();
        row.insert("StageName".into(), t("Closed Won"));
        row.insert("Amount".into(), SqlValue::Real(1000.0));
        row.insert("CloseDate".into(), t("2026-05-10"));
        let changes = row.clone();
        apply("Opportunity", &mut row, &changes, true, "now");
        assert_eq!(row["IsClosed"], SqlValue::Integer(1));
        assert_eq!(row["IsWon"], SqlValue::Integer(1));
        assert_eq!(row["Probability"], SqlValue::Real(100.0));
        assert_eq!(row["ForecastCategoryName"], t("Closed"));
        assert_eq!(row["ExpectedRevenue"], SqlValue::Real(1000.0));
        assert_eq!(row["FiscalQuarter"], SqlValue::Integer(2));

        let mut changes = Row::new();
        changes.insert("StageName".into(), t("Negotiation/Review"));
        changes.insert("Probability".into(), SqlValue::Real(95.0));
        row.extend(changes.clone());
        apply("Opportunity", &mut row, &changes, false, "now");
        assert_eq!(
            row["Probability"],
            SqlValue::Real(95.0),
            "explicit probability kept"
        );
        assert_eq!(row["ForecastCategoryName"], t("Pipeline"));
        assert_eq!(row["IsClosed"], SqlValue::Integer(0));
    }

    #[test]
    fn names_and_activity_flags() {
        let mut row = Row::new();
        row.insert("FirstName".into(), t("Ada"));
        row.insert("LastName".into(), t("Lovelace"));
        let c = row.clone();
        apply("Contact", &mut row, &c, true, "now");
        assert_eq!(row["Name"], t("Ada Lovelace"));
        let mut task = Row::new();
        task.insert("Status".into(), t("Completed"));
        let c = task.clone();
        apply("Task", &mut task, &c, true, "2026-01-01T00:00:00.000+0000");
        assert_eq!(task["IsClosed"], SqlValue::Integer(1));
        let mut note = Row::new();
        note.insert("Content".into(), t("<p>Hello</p>"));
        let c = note.clone();
        apply("ContentNote", &mut note, &c, true, "now");
        assert_eq!(note["TextPreview"], t("Hello"));
    }
}
