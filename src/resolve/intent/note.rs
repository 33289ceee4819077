//! Resolving Activity clauses that record what was said: `AddNote` (a ContentNote linked to the record) and `LogCall` (a completed call Task).
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `AddNote` clause.
    pub(in crate::resolve) async fn add_note(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::AddNote { target, text } = intent else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let bulk = &mut *out.bulk;
        let text = text.trim();
        if text.is_empty() {
            return Err(ResolveError::Invalid(
                "the note is empty; say what it should say".into(),
            ));
        }
        self.check_create("ContentNote", &["Title", "Content"])
            .await?;
        self.check_create(
            "ContentDocumentLink",
            &["LinkedEntityId", "ContentDocumentId"],
        )
        .await?;
        match target {
            Target::Record(r) => {
                let n = self
                    .reference(r, named, &objects_of(r.object, &ANY_OBJECT), &[])
                    .await?;
                self.note_steps(&n, text, steps);
                Ok(Some(n))
            }
            Target::Filter(f) => {
                *bulk = true;
                let object = filter::object_of(f);
                let rows = self.filter_rows(f, &[]).await?;
                if rows.is_empty() {
                    return Err(filter::none_match(f));
                }
                for row in rows {
                    let n = Named::Existing(found_of(object, row));
                    self.note_steps(&n, text, steps);
                }
                Ok(None)
            }
        }
    }

    /// Resolves one `LogCall` clause.
    pub(in crate::resolve) async fn log_call(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::LogCall {
            who,
            what,
            subject,
            description,
            duration_seconds,
            date,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let d = self.describe_for_create("Task").await?;
        if !d.createable {
            return Err(ResolveError::Denied("you can't create tasks".into()));
        }
        let who_n = match who {
            Some(r) => Some(self.reference(r, named, &WHO, &[]).await?),
            None => None,
        };
        let what_n = match what {
            Some(r) => Some(self.reference(r, named, &WHAT, &[]).await?),
            None => None,
        };
        let mut fields = BTreeMap::new();
        let subj = subject.clone().unwrap_or_else(|| match &who_n {
            Some(n) => format!("Call with {}", n.name()),
            None => "Call".to_string(),
        });
        fields.insert("Subject".into(), Val::Lit(json!(subj)));
        fields.insert("TaskSubtype".into(), Val::Lit(json!("Call")));
        fields.insert(
            "Status".into(),
            Val::Lit(json!(self.picklist_value(&d, "Status", "completed"))),
        );
        fields.insert(
            "ActivityDate".into(),
            Val::Lit(json!(
                date.unwrap_or(self.today).format("%Y-%m-%d").to_string()
            )),
        );
        // A new task is the creator's by default; say so explicitly when the field is writable.
        if d.field("OwnerId").is_some_and(|f| f.createable) {
            fields.insert("OwnerId".into(), Val::Lit(json!(self.me)));
        }
        if let Some(desc) = description.as_ref().filter(|s| !s.trim().is_empty()) {
            fields.insert("Description".into(), Val::Lit(json!(desc.trim())));
        }
        if let Some(secs) = duration_seconds {
            fields.insert("CallDurationInSeconds".into(), Val::Lit(json!(secs)));
        }
        if let Some(n) = &who_n {
            fields.insert("WhoId".into(), n.val());
        }
        if let Some(n) = &what_n {
            fields.insert("WhatId".into(), n.val());
        }
        self.check_fields(&d, &fields, true)?;
        Ok(Some(self.push_create(steps, "Task", subj.clone(), fields)))
    }
}
