//! Start-up time of a one-shot command: wall time of
//! `sayso run --json "how many open deals do I have"` against a running sandbox with a warm
//! describe cache (the target is under 50 ms on a release build).
//!
//!     cargo build --release && cargo run --release --example run_startup [-- RUNS]
//!
//! Serves the demo org in-process on 127.0.0.1:0, logs Dana in through the JWT flow with the
//! release binary (`SAYSO_BIN` overrides the path), runs the phrase once to warm the describe cache,
//! then times RUNS runs (default 30) and prints min / median / p90, next to `sayso --version` as
//! the floor for starting the process at all.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PHRASE: &str = "how many open deals do I have";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let bin = std::env::var("SAYSO_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/sayso").into());
    if !std::path::Path::new(&bin).exists() {
        return Err(format!("no binary at `{bin}`; run `cargo build --release` first").into());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let sandbox = sayso::sandbox::Sandbox::open(sayso::sandbox::SandboxOptions::default())
                .map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            let url = format!(
                "http://{}",
                listener.local_addr().map_err(|e| e.to_string())?
            );
            let _ = tx.send(url);
            sandbox
                .serve(listener, std::future::pending())
                .await
                .map_err(|e| e.to_string())
        })
    });
    let url = rx.recv()?;
    let home = tempfile::tempdir()?;
    let sayso = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .env("SAYSO_HOME", home.path())
            .env_remove("SAYSO_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/sandbox/demo-org/keys/demo-jwt.key"
    );
    let login = sayso(&[
        "login",
        "--instance-url",
        &url,
        "--jwt",
        "--client-id",
        "sayso-cli",
        "--username",
        "dana.reyes@demo.sayso.dev",
        "--jwt-key",
        key,
    ])
    .output()?;
    if !login.status.success() {
        return Err(String::from_utf8_lossy(&login.stderr).into_owned().into());
    }
    let warm = sayso(&["run", "--json", PHRASE]).output()?;
    println!("warm-up: {}", String::from_utf8_lossy(&warm.stdout).trim());
    let time = |args: &[&str]| -> Result<Vec<Duration>, std::io::Error> {
        let mut t = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let out = sayso(args).output()?;
            t.push(start.elapsed());
            if !out.status.success() {
                eprintln!(
                    "exit {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        t.sort();
        Ok(t)
    };
    let report = |name: &str, t: &[Duration]| {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<48} min {:6.1} ms  median {:6.1} ms  p90 {:6.1} ms  ({} runs)",
            ms(t[0]),
            ms(t[t.len() / 2]),
            ms(t[(t.len() * 9 / 10).min(t.len() - 1)]),
            t.len()
        );
    };
    report("sayso --version", &time(&["--version"])?);
    report(
        &format!("sayso run --json \"{PHRASE}\""),
        &time(&["run", "--json", PHRASE])?,
    );
    Ok(())
}
