//! SOQL and SOSL over real HTTP against an in-process sandbox (demo org, today pinned to
//! Wednesday 2026-05-13): relationships, child subqueries, semi-/anti-joins, every operator,
//! date literals, aggregates, ORDER BY/LIMIT/OFFSET, pagination with batchSize, query cursors
//! (snapshots that don't shift when rows change, expiry, queryAll pages), queryAll after a delete,
//! the ContentDocumentLink filter rule, injection text, security, and error shapes.

use chrono::{Duration, NaiveDate};
use sayso::sandbox::{Sandbox, SandboxOptions};
use sayso::soql::{self, LikeMatch, QueryBuilder, builder};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::support::{ADA as ADMIN, DANA, KINETIC, MARIA};

/// The REST query resource.
const QUERY: &str = "/services/data/v63.0/query";
/// The paging leads (see [`add_leads`]) in name order.
const PAGING: &str = "SELECT Id, LastName FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 13).expect("date")
}

struct Org {
    base: String,
    sandbox: Sandbox,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Org {
    let options = SandboxOptions {
        db_path: None,
        fresh: true,
        today: Some(today()),
        ..Default::default()
    };
    let sandbox = Sandbox::open(options).expect("sandbox opens");
    let (base, stop) = crate::support::serve(sandbox.clone()).await;
    Org {
        base,
        sandbox,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Org {
    /// Runs `sql` on the sandbox's store directly (test setup the API cannot do).
    fn execute(&self, sql: &str) {
        let conn = self.sandbox.state().lock_db();
        conn.execute(sql, [])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn token(&self, user: &str) -> String {
        self.sandbox.mint_token(user).expect("token")
    }

    async fn get(
        &self,
        user: &str,
        path: &str,
        query: &[(&str, &str)],
        batch: Option<u32>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(user))
            .query(query);
        if let Some(n) = batch {
            req = req.header("Sforce-Query-Options", format!("batchSize={n}"));
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body, headers)
    }

    /// SOSL `sosl` as `user`: (status, body).
    async fn search(&self, user: &str, sosl: &str) -> (u16, Value) {
        let (s, b, _) = self
            .get(user, "/services/data/v63.0/search", &[("q", sosl)], None)
            .await;
        (s, b)
    }

    async fn query_as(&self, user: &str, soql: &str) -> (u16, Value) {
        let (s, b, _) = self.get(user, QUERY, &[("q", soql)], None).await;
        (s, b)
    }

    async fn ok(&self, soql: &str) -> Value {
        let (status, body) = self.query_as(ADMIN, soql).await;
        assert_eq!(status, 200, "{soql}: {body}");
        body
    }

    async fn err(&self, user: &str, soql: &str) -> (u16, String, String) {
        let (status, body) = self.query_as(user, soql).await;
        let code = body[0]["errorCode"].as_str().unwrap_or("").to_string();
        let message = body[0]["message"].as_str().unwrap_or("").to_string();
        (status, code, message)
    }

    async fn ids(&self, soql: &str) -> BTreeSet<String> {
        let body = self.ok(soql).await;
        assert_eq!(body["done"], json!(true), "{soql}");
        records(&body)
            .iter()
            .map(|r| r["Id"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// An expectation over one record, computed without SOQL.
type RowTest = Box<dyn Fn(&Value) -> bool>;
/// An expectation over one date.
type DayTest = Box<dyn Fn(NaiveDate) -> bool>;

fn records(body: &Value) -> Vec<Value> {
    body["records"].as_array().cloned().unwrap_or_default()
}

/// The text field `key` of every record of a query result (`body`), in order; each must have it.
fn column<'v>(body: &'v Value, key: &str) -> Vec<&'v str> {
    body["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r[key].as_str().unwrap_or_else(|| panic!("{key} of {r}")))
        .collect()
}

/// All opportunities as the admin sees them, for computing expectations independently of SOQL.
async fn all_opps(org: &Org) -> Vec<Value> {
    records(&org.ok("SELECT Id, Name, Amount, StageName, CloseDate, IsClosed, AccountId, Probability FROM Opportunity").await)
}

fn ids_where(rows: &[Value], keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| keep(r))
        .map(|r| r["Id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn records_have_attributes_and_typed_values() {
    let org = start().await;
    let (status, body, headers) =
        org.get(ADMIN, QUERY, &[("q", "SELECT Id, Name, Amount, IsClosed, CloseDate FROM Opportunity WHERE Name = 'Project Titan'")], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        headers.get("sforce-limit-info").is_some(),
        "each query counts as an API call"
    );
    assert_eq!(body["totalSize"], json!(1));
    assert_eq!(body["done"], json!(true));
    assert!(body.get("nextRecordsUrl").is_none());
    let r = &body["records"][0];
    assert_eq!(r["attributes"]["type"], "Opportunity");
    assert_eq!(
        r["attributes"]["url"],
        format!(
            "/services/data/v63.0/sobjects/Opportunity/{}",
            r["Id"].as_str().unwrap()
        )
    );
    assert_eq!(r["Amount"], json!(480000.0));
    assert_eq!(r["IsClosed"], json!(false));
    assert_eq!(
        r["CloseDate"],
        json!((today() + Duration::days(45)).to_string())
    );
    // Names are case-insensitive in the query and canonical in the result.
    let body = org
        .ok("select id, NAME from opportunity where name = 'project titan'")
        .await;
    assert_eq!(body["records"][0]["Name"], "Project Titan");
    assert!(body["records"][0].get("NAME").is_none());
}

#[tokio::test]
async fn parent_relationships_nest_and_null_parents_are_null() {
    let org = start().await;
    let body = org.ok("SELECT Name, Account.Name, Account.Owner.Name, Owner.Alias FROM Opportunity WHERE Name = 'Project Titan'").await;
    let r = &body["records"][0];
    assert_eq!(r["Account"]["attributes"]["type"], "Account");
    assert!(r["Account"]["Name"].is_string());
    assert_eq!(r["Account"]["Owner"]["attributes"]["type"], "User");
    assert!(r["Account"]["Owner"]["Name"].is_string());
    assert_eq!(r["Owner"]["Alias"], "dreye");
    // Polymorphic What: the nested object carries the actual type.
    let body = org.ok("SELECT Subject, What.Name, What.Type, Who.Name FROM Task WHERE Subject = 'Follow up call'").await;
    let r = &body["records"][0];
    assert_eq!(r["What"]["attributes"]["type"], "Opportunity", "{body}");
    assert_eq!(r["What"]["Type"], "Opportunity", "{body}");
    assert!(r["What"]["Name"].is_string());
    assert_eq!(r["Who"]["attributes"]["type"], "Contact");
    // A record without a parent gets null.
    org.execute("INSERT INTO \"Task\" (\"Id\", \"Subject\", \"OwnerId\", \"IsDeleted\") VALUES ('00TDm0000000999MAA', 'Lonely task', '005Dm0000000001IAA', 0)");
    let body = org
        .ok("SELECT Id, Who.Name, What.Name FROM Task WHERE WhoId = null")
        .await;
    assert_eq!(body["totalSize"], json!(1), "{body}");
    assert_eq!(body["records"][0]["Who"], Value::Null);
    assert_eq!(body["records"][0]["What"], Value::Null);
    // Alias prefixes and TYPEOF.
    let body = org
        .ok("SELECT o.Name, o.Account.Name FROM Opportunity o WHERE o.Name = 'Project Titan'")
        .await;
    assert!(body["records"][0]["Account"]["Name"].is_string());
    let body = org.ok("SELECT TYPEOF What WHEN Opportunity THEN Name, StageName ELSE Name END FROM Task WHERE Subject = 'Follow up call'").await;
    assert!(
        body["records"][0]["What"]["StageName"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn child_subqueries_nest_results_or_null() {
    let org = start().await;
    let body = org
        .ok("SELECT Name, (SELECT LastName, Account.Name FROM Contacts ORDER BY LastName DESC LIMIT 2), (SELECT Name FROM Opportunities WHERE Amount > 100000000) FROM Account WHERE Name = 'Acme Corp'")
        .await;
    let acme = &body["records"][0];
    let contacts = &acme["Contacts"];
    assert_eq!(contacts["done"], json!(true));
    let names = column(contacts, "LastName");
    assert!(names.len() <= 2 && !names.is_empty(), "{contacts}");
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, sorted);
    assert_eq!(contacts["records"][0]["attributes"]["type"], "Contact");
    assert_eq!(contacts["records"][0]["Account"]["Name"], "Acme Corp");
    assert_eq!(
        acme["Opportunities"],
        Value::Null,
        "an empty child result is null"
    );
    // Every contact of every account comes back under its own parent.
    let body = org
        .ok("SELECT Id, (SELECT Id, AccountId FROM Contacts) FROM Account")
        .await;
    let mut n = 0;
    for a in records(&body) {
        for c in a["Contacts"]["records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            assert_eq!(c["AccountId"], a["Id"]);
            n += 1;
        }
    }
    let with_account = org
        .ok("SELECT COUNT() FROM Contact WHERE AccountId != null")
        .await;
    assert_eq!(json!(n), with_account["totalSize"]);
    let (status, code, _) = org
        .err(ADMIN, "SELECT Id, (SELECT Id FROM Nonsense) FROM Account")
        .await;
    assert_eq!((status, code.as_str()), (400, "INVALID_TYPE"));
}

#[tokio::test]
async fn semi_and_anti_joins() {
    let org = start().await;
    let opps = all_opps(&org).await;
    let won_accounts: BTreeSet<String> = opps
        .iter()
        .filter(|o| o["StageName"] == "Closed Won")
        .filter_map(|o| o["AccountId"].as_str().map(str::to_string))
        .collect();
    let semi = org.ids("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity WHERE StageName = 'Closed Won')").await;
    assert_eq!(semi, won_accounts);
    assert!(!semi.is_empty());
    let all = org.ids("SELECT Id FROM Account").await;
    let anti = org.ids("SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Opportunity WHERE StageName = 'Closed Won')").await;
    assert_eq!(anti, all.difference(&won_accounts).cloned().collect());
}

#[tokio::test]
async fn every_comparison_operator() {
    let org = start().await;
    let opps = all_opps(&org).await;
    let amount = |r: &Value| r["Amount"].as_f64();
    let base = "SELECT Id FROM Opportunity WHERE ";
    let cases: Vec<(&str, RowTest)> = vec![
        (
            "Amount = 480000",
            Box::new(move |r| amount(r) == Some(480000.0)),
        ),
        (
            "Amount != 480000",
            Box::new(move |r| amount(r) != Some(480000.0)),
        ),
        (
            "Amount <> 480000",
            Box::new(move |r| amount(r) != Some(480000.0)),
        ),
        (
            "Amount < 100000",
            Box::new(move |r| amount(r).is_some_and(|a| a < 100000.0)),
        ),
        (
            "Amount <= 100000",
            Box::new(move |r| amount(r).is_some_and(|a| a <= 100000.0)),
        ),
        (
            "Amount > 100000",
            Box::new(move |r| amount(r).is_some_and(|a| a > 100000.0)),
        ),
        (
            "Amount >= 100000",
            Box::new(move |r| amount(r).is_some_and(|a| a >= 100000.0)),
        ),
        ("Amount = null", Box::new(move |r| amount(r).is_none())),
        ("Amount != null", Box::new(move |r| amount(r).is_some())),
        (
            "StageName = 'prospecting'",
            Box::new(|r| r["StageName"] == "Prospecting"),
        ),
        (
            "StageName IN ('Prospecting', 'Closed Won')",
            Box::new(|r| r["StageName"] == "Prospecting" || r["StageName"] == "Closed Won"),
        ),
        (
            "StageName NOT IN ('Prospecting', 'Closed Won')",
            Box::new(|r| r["StageName"] != "Prospecting" && r["StageName"] != "Closed Won"),
        ),
        (
            "Name LIKE 'project%'",
            Box::new(|r| {
                r["Name"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .starts_with("project")
            }),
        ),
        (
            "Name LIKE '%a_e%'",
            Box::new(|r| {
                let n: Vec<char> = r["Name"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .chars()
                    .collect();
                n.windows(3).any(|w| w[0] == 'a' && w[2] == 'e')
            }),
        ),
        (
            "IsClosed = true",
            Box::new(|r| r["IsClosed"] == json!(true)),
        ),
        (
            "IsClosed = false AND Amount > 100000",
            Box::new(move |r| {
                r["IsClosed"] == json!(false) && amount(r).is_some_and(|a| a > 100000.0)
            }),
        ),
        (
            "(StageName = 'Closed Won' OR StageName = 'Closed Lost') AND NOT Amount < 50000",
            Box::new(move |r| {
                (r["StageName"] == "Closed Won" || r["StageName"] == "Closed Lost")
                    && !amount(r).is_some_and(|a| a < 50000.0)
            }),
        ),
        (
            "NOT (IsClosed = true OR Probability > 50)",
            Box::new(|r| {
                !(r["IsClosed"] == json!(true)
                    || r["Probability"].as_f64().is_some_and(|p| p > 50.0))
            }),
        ),
        (
            "Amount > USD100000",
            Box::new(move |r| amount(r).is_some_and(|a| a > 100000.0)),
        ),
        (
            "CloseDate > 2026-06-01",
            Box::new(|r| r["CloseDate"].as_str().unwrap_or("") > "2026-06-01"),
        ),
    ];
    for (filter, keep) in cases {
        let got = org.ids(&format!("{base}{filter}")).await;
        assert_eq!(got, ids_where(&opps, keep), "WHERE {filter}");
    }
    // LIKE escapes: a literal % matches nothing here, and \_ is a literal underscore.
    assert!(
        org.ids(r"SELECT Id FROM Opportunity WHERE Name LIKE '%\%%'")
            .await
            .is_empty()
    );
    // Ids compare in their 15- and 18-character forms.
    let titan = org
        .ids("SELECT Id FROM Opportunity WHERE Name = 'Project Titan'")
        .await;
    let id18 = titan.iter().next().unwrap().clone();
    assert_eq!(
        org.ids(&format!(
            "SELECT Id FROM Opportunity WHERE Id = '{}'",
            &id18[..15]
        ))
        .await,
        titan
    );
}

#[tokio::test]
async fn date_literals_resolve_against_the_pinned_today() {
    let org = start().await;
    let opps = all_opps(&org).await;
    let day = |r: &Value| {
        NaiveDate::parse_from_str(r["CloseDate"].as_str().unwrap_or("1900-01-01"), "%Y-%m-%d")
            .unwrap()
    };
    let t = today();
    let cases: Vec<(&str, DayTest)> = vec![
        ("CloseDate = TODAY", Box::new(move |d| d == t)),
        ("CloseDate < TODAY", Box::new(move |d| d < t)),
        ("CloseDate <= TODAY", Box::new(move |d| d <= t)),
        ("CloseDate > TODAY", Box::new(move |d| d > t)),
        (
            "CloseDate = NEXT_N_DAYS:60",
            Box::new(move |d| d > t && d <= t + Duration::days(60)),
        ),
        (
            "CloseDate = LAST_N_DAYS:30",
            Box::new(move |d| d >= t - Duration::days(30) && d <= t),
        ),
        (
            "CloseDate = THIS_MONTH",
            Box::new(|d| d.to_string().starts_with("2026-05")),
        ),
        (
            "CloseDate = NEXT_MONTH",
            Box::new(|d| d.to_string().starts_with("2026-06")),
        ),
        (
            "CloseDate = THIS_QUARTER",
            Box::new(|d| ("2026-04-01".."2026-07-01").contains(&d.to_string().as_str())),
        ),
        (
            "CloseDate = NEXT_N_MONTHS:2",
            Box::new(|d| ("2026-06-01".."2026-08-01").contains(&d.to_string().as_str())),
        ),
        (
            "CloseDate = THIS_YEAR",
            Box::new(|d| d.to_string().starts_with("2026")),
        ),
        (
            "CloseDate != THIS_YEAR",
            Box::new(|d| !d.to_string().starts_with("2026")),
        ),
        (
            "CloseDate IN (LAST_N_DAYS:7, NEXT_N_DAYS:7)",
            Box::new(move |d| d >= t - Duration::days(7) && d <= t + Duration::days(7)),
        ),
        (
            "CloseDate = THIS_WEEK",
            Box::new(|d| ("2026-05-10".."2026-05-17").contains(&d.to_string().as_str())),
        ),
    ];
    let mut nonempty = 0;
    for (filter, keep) in cases {
        let want = ids_where(&opps, |r| r["CloseDate"].is_string() && keep(day(r)));
        nonempty += usize::from(!want.is_empty());
        let got = org
            .ids(&format!("SELECT Id FROM Opportunity WHERE {filter}"))
            .await;
        assert_eq!(got, want, "WHERE {filter}");
    }
    assert!(nonempty >= 8, "the demo data should exercise most literals");
    // Datetime fields compare against the org-local day boundaries.
    let events = records(&org.ok("SELECT Id, StartDateTime FROM Event").await);
    let soon = org
        .ids("SELECT Id FROM Event WHERE StartDateTime = NEXT_N_DAYS:3")
        .await;
    let want: BTreeSet<String> = events
        .iter()
        .filter(|e| {
            let s = e["StartDateTime"].as_str().unwrap_or("");
            // Demo events are at office hours, so their UTC date is their local date.
            let d = NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").unwrap();
            d > t && d <= t + Duration::days(3)
        })
        .map(|e| e["Id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(soon, want);
}

#[tokio::test]
async fn aggregates_group_by_and_having() {
    let org = start().await;
    let opps = all_opps(&org).await;
    let body = org
        .ok("SELECT COUNT() FROM Opportunity WHERE IsClosed = false")
        .await;
    assert_eq!(
        body["totalSize"],
        json!(
            opps.iter()
                .filter(|o| o["IsClosed"] == json!(false))
                .count()
        )
    );
    assert_eq!(body["records"], json!([]));

    let body = org.ok("SELECT StageName, COUNT(Id), SUM(Amount) total, MAX(CloseDate) FROM Opportunity GROUP BY StageName HAVING COUNT(Id) > 1 ORDER BY StageName").await;
    let rows = records(&body);
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row["attributes"], json!({"type": "AggregateResult"}));
        let stage = row["StageName"].as_str().unwrap();
        let members: Vec<&Value> = opps.iter().filter(|o| o["StageName"] == stage).collect();
        assert!(members.len() > 1);
        assert_eq!(row["expr0"], json!(members.len()));
        let sum: f64 = members.iter().filter_map(|o| o["Amount"].as_f64()).sum();
        assert!((row["total"].as_f64().unwrap() - sum).abs() < 0.01, "{row}");
        let max = members
            .iter()
            .filter_map(|o| o["CloseDate"].as_str())
            .max()
            .unwrap();
        assert_eq!(row["expr1"], json!(max));
    }
    let stages: Vec<&str> = rows
        .iter()
        .map(|r| r["StageName"].as_str().unwrap())
        .collect();
    let mut sorted = stages.clone();
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(stages, sorted);
    let body = org.ok("SELECT CALENDAR_YEAR(CloseDate) y, COUNT(Id) n FROM Opportunity GROUP BY CALENDAR_YEAR(CloseDate)").await;
    let total: i64 = records(&body)
        .iter()
        .map(|r| r["n"].as_i64().unwrap())
        .sum();
    assert_eq!(
        total as usize,
        opps.iter().filter(|o| o["CloseDate"].is_string()).count()
    );
    // ROLLUP adds subtotal rows (the rolled-up field null, GROUPING() = 1) and a grand total.
    let body = org
        .ok("SELECT StageName, GROUPING(StageName) g, COUNT(Id) n FROM Opportunity GROUP BY ROLLUP(StageName) ORDER BY GROUPING(StageName), StageName")
        .await;
    let rows = records(&body);
    let last = rows.last().unwrap();
    assert_eq!(
        (&last["StageName"], &last["g"], &last["n"]),
        (&Value::Null, &json!(1), &json!(opps.len())),
        "{body}"
    );
    let per_stage: i64 = rows[..rows.len() - 1]
        .iter()
        .map(|r| r["n"].as_i64().unwrap())
        .sum();
    assert_eq!(per_stage as usize, opps.len());
    assert!(
        rows[..rows.len() - 1]
            .iter()
            .all(|r| r["g"] == json!(0) && r["StageName"].is_string())
    );
    let body = org.ok("SELECT StageName, IsClosed, COUNT(Id) FROM Opportunity GROUP BY CUBE(StageName, IsClosed)").await;
    let grand: Vec<Value> = records(&body)
        .into_iter()
        .filter(|r| r["StageName"].is_null() && r["IsClosed"].is_null())
        .collect();
    assert_eq!(grand.len(), 1, "{body}");
    assert_eq!(grand[0]["expr0"], json!(opps.len()));
    // Date functions over convertTimezone() see org-local (America/Los_Angeles) wall time: the demo
    // events start at 09:00, 10:00, 11:00 and 14:00 local.
    let body = org
        .ok("SELECT HOUR_IN_DAY(convertTimezone(StartDateTime)) h, COUNT(Id) FROM Event GROUP BY HOUR_IN_DAY(convertTimezone(StartDateTime)) ORDER BY HOUR_IN_DAY(convertTimezone(StartDateTime))")
        .await;
    let hours: Vec<i64> = records(&body)
        .iter()
        .map(|r| r["h"].as_i64().unwrap())
        .collect();
    assert_eq!(hours, vec![9, 10, 11, 14], "{body}");
    let body = org.ok("SELECT HOUR_IN_DAY(StartDateTime) h FROM Event GROUP BY HOUR_IN_DAY(StartDateTime) ORDER BY HOUR_IN_DAY(StartDateTime)").await;
    let utc: Vec<i64> = records(&body)
        .iter()
        .map(|r| r["h"].as_i64().unwrap())
        .collect();
    assert_eq!(utc, vec![16, 17, 18, 21], "May is UTC-7: {body}");
}

#[tokio::test]
async fn order_limit_offset() {
    let org = start().await;
    let mut opps = all_opps(&org).await;
    opps.sort_by(|a, b| {
        let (x, y) = (a["Amount"].as_f64(), b["Amount"].as_f64());
        // DESC NULLS LAST, then Id.
        match (x, y) {
            (Some(x), Some(y)) => y
                .partial_cmp(&x)
                .unwrap()
                .then(a["Id"].as_str().cmp(&b["Id"].as_str())),
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, None) => a["Id"].as_str().cmp(&b["Id"].as_str()),
        }
    });
    let body = org
        .ok("SELECT Id, Amount FROM Opportunity ORDER BY Amount DESC NULLS LAST LIMIT 5 OFFSET 2")
        .await;
    let got = column(&body, "Id");
    let want: Vec<&str> = opps[2..7]
        .iter()
        .map(|r| r["Id"].as_str().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(body["totalSize"], json!(5));
    let body = org.ok("SELECT Name FROM Account ORDER BY Name").await;
    let names: Vec<String> = records(&body)
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "text sorts case-insensitively");
    let (status, code, _) = org.err(ADMIN, "SELECT Id FROM Account OFFSET 2001").await;
    assert_eq!((status, code.as_str()), (400, "NUMBER_OUTSIDE_VALID_RANGE"));
}

/// Adds `n` leads straight into the store (fast) so pagination has something to page through.
/// A sandbox with `n` more leads of the company "Paging Co" (see [`add_leads`]).
async fn start_with_leads(n: usize) -> Org {
    let org = start().await;
    add_leads(&org, n);
    org
}

fn add_leads(org: &Org, n: usize) {
    let conn = org.sandbox.state().lock_db();
    let tx = conn.unchecked_transaction().expect("tx");
    {
        let mut stmt = tx
            .prepare("INSERT INTO \"Lead\" (\"Id\", \"LastName\", \"Company\", \"Status\", \"OwnerId\", \"IsDeleted\") VALUES (?1, ?2, 'Paging Co', 'Open - Not Contacted', '005Dm0000000001IAA', 0)")
            .expect("prepare");
        for i in 0..n {
            let id = sayso::id::RecordId::from_parts("00Q", "Zz", 900_000 + i as u64);
            stmt.execute(rusqlite::params![id.as_str(), format!("Pager{i:05}")])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

#[tokio::test]
async fn pagination_with_batch_size_and_locators() {
    let org = start_with_leads(450).await;
    let first = query_page(&org, QUERY, PAGING, 200).await;
    assert_eq!(first["totalSize"], json!(450));
    assert_eq!(first["done"], json!(false));
    assert_eq!(records(&first).len(), 200);
    let locator = first["nextRecordsUrl"].as_str().unwrap().to_string();
    assert!(
        regex::Regex::new(r"^/services/data/v63\.0/query/01g[0-9A-Za-z]{15}-200$")
            .unwrap()
            .is_match(&locator),
        "{locator}"
    );
    let pages = all_pages(&org, first).await;
    assert_eq!(pages.len(), 3);
    for page in &pages {
        assert_eq!(page["totalSize"], json!(450), "{page}");
    }
    let want: Vec<String> = (0..450).map(|i| format!("Pager{i:05}")).collect();
    assert_eq!(last_names(&pages), want);
    // The last page's locator.
    let next = pages[1]["nextRecordsUrl"].as_str().unwrap();
    // Default batch is 2000; a batch below 200 is raised to 200.
    let (_, body, _) = org.get(ADMIN, QUERY, &[("q", PAGING)], None).await;
    assert_eq!(records(&body).len(), 450);
    let body = query_page(&org, QUERY, PAGING, 10).await;
    assert_eq!(records(&body).len(), 200);
    // Another user cannot use the locator; an unknown locator is refused.
    let (status, body, _) = org
        .get(DANA, &next.replace("-400", "-200"), &[], None)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body, _) = org
        .get(ADMIN, "/services/data/v63.0/query/01gNOPE-200", &[], None)
        .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_QUERY_LOCATOR"))
    );
    // LIMIT caps the total across pages.
    let capped = "SELECT Id FROM Lead WHERE Company = 'Paging Co' LIMIT 250";
    let body = query_page(&org, QUERY, capped, 200).await;
    assert_eq!(body["totalSize"], json!(250));
    let (_, page2, _) = org
        .get(ADMIN, body["nextRecordsUrl"].as_str().unwrap(), &[], None)
        .await;
    assert_eq!(records(&page2).len(), 50);
    assert_eq!(page2["done"], json!(true));
}

/// Follows `nextRecordsUrl` from `first` to the end; returns every page's body, `first` included.
async fn all_pages(org: &Org, first: Value) -> Vec<Value> {
    let mut pages = vec![first];
    while let Some(next) = pages.last().unwrap()["nextRecordsUrl"].as_str() {
        let next = next.to_string();
        let (status, page, _) = org.get(ADMIN, &next, &[], None).await;
        assert_eq!(status, 200, "{next}: {page}");
        pages.push(page);
    }
    assert_eq!(pages.last().unwrap()["done"], json!(true));
    pages
}

fn last_names(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(records)
        .map(|r| r["LastName"].as_str().unwrap().to_string())
        .collect()
}

/// The first page of `soql` on `path` (query or queryAll) as the administrator with `batch` rows a
/// page, which must answer 200.
async fn query_page(org: &Org, path: &str, soql: &str, batch: u32) -> Value {
    let (status, body, _) = org.get(ADMIN, path, &[("q", soql)], Some(batch)).await;
    assert_eq!(status, 200, "{soql}: {body}");
    body
}

#[tokio::test]
async fn cursor_pages_reassemble_the_whole_result() {
    let org = start_with_leads(450).await;
    // A child row for one lead on the last page.
    org.execute("INSERT INTO \"Task\" (\"Id\", \"WhoId\", \"Subject\", \"OwnerId\", \"IsDeleted\")
             SELECT '00TZz0000000001AAA', \"Id\", 'Call back', \"OwnerId\", 0 FROM \"Lead\" WHERE \"LastName\" = 'Pager00007'");
    let soql = "SELECT Id, LastName, toLabel(Status), Owner.Name, CreatedBy.Name, (SELECT Subject FROM Tasks)
                FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName DESC";
    let whole = query_page(&org, QUERY, soql, 2000).await;
    assert_eq!(whole["done"], json!(true));
    assert_eq!(records(&whole).len(), 450);
    let pages = all_pages(&org, query_page(&org, QUERY, soql, 200).await).await;
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p["totalSize"] == json!(450)));
    // Later pages render exactly as one big page: attributes, nested parents, labels, order.
    let paged: Vec<Value> = pages.iter().flat_map(records).collect();
    assert_eq!(paged, records(&whole));
    let want: Vec<String> = (0..450).rev().map(|i| format!("Pager{i:05}")).collect();
    assert_eq!(last_names(&pages), want);
    let called = &records(&pages[2])[42];
    assert_eq!(called["LastName"], json!("Pager00007"));
    assert_eq!(called["Tasks"]["records"][0]["Subject"], json!("Call back"));
    assert!(called["Owner"]["attributes"]["url"].is_string());
    assert_eq!(called["CreatedBy"], Value::Null);
    // LIMIT and OFFSET bound the cursor's result.
    let limited = "SELECT Id, LastName FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName LIMIT 300 OFFSET 10";
    let pages = all_pages(&org, query_page(&org, QUERY, limited, 200).await).await;
    assert_eq!(pages[0]["totalSize"], json!(300));
    let want: Vec<String> = (10..310).map(|i| format!("Pager{i:05}")).collect();
    assert_eq!(last_names(&pages), want);
    // Aggregates have no cursor.
    let agg = query_page(
        &org,
        QUERY,
        "SELECT LastName, COUNT(Id) FROM Lead WHERE Company = 'Paging Co' GROUP BY LastName",
        200,
    )
    .await;
    assert_eq!(agg["done"], json!(true));
    assert!(agg.get("nextRecordsUrl").is_none());
    assert_eq!(records(&agg).len(), 450);
}

#[tokio::test]
async fn cursor_pages_do_not_shift_when_rows_change() {
    let org = start_with_leads(450).await;
    let soql =
        "SELECT Id, LastName, Company FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName";
    let first = query_page(&org, QUERY, soql, 200).await;
    let page_one = records(&first);
    // Between pages: a record of page 1 stops matching the filter, and one of page 3 changes.
    let client = reqwest::Client::new();
    for (row, body) in [
        (&page_one[0], json!({"Company": "Elsewhere Inc"})),
        (&page_one[150], json!({"Company": "Elsewhere Inc"})),
    ] {
        let id = row["Id"].as_str().unwrap();
        let resp = client
            .patch(format!(
                "{}/services/data/v63.0/sobjects/Lead/{id}",
                org.base
            ))
            .bearer_auth(org.token(ADMIN))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204);
    }
    let later = org
        .ids("SELECT Id FROM Lead WHERE LastName = 'Pager00300'")
        .await
        .into_iter()
        .next()
        .unwrap();
    let resp = client
        .patch(format!(
            "{}/services/data/v63.0/sobjects/Lead/{later}",
            org.base
        ))
        .bearer_auth(org.token(ADMIN))
        .json(&json!({"Company": "Moved Co"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let pages = all_pages(&org, first).await;
    // Every record of the first run comes back exactly once, in the first run's order: nothing on
    // page 2 is skipped because two rows of page 1 left the filter (re-running the query with
    // OFFSET 200 would start at Pager00202 and end with an empty fourth page).
    let want: Vec<String> = (0..450).map(|i| format!("Pager{i:05}")).collect();
    assert_eq!(last_names(&pages), want);
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p["totalSize"] == json!(450)));
    // Field values are read when the page is served.
    let moved = pages
        .iter()
        .flat_map(records)
        .find(|r| r["Id"] == json!(later))
        .unwrap();
    assert_eq!(moved["Company"], json!("Moved Co"));
    // A new query sees the change.
    let again = query_page(&org, QUERY, soql, 200).await;
    assert_eq!(again["totalSize"], json!(447));
}

fn cursor_table_rows(org: &Org, table: &str) -> i64 {
    let conn = org.sandbox.state().lock_db();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn an_eleventh_cursor_releases_the_users_oldest() {
    let org = start_with_leads(250).await;
    let mut next = Vec::new();
    for _ in 0..11 {
        let first = query_page(&org, QUERY, PAGING, 200).await;
        next.push(first["nextRecordsUrl"].as_str().unwrap().to_string());
    }
    let (status, body, _) = org.get(ADMIN, &next[0], &[], None).await;
    assert_eq!(status, 400, "the oldest of 11 is released: {body}");
    assert_eq!(body[0]["errorCode"], json!("INVALID_QUERY_LOCATOR"));
    for url in &next[1..] {
        let (status, body, _) = org.get(ADMIN, url, &[], None).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(records(&body).len(), 50);
    }
    // only ten snapshots are kept
    assert_eq!(cursor_table_rows(&org, "sayso_query_cursor"), 10);
}

#[tokio::test]
async fn expired_and_unknown_locators_are_refused() {
    let org = start_with_leads(450).await;
    let first = query_page(&org, QUERY, PAGING, 200).await;
    let next = first["nextRecordsUrl"].as_str().unwrap().to_string();
    assert_eq!(cursor_table_rows(&org, "sayso_query_cursor_row"), 450);
    let refused = |body: &Value| body[0]["errorCode"] == json!("INVALID_QUERY_LOCATOR");
    let locator = next.rsplit('/').next().unwrap().to_string();
    let cursor = locator.split('-').next().unwrap().to_string();
    for bad in [
        "01gNOPE-200".to_string(),
        format!("{cursor}-450"),
        format!("{cursor}-x"),
        format!("{cursor}-"),
        cursor.clone(),
    ] {
        let (status, body, _) = org
            .get(
                ADMIN,
                &format!("/services/data/v63.0/query/{bad}"),
                &[],
                None,
            )
            .await;
        assert!(status == 400 && refused(&body), "{bad}: {status} {body}");
    }
    // Any position inside the result is served, and may be asked for again.
    for _ in 0..2 {
        let (status, body, _) = org
            .get(
                ADMIN,
                &format!("/services/data/v63.0/query/{cursor}-440"),
                &[],
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(records(&body).len(), 10);
        assert_eq!(body["done"], json!(true));
    }
    // Two days later the locator has expired.
    org.execute("UPDATE sayso_query_cursor SET created = created - 2 * 24 * 60 * 60 - 1");
    let (status, body, _) = org.get(ADMIN, &next, &[], None).await;
    assert!(status == 400 && refused(&body), "{status} {body}");
    // The next cursor made drops the expired one and its snapshot.
    let other = "SELECT Id FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName LIMIT 250";
    let fresh = query_page(&org, QUERY, other, 200).await;
    assert!(fresh["nextRecordsUrl"].is_string());
    assert_eq!(cursor_table_rows(&org, "sayso_query_cursor"), 1);
    assert_eq!(cursor_table_rows(&org, "sayso_query_cursor_row"), 250);
    // A one-page result makes no cursor.
    query_page(&org, QUERY, PAGING, 2000).await;
    assert_eq!(cursor_table_rows(&org, "sayso_query_cursor"), 1);
}

#[tokio::test]
async fn query_all_cursor_pages_include_deleted_rows() {
    let org = start_with_leads(450).await;
    org.execute("UPDATE \"Lead\" SET \"IsDeleted\" = 1 WHERE \"LastName\" LIKE 'Pager%' AND CAST(substr(\"LastName\", 6) AS INTEGER) % 9 = 0");
    let soql =
        "SELECT Id, LastName, IsDeleted FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName";
    let live = query_page(&org, QUERY, soql, 2000).await;
    assert_eq!(live["totalSize"], json!(400));
    let first = query_page(&org, "/services/data/v63.0/queryAll", soql, 200).await;
    assert_eq!(first["totalSize"], json!(450));
    // The locator pages under queryAll/ as under query/.
    let next = first["nextRecordsUrl"].as_str().unwrap().to_string();
    let (status, via_all, _) = org
        .get(ADMIN, &next.replace("/query/", "/queryAll/"), &[], None)
        .await;
    assert_eq!(status, 200, "{via_all}");
    let pages = all_pages(&org, first).await;
    assert_eq!(pages[1], via_all);
    let want: Vec<String> = (0..450).map(|i| format!("Pager{i:05}")).collect();
    assert_eq!(last_names(&pages), want);
    let deleted = pages
        .iter()
        .flat_map(records)
        .filter(|r| r["IsDeleted"] == json!(true))
        .count();
    assert_eq!(deleted, 50);
}

#[tokio::test]
async fn query_all_sees_deleted_rows() {
    let org = start().await;
    let id = org
        .ids("SELECT Id FROM Lead WHERE LastName = 'Gekko'")
        .await
        .into_iter()
        .next()
        .expect("Gekko");
    let resp = org
        .client
        .delete(format!(
            "{}/services/data/v63.0/sobjects/Lead/{id}",
            org.base
        ))
        .bearer_auth(org.token(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(
        org.ids("SELECT Id FROM Lead WHERE LastName = 'Gekko'")
            .await
            .is_empty()
    );
    let (status, body, _) = org
        .get(
            ADMIN,
            "/services/data/v63.0/queryAll",
            &[(
                "q",
                "SELECT Id, IsDeleted FROM Lead WHERE LastName = 'Gekko'",
            )],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Id"], json!(id));
    assert_eq!(body["records"][0]["IsDeleted"], json!(true));
}

#[tokio::test]
async fn content_document_link_needs_a_filter() {
    let org = start().await;
    let body = org.ok("SELECT Id, ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '006Dm0000000005IAA'").await;
    assert!(body["totalSize"].as_u64().unwrap() >= 1, "{body}");
    org.ok("SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId IN ('069Dm0000000001IAA') AND ShareType = 'V'").await;
}

#[tokio::test]
async fn injection_text_in_literals_matches_nothing() {
    let org = start().await;
    for evil in [
        "titan' OR Name != 'x",
        r"x\' OR Name != '",
        "' OR '1'='1",
        "%",
    ] {
        let soql = QueryBuilder::select("Opportunity", &["Id"])
            .unwrap()
            .filter(builder::eq_str("Name", evil).unwrap())
            .to_soql();
        let body = org.ok(&soql).await;
        assert_eq!(body["totalSize"], json!(0), "{soql}");
        let soql = QueryBuilder::select("Opportunity", &["Id"])
            .unwrap()
            .filter(builder::like("Name", LikeMatch::Contains, evil).unwrap())
            .to_soql();
        assert_eq!(org.ok(&soql).await["totalSize"], json!(0), "{soql}");
    }
    let soql = QueryBuilder::select("Opportunity", &["Id"])
        .unwrap()
        .filter(builder::like("Name", LikeMatch::StartsWith, "Project T").unwrap())
        .to_soql();
    assert_eq!(org.ok(&soql).await["totalSize"], json!(1));
}

#[tokio::test]
async fn errors_have_salesforce_shapes() {
    let org = start().await;
    let (status, code, message) = org.err(ADMIN, "SELECT Id FROM Account WHERE").await;
    assert_eq!((status, code.as_str()), (400, "MALFORMED_QUERY"));
    assert!(
        message.contains("ERROR at Row:1:Column:29")
            && message.contains("unexpected token: '<EOF>'"),
        "{message}"
    );
    // SOQL Salesforce refuses: 400, the error code, and how the message starts or what it contains.
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/sandbox_query_errors.json")).unwrap();
    for case in &cases {
        let soql = case["soql"].as_str().unwrap();
        let (status, code, message) = org.err(ADMIN, soql).await;
        assert_eq!(
            (status, code.as_str()),
            (400, case["code"].as_str().unwrap()),
            "{soql}"
        );
        let starts = case["starts"].as_str().unwrap_or("");
        let contains = case["contains"].as_str().unwrap_or("");
        assert!(
            message.starts_with(starts) && message.contains(contains),
            "{soql}: {message}"
        );
    }
    // Valid SOQL the sandbox cannot evaluate is named, never MALFORMED_QUERY.
    for soql in [
        "SELECT Name FROM Contact WHERE DISTANCE(MailingAddress, GEOLOCATION(1, 2), 'mi') < 5",
        "SELECT Id FROM Account USING SCOPE mine",
        "SELECT FORMAT(Amount) FROM Opportunity",
    ] {
        let (status, code, message) = org.err(ADMIN, soql).await;
        assert_eq!(status, 400);
        assert_ne!(code, "MALFORMED_QUERY", "{soql}");
        assert!(
            message.contains("not supported by the sayso sandbox"),
            "{soql}: {message}"
        );
    }
    let (status, body, _) = org.get(ADMIN, QUERY, &[], None).await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("MALFORMED_QUERY"))
    );
    // FIELDS(ALL) needs LIMIT 200.
    let (_, code, _) = org.err(ADMIN, "SELECT FIELDS(ALL) FROM Account").await;
    assert_eq!(code, "MALFORMED_QUERY");
    let body = org.ok("SELECT FIELDS(ALL) FROM Account LIMIT 1").await;
    assert!(
        body["records"][0]["Tier__c"].is_string() && body["records"][0]["Name"].is_string(),
        "{body}"
    );
    let body = org.ok("SELECT FIELDS(CUSTOM) FROM Account LIMIT 1").await;
    assert!(
        body["records"][0].get("Name").is_none() && body["records"][0].get("Tier__c").is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn security_applies_to_every_object_in_the_query() {
    let org = start().await;
    let all = org.ids("SELECT Id FROM Opportunity").await;
    let (status, body) = org
        .query_as(DANA, "SELECT Id, OwnerId FROM Opportunity")
        .await;
    assert_eq!(status, 200, "{body}");
    let dana_ids: BTreeSet<String> = records(&body)
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !dana_ids.is_empty() && dana_ids.len() < all.len(),
        "private sharing narrows the rows"
    );
    for r in records(&body) {
        assert_eq!(r["OwnerId"], "005Dm0000000003IAA");
    }
    // A manager sees at least their reports' opportunities.
    let (_, body) = org.query_as(MARIA, "SELECT Id FROM Opportunity").await;
    assert!(records(&body).len() >= dana_ids.len());
    // Semi-joins and child subqueries are filtered too.
    let (_, body) = org
        .query_as(
            DANA,
            "SELECT Id, (SELECT Id FROM Opportunities) FROM Account",
        )
        .await;
    for a in records(&body) {
        for o in a["Opportunities"]["records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            assert!(
                dana_ids.contains(o["Id"].as_str().unwrap()),
                "child rows respect sharing"
            );
        }
    }
    let (_, body) = org
        .query_as(
            DANA,
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity)",
        )
        .await;
    let dana_accounts: BTreeSet<String> = records(&body)
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    let admin_accounts = org
        .ids("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity)")
        .await;
    assert!(dana_accounts.is_subset(&admin_accounts) && dana_accounts.len() < admin_accounts.len());
    // Field-level security: hidden fields do not exist; objects without read access do not exist.
    let (_, code, message) = org
        .err(KINETIC, "SELECT Id, Subject, Origin FROM Case")
        .await;
    assert_eq!(code, "INVALID_FIELD", "{message}");
    assert!(
        message.contains("No such column 'Origin' on entity 'Case'"),
        "{message}"
    );
    let (status, body) = org.query_as(KINETIC, "SELECT Id, Subject FROM Case").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn sosl_search_over_name_fields() {
    let org = start().await;
    let (status, body) = org.search(ADMIN, "FIND {Acme} IN NAME FIELDS RETURNING Account(Id, Name), Contact(Id, Name), Opportunity(Id, Name) LIMIT 20").await;
    assert_eq!(status, 200, "{body}");
    let hits = body["searchRecords"].as_array().unwrap();
    assert!(
        hits.iter()
            .any(|r| r["attributes"]["type"] == "Account" && r["Name"] == "Acme Corp"),
        "{body}"
    );
    for r in hits {
        let name = r["Name"].as_str().unwrap_or("").to_lowercase();
        assert!(name.contains("acme"), "{r}");
    }
    let (_, body) = org
        .search(
            ADMIN,
            "FIND {titan' OR Name != 'x} RETURNING Opportunity(Id)",
        )
        .await;
    assert_eq!(body["searchRecords"], json!([]), "{body}");
    let (status, body) = org.search(ADMIN, "FIND {a}").await;
    assert_eq!(status, 400, "{body}");
    // Private opportunities stay private in search.
    let (_, body) = org
        .search(DANA, "FIND {Project} RETURNING Opportunity(Id, OwnerId)")
        .await;
    for r in body["searchRecords"].as_array().unwrap() {
        assert_eq!(r["OwnerId"], "005Dm0000000003IAA");
    }
}

#[test]
fn rendered_builder_queries_parse() {
    let q = QueryBuilder::select("Account", &["Id", "Name"])
        .unwrap()
        .filter(builder::eq_str("Name", "a'b").unwrap())
        .build();
    assert_eq!(soql::parse(&soql::render(&q)).unwrap(), q);
}
