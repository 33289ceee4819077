//! Measures the sandbox's SOQL engine on a 100,000-row Opportunity table: a selective indexed query
//! in-process (parse + compile + run + JSON) and over HTTP, plus one 1,000-row page; then pages a
//! 200,000-row `ORDER BY Name` result through its `nextRecordsUrl` cursor over HTTP.
//!
//! Run with `cargo run --release --example query_bench` (`-- paging [ROWS]` for the paging part only).

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;

use sayso::sandbox::query::compile::Ctx;
use sayso::sandbox::query::exec::{self, RunOptions};
use sayso::sandbox::{Sandbox, SandboxOptions};

const ROWS: u64 = 100_000;

/// Rows of the paged result (`-- paging N` for another count).
const PAGED_ROWS: u64 = 200_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("paging") {
        let rows = std::env::args()
            .nth(2)
            .map_or(Ok(PAGED_ROWS), |n| n.parse())?;
        return paging(rows);
    }
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 13);
    let sandbox = Sandbox::open(SandboxOptions {
        db_path: None,
        fresh: true,
        today,
        ..Default::default()
    })?;
    let state = sandbox.state().clone();
    let started = Instant::now();
    {
        let conn = state.lock_db();
        let tx = conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO \"Opportunity\" (\"Id\", \"Name\", \"AccountId\", \"StageName\", \"Amount\", \"CloseDate\", \"OwnerId\", \"IsDeleted\")
                 VALUES (?1, ?2, ?3, 'Prospecting', ?4, '2026-06-01', '005Dm0000000003IAA', 0)",
            )?;
            for i in 0..ROWS {
                let id = sayso::id::RecordId::from_parts("006", "Zz", 1_000_000 + i);
                let account = sayso::id::RecordId::from_parts("001", "Zz", 1_000_000 + i / 10);
                stmt.execute(rusqlite::params![
                    id.as_str(),
                    format!("Bench {i}"),
                    account.as_str(),
                    (i % 1000) as f64 * 100.0
                ])?;
            }
        }
        tx.commit()?;
    }
    println!("inserted {ROWS} opportunities in {:?}", started.elapsed());

    let principal = state
        .policy
        .principal("admin@demo.sayso.dev", None, &[])
        .ok_or("no admin")?;
    let ctx = Ctx {
        schema: &state.schema,
        policy: &state.policy,
        principal: &principal,
        today: state.clock.today(),
    };
    let account = sayso::id::RecordId::from_parts("001", "Zz", 1_000_000 + 4242);
    let selective = format!(
        "SELECT Id, Name, Amount, StageName, Account.Name FROM Opportunity WHERE AccountId = '{}'",
        account.as_str()
    );
    let by_name = "SELECT Id, Amount FROM Opportunity WHERE Name = 'Bench 4242'";
    let page =
        "SELECT Id, Name, Amount FROM Opportunity WHERE Amount > 50000 ORDER BY Name LIMIT 1000";
    for (label, soql, iterations) in [
        ("selective (AccountId =)", selective.as_str(), 2000),
        ("Name =", by_name, 50),
        ("1,000-row page", page, 20),
    ] {
        let query = sayso::soql::parse(soql)?;
        let opts = RunOptions {
            all_rows: false,
            batch: 2000,
            version: "63.0",
        };
        let conn = state.lock_db();
        let first = exec::run(&conn, ctx, &query, opts).map_err(|e| e.message().to_string())?;
        let started = Instant::now();
        for _ in 0..iterations {
            let q = sayso::soql::parse(soql)?;
            let p = exec::run(&conn, ctx, &q, opts).map_err(|e| e.message().to_string())?;
            std::hint::black_box(serde_json::to_string(&p.records)?);
        }
        let per = started.elapsed() / iterations;
        println!(
            "{label}: {} rows, {per:?} per query in-process ({:.0} q/s)",
            first.total,
            1.0 / per.as_secs_f64()
        );
    }

    let rt = common::runtime(2)?;
    rt.block_on(async {
        let (base, token) = common::serve_as_admin(&sandbox).await?;
        let client = reqwest::Client::new();
        let url = format!("{base}/services/data/v63.0/query");
        let n = 500u32;
        let started = Instant::now();
        for _ in 0..n {
            let resp = client
                .get(&url)
                .bearer_auth(&token)
                .query(&[("q", selective.as_str())])
                .send()
                .await?;
            std::hint::black_box(resp.bytes().await?);
        }
        let per = started.elapsed() / n;
        println!(
            "selective over HTTP: {per:?} per request ({:.0} req/s)",
            1.0 / per.as_secs_f64()
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    drop(rt);
    paging(PAGED_ROWS)
}

/// Pages `SELECT Id, Name, NextStep FROM Opportunity WHERE OwnerId = … ORDER BY Name` over
/// `rows` rows (names in shuffled order, so the sort is real) through `nextRecordsUrl`, in
/// 2,000-row pages over HTTP, against a file-backed org; prints the first page, the slowest page and
/// the total, and checks the pages reassemble the result in order.
fn paging(rows_wanted: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::open(SandboxOptions {
        db_path: Some(dir.path().join("org.db")),
        fresh: true,
        today: chrono::NaiveDate::from_ymd_opt(2026, 5, 13),
        ..Default::default()
    })?;
    let owner = "005Dm0000000003IAA";
    let started = Instant::now();
    {
        let conn = sandbox.state().lock_db();
        let tx = conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO \"Opportunity\" (\"Id\", \"Name\", \"NextStep\", \"StageName\", \"CloseDate\", \"OwnerId\", \"IsDeleted\")
                 VALUES (?1, ?2, 'Call', 'Prospecting', '2026-06-01', ?3, 0)",
            )?;
            for i in 0..rows_wanted {
                let id = sayso::id::RecordId::from_parts("006", "Zy", 2_000_000 + i);
                // Names in shuffled order: 7919 is a prime that divides no count used here.
                let name = format!("Paged {:07}", (i * 7919) % rows_wanted);
                stmt.execute(rusqlite::params![id.as_str(), name, owner])?;
            }
        }
        tx.commit()?;
    }
    println!(
        "inserted {rows_wanted} opportunities in {:?}",
        started.elapsed()
    );
    let rt = common::runtime(2)?;
    rt.block_on(async {
        let (base, token) = common::serve_as_admin(&sandbox).await?;
        let client = reqwest::Client::new();
        let soql = format!(
            "SELECT Id, Name, NextStep FROM Opportunity WHERE OwnerId = '{owner}' ORDER BY Name"
        );
        let started = Instant::now();
        let mut url = format!("{base}/services/data/v63.0/query");
        let mut query = vec![("q", soql.clone())];
        let (mut pages, mut rows) = (0u32, 0u64);
        let (mut first, mut slowest) = (None, std::time::Duration::ZERO);
        let mut total = None;
        let mut last_name = String::new();
        loop {
            let page_started = Instant::now();
            let body: serde_json::Value = client
                .get(&url)
                .bearer_auth(&token)
                .query(&query)
                .send()
                .await?
                .json()
                .await?;
            let took = page_started.elapsed();
            first.get_or_insert(took);
            slowest = slowest.max(took);
            pages += 1;
            total.get_or_insert(body["totalSize"].as_u64().ok_or("no totalSize")?);
            for r in body["records"].as_array().ok_or("no records")? {
                let name = r["Name"].as_str().unwrap_or_default().to_string();
                if name < last_name {
                    return Err(format!("out of order at row {rows}: {name}").into());
                }
                last_name = name;
                rows += 1;
            }
            match body["nextRecordsUrl"].as_str() {
                Some(next) => {
                    url = format!("{base}{next}");
                    query.clear();
                }
                None => break,
            }
        }
        if Some(rows) != total || rows < rows_wanted {
            return Err(format!("paged {rows} rows, totalSize {total:?}").into());
        }
        println!(
            "paged {rows} rows ORDER BY Name in {pages} pages: {:?} in all, first page {:?}, slowest page {slowest:?}",
            started.elapsed(),
            first.unwrap_or_default()
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
