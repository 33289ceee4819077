//! Resolving Activity clauses that record what was said: `AddNote` (a ContentNote linked to the record) and `LogCall` (a completed call Task).
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `AddNote` clause.
    pub(in crate::resolve) async fn add_note(
        &mut self,
        x: &AddNote,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let text = x.text.trim();
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
        match &x.target {
            Target::Record(r) => {
                let n = self
                    .reference(r, cx.named, &objects_of(r.object, &ANY_OBJECT), &[])
                    .await?;
                self.note_steps(&n, text, cx.steps);
                Ok(Some(n))
            }
            Target::Filter(f) => {
                *cx.bulk = true;
                let object = filter::object_of(f);
                let rows = self.filter_rows(f, &[]).await?;
                if rows.is_empty() {
                    return Err(filter::none_match(f));
                }
                for row in rows {
                    let n = Named::Existing(found_of(object, row));
                    self.note_steps(&n, text, cx.steps);
                }
                Ok(None)
            }
        }
    }

    /// Resolves one `LogCall` clause.
    pub(in crate::resolve) async fn log_call(
        &mut self,
        x: &LogCall,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let activity::NewActivity { d, mut fields, who } = self
            .new_activity(
                activity::Activity::Task,
                x.who.as_ref(),
                x.what.as_ref(),
                cx.named,
            )
            .await?;
        let subj = x.subject.clone().unwrap_or_else(|| match &who {
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
                x.date.unwrap_or(self.today).format("%Y-%m-%d").to_string()
            )),
        );
        if let Some(desc) = x.description.as_ref().filter(|s| !s.trim().is_empty()) {
            fields.insert("Description".into(), Val::Lit(json!(desc.trim())));
        }
        if let Some(secs) = x.duration_seconds {
            fields.insert("CallDurationInSeconds".into(), Val::Lit(json!(secs)));
        }
        let call = self.push_create(&d, cx.steps, "Task", subj, fields)?;
        Ok(Some(call))
    }
}
