//! Field and value resolution against a user's describe: fields by alias, API name or label
//! (custom fields included), picklist values by the closest active value, value coercion per field
//! type, and the field-permission check that turns a read-only or hidden field into `denied`.
//!
//! Pure: works on [`ObjectDescribe`] and the language's [`FieldChange`]; record lookups for reference
//! fields are returned as [`FieldValue::Lookup`] for `record.rs` to resolve.

use chrono::{Datelike, NaiveDate};
use serde_json::{Value as Json, json};

use super::ResolveError;
use super::schema::{FieldDescribe, ObjectDescribe};
use crate::lang::{ChangeOp, Entity, FieldChange, FieldRef, Value};

/// Lower-case words of a text, punctuation treated as spaces.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words of an API name: `Budget_Approved__c` → budget approved, `StageName` → stage name.
fn api_words(name: &str) -> Vec<String> {
    let base = name.strip_suffix("__c").unwrap_or(name);
    let mut out = Vec::new();
    for part in base.split('_').filter(|p| !p.is_empty()) {
        let mut cur = String::new();
        let chars: Vec<char> = part.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let boundary = c.is_uppercase()
                && !cur.is_empty()
                && (chars[i - 1].is_lowercase()
                    || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
            if boundary {
                out.push(cur.to_lowercase());
                cur.clear();
            }
            cur.push(*c);
        }
        if !cur.is_empty() {
            out.push(cur.to_lowercase());
        }
    }
    out
}

/// Whether a said word names a word of a value ("negotiation" ~ "negotiation", "escalate" ~
/// "escalated", "complete" ~ "completed").
pub fn word_matches(said: &str, word: &str) -> bool {
    said == word
        || (said.len() >= 3 && word.starts_with(said))
        || (word.len() >= 4 && said.starts_with(word) && said.len() <= word.len() + 2)
}

fn label_words(f: &FieldDescribe) -> Vec<String> {
    let mut w = words(&f.label);
    // "Account ID" → account, "Probability (%)" → probability
    if w.len() > 1 && w.last().is_some_and(|l| l == "id") {
        w.pop();
    }
    w
}

/// Finds the field a [`FieldRef`] names on `object`. Hidden fields (absent from the user's describe but
/// known to the grammar) are `denied`.
///
/// # Errors
/// [`ResolveError::Denied`] for a hidden field; [`ResolveError::Invalid`] when nothing is close.
pub fn find_field<'a>(
    d: &'a ObjectDescribe,
    fr: &FieldRef,
) -> Result<&'a FieldDescribe, ResolveError> {
    let said = words(&fr.said);
    let mut hidden_alias = None;
    for alias in &fr.candidates {
        if alias.object.is_some_and(|o| o.api_name() != d.name) {
            continue;
        }
        match d.field(&alias.api_name) {
            Some(f) => return Ok(f),
            None if alias.object.is_some() => hidden_alias = Some(alias.api_name.clone()),
            None => {}
        }
    }
    let joined = said.join(" ");
    let mut best: Option<(u32, &FieldDescribe)> = None;
    for f in &d.fields {
        let lw = label_words(f);
        let aw = api_words(&f.name);
        let score = if f.name.eq_ignore_ascii_case(fr.said.trim())
            || aw.join(" ") == joined
            || lw.join(" ") == joined
        {
            100
        } else if !said.is_empty() && said.iter().all(|s| lw.iter().any(|w| word_matches(s, w))) {
            80 - (lw.len() as u32).min(20)
        } else if !said.is_empty() && said.iter().all(|s| aw.iter().any(|w| word_matches(s, w))) {
            70 - (aw.len() as u32).min(20)
        } else {
            let jw = strsim::jaro_winkler(&joined, &lw.join(" "));
            if jw >= 0.92 { (jw * 50.0) as u32 } else { 0 }
        };
        if score == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((s, b)) => score > s || (score == s && f.updateable && !b.updateable),
        };
        if better {
            best = Some((score, f));
        }
    }
    if let Some((_, f)) = best {
        return Ok(f);
    }
    if let Some(api) = hidden_alias {
        return Err(ResolveError::Denied(format!(
            "you can't see the field `{api}` on {}: it is hidden from your profile",
            d.name
        )));
    }
    let suggestion = d
        .fields
        .iter()
        .filter(|f| f.updateable)
        .map(|f| (strsim::jaro_winkler(&joined, &f.label.to_lowercase()), f))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(s, _)| *s > 0.75)
        .map(|(_, f)| format!("; did you mean `{}`?", f.label))
        .unwrap_or_default();
    Err(ResolveError::Invalid(format!(
        "{} has no field `{}` you can see{suggestion}",
        d.name, fr.said
    )))
}

/// Fields treated as "the status" when a phrase gives only a value ("mark X as closed lost").
const STATUS_FIELDS: [&str; 3] = ["StageName", "Status", "Priority"];

/// Picks the field for a change that named none: the status-like picklist that holds the value,
/// else any picklist that does.
///
/// # Errors
/// [`ResolveError::Invalid`] when no picklist of the object holds the value.
pub fn field_for_value<'a>(
    d: &'a ObjectDescribe,
    value: &Value,
) -> Result<&'a FieldDescribe, ResolveError> {
    for hint in &value.hints {
        if let Some(f) = d.field(&hint.field).filter(|f| !f.picklist.is_empty())
            && f.picklist
                .iter()
                .any(|p| p.active && p.value.eq_ignore_ascii_case(&hint.value))
        {
            return Ok(f);
        }
    }
    for name in STATUS_FIELDS {
        if let Some(f) = d.field(name)
            && match_picklist(f, value).is_ok()
        {
            return Ok(f);
        }
    }
    for f in d
        .fields
        .iter()
        .filter(|f| f.kind == "picklist" && f.updateable)
    {
        if match_picklist(f, value).is_ok() {
            return Ok(f);
        }
    }
    // No picklist holds it: report against the main status field when there is one.
    if let Some(f) = STATUS_FIELDS.iter().find_map(|n| d.field(n)) {
        return Err(invalid_picklist(f, &value.said));
    }
    Err(ResolveError::Invalid(format!(
        "`{}` is not a value of any field on {}",
        value.said, d.name
    )))
}

fn invalid_picklist(f: &FieldDescribe, said: &str) -> ResolveError {
    let options: Vec<&str> = f
        .picklist
        .iter()
        .filter(|p| p.active)
        .map(|p| p.value.as_str())
        .collect();
    ResolveError::Invalid(format!(
        "`{said}` is not a {} value; choose one of: {}",
        f.label,
        options.join(", ")
    ))
}

/// Built-in synonyms of common picklist words, used when the grammar gave no hint.
const SYNONYMS: [(&str, &str); 8] = [
    ("done", "completed"),
    ("complete", "completed"),
    ("finished", "completed"),
    ("won", "closed won"),
    ("lost", "closed lost"),
    ("escalate", "escalated"),
    ("close", "closed"),
    ("urgent", "high"),
];

/// The active picklist value closest to what was said.
///
/// # Errors
/// [`ResolveError::Invalid`] when no active value is close, or several are equally close.
pub fn match_picklist(f: &FieldDescribe, value: &Value) -> Result<String, ResolveError> {
    let active: Vec<_> = f.picklist.iter().filter(|p| p.active).collect();
    for hint in &value.hints {
        if (hint.field == "*" || hint.field.eq_ignore_ascii_case(&f.name))
            && let Some(p) = active
                .iter()
                .find(|p| p.value.eq_ignore_ascii_case(&hint.value))
        {
            return Ok(p.value.clone());
        }
    }
    let mut said = words(&text_of(value));
    let joined = said.join(" ");
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == joined) {
        let to_words = words(to);
        if active
            .iter()
            .any(|p| words(&p.value) == to_words || words(&p.label) == to_words)
        {
            said = to_words;
        }
    }
    let joined = said.join(" ");
    if said.is_empty() {
        return Err(invalid_picklist(f, &value.said));
    }
    let mut scored: Vec<(u32, &str)> = Vec::new();
    for p in &active {
        let vw = words(&p.value);
        let lw = words(&p.label);
        let score = if vw.join(" ") == joined || lw.join(" ") == joined {
            1000
        } else if said.iter().all(|s| vw.iter().any(|w| word_matches(s, w))) {
            500 - vw.len() as u32
        } else if said.iter().all(|s| lw.iter().any(|w| word_matches(s, w))) {
            400 - lw.len() as u32
        } else {
            let jw = strsim::jaro_winkler(&joined, &vw.join(" "));
            if jw >= 0.9 { (jw * 300.0) as u32 } else { 0 }
        };
        if score > 0 {
            scored.push((score, p.value.as_str()));
        }
    }
    scored.sort_by_key(|b| std::cmp::Reverse(b.0));
    match scored.as_slice() {
        [] => Err(invalid_picklist(f, &value.said)),
        [(s, v), (s2, v2), ..] if s == s2 => Err(ResolveError::Invalid(format!(
            "`{}` could be {v} or {v2} for {}; say which",
            value.said, f.label
        ))),
        [(_, v), ..] => Ok((*v).to_string()),
    }
}

/// A resolved value: a literal, or a record to find by name first.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// The JSON value to write.
    Literal(Json),
    /// A reference field: look up a record of one of `objects` by `name`.
    Lookup {
        /// Candidate objects (`User`, `Account`, `Contact`, …).
        objects: Vec<String>,
        /// The name as said.
        name: String,
    },
}

fn number_of(value: &Value, prefer: &[&str]) -> Option<f64> {
    for kind in prefer {
        for e in &value.entities {
            match (kind, e) {
                (&"money", Entity::Money(n))
                | (&"number", Entity::Number(n))
                | (&"percent", Entity::Percent(n)) => {
                    return Some(*n);
                }
                _ => {}
            }
        }
    }
    // Only a value that is a plain number as written ("90000", "$1,200", "20%"); digits picked
    // out of longer text would be a guess that writes.
    let cleaned: String = value
        .said
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches('%')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    cleaned.trim().parse().ok()
}

fn bool_of(value: &Value) -> Option<bool> {
    for e in &value.entities {
        if let Entity::Bool(b) = e {
            return Some(*b);
        }
    }
    // The whole value must be a yes or a no: "approved", "not approved", "no".
    let joined = words(&value.said).join(" ");
    let yes = [
        "yes", "true", "approved", "checked", "on", "y", "set", "done", "ticked",
    ];
    let no = [
        "no",
        "false",
        "unapproved",
        "unchecked",
        "off",
        "n",
        "unset",
        "not approved",
        "not checked",
        "not set",
    ];
    if no.contains(&joined.as_str()) {
        Some(false)
    } else if yes.contains(&joined.as_str()) {
        Some(true)
    } else {
        None
    }
}

fn date_of(value: &Value) -> Option<NaiveDate> {
    for e in &value.entities {
        if let Entity::Date(d) = e {
            return Some(*d);
        }
    }
    NaiveDate::parse_from_str(value.said.trim(), "%Y-%m-%d").ok()
}

/// Adds a calendar span to a date (months first, clamped to the month's last day).
pub fn shift_date(d: NaiveDate, months: i32, days: i64) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let mut day = d.day();
    let shifted = loop {
        if let Some(x) = NaiveDate::from_ymd_opt(y, m, day) {
            break x;
        }
        day -= 1;
    };
    shifted + chrono::Duration::days(days)
}

/// Text of a value as said (quoted text without its quotes).
fn text_of(value: &Value) -> String {
    for e in &value.entities {
        if let Entity::Quoted(q) = e {
            return q.clone();
        }
    }
    value.said.trim().to_string()
}

/// Coerces a said value to what `f` holds, applying the change operation to `current`.
///
/// # Errors
/// [`ResolveError::Invalid`] when the value can't be stored in the field.
pub fn coerce(
    f: &FieldDescribe,
    change: &FieldChange,
    current: Option<&Json>,
) -> Result<FieldValue, ResolveError> {
    let value = &change.value;
    let bad = |what: &str| {
        ResolveError::Invalid(format!("`{}` is not {what} for {}", value.said, f.label))
    };
    let lit = |j: Json| Ok(FieldValue::Literal(j));
    match f.kind.as_str() {
        "picklist" | "multipicklist" => lit(json!(match_picklist(f, value)?)),
        "currency" | "double" | "percent" | "int" | "long" => {
            let prefer: &[&str] = match f.kind.as_str() {
                "currency" => &["money", "number", "percent"],
                "percent" => &["percent", "number", "money"],
                _ => &["number", "money", "percent"],
            };
            let n = number_of(value, prefer).ok_or_else(|| bad("a number"))?;
            let cur = current.and_then(Json::as_f64).unwrap_or(0.0);
            let n = match change.op {
                ChangeOp::Add => cur + n,
                ChangeOp::Subtract => cur - n,
                _ => n,
            };
            if matches!(f.kind.as_str(), "int" | "long") {
                lit(json!(n.round() as i64))
            } else {
                lit(json!(n))
            }
        }
        "date" | "datetime" => {
            let d = if change.op == ChangeOp::Shift {
                let span = value
                    .entities
                    .iter()
                    .find_map(|e| {
                        if let Entity::Span(s) = e {
                            Some(*s)
                        } else {
                            None
                        }
                    })
                    .ok_or_else(|| bad("a length of time"))?;
                let cur = current
                    .and_then(Json::as_str)
                    .and_then(|s| {
                        NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
                    })
                    .ok_or_else(|| {
                        ResolveError::Invalid(format!("{} has no date to move", f.label))
                    })?;
                shift_date(cur, span.months, span.days)
            } else {
                date_of(value).ok_or_else(|| bad("a date"))?
            };
            if f.kind == "date" {
                lit(json!(d.format("%Y-%m-%d").to_string()))
            } else {
                lit(json!(format!("{}T00:00:00.000+0000", d.format("%Y-%m-%d"))))
            }
        }
        "boolean" => lit(json!(bool_of(value).ok_or_else(|| bad("yes or no"))?)),
        "reference" => {
            let objects: Vec<String> = f
                .reference_to
                .iter()
                .filter(|o| {
                    ["User", "Account", "Contact", "Lead", "Opportunity", "Case"]
                        .contains(&o.as_str())
                })
                .cloned()
                .collect();
            if objects.is_empty() {
                return Err(bad("a record you can name"));
            }
            Ok(FieldValue::Lookup {
                objects,
                name: text_of(value),
            })
        }
        "email" | "phone" => {
            let typed = value
                .entities
                .iter()
                .find_map(|e| match (f.kind.as_str(), e) {
                    ("email", Entity::Email(x)) | ("phone", Entity::Phone(x)) => Some(x.clone()),
                    _ => None,
                });
            let text = typed.unwrap_or_else(|| text_of(value));
            if f.kind == "email" && !text.contains('@') {
                return Err(bad("an email address"));
            }
            lit(json!(text))
        }
        _ => lit(json!(text_of(value))),
    }
}

/// Checks the user may write `f` (update when `create` is false).
///
/// # Errors
/// [`ResolveError::Denied`] naming the field and the reason.
pub fn check_writable(
    d: &ObjectDescribe,
    f: &FieldDescribe,
    create: bool,
) -> Result<(), ResolveError> {
    let ok = if create { f.createable } else { f.updateable };
    if ok {
        return Ok(());
    }
    Err(ResolveError::Denied(format!(
        "you can't {} {} `{}` ({}): the field is read-only for your profile",
        if create { "set" } else { "edit" },
        d.name,
        f.label,
        f.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{FieldAlias, ObjectKind, ValueHint};
    use crate::resolve::schema::PicklistValue;

    fn picklist(name: &str, values: &[&str]) -> FieldDescribe {
        FieldDescribe {
            name: name.into(),
            label: name.into(),
            kind: "picklist".into(),
            updateable: true,
            createable: true,
            picklist: values
                .iter()
                .map(|v| PicklistValue {
                    value: (*v).into(),
                    label: (*v).into(),
                    active: true,
                })
                .collect(),
            reference_to: vec![],
            custom: false,
        }
    }

    /// The value or field was refused as not valid.
    fn invalid<T>(r: Result<T, ResolveError>) -> bool {
        matches!(r, Err(ResolveError::Invalid(_)))
    }

    /// The user may not see or set the field.
    fn denied<T>(r: Result<T, ResolveError>) -> bool {
        matches!(r, Err(ResolveError::Denied(_)))
    }

    fn plain(said: &str) -> Value {
        Value {
            said: said.into(),
            entities: vec![],
            hints: vec![],
        }
    }

    fn stages() -> FieldDescribe {
        picklist(
            "StageName",
            &[
                "Prospecting",
                "Qualification",
                "Proposal/Price Quote",
                "Negotiation/Review",
                "Closed Won",
                "Closed Lost",
            ],
        )
    }

    #[test]
    fn picklist_closest_active_value() {
        let stage = stages();
        let status = picklist(
            "Status",
            &["Not Started", "In Progress", "Completed", "Deferred"],
        );
        let case = picklist("Status", &["New", "Working", "Escalated", "Closed"]);
        for (f, said, want) in [
            (&stage, "negotiation", "Negotiation/Review"),
            (&stage, "negotiation review", "Negotiation/Review"),
            (&stage, "proposal", "Proposal/Price Quote"),
            (&stage, "won", "Closed Won"),
            (&stage, "closed lost", "Closed Lost"),
            (&status, "done", "Completed"),
            (&status, "complete", "Completed"),
            (&case, "escalate", "Escalated"),
            (&case, "closed", "Closed"),
        ] {
            assert_eq!(match_picklist(f, &plain(said)).unwrap(), want, "{said}");
        }
        assert!(invalid(match_picklist(&stage, &plain("wonderful"))));
        assert!(invalid(match_picklist(&stage, &plain("closed"))));
    }

    #[test]
    fn inactive_values_are_not_chosen() {
        let mut f = stages();
        f.picklist[4].active = false;
        let mut v = plain("won");
        v.hints.push(ValueHint {
            field: "StageName".into(),
            value: "Closed Won".into(),
        });
        assert!(match_picklist(&f, &v).is_err());
    }

    fn describe() -> ObjectDescribe {
        let mut budget = picklist("Budget_Approved__c", &[]);
        budget.kind = "boolean".into();
        budget.label = "Budget Approved".into();
        budget.custom = true;
        let mut fc = picklist("ForecastCategoryName", &["Pipeline", "Best Case"]);
        fc.label = "Forecast Category".into();
        fc.updateable = false;
        let mut close = picklist("CloseDate", &[]);
        close.kind = "date".into();
        close.label = "Close Date".into();
        let mut stage = stages();
        stage.label = "Stage".into();
        ObjectDescribe {
            name: "Opportunity".into(),
            label: "Opportunity".into(),
            createable: true,
            updateable: true,
            fields: vec![stage, budget, fc, close],
        }
    }

    fn said(s: &str) -> FieldRef {
        FieldRef {
            said: s.into(),
            candidates: vec![],
        }
    }

    #[test]
    fn fields_by_label_api_name_and_partial_label() {
        let d = describe();
        for (words, api_name) in [
            ("stage", "StageName"),
            ("stagename", "StageName"),
            ("close date", "CloseDate"),
            ("budget approved", "Budget_Approved__c"),
            ("budget", "Budget_Approved__c"),
        ] {
            assert_eq!(
                find_field(&d, &said(words)).unwrap().name,
                api_name,
                "{words}"
            );
        }
        assert!(invalid(find_field(&d, &said("sandwich"))));
    }

    #[test]
    fn read_only_field_is_denied_and_hidden_alias_is_denied() {
        let d = describe();
        let f = find_field(&d, &said("forecast category")).unwrap();
        assert!(denied(check_writable(&d, f, false)));
        let hidden = FieldRef {
            said: "tier".into(),
            candidates: vec![FieldAlias {
                object: Some(ObjectKind::Opportunity),
                api_name: "Tier__c".into(),
            }],
        };
        assert!(denied(find_field(&d, &hidden)));
    }

    #[test]
    fn coercion_per_type_and_relative_changes() {
        let d = describe();
        let change = |v: Value, op| FieldChange {
            field: None,
            op,
            value: v,
        };
        let mut money = plain("92k");
        money.entities.push(Entity::Money(92000.0));
        let mut amount = picklist("Amount", &[]);
        amount.kind = "currency".into();
        assert_eq!(
            coerce(&amount, &change(money.clone(), ChangeOp::Set), None).unwrap(),
            FieldValue::Literal(json!(92000.0))
        );
        assert_eq!(
            coerce(&amount, &change(money, ChangeOp::Add), Some(&json!(8000.0))).unwrap(),
            FieldValue::Literal(json!(100000.0))
        );
        let mut span = plain("two weeks");
        span.entities.push(Entity::Span(crate::lang::Span {
            months: 0,
            days: 14,
        }));
        let close = d.field("CloseDate").unwrap();
        assert_eq!(
            coerce(
                close,
                &change(span, ChangeOp::Shift),
                Some(&json!("2026-12-20"))
            )
            .unwrap(),
            FieldValue::Literal(json!("2027-01-03"))
        );
        let budget = d.field("Budget_Approved__c").unwrap();
        assert_eq!(
            coerce(budget, &change(plain("approved"), ChangeOp::Set), None).unwrap(),
            FieldValue::Literal(json!(true))
        );
        assert!(coerce(close, &change(plain("soonish"), ChangeOp::Set), None).is_err());
        assert_eq!(
            coerce(&amount, &change(plain("$1,200"), ChangeOp::Set), None).unwrap(),
            FieldValue::Literal(json!(1200.0))
        );
        assert!(
            coerce(
                &amount,
                &change(
                    plain("0.5 million and the close date to january 31"),
                    ChangeOp::Set
                ),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn value_only_change_picks_status_field() {
        let d = describe();
        assert_eq!(
            field_for_value(&d, &plain("closed lost")).unwrap().name,
            "StageName"
        );
        assert!(invalid(field_for_value(&d, &plain("wonderful"))));
    }

    #[test]
    fn api_words_split_camel_case() {
        assert_eq!(api_words("StageName"), vec!["stage", "name"]);
        assert_eq!(api_words("Budget_Approved__c"), vec!["budget", "approved"]);
        assert_eq!(api_words("MobilePhone"), vec!["mobile", "phone"]);
    }
}
