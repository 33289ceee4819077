//! `sayso admin apps | grants | revoke | usage | contractor`: the administrator's side, run under an
//! administrator's profile. Parses arguments, makes one call into [`sayso::admin`], renders tables
//! (comfy-table) or JSON, and asks for confirmation before revoking.
//!
//! Exit codes: 0 done; 2 usage, auth or API error (and a revoke refused without a terminal and
//! without `--yes`); 3 when `usage --over N` finds users past N calls.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use comfy_table::{ContentArrangement, Table};
use sayso::admin::apps::Assessment;
use sayso::admin::contractor::{self, ContractorOptions};
use sayso::admin::grants::{self, Grant, GrantFilter, RevokeTarget};
use sayso::admin::usage::{self, UsageLine, UsageReport};
use sayso::config::Home;
use sayso::salesforce::Client;

/// Arguments of `sayso admin`.
#[derive(clap::Args)]
pub struct Args {
    /// The administrator's profile.
    #[arg(long, global = true, env = "SAYSO_PROFILE", default_value = "default")]
    profile: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(clap::Subcommand)]
enum AdminCommand {
    /// Every connected app: flows, scopes, permitted users, token lifetimes and a risk verdict.
    Apps,
    /// Who authorized which app, when last used, how often (OauthToken).
    Grants {
        /// Only this user's grants (username).
        #[arg(long)]
        user: Option<String>,
        /// Only this app's grants (name or consumer key).
        #[arg(long)]
        app: Option<String>,
    },
    /// Revoke grants: every grant of a user, of an app, or one user's grant of one app.
    Revoke {
        /// Offboarding: every grant of this user.
        #[arg(long, group = "target")]
        user: Option<String>,
        /// A breached app: every grant of this app.
        #[arg(long, group = "target")]
        app: Option<String>,
        /// A lost device: USER@APP (e.g. dana.reyes@demo.sayso.dev@sayso-cli).
        #[arg(long, group = "target", value_name = "USER@APP")]
        token_of: Option<String>,
        /// Revoke without asking (required without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// API calls per user and per app (Event Monitoring ApiTotalUsage log files).
    Usage {
        /// The period in days.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// List users past N calls and exit 3.
        #[arg(long, value_name = "N")]
        over: Option<u64>,
        /// Re-check every SECONDS and print one line per new breach (needs --over).
        #[arg(long, value_name = "SECONDS", requires = "over")]
        watch: Option<u64>,
        /// With --watch: stop after this many checks (default: until interrupted).
        #[arg(long, value_name = "N", requires = "watch")]
        rounds: Option<u64>,
    },
    /// Set up a contractor: API-only user, permission set with exactly these rights, client-credentials app.
    Contractor {
        /// The contractor's name.
        name: String,
        /// The object it works on.
        #[arg(long)]
        object: String,
        /// Fields it may read (comma-separated).
        #[arg(long, value_delimiter = ',')]
        read: Vec<String>,
        /// Fields it may read and edit (comma-separated).
        #[arg(long, value_delimiter = ',')]
        edit: Vec<String>,
        /// Print the steps for a real org instead of creating anything.
        #[arg(long)]
        checklist: bool,
    },
}

/// Runs `sayso admin …`.
pub fn exec(args: Args) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(home, args))
}

async fn run(home: Home, args: Args) -> anyhow::Result<ExitCode> {
    if let AdminCommand::Contractor {
        name,
        object,
        read,
        edit,
        checklist: true,
    } = &args.command
    {
        let opts = contractor_options(name, object, read, edit);
        opts.validate()?;
        print_checklist(&opts, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let client = Client::from_profile(&home, &args.profile).await?;
    match args.command {
        AdminCommand::Apps => {
            let apps = sayso::admin::apps::list(&client).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&apps)?);
            } else {
                print_apps(&apps);
            }
        }
        AdminCommand::Grants { user, app } => {
            let list = grants::list(&client, &GrantFilter { user, app }).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_grants(&list);
            }
        }
        AdminCommand::Revoke {
            user,
            app,
            token_of,
            yes,
        } => return revoke(&client, user, app, token_of, yes, args.json).await,
        AdminCommand::Usage {
            days,
            over,
            watch,
            rounds,
        } => {
            if let Some(secs) = watch {
                return watch_usage(&client, days, over.unwrap_or(0), secs, rounds).await;
            }
            let report = usage::report(&client, days).await?;
            let past = over.map(|n| usage::breaches(&report, n));
            if args.json {
                let mut v = serde_json::to_value(&report)?;
                if let (Some(n), Some(p)) = (over, &past) {
                    v["over"] = serde_json::json!({"limit": n, "users": p});
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_usage(&report);
                if let (Some(n), Some(p)) = (over, &past) {
                    for l in p {
                        println!(
                            "over {n}: {} made {} calls in {} days",
                            l.user, l.calls, days
                        );
                    }
                }
            }
            if past.is_some_and(|p| !p.is_empty()) {
                return Ok(ExitCode::from(3));
            }
        }
        AdminCommand::Contractor {
            name,
            object,
            read,
            edit,
            checklist: _,
        } => {
            let opts = contractor_options(&name, &object, &read, &edit);
            opts.validate()?;
            if !is_loopback(&client) {
                eprintln!(
                    "note: `{}` is not the sandbox; a real org sets this up in Setup, so here are the steps",
                    client.instance_url()
                );
                print_checklist(&opts, args.json)?;
                return Ok(ExitCode::SUCCESS);
            }
            let c = contractor::create_in_sandbox(&client, &opts).await?;
            if args.json {
                let mut v = serde_json::to_value(&c)?;
                v["client_secret"] =
                    serde_json::Value::String(c.client_secret.expose().to_string());
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("Created contractor `{name}`:");
                println!("  user:            {} ({})", c.username, c.profile);
                println!("  permission set:  {}", c.permission_set);
                println!(
                    "  connected app:   {} (client credentials, runs as the user)",
                    c.connected_app
                );
                println!("  consumer key:    {}", c.client_id);
                println!("  consumer secret: {}", c.client_secret.expose());
                println!(
                    "The secret is shown once; store it now. Assign or share the {object} records the contractor works on."
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn contractor_options(
    name: &str,
    object: &str,
    read: &[String],
    edit: &[String],
) -> ContractorOptions {
    let clean = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    ContractorOptions {
        name: name.to_string(),
        object: object.to_string(),
        read: clean(read),
        edit: clean(edit),
    }
}

/// The sandbox runs on a loopback address; a real org never does.
fn is_loopback(client: &Client) -> bool {
    match client.instance_url().host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn print_checklist(opts: &ContractorOptions, json: bool) -> anyhow::Result<()> {
    let steps = contractor::checklist(opts);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"checklist": steps}))?
        );
    } else {
        println!("Contractor set-up for `{}` on a real org:", opts.name);
        for (i, s) in steps.iter().enumerate() {
            if s.starts_with("  ") {
                println!("     {}", s.trim_start());
            } else {
                println!("  {}. {s}", i + 1);
            }
        }
    }
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.to_vec());
    t
}

fn print_apps(apps: &[Assessment]) {
    let mut t = table(&[
        "app",
        "flows",
        "scopes",
        "permitted users",
        "tokens",
        "verdict",
    ]);
    for a in apps {
        let app = &a.app;
        let permitted = if app.preauthorized_profiles.is_empty() {
            app.permitted_users.clone()
        } else {
            format!(
                "{} (pre-authorized: {})",
                app.permitted_users,
                app.preauthorized_profiles.join(", ")
            )
        };
        let mut tokens = match app.session_minutes {
            Some(m) => format!("access {m} min"),
            None => "access ?".to_string(),
        };
        let offline = app
            .scopes
            .iter()
            .any(|s| s == "refresh_token" || s == "offline_access");
        if let Some(p) = app.refresh_token_policy.as_ref().filter(|_| offline) {
            tokens.push_str(&format!("; refresh {p}"));
        }
        let flows = match &app.run_as {
            Some(u) => format!("{} (as {u})", app.flows.join(", ")),
            None => app.flows.join(", "),
        };
        t.add_row(vec![
            app.name.clone(),
            flows,
            app.scopes.join(" "),
            permitted,
            tokens,
            a.verdict.to_string(),
        ]);
    }
    println!("{t}");
    for a in apps {
        for f in &a.findings {
            println!(
                "{}: {}\n    instead: {}",
                a.app.name, f.reason, f.alternative
            );
        }
        for n in &a.notes {
            println!("{} (note): {n}", a.app.name);
        }
    }
}

fn print_grants(list: &[Grant]) {
    if list.is_empty() {
        println!("no grants");
        return;
    }
    let mut t = table(&["grant", "app", "user", "authorized", "last used", "uses"]);
    for g in list {
        t.add_row(vec![
            g.id.clone(),
            g.app.clone(),
            g.username.clone(),
            g.created.clone().unwrap_or_default(),
            g.last_used.clone().unwrap_or_else(|| "never".into()),
            g.use_count.to_string(),
        ]);
    }
    println!("{t}");
}

async fn revoke(
    client: &Client,
    user: Option<String>,
    app: Option<String>,
    token_of: Option<String>,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let target = match (user, app, token_of) {
        (Some(u), None, None) => RevokeTarget::User(u),
        (None, Some(a), None) => RevokeTarget::App(a),
        (None, None, Some(spec)) => RevokeTarget::grant_of(&spec)?,
        _ => bail!("say what to revoke: --user USER, --app APP or --token-of USER@APP"),
    };
    let selected = grants::select(client, &target).await?;
    if selected.is_empty() {
        if json {
            println!("{}", serde_json::json!({"revoked": 0, "grants": []}));
        } else {
            println!("no grants match; nothing to revoke");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: this would revoke {} grant(s); confirm with --yes (no terminal to ask on)",
                selected.len()
            );
            return Ok(ExitCode::from(2));
        }
        print_grants(&selected);
        eprint!("revoke these {} grant(s)? [y/N] ", selected.len());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            println!("not confirmed; nothing revoked");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let n = grants::revoke(client, &selected).await?;
    if json {
        println!("{}", serde_json::json!({"revoked": n, "grants": selected}));
    } else {
        println!("revoked {n} grant(s); their sessions and refresh tokens no longer work");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_usage(report: &UsageReport) {
    println!(
        "API calls in the last {} day(s): {} (from {} log file(s))",
        report.days, report.total, report.files
    );
    let mut t = table(&["user", "calls"]);
    for l in &report.per_user {
        t.add_row(vec![l.user.clone(), l.calls.to_string()]);
    }
    println!("{t}");
    let mut t = table(&["app", "calls"]);
    for l in &report.per_app {
        t.add_row(vec![l.app.clone().unwrap_or_default(), l.calls.to_string()]);
    }
    println!("{t}");
}

async fn watch_usage(
    client: &Client,
    days: u32,
    over: u64,
    secs: u64,
    rounds: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let mut watch = usage::Watch::default();
    let mut any = false;
    let mut round = 0u64;
    loop {
        // The first check must work; later ones that fail are reported and retried next round.
        let report = match usage::report(client, days).await {
            Ok(r) => r,
            Err(e) if round > 0 => {
                eprintln!("warning: usage check failed, retrying in {secs}s: {e}");
                round += 1;
                if rounds.is_some_and(|r| round >= r) {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(secs.max(1))).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let fresh: Vec<UsageLine> = watch.new_breaches(&report, over);
        for l in &fresh {
            println!(
                "{} over {over}: {} made {} calls in {days} days",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
                l.user,
                l.calls
            );
        }
        let _ = std::io::stdout().flush();
        any |= !fresh.is_empty();
        round += 1;
        if rounds.is_some_and(|r| round >= r) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(secs.max(1))).await;
    }
    Ok(if any {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
