//! Measures `sayso run` bulk throughput against the in-process sandbox: 10,000 open tasks for Dana,
//! then "mark all my open tasks as complete" through sObject Collections and through Bulk API 2.0.
//!
//! `cargo run --release --example run_bulk_rate [N]`

use std::time::Instant;

use chrono::NaiveDate;
use serde_json::json;

use sayso::app::{Agent, RunOptions};
use sayso::auth::Secret;
use sayso::journal::Journal;
use sayso::salesforce::org::Org;
use sayso::salesforce::transport::ClientTransport;
use sayso::salesforce::{Client, ClientOptions};
use sayso::sandbox::{Sandbox, SandboxOptions};

const DANA: &str = "dana.reyes@demo.sayso.dev";

async fn org_for(sandbox: &Sandbox, url: &str, user: &str) -> Org {
    let token = sandbox.mint_token(user).expect("token");
    let client = Client::new(ClientOptions::new(
        url::Url::parse(url).expect("url"),
        Secret::new(token),
    ))
    .expect("client");
    Org::new(Box::new(ClientTransport::new(client)), "v63.0")
}

async fn seed(admin: &Org, n: usize) {
    for chunk in 0..n.div_ceil(200) {
        let records: Vec<_> = (0..200.min(n - chunk * 200))
            .map(|i| {
                json!({"attributes": {"type": "Task"}, "Subject": format!("Chore {}", chunk * 200 + i),
                    "Status": "Not Started", "OwnerId": "005Dm0000000003IAA", "WhatId": "006Dm0000000001IAA"})
            })
            .collect();
        admin.collection("POST", records, true).await.expect("seed");
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let today = NaiveDate::from_ymd_opt(2026, 11, 18).expect("date");
    for (label, threshold) in [("sObject Collections", usize::MAX), ("Bulk API 2.0", 2000)] {
        let sandbox = Sandbox::open(SandboxOptions {
            db_path: None,
            fresh: true,
            today: Some(today),
            faults: Default::default(),
        })
        .expect("sandbox");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let served = sandbox.clone();
        tokio::spawn(async move { served.serve(listener, std::future::pending()).await });
        let admin = org_for(&sandbox, &url, "admin@demo.sayso.dev").await;
        seed(&admin, n).await;
        let org = org_for(&sandbox, &url, DANA).await;
        let mut agent = Agent::with_org(
            org,
            Journal::in_memory().expect("journal"),
            "005Dm0000000003IAA",
            DANA,
            today,
            None,
        );
        let opts = RunOptions {
            yes: true,
            dry_run: false,
            max_records: n + 100,
            bulk_threshold: threshold,
        };
        let t = Instant::now();
        let out = agent
            .submit("mark all my open tasks as complete", opts)
            .await;
        let secs = t.elapsed().as_secs_f64();
        let changed = out.changes().len();
        println!(
            "{label}: {changed} records in {secs:.2} s = {:.0} records/s, {} API calls, status {:?}",
            changed as f64 / secs,
            out.api_calls,
            out.status
        );
    }
}
