//! Resolving Activity clauses that record what was said: `AddNote` (a ContentNote linked to the record) and `LogCall` (a completed call Task).
//!
//! Each intent implements [`Resolve`]; `Resolver::clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolve for AddNote {
    /// Resolves one `AddNote` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let text = self.text.trim();
        if text.is_empty() {
            return Err(ResolveError::Invalid(
                "the note is empty; say what it should say".into(),
            ));
        }
        resolver
            .check_create("ContentNote", &["Title", "Content"])
            .await?;
        resolver
            .check_create(
                "ContentDocumentLink",
                &["LinkedEntityId", "ContentDocumentId"],
            )
            .await?;
        match &self.target {
            Target::Record(r) => {
                let n = resolver
                    .reference(r, cx.named, &objects_of(r.object, &ANY_OBJECT), &[])
                    .await?;
                resolver.note_steps(&n, text, cx.steps);
                Ok(Some(n))
            }
            Target::Filter(f) => {
                *cx.bulk = true;
                let object = filter::object_of(f);
                let rows = resolver.filter_rows(f, &[]).await?;
                if rows.is_empty() {
                    return Err(filter::none_match(f));
                }
                for row in rows {
                    let n = Named::Existing(found_of(object, row));
                    resolver.note_steps(&n, text, cx.steps);
                }
                Ok(None)
            }
        }
    }
}

impl Resolve for LogCall {
    /// Resolves one `LogCall` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let activity::NewActivity { d, mut fields, who } = resolver
            .new_activity(activity::Activity::Task, &self.about, cx.named)
            .await?;
        let subj = self.subject.clone().unwrap_or_else(|| match &who {
            Some(n) => format!("Call with {}", n.name()),
            None => "Call".to_string(),
        });
        fields.insert("Subject".into(), Val::Lit(json!(subj)));
        fields.insert("TaskSubtype".into(), Val::Lit(json!("Call")));
        fields.insert(
            "Status".into(),
            Val::Lit(json!(resolver.picklist_value(&d, "Status", "completed"))),
        );
        fields.insert(
            "ActivityDate".into(),
            Val::Lit(json!(
                self.date
                    .unwrap_or(resolver.today)
                    .format("%Y-%m-%d")
                    .to_string()
            )),
        );
        if let Some(desc) = self.description.as_ref().filter(|s| !s.trim().is_empty()) {
            fields.insert("Description".into(), Val::Lit(json!(desc.trim())));
        }
        if let Some(secs) = self.duration_seconds {
            fields.insert("CallDurationInSeconds".into(), Val::Lit(json!(secs)));
        }
        let call = resolver.push_create(&d, cx.steps, "Task", subj, fields)?;
        Ok(Some(call))
    }
}
