//! End-to-end tests of `sayso run`'s library path (`app::Agent`) against the sandbox served
//! in-process on 127.0.0.1:0, over real HTTP. A hooked transport lets a test change the org between
//! the agent's read and its write (conflicts, per-record failures, compound rollback).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use serde_json::{Value, json};

use sayso::app::{Agent, RunOptions, Status};
use sayso::auth::Secret;
use sayso::journal::Journal;
use sayso::salesforce::org::{HttpRequest, Org, SendFuture, Transport};
use sayso::salesforce::{Client, ClientOptions};
use sayso::sandbox::{Sandbox, SandboxOptions};

const DANA: &str = "dana.reyes@demo.sayso.dev";
const DANA_ID: &str = "005Dm0000000003IAA";
const ADMIN: &str = "admin@demo.sayso.dev";

type Hook = Box<dyn FnOnce(HttpRequest) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;
/// The hook slot: (path fragment, hook).
type HookSlot = Arc<Mutex<Option<(String, Hook)>>>;

/// Runs a hook once, before the first write request whose path contains `when`.
struct Hooked {
    inner: sayso::salesforce::transport::ClientTransport,
    hook: HookSlot,
}

impl Transport for Hooked {
    fn send(&self, req: HttpRequest) -> SendFuture<'_> {
        Box::pin(async move {
            let hook = {
                let mut guard = self.hook.lock().unwrap();
                let due = guard.as_ref().is_some_and(|(when, _)| {
                    req.method != "GET" && req.path.contains(when.as_str())
                });
                if due { guard.take() } else { None }
            };
            if let Some((_, h)) = hook {
                h(req.clone()).await;
            }
            self.inner.send(req).await
        })
    }
}

struct Org2 {
    url: String,
    sandbox: Sandbox,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Org2 {
    let sandbox = Sandbox::open(SandboxOptions {
        db_path: None,
        fresh: true,
        today: NaiveDate::from_ymd_opt(2026, 11, 18),
        faults: Default::default(),
    })
    .expect("sandbox opens");
    let (url, tx) = crate::support::serve(sandbox.clone()).await;
    Org2 {
        url,
        sandbox,
        _stop: tx,
    }
}

impl Org2 {
    fn client(&self, username: &str) -> Client {
        let token = self.sandbox.mint_token(username).unwrap();
        Client::new(ClientOptions::new(
            url::Url::parse(&self.url).unwrap(),
            Secret::new(token),
        ))
        .unwrap()
    }

    fn agent(&self, username: &str, me: &str) -> (Agent, HookSlot) {
        let hook = Arc::new(Mutex::new(None));
        let transport = Hooked {
            inner: sayso::salesforce::transport::ClientTransport::new(self.client(username)),
            hook: hook.clone(),
        };
        let org = Org::new(Box::new(transport), "v63.0");
        let agent = Agent::with_org(
            org,
            Journal::in_memory().unwrap(),
            me,
            username,
            NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(),
            None,
        );
        (agent, hook)
    }

    fn admin(&self) -> Admin {
        Admin {
            org: Org::new(
                Box::new(sayso::salesforce::transport::ClientTransport::new(
                    self.client(ADMIN),
                )),
                "v63.0",
            ),
        }
    }
}

/// The administrator's view, for checking the org and changing it underneath the agent.
struct Admin {
    org: Org,
}

impl Admin {
    async fn query(&self, soql: &str) -> Vec<Value> {
        self.org.query_all(soql).await.expect("admin query")
    }
    async fn one(&self, soql: &str) -> Value {
        let rows = self.query(soql).await;
        assert_eq!(rows.len(), 1, "{soql}: {rows:?}");
        rows[0].clone()
    }
    async fn patch(&self, object: &str, id: &str, body: Value) {
        assert!(
            self.org
                .update(object, id, body, None)
                .await
                .expect("admin patch")
        );
    }
    async fn delete(&self, object: &str, id: &str) {
        self.org.delete(object, id).await.expect("admin delete");
    }
}

fn yes() -> RunOptions {
    RunOptions {
        yes: true,
        ..RunOptions::default()
    }
}

const TITAN: &str = "006Dm0000000001IAA";

#[tokio::test]
async fn single_update_is_one_guarded_patch_and_two_calls_when_warm() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let out = agent
        .submit("update opportunity Project Titan to Negotiation", yes())
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert_eq!(out.changes().len(), 1);
    assert_eq!(out.changes()[0].fields["StageName"]["old"], "Prospecting");
    assert_eq!(
        out.changes()[0].fields["StageName"]["new"],
        "Negotiation/Review"
    );
    let admin = org.admin();
    let row = admin
        .one("SELECT StageName, NextStep FROM Opportunity WHERE Name = 'Project Titan'")
        .await;
    assert_eq!(row["StageName"], "Negotiation/Review");
    // warm describe cache: one query + one PATCH
    let out = agent
        .submit("set the amount on Project Titan to 500k", yes())
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert!(out.api_calls <= 2, "api_calls {}", out.api_calls);
}

#[tokio::test]
async fn soql_injection_phrase_changes_nothing() {
    let org = start().await;
    let admin = org.admin();
    let before = admin.query("SELECT Id, StageName FROM Opportunity").await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    for phrase in [
        "update opportunity titan' OR Name != 'x to negotiation",
        "update opportunity titan%' OR Name LIKE '% to negotiation",
        "set the amount on \\' OR Id != null -- to 5",
        "set the next step on piper} RETURNING Opportunity(Id), Account(Id {titan to x",
    ] {
        let out = agent.submit(phrase, yes()).await;
        assert!(
            !out.status.is_success(),
            "{phrase}: {:?} {}",
            out.status,
            out.message
        );
        assert!(out.changes().is_empty());
    }
    let after = admin.query("SELECT Id, StageName FROM Opportunity").await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_change_underneath_is_a_conflict_and_is_not_overwritten() {
    let org = start().await;
    let (mut agent, hook) = org.agent(DANA, DANA_ID);
    let admin = Arc::new(org.admin());
    let a = admin.clone();
    *hook.lock().unwrap() = Some((
        "/sobjects/Opportunity/".into(),
        Box::new(move |_| {
            Box::pin(async move {
                // LastModifiedDate has one-second resolution in If-Unmodified-Since.
                tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
                a.patch("Opportunity", TITAN, json!({"StageName": "Qualification"}))
                    .await;
            })
        }),
    ));
    let out = agent
        .submit("update opportunity Project Titan to Negotiation", yes())
        .await;
    assert_eq!(out.status, Status::Conflict, "{}", out.message);
    let row = admin
        .one("SELECT StageName FROM Opportunity WHERE Name = 'Project Titan'")
        .await;
    assert_eq!(row["StageName"], "Qualification");
}

#[tokio::test]
async fn compound_is_all_or_nothing() {
    let org = start().await;
    let (mut agent, hook) = org.agent(DANA, DANA_ID);
    let admin = Arc::new(org.admin());
    let a = admin.clone();
    // The opportunity disappears between resolution and the composite: the role (second
    // subrequest) and the call (third) fail, so the contact (first) must be rolled back.
    *hook.lock().unwrap() = Some((
        "/composite".into(),
        Box::new(move |_| {
            Box::pin(async move { a.delete("Opportunity", "006Dm0000000002IAA").await })
        }),
    ));
    let out = agent
        .submit(
            "Create a new contact for Jane Doe at ACME Corp, associate her with the open ACME opportunity, and log my call notes.",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Failed, "{}", out.message);
    assert!(out.api_calls <= 8, "api_calls {}", out.api_calls);
    let left = admin
        .query("SELECT Id FROM Contact WHERE LastName = 'Doe' AND FirstName = 'Jane'")
        .await;
    assert!(left.is_empty(), "contact left behind: {left:?}");
}

#[tokio::test]
async fn compound_applies_in_one_composite_and_undo_deletes_it_all() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let out = agent
        .submit(
            "Create a new contact for Jane Doe at ACME Corp, associate her with the open ACME opportunity, and log my call notes.",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert_eq!(out.changes().len(), 3);
    let jane = admin
        .one("SELECT Id, AccountId FROM Contact WHERE LastName = 'Doe' AND FirstName = 'Jane'")
        .await;
    let jane_id = jane["Id"].as_str().unwrap().to_string();
    let roles = admin
        .query(&format!("SELECT Id FROM OpportunityContactRole WHERE ContactId = '{jane_id}' AND OpportunityId = '006Dm0000000002IAA'"))
        .await;
    assert_eq!(roles.len(), 1);
    let undo = agent.undo(None, "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    assert!(
        admin
            .query("SELECT Id FROM Contact WHERE LastName = 'Doe' AND FirstName = 'Jane'")
            .await
            .is_empty()
    );
    assert!(
        admin
            .query(&format!("SELECT Id FROM Task WHERE WhoId = '{jane_id}'"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn undo_restores_old_values_and_reports_later_changes_as_conflicts() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let out = agent
        .submit(
            "update Initech Renewal: stage to negotiation, amount to 90,000",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    let undo = agent.undo(None, "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    let row = admin
        .one("SELECT StageName, Amount FROM Opportunity WHERE Name = 'Initech Renewal'")
        .await;
    assert_eq!(row["StageName"], "Proposal/Price Quote");
    assert_eq!(row["Amount"].as_f64(), Some(85000.0));
    // A second undo of the same entry is refused; the next undo finds nothing else.
    assert_eq!(
        agent
            .undo(Some(undo.journal_entry.unwrap() - 1), "undo")
            .await
            .status,
        Status::Invalid
    );

    let out = agent
        .submit(
            "set the next step on Project Titan to 'Book the demo'",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    admin
        .patch(
            "Opportunity",
            TITAN,
            json!({"NextStep": "Someone else's step"}),
        )
        .await;
    let undo = agent.undo(None, "undo").await;
    assert_eq!(undo.status, Status::Conflict, "{}", undo.message);
    let row = admin
        .one("SELECT NextStep FROM Opportunity WHERE Name = 'Project Titan'")
        .await;
    assert_eq!(row["NextStep"], "Someone else's step");
}

#[tokio::test]
async fn create_and_undo_create() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let out = agent
        .submit(
            "create a new opportunity for Initech, $200K, closing in June",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    let id = out.changes()[0].id.clone().unwrap();
    let row = admin
        .one(&format!(
            "SELECT StageName, CloseDate, Amount, OwnerId FROM Opportunity WHERE Id = '{id}'"
        ))
        .await;
    assert_eq!(row["StageName"], "Prospecting");
    assert_eq!(row["CloseDate"], "2027-06-30");
    assert_eq!(agent.undo(None, "undo").await.status, Status::Applied);
    assert!(
        admin
            .query(&format!("SELECT Id FROM Opportunity WHERE Id = '{id}'"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn bulk_needs_confirmation_respects_max_records_and_dry_run_changes_nothing() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let before = admin.query("SELECT Id, NextStep FROM Opportunity").await;
    let phrase = "set the next step on all my open opportunities to 'Review pricing'";
    let out = agent.submit(phrase, RunOptions::default()).await;
    assert_eq!(out.status, Status::NeedsConfirmation, "{}", out.message);
    assert_eq!(out.count, Some(15));
    assert!(out.pending.is_some());
    let out = agent
        .submit(
            phrase,
            RunOptions {
                max_records: 3,
                ..yes()
            },
        )
        .await;
    assert_eq!(out.status, Status::LimitExceeded, "{}", out.message);
    let out = agent
        .submit(
            phrase,
            RunOptions {
                dry_run: true,
                ..yes()
            },
        )
        .await;
    assert_eq!(out.status, Status::DryRun, "{}", out.message);
    assert!(
        out.calls()
            .iter()
            .any(|c| c.contains("/composite/sobjects")),
        "{:?}",
        out.calls()
    );
    assert_eq!(
        admin.query("SELECT Id, NextStep FROM Opportunity").await,
        before
    );
}

async fn bulk_with_one_failure(bulk_threshold: usize) {
    let org = start().await;
    let (mut agent, hook) = org.agent(DANA, DANA_ID);
    let admin = Arc::new(org.admin());
    let a = admin.clone();
    let when = if bulk_threshold < 15 {
        "/jobs/ingest"
    } else {
        "/composite/sobjects"
    };
    *hook.lock().unwrap() = Some((
        when.into(),
        Box::new(move |_| {
            Box::pin(async move { a.delete("Opportunity", "006Dm0000000030IAA").await })
        }),
    ));
    let phrase = "set the next step on all my open opportunities to 'Review pricing'";
    let out = agent
        .submit(
            phrase,
            RunOptions {
                bulk_threshold,
                ..yes()
            },
        )
        .await;
    assert_eq!(out.status, Status::Failed, "{}", out.message);
    assert_eq!(out.changes().len(), 14, "{}", out.message);
    assert_eq!(out.failures().len(), 1);
    assert_eq!(out.failures()[0].id.as_deref(), Some("006Dm0000000030IAA"));
    let done = admin
        .query("SELECT Id FROM Opportunity WHERE NextStep = 'Review pricing'")
        .await;
    assert_eq!(done.len(), 14);
    // the failed part is retried (and fails again: the record is gone), the rest stays; above
    // the threshold the retry is streamed too
    let retry = agent
        .retry(RunOptions {
            bulk_threshold,
            ..yes()
        })
        .await;
    assert_eq!(retry.changes().len(), 0, "{}", retry.message);
    assert_eq!(retry.failures().len(), 1, "{}", retry.message);
    assert_eq!(
        retry.failures()[0].id.as_deref(),
        Some("006Dm0000000030IAA")
    );
    assert_eq!(retry.streamed.is_some(), bulk_threshold < 15);
    // undo reverts the 14 that were written
    let undo = agent.undo(Some(out.journal_entry.unwrap()), "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    assert!(
        admin
            .query("SELECT Id FROM Opportunity WHERE NextStep = 'Review pricing'")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn bulk_over_collections_keeps_the_successful_part() {
    bulk_with_one_failure(2000).await;
}

#[tokio::test]
async fn bulk_over_bulk_api_keeps_the_successful_part() {
    bulk_with_one_failure(5).await;
}

#[tokio::test]
async fn streamed_bulk_applies_exactly_what_was_confirmed_in_several_jobs() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    agent.set_bulk_job_rows(4);
    let admin = org.admin();
    let phrase = "set the next step on all my open opportunities to 'Review pricing'";
    let opts = RunOptions {
        bulk_threshold: 5,
        ..RunOptions::default()
    };
    let mut out = agent.submit(phrase, opts).await;
    assert_eq!(out.status, Status::NeedsConfirmation, "{}", out.message);
    assert_eq!(out.count, Some(15));
    assert_eq!(out.records().len(), 10, "a preview, not every record");
    let plan = out.pending.take().unwrap();
    assert_eq!(plan.staged.as_ref().map(|s| s.count), Some(15));
    assert!(
        plan.steps.is_empty(),
        "a streamed plan holds no step per record"
    );
    assert!(
        out.calls()[0].contains("4 Bulk API 2.0 jobs of at most 4 rows"),
        "{:?}",
        out.calls()
    );
    // between the preview and the confirmation, one more deal starts to match the filter
    let newcomer = admin
        .org
        .create(
            "Opportunity",
            json!({"Name": "Late Arrival", "StageName": "Prospecting", "CloseDate": "2026-12-31",
                   "OwnerId": DANA_ID}),
        )
        .await
        .unwrap();
    let done = agent.confirm(phrase, &plan, yes()).await;
    assert_eq!(done.status, Status::Applied, "{}", done.message);
    assert_eq!(done.count, Some(15));
    assert_eq!(done.changes().len(), 15);
    assert_eq!(
        admin
            .query("SELECT Id FROM Opportunity WHERE NextStep = 'Review pricing'")
            .await
            .len(),
        15
    );
    let late = admin
        .one(&format!(
            "SELECT NextStep FROM Opportunity WHERE Id = '{newcomer}'"
        ))
        .await;
    assert!(
        late["NextStep"].is_null(),
        "only the confirmed records change: {late}"
    );
    // the JSON line lists every change, read back from the journal
    let mut line = Vec::new();
    agent
        .write_json(&done, &[("input", json!(phrase))], &mut line)
        .unwrap();
    let v: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 15);
    assert_eq!(v["input"], phrase);
    assert_eq!(
        v["changes"][0]["fields"]["NextStep"]["new"],
        "Review pricing"
    );
    // the stage was consumed: confirming the same plan again writes nothing
    let again = agent.confirm(phrase, &plan, yes()).await;
    assert_eq!(again.status, Status::Failed, "{}", again.message);
    assert!(
        again.message.contains("no longer pending"),
        "{}",
        again.message
    );
}

#[tokio::test]
async fn streamed_undo_reverts_in_bulk_and_journals_what_changed_since() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    agent.set_undo_threshold(5);
    agent.set_bulk_job_rows(6);
    let admin = org.admin();
    let before = admin
        .query("SELECT Id, NextStep FROM Opportunity WHERE OwnerId = '005Dm0000000003IAA' AND IsClosed = false ORDER BY Id")
        .await;
    assert_eq!(before.len(), 15);
    let phrase = "set the next step on all my open opportunities to 'Review pricing'";
    let out = agent.submit(phrase, yes()).await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    // someone edits two of them afterwards
    let edited = [
        before[0]["Id"].as_str().unwrap(),
        before[1]["Id"].as_str().unwrap(),
    ];
    for id in edited {
        admin
            .patch("Opportunity", id, json!({"NextStep": "Call the CFO"}))
            .await;
    }
    let undo = agent.undo(Some(out.journal_entry.unwrap()), "undo").await;
    assert!(
        undo.streamed.is_some(),
        "an entry above the threshold is undone in bulk"
    );
    assert_eq!(undo.status, Status::Failed, "{}", undo.message);
    assert!(
        undo.message.contains("13 reverted, 2 left as they are"),
        "{}",
        undo.message
    );
    assert_eq!(undo.changes().len(), 13);
    assert_eq!(undo.failures().len(), 2);
    assert!(
        undo.failures()[0].error.contains("changed since"),
        "{:?}",
        undo.failures()
    );
    for row in &before {
        let id = row["Id"].as_str().unwrap();
        let now = admin
            .one(&format!(
                "SELECT NextStep FROM Opportunity WHERE Id = '{id}'"
            ))
            .await;
        if edited.contains(&id) {
            assert_eq!(now["NextStep"], "Call the CFO", "kept: {id}");
        } else {
            assert_eq!(now["NextStep"], row["NextStep"], "reverted: {id}");
        }
    }
    // the conflicts are in the undo's journal entry, as the JSON line shows
    let mut line = Vec::new();
    agent.write_json(&undo, &[], &mut line).unwrap();
    let v: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 13);
    assert_eq!(v["failures"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn large_streamed_updates_read_through_a_bulk_query_job_with_typed_values() {
    let org = start().await;
    let (mut agent, hook) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    // more than BULK_READ_ABOVE records for the filter
    let n = sayso::app::BULK_READ_ABOVE + 50;
    let mut csv = String::from("Name,StageName,CloseDate,Amount,OwnerId\n");
    for i in 0..n {
        csv.push_str(&format!(
            "Scale Deal {i:05},Qualification,2027-01-15,{},{DANA_ID}\n",
            1000 + i
        ));
    }
    let (_, failed) = admin
        .org
        .bulk_ingest("Opportunity", "insert", csv)
        .await
        .unwrap();
    assert_eq!(failed.lines().count(), 1, "{failed}");
    let used_query_job = Arc::new(Mutex::new(false));
    let seen = used_query_job.clone();
    *hook.lock().unwrap() = Some((
        "/jobs/query".into(),
        Box::new(move |_| {
            *seen.lock().unwrap() = true;
            Box::pin(async {})
        }),
    ));
    let out = agent
        .submit(
            "add 1000 to the amount on all my opportunities in qualification",
            RunOptions {
                max_records: 1_000_000,
                ..yes()
            },
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert!(
        *used_query_job.lock().unwrap(),
        "read through a Bulk query job"
    );
    let in_qualification = admin
        .query("SELECT Id FROM Opportunity WHERE StageName = 'Qualification' AND OwnerId = '005Dm0000000003IAA'")
        .await
        .len();
    assert_eq!(out.count, Some(in_qualification as u64));
    // each amount moved by exactly 1000 from its own value (typed from the CSV's text)
    for i in [0, 1234, n - 1] {
        let row = admin
            .one(&format!(
                "SELECT Amount FROM Opportunity WHERE Name = 'Scale Deal {i:05}'"
            ))
            .await;
        assert_eq!(row["Amount"].as_f64(), Some((2000 + i) as f64), "deal {i}");
    }
    // far fewer calls than REST pages of 2,000 plus collections of 200 would take
    assert!(out.api_calls < 40, "{} calls", out.api_calls);
}

#[tokio::test]
async fn a_bulk_query_job_is_read_page_by_page_to_the_end() {
    let org = start().await;
    let admin = org.admin();
    let mut csv = String::from("LastName,Company\n");
    for i in 0..2500 {
        csv.push_str(&format!("Pager {i:04},Paging Co\n"));
    }
    admin.org.bulk_ingest("Lead", "insert", csv).await.unwrap();
    let mut job = admin
        .org
        .bulk_query("SELECT Id, LastName FROM Lead WHERE Company = 'Paging Co'")
        .await
        .unwrap();
    let mut pages = 0;
    let mut names = std::collections::BTreeSet::new();
    while let Some(rows) = admin.org.bulk_query_page(&mut job, 1000).await.unwrap() {
        pages += 1;
        assert!(rows.len() <= 1000);
        for r in rows {
            names.insert(r["LastName"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(pages, 3, "1000 + 1000 + 500 rows, following the locator");
    assert_eq!(names.len(), 2500);
    admin.org.bulk_query_delete(job).await.unwrap();
}

#[tokio::test]
async fn streamed_bulk_values_follow_each_record() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let before = admin
        .query("SELECT Id, Amount FROM Opportunity WHERE OwnerId = '005Dm0000000003IAA' AND IsClosed = false AND Amount != null")
        .await;
    assert!(before.len() > 5);
    let out = agent
        .submit(
            "add 1000 to the amount on all my open opportunities",
            RunOptions {
                bulk_threshold: 5,
                ..yes()
            },
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert!(
        out.streamed.is_some(),
        "above the threshold the run streams"
    );
    for row in before {
        let id = row["Id"].as_str().unwrap();
        let now = admin
            .one(&format!("SELECT Amount FROM Opportunity WHERE Id = '{id}'"))
            .await;
        assert_eq!(
            now["Amount"].as_f64().unwrap(),
            row["Amount"].as_f64().unwrap() + 1000.0,
            "{id}"
        );
    }
}

#[tokio::test]
async fn task_filters_by_related_record_and_empty_filters_are_not_found() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let out = agent
        .submit(
            "mark all my open tasks for the hooli cloud migration as complete",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    let mut ids: Vec<_> = out.changes().iter().filter_map(|c| c.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec!["00TDm0000000006MAA", "00TDm0000000007MAA"]);
    let done = admin
        .query("SELECT Id FROM Task WHERE What.Name = 'Hooli Cloud Migration' AND Status = 'Completed'")
        .await;
    assert_eq!(done.len(), 2);
    // a filter that matches nothing says so, instead of "already hold those values"
    let none = agent
        .submit(
            "set the next step on all my opportunities at nobody corp to 'x'",
            yes(),
        )
        .await;
    assert_eq!(none.status, Status::NotFound, "{}", none.message);
    assert!(
        none.message.contains("no Opportunity records"),
        "{}",
        none.message
    );
    // a change that names no record says how to name one
    let unnamed = agent.submit("the amount is 72k", yes()).await;
    assert_eq!(unnamed.status, Status::NotFound, "{}", unnamed.message);
    assert!(
        unnamed.message.starts_with("which record?"),
        "{}",
        unnamed.message
    );
}

#[tokio::test]
async fn statuses_of_the_resolution_rules() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let cases = [
        ("move the hooli deal to negotiation", Status::Ambiguous),
        ("follow up with Sarah tomorrow", Status::Ambiguous),
        (
            "update the acme logistics fleet expansion to negotiation",
            Status::NotFound,
        ),
        ("set acme corp's customer tier to gold", Status::Denied),
        (
            "change the forecast category on the Globex Enterprise License to best case",
            Status::Denied,
        ),
        ("update project titan's stage to wonderful", Status::Invalid),
        ("make me a sandwich", Status::NotUnderstood),
        ("how many open deals do I have", Status::Answered),
        ("update the initech deal to closed won", Status::Applied),
    ];
    for (phrase, want) in cases {
        let out = agent.submit(phrase, yes()).await;
        assert_eq!(out.status, want, "{phrase}: {}", out.message);
        if want == Status::Ambiguous {
            assert!(out.candidates().len() >= 2);
        }
    }
    // a value the record already holds: applied, nothing sent
    let out = agent
        .submit("set the stage on my blue sun deal to qualification", yes())
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert!(out.changes().is_empty());
    // "look up" a name matching records of several objects: `ambiguous`, every one a candidate
    let out = agent.submit("look up acme", yes()).await;
    assert_eq!(out.status, Status::Ambiguous, "{}", out.message);
    assert!(out.candidates().len() >= 3, "{:?}", out.candidates());
    assert!(out.records().is_empty());
}

#[tokio::test]
async fn a_picked_candidate_resolves_an_ambiguous_reference() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let phrase = "move the hooli deal to negotiation";
    let out = agent.submit(phrase, yes()).await;
    assert_eq!(out.status, Status::Ambiguous);
    let pick = out
        .candidates()
        .iter()
        .find(|c| c.name == "Hooli XYZ Data Platform")
        .unwrap()
        .id
        .clone();
    let out = agent
        .submit_picked(phrase, yes(), std::slice::from_ref(&pick))
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert_eq!(out.changes()[0].id.as_deref(), Some(pick.as_str()));
    let row = org
        .admin()
        .one("SELECT StageName FROM Opportunity WHERE Name = 'Hooli XYZ Data Platform'")
        .await;
    assert_eq!(row["StageName"], "Negotiation/Review");
}

#[tokio::test]
async fn describe_cache_is_fresh_then_revalidated_with_if_modified_since() {
    use sayso::resolve::schema::SchemaCache;
    let org = start().await;
    let dir = tempfile::tempdir().unwrap();
    let dana = Org::new(
        Box::new(sayso::salesforce::transport::ClientTransport::new(
            org.client(DANA),
        )),
        "v63.0",
    );
    let now = chrono::Utc::now().timestamp();
    // cold: one call, written to disk
    let d = SchemaCache::new_at(Some(dir.path().to_path_buf()), now)
        .describe(&dana, "Opportunity")
        .await
        .unwrap();
    assert_eq!(dana.calls(), 1);
    assert!(d.field("StageName").is_some());
    // Dana's describe shows her field permissions: forecast category is read-only for her
    assert!(!d.field("ForecastCategoryName").unwrap().updateable);
    assert!(dir.path().join("Opportunity.json").exists());
    // fresh file: no call
    SchemaCache::new_at(Some(dir.path().to_path_buf()), now + 60)
        .describe(&dana, "Opportunity")
        .await
        .unwrap();
    assert_eq!(dana.calls(), 1);
    // stale file: one conditional call answered 304, the cached describe is used
    let d = SchemaCache::new_at(Some(dir.path().to_path_buf()), now + 3600)
        .describe(&dana, "Opportunity")
        .await
        .unwrap();
    assert_eq!(dana.calls(), 2);
    assert!(d.field("StageName").is_some());
}

#[tokio::test]
async fn leftover_words_are_never_silent_filters() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let mine = admin
        .query(&format!(
            "SELECT Id FROM Opportunity WHERE OwnerId = '{DANA_ID}' AND IsClosed = false AND StageName = 'Negotiation/Review'"
        ))
        .await
        .len() as u64;
    assert!(mine > 0);
    // "right now" is a known filler and "of my" means mine: no name filter is built from them
    let out = agent
        .submit(
            "how many of my open deals are in negotiation right now",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Answered, "{}", out.message);
    assert_eq!(out.count, Some(mine), "{}", out.message);
    // a word that names nothing is said back, never a silent zero
    let out = agent
        .submit("how many zorblax deals do i have", yes())
        .await;
    assert_eq!(out.status, Status::NotUnderstood, "{}", out.message);
    assert!(out.message.contains("zorblax"), "{}", out.message);
    // a name word that is in a name stays a filter, and an empty answer stays an answer
    let out = agent
        .submit(
            "how many open hooli deals closing this week do i have",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Answered, "{}", out.message);
}

#[tokio::test]
async fn meetings_and_cases_write_what_was_said() {
    let org = start().await;
    let (mut agent, _) = org.agent(DANA, DANA_ID);
    let admin = org.admin();
    let out = agent
        .submit(
            "schedule a meeting with pepper potts on project titan tuesday at 3pm about the phased rollout",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    let event = admin
        .one(
            "SELECT StartDateTime, EndDateTime, WhatId FROM Event WHERE Subject = 'Phased rollout'",
        )
        .await;
    assert_eq!(event["WhatId"], TITAN);
    // 3pm in Dana's time zone (America/Los_Angeles, UTC-8 in November), 30 minutes
    let start = event["StartDateTime"].as_str().unwrap_or_default();
    let end = event["EndDateTime"].as_str().unwrap_or_default();
    assert!(start.starts_with("2026-11-24T23:00"), "{event}");
    assert!(end.starts_with("2026-11-24T23:30"), "{event}");
    // the priority said first, and shorthand, are read; the subject keeps the rest
    let out = agent
        .submit(
            "open a case for acme corp: hi pri - login page broken",
            yes(),
        )
        .await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    let case = admin
        .one("SELECT Priority FROM Case WHERE Subject = 'Login page broken'")
        .await;
    assert_eq!(case["Priority"], "High");
}
