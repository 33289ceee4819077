//! Resolving Task clauses: `CompleteTask`, `CreateTask` and `ScheduleMeeting` (an Event).
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;
use chrono::{Duration, NaiveTime};

/// A meeting with no time said starts at this hour.
const DEFAULT_MEETING_HOUR: u32 = 9;

impl Resolver<'_> {
    /// Resolves one `CompleteTask` clause.
    pub(in crate::resolve) async fn complete_task(
        &mut self,
        x: &CompleteTask,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let d = self.describe("Task").await?;
        let status = d
            .field("Status")
            .ok_or_else(|| ResolveError::Denied("you can't see task status".into()))?;
        check_writable(&d, status, false)?;
        let done = field::match_picklist(status, &said_value("completed"))?;
        let target = match &x.target {
            Target::Record(r) => Target::Record(RecordRef {
                object: Some(ObjectKind::Task),
                ..r.clone()
            }),
            Target::Filter(f) => Target::Filter(RecordFilter {
                object: Some(ObjectKind::Task),
                open: f.open.or(Some(true)),
                ..f.clone()
            }),
        };
        self.set_field_on(&target, &["Task"], "Status", json!(done), cx)
            .await
    }

    /// Resolves one `CreateTask` clause.
    pub(in crate::resolve) async fn create_task(
        &mut self,
        x: &CreateTask,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let activity::NewActivity { d, mut fields, .. } = self
            .new_activity(
                activity::Activity::Task,
                x.who.as_ref(),
                x.what.as_ref(),
                cx.named,
            )
            .await?;
        let subj = if x.subject.trim().is_empty() {
            "Follow up".to_string()
        } else {
            capitalise(x.subject.trim())
        };
        fields.insert("Subject".into(), Val::Lit(json!(subj)));
        fields.insert(
            "Status".into(),
            Val::Lit(json!(self.picklist_value(&d, "Status", "not started"))),
        );
        if let Some(due) = x.due {
            fields.insert(
                "ActivityDate".into(),
                Val::Lit(json!(due.format("%Y-%m-%d").to_string())),
            );
        }
        self.put_priority(&d, x.priority, "normal", &mut fields);
        let task = self.push_create(&d, cx.steps, "Task", subj, fields)?;
        Ok(Some(task))
    }

    /// Resolves one `ScheduleMeeting` clause: one Event owned by me, from the start (in my time
    /// zone) for its minutes.
    pub(in crate::resolve) async fn schedule_meeting(
        &mut self,
        m: &ScheduleMeeting,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let activity::NewActivity { d, mut fields, .. } = self
            .new_activity(
                activity::Activity::Event,
                m.who.as_ref(),
                m.what.as_ref(),
                cx.named,
            )
            .await?;
        let time = m
            .time
            .or_else(|| NaiveTime::from_hms_opt(DEFAULT_MEETING_HOUR, 0, 0))
            .ok_or_else(|| ResolveError::Invalid("that is not a time of day".into()))?;
        let start = self.user_instant(m.date, time).await?;
        let end = start + Duration::minutes(i64::from(m.minutes));
        let subject = m
            .subject
            .as_deref()
            .map_or_else(|| "Meeting".to_string(), capitalise);
        fields.insert("Subject".into(), Val::Lit(json!(subject)));
        fields.insert(
            "StartDateTime".into(),
            Val::Lit(json!(activity::sf_datetime(start))),
        );
        fields.insert(
            "EndDateTime".into(),
            Val::Lit(json!(activity::sf_datetime(end))),
        );
        let meeting = self.push_create(&d, cx.steps, "Event", subject, fields)?;
        Ok(Some(meeting))
    }
}
