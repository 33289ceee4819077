//! `sayso admin usage`: API calls per user and per connected app over the last N days, from Event
//! Monitoring's ApiTotalUsage log files (`EventLogFile`, one CSV per day with a row per request),
//! and the users past a per-user limit (`--over N`, `--watch`).
//!
//! [`report`] fetches; [`tally`], [`breaches`] and [`Watch`] are pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::{Directory, Error, Result, text};
use crate::salesforce::{Client, Request};
use crate::soql::builder::{cmp, eq_str};
use crate::soql::{DateLiteral, Direction, Literal, Operator, QueryBuilder};

/// Calls by one user, one app, or one user through one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageLine {
    /// Username.
    pub user: String,
    /// App name (`None` in per-user lines, `"(no app)"` for sessions without one).
    pub app: Option<String>,
    /// API calls counted against the limit.
    pub calls: u64,
}

/// API usage over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// The period in days.
    pub days: u32,
    /// Log files read.
    pub files: usize,
    /// Calls in total.
    pub total: u64,
    /// Per user, busiest first.
    pub per_user: Vec<UsageLine>,
    /// Per app (`user` empty), busiest first.
    pub per_app: Vec<UsageLine>,
    /// Per user and app, busiest first.
    pub per_user_app: Vec<UsageLine>,
}

/// Name lookups for [`tally`]: usernames by user id and app names by `0H4` id.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// The org's users.
    pub users: Directory,
    /// App names by connected-app id (15 or 18 characters).
    pub apps: HashMap<String, String>,
}

impl Names {
    fn app(&self, id: &str, client_name: &str) -> String {
        if id.is_empty() {
            return if client_name.is_empty() {
                "(no app)".into()
            } else {
                client_name.to_string()
            };
        }
        let short: String = id.chars().take(15).collect();
        self.apps
            .iter()
            .find(|(k, _)| k.chars().take(15).collect::<String>() == short)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| {
                if client_name.is_empty() {
                    id.to_string()
                } else {
                    client_name.to_string()
                }
            })
    }
}

fn sorted(map: BTreeMap<(String, Option<String>), u64>) -> Vec<UsageLine> {
    let mut lines: Vec<UsageLine> = map
        .into_iter()
        .map(|((user, app), calls)| UsageLine { user, app, calls })
        .collect();
    lines.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| (&a.user, &a.app).cmp(&(&b.user, &b.app)))
    });
    lines
}

/// Counts the calls in ApiTotalUsage CSV bodies.
///
/// # Errors
/// [`Error::Decode`] for a body that is not CSV with a header row.
pub fn tally(days: u32, bodies: &[String], names: &Names) -> Result<UsageReport> {
    let mut per_user = BTreeMap::new();
    let mut per_app = BTreeMap::new();
    let mut per_pair = BTreeMap::new();
    let mut total = 0;
    for body in bodies {
        let mut rd = csv::ReaderBuilder::new().from_reader(body.as_bytes());
        let headers = rd
            .headers()
            .map_err(|e| Error::Decode(e.to_string()))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let user_col = col("USER_ID_DERIVED").or_else(|| col("USER_ID"));
        let app_col = col("CONNECTED_APP_ID");
        let client_col = col("CLIENT_NAME");
        let counted_col = col("COUNTS_AGAINST_API_LIMIT");
        for rec in rd.records() {
            let rec = rec.map_err(|e| Error::Decode(e.to_string()))?;
            let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("");
            let counted = get(counted_col);
            if matches!(counted.to_ascii_lowercase().as_str(), "0" | "false") {
                continue;
            }
            let uid = get(user_col);
            let user = names.users.username(uid).unwrap_or(uid).to_string();
            let app = names.app(get(app_col), get(client_col));
            *per_user.entry((user.clone(), None)).or_insert(0) += 1;
            *per_app
                .entry((String::new(), Some(app.clone())))
                .or_insert(0) += 1;
            *per_pair.entry((user, Some(app))).or_insert(0) += 1;
            total += 1;
        }
    }
    Ok(UsageReport {
        days,
        files: bodies.len(),
        total,
        per_user: sorted(per_user),
        per_app: sorted(per_app),
        per_user_app: sorted(per_pair),
    })
}

/// Users with more than `over` calls, busiest first.
pub fn breaches(report: &UsageReport, over: u64) -> Vec<UsageLine> {
    report
        .per_user
        .iter()
        .filter(|l| l.calls > over)
        .cloned()
        .collect()
}

/// Remembers which users were already reported, so `--watch` prints each breach once.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    reported: HashSet<String>,
}

impl Watch {
    /// Breaches in `report` not reported before.
    pub fn new_breaches(&mut self, report: &UsageReport, over: u64) -> Vec<UsageLine> {
        breaches(report, over)
            .into_iter()
            .filter(|l| self.reported.insert(l.user.clone()))
            .collect()
    }
}

/// Reads the ApiTotalUsage log files of the last `days` days and tallies them.
///
/// # Errors
/// API failures (an org without Event Monitoring, or a non-admin, gets the org's error).
pub async fn report(client: &Client, days: u32) -> Result<UsageReport> {
    let n = DateLiteral::with_n("LAST_N_DAYS")
        .map(|d| Literal::DateLiteral(DateLiteral::WithN(d, days.max(1))))
        .ok_or_else(|| Error::Decode("LAST_N_DAYS is not a date literal; this is a bug".into()))?;
    let soql = QueryBuilder::select("EventLogFile", &["Id", "LogDate", "LogFileLength"])?
        .filter(eq_str("EventType", "ApiTotalUsage")?)
        .filter(cmp("LogDate", Operator::Eq, n)?)
        .order_by("LogDate", Direction::Asc)?
        .to_soql();
    let files = client.query(&soql).await?;
    let mut bodies = Vec::new();
    for f in &files.records {
        let id = crate::salesforce::rest::check_id(&text(f, "Id"))?.to_string();
        let resp = client
            .send(&Request::get(format!("sobjects/EventLogFile/{id}/LogFile")))
            .await?;
        bodies.push(String::from_utf8_lossy(&resp.body).into_owned());
    }
    let users = Directory::load(client).await?;
    let apps = client
        .query(&QueryBuilder::select("ConnectedApplication", &["Id", "Name"])?.to_soql())
        .await?
        .records
        .iter()
        .map(|r| (text(r, "Id"), text(r, "Name")))
        .collect();
    tally(days, &bodies, &Names { users, apps })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\"EVENT_TYPE\",\"USER_ID\",\"CONNECTED_APP_ID\",\"CLIENT_NAME\",\"COUNTS_AGAINST_API_LIMIT\",\"USER_ID_DERIVED\"\n\
        \"ApiTotalUsage\",\"005A\",\"0H4A\",\"\",\"1\",\"005AAA\"\n\
        \"ApiTotalUsage\",\"005A\",\"0H4A\",\"\",\"1\",\"005AAA\"\n\
        \"ApiTotalUsage\",\"005B\",\"\",\"\",\"1\",\"005BBB\"\n\
        \"ApiTotalUsage\",\"005B\",\"\",\"\",\"0\",\"005BBB\"\n";

    #[test]
    fn tally_counts_per_user_and_app_and_skips_uncounted_rows() {
        let names = Names {
            apps: [("0H4A".to_string(), "Kinetic Ltd".to_string())].into(),
            ..Names::default()
        };
        let r = tally(7, &[LOG.to_string(), LOG.to_string()], &names).unwrap();
        assert_eq!(r.total, 6);
        assert_eq!(
            r.per_user[0],
            UsageLine {
                user: "005AAA".into(),
                app: None,
                calls: 4
            }
        );
        assert_eq!(r.per_app[0].app.as_deref(), Some("Kinetic Ltd"));
        assert_eq!(
            r.per_app[1],
            UsageLine {
                user: String::new(),
                app: Some("(no app)".into()),
                calls: 2
            }
        );
        assert_eq!(breaches(&r, 3).len(), 1);
        assert_eq!(breaches(&r, 1).len(), 2);
    }

    #[test]
    fn watch_reports_each_breach_once() {
        let names = Names::default();
        let r = tally(1, &[LOG.to_string()], &names).unwrap();
        let mut w = Watch::default();
        assert_eq!(w.new_breaches(&r, 1).len(), 1);
        assert_eq!(w.new_breaches(&r, 1).len(), 0);
        assert_eq!(
            w.new_breaches(&r, 0).len(),
            1,
            "a user newly past the line is new"
        );
    }
}
