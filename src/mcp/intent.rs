//! Structured intents: what an assistant that prefers structure sends to `preview` instead of a
//! phrase. Each becomes the same [`ParsedCommand`] the language would produce, so it goes through
//! the same resolution (names, picklists, permissions) as a phrase. Text values stay data: they
//! are never parsed as commands.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::lang::{
    AddNote, ChangeOp, Clause, CreateTask, Entity, FieldChange, FieldRef, Intent, LogCall,
    ObjectKind, ParsedCommand, RecordFilter, RecordRef, Regarding, Target, UpdateFields, Value,
};

/// What a structured intent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Set fields on a record (`record`) or on every record of a `filter`.
    Update,
    /// Add a note (`text`) to a record or to every record of a filter.
    AddNote,
    /// Create a task for yourself: `text` is its subject, `due` its date, `record` what it is about.
    CreateTask,
    /// Log a call: `text` is what was said, `record` the deal/account/contact it was with.
    LogCall,
}

/// Which records of an object a change applies to.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct Filter {
    /// Only records you own.
    #[serde(default)]
    pub mine: bool,
    /// Only open (true) or closed (false) records.
    pub open: Option<bool>,
    /// Opportunity stage, e.g. "Negotiation/Review".
    pub stage: Option<String>,
    /// The account's name.
    pub account: Option<String>,
    /// Words of the records' names.
    pub name: Option<String>,
}

/// A command in structured form.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct StructuredIntent {
    /// What to do.
    pub action: Action,
    /// The object: an API name ("Opportunity", "Account", "Contact", "Lead", "Case", "Task").
    pub object: Option<String>,
    /// The name (or case number) of the one record to act on.
    pub record: Option<String>,
    /// The records to act on, instead of `record`.
    pub filter: Option<Filter>,
    /// `update`: the new values, by field label or API name ("Amount": 92000, "Stage": "Closed Won",
    /// "CloseDate": "2026-12-15").
    #[serde(default)]
    pub fields: BTreeMap<String, Json>,
    /// The note's text, the task's subject, or the call's notes. Kept as data.
    pub text: Option<String>,
    /// A task's due date (YYYY-MM-DD).
    pub due: Option<NaiveDate>,
}

/// Why a structured intent can't be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntentError {
    /// A slot the action needs is missing.
    #[error("`{action}` needs {what}")]
    Missing {
        /// The action.
        action: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// An object sayso does not know.
    #[error("unknown object `{0}`: use Opportunity, Account, Contact, Lead, Case or Task")]
    Object(String),
}

impl StructuredIntent {
    /// The command as the language would have parsed it; `today` anchors dates.
    ///
    /// # Errors
    /// [`IntentError`] when a needed slot is missing or the object is unknown.
    pub fn to_parsed(&self, today: NaiveDate) -> Result<ParsedCommand, IntentError> {
        let intent = match self.action {
            Action::Update => self.update()?,
            Action::AddNote => Intent::AddNote(AddNote {
                target: self.target("add_note")?,
                text: self.text("add_note", "`text` (the note)")?,
            }),
            Action::CreateTask => Intent::CreateTask(CreateTask {
                subject: self.text("create_task", "`text` (the subject)")?,
                due: self.due,
                about: Regarding {
                    who: None,
                    what: self.record_ref(),
                },
                priority: None,
            }),
            Action::LogCall => Intent::LogCall(LogCall {
                about: Regarding {
                    who: None,
                    what: Some(
                        self.record_ref()
                            .ok_or(self.missing("log_call", "`record`"))?,
                    ),
                },
                description: self.text.clone(),
                ..LogCall::default()
            }),
        };
        Ok(ParsedCommand {
            input: self.describe(),
            today,
            clauses: vec![Clause {
                text: intent.name().to_string(),
                intent,
            }],
        })
    }

    fn missing(&self, action: &'static str, what: &'static str) -> IntentError {
        IntentError::Missing { action, what }
    }

    fn update(&self) -> Result<Intent, IntentError> {
        if self.fields.is_empty() {
            return Err(self.missing("update", "`fields`"));
        }
        let changes = self
            .fields
            .iter()
            .map(|(k, v)| FieldChange {
                field: Some(FieldRef {
                    said: k.clone(),
                    candidates: Vec::new(),
                }),
                op: ChangeOp::Set,
                value: value_of(v),
            })
            .collect();
        Ok(Intent::UpdateFields(UpdateFields {
            target: self.target("update")?,
            changes,
        }))
    }

    fn text(&self, action: &'static str, what: &'static str) -> Result<String, IntentError> {
        self.text
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or(self.missing(action, what))
    }

    fn object(&self) -> Result<Option<ObjectKind>, IntentError> {
        match &self.object {
            None => Ok(None),
            Some(o) => ObjectKind::from_api_name(o.trim())
                .map(Some)
                .ok_or_else(|| IntentError::Object(o.clone())),
        }
    }

    fn record_ref(&self) -> Option<RecordRef> {
        let name = self.record.as_deref()?.trim();
        let number = name
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| name.to_string());
        Some(RecordRef {
            text: if number.is_some() {
                String::new()
            } else {
                name.to_lowercase()
            },
            object: self.object().ok().flatten(),
            number,
            ..RecordRef::default()
        })
    }

    fn target(&self, action: &'static str) -> Result<Target, IntentError> {
        let object = self.object()?;
        if let Some(r) = self.record_ref() {
            return Ok(Target::Record(r));
        }
        let f = self
            .filter
            .as_ref()
            .ok_or(self.missing(action, "`record` or `filter`"))?;
        Ok(Target::Filter(RecordFilter {
            object,
            mine: f.mine,
            open: f.open,
            stage: f.stage.as_ref().map(|s| value_of(&Json::String(s.clone()))),
            account: f.account.as_ref().map(|a| a.to_lowercase()),
            text: f.name.clone().unwrap_or_default().to_lowercase(),
            ..RecordFilter::default()
        }))
    }

    /// A one-line rendering for the journal and history.
    fn describe(&self) -> String {
        let what = match (&self.record, &self.filter) {
            (Some(r), _) => format!("\"{r}\""),
            (None, Some(_)) => "filter".to_string(),
            (None, None) => String::new(),
        };
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        let object = self.object.as_deref().unwrap_or("");
        format!("{:?} {object} {what} {}", self.action, fields.join(", "))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
}

/// A JSON value as a said [`Value`] with its typed reading: numbers, booleans and ISO dates
/// are typed; other text stays text.
fn value_of(v: &Json) -> Value {
    let (said, entities) = match v {
        Json::Number(n) => (
            n.to_string(),
            n.as_f64().map(Entity::Number).into_iter().collect(),
        ),
        Json::Bool(b) => (b.to_string(), vec![Entity::Bool(*b)]),
        Json::String(s) => {
            let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
            (s.clone(), date.map(Entity::Date).into_iter().collect())
        }
        Json::Null => (String::new(), Vec::new()),
        other => (other.to_string(), Vec::new()),
    };
    Value {
        said,
        entities,
        hints: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 18).unwrap()
    }

    fn intent(v: Json) -> StructuredIntent {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_update_of_a_named_record_is_typed() {
        let p = intent(
            json!({"action": "update", "object": "Opportunity", "record": "Initech Renewal",
            "fields": {"Amount": 92000, "CloseDate": "2026-12-15"}}),
        )
        .to_parsed(today())
        .unwrap();
        let Intent::UpdateFields(u) = &p.clauses[0].intent else {
            panic!("{p:?}")
        };
        let Target::Record(r) = &u.target else {
            panic!()
        };
        assert_eq!(r.text, "initech renewal");
        assert_eq!(r.object, Some(ObjectKind::Opportunity));
        assert_eq!(u.changes[0].value.entities, vec![Entity::Number(92000.0)]);
        assert!(matches!(u.changes[1].value.entities[0], Entity::Date(_)));
    }

    #[test]
    fn note_text_stays_one_note() {
        let p = intent(json!({"action": "add_note", "record": "Acme Renewal",
            "text": "legal signed off and close all deals"}))
        .to_parsed(today())
        .unwrap();
        assert_eq!(p.clauses.len(), 1);
        assert!(
            matches!(&p.clauses[0].intent, Intent::AddNote(n) if n.text == "legal signed off and close all deals")
        );
    }

    #[test]
    fn missing_slots_and_unknown_objects_are_refused() {
        let e = intent(json!({"action": "update", "record": "x"})).to_parsed(today());
        assert!(matches!(e, Err(IntentError::Missing { .. })));
        let e = intent(
            json!({"action": "update", "object": "Widget", "record": "x", "fields": {"a": 1}}),
        )
        .to_parsed(today());
        assert_eq!(e, Err(IntentError::Object("Widget".into())));
    }
}
