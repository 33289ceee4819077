//! Issue 16 at scale, through `app::Agent` against the sandbox served in-process over real HTTP:
//!
//! - a large undo reads the records' current values through one Bulk API 2.0 query job over the
//!   entry's id range, never `Id IN (…)` reads: records changed by someone else in between are
//!   `conflict`, the rest reverted, in a handful of calls (counted by the sandbox);
//! - a large retry likewise: edited records are conflicts, the others re-sent;
//! - a Bulk job whose results cannot be read leaves its rows `sent` (not `failed`): the next
//!   command reads the results and `retry` sends only what is really missing;
//! - a create whose answer is lost is never re-sent blindly: the next command reads back what
//!   was created (made: applied, nothing sent again; not made: failed, `retry` sends it once).
//!
//! A scripting transport around the real one records every request, and can fail the reads of
//! Bulk results or lose the answer of a create (after or before it reaches the org).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::LiveOrg;
use crate::support::{ADA as ADMIN, DANA, DANA_ID};
use sayso::app::{Agent, RunOptions, Status};
use sayso::journal::{ChangeState, Journal};
use sayso::salesforce::org::{HttpRequest, HttpResponse, Org, OrgError, SendFuture, Transport};

const PHRASE: &str = "set the next step on all my open opportunities to 'Scale check'";

/// What the scripting transport does and saw.
#[derive(Default)]
struct Script {
    /// `METHOD path q` of every request.
    seen: Mutex<Vec<String>>,
    /// Answer reads of Bulk ingest results with 503.
    fail_results: AtomicBool,
    /// Lose the answer of the next creates: sent to the org, then the connection "breaks".
    lose_after: AtomicU32,
    /// Drop the next creates before they reach the org.
    lose_before: AtomicU32,
    /// Lose the answer of the next `/composite` requests: carried out by the org, then the
    /// connection "breaks".
    lose_composite: AtomicU32,
}

struct Scripted {
    inner: sayso::salesforce::transport::ClientTransport,
    script: Arc<Script>,
}

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

impl Transport for Scripted {
    fn send(&self, req: HttpRequest) -> SendFuture<'_> {
        Box::pin(async move {
            let q = req
                .query
                .iter()
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            self.script
                .seen
                .lock()
                .unwrap()
                .push(format!("{} {} {q}", req.method, req.path));
            if req.method == "GET"
                && req.path.ends_with("/successfulResults/")
                && self.script.fail_results.load(Ordering::SeqCst)
            {
                return Ok(HttpResponse {
                    status: 503,
                    headers: Vec::new(),
                    body: serde_json::to_vec(&json!([{"errorCode": "SERVER_UNAVAILABLE",
                        "message": "Server is temporarily unavailable."}]))
                    .unwrap(),
                });
            }
            let create = req.method == "POST" && req.path.ends_with("/sobjects/Opportunity");
            if create && take(&self.script.lose_before) {
                return Err(OrgError::Transport("connection reset by peer".into()));
            }
            let composite = req.method == "POST" && req.path.ends_with("/composite");
            let resp = self.inner.send(req).await?;
            if composite && take(&self.script.lose_composite) {
                return Err(OrgError::Transport("connection reset by peer".into()));
            }
            if create && take(&self.script.lose_after) {
                return Err(OrgError::Transport("connection reset by peer".into()));
            }
            Ok(resp)
        })
    }
}

struct Served {
    live: LiveOrg,
    _dir: tempfile::TempDir,
}

/// A fresh org with `extra` more open deals for Dana (made by the administrator).
async fn start(extra: usize) -> Served {
    let org = Served {
        live: LiveOrg::fresh().await,
        _dir: tempfile::tempdir().unwrap(),
    };
    crate::support::add_open_deals(&org.admin(), extra, "Scale", true).await;
    org
}

impl Served {
    fn journal_path(&self) -> std::path::PathBuf {
        self._dir.path().join("journal.db")
    }

    /// Dana's agent (journal in a file, so the test can read it too) and its script.
    fn agent(&self) -> (Agent, Arc<Script>) {
        let script: Arc<Script> = Arc::default();
        let seen = script.clone();
        let journal = Journal::open(&self.journal_path()).unwrap();
        let agent = self.live.agent(DANA, DANA_ID, journal, |inner| Scripted {
            inner,
            script: seen,
        });
        (agent, script)
    }

    fn journal(&self) -> Journal {
        Journal::open(&self.journal_path()).unwrap()
    }

    fn admin(&self) -> Org {
        self.live.org(ADMIN)
    }

    /// Calls Dana made so far, as the sandbox counted them.
    fn dana_calls(&self) -> u64 {
        sayso::sandbox::rest::limits::usage_by_user_and_app(self.live.sandbox.state())
            .unwrap()
            .into_iter()
            .filter(|l| l.username == DANA)
            .map(|l| l.calls)
            .sum()
    }
}

/// A fresh org with `extra` more open deals for Dana, her agent with its script, and the
/// administrator's handle.
async fn dana_at(extra: usize) -> (Served, Agent, Arc<Script>, Org) {
    let org = start(extra).await;
    let (agent, script) = org.agent();
    let admin = org.admin();
    (org, agent, script, admin)
}

/// Dana's open deals: id → NextStep.
async fn next_steps(admin: &Org) -> std::collections::BTreeMap<String, Value> {
    let rows = crate::support::danas_open_next_steps(admin).await;
    rows.into_iter().collect()
}

fn yes(bulk_threshold: usize) -> RunOptions {
    RunOptions {
        yes: true,
        bulk_threshold,
        max_records: 100_000,
        ..RunOptions::default()
    }
}

/// Requests since `from` that read records by an `Id IN (…)` list, and Bulk query jobs created.
fn reads_since(script: &Script, from: usize) -> (usize, usize) {
    let seen = script.seen.lock().unwrap();
    let id_in = seen[from..]
        .iter()
        .filter(|r| r.contains("/query ") && r.contains("Id IN"))
        .count();
    let jobs = seen[from..]
        .iter()
        .filter(|r| r.starts_with("POST ") && r.ends_with("/jobs/query "))
        .count();
    (id_in, jobs)
}

#[tokio::test]
async fn a_large_undo_reads_through_one_bulk_query_and_leaves_edited_records_as_conflicts() {
    let (org, mut agent, script, admin) = dana_at(2_500).await;
    let before = next_steps(&admin).await;
    assert_eq!(before.len(), 2_515);
    let out = agent.submit(PHRASE, yes(100)).await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    // someone else edits three of the records in between
    let edited: Vec<String> = before.keys().step_by(700).take(3).cloned().collect();
    for id in &edited {
        let body = json!({"NextStep": "Edited by admin"});
        assert!(admin.update("Opportunity", id, body, None).await.unwrap());
    }
    let (from, calls) = (script.seen.lock().unwrap().len(), org.dana_calls());
    let undo = agent.undo(None, "undo").await;
    let calls = org.dana_calls() - calls;
    assert_eq!(undo.status, Status::Failed, "{}", undo.message);
    assert!(undo.message.contains("2512 reverted"), "{}", undo.message);
    assert!(
        undo.message.contains("3 left as they are"),
        "{}",
        undo.message
    );
    let (id_in, jobs) = reads_since(&script, from);
    assert_eq!(id_in, 0, "no `Id IN` reads");
    assert_eq!(jobs, 1, "one Bulk query job");
    // one query job (create, polls, a page, delete) and one ingest job; `Id IN` reads would
    // add 13 calls of 200 ids to the ingest job's
    assert!(calls <= 16 && undo.api_calls <= 16, "{calls} calls");
    let after = next_steps(&admin).await;
    for (id, was) in &before {
        if edited.contains(id) {
            assert_eq!(after[id], "Edited by admin", "{id}");
        } else {
            assert_eq!(&after[id], was, "{id}");
        }
    }
    let counts = org
        .journal()
        .state_counts(undo.journal_entry.unwrap())
        .unwrap();
    assert_eq!((counts.applied, counts.conflict), (2_512, 3));
    // a second undo of the same entry writes nothing
    let again = agent.undo(out.journal_entry, "undo").await;
    assert_eq!(again.status, Status::Invalid, "{}", again.message);
}

#[tokio::test]
async fn a_large_retry_reads_through_one_bulk_query_and_leaves_edited_records_as_conflicts() {
    let (org, mut agent, script, admin) = dana_at(2_500).await;
    agent.set_bulk_job_rows(1_000);
    let before = next_steps(&admin).await;
    // the first job's results cannot be read: its 1,000 rows stay unconfirmed, the other
    // 1,515 are never sent
    script.fail_results.store(true, Ordering::SeqCst);
    let out = agent.submit(PHRASE, yes(100)).await;
    script.fail_results.store(false, Ordering::SeqCst);
    assert_eq!(out.status, Status::Failed, "{}", out.message);
    assert!(out.message.contains("unconfirmed"), "{}", out.message);
    let entry = out.journal_entry.unwrap();
    let counts = org.journal().state_counts(entry).unwrap();
    assert_eq!(
        (counts.applied, counts.pending, counts.failed),
        (0, 1_000, 1_515),
        "{counts:?}"
    );
    let now = next_steps(&admin).await;
    let written = now.values().filter(|v| *v == "Scale check").count();
    assert_eq!(written, 1_000, "the first job ran");
    // two of the records never sent are edited in between
    let edited: Vec<String> = now
        .iter()
        .filter(|(_, v)| *v != "Scale check")
        .map(|(id, _)| id.clone())
        .step_by(500)
        .take(2)
        .collect();
    for id in &edited {
        let body = json!({"NextStep": "Edited by admin"});
        assert!(admin.update("Opportunity", id, body, None).await.unwrap());
    }
    let (from, calls) = (script.seen.lock().unwrap().len(), org.dana_calls());
    let retry = agent.retry(yes(100)).await;
    let calls = org.dana_calls() - calls;
    // first the next command read the unread job's results: its 1,000 rows are applied
    let counts = org.journal().state_counts(entry).unwrap();
    assert_eq!(
        (counts.applied, counts.pending, counts.failed),
        (1_000, 0, 1_515),
        "{counts:?}"
    );
    assert_eq!(retry.status, Status::Failed, "{}", retry.message);
    let rc = org
        .journal()
        .state_counts(retry.journal_entry.unwrap())
        .unwrap();
    assert_eq!((rc.applied, rc.conflict), (1_513, 2), "{rc:?}");
    let (id_in, jobs) = reads_since(&script, from);
    assert_eq!(id_in, 0, "no `Id IN` reads");
    assert_eq!(jobs, 1, "one Bulk query job");
    // the unread job's results, one query job and two ingest jobs (`Id IN` reads: 8 more)
    assert!(calls <= 28, "{calls} calls");
    let after = next_steps(&admin).await;
    for id in before.keys() {
        let want = if edited.contains(id) {
            "Edited by admin"
        } else {
            "Scale check"
        };
        assert_eq!(after[id], want, "{id}");
    }
    // nothing is left to retry
    assert_eq!(agent.retry(yes(100)).await.status, Status::NotFound);
}

/// Dana's opportunities named like the one the phrase creates.
async fn initech_deals(admin: &Org) -> usize {
    admin
        .query_all("SELECT Id FROM Opportunity WHERE OwnerId = '005Dm0000000003IAA' AND Amount = 200000 AND CloseDate = 2027-06-30")
        .await
        .unwrap()
        .len()
}

const CREATE: &str = "create a new opportunity for Initech, $200K, closing in June";

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_read_back_and_never_sent_twice() {
    let (org, mut agent, script, admin) = dana_at(0).await;
    let base = initech_deals(&admin).await;
    // made by the org, but the answer is lost
    script.lose_after.store(1, Ordering::SeqCst);
    let out = agent.submit(CREATE, yes(2000)).await;
    assert_ne!(out.status, Status::Applied, "{}", out.message);
    let entry = out.journal_entry.unwrap();
    let j = org.journal();
    assert_eq!(j.changes(entry).unwrap()[0].state, ChangeState::Sent);
    assert_eq!(initech_deals(&admin).await, base + 1);
    // the next command reads it back: applied, with its id; retry sends nothing
    let retry = agent.retry(yes(2000)).await;
    assert_eq!(retry.status, Status::NotFound, "{}", retry.message);
    let row = &j.changes(entry).unwrap()[0];
    assert_eq!(row.state, ChangeState::Applied);
    assert!(row.change.record_id.is_some());
    assert_eq!(initech_deals(&admin).await, base + 1, "not created twice");

    // lost before it reached the org: read back, not found, failed; retry sends it once
    script.lose_before.store(1, Ordering::SeqCst);
    let out = agent.submit(CREATE, yes(2000)).await;
    let entry = out.journal_entry.unwrap();
    assert_eq!(j.changes(entry).unwrap()[0].state, ChangeState::Sent);
    assert_eq!(initech_deals(&admin).await, base + 1);
    let retry = agent.retry(yes(2000)).await;
    assert_eq!(retry.status, Status::Applied, "{}", retry.message);
    assert_eq!(j.changes(entry).unwrap()[0].state, ChangeState::Failed);
    assert_eq!(initech_deals(&admin).await, base + 2);
    assert_eq!(agent.retry(yes(2000)).await.status, Status::NotFound);
}

#[tokio::test]
async fn a_composite_whose_answer_was_lost_is_read_back_not_marked_failed() {
    let (org, mut agent, script, admin) = dana_at(0).await;
    let tasks = async || admin.query_all("SELECT Id FROM Task").await.unwrap().len();
    let tasks_before = tasks().await;
    script.lose_composite.store(1, Ordering::SeqCst);
    let out = agent
        .submit(
            "move project titan to negotiation and remind me to call them friday",
            yes(2000),
        )
        .await;
    assert_ne!(out.status, Status::Applied, "{}", out.message);
    let sent: Vec<String> = script.seen.lock().unwrap().clone();
    assert!(
        sent.iter()
            .any(|r| r.starts_with("POST") && r.contains("/composite")),
        "{sent:?}"
    );
    let entry = out.journal_entry.unwrap();
    let j = org.journal();
    let rows = j.changes(entry).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.state == ChangeState::Sent),
        "unknown, not failed"
    );
    // the next command reads both back: the org holds them, so both are applied
    let retry = agent.retry(yes(2000)).await;
    assert_eq!(
        retry.status,
        Status::NotFound,
        "nothing left to send: {}",
        retry.message
    );
    let rows = j.changes(entry).unwrap();
    assert!(
        rows.iter().all(|r| r.state == ChangeState::Applied),
        "{:?}",
        rows.iter().map(|r| r.state).collect::<Vec<_>>()
    );
    let titan = admin
        .query_all("SELECT StageName FROM Opportunity WHERE Name = 'Project Titan'")
        .await
        .unwrap();
    assert_eq!(titan[0]["StageName"], "Negotiation/Review");
    assert_eq!(tasks().await, tasks_before + 1, "the task was made once");
}
