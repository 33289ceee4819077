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

#[path = "common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{Home, report, timed};

use serde_json::{Value, json};

const PHRASE: &str = "how many open deals do I have";

struct Session {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    out: BufReader<std::process::ChildStdout>,
    next: i64,
}

impl Session {
    fn start(mut cmd: Command) -> Result<Session, common::Error> {
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

    fn request(&mut self, method: &str, params: Value) -> Result<Value, common::Error> {
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

fn main() -> Result<(), common::Error> {
    let runs = common::runs_arg(30);
    let bin = common::release_bin()?;
    let url = common::serve_demo_org()?;
    let home = Home::dana(&bin, &url, PHRASE)?;
    let mcp = || {
        let mut c = home.sayso(&["mcp"]);
        c.stderr(Stdio::null());
        c
    };
    report(
        "start: spawn `sayso mcp` to the initialize answer",
        &timed(runs, || Session::start(mcp()))?,
    );
    let mut s = Session::start(mcp())?;
    let call = |s: &mut Session, name: &str, args: Value| {
        s.request("tools/call", json!({"name": name, "arguments": args}))
    };
    call(&mut s, "ask", json!({"question": PHRASE}))?;
    report(
        "tools/call whoami (no API call)",
        &timed(runs, || call(&mut s, "whoami", json!({})))?,
    );
    let mcp_ask = report(
        &format!("tools/call ask \"{PHRASE}\""),
        &timed(runs, || call(&mut s, "ask", json!({"question": PHRASE})))?,
    );
    println!(
        "the whole ask call, its API call included, takes {mcp_ask:.2} ms (median); whoami is the MCP layer alone"
    );
    Ok(())
}
