//! `sayso login`, `sayso logout`, `sayso whoami`, `sayso usage`: parse flags, read a secret from
//! the environment or stdin when it is not on the command line, call [`sayso::auth::login`] or the
//! usage ledger, and render the report. Never prints a token.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use sayso::auth::login::{
    self, DEFAULT_CLIENT_ID, DEFAULT_PROFILE, LOGIN_URL, LoginOptions, LoginReport, TEST_LOGIN_URL,
};
use sayso::auth::{Secret, TokenStore, oauth, store};
use sayso::config::Home;
use sayso::salesforce::{BudgetStatus, Ledger};

/// Arguments of `sayso login`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("flow").args(["jwt", "client_credentials", "device", "access_token", "from_sf_cli"])))]
pub struct LoginArgs {
    /// Login host or My Domain URL (also the instance for `--access-token`).
    #[arg(
        long,
        value_name = "URL",
        env = "SAYSO_INSTANCE_URL",
        conflicts_with = "sandbox"
    )]
    instance_url: Option<String>,
    /// Log in to a Salesforce sandbox org (https://test.salesforce.com).
    #[arg(long)]
    sandbox: bool,
    /// Profile to save the session under (several users/orgs side by side).
    #[arg(long, value_name = "NAME", env = "SAYSO_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
    /// Consumer key of the connected app.
    #[arg(long, value_name = "ID", default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Scopes to ask for (least that works: `api refresh_token`).
    #[arg(long, value_name = "SCOPES", default_value = "api refresh_token")]
    scopes: String,
    /// Token endpoint, when it is not `<instance-url>/services/oauth2/token`.
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// REST API version for this profile (default v63.0).
    #[arg(long, value_name = "VERSION")]
    api_version: Option<String>,

    /// JWT bearer flow (needs --username and --jwt-key).
    #[arg(long, requires_all = ["username", "jwt_key"])]
    jwt: bool,
    /// Salesforce username (JWT bearer).
    #[arg(long, value_name = "USER")]
    username: Option<String>,
    /// RSA private key (PEM) of the connected app's certificate (JWT bearer).
    #[arg(long, value_name = "FILE")]
    jwt_key: Option<PathBuf>,
    /// `aud` of the JWT (default: the login URL).
    #[arg(long, value_name = "URL")]
    audience: Option<String>,

    /// Client credentials flow (secret from --client-secret, SAYSO_CLIENT_SECRET or stdin).
    #[arg(long)]
    client_credentials: bool,
    /// Client secret (prefer SAYSO_CLIENT_SECRET or stdin: the command line is visible to others).
    #[arg(
        long,
        value_name = "SECRET",
        env = "SAYSO_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,

    /// Device flow: show a code to enter on another device.
    #[arg(long)]
    device: bool,

    /// Reuse an access token (value, else SAYSO_ACCESS_TOKEN, else stdin); needs --instance-url.
    #[arg(long, value_name = "TOKEN", num_args = 0..=1, default_missing_value = "")]
    access_token: Option<String>,

    /// Reuse the session of a Salesforce CLI org alias (`sf org display`).
    #[arg(long, value_name = "ALIAS")]
    from_sf_cli: Option<String>,

    /// Do not try to open a browser; print the URL only.
    #[arg(long)]
    no_browser: bool,
    /// Loopback port for the browser redirect (0 = any free port).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    port: u16,
    /// Seconds to wait for the browser or device approval.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sayso logout`.
#[derive(clap::Args, Debug)]
pub struct LogoutArgs {
    /// Profile to log out.
    #[arg(long, value_name = "NAME", env = "SAYSO_PROFILE", default_value = DEFAULT_PROFILE, conflicts_with = "all")]
    profile: String,
    /// Log out of every profile.
    #[arg(long)]
    all: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sayso whoami`.
#[derive(clap::Args, Debug)]
pub struct WhoamiArgs {
    /// Profile to show.
    #[arg(long, value_name = "NAME", env = "SAYSO_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `sayso usage`.
#[derive(clap::Args, Debug)]
pub struct UsageArgs {
    /// Profile to show.
    #[arg(long, value_name = "NAME", env = "SAYSO_PROFILE", default_value = DEFAULT_PROFILE)]
    profile: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn http() -> anyhow::Result<reqwest::Client> {
    oauth::http_client().context("cannot build the HTTP client")
}

/// Retries revocations left over from a logout that could not reach the server.
async fn retry_pending(home: &Home, http: &reqwest::Client) {
    match login::retry_pending_revocations(home, http).await {
        Ok(r) if r.done > 0 => eprintln!(
            "revoked {} token(s) left over from an earlier logout",
            r.done
        ),
        Ok(r) if r.still_pending > 0 => eprintln!(
            "warning: {} token(s) from an earlier logout are still not revoked (server unreachable); will retry",
            r.still_pending
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: {e}"),
    }
}

/// Reads one line from stdin (prompting on a terminal).
fn read_secret_line(what: &str) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what}: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    let value = line.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        bail!("no {what} given (use the flag, the environment variable, or stdin)");
    }
    Ok(Secret::new(value))
}

fn try_open_browser(url: &str) -> bool {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            return false;
        }
        "xdg-open"
    };
    std::process::Command::new(cmd)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `sayso login`.
pub fn exec_login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let login_url = match (&args.instance_url, args.sandbox) {
        (Some(u), _) => u.clone(),
        (None, true) => TEST_LOGIN_URL.to_string(),
        (None, false) => LOGIN_URL.to_string(),
    };
    let opts = LoginOptions {
        profile: args.profile.clone(),
        login_url: login_url.clone(),
        token_url: args.token_url.clone(),
        client_id: args.client_id.clone(),
        scopes: oauth::split_scopes(&args.scopes),
        api_version: args.api_version.clone(),
    };
    let rt = runtime()?;
    let http = http()?;
    let report: LoginReport = rt.block_on(async {
        retry_pending(&home, &http).await;
        if args.jwt {
            let (Some(user), Some(key)) = (&args.username, &args.jwt_key) else {
                bail!("--jwt needs --username and --jwt-key");
            };
            Ok(login::login_jwt(&home, &http, &opts, user, key, args.audience.as_deref()).await?)
        } else if args.client_credentials {
            let secret = match &args.client_secret {
                Some(s) if !s.is_empty() => Secret::new(s.clone()),
                _ => read_secret_line("client secret")?,
            };
            Ok(login::login_client_credentials(&home, &http, &opts, secret).await?)
        } else if let Some(token) = &args.access_token {
            if args.instance_url.is_none() && !args.sandbox {
                bail!("--access-token needs --instance-url (the org's My Domain URL)");
            }
            let token = if !token.is_empty() {
                Secret::new(token.clone())
            } else if let Ok(t) = std::env::var("SAYSO_ACCESS_TOKEN") {
                Secret::new(t)
            } else {
                read_secret_line("access token")?
            };
            Ok(login::login_access_token(&home, &http, &opts, token, &login_url).await?)
        } else if let Some(alias) = &args.from_sf_cli {
            let sf = std::env::var_os("SAYSO_SF_BIN").map(PathBuf::from);
            Ok(login::login_sf_cli(&home, &http, &opts, alias, sf.as_deref()).await?)
        } else if args.device {
            let device = login::start_device(&http, &opts).await?;
            eprintln!(
                "To log in, open {} on any device and enter the code {}",
                device.code.verification_uri, device.code.user_code
            );
            eprintln!("Waiting for approval…");
            Ok(login::PendingLogin::Device(device)
                .finish(&home, &http, &opts, Duration::from_secs(args.timeout))
                .await?)
        } else {
            let browser = login::start_browser(&opts, args.port).await?;
            let url = browser.url.to_string();
            let opened = !args.no_browser && try_open_browser(&url);
            if opened {
                eprintln!("Opened a browser to log in. If it did not open, visit:\n  {url}");
            } else {
                eprintln!("Open this URL in a browser to log in:\n  {url}");
            }
            eprintln!("Waiting for the login to complete…");
            Ok(login::PendingLogin::Browser(browser)
                .finish(&home, &http, &opts, Duration::from_secs(args.timeout))
                .await?)
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_login(&report);
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_login(r: &LoginReport) {
    let p = &r.profile;
    let who = match (&p.display_name, &p.username) {
        (Some(n), Some(u)) => format!("{n} <{u}>"),
        (None, Some(u)) => u.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => p
            .user_id
            .clone()
            .unwrap_or_else(|| "an unknown user".into()),
    };
    println!("Logged in as {who}");
    println!("  org:      {}", p.org_id.as_deref().unwrap_or("?"));
    println!("  instance: {}", p.instance_url);
    println!(
        "  scopes:   {}",
        if p.scopes.is_empty() {
            "(not reported)".to_string()
        } else {
            p.scopes.join(" ")
        }
    );
    println!("  method:   {}", p.method.as_str());
    println!(
        "  profile:  {} (secrets in {})",
        r.profile_name, r.stored_in
    );
}

/// `sayso logout`.
pub fn exec_logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let rt = runtime()?;
    let http = http()?;
    let reports = rt.block_on(async {
        retry_pending(&home, &http).await;
        if args.all {
            login::logout_all(&home, &http).await
        } else {
            login::logout(&home, &http, &args.profile)
                .await
                .map(|r| vec![r])
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&reports)?);
    }
    let mut code = ExitCode::SUCCESS;
    if reports.is_empty() && !args.json {
        println!("No profiles were logged in.");
    }
    for r in &reports {
        if !args.json {
            let mut done = Vec::new();
            if !r.revoked.is_empty() {
                done.push(format!("revoked {} at the server", r.revoked.join(" and ")));
            }
            if !r.already_invalid.is_empty() {
                done.push(format!(
                    "{} already invalid",
                    r.already_invalid.join(" and ")
                ));
            }
            done.push(if r.deleted_local {
                "local secrets deleted".into()
            } else {
                "no local secrets".into()
            });
            println!("Logged out of `{}`: {}", r.profile, done.join("; "));
        }
        if let Some(why) = &r.unreachable {
            eprintln!(
                "warning: profile `{}`: the server could not be reached ({why}); the tokens are NOT revoked yet — sayso keeps a pending-revocation marker and retries on the next start",
                r.profile
            );
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

/// `sayso whoami`.
pub fn exec_whoami(args: WhoamiArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let rt = runtime()?;
    let http = http()?;
    let profile = store::load_profile(&home, &args.profile)?;
    let tokens = TokenStore::open(&home);
    let creds = tokens.load(&args.profile)?;
    let session = rt.block_on(async {
        retry_pending(&home, &http).await;
        let Some(c) = &creds else {
            return "no credentials".to_string();
        };
        let Ok(instance) = oauth::parse_base_url(&profile.instance_url) else {
            return "unknown".to_string();
        };
        match oauth::userinfo(&http, &instance, &c.access_token).await {
            Ok(_) => "active".to_string(),
            Err(e) if e.is_transport() => "unknown (org unreachable)".to_string(),
            Err(_) => match profile.method {
                store::LoginMethod::AccessToken | store::LoginMethod::SfCli => {
                    "expired (run `sayso login` again)".to_string()
                }
                _ => "expired (renewed on the next command)".to_string(),
            },
        }
    });
    let status = budget_status(&home, &args.profile)?;
    if args.json {
        let v = serde_json::json!({
            "profile_name": args.profile,
            "profile": profile,
            "session": session,
            "secrets": tokens.describe(&args.profile),
            "budget": status,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        let who = match (&profile.display_name, &profile.username) {
            (Some(n), Some(u)) => format!("{n} <{u}>"),
            (None, Some(u)) => u.clone(),
            _ => profile.user_id.clone().unwrap_or_else(|| "?".into()),
        };
        println!("{who}");
        println!("  org:      {}", profile.org_id.as_deref().unwrap_or("?"));
        println!("  instance: {}", profile.instance_url);
        println!("  scopes:   {}", profile.scopes.join(" "));
        println!("  method:   {}", profile.method.as_str());
        println!("  session:  {session}");
        println!(
            "  profile:  {} (secrets in {})",
            args.profile,
            tokens.describe(&args.profile)
        );
    }
    if let Some(w) = status.warning() {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn budget_status(home: &Home, profile: &str) -> anyhow::Result<BudgetStatus> {
    Ok(Ledger::for_profile(home, profile)?.status())
}

/// `sayso usage`.
pub fn exec_usage(args: UsageArgs) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let status = budget_status(&home, &args.profile)?;
    if args.json {
        println!("{}", serde_json::to_string(&status)?);
    } else {
        println!("Profile `{}` on {}:", status.profile, status.day);
        match status.daily_calls {
            Some(max) => println!(
                "  calls today:  {} of a budget of {} ({} left)",
                status.calls_today,
                max,
                max.saturating_sub(status.calls_today)
            ),
            None => println!(
                "  calls today:  {} (no budget set; [budget] daily_calls in config.toml)",
                status.calls_today
            ),
        }
        match &status.org {
            Some(org) => println!(
                "  org today:    {} of {} daily API requests used ({} remaining)",
                org.used,
                org.max,
                org.remaining()
            ),
            None => println!("  org today:    unknown (no API call yet today)"),
        }
        println!(
            "  status:       {}",
            match status.level {
                sayso::salesforce::BudgetLevel::Ok => "ok",
                sayso::salesforce::BudgetLevel::Warning => "warning",
                sayso::salesforce::BudgetLevel::Exceeded => "budget used up",
            }
        );
    }
    if let Some(w) = status.warning() {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
