//! Meetings (Event) and cases (Case) to create: who and what they are about, the start and end in
//! the user's time zone, the case's account, contact and priority. Part of `resolve`.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value as Json, json};

use super::{Named, ResolveError, Resolver, WHAT, WHO, capitalise, create_step};
use crate::lang::{ObjectKind, Priority, RecordRef};
use crate::plan::{Step, Val};
use crate::soql::builder::{self as query, eq_text, to_soql};

/// A meeting with no time said starts at this hour.
const DEFAULT_MEETING_HOUR: u32 = 9;

/// What a meeting clause says, resolved by [`Resolver::meeting`].
pub(super) struct Meeting<'a> {
    pub(super) subject: Option<&'a str>,
    pub(super) date: NaiveDate,
    pub(super) time: Option<NaiveTime>,
    pub(super) minutes: u32,
    pub(super) who: Option<&'a RecordRef>,
    pub(super) what: Option<&'a RecordRef>,
}

/// What a case clause says, resolved by [`Resolver::case`].
pub(super) struct NewCase<'a> {
    pub(super) account: Option<&'a RecordRef>,
    pub(super) contact: Option<&'a RecordRef>,
    pub(super) subject: &'a str,
    pub(super) priority: Option<Priority>,
}

impl Resolver<'_> {
    /// One Event owned by me, from the start (in my time zone) for `minutes`.
    pub(super) async fn meeting(
        &mut self,
        m: Meeting<'_>,
        named: &[Option<Named>],
        steps: &mut Vec<Step>,
    ) -> Result<Option<Named>, ResolveError> {
        let d = self.describe_for_create("Event").await?;
        if !d.createable {
            return Err(ResolveError::Denied("you can't create meetings".into()));
        }
        let who = match m.who {
            Some(r) => Some(self.reference(r, named, &WHO, &[]).await?),
            None => None,
        };
        let what = match m.what {
            Some(r) => Some(self.reference(r, named, &WHAT, &[]).await?),
            None => None,
        };
        let time = m
            .time
            .or_else(|| NaiveTime::from_hms_opt(DEFAULT_MEETING_HOUR, 0, 0))
            .ok_or_else(|| ResolveError::Invalid("that is not a time of day".into()))?;
        let start = self.user_instant(m.date, time).await?;
        let end = start + Duration::minutes(i64::from(m.minutes));
        let subject = m.subject.map_or_else(|| "Meeting".to_string(), capitalise);
        let mut fields = BTreeMap::new();
        fields.insert("Subject".into(), Val::Lit(json!(subject)));
        fields.insert("StartDateTime".into(), Val::Lit(json!(sf_datetime(start))));
        fields.insert("EndDateTime".into(), Val::Lit(json!(sf_datetime(end))));
        if d.field("OwnerId").is_some_and(|f| f.createable) {
            fields.insert("OwnerId".into(), Val::Lit(json!(self.me)));
        }
        if let Some(n) = &who {
            fields.insert("WhoId".into(), n.val());
        }
        if let Some(n) = &what {
            fields.insert("WhatId".into(), n.val());
        }
        self.check_fields(&d, &fields, true)?;
        Ok(Some(self.push_create(steps, "Event", subject, fields)))
    }

    /// One Case: subject, account, contact and priority as said.
    pub(super) async fn case(
        &mut self,
        c: NewCase<'_>,
        named: &[Option<Named>],
        steps: &mut Vec<Step>,
    ) -> Result<Option<Named>, ResolveError> {
        let d = self.describe_for_create("Case").await?;
        if !d.createable {
            return Err(ResolveError::Denied("you can't open cases".into()));
        }
        let mut fields = BTreeMap::new();
        let subject = capitalise(c.subject.trim());
        fields.insert("Subject".into(), Val::Lit(json!(subject)));
        if let Some(r) = c.account {
            let mut r = r.clone();
            r.object = Some(ObjectKind::Account);
            let n = self.reference(&r, named, &["Account"], &[]).await?;
            fields.insert("AccountId".into(), n.val());
        }
        if let Some(r) = c.contact {
            let n = self.reference(r, named, &["Contact"], &[]).await?;
            fields.insert("ContactId".into(), n.val());
        }
        if let Some(p) = c.priority {
            let said = match p {
                Priority::High => "high",
                Priority::Normal => "medium",
                Priority::Low => "low",
            };
            let value = self.picklist_value(&d, "Priority", said);
            fields.insert("Priority".into(), Val::Lit(json!(value)));
        }
        self.check_fields(&d, &fields, true)?;
        Ok(Some(self.push_create(steps, "Case", subject, fields)))
    }

    /// Adds the create step of a new record and names it for later clauses.
    pub(super) fn push_create(
        &self,
        steps: &mut Vec<Step>,
        sobject: &str,
        name: String,
        fields: BTreeMap<String, Val>,
    ) -> Named {
        let reference = Self::next_ref(steps);
        steps.push(create_step(sobject, &name, reference.clone(), fields));
        Named::Created {
            reference,
            sobject: sobject.into(),
            name,
        }
    }

    /// A day and time in the user's time zone (User.TimeZoneSidKey; UTC when it cannot be read).
    async fn user_instant(
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
fn sf_datetime(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000+0000").to_string()
}
