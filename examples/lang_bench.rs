//! Benchmark of the command language on the corpus phrases (public API only).
//!
//! `cargo run --release --example lang_bench [-- CORPUS.jsonl]` prints the grammar load time and the
//! median / p99 / max parse time per phrase over many rounds. `-- --dump` prints each phrase's
//! intents as JSON instead.

use chrono::NaiveDate;
use sayso::lang::Grammar;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dump = args.iter().any(|a| a == "--dump");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/corpus/commands.jsonl"));
    let text = std::fs::read_to_string(&path)?;
    let phrases: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| -> Result<String, Box<dyn std::error::Error>> {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(v["say"].as_str().unwrap_or_default().to_string())
        })
        .collect::<Result<_, _>>()?;
    let today = NaiveDate::from_ymd_opt(2026, 11, 18).ok_or("bad date")?;

    // grammar load: from the source directory (what `--grammar DIR` does), many times
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("grammars/en");
    let mut loads = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let g = Grammar::load_dir(&dir)?;
        loads.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(&g);
    }
    loads.sort_by(f64::total_cmp);
    let g = Grammar::load_dir(&dir)?;

    if dump {
        for p in &phrases {
            println!("{}", serde_json::to_string(&g.parse(p, today))?);
        }
        return Ok(());
    }

    // warm up, then time each phrase many times
    for p in &phrases {
        std::hint::black_box(g.parse(p, today));
    }
    let rounds = 200;
    let mut times = Vec::with_capacity(phrases.len() * rounds);
    let mut per_phrase_median = Vec::new();
    for p in &phrases {
        let mut mine = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            std::hint::black_box(g.parse(std::hint::black_box(p), today));
            mine.push(t.elapsed().as_secs_f64() * 1e6);
        }
        mine.sort_by(f64::total_cmp);
        per_phrase_median.push((mine[mine.len() / 2], p.clone()));
        times.extend(mine);
    }
    times.sort_by(f64::total_cmp);
    let pct = |v: &[f64], q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    per_phrase_median.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("phrases: {}, rounds: {rounds}", phrases.len());
    println!(
        "grammar load (load_dir): median {:.0} µs, max {:.0} µs",
        pct(&loads, 0.5),
        pct(&loads, 1.0)
    );
    println!(
        "parse per phrase: median {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        pct(&times, 0.5),
        pct(&times, 0.99),
        pct(&times, 1.0)
    );
    println!("slowest phrases (median µs):");
    for (t, p) in per_phrase_median.iter().take(5) {
        println!("  {t:8.1}  {p}");
    }
    Ok(())
}
