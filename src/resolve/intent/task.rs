//! Resolving Task clauses: `CompleteTask`, `CreateTask` and `ScheduleMeeting` (an Event).
//!
//! Each intent implements [`Resolve`]; `Resolver::clause` in the parent module dispatches here.

use crate::resolve::*;
use chrono::{Duration, NaiveTime};

/// A meeting with no time said starts at this hour.
const DEFAULT_MEETING_HOUR: u32 = 9;

impl Resolve for CompleteTask {
    /// Resolves one `CompleteTask` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let d = resolver.describe("Task").await?;
        let status = d
            .field("Status")
            .ok_or_else(|| ResolveError::Denied("you can't see task status".into()))?;
        check_writable(&d, status, false)?;
        let done = field::match_picklist(status, &said_value("completed"))?;
        let target = match &self.target {
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
        resolver
            .set_field_on(&target, &["Task"], "Status", json!(done), cx)
            .await
    }
}

impl Resolve for CreateTask {
    /// Resolves one `CreateTask` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let activity::NewActivity { d, mut fields, .. } = resolver
            .new_activity(activity::Activity::Task, &self.about, cx.named)
            .await?;
        let subj = if self.subject.trim().is_empty() {
            "Follow up".to_string()
        } else {
            capitalise(self.subject.trim())
        };
        fields.insert("Subject".into(), Val::Lit(json!(subj)));
        fields.insert(
            "Status".into(),
            Val::Lit(json!(resolver.picklist_value(&d, "Status", "not started"))),
        );
        if let Some(due) = self.due {
            fields.insert(
                "ActivityDate".into(),
                Val::Lit(json!(due.format("%Y-%m-%d").to_string())),
            );
        }
        resolver.put_priority(&d, self.priority, "normal", &mut fields);
        let task = resolver.push_create(&d, cx.steps, "Task", subj, fields)?;
        Ok(Some(task))
    }
}

impl Resolve for ScheduleMeeting {
    /// Resolves one `ScheduleMeeting` clause: one Event owned by me, from the start (in my time
    /// zone) for its minutes.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let activity::NewActivity { d, mut fields, .. } = resolver
            .new_activity(activity::Activity::Event, &self.about, cx.named)
            .await?;
        let time = self
            .time
            .or_else(|| NaiveTime::from_hms_opt(DEFAULT_MEETING_HOUR, 0, 0))
            .ok_or_else(|| ResolveError::Invalid("that is not a time of day".into()))?;
        let start = resolver.user_instant(self.date, time).await?;
        let end = start + Duration::minutes(i64::from(self.minutes));
        let subject = self
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
        let meeting = resolver.push_create(&d, cx.steps, "Event", subject, fields)?;
        Ok(Some(meeting))
    }
}
