//! Issue 9, the admin side, against the sandbox served in-process on 127.0.0.1:0: the risk rules on
//! the demo's apps and on crafted ones, admin-only access, revoking by user / app / grant followed by
//! 401 for exactly the affected sessions, usage counts from ApiTotalUsage log files equal to a
//! scripted mix of calls, `--over` and `--watch` through the real binary, and a contractor created
//! by the binary that can read and edit exactly what it was given.

use std::path::{Path, PathBuf};

use sayso::admin::apps::{self, Rule};
use sayso::admin::grants::{self, GrantFilter, RevokeTarget};
use sayso::admin::usage;
use sayso::auth::Secret;
use sayso::salesforce::{Client, ClientOptions};
use sayso::sandbox::security::ConnectedApp;
use sayso::sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

use crate::support::{DANA, KINETIC, MARIA, Org, start};

/// What these tests ask of the shared in-process sandbox beyond `support::Org`.
impl Org {
    fn client(&self, token: &str) -> Client {
        let url = url::Url::parse(&self.url).unwrap();
        Client::new(ClientOptions::new(url, Secret::new(token))).unwrap()
    }

    /// The status of one counted data call (`GET limits`) with `token`.
    async fn call(&self, token: &str) -> u16 {
        self.get(token, "/services/data/v63.0/limits").await.0
    }

    /// Makes `n` counted data calls with `token`, each answered 200.
    async fn calls(&self, token: &str, n: usize) {
        for _ in 0..n {
            assert_eq!(self.call(token).await, 200);
        }
    }

    /// PATCHes `body` to `path` under the data API (`sobjects/…`).
    async fn patch_data(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.patch(token, &format!("/services/data/v63.0/{path}"), body)
            .await
    }

    fn add_app(&self, app: Value) {
        let app: ConnectedApp = serde_json::from_value(app).unwrap();
        self.state
            .policy
            .update_config(|c| c.connected_apps.push(app));
    }
}

/// A fresh `SAYSO_HOME` (in a temporary folder, removed when the guard drops) with the
/// administrator logged in to `org`.
async fn admin_home(org: &Org) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    login_admin(org, &home).await;
    (dir, home)
}

/// `sayso ARGS` with `home`, no stdin and none of the caller's profile or credentials.
fn sayso_command(home: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sayso"));
    command
        .args(args)
        .env("SAYSO_HOME", home)
        .env_remove("SAYSO_PROFILE")
        .env_remove("SAYSO_CLIENT_SECRET")
        .env_remove("SAYSO_INSTANCE_URL")
        .stdin(std::process::Stdio::null());
    command
}

async fn sayso(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = sayso_command(home, args).output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn login_admin(org: &Org, home: &Path) {
    let (code, out, err) = sayso(
        home,
        &[
            "login",
            "--instance-url",
            &org.url,
            "--client-credentials",
            "--client-id",
            "sandbox-admin",
            "--client-secret",
            "sandbox-admin-secret",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
}

/// `sayso admin contractor NAME --object Case --read READ MORE…` with `home`.
async fn contractor(home: &Path, name: &str, read: &str, more: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "admin",
        "contractor",
        name,
        "--object",
        "Case",
        "--read",
        read,
    ];
    args.extend_from_slice(more);
    sayso(home, &args).await
}

/// Revokes what `target` selects (`selected` grants, checked) as `admin`; then every token of
/// `ended` gets 401 and every token of `alive` 200. Returns how many grants were revoked.
async fn revoke_checked(
    org: &Org,
    admin: &Client,
    (target, selected): (RevokeTarget, usize),
    ended: &[&String],
    alive: &[&String],
) -> usize {
    let sel = grants::select(admin, &target).await.unwrap();
    assert_eq!(sel.len(), selected, "{sel:?}");
    let revoked = grants::revoke(admin, &sel).await.unwrap();
    for t in ended {
        assert_eq!(org.call(t).await, 401, "ended by the revoke");
    }
    for t in alive {
        assert_eq!(org.call(t).await, 200, "untouched by the revoke");
    }
    revoked
}

/// Each app of `expected` is flagged by exactly its rules (`why` names the reason in a failure).
fn assert_rules(list: &[apps::Assessment], expected: &[(&str, &[Rule], &str)]) {
    for (name, rules, why) in expected {
        assert_eq!(rules_of(list, name), rules.to_vec(), "{name}: {why}");
    }
}

fn rules_of(list: &[apps::Assessment], name: &str) -> Vec<Rule> {
    let a = list
        .iter()
        .find(|a| a.app.name == name)
        .unwrap_or_else(|| panic!("no app {name}"));
    a.findings.iter().map(|f| f.rule).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_flag_exactly_the_risky_demo_apps_and_each_rule_on_a_crafted_app() {
    let org = start().await;
    let admin = org.client(&org.admin().await);
    let list = apps::list(&admin).await.unwrap();
    assert_rules(
        &list,
        &[
            (
                "Sandbox Admin",
                &[Rule::FullScope, Rule::ClientCredentialsAsAdmin],
                "",
            ),
            ("Order Status Portal", &[Rule::ClientCredentialsAsAdmin], ""),
            ("Kinetic Ltd", &[], "API-only user, api scope, 60 min"),
            ("sayso CLI", &[], "PKCE and pre-authorized profiles"),
        ],
    );
    let cli = &list.iter().find(|a| a.app.name == "sayso CLI").unwrap().app;
    assert_eq!(cli.client_id.as_deref(), Some("sayso-cli"));
    assert!(
        cli.scopes.contains(&"refresh_token".to_string()),
        "{:?}",
        cli.scopes
    );
    assert_eq!(
        cli.preauthorized_profiles,
        vec!["Standard User", "System Administrator"]
    );
    assert_eq!(cli.session_minutes, Some(120));

    let base = json!({"client_secret": "s", "flows": ["client_credentials"], "run_as": KINETIC,
        "scopes": ["api"], "permitted_users": "AdminApproved", "access_token_minutes": 60});
    let crafted = [
        ("Crafted Full", "crafted-full", json!({"scopes": ["full"]})),
        (
            "Crafted Offline",
            "crafted-offline",
            json!({"flows": ["authorization_code", "refresh_token"], "scopes": ["api", "refresh_token"],
                "permitted_users": "AllSelfAuthorize", "run_as": null}),
        ),
        ("Crafted Admin", "crafted-admin", json!({"run_as": MARIA})),
        (
            "Crafted Long Sessions",
            "crafted-long",
            json!({"access_token_minutes": 24 * 60}),
        ),
    ];
    for (name, client_id, changes) in crafted {
        let mut app = base.clone();
        app["name"] = json!(name);
        app["client_id"] = json!(client_id);
        for (key, value) in changes.as_object().unwrap() {
            app[key] = value.clone();
        }
        org.add_app(app);
    }

    let list = apps::list(&admin).await.unwrap();
    assert_rules(
        &list,
        &[
            ("Crafted Full", &[Rule::FullScope], ""),
            ("Crafted Offline", &[Rule::SelfAuthorizedOffline], ""),
            (
                "Crafted Admin",
                &[],
                "Maria is a Standard User, not an administrator",
            ),
            (
                "Crafted Long Sessions",
                &[Rule::NoNetworkOrSessionLimit],
                "",
            ),
        ],
    );
    let flagged: Vec<&str> = list
        .iter()
        .filter(|a| a.verdict == "flagged")
        .map(|a| a.app.name.as_str())
        .collect();
    assert_eq!(
        flagged,
        vec![
            "Crafted Full",
            "Crafted Long Sessions",
            "Crafted Offline",
            "Order Status Portal",
            "Sandbox Admin"
        ]
    );
    // A crafted app is a real app: its token endpoint works at once.
    let t = org.cc_token("crafted-long", "s").await;
    assert_eq!(org.call(&t).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_objects_refuse_non_admins_with_insufficient_access() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    let (s, _, body) = org
        .get(
            &dana,
            "/services/data/v63.0/tooling/query?q=SELECT+Id+FROM+ConnectedApplication",
        )
        .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body[0]["errorCode"], "INSUFFICIENT_ACCESS");
    let (s, body) = org
        .query(
            &dana,
            "SELECT Id FROM EventLogFile WHERE EventType = 'ApiTotalUsage'",
        )
        .await;
    assert_eq!(
        (s, body[0]["errorCode"].as_str()),
        (403, Some("INSUFFICIENT_ACCESS"))
    );
    let r = org
        .http
        .post(format!("{}/services/data/v63.0/sayso/contractor", org.url))
        .bearer_auth(&dana)
        .json(&json!({"name": "X", "object": "Case", "read": ["Subject"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err = apps::list(&org.client(&dana)).await.unwrap_err();
    assert!(err.to_string().contains("INSUFFICIENT_ACCESS"), "{err}");
    // OauthToken is for administrators too (the Standard User profile has no access to it).
    let kinetic = org.cc_token("kinetic-ltd", "kinetic-demo-secret").await;
    let (s, _) = org.query(&dana, "SELECT Id, UserId FROM OauthToken").await;
    assert_ne!(s, 200);
    let admin = org.client(&org.admin().await);
    let all = grants::list(&admin, &GrantFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all.iter()
            .any(|g| g.username == KINETIC && g.app == "Kinetic Ltd")
    );
    assert_eq!(org.call(&kinetic).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_by_grant_app_and_user_ends_exactly_the_affected_sessions() {
    let org = start().await;
    let admin = org.client(&org.admin().await);
    let dana = org.jwt_token(DANA).await;
    let maria = org.jwt_token(MARIA).await;
    let kinetic1 = org.cc_token("kinetic-ltd", "kinetic-demo-secret").await;
    let kinetic2 = org.cc_token("kinetic-ltd", "kinetic-demo-secret").await;
    let portal = org
        .cc_token("order-status-portal", "order-status-demo-secret")
        .await;
    for t in [&dana, &maria, &kinetic1, &kinetic2, &portal] {
        assert_eq!(org.call(t).await, 200);
    }
    let listed = grants::list(
        &admin,
        &GrantFilter {
            user: Some(KINETIC.into()),
            app: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|g| g.use_count == 1 && g.last_used.is_some()),
        "{listed:?}"
    );

    // A lost device: Dana's grant of the CLI.
    let target = RevokeTarget::grant_of(&format!("{DANA}@sayso-cli")).unwrap();
    let revoked = revoke_checked(
        &org,
        &admin,
        (target, 1),
        &[&dana],
        &[&maria, &kinetic1, &kinetic2, &portal],
    )
    .await;
    assert_eq!(revoked, 1);

    // A breached app: every Kinetic grant.
    let target = RevokeTarget::App("kinetic-ltd".into());
    let ended = [&kinetic1, &kinetic2];
    revoke_checked(&org, &admin, (target, 2), &ended, &[&maria, &portal]).await;

    // Offboarding: every grant of Maria (a second device too), nobody else's.
    let maria2 = org.jwt_token(MARIA).await;
    let dana2 = org.jwt_token(DANA).await;
    let target = RevokeTarget::User(MARIA.into());
    let ended = [&maria, &maria2];
    revoke_checked(&org, &admin, (target, 2), &ended, &[&dana2, &portal]).await;
    let left = grants::list(&admin, &GrantFilter::default()).await.unwrap();
    let mut who: Vec<String> = left
        .iter()
        .map(|g| format!("{}@{}", g.username, g.app))
        .collect();
    who.sort();
    assert_eq!(
        who,
        vec![
            "admin@demo.sayso.dev@Order Status Portal".to_string(),
            "admin@demo.sayso.dev@Sandbox Admin".to_string(),
            format!("{DANA}@sayso CLI"),
        ]
    );
    assert!(matches!(
        grants::select(&admin, &RevokeTarget::User("nobody@demo.sayso.dev".into())).await,
        Err(sayso::admin::Error::UnknownUser(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_through_the_binary_needs_yes_without_a_terminal() {
    let org = start().await;
    let (_dir, home) = admin_home(&org).await;
    let k = org.cc_token("kinetic-ltd", "kinetic-demo-secret").await;
    let d = org.jwt_token(DANA).await;
    let (code, out, err) = sayso(&home, &["admin", "revoke", "--app", "Kinetic Ltd"]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("would revoke 1 grant") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(org.call(&k).await, 200, "nothing revoked without --yes");
    let (code, out, err) = sayso(
        &home,
        &["admin", "revoke", "--app", "Kinetic Ltd", "--yes", "--json"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["revoked"], 1);
    assert_eq!(org.call(&k).await, 401);
    assert_eq!(org.call(&d).await, 200);
    let (code, out, _) = sayso(&home, &["admin", "grants", "--user", DANA]).await;
    assert_eq!(code, 0);
    assert!(out.contains("sayso CLI") && out.contains(DANA), "{out}");
    let (code, _, err) = sayso(
        &home,
        &["admin", "revoke", "--token-of", "sayso-cli", "--yes"],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("USER@APP"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counts_equal_a_scripted_mix_and_over_exits_3() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    let maria = org.jwt_token(MARIA).await;
    let kinetic = org.cc_token("kinetic-ltd", "kinetic-demo-secret").await;
    org.calls(&dana, 7).await;
    for _ in 0..2 {
        assert_eq!(
            org.query(&maria, "SELECT Id FROM Account LIMIT 1").await.0,
            200
        );
    }
    org.calls(&kinetic, 3).await;
    let admin = org.client(&org.admin().await);
    let r = usage::report(&admin, 7).await.unwrap();
    let calls = |user: &str| r.per_user.iter().find(|l| l.user == user).map(|l| l.calls);
    assert_eq!(calls(DANA), Some(7));
    assert_eq!(calls(MARIA), Some(2));
    assert_eq!(calls(KINETIC), Some(3));
    let app = |name: &str| {
        r.per_app
            .iter()
            .find(|l| l.app.as_deref() == Some(name))
            .map(|l| l.calls)
    };
    assert_eq!(app("sayso CLI"), Some(9));
    assert_eq!(app("Kinetic Ltd"), Some(3));
    assert!(
        (1..=2).contains(&r.files),
        "one file per UTC day with calls"
    );
    assert_eq!(r.total, r.per_user.iter().map(|l| l.calls).sum::<u64>());

    let (_dir, home) = admin_home(&org).await;
    let (code, out, err) = sayso(
        &home,
        &["admin", "usage", "--days", "7", "--over", "5", "--json"],
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let over: Vec<&str> = v["over"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["user"].as_str().unwrap())
        .collect();
    assert!(
        over.contains(&DANA) && !over.contains(&KINETIC) && !over.contains(&MARIA),
        "{over:?}"
    );
    let (code, out, _) = sayso(&home, &["admin", "usage", "--over", "100000"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(DANA) && out.contains("Kinetic Ltd"), "{out}");

    // --watch prints one line per new breach: Dana once over two checks, nobody under the line.
    let (code, out, err) = sayso(
        &home,
        &[
            "admin", "usage", "--over", "5", "--watch", "1", "--rounds", "2",
        ],
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(out.lines().filter(|l| l.contains(DANA)).count(), 1, "{out}");
    assert!(!out.contains(KINETIC), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contractor_made_by_the_binary_reads_and_edits_exactly_what_it_was_given() {
    let org = start().await;
    let (_dir, home) = admin_home(&org).await;
    let read = "Subject,Description,Priority";
    let (code, out, err) =
        contractor(&home, "Acme Support", read, &["--edit", "Status", "--json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let c: Value = serde_json::from_str(&out).unwrap();
    let username = c["username"].as_str().unwrap().to_string();
    assert_eq!(username, "acme.support.integration@demo.sayso.dev");
    assert_eq!(c["profile"], "Minimum Access - API Only Integrations");
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    assert!(id.starts_with("3MVG9") && secret.len() == 64);

    // Its own client-credentials session; a Private default: nothing until a case is assigned.
    let token = org.cc_token(id, secret).await;
    let cases = || {
        org.query(
            &token,
            "SELECT Id, Subject, Description, Priority, Status FROM Case",
        )
    };
    let (s, body) = cases().await;
    assert_eq!((s, body["totalSize"].as_u64()), (200, Some(0)), "{body}");
    let admin = org.admin().await;
    let case = "500Dm0000000001IAA";
    let case_path = format!("sobjects/Case/{case}");
    let owner = json!({"OwnerId": c["user_id"]});
    let (s, body) = org.patch_data(&admin, &case_path, owner).await;
    assert_eq!(s, 204, "{body}");
    let (s, body) = cases().await;
    assert_eq!((s, body["totalSize"].as_u64()), (200, Some(1)), "{body}");
    assert_eq!(body["records"][0]["Id"], case);
    // Edit exactly Status.
    let edits = [
        (json!({"Status": "Working"}), 204, "Status is editable"),
        (
            json!({"Subject": "changed"}),
            400,
            "Subject is read-only for the contractor",
        ),
        (
            json!({"Priority": "Low"}),
            400,
            "Priority is read-only for the contractor",
        ),
    ];
    for (edit, status, why) in edits {
        let (s, body) = org.patch_data(&token, &case_path, edit).await;
        assert_eq!(s, status, "{why}: {body}");
    }
    // Nothing else: other Case fields, other objects, creating, deleting.
    let (s, body) = org.query(&token, "SELECT Id, Origin FROM Case").await;
    assert_eq!(
        (s, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD")),
        "{body}"
    );
    let (s, _) = org.query(&token, "SELECT Id FROM Account").await;
    assert_eq!(s, 400, "no Account access at all");
    let (s, _) = org.query(&token, "SELECT Id FROM Task").await;
    assert_eq!(s, 400, "no Task access (unlike Kinetic's permission set)");
    let new_case = json!({"Subject": "new", "Status": "New"});
    let (s, _) = org
        .post(&token, "/services/data/v63.0/sobjects/Case", new_case)
        .await;
    assert!((400..500).contains(&s), "{s}");
    let (s, _) = org
        .delete(&token, &format!("/services/data/v63.0/{case_path}"))
        .await;
    assert!((400..500).contains(&s), "{s}");
    let (_, after) = org
        .query(
            &admin,
            &format!("SELECT Status, Subject FROM Case WHERE Id = '{case}'"),
        )
        .await;
    assert_eq!(after["records"][0]["Status"], "Working");
    assert_ne!(after["records"][0]["Subject"], "changed");

    // The new app is least-privilege; a second contractor of the same name is refused.
    let list = apps::list(&org.client(&admin)).await.unwrap();
    assert_eq!(rules_of(&list, "Acme Support"), vec![]);
    let (code, _, err) = contractor(&home, "Acme Support", "Subject", &[]).await;
    assert_eq!(code, 2);
    assert!(err.contains("DUPLICATE_VALUE"), "{err}");
    // The checklist for a real org names the same rights.
    let checklist = ["--edit", "Status", "--checklist"];
    let (code, out, _) = contractor(&home, "Acme", "Subject", &checklist).await;
    assert_eq!(code, 0);
    assert!(out.contains("Read Subject; Read and Edit Status"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_one_line_when_a_user_newly_passes_the_limit() {
    use tokio::io::AsyncBufReadExt;
    let org = start().await;
    let (_dir, home) = admin_home(&org).await;
    let dana = org.jwt_token(DANA).await;
    let kinetic = org.cc_token("kinetic-ltd", "kinetic-demo-secret").await;
    org.calls(&dana, 6).await;
    org.calls(&kinetic, 3).await;
    let watch = [
        "admin", "usage", "--over", "5", "--watch", "1", "--rounds", "4",
    ];
    let mut child = sayso_command(&home, &watch)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // The first round reports Dana (and perhaps the admin's own calls).
    loop {
        let l = lines
            .next_line()
            .await
            .unwrap()
            .expect("a breach line for Dana");
        if l.contains(DANA) {
            assert!(l.contains("over 5: ") && l.contains(" made 6 calls"), "{l}");
            break;
        }
    }
    // Kinetic passes the line while the watch runs.
    org.calls(&kinetic, 3).await;
    let mut rest = Vec::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        rest.push(l);
    }
    let status = child.wait().await.unwrap();
    // The admin's own calls may cross the line too; Dana is not repeated and Kinetic appears once.
    assert_eq!(
        rest.iter().filter(|l| l.contains(DANA)).count(),
        0,
        "{rest:?}"
    );
    assert_eq!(
        rest.iter().filter(|l| l.contains(KINETIC)).count(),
        1,
        "{rest:?}"
    );
    assert_eq!(status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_log_files_and_tooling_queries_have_the_real_shapes() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    org.calls(&dana, 4).await;
    let admin = org.admin().await;
    let body = org
        .query_ok(
            &admin,
            "SELECT Id, EventType, LogDate, Interval, LogFileLength, LogFile FROM EventLogFile \
             WHERE EventType IN ('ApiTotalUsage', 'Login') AND LogDate = LAST_N_DAYS:2 AND (NOT Interval = 'Hourly') \
             ORDER BY LogDate DESC LIMIT 1",
        )
        .await;
    assert_eq!(body["totalSize"], 1);
    let file = &body["records"][0];
    assert_eq!(file["attributes"]["type"], "EventLogFile");
    assert!(file["Id"].as_str().unwrap().starts_with("0AT"), "{file}");
    assert_eq!(file["Interval"], "Daily");
    let (s, none) = org
        .query(
            &admin,
            "SELECT Id FROM EventLogFile WHERE EventType = 'Login'",
        )
        .await;
    assert_eq!((s, none["totalSize"].as_u64()), (200, Some(0)));
    let r = org
        .http
        .get(format!("{}{}", org.url, file["LogFile"].as_str().unwrap()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv");
    let csv = r.text().await.unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with(
            "\"EVENT_TYPE\",\"TIMESTAMP\",\"REQUEST_ID\",\"ORGANIZATION_ID\",\"USER_ID\""
        ),
        "{header}"
    );
    let dana_id = "005Dm0000000003IAA";
    let dana_rows = csv
        .lines()
        .filter(|l| l.ends_with(&format!("\"{dana_id}\"")))
        .count();
    assert_eq!(dana_rows, 4, "{csv}");
    assert!(file["LogFileLength"].as_u64().unwrap() as usize <= csv.len());
    // Unknown fields and objects answer as a real org does; Profile is readable by everyone.
    let refused = [
        (
            "SELECT+Id,+Secret__c+FROM+ConnectedApplication",
            "INVALID_FIELD",
        ),
        ("SELECT+Id+FROM+ApexNope", "INVALID_TYPE"),
    ];
    for (q, code) in refused {
        let path = format!("/services/data/v63.0/tooling/query?q={q}");
        let (s, _, body) = org.get(&admin, &path).await;
        assert_eq!(
            (s, body[0]["errorCode"].as_str()),
            (400, Some(code)),
            "{q}: {body}"
        );
    }
    let body = org
        .query_ok(
            &dana,
            "SELECT Name FROM Profile WHERE PermissionsModifyAllData = true",
        )
        .await;
    assert_eq!(body["records"][0]["Name"], "System Administrator");
    assert_eq!(body["totalSize"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contractor_survives_a_sandbox_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("org.db");
    let open = |fresh| {
        Sandbox::open(SandboxOptions {
            db_path: Some(db.clone()),
            fresh,
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 18),
            faults: Default::default(),
        })
        .unwrap()
    };
    let first = open(true);
    let state = first.state().clone();
    let admin = first.mint_token("admin@demo.sayso.dev").unwrap();
    let app = first.router();
    let serve = |app: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    };
    let url = serve(app).await;
    let http = reqwest::Client::new();
    let request = http
        .post(format!("{url}/services/data/v63.0/sayso/contractor"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Night Shift", "object": "Case", "read": ["Subject"], "edit": ["Status"]}));
    let (_, made) = crate::support::answer(request.send().await.unwrap()).await;
    let (id, secret) = (
        made["clientId"].as_str().unwrap(),
        made["clientSecret"].as_str().unwrap(),
    );
    assert!(state.policy.config().app(id).is_some(), "in force at once");
    drop(state);
    let second = open(false);
    assert!(
        second.state().policy.config().app(id).is_some(),
        "replayed at open"
    );
    assert!(
        second
            .state()
            .policy
            .config()
            .permission_set("Night Shift API Access")
            .is_some()
    );
    let url = serve(second.router()).await;
    let r = http
        .post(format!("{url}/services/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}
