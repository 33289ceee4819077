//! Activities and new records: the person and record a task or an event is about, its owner, the
//! create step that names a new record for later clauses, and times in the user's time zone. Part
//! of `resolve`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value as Json, json};

use super::schema::ObjectDescribe;
use super::{Named, ResolveError, Resolver, WHAT, WHO, create_step};
use crate::lang::{Priority, Regarding};
use crate::plan::{Step, Val};
use crate::soql::builder::{self as query, eq_text, to_soql};

/// A Task or an Event about to be created, from [`Resolver::new_activity`].
pub(super) struct NewActivity {
    /// The object's describe, for the other fields.
    pub(super) d: Arc<ObjectDescribe>,
    /// Its fields so far: WhoId, WhatId, OwnerId.
    pub(super) fields: BTreeMap<String, Val>,
    /// The person it is about, for a default subject.
    pub(super) who: Option<Named>,
}

/// The kind of activity a clause creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Activity {
    /// A Task (calls logged, follow-ups).
    Task,
    /// An Event (meetings).
    Event,
}

impl Resolver<'_> {
    /// A new activity of `object` (Task or Event), which the user must be able to create ("you
    /// can't {action}"): the person (WhoId) and the record (WhatId) it is about, resolved, and its
    /// owner (me, when the field is writable) as its first fields.
    pub(super) async fn new_activity(
        &mut self,
        kind: Activity,
        about: &Regarding,
        named: &[Option<Named>],
    ) -> Result<NewActivity, ResolveError> {
        let (object, action) = match kind {
            Activity::Task => ("Task", "create tasks"),
            Activity::Event => ("Event", "create meetings"),
        };
        let d = self.describe_creatable(object, action).await?;
        let mut fields = BTreeMap::new();
        let who = match &about.who {
            Some(r) => Some(self.reference(r, named, &WHO, &[]).await?),
            None => None,
        };
        let what = match &about.what {
            Some(r) => Some(self.reference(r, named, &WHAT, &[]).await?),
            None => None,
        };
        // A new activity is the creator's by default; say so explicitly when the field is writable.
        if d.field("OwnerId").is_some_and(|f| f.createable) {
            fields.insert("OwnerId".into(), Val::Lit(json!(self.me)));
        }
        if let Some(n) = &what {
            fields.insert("WhatId".into(), n.val());
        }
        if let Some(n) = &who {
            fields.insert("WhoId".into(), n.val());
        }
        Ok(NewActivity { d, fields, who })
    }

    /// Sets the Priority picklist when a priority was said; `normal` is the object's word for the
    /// middle one ("normal" on tasks, "medium" on cases).
    pub(super) fn put_priority(
        &self,
        d: &ObjectDescribe,
        priority: Option<Priority>,
        normal: &str,
        fields: &mut BTreeMap<String, Val>,
    ) {
        let Some(p) = priority else {
            return;
        };
        let said = match p {
            Priority::High => "high",
            Priority::Normal => normal,
            Priority::Low => "low",
        };
        let value = self.picklist_value(d, "Priority", said);
        fields.insert("Priority".into(), Val::Lit(json!(value)));
    }

    /// Checks that the user may set every field of a new record, then adds its create step and
    /// names it for later clauses.
    pub(super) fn push_create(
        &self,
        d: &ObjectDescribe,
        steps: &mut Vec<Step>,
        sobject: &str,
        name: String,
        fields: BTreeMap<String, Val>,
    ) -> Result<Named, ResolveError> {
        self.check_fields(d, &fields, true)?;
        let reference = Self::next_ref(steps);
        steps.push(create_step(sobject, &name, reference.clone(), fields));
        Ok(Named::Created {
            reference,
            sobject: sobject.into(),
            name,
        })
    }

    /// A day and time in the user's time zone (User.TimeZoneSidKey; UTC when it cannot be read).
    pub(super) async fn user_instant(
        &mut self,
        date: NaiveDate,
        time: NaiveTime,
    ) -> Result<chrono::DateTime<Utc>, ResolveError> {
        let mut q = query::select("User", &["TimeZoneSidKey".to_string()]);
        q.where_clause = Some(eq_text("Id", &self.me));
        let rows = self.org.query_all(&to_soql(&q)).await.unwrap_or_default();
        let tz: chrono_tz::Tz = rows
            .first()
            .and_then(|r| r.get("TimeZoneSidKey"))
            .and_then(Json::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        tz.from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                ResolveError::Invalid("that time does not exist in your time zone".into())
            })
    }
}

/// Salesforce's dateTime format, in UTC.
pub(super) fn sf_datetime(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000+0000").to_string()
}
