//! Sandbox benchmark: start-up time with the demo org, records/s through sObject Collections and
//! Bulk API 2.0 (insert and update of 100,000 Opportunities), and queries/s for a selective query on
//! the resulting 100,000-row Opportunity table.
//!
//! Run: `cargo run --release --example sandbox_bench` (numbers in debug builds are meaningless).

#[path = "common/mod.rs"]
mod common;

use sayso::sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const V: &str = "/services/data/v63.0";
const ROWS: usize = 100_000;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        csv: Option<String>,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method, format!("{}{V}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(c) = csv {
            req = req.header("Content-Type", "text/csv").body(c);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One Bulk 2.0 `operation` job on Opportunity with `csv`, timed and reported.
    async fn timed_bulk(&self, operation: &str, csv: String) -> Result<Value, String> {
        let t = Instant::now();
        let info = self
            .bulk(
                json!({"object": "Opportunity", "operation": operation}),
                csv,
            )
            .await?;
        let d = t.elapsed();
        println!(
            "bulk {operation}: {:.0} records/s ({} processed, {} failed, {:.2} s)",
            per_sec(ROWS, d),
            info["numberRecordsProcessed"],
            info["numberRecordsFailed"],
            d.as_secs_f64()
        );
        Ok(info)
    }

    async fn bulk(&self, job: Value, csv: String) -> Result<Value, String> {
        let info = self
            .send(reqwest::Method::POST, "/jobs/ingest", Some(job), None)
            .await?;
        let id = info["id"].as_str().ok_or("no job id")?.to_string();
        self.send(
            reqwest::Method::PUT,
            &format!("/jobs/ingest/{id}/batches"),
            None,
            Some(csv),
        )
        .await?;
        self.send(
            reqwest::Method::PATCH,
            &format!("/jobs/ingest/{id}"),
            Some(json!({"state": "UploadComplete"})),
            None,
        )
        .await?;
        loop {
            let info = self
                .send(
                    reqwest::Method::GET,
                    &format!("/jobs/ingest/{id}"),
                    None,
                    None,
                )
                .await?;
            match info["state"].as_str() {
                Some("JobComplete") => return Ok(info),
                Some("Failed" | "Aborted") => return Err(format!("job ended: {info}")),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");

    // The same database opened three times: fresh (first in the process, then with the schema
    // cached), then as it is; the last one stays open for the rest.
    let mut sandbox = None;
    for (label, fresh) in [
        ("fresh demo org, first in process", true),
        ("fresh demo org, schema cached", true),
        ("existing database", false),
    ] {
        drop(sandbox.take());
        let t = Instant::now();
        sandbox = Some(Sandbox::open(SandboxOptions {
            db_path: Some(db.clone()),
            fresh,
            ..Default::default()
        })?);
        let took = t.elapsed().as_secs_f64() * 1e3;
        println!("{:<44} {took:.1} ms", format!("start-up ({label}):"));
    }
    let sandbox = sandbox.ok_or("no sandbox")?;

    let (base, token) = common::serve_as_admin(&sandbox).await?;
    let c = Client {
        http: reqwest::Client::new(),
        base,
        token,
    };

    // Collections: 50 requests of 200 records.
    let t = Instant::now();
    let mut ids = Vec::new();
    for batch in 0..50 {
        let records: Vec<Value> = (0..200)
            .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("Coll {batch}-{i}"), "Industry": "Technology"}))
            .collect();
        let res = c
            .send(
                reqwest::Method::POST,
                "/composite/sobjects",
                Some(json!({"allOrNone": true, "records": records})),
                None,
            )
            .await?;
        ids.extend(
            res.as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str().map(str::to_string)),
        );
    }
    println!(
        "collections create: {:.0} records/s ({} records)",
        per_sec(ids.len(), t.elapsed()),
        ids.len()
    );
    let t = Instant::now();
    for chunk in ids.chunks(200) {
        let records: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"attributes": {"type": "Account"}, "id": id, "NumberOfEmployees": 42}))
            .collect();
        c.send(
            reqwest::Method::PATCH,
            "/composite/sobjects",
            Some(json!({"allOrNone": true, "records": records})),
            None,
        )
        .await?;
    }
    println!(
        "collections update: {:.0} records/s",
        per_sec(ids.len(), t.elapsed())
    );

    // Bulk 2.0 insert, then update, of 100,000 Opportunities.
    let mut csv = String::from("Name,StageName,CloseDate,Amount\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "Bench {i},Prospecting,2026-09-{:02},{}\n",
            i % 28 + 1,
            i
        ));
    }
    let info = c.timed_bulk("insert", csv).await?;
    let job = info["id"].as_str().unwrap_or_default().to_string();
    let ok = c
        .http
        .get(format!("{}{V}/jobs/ingest/{job}/successfulResults", c.base))
        .bearer_auth(&c.token)
        .send()
        .await?
        .text()
        .await?;
    let mut csv = String::from("Id,StageName,Amount\n");
    for line in ok.lines().skip(1) {
        let id = line.split(',').next().unwrap_or("").trim_matches('"');
        csv.push_str(&format!("{id},Negotiation/Review,7\n"));
    }
    c.timed_bulk("update", csv).await?;

    // Selective query on the 100,000-row table (indexed Name), over HTTP.
    let n = 2000;
    let t = Instant::now();
    for i in 0..n {
        let q = format!(
            "SELECT Id, Name, StageName FROM Opportunity WHERE Name = 'Bench {}'",
            (i * 37) % ROWS
        );
        let res = c
            .send(
                reqwest::Method::GET,
                &format!(
                    "/query?q={}",
                    url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                ),
                None,
                None,
            )
            .await?;
        if res["totalSize"] != json!(1) {
            return Err(format!("unexpected result {res}").into());
        }
    }
    let d = t.elapsed();
    println!(
        "selective query over HTTP: {:.0} queries/s ({:.3} ms each)",
        per_sec(n, d),
        d.as_secs_f64() * 1e3 / n as f64
    );
    Ok(())
}
