//! First run: with no usable profile, `sayso` (no subcommand) starts the built-in sandbox org
//! in-process on a free loopback port, its database under `SAYSO_HOME/sandbox/org.db` (seeded with
//! the demo org on first use, kept afterwards), and logs in as Dana through the real JWT bearer flow
//! (client id `sayso-cli`, the embedded demo key) into the `demo` profile.
//!
//! Owns choosing the shell's profile and running the demo org for the life of the shell. Uses only
//! public APIs: `sandbox::Sandbox::open`/`serve`, `auth::login::login_jwt`, `auth::store`. The
//! sandbox stops when the returned [`Demo`] is dropped. Called by the shell.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sayso::auth::login::{self, LoginOptions};
use sayso::config::Home;
use sayso::sandbox::faults::FaultOptions;
use sayso::sandbox::{Sandbox, SandboxOptions};

/// The profile the demo org logs into.
pub const DEMO_PROFILE: &str = "demo";
/// The demo user the first run logs in as.
pub const DEMO_USER: &str = "dana.reyes@demo.sayso.dev";

/// A running demo org; dropping it stops the server.
pub struct Demo {
    /// The sandbox's base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Which profile the shell runs as, and the demo org when it is the first run.
pub struct Chosen {
    /// The profile name.
    pub profile: String,
    /// The one-line banner to print (demo data, how to connect a real org).
    pub banner: Option<String>,
    /// Keeps the demo org alive.
    pub demo: Option<Demo>,
}

/// Picks the profile: `explicit` when given (must exist), else `SAYSO_PROFILE`/`default` when it
/// exists and is not the demo profile, else the demo org (started and logged into here, with
/// `faults` injected: tests slow it down).
///
/// Must run inside a multi-threaded tokio runtime (the sandbox is served on a spawned task).
///
/// # Errors
/// The profile named does not exist, the sandbox cannot start, or the JWT login fails.
pub async fn choose(
    home: &Home,
    explicit: Option<&str>,
    faults: FaultOptions,
) -> anyhow::Result<Chosen> {
    if let Some(p) = explicit {
        sayso::auth::store::load_profile(home, p).with_context(|| {
            format!("no profile `{p}`; log in with `sayso login --profile {p}`")
        })?;
        return Ok(Chosen {
            profile: p.to_string(),
            banner: None,
            demo: None,
        });
    }
    let wanted = std::env::var("SAYSO_PROFILE")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| login::DEFAULT_PROFILE.to_string());
    if wanted != DEMO_PROFILE && sayso::auth::store::load_profile(home, &wanted).is_ok() {
        return Ok(Chosen {
            profile: wanted,
            banner: None,
            demo: None,
        });
    }
    let demo = start_demo(home, faults).await?;
    Ok(Chosen {
        profile: DEMO_PROFILE.to_string(),
        banner: Some(format!(
            "demo data: you are Dana Reyes on the built-in sandbox org ({}); connect a real org with `sayso login` (see `sayso login --help`)",
            demo.url
        )),
        demo: Some(demo),
    })
}

/// Starts the sandbox on `127.0.0.1:0` with its database under `home/sandbox/` and logs Dana in
/// to the demo profile through the JWT bearer flow.
///
/// # Errors
/// The database cannot be opened, the port cannot be bound, or the login fails.
pub async fn start_demo(home: &Home, faults: FaultOptions) -> anyhow::Result<Demo> {
    let dir = home.root().join("sandbox");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let db = dir.join("org.db");
    let sandbox = Sandbox::open(SandboxOptions {
        db_path: Some(db.clone()),
        fresh: false,
        faults,
        ..Default::default()
    })
    .with_context(|| format!("cannot open the demo org at `{}`", db.display()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on 127.0.0.1")?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .context("cannot read the listening address")?
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = sandbox
            .serve(listener, async {
                let _ = rx.await;
            })
            .await;
    });
    let demo = Demo {
        url: url.clone(),
        stop: Some(tx),
    };
    let key = write_demo_key(&dir)?;
    let http = sayso::auth::oauth::http_client().context("cannot build the HTTP client")?;
    let mut opts = LoginOptions::new(DEMO_PROFILE);
    opts.login_url = url;
    login::login_jwt(home, &http, &opts, DEMO_USER, &key, None)
        .await
        .context("cannot log in to the demo org")?;
    Ok(demo)
}

/// Writes the embedded demo JWT key next to the demo database (0600), where the profile points.
fn write_demo_key(dir: &Path) -> anyhow::Result<PathBuf> {
    let key = sayso::sandbox::schema::DEMO_ORG
        .get_file("keys/demo-jwt.key")
        .context("the embedded demo key is missing; this is a bug")?;
    let path = dir.join("demo-jwt.key");
    std::fs::write(&path, key.contents())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict `{}`", path.display()))?;
    }
    Ok(path)
}
