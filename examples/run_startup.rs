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

#[path = "common/mod.rs"]
mod common;

use common::{Error, Home, report, timed};

const PHRASE: &str = "how many open deals do I have";

fn main() -> Result<(), Error> {
    let runs = common::runs_arg(30);
    let bin = common::release_bin()?;
    let url = common::serve_demo_org()?;
    let home = Home::dana(&bin, &url, PHRASE)?;
    let time = |args: &[&str]| {
        timed(runs, || {
            let out = home.sayso(args).output()?;
            if !out.status.success() {
                eprintln!(
                    "exit {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(())
        })
    };
    report("sayso --version", &time(&["--version"])?);
    report(
        &format!("sayso run --json \"{PHRASE}\""),
        &time(&["run", "--json", PHRASE])?,
    );
    Ok(())
}
