//! Every write exactly once, the journal always true (issue 16), through `app::Agent` against the
//! sandbox served in-process over real HTTP:
//!
//! - the journal as a state machine: `retry` after `undo` writes nothing, `retry` twice writes
//!   nothing the second time, `undo` of an entry covers its retries and a second `undo` writes
//!   nothing;
//! - retry guarded like the first write: a failed record someone edited since is a `conflict`,
//!   left as it is and journaled with the value found (sObject Collections and Bulk API alike);
//! - transient faults (503, `UNABLE_TO_LOCK_ROW`, dropped connections) retried on sObject
//!   Collections updates: a 515-record update ends with every record written once.
//!
//! A refusing transport makes the org refuse chosen records once (as a validation rule or a lock
//! would) and counts the writes that reach the org.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use serde_json::{Value, json};

use sayso::app::{Agent, RunOptions, Status};
use sayso::auth::Secret;
use sayso::journal::{ChangeState, Journal};
use sayso::salesforce::org::{Body, HttpRequest, HttpResponse, Org, SendFuture, Transport};
use sayso::salesforce::{Client, ClientOptions};
use sayso::sandbox::faults::FaultOptions;
use sayso::sandbox::{Sandbox, SandboxOptions};

const DANA: &str = "dana.reyes@demo.sayso.dev";
const DANA_ID: &str = "005Dm0000000003IAA";
const ADMIN: &str = "admin@demo.sayso.dev";
const PHRASE: &str = "set the next step on all my open opportunities to 'Review pricing'";

/// What the refusing transport does and saw.
#[derive(Default)]
struct Script {
    /// Record ids (15 characters) the org refuses the next time they are written.
    refuse: HashSet<String>,
    /// Refuse them with `UNABLE_TO_LOCK_ROW` (a lock, safe to send again) instead of a
    /// validation error.
    as_lock: bool,
    /// Record ids (15 characters) of every update that reached the org, in order.
    written: Vec<String>,
}

type Shared = Arc<Mutex<Script>>;

/// A transport that drops the refused records from sObject Collections and Bulk API writes and
/// answers for them as the org would for a record it refused.
struct Refusing {
    inner: sayso::salesforce::transport::ClientTransport,
    script: Shared,
}

fn key(id: &str) -> String {
    id.chars().take(15).collect()
}

impl Transport for Refusing {
    fn send(&self, mut req: HttpRequest) -> SendFuture<'_> {
        Box::pin(async move {
            let mut refused_at: Vec<usize> = Vec::new();
            let code = if self.script.lock().unwrap().as_lock {
                "UNABLE_TO_LOCK_ROW"
            } else {
                "FIELD_CUSTOM_VALIDATION_EXCEPTION"
            };
            {
                let mut s = self.script.lock().unwrap();
                match &mut req.body {
                    Body::Json(v)
                        if req.method == "PATCH" && req.path.ends_with("/composite/sobjects") =>
                    {
                        let records = v["records"].as_array().cloned().unwrap_or_default();
                        let mut kept = Vec::new();
                        for (k, r) in records.into_iter().enumerate() {
                            let id = key(r["id"].as_str().unwrap_or(""));
                            if s.refuse.remove(&id) {
                                refused_at.push(k);
                            } else {
                                s.written.push(id);
                                kept.push(r);
                            }
                        }
                        v["records"] = Value::Array(kept);
                    }
                    Body::Json(_) if req.method == "PATCH" && req.path.contains("/sobjects/") => {
                        let id = key(req.path.rsplit('/').next().unwrap_or(""));
                        s.written.push(id);
                    }
                    Body::Csv(text) => {
                        let mut lines: Vec<&str> = Vec::new();
                        for (n, line) in text.lines().enumerate() {
                            let id = key(line.split(',').next().unwrap_or(""));
                            if n > 0 && s.refuse.remove(&id) {
                                continue;
                            }
                            if n > 0 {
                                s.written.push(id);
                            }
                            lines.push(line);
                        }
                        *text = lines.join("\n") + "\n";
                    }
                    _ => {}
                }
            }
            let mut resp = self.inner.send(req).await?;
            if !refused_at.is_empty() {
                let mut rs: Vec<Value> = serde_json::from_slice(&resp.body).unwrap_or_default();
                for k in refused_at {
                    let refusal = json!({"success": false, "errors": [
                        {"statusCode": code, "message": "refused once", "fields": []}]});
                    rs.insert(k.min(rs.len()), refusal);
                }
                resp = HttpResponse {
                    body: serde_json::to_vec(&rs).unwrap(),
                    ..resp
                };
            }
            Ok(resp)
        })
    }
}

struct Org2 {
    url: String,
    sandbox: Sandbox,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(sandbox: Sandbox) -> Org2 {
    let (url, tx) = crate::support::serve(sandbox.clone()).await;
    Org2 {
        url,
        sandbox,
        _stop: tx,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 18).unwrap()
}

async fn start() -> Org2 {
    serve(
        Sandbox::open(SandboxOptions {
            db_path: None,
            fresh: true,
            today: Some(today()),
            faults: FaultOptions::default(),
        })
        .unwrap(),
    )
    .await
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

    fn agent(&self) -> (Agent, Shared) {
        let script: Shared = Arc::default();
        let transport = Refusing {
            inner: sayso::salesforce::transport::ClientTransport::new(self.client(DANA)),
            script: script.clone(),
        };
        let agent = Agent::with_org(
            Org::new(Box::new(transport), "v63.0"),
            Journal::in_memory().unwrap(),
            DANA_ID,
            DANA,
            today(),
            None,
        );
        (agent, script)
    }

    fn admin(&self) -> Org {
        Org::new(
            Box::new(sayso::salesforce::transport::ClientTransport::new(
                self.client(ADMIN),
            )),
            "v63.0",
        )
    }
}

async fn next_steps(admin: &Org) -> Vec<(String, Value)> {
    admin
        .query_all("SELECT Id, NextStep FROM Opportunity WHERE OwnerId = '005Dm0000000003IAA' AND IsClosed = false ORDER BY Id")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r["Id"].as_str().unwrap().to_string(), r["NextStep"].clone()))
        .collect()
}

fn yes(bulk_threshold: usize) -> RunOptions {
    RunOptions {
        yes: true,
        bulk_threshold,
        ..RunOptions::default()
    }
}

/// A 15-record update with one record refused: 14 applied, 1 failed. Returns the entry, the
/// refused id and the values before.
async fn run_with_one_refusal(
    org: &Org2,
    agent: &mut Agent,
    script: &Shared,
    bulk_threshold: usize,
) -> (i64, String, Vec<(String, Value)>) {
    let before = next_steps(&org.admin()).await;
    assert_eq!(before.len(), 15);
    let refused = before[3].0.clone();
    script.lock().unwrap().refuse.insert(key(&refused));
    let out = agent.submit(PHRASE, yes(bulk_threshold)).await;
    assert_eq!(out.status, Status::Failed, "{}", out.message);
    assert_eq!(out.count, Some(14), "{}", out.message);
    assert_eq!(out.failures().len(), 1, "{:?}", out.failures());
    (out.journal_entry.unwrap(), refused, before)
}

fn writes(script: &Shared) -> usize {
    script.lock().unwrap().written.len()
}

#[tokio::test]
async fn retry_after_undo_writes_nothing() {
    let org = start().await;
    let (mut agent, script) = org.agent();
    let (_, refused, before) = run_with_one_refusal(&org, &mut agent, &script, 2000).await;
    let undo = agent.undo(None, "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    assert_eq!(undo.changes().len(), 14);
    assert_eq!(next_steps(&org.admin()).await, before, "all put back");
    let sent = writes(&script);
    let retry = agent.retry(yes(2000)).await;
    assert_eq!(retry.status, Status::NotFound, "{}", retry.message);
    assert_eq!(
        writes(&script),
        sent,
        "retry of an undone entry sends nothing"
    );
    let now = next_steps(&org.admin()).await;
    let r = now.iter().find(|(id, _)| *id == refused).unwrap();
    assert!(
        r.1.is_null(),
        "the undone command's failed part stays unwritten"
    );
}

#[tokio::test]
async fn retry_twice_writes_once_and_undo_covers_the_retry_once() {
    let org = start().await;
    let (mut agent, script) = org.agent();
    let (entry, refused, before) = run_with_one_refusal(&org, &mut agent, &script, 2000).await;
    let retry = agent.retry(yes(2000)).await;
    assert_eq!(retry.status, Status::Applied, "{}", retry.message);
    assert_eq!(retry.changes().len(), 1);
    assert_eq!(
        retry.changes()[0].id.as_deref().map(key),
        Some(key(&refused))
    );
    let sent = writes(&script);
    let again = agent.retry(yes(2000)).await;
    assert_eq!(again.status, Status::NotFound, "{}", again.message);
    assert_eq!(writes(&script), sent, "a second retry sends nothing");
    // undo with no number takes the command, and covers its retry
    let undo = agent.undo(None, "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    assert_eq!(undo.changes().len(), 15, "{}", undo.message);
    assert!(
        undo.message
            .contains(&format!("entry {entry} and its retry")),
        "{}",
        undo.message
    );
    assert_eq!(next_steps(&org.admin()).await, before);
    let sent = writes(&script);
    let second = agent.undo(Some(entry), "undo").await;
    assert_ne!(second.status, Status::Applied, "{}", second.message);
    assert_eq!(writes(&script), sent, "a second undo sends nothing");
    assert_eq!(agent.undo(None, "undo").await.status, Status::NotFound);
    // the journal says what happened to every change
    let items = agent.history(10).unwrap();
    let command = items.iter().find(|i| i.entry.id == entry).unwrap();
    let states: Vec<ChangeState> = command.changes.iter().map(|c| c.state).collect();
    assert!(states.contains(&ChangeState::Reverted), "{states:?}");
    assert!(states.contains(&ChangeState::Failed), "{states:?}");
    assert!(!states.contains(&ChangeState::Applied), "{states:?}");
}

#[tokio::test]
async fn undo_of_a_retry_alone_says_what_it_reverts() {
    let org = start().await;
    let (mut agent, script) = org.agent();
    let (entry, refused, _) = run_with_one_refusal(&org, &mut agent, &script, 2000).await;
    let retry = agent.retry(yes(2000)).await;
    let retry_entry = retry.journal_entry.unwrap();
    let undo = agent.undo(Some(retry_entry), "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    assert_eq!(undo.changes().len(), 1);
    assert!(
        undo.message
            .contains(&format!("retry entry {retry_entry} of entry {entry}"))
            && undo.message.contains(&format!("sayso undo {entry}")),
        "{}",
        undo.message
    );
    let now = next_steps(&org.admin()).await;
    assert!(
        now.iter()
            .find(|(id, _)| *id == refused)
            .unwrap()
            .1
            .is_null()
    );
    assert_eq!(
        now.iter().filter(|(_, v)| v == "Review pricing").count(),
        14,
        "the command's own changes are kept"
    );
    // undoing the command now reverts the other 14 only
    let rest = agent.undo(Some(entry), "undo").await;
    assert_eq!(rest.status, Status::Applied, "{}", rest.message);
    assert_eq!(rest.changes().len(), 14, "{}", rest.message);
}

/// A failed record edited by someone else before `retry`: a conflict, left as it is, journaled
/// with the value found; `undo` then leaves it too.
async fn retry_leaves_an_edited_record_as_a_conflict(bulk_threshold: usize) {
    let org = start().await;
    let (mut agent, script) = org.agent();
    agent.set_bulk_job_rows(6);
    let (entry, refused, before) =
        run_with_one_refusal(&org, &mut agent, &script, bulk_threshold).await;
    let admin = org.admin();
    assert!(
        admin
            .update(
                "Opportunity",
                &refused,
                json!({"NextStep": "Call the CFO"}),
                None
            )
            .await
            .unwrap()
    );
    let sent = writes(&script);
    let retry = agent.retry(yes(bulk_threshold)).await;
    assert_eq!(retry.status, Status::Conflict, "{}", retry.message);
    assert_eq!(retry.failures().len(), 1, "{:?}", retry.failures());
    assert!(
        retry.failures()[0].error.contains("conflict")
            && retry.failures()[0].error.contains("Call the CFO"),
        "{:?}",
        retry.failures()
    );
    assert_eq!(writes(&script), sent, "the edited record is not written");
    let now = next_steps(&admin).await;
    assert_eq!(
        now.iter().find(|(id, _)| *id == refused).unwrap().1,
        "Call the CFO"
    );
    // journaled as a conflict with the value found
    let items = agent.history(10).unwrap();
    let r = items
        .iter()
        .find(|i| i.entry.id == retry.journal_entry.unwrap())
        .unwrap();
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].state, ChangeState::Conflict);
    assert_eq!(
        r.changes[0].found,
        Some(json!({"NextStep": "Call the CFO"}))
    );
    // a conflict is never re-sent
    assert_eq!(
        agent.retry(yes(bulk_threshold)).await.status,
        Status::NotFound
    );
    // undo reverts the 14 and keeps the other person's edit
    let undo = agent.undo(Some(entry), "undo").await;
    assert_eq!(undo.status, Status::Applied, "{}", undo.message);
    let after = next_steps(&admin).await;
    for ((id, was), (_, is)) in before.iter().zip(&after) {
        if *id == refused {
            assert_eq!(is, "Call the CFO");
        } else {
            assert_eq!(is, was, "{id}");
        }
    }
}

#[tokio::test]
async fn retry_over_collections_leaves_an_edited_record_as_a_conflict() {
    retry_leaves_an_edited_record_as_a_conflict(2000).await;
}

#[tokio::test]
async fn retry_over_bulk_api_leaves_an_edited_record_as_a_conflict() {
    retry_leaves_an_edited_record_as_a_conflict(1).await;
}

/// An org whose data API fails 5% of calls with 503, 5% of writes with `UNABLE_TO_LOCK_ROW`
/// and drops 2% of connections, with 500 more open deals for Dana (made before the faults).
async fn faulty_org_with_515_deals(db: &Path) -> Org2 {
    let path = db.join("org.db");
    {
        let quiet = serve(
            Sandbox::open(SandboxOptions {
                db_path: Some(path.clone()),
                fresh: true,
                today: Some(today()),
                faults: FaultOptions::default(),
            })
            .unwrap(),
        )
        .await;
        let admin = quiet.admin();
        for batch in 0..3 {
            let records: Vec<Value> = (0..200)
                .filter(|k| batch * 200 + k < 500)
                .map(|k| json!({"attributes": {"type": "Opportunity"}, "Name": format!("Fault Test {batch}-{k}"),
                    "StageName": "Prospecting", "CloseDate": "2026-12-31", "OwnerId": DANA_ID}))
                .collect();
            let rs = admin.collection("POST", records, true).await.unwrap();
            assert!(rs.iter().all(|r| r["success"] == true));
        }
    }
    serve(
        Sandbox::open(SandboxOptions {
            db_path: Some(path),
            fresh: false,
            today: Some(today()),
            faults: FaultOptions {
                fail_rate: 0.05,
                lock_rate: 0.05,
                drop_rate: 0.02,
                ..FaultOptions::default()
            },
        })
        .unwrap(),
    )
    .await
}

#[tokio::test]
async fn transient_faults_on_bulk_api_end_with_every_record_written_once() {
    let db = tempfile::tempdir().unwrap();
    let org = faulty_org_with_515_deals(db.path()).await;
    let (mut agent, _) = org.agent();
    agent.set_bulk_job_rows(100);
    let out = agent.submit(PHRASE, yes(100)).await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert_eq!(out.count, Some(515));
    let items = agent.history(1).unwrap();
    assert_eq!(items[0].total, 515);
    assert!(
        items[0]
            .changes
            .iter()
            .all(|c| c.state == ChangeState::Applied)
    );
    let now = next_steps(&org.admin()).await;
    assert_eq!(now.len(), 515);
    assert!(now.iter().all(|(_, v)| v == "Review pricing"));
}

#[tokio::test]
async fn transient_faults_on_collections_end_with_every_record_written_once() {
    let db = tempfile::tempdir().unwrap();
    let org = faulty_org_with_515_deals(db.path()).await;
    let (mut agent, script) = org.agent();
    let out = agent.submit(PHRASE, yes(2000)).await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert_eq!(out.changes().len(), 515);
    assert!(out.failures().is_empty());
    // each record was sent in exactly one request that reached the org (refused sends are not
    // counted: the transport counts what it passes on, and a retried request passes once)
    let written = script.lock().unwrap().written.clone();
    let unique: HashSet<&String> = written.iter().collect();
    assert_eq!(unique.len(), 515);
    assert_eq!(written.len(), 515, "no record was sent twice");
    // the org agrees with the journal, row for row
    let items = agent.history(1).unwrap();
    assert_eq!(items[0].total, 515);
    let mut rows = 0;
    for (id, v) in next_steps(&org.admin()).await {
        assert_eq!(v, "Review pricing", "{id}");
        rows += 1;
    }
    assert_eq!(rows, 515);
}

#[tokio::test]
async fn records_locked_in_a_collections_update_are_sent_again_on_their_own() {
    let org = start().await;
    let (mut agent, script) = org.agent();
    let before = next_steps(&org.admin()).await;
    let locked = [key(&before[2].0), key(&before[9].0)];
    {
        let mut s = script.lock().unwrap();
        s.as_lock = true;
        s.refuse.extend(locked.iter().cloned());
    }
    let out = agent.submit(PHRASE, yes(2000)).await;
    assert_eq!(out.status, Status::Applied, "{}", out.message);
    assert_eq!(out.changes().len(), 15);
    let written = script.lock().unwrap().written.clone();
    assert_eq!(
        written.len(),
        15,
        "each record reached the org once: {written:?}"
    );
    assert!(
        locked.iter().all(|l| written[13..].contains(l)),
        "the locked ones were sent again after the rest: {written:?}"
    );
    assert!(
        next_steps(&org.admin())
            .await
            .iter()
            .all(|(_, v)| v == "Review pricing")
    );
}

/// A data API that answers the first sObject Collections update `503`, the second
/// `UNABLE_TO_LOCK_ROW`, the third drops the connection, and the fourth succeeds.
async fn flaky_collections() -> (String, Arc<Mutex<u32>>) {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let hits = Arc::new(Mutex::new(0u32));
    let counter = hits.clone();
    let handler = move |body: axum::Json<Value>| {
        let counter = counter.clone();
        async move {
            let n = {
                let mut h = counter.lock().unwrap();
                *h += 1;
                *h
            };
            match n {
                1 => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(
                        json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}]),
                    ),
                )
                    .into_response(),
                2 => (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!([{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}])),
                )
                    .into_response(),
                3 => axum::response::Response::new(axum::body::Body::from_stream(
                    futures_util::stream::once(async {
                        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "dropped",
                        ))
                    }),
                )),
                _ => {
                    let records = body.0["records"].as_array().cloned().unwrap_or_default();
                    let rs: Vec<Value> = records
                        .iter()
                        .map(|r| json!({"id": r["id"], "success": true, "errors": []}))
                        .collect();
                    axum::Json(Value::Array(rs)).into_response()
                }
            }
        }
    };
    let app = axum::Router::new().route(
        "/services/data/v63.0/composite/sobjects",
        axum::routing::patch(handler.clone()).post(handler),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, hits)
}

#[tokio::test]
async fn a_collections_update_is_sent_again_after_503_lock_and_a_dropped_connection() {
    let (url, hits) = flaky_collections().await;
    let client = Client::new(ClientOptions {
        retry: sayso::salesforce::RetryPolicy {
            max_attempts: 4,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
        },
        ..ClientOptions::new(url::Url::parse(&url).unwrap(), Secret::new("t"))
    })
    .unwrap();
    let org = Org::new(
        Box::new(sayso::salesforce::transport::ClientTransport::new(client)),
        "v63.0",
    );
    let records = vec![
        json!({"attributes": {"type": "Opportunity"}, "id": "006Dm0000000001IAA", "NextStep": "x"}),
    ];
    let rs = org
        .collection("PATCH", records.clone(), false)
        .await
        .unwrap();
    assert_eq!(rs[0]["success"], true);
    assert_eq!(*hits.lock().unwrap(), 4);
    // a create is never sent again
    *hits.lock().unwrap() = 0;
    assert!(org.collection("POST", records, false).await.is_err());
    assert_eq!(
        *hits.lock().unwrap(),
        1,
        "the create answered 503 is not repeated"
    );
}
