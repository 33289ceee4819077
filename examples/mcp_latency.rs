//! Cost of the MCP layer (`sayso mcp`): server start-up (spawn to the answer of `initialize`),
//! and the overhead of a tool call over the work it carries out (targets: start ≤ 50 ms,
//! overhead ≤ 5 ms).
//!
//!     cargo build --release && cargo run --release --example mcp_latency [-- RUNS]
//!
//! Serves the demo org in-process on 127.0.0.1:0 and logs Dana in with the release binary
//! (`SAYSO_BIN` overrides the path), as `run_startup` does. Then, RUNS times each (default 30):
//! - start: spawn `sayso mcp`, send `initialize`, read its answer;
//! - `whoami` round trip on a live session (no API call: all of it is MCP overhead);
//! - `ask "how many open deals do I have"` round trip on a live session: the MCP layer plus the
//!   agent's work and its API call (a bound on the overhead: the whole call).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PHRASE: &str = "how many open deals do I have";

struct Session {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    out: BufReader<std::process::ChildStdout>,
    next: i64,
}

impl Session {
    fn start(mut cmd: Command) -> Result<Session, Box<dyn std::error::Error>> {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut s = Session {
            child,
            stdin,
            out,
            next: 0,
        };
        s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "mcp_latency", "version": "1"}}),
        )?;
        writeln!(
            s.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )?;
        Ok(s)
    }

    fn request(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        self.next += 1;
        let req = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        writeln!(self.stdin, "{req}")?;
        self.stdin.flush()?;
        loop {
            let mut line = String::new();
            if self.out.read_line(&mut line)? == 0 {
                return Err("sayso mcp closed its output".into());
            }
            let v: Value = serde_json::from_str(&line)?;
            if v["id"] == self.next {
                return Ok(v);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn report(name: &str, t: &mut [Duration]) -> f64 {
    t.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<52} min {:6.2} ms  median {:6.2} ms  p90 {:6.2} ms  ({} runs)",
        ms(t[0]),
        ms(t[t.len() / 2]),
        ms(t[(t.len() * 9 / 10).min(t.len() - 1)]),
        t.len()
    );
    ms(t[t.len() / 2])
}

fn timed<T>(
    runs: usize,
    mut f: impl FnMut() -> Result<T, Box<dyn std::error::Error>>,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed());
    }
    Ok(t)
}

/// Serves the demo org in-process on 127.0.0.1:0 (a thread of its own); returns its URL.
fn serve_demo_org() -> Result<String, Box<dyn std::error::Error>> {
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
    Ok(rx.recv()?)
}

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
    let url = serve_demo_org()?;
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
    let mcp = || {
        let mut c = sayso(&["mcp"]);
        c.stderr(Stdio::null());
        c
    };
    report(
        "start: spawn `sayso mcp` to the initialize answer",
        &mut timed(runs, || Session::start(mcp()))?,
    );
    let mut s = Session::start(mcp())?;
    let call = |s: &mut Session, name: &str, args: Value| {
        s.request("tools/call", json!({"name": name, "arguments": args}))
    };
    call(&mut s, "ask", json!({"question": PHRASE}))?;
    report(
        "tools/call whoami (no API call)",
        &mut timed(runs, || call(&mut s, "whoami", json!({})))?,
    );
    let mcp_ask = report(
        &format!("tools/call ask \"{PHRASE}\""),
        &mut timed(runs, || call(&mut s, "ask", json!({"question": PHRASE})))?,
    );
    println!(
        "the whole ask call, its API call included, takes {mcp_ask:.2} ms (median); whoami is the MCP layer alone"
    );
    Ok(())
}
