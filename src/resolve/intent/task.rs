//! Resolving Task clauses: `CompleteTask`, `CreateTask` and `ScheduleMeeting` (an Event).
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `CompleteTask` clause.
    pub(in crate::resolve) async fn complete_task(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::CompleteTask { target } = intent else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let large_above = out.large_above;
        let steps = &mut *out.steps;
        let bulk = &mut *out.bulk;
        let d = self.describe("Task").await?;
        let status = d
            .field("Status")
            .ok_or_else(|| ResolveError::Denied("you can't see task status".into()))?;
        check_writable(&d, status, false)?;
        let done = field::match_picklist(
            status,
            &Value {
                said: "completed".into(),
                entities: vec![],
                hints: vec![],
            },
        )?;
        match target {
            Target::Record(r) => {
                let mut r = r.clone();
                r.object = Some(ObjectKind::Task);
                let n = self
                    .reference(&r, named, &["Task"], &["Status".to_string()])
                    .await?;
                let Named::Existing(found) = &n else {
                    return Ok(Some(n));
                };
                let step = self
                    .update_literal(found, "Status", json!(done), steps)
                    .await?;
                if !step.fields.is_empty() {
                    steps.push(step);
                }
                Ok(Some(n))
            }
            Target::Filter(f) => {
                *bulk = true;
                let mut f = f.clone();
                f.object = Some(ObjectKind::Task);
                if f.open.is_none() {
                    f.open = Some(true);
                }
                let status = ["Status".to_string()];
                let rows = match self.filter_page(&f, &status, large_above).await? {
                    filter::Rows::All(rows) => rows,
                    filter::Rows::Large(page) => {
                        let rule = self.fixed_rule("Task", "Status", json!(done)).await?;
                        *out.stream = Some(page.source("Task", intent.name(), vec![rule]));
                        return Ok(None);
                    }
                };
                for row in rows {
                    let found = found_of("Task", row);
                    let step = self
                        .update_literal(&found, "Status", json!(done), steps)
                        .await?;
                    if !step.fields.is_empty() {
                        steps.push(step);
                    }
                }
                Ok(None)
            }
        }
    }

    /// Resolves one `CreateTask` clause.
    pub(in crate::resolve) async fn create_task(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::CreateTask {
            subject,
            due,
            who,
            what,
            priority,
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
        let subj = if subject.trim().is_empty() {
            "Follow up".to_string()
        } else {
            capitalise(subject.trim())
        };
        fields.insert("Subject".into(), Val::Lit(json!(subj)));
        fields.insert(
            "Status".into(),
            Val::Lit(json!(self.picklist_value(&d, "Status", "not started"))),
        );
        // A new task is the creator's by default; say so explicitly when the field is writable.
        if d.field("OwnerId").is_some_and(|f| f.createable) {
            fields.insert("OwnerId".into(), Val::Lit(json!(self.me)));
        }
        if let Some(due) = due {
            fields.insert(
                "ActivityDate".into(),
                Val::Lit(json!(due.format("%Y-%m-%d").to_string())),
            );
        }
        if let Some(p) = priority {
            let said = match p {
                Priority::High => "high",
                Priority::Normal => "normal",
                Priority::Low => "low",
            };
            fields.insert(
                "Priority".into(),
                Val::Lit(json!(self.picklist_value(&d, "Priority", said))),
            );
        }
        if let Some(n) = &who_n {
            fields.insert("WhoId".into(), n.val());
        }
        if let Some(n) = &what_n {
            fields.insert("WhatId".into(), n.val());
        }
        self.check_fields(&d, &fields, true)?;
        Ok(Some(self.push_create(steps, "Task", subj, fields)))
    }

    /// Resolves one `ScheduleMeeting` clause.
    pub(in crate::resolve) async fn schedule_meeting(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::ScheduleMeeting {
            subject,
            date,
            time,
            minutes,
            who,
            what,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let m = activity::Meeting {
            subject: subject.as_deref(),
            date: *date,
            time: *time,
            minutes: *minutes,
            who: who.as_ref(),
            what: what.as_ref(),
        };
        self.meeting(m, named, steps).await
    }
}
