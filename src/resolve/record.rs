//! Record resolution: which record a [`RecordRef`] names, per the rules in the corpus README —
//! exact name (case, spacing and punctuation ignored) → every word in the name → qualifiers (my,
//! open/closed, at `<account>`, related record) → the single open one → ambiguous → not found.
//!
//! Queries go through the escaping builder ([`crate::soql::builder`]); the select lists are cut to the fields
//! the user's describe shows, so a hidden field never breaks a lookup. Records the user can't see are
//! simply absent, so they are indistinguishable from records that don't exist.

use serde_json::{Value as Json, json};

use super::field::{word_matches, words};
use super::{Candidate, ResolveError, Resolver};
use crate::lang::RecordRef;
use crate::soql::builder::{self as query, and, contains, eq_bool, eq_text, to_soql};

/// A resolved record with the fields read while resolving it.
#[derive(Debug, Clone)]
pub struct Found {
    /// Object API name.
    pub sobject: String,
    /// 18-character id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The row as read (includes `LastModifiedDate` when visible).
    pub row: Json,
}

/// Words that never name a record.
const STOP: [&str; 12] = [
    "the", "a", "an", "of", "on", "for", "s", "record", "this", "that", "to", "with",
];

fn name_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// The display name of a row.
pub fn display_name(sobject: &str, row: &Json) -> String {
    let s = |k: &str| row.get(k).and_then(Json::as_str).map(str::to_string);
    match sobject {
        "Case" => s("CaseNumber").or_else(|| s("Subject")),
        "Task" | "Event" => s("Subject"),
        "ContentNote" => s("Title"),
        "Contact" | "Lead" => s("Name").or_else(|| {
            let full = format!(
                "{} {}",
                s("FirstName").unwrap_or_default(),
                s("LastName").unwrap_or_default()
            );
            Some(full.trim().to_string())
        }),
        _ => s("Name"),
    }
    .unwrap_or_default()
}

fn rel_name(row: &Json, rel: &str) -> String {
    row.get(rel)
        .and_then(|r| r.get("Name"))
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Whether a row is open (Opportunity/Case not closed, Task not completed, Lead not converted).
pub fn is_open(row: &Json) -> Option<bool> {
    if let Some(c) = row.get("IsClosed").and_then(Json::as_bool) {
        return Some(!c);
    }
    if let Some(stage) = row.get("StageName").and_then(Json::as_str) {
        return Some(!stage.to_lowercase().starts_with("closed"));
    }
    if let Some(status) = row.get("Status").and_then(Json::as_str) {
        let s = status.to_lowercase();
        return Some(!(s.starts_with("closed") || s == "completed"));
    }
    None
}

fn all_words_in(said: &[String], name: &str) -> bool {
    let nw = words(name);
    !said.is_empty() && said.iter().all(|s| nw.iter().any(|w| word_matches(s, w)))
}

/// The fields worth reading for an object when resolving it.
fn wanted_fields(sobject: &str) -> Vec<&'static str> {
    let mut f = vec!["Id", "OwnerId", "LastModifiedDate"];
    match sobject {
        "Opportunity" => f.extend([
            "Name",
            "StageName",
            "IsClosed",
            "AccountId",
            "Account.Name",
            "CloseDate",
            "Amount",
        ]),
        "Account" => f.extend(["Name"]),
        "Contact" => f.extend(["Name", "FirstName", "LastName", "AccountId", "Account.Name"]),
        "Lead" => f.extend([
            "Name",
            "FirstName",
            "LastName",
            "Company",
            "Status",
            "IsConverted",
        ]),
        "Case" => f.extend([
            "CaseNumber",
            "Subject",
            "Status",
            "IsClosed",
            "AccountId",
            "Account.Name",
        ]),
        "Task" | "Event" => f.extend([
            "Subject",
            "Status",
            "IsClosed",
            "ActivityDate",
            "WhatId",
            "WhoId",
            "What.Name",
            "Who.Name",
        ]),
        "User" => f.extend(["Name", "IsActive"]),
        _ => f.extend(["Name"]),
    }
    f
}

impl Resolver<'_> {
    /// The select list for `sobject`: the wanted fields the user can see, plus `extra`.
    pub async fn select_fields(
        &mut self,
        sobject: &str,
        extra: &[String],
    ) -> Result<Vec<String>, ResolveError> {
        let d = self.describe(sobject).await?;
        let mut out: Vec<String> = Vec::new();
        for f in wanted_fields(sobject)
            .into_iter()
            .map(str::to_string)
            .chain(extra.iter().cloned())
        {
            let visible = match f.split_once('.') {
                None => d.field(&f).is_some(),
                Some((rel, _)) => {
                    let id_field = match rel {
                        "What" => "WhatId".to_string(),
                        "Who" => "WhoId".to_string(),
                        other => format!("{other}Id"),
                    };
                    d.field(&id_field).is_some()
                }
            };
            if visible && !out.iter().any(|o| o.eq_ignore_ascii_case(&f)) {
                out.push(f);
            }
        }
        if out.is_empty() {
            out.push("Id".into());
        }
        Ok(out)
    }

    /// Resolves a reference against `objects` (the reference's own object when it names one).
    ///
    /// # Errors
    /// `NotFound`, `Ambiguous` (with candidates), or the org's error.
    pub async fn find_record(
        &mut self,
        r: &RecordRef,
        objects: &[&str],
        extra: &[String],
    ) -> Result<Found, ResolveError> {
        let objects: Vec<String> = match r.object {
            Some(o) => vec![o.api_name().to_string()],
            None if r.number.is_some() => vec!["Case".to_string()],
            None => objects.iter().map(|s| s.to_string()).collect(),
        };
        let said = name_words(&r.text);
        let what = if r.text.trim().is_empty() {
            r.number.clone().unwrap_or_default()
        } else {
            r.text.clone()
        };
        if said.is_empty() && r.number.is_none() && r.account.is_none() && r.related.is_none() {
            return Err(ResolveError::NotFound(if what.trim().is_empty() {
                "which record? none was named; say its name, e.g. `set the amount on Initech Renewal to 92k`".to_string()
            } else {
                format!("no record named `{what}`")
            }));
        }
        let mut rows: Vec<(String, Json)> = Vec::new();
        if objects.len() == 1 {
            let obj = objects[0].clone();
            let fields = self.select_fields(&obj, extra).await?;
            let mut q = query::select(&obj, &fields);
            q.where_clause = self.name_condition(&obj, r, &said);
            q.limit = Some(200);
            for row in self
                .org
                .query_all(&to_soql(&q))
                .await
                .map_err(ResolveError::Org)?
            {
                rows.push((obj.clone(), row));
            }
            if rows.is_empty()
                && !said.is_empty()
                && ["Opportunity", "Contact", "Case"].contains(&obj.as_str())
            {
                // "the Acme deal": the words may name the account.
                let mut q = query::select(&obj, &fields);
                q.where_clause = and(said.iter().map(|w| contains("Account.Name", w)).collect());
                q.limit = Some(200);
                if let Ok(found) = self.org.query_all(&to_soql(&q)).await {
                    for row in found {
                        if all_words_in(&said, &rel_name(&row, "Account")) {
                            rows.push((obj.clone(), row));
                        }
                    }
                }
                return self.pick(r, &said, &what, rows, true);
            }
        } else {
            rows = self.search_many(&objects, r, &said).await?;
        }
        self.pick(r, &said, &what, rows, false)
    }

    fn name_condition(
        &self,
        obj: &str,
        r: &RecordRef,
        said: &[String],
    ) -> Option<crate::soql::ast::Condition> {
        if let Some(n) = &r.number
            && obj == "Case"
        {
            return Some(eq_text("CaseNumber", &case_number(n)));
        }
        let field = match obj {
            "Case" => "Subject",
            "Task" | "Event" => "Subject",
            _ => "Name",
        };
        let mut conds: Vec<_> = said.iter().take(8).map(|w| contains(field, w)).collect();
        if obj == "Task" && conds.is_empty() {
            conds.push(eq_bool("IsClosed", false));
        }
        and(conds)
    }

    /// One `/composite` request with a query per object (falls back to one query each).
    async fn search_many(
        &mut self,
        objects: &[String],
        r: &RecordRef,
        said: &[String],
    ) -> Result<Vec<(String, Json)>, ResolveError> {
        // One SOSL search across the objects; when it can't run (an object the user can't see,
        // a term too short), one `/composite` of per-object SOQL queries instead.
        if r.number.is_none() && said.iter().any(|w| w.chars().count() >= 2) {
            let returning: Vec<(String, Vec<String>)> = objects
                .iter()
                .map(|obj| {
                    let fields = match obj.as_str() {
                        "Contact" | "Lead" => vec!["Id", "FirstName", "LastName", "Name"],
                        "Case" => vec!["Id", "CaseNumber", "Subject", "IsClosed"],
                        "Opportunity" => vec!["Id", "Name", "IsClosed"],
                        _ => vec!["Id", "Name"],
                    };
                    (
                        obj.clone(),
                        fields.into_iter().map(str::to_string).collect(),
                    )
                })
                .collect();
            let words: Vec<String> = said.iter().take(8).cloned().collect();
            if let Ok(found) = self
                .org
                .search(&query::sosl_find(&words, &returning, 200))
                .await
            {
                return Ok(found
                    .into_iter()
                    .filter_map(|row| {
                        let obj = row.get("attributes")?.get("type")?.as_str()?.to_string();
                        objects.contains(&obj).then_some((obj, row))
                    })
                    .collect());
            }
        }
        let mut queries = Vec::new();
        for obj in objects {
            let fields: Vec<String> = match obj.as_str() {
                "Contact" | "Lead" => vec!["Id", "FirstName", "LastName", "Name"],
                "Case" => vec!["Id", "CaseNumber", "Subject", "IsClosed"],
                "Opportunity" => vec!["Id", "Name", "IsClosed"],
                _ => vec!["Id", "Name"],
            }
            .into_iter()
            .map(str::to_string)
            .collect();
            let mut q = query::select(obj, &fields);
            q.where_clause = self.name_condition(obj, r, said);
            q.limit = Some(200);
            queries.push((obj.clone(), to_soql(&q)));
        }
        let subrequests: Vec<Json> = queries
            .iter()
            .enumerate()
            .map(|(i, (_, soql))| {
                let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
                json!({"method": "GET", "url": self.org.data_path(&format!("/query?q={q}")), "referenceId": format!("q{i}")})
            })
            .collect();
        let mut rows = Vec::new();
        match self.org.composite(subrequests, false).await {
            Ok(responses) if responses.len() == queries.len() => {
                for (resp, (obj, _)) in responses.iter().zip(&queries) {
                    let status = resp
                        .get("httpStatusCode")
                        .and_then(Json::as_u64)
                        .unwrap_or(0);
                    if status != 200 {
                        continue;
                    }
                    let body = resp.get("body").cloned().unwrap_or(Json::Null);
                    for row in body
                        .get("records")
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default()
                    {
                        rows.push((obj.clone(), row));
                    }
                }
            }
            _ => {
                for (obj, soql) in &queries {
                    if let Ok(found) = self.org.query_all(soql).await {
                        rows.extend(found.into_iter().map(|r| (obj.clone(), r)));
                    }
                }
            }
        }
        Ok(rows)
    }

    fn pick(
        &mut self,
        r: &RecordRef,
        said: &[String],
        what: &str,
        rows: Vec<(String, Json)>,
        by_account: bool,
    ) -> Result<Found, ResolveError> {
        let norm = said.join(" ");
        let found = |(obj, row): &(String, Json)| Found {
            sobject: obj.clone(),
            id: row
                .get("Id")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
            name: display_name(obj, row),
            row: row.clone(),
        };
        // 1. exact name
        let exact: Vec<&(String, Json)> = rows
            .iter()
            .filter(|(o, row)| !norm.is_empty() && words(&display_name(o, row)).join(" ") == norm)
            .collect();
        let mut pool: Vec<&(String, Json)> = if exact.len() == 1 && !by_account {
            exact
        } else if r.number.is_some() || by_account {
            rows.iter().collect()
        } else {
            // 2. every word in the name (or, for tasks, in the related record's name)
            rows.iter()
                .filter(|(o, row)| {
                    let mut hay = display_name(o, row);
                    if o == "Task" || o == "Event" {
                        hay = format!("{hay} {} {}", rel_name(row, "What"), rel_name(row, "Who"));
                    }
                    said.is_empty() || all_words_in(said, &hay)
                })
                .collect()
        };
        // 3. qualifiers
        if r.mine {
            pool.retain(|(_, row)| {
                row.get("OwnerId")
                    .and_then(Json::as_str)
                    .is_none_or(|o| o == self.me)
            });
        }
        if let Some(open) = r.open {
            pool.retain(|(_, row)| is_open(row).is_none_or(|x| x == open));
        }
        if let Some(acct) = &r.account {
            let aw = name_words(acct);
            pool.retain(|(_, row)| {
                all_words_in(&aw, &rel_name(row, "Account"))
                    || all_words_in(&aw, &display_name("", row))
            });
        }
        if let Some(rel) = &r.related {
            let rw = name_words(rel);
            let narrowed: Vec<_> = pool
                .iter()
                .copied()
                .filter(|(_, row)| {
                    all_words_in(&rw, &rel_name(row, "What"))
                        || all_words_in(&rw, &rel_name(row, "Who"))
                        || all_words_in(&rw, &rel_name(row, "Account"))
                })
                .collect();
            pool = narrowed;
        }
        match pool.len() {
            0 => Err(ResolveError::NotFound(format!(
                "no record matching `{what}` that you can see"
            ))),
            1 => Ok(found(pool[0])),
            _ => {
                // exact names among several
                let exact: Vec<_> = pool
                    .iter()
                    .copied()
                    .filter(|(o, row)| {
                        !norm.is_empty() && words(&display_name(o, row)).join(" ") == norm
                    })
                    .collect();
                if exact.len() == 1 {
                    return Ok(found(exact[0]));
                }
                // The open-one tie-break applies among records that can be open or closed
                // (deals, cases, tasks), not across an account and a deal.
                let comparable = pool.iter().all(|(_, row)| is_open(row).is_some());
                let open: Vec<_> = pool
                    .iter()
                    .copied()
                    .filter(|(_, row)| is_open(row) == Some(true))
                    .collect();
                if comparable && open.len() == 1 {
                    return Ok(found(open[0]));
                }
                let picked: Vec<_> = pool
                    .iter()
                    .copied()
                    .filter(|(_, row)| {
                        row.get("Id")
                            .and_then(Json::as_str)
                            .is_some_and(|id| self.picked.iter().any(|p| p == id))
                    })
                    .collect();
                if picked.len() == 1 {
                    return Ok(found(picked[0]));
                }
                let candidates = pool
                    .iter()
                    .map(|(o, row)| Candidate {
                        sobject: o.clone(),
                        id: row
                            .get("Id")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        name: display_name(o, row),
                    })
                    .collect();
                Err(ResolveError::Ambiguous(
                    format!("`{what}` matches {} records; say which", pool.len()),
                    candidates,
                ))
            }
        }
    }

    /// Reads the current values of `fields` (plus the standard ones) of one record.
    ///
    /// # Errors
    /// The org's error.
    pub async fn read_row(
        &mut self,
        sobject: &str,
        id: &str,
        extra: &[String],
    ) -> Result<Json, ResolveError> {
        let fields = self.select_fields(sobject, extra).await?;
        let mut q = query::select(sobject, &fields);
        q.where_clause = Some(eq_text("Id", id));
        let rows = self
            .org
            .query_all(&to_soql(&q))
            .await
            .map_err(ResolveError::Org)?;
        rows.into_iter()
            .next()
            .ok_or_else(|| ResolveError::NotFound(format!("{sobject} `{id}` is gone")))
    }

    /// Finds an active user by name (reassign, owner fields).
    ///
    /// # Errors
    /// `NotFound` / `Ambiguous`.
    pub async fn find_user(&mut self, name: &str) -> Result<Found, ResolveError> {
        let said = name_words(name);
        if said.is_empty() {
            return Err(ResolveError::NotFound("no user named".into()));
        }
        if said.len() == 1 && (said[0] == "me" || said[0] == "myself") {
            return Ok(Found {
                sobject: "User".into(),
                id: self.me.clone(),
                name: "me".into(),
                row: json!({"Id": self.me}),
            });
        }
        let mut q = query::select("User", &["Id".into(), "Name".into()]);
        q.where_clause = and(said
            .iter()
            .map(|w| contains("Name", w))
            .chain([eq_bool("IsActive", true)])
            .collect());
        q.limit = Some(50);
        let rows = self
            .org
            .query_all(&to_soql(&q))
            .await
            .map_err(ResolveError::Org)?;
        let rows: Vec<(String, Json)> = rows.into_iter().map(|r| ("User".to_string(), r)).collect();
        let r = RecordRef {
            text: name.to_string(),
            ..RecordRef::default()
        };
        self.pick(&r, &said, name, rows, false)
    }
}

/// Case numbers are an auto-number of eight digits: "case 1005" is 00001005.
fn case_number(said: &str) -> String {
    if said.len() < 8 && !said.is_empty() && said.chars().all(|c| c.is_ascii_digit()) {
        format!("{said:0>8}")
    } else {
        said.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_is_read_from_closed_flags_and_status() {
        assert_eq!(is_open(&json!({"IsClosed": false})), Some(true));
        assert_eq!(is_open(&json!({"StageName": "Closed Won"})), Some(false));
        assert_eq!(is_open(&json!({"Status": "Completed"})), Some(false));
        assert_eq!(is_open(&json!({"Name": "x"})), None);
    }

    #[test]
    fn names_of_people_and_cases() {
        assert_eq!(
            display_name("Contact", &json!({"FirstName": "Jane", "LastName": "Doe"})),
            "Jane Doe"
        );
        assert_eq!(
            display_name("Case", &json!({"CaseNumber": "00001001"})),
            "00001001"
        );
    }

    #[test]
    fn every_word_must_appear() {
        let said = name_words("the blue sun");
        assert!(all_words_in(&said, "Blue Sun Network Upgrade"));
        assert!(!all_words_in(&said, "Blue Moon Upgrade"));
        assert!(all_words_in(
            &name_words("globex add-on"),
            "Globex Facilities Add-on"
        ));
    }
}
