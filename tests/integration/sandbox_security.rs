//! The security model over real HTTP: what each demo user sees (sharing), records one may not see
//! answering exactly like missing ones, field-level security on read, write and describe, the
//! contractor scenario through `kinetic-ltd` client credentials, the API allocation, and each
//! injected fault.

use crate::support;

use std::collections::BTreeSet;

use sayso::sandbox::faults::FaultOptions;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn sharing_per_demo_user() {
    let org = start().await;
    let expected: &[(&str, usize, usize, usize)] = &[
        // user, opportunities, cases, accounts
        (DANA, 19, 0, 24),
        (SAM, 8, 0, 24),
        (ALEX, 6, 0, 24),
        (MARIA, 34, 0, 24),
        (PRIYA, 0, 13, 24),
        (ADA, 34, 16, 24),
    ];
    let mut seen = Vec::new();
    for (user, opps, cases, accounts) in expected {
        let token = org.jwt_token(user).await;
        let count = |soql: &'static str| {
            let org = &org;
            let token = token.clone();
            async move {
                let (s, body) = org.query(&token, soql).await;
                assert_eq!(s, 200, "{user}: {soql}: {body}");
                ids(&body)
            }
        };
        let o = count("SELECT Id FROM Opportunity").await;
        assert_eq!(o.len(), *opps, "{user} opportunities");
        assert_eq!(
            count("SELECT Id FROM Case").await.len(),
            *cases,
            "{user} cases"
        );
        assert_eq!(
            count("SELECT Id FROM Account").await.len(),
            *accounts,
            "{user} accounts"
        );
        seen.push((*user, o.into_iter().collect::<BTreeSet<_>>()));
    }
    let of = |u: &str| {
        seen.iter()
            .find(|(x, _)| *x == u)
            .map(|(_, s)| s.clone())
            .expect("user")
    };
    assert!(of(DANA).contains(TITAN) && !of(SAM).contains(TITAN) && !of(ALEX).contains(TITAN));
    assert!(of(DANA).is_disjoint(&of(SAM)));
    let team: BTreeSet<String> = of(DANA).union(&of(SAM)).cloned().chain(of(ALEX)).collect();
    assert!(team.is_subset(&of(MARIA)), "Maria sees her team's deals");
}

#[tokio::test]
async fn a_record_one_may_not_see_answers_like_a_missing_one() {
    let org = start().await;
    let sam = org.jwt_token(SAM).await;
    let titan = format!("/services/data/{V}/sobjects/Opportunity/{TITAN}");
    let nowhere = format!(
        "/services/data/{V}/sobjects/Opportunity/{}",
        missing_id("006")
    );
    let change = json!({"StageName": "Closed Won"});
    for (method, body) in [("GET", None), ("PATCH", Some(change)), ("DELETE", None)] {
        let hidden = org.send(method, &sam, &titan, body.clone()).await;
        let missing = org.send(method, &sam, &nowhere, body).await;
        assert_eq!(hidden.0, 404, "{method}: {}", hidden.1);
        assert_eq!(hidden, missing, "{method}");
    }
    // Still there for Dana.
    let dana = org.jwt_token(DANA).await;
    let (s, _, rec) = org
        .get(
            &dana,
            &format!("/services/data/{V}/sobjects/Opportunity/{TITAN}"),
        )
        .await;
    assert_eq!((s, rec["StageName"].as_str()), (200, Some("Prospecting")));
    // Not in query results either.
    let (_, body) = org
        .query(
            &sam,
            "SELECT Id FROM Opportunity WHERE Name = 'Project Titan'",
        )
        .await;
    assert_eq!(body["totalSize"], 0);
}

#[tokio::test]
async fn read_only_fields_are_refused_on_write_and_not_updateable_in_describe() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    let acme = "001Dm0000000001IAA";
    let (s, _, rec) = org
        .get(
            &dana,
            &format!("/services/data/{V}/sobjects/Account/{acme}"),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(rec["Tier__c"], "Gold", "readable");
    let (_, _, d) = org
        .get(
            &dana,
            &format!("/services/data/{V}/sobjects/Account/describe"),
        )
        .await;
    let field = |name: &str| {
        d["fields"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["name"] == name))
            .cloned()
    };
    assert_eq!(field("Tier__c").expect("Tier__c")["updateable"], false);
    assert_eq!(field("Name").expect("Name")["updateable"], true);
    let admin = org.admin().await;
    let read_only = "INVALID_FIELD_FOR_INSERT_UPDATE";
    // (who, record, change, status, error code), in order.
    let writes = [
        (
            &dana,
            ("Account", acme),
            json!({"Tier__c": "Silver"}),
            400,
            read_only,
        ),
        (
            &dana,
            ("Opportunity", TITAN),
            json!({"ForecastCategoryName": "Best Case"}),
            400,
            read_only,
        ),
        // The administrator may change it.
        (
            &admin,
            ("Account", acme),
            json!({"Tier__c": "Silver"}),
            204,
            "",
        ),
        // Dana cannot edit an account she does not own (Account is Read for everyone).
        (
            &dana,
            ("Account", "001Dm0000000002IAA"),
            json!({"Phone": "1"}),
            400,
            "INSUFFICIENT_ACCESS_OR_READONLY",
        ),
    ];
    for (token, (object, id), change, status, code) in writes {
        let path = format!("/services/data/{V}/sobjects/{object}/{id}");
        let (s, body) = org.patch(token, &path, change).await;
        assert_eq!((s, error_code(&body)), (status, code), "{path}: {body}");
    }
}

#[tokio::test]
async fn contractor_scenario_through_client_credentials() {
    let org = start().await;
    let k = org.kinetic().await;
    let body = org
        .query_ok(
            &k,
            "SELECT Id, CaseNumber, Subject, Description, Priority, Status FROM Case",
        )
        .await;
    assert_eq!(
        ids(&body),
        vec![
            CASE_1001.to_string(),
            "500Dm0000000002IAA".into(),
            "500Dm0000000003IAA".into()
        ]
    );
    // Hidden fields are INVALID_FIELD in SOQL.
    for soql in [
        "SELECT Id, Origin FROM Case",
        "SELECT Id FROM Case WHERE SLA_Breached__c = false",
        "SELECT Account.Name FROM Case",
    ] {
        let (s, body) = org.query(&k, soql).await;
        assert_eq!(s, 400, "{soql}: {body}");
        assert_eq!(error_code(&body), "INVALID_FIELD", "{soql}: {body}");
    }
    // Other objects do not exist for it.
    let (s, body) = org.query(&k, "SELECT Id FROM Account").await;
    assert_eq!((s, error_code(&body)), (400, "INVALID_TYPE"), "{body}");
    // Someone else's case answers like a missing one.
    let (s, _, body) = org
        .get(&k, &format!("/services/data/{V}/sobjects/Case/{CASE_1004}"))
        .await;
    assert_eq!((s, error_code(&body)), (404, "NOT_FOUND"), "{body}");
    // Its record shows only what it may read.
    let (s, _, rec) = org
        .get(&k, &format!("/services/data/{V}/sobjects/Case/{CASE_1001}"))
        .await;
    assert_eq!(s, 200, "{rec}");
    let keys: BTreeSet<&str> = rec
        .as_object()
        .expect("record")
        .keys()
        .map(String::as_str)
        .collect();
    for f in ["Subject", "Description", "Priority", "Status", "CaseNumber"] {
        assert!(keys.contains(f), "{f} in {keys:?}");
    }
    for f in [
        "OwnerId",
        "AccountId",
        "ContactId",
        "Origin",
        "Type",
        "SLA_Breached__c",
    ] {
        assert!(!keys.contains(f), "{f} must be hidden: {keys:?}");
    }
    // May change Status and nothing else.
    let path = format!("/services/data/{V}/sobjects/Case/{CASE_1001}");
    assert_eq!(
        org.patch(&k, &path, json!({"Status": "Working"})).await.0,
        204
    );
    let (s, body) = org.patch(&k, &path, json!({"Priority": "High"})).await;
    assert_eq!(
        (s, error_code(&body)),
        (400, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        "{body}"
    );
    let (s, body) = org.patch(&k, &path, json!({"Origin": "Web"})).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = org.delete(&k, &path).await;
    assert!(s == 400 || s == 403, "no delete on Case: {s} {body}");
    let r = org
        .http
        .post(format!("{}/services/data/{V}/sobjects/Case", org.url))
        .bearer_auth(&k)
        .json(&json!({"Subject": "new"}))
        .send()
        .await
        .expect("create");
    assert!(
        r.status() == 400 || r.status() == 403,
        "no create on Case: {}",
        r.status()
    );
    let admin = org.admin().await;
    let (_, _, rec) = org.get(&admin, &path).await;
    assert_eq!(
        (rec["Status"].as_str(), rec["Priority"].as_str()),
        (Some("Working"), Some("High"))
    );

    // Its describe of Case shows exactly that.
    let (s, _, d) = org
        .get(&k, &format!("/services/data/{V}/sobjects/Case/describe"))
        .await;
    assert_eq!(s, 200);
    let system = sayso::sandbox::security::SYSTEM_FIELDS;
    let fields: BTreeSet<String> = d["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .filter(|n| !system.contains(n))
        .map(str::to_string)
        .collect();
    let want: BTreeSet<String> = ["CaseNumber", "Description", "Priority", "Status", "Subject"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(fields, want);
    let updateable: Vec<&str> = d["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["updateable"] == true)
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(updateable, vec!["Status"]);
    assert_eq!(d["createable"], false);
    assert_eq!(d["deletable"], false);
    assert_eq!(d["updateable"], true);
    // The global describe lists only what it can read.
    let (_, _, g) = org.get(&k, &format!("/services/data/{V}/sobjects")).await;
    let names: BTreeSet<&str> = texts(&g["sobjects"], "name").into_iter().collect();
    assert!(
        names.contains("Case") && !names.contains("Account") && !names.contains("Opportunity"),
        "{names:?}"
    );
}

#[tokio::test]
async fn the_daily_allocation_runs_out() {
    let org = start_faulty(|f| f.api_limit = Some(3)).await;
    let admin = org.admin().await;
    let path = format!("/services/data/{V}/limits");
    for n in 1..=3 {
        let (s, h, body) = org.get(&admin, &path).await;
        assert_eq!(s, 200, "{body}");
        let info = h
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .expect("Sforce-Limit-Info");
        assert_eq!(
            info,
            format!("api-usage={n}/3; per-app-api-usage={n}/3(appName=Sandbox Admin)")
        );
    }
    let (s, _, body) = org.get(&admin, &path).await;
    assert_eq!(s, 403);
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    // Every caller, not just the one who used it up.
    let dana = org.jwt_token(DANA).await;
    assert_eq!(
        org.get(
            &dana,
            &format!("/services/data/{V}/sobjects/Opportunity/{TITAN}")
        )
        .await
        .0,
        403
    );
    let lines = sayso::sandbox::rest::limits::usage_by_user_and_app(&org.state).expect("usage");
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (
            lines[0].username.as_str(),
            lines[0].app.as_deref(),
            lines[0].calls
        ),
        (ADA, Some("Sandbox Admin"), 3)
    );
}

/// A sandbox with the fault options `set` changes from the defaults.
async fn start_faulty(set: impl FnOnce(&mut FaultOptions)) -> Org {
    let mut faults = FaultOptions::default();
    set(&mut faults);
    start_with(faults).await
}

#[tokio::test]
async fn latency_is_added_to_data_calls() {
    let org = start_faulty(|f| f.latency_ms = 150).await;
    let admin = org.admin().await;
    let t = std::time::Instant::now();
    assert_eq!(org.limits(&admin).await.0, 200);
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(150),
        "a lower bound only: sleep guarantees it"
    );
}

#[tokio::test]
async fn fail_rate_answers_503_but_login_still_works() {
    let org = start_faulty(|f| f.fail_rate = 1.0).await;
    let admin = org.admin().await;
    let (s, body) = org.limits(&admin).await;
    assert_eq!(
        (s, error_code(&body)),
        (503, "SERVER_UNAVAILABLE"),
        "{body}"
    );
}

#[tokio::test]
async fn lock_rate_refuses_writes_only() {
    let org = start_faulty(|f| f.lock_rate = 1.0).await;
    let dana = org.jwt_token(DANA).await;
    let path = format!("/services/data/{V}/sobjects/Opportunity/{TITAN}");
    assert_eq!(org.get(&dana, &path).await.0, 200);
    let (s, body) = org
        .patch(&dana, &path, json!({"StageName": "Qualification"}))
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        body,
        json!([{"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW", "fields": []}])
    );
}

#[tokio::test]
async fn drop_rate_drops_the_connection() {
    let org = start_faulty(|f| f.drop_rate = 1.0).await;
    let admin = org.admin().await;
    let r = org
        .http
        .get(format!("{}/services/data/{V}/limits", org.url))
        .bearer_auth(&admin)
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the response must not complete");
    // OAuth is never dropped.
    assert!(!org.admin().await.is_empty());
}

#[tokio::test]
async fn token_minutes_override_expires_tokens() {
    let org = start_faulty(|f| f.token_minutes = Some(0)).await;
    let token = org.jwt_token(DANA).await;
    let (s, body) = org.limits(&token).await;
    assert_eq!(
        (s, body),
        (
            401,
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        )
    );
}

#[tokio::test]
async fn usage_command_prints_calls_per_user_and_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sandbox.db");
    {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 18);
        let sandbox = sayso::sandbox::Sandbox::open(sayso::sandbox::SandboxOptions {
            db_path: Some(db.clone()),
            fresh: true,
            today,
            faults: FaultOptions::default(),
        })
        .expect("open");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sandbox.serve(listener, async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        let tok: Value = http
            .post(format!("{url}/services/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "kinetic-ltd"),
                ("client_secret", "kinetic-demo-secret"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        let token = tok["access_token"].as_str().expect("token");
        for _ in 0..2 {
            let r = http
                .get(format!("{url}/services/data/{V}/limits"))
                .bearer_auth(token)
                .send()
                .await
                .expect("call");
            assert_eq!(r.status(), 200);
        }
        let _ = tx.send(());
        let _ = server.await;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sayso"))
        .args(["sandbox", "usage", "--db"])
        .arg(&db)
        .output()
        .expect("run sayso");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains(KINETIC))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("Kinetic Ltd") && line.trim_end().ends_with('2'),
        "{line}"
    );
    assert!(stdout.contains("org: 2/15000"), "{stdout}");
}

#[tokio::test]
async fn composite_and_collections_apply_sharing_and_field_security() {
    let org = start().await;
    let sam = org.jwt_token(SAM).await;
    let titan = format!("/services/data/{V}/sobjects/Opportunity/{TITAN}");
    let (s, body) = org
        .post(
            &sam,
            &format!("/services/data/{V}/composite"),
            json!({"allOrNone": false, "compositeRequest": [
                {"method": "GET", "url": titan, "referenceId": "read"},
                {"method": "PATCH", "url": titan, "referenceId": "write", "body": {"StageName": "Closed Won"}}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    for sub in body["compositeResponse"].as_array().expect("responses") {
        assert_eq!(sub["httpStatusCode"], 404, "{sub}");
        assert_eq!(sub["body"][0]["errorCode"], "NOT_FOUND", "{sub}");
    }
    let (s, body) = org
        .post(
            &sam,
            &format!("/services/data/{V}/composite/batch"),
            json!({"batchRequests": [{"method": "GET", "url": format!("{V}/sobjects/Opportunity/{TITAN}")}]}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["results"][0]["statusCode"], 404, "{body}");
    // sObject Collections: retrieve answers null for an invisible id; update fails per record.
    let (s, _, body) = org
        .get(
            &sam,
            &format!("/services/data/{V}/composite/sobjects/Opportunity?ids={TITAN}&fields=Name"),
        )
        .await;
    assert_eq!((s, &body), (200, &json!([null])));
    let r = org
        .http
        .patch(format!("{}/services/data/{V}/composite/sobjects", org.url))
        .bearer_auth(&sam)
        .json(&json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Opportunity"}, "id": TITAN, "StageName": "Closed Won"}
        ]}))
        .send()
        .await
        .expect("collections");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body[0]["success"], false, "{body}");
    // Field security inside collections.
    let dana = org.jwt_token(DANA).await;
    let r = org
        .http
        .patch(format!("{}/services/data/{V}/composite/sobjects", org.url))
        .bearer_auth(&dana)
        .json(&json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Account"}, "id": "001Dm0000000001IAA", "Tier__c": "Silver"}
        ]}))
        .send()
        .await
        .expect("collections");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body[0]["success"], false, "{body}");
    assert_eq!(
        body[0]["errors"][0]["statusCode"], "INVALID_FIELD_FOR_INSERT_UPDATE",
        "{body}"
    );
    let admin = org.admin().await;
    let (_, _, rec) = org.get(&admin, &titan).await;
    assert_eq!(rec["StageName"], "Prospecting", "nothing changed");
}

#[tokio::test]
async fn search_applies_sharing_and_field_security() {
    let org = start().await;
    let search = |token: String, sosl: &'static str| {
        let org = &org;
        async move {
            let q = urlencode(sosl);
            let (status, _, body) = org
                .get(&token, &format!("/services/data/{V}/search?q={q}"))
                .await;
            (status, body)
        }
    };
    let found = |body: &Value| -> Vec<String> {
        body["searchRecords"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| r["Id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let dana = org.jwt_token(DANA).await;
    let sam = org.jwt_token(SAM).await;
    // Dana owns Titan; Sam does not see it.
    for (token, sees) in [(dana, true), (sam, false)] {
        let titan = "FIND {Titan} IN ALL FIELDS RETURNING Opportunity(Id, Name)";
        let (s, body) = search(token, titan).await;
        assert_eq!(s, 200, "{body}");
        let hits = found(&body);
        let seen = if sees {
            hits.contains(&TITAN.to_string())
        } else {
            hits.is_empty()
        };
        assert!(seen, "{body}");
    }
    let k = org.kinetic().await;
    let (_, body) = search(k.clone(), "FIND {Query} RETURNING Case(Id, Subject)").await;
    assert_eq!(found(&body), vec![CASE_1001.to_string()], "{body}");
    let (_, body) = search(k.clone(), "FIND {TPS} RETURNING Case(Id, Subject)").await;
    assert!(found(&body).is_empty(), "Priya's case: {body}");
    let (s, body) = search(k, "FIND {Query} RETURNING Case(Id, Origin)").await;
    assert_eq!(s, 400, "hidden field: {body}");
}

#[tokio::test]
async fn bulk_ingest_applies_sharing() {
    let org = start().await;
    let sam = org.jwt_token(SAM).await;
    let (s, job) = org
        .post(
            &sam,
            &format!("/services/data/{V}/jobs/ingest"),
            json!({"object": "Opportunity", "operation": "update", "contentType": "CSV", "lineEnding": "LF"}),
        )
        .await;
    assert!(s == 200 || s == 201, "{job}");
    let id = job["id"].as_str().expect("job id").to_string();
    let base = format!("{}/services/data/{V}/jobs/ingest/{id}", org.url);
    let r = org
        .http
        .put(format!("{base}/batches"))
        .bearer_auth(&sam)
        .header("Content-Type", "text/csv")
        .body(format!("Id,StageName\n{TITAN},Closed Won\n"))
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success(), "{}", r.status());
    let r = org
        .http
        .patch(&base)
        .bearer_auth(&sam)
        .json(&json!({"state": "UploadComplete"}))
        .send()
        .await
        .expect("close");
    assert!(r.status().is_success());
    let mut state = String::new();
    for _ in 0..100 {
        let (_, _, info) = org
            .get(&sam, &format!("/services/data/{V}/jobs/ingest/{id}"))
            .await;
        state = info["state"].as_str().unwrap_or("").to_string();
        if state == "JobComplete" || state == "Failed" {
            assert_eq!(info["numberRecordsFailed"], 1, "{info}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, "JobComplete");
    let admin = org.admin().await;
    let (_, _, rec) = org
        .get(
            &admin,
            &format!("/services/data/{V}/sobjects/Opportunity/{TITAN}"),
        )
        .await;
    assert_eq!(rec["StageName"], "Prospecting");
}

#[tokio::test]
async fn users_created_through_the_api_log_in_and_join_the_hierarchy() {
    let org = start().await;
    let admin = org.admin().await;
    let body = org
        .query_ok(
            &admin,
            "SELECT ProfileId, UserRoleId FROM User WHERE Username = 'dana.reyes@demo.sayso.dev'",
        )
        .await;
    let profile_id = body["records"][0]["ProfileId"]
        .as_str()
        .expect("ProfileId")
        .to_string();
    let role_id = body["records"][0]["UserRoleId"]
        .as_str()
        .expect("UserRoleId")
        .to_string();
    let (s, created) = org
        .post(
            &admin,
            &format!("/services/data/{V}/sobjects/User"),
            json!({
            "Username": "new.rep@demo.sayso.dev", "FirstName": "Nia", "LastName": "Rep", "Email": "new.rep@demo.sayso.dev",
            "Alias": "nrep", "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
            "LanguageLocaleKey": "en_US", "ProfileId": profile_id, "UserRoleId": role_id
        }),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let user_id = created["id"].as_str().expect("id").to_string();
    let (s, opp) = org
        .post(
            &admin,
            &format!("/services/data/{V}/sobjects/Opportunity"),
            json!({"Name": "Nia's first deal", "StageName": "Prospecting", "CloseDate": "2026-12-31", "OwnerId": user_id}),
        )
        .await;
    assert_eq!(s, 201, "{opp}");
    let new_rep = org.jwt_token("new.rep@demo.sayso.dev").await;
    let (_, body) = org.query(&new_rep, "SELECT Id FROM Opportunity").await;
    assert_eq!(
        ids(&body),
        vec![opp["id"].as_str().expect("id").to_string()],
        "{body}"
    );
    let maria = org.jwt_token(MARIA).await;
    let (_, body) = org.query(&maria, "SELECT Id FROM Opportunity").await;
    assert_eq!(
        body["totalSize"], 35,
        "the new rep is below Maria in the hierarchy"
    );
    let dana = org.jwt_token(DANA).await;
    let (_, body) = org.query(&dana, "SELECT Id FROM Opportunity").await;
    assert_eq!(body["totalSize"], 19);
}
