//! `sayso sandbox …`: serve, reset, token, usage.

use anyhow::Context;
use sayso::sandbox::faults::FaultOptions;
use sayso::sandbox::{Sandbox, SandboxOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sayso sandbox`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SandboxCommand,
}

#[derive(clap::Subcommand)]
enum SandboxCommand {
    /// Serve the sandbox org over HTTP on 127.0.0.1.
    Serve {
        /// Port to listen on (0 = any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// SQLite database file (default: $SAYSO_HOME/sandbox.db, else the platform data dir).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Delete the database and reload the demo org first.
        #[arg(long)]
        fresh: bool,
        /// Serve HTTPS with a certificate authority generated at start (see --cert-out).
        #[arg(long)]
        tls: bool,
        /// With --tls: write the CA certificate (PEM) here, for REQUESTS_CA_BUNDLE,
        /// NODE_EXTRA_CA_CERTS or SAYSO_CA_CERT.
        #[arg(long, value_name = "FILE", requires = "tls")]
        cert_out: Option<PathBuf>,
        /// Fault injection and policy overrides.
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// Reload the demo org into the database, discarding all changes.
    Reset {
        /// SQLite database file.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Print API calls per user and connected app over the last 24 hours.
    Usage {
        /// SQLite database file.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Print an access token for a sandbox user (no OAuth needed).
    Token {
        /// Username, e.g. dana.reyes@demo.sayso.dev.
        #[arg(long)]
        user: String,
        /// SQLite database file.
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// `sandbox serve` flags that make the org misbehave on purpose (for robustness tests).
#[derive(clap::Args, Debug, Default)]
struct FaultArgs {
    /// Add this many milliseconds to every data API call.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Answer this share (0-1) of data API calls with 503 SERVER_UNAVAILABLE.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    fail_rate: f64,
    /// Answer this share (0-1) of data API writes with UNABLE_TO_LOCK_ROW.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    lock_rate: f64,
    /// Drop the connection of this share (0-1) of data API calls.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    drop_rate: f64,
    /// Access tokens live N minutes, whatever the connected app's policy says.
    #[arg(long, value_name = "N")]
    token_minutes: Option<u64>,
    /// Lower the org's daily API allocation to N calls.
    #[arg(long, value_name = "N")]
    api_limit: Option<u64>,
    /// Refresh token rotation for every connected app: each renewal gets a new refresh token and
    /// the used one stops working.
    #[arg(long)]
    rotate_refresh_tokens: bool,
}

impl FaultArgs {
    fn into_options(self) -> anyhow::Result<FaultOptions> {
        for (name, rate) in [
            ("--fail-rate", self.fail_rate),
            ("--lock-rate", self.lock_rate),
            ("--drop-rate", self.drop_rate),
        ] {
            anyhow::ensure!(
                (0.0..=1.0).contains(&rate),
                "{name} must be between 0 and 1, not `{rate}`"
            );
        }
        Ok(FaultOptions {
            latency_ms: self.latency_ms,
            fail_rate: self.fail_rate,
            lock_rate: self.lock_rate,
            drop_rate: self.drop_rate,
            token_minutes: self.token_minutes,
            api_limit: self.api_limit,
            rotate_refresh_tokens: self.rotate_refresh_tokens,
        })
    }
}

/// The default database path: `$SAYSO_HOME/sandbox.db`, else `<data dir>/sayso/sandbox.db`.
fn default_db() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("SAYSO_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home).join("sandbox.db"));
    }
    let dir =
        dirs::data_dir().context("no platform data directory; set SAYSO_HOME or pass --db")?;
    Ok(dir.join("sayso").join("sandbox.db"))
}

fn db_or_default(db: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match db {
        Some(p) => Ok(p),
        None => default_db(),
    }
}

pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Serve {
            port,
            db,
            fresh,
            tls,
            cert_out,
            faults,
        } => serve(
            port,
            db_or_default(db)?,
            fresh,
            faults.into_options()?,
            tls.then_some(cert_out),
        ),
        SandboxCommand::Usage { db } => usage(db_or_default(db)?),
        SandboxCommand::Reset { db } => {
            let path = db_or_default(db)?;
            Sandbox::open(SandboxOptions {
                db_path: Some(path.clone()),
                fresh: true,
                ..Default::default()
            })
            .with_context(|| format!("cannot reset the sandbox at `{}`", path.display()))?;
            println!("sandbox reset: {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        SandboxCommand::Token { user, db } => {
            let path = db_or_default(db)?;
            let sandbox = Sandbox::open(SandboxOptions {
                db_path: Some(path),
                fresh: false,
                ..Default::default()
            })?;
            println!("{}", sandbox.mint_token(&user)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `tls`: `None` serves plain HTTP; `Some(cert_out)` serves HTTPS and writes the CA PEM there.
fn serve(
    port: u16,
    db: PathBuf,
    fresh: bool,
    faults: FaultOptions,
    tls: Option<Option<PathBuf>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let sandbox = Sandbox::open(SandboxOptions {
            db_path: Some(db.clone()),
            fresh,
            faults,
            ..Default::default()
        })
        .with_context(|| format!("cannot open the sandbox at `{}`", db.display()))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let addr = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let material = match &tls {
            Some(cert_out) => {
                let m = sayso::sandbox::tls::TlsMaterial::generate()?;
                if let Some(path) = cert_out {
                    std::fs::write(path, &m.ca_pem).with_context(|| {
                        format!("cannot write the certificate to `{}`", path.display())
                    })?;
                }
                Some(m)
            }
            None => None,
        };
        let scheme = if material.is_some() { "https" } else { "http" };
        let mut out = std::io::stdout().lock();
        writeln!(out, "sayso sandbox listening on {scheme}://{addr}")?;
        out.flush()?;
        drop(out);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match material {
            Some(m) => sandbox.serve_tls(listener, &m, shutdown).await,
            None => sandbox.serve(listener, shutdown).await,
        }
        .context("the sandbox server failed")?;
        Ok(ExitCode::SUCCESS)
    })
}

fn usage(db: PathBuf) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::open(SandboxOptions {
        db_path: Some(db.clone()),
        ..Default::default()
    })
    .with_context(|| format!("cannot open the sandbox at `{}`", db.display()))?;
    let lines = sayso::sandbox::rest::limits::usage_by_user_and_app(sandbox.state())
        .context("cannot read API usage")?;
    let total =
        sayso::sandbox::rest::limits::usage(sandbox.state()).context("cannot read API usage")?;
    let mut out = std::io::stdout().lock();
    if lines.is_empty() {
        writeln!(out, "no API calls in the last 24 hours")?;
    } else {
        let user_w = lines
            .iter()
            .map(|l| l.username.len())
            .max()
            .unwrap_or(0)
            .max(4);
        let app_w = lines
            .iter()
            .map(|l| l.app.as_deref().unwrap_or("-").len())
            .max()
            .unwrap_or(0)
            .max(3);
        writeln!(out, "{:<user_w$}  {:<app_w$}  CALLS (24H)", "USER", "APP")?;
        for l in &lines {
            writeln!(
                out,
                "{:<user_w$}  {:<app_w$}  {}",
                l.username,
                l.app.as_deref().unwrap_or("-"),
                l.calls
            )?;
        }
    }
    writeln!(
        out,
        "org: {}/{} calls in the last 24 hours",
        total.used, total.max
    )?;
    Ok(ExitCode::SUCCESS)
}
