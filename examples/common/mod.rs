//! What the timing examples share: the release binary, the demo org served in-process (on a
//! thread of its own, or on the caller's runtime with an administrator's token), a `SAYSO_HOME`
//! with Dana logged in, and timing reports. Included with `#[path]` by each example (it is not an
//! example itself); it may import `sayso`, tokio and reqwest, nothing of the examples.

#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error>;

/// The first argument as a run count, else `default`.
pub fn runs_arg(default: usize) -> usize {
    std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// The release binary (`SAYSO_BIN` overrides the path).
pub fn release_bin() -> Result<String, Error> {
    let bin = std::env::var("SAYSO_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/sayso").into());
    if !std::path::Path::new(&bin).exists() {
        return Err(format!("no binary at `{bin}`; run `cargo build --release` first").into());
    }
    Ok(bin)
}

/// Serves the demo org in-process on 127.0.0.1:0 (a thread of its own); returns its URL.
pub fn serve_demo_org() -> Result<String, Error> {
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

/// A multi-thread tokio runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?)
}

/// Serves `sandbox` on 127.0.0.1:0 from a task of the current tokio runtime (until the process
/// exits); returns its base URL and an administrator's token.
pub async fn serve_as_admin(sandbox: &sayso::sandbox::Sandbox) -> Result<(String, String), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let token = sandbox.mint_token("admin@demo.sayso.dev")?;
    let server = sandbox.clone();
    tokio::spawn(async move {
        let _ = server.serve(listener, std::future::pending()).await;
    });
    Ok((base, token))
}

/// A temporary `SAYSO_HOME` for the binary `bin`.
pub struct Home {
    bin: String,
    dir: tempfile::TempDir,
}

impl Home {
    /// A new home with Dana logged in to the org at `url` (JWT, the demo key), and `phrase` run
    /// once to warm the describe cache.
    pub fn dana(bin: &str, url: &str, phrase: &str) -> Result<Home, Error> {
        let home = Home {
            bin: bin.to_string(),
            dir: tempfile::tempdir()?,
        };
        let key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/sandbox/demo-org/keys/demo-jwt.key"
        );
        let login = home
            .sayso(&["login", "--instance-url", url, "--jwt"])
            .args(["--client-id", "sayso-cli", "--jwt-key", key])
            .args(["--username", "dana.reyes@demo.sayso.dev"])
            .output()?;
        if !login.status.success() {
            return Err(String::from_utf8_lossy(&login.stderr).into_owned().into());
        }
        let warm = home.sayso(&["run", "--json", phrase]).output()?;
        println!("warm-up: {}", String::from_utf8_lossy(&warm.stdout).trim());
        Ok(home)
    }

    /// `sayso ARGS` with this home, its output captured.
    pub fn sayso(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("SAYSO_HOME", self.dir.path())
            .env_remove("SAYSO_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

/// Runs `f` `runs` times; returns the times, sorted.
pub fn timed<T>(
    runs: usize,
    mut f: impl FnMut() -> Result<T, Error>,
) -> Result<Vec<Duration>, Error> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed());
    }
    t.sort();
    Ok(t)
}

/// Prints min / median / p90 of sorted times; returns the median in milliseconds.
pub fn report(name: &str, t: &[Duration]) -> f64 {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(t[t.len() / 2]);
    println!(
        "{name:<52} min {:6.2} ms  median {median:6.2} ms  p90 {:6.2} ms  ({} runs)",
        ms(t[0]),
        ms(t[(t.len() * 9 / 10).min(t.len() - 1)]),
        t.len()
    );
    median
}
