//! Issue 17, "the sandbox holds Salesforce's line": one regression test per numbered point of
//! the issue (`issue_17_point_N_…`), a table-driven security matrix (every demo user and the
//! contractor × every read and write path), and bounded fuzzing of the SOQL routes and request
//! bodies that asserts the server never answers 500 and never dies.

use crate::support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use support::*;

const SAM_DEAL: &str = "006Dm0000000004IAA";
const DANA_NOTE: &str = "069Dm0000000001IAA";
const ACME: &str = "001Dm0000000001IAA";
const DANA_ID: &str = "005Dm0000000003IAA";
const SAM_ID: &str = "005Dm0000000004IAA";
const KINETIC_ID: &str = "005Dm0000000007IAA";
const ORG_ID: &str = "00DDm0000000001MAA";
/// What Salesforce answers a write that points at a record the user may not reach.
const DENIED: (u16, &str) = (400, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY");

fn data(path: &str) -> String {
    format!("/services/data/{V}{path}")
}

/// A 500 must never carry SQL, SQLite or panic text.
#[track_caller]
fn no_internals(status: u16, body: &Value) {
    let text = body.to_string();
    for needle in ["SELECT", "sqlite", "SQL", "t0.", "panicked", "sayso_"] {
        assert!(!text.contains(needle), "{status} leaks {needle:?}: {text}");
    }
}

/// Runs one composite query subrequest; returns its (status, body).
async fn composite_query(org: &Org, token: &str, soql: &str) -> (u16, Value) {
    let url = format!("/services/data/{V}/query?q={}", urlencode(soql));
    composite_get(org, token, &url).await
}

/// Runs `GET url` as the one subrequest of a `/composite` request (which must answer 200); returns
/// the subrequest's (httpStatusCode, body).
async fn composite_get(org: &Org, token: &str, url: &str) -> (u16, Value) {
    let (s, body) = org
        .post(
            token,
            &data("/composite"),
            json!({"compositeRequest": [{"method": "GET", "url": url, "referenceId": "sub"}]}),
        )
        .await;
    assert_eq!(s, 200, "{url}: {body}");
    let sub = &body["compositeResponse"][0];
    (
        sub["httpStatusCode"].as_u64().unwrap_or(0) as u16,
        sub["body"].clone(),
    )
}

// ---- point 1: no request brings the server down ----

#[tokio::test]
async fn issue_17_point_1_deep_nesting_is_malformed_and_the_server_lives_on() {
    let org = start().await;
    let k = org.kinetic().await;
    let parens = format!(
        "SELECT Id FROM Case WHERE {}Subject = 'x'{}",
        "(".repeat(3000),
        ")".repeat(3000)
    );
    let nots = format!(
        "SELECT Id FROM Case WHERE {}Subject = 'x'",
        "NOT ".repeat(1000)
    );
    let calls = format!(
        "SELECT {}Subject{} FROM Case",
        "MAX(".repeat(2000),
        ")".repeat(2000)
    );
    for soql in [&parens, &nots, &calls] {
        let (s, body) = org.query(&k, soql).await;
        assert_error(s, &body, (400, "MALFORMED_QUERY"), "");
        assert!(body.to_string().contains("nested too deeply"), "{body}");
    }
    // Within the limit it is an ordinary query.
    let ok = format!(
        "SELECT Id FROM Case WHERE {}Subject = 'x'{}",
        "(".repeat(90),
        ")".repeat(90)
    );
    assert_eq!(org.query(&k, &ok).await.0, 200);
    let (s, body) = org.query(&k, "SELECT Id FROM Case").await;
    assert_eq!(s, 200, "the server still answers: {body}");
}

// ---- point 2: SQLite limits are Salesforce's answers, never SQL text ----

#[tokio::test]
async fn issue_17_point_2_long_or_chains_and_huge_in_lists_are_answered() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    let terms: Vec<String> = (0..1200).map(|i| format!("Name = 'n{i}'")).collect();
    let soql = format!(
        "SELECT Id FROM Account WHERE Name = 'Acme Corp' OR {}",
        terms.join(" OR ")
    );
    let body = org.query_ok(&dana, &soql).await;
    assert_eq!(body["totalSize"], 1, "{body}");
    let ands: Vec<String> = (0..1200).map(|i| format!("Name != 'n{i}'")).collect();
    let soql = format!("SELECT Id FROM Account WHERE {}", ands.join(" AND "));
    let (s, body) = org.query(&dana, &soql).await;
    assert_eq!((s, body["totalSize"].as_u64()), (200, Some(24)), "{body}");
    // 33,000 values (SQLite allows 32,766 variables per statement).
    let values = vec!["1"; 33_000].join(",");
    let soql = format!("SELECT Id FROM Account WHERE NumberOfEmployees IN ({values}, 45000)");
    let (s, body) = composite_query(&org, &dana, &soql).await;
    assert_eq!(s, 200, "{body}");
    no_internals(s, &body);
    let (s, body) = composite_query(&org, &dana, &soql.replace(" IN (", " NOT IN (")).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn issue_17_point_2_rollup_and_cube_take_three_fields_and_errors_show_no_sql() {
    let org = start().await;
    let ada = org.admin().await;
    let fields = "StageName, Type, LeadSource, ForecastCategoryName, CloseDate, AccountId, OwnerId, Name, NextStep, Probability, Amount, IsWon, IsClosed, Id";
    for soql in [
        format!("SELECT COUNT(Id) FROM Opportunity GROUP BY CUBE({fields})"),
        "SELECT StageName, Type, LeadSource, OwnerId, COUNT(Id) FROM Opportunity GROUP BY ROLLUP(StageName, Type, LeadSource, OwnerId)".to_string(),
    ] {
        let (s, body) = org.query(&ada, &soql).await;
        assert_error(s, &body, (400, "MALFORMED_QUERY"), "");
        no_internals(s, &body);
    }
    org.query_ok(
        &ada,
        "SELECT StageName, Type, COUNT(Id) FROM Opportunity GROUP BY CUBE(StageName, Type)",
    )
    .await;
    // A select list past SQLite's column limit is QUERY_TOO_COMPLICATED, not SQL text.
    let many = vec!["Name"; 2100].join(", ");
    let (s, body) = composite_query(&org, &ada, &format!("SELECT {many} FROM Account")).await;
    assert_ne!(s, 500, "{body}");
    no_internals(s, &body);
}

#[tokio::test]
async fn issue_17_point_2_soql_is_capped_at_100000_characters_on_every_route() {
    let org = start().await;
    let ada = org.admin().await;
    let pad = |len: usize| {
        let head = "SELECT Id FROM Account WHERE Name = '";
        format!("{head}{}'", "x".repeat(len - head.len() - 1))
    };
    let long = pad(100_001);
    let fits = pad(100_000);
    // composite
    let (s, body) = composite_query(&org, &ada, &long).await;
    assert_error(s, &body, (400, "MALFORMED_QUERY"), "");
    assert!(body.to_string().contains("100000 characters"), "{body}");
    assert_eq!(composite_query(&org, &ada, &fits).await.0, 200);
    // composite/batch
    let url = format!("{V}/query?q={}", urlencode(&long));
    let (s, body) = org
        .post(
            &ada,
            &data("/composite/batch"),
            json!({"batchRequests": [{"method": "GET", "url": url}]}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["results"][0]["statusCode"], 400, "{body}");
    assert_eq!(
        body["results"][0]["result"][0]["errorCode"],
        "MALFORMED_QUERY"
    );
    // Bulk query jobs
    let (s, body) = org
        .post(
            &ada,
            &data("/jobs/query"),
            json!({"operation": "query", "query": long}),
        )
        .await;
    assert_error(s, &body, (400, "MALFORMED_QUERY"), "");
    // SOSL too
    let sosl = format!("FIND {{{}}}", "x".repeat(100_001));
    let url = format!("/services/data/{V}/search?q={}", urlencode(&sosl));
    let (_, body) = composite_get(&org, &ada, &url).await;
    assert_eq!(body[0]["errorCode"], "MALFORMED_SEARCH");
}

// ---- point 3: note links ----

#[tokio::test]
async fn issue_17_point_3_note_links_need_the_right_to_share_the_note() {
    let org = start().await;
    let sam = org.jwt_token(SAM).await;
    let dana = org.jwt_token(DANA).await;
    let link = |doc: &str, entity: &str, share: &str| json!({"ContentDocumentId": doc, "LinkedEntityId": entity, "ShareType": share});
    let cdl = data("/sobjects/ContentDocumentLink");
    let note = data(&format!("/sobjects/ContentNote/{DANA_NOTE}"));
    // Sam can neither link Dana's note to himself nor to an account everyone sees.
    for entity in [SAM_ID, ACME] {
        let (s, body) = org.post(&sam, &cdl, link(DANA_NOTE, entity, "V")).await;
        assert_error(s, &body, DENIED, "");
    }
    assert_eq!(org.send("GET", &sam, &note, None).await.0, 404);
    assert_eq!(
        org.send("PATCH", &sam, &note, Some(json!({"Title": "mine"})))
            .await
            .0,
        404
    );
    assert_eq!(org.send("DELETE", &sam, &note, None).await.0, 404);
    // A missing note answers the same.
    let (s, body) = org
        .post(&sam, &cdl, link(&missing_id("069"), SAM_ID, "V"))
        .await;
    assert_error(s, &body, DENIED, "");
    // The owner shares it; a collaborator (ShareType C) may share it on.
    let (s, body) = org.post(&dana, &cdl, link(DANA_NOTE, SAM_ID, "C")).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = org.post(&sam, &cdl, link(DANA_NOTE, SAM_DEAL, "V")).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(org.send("GET", &sam, &note, None).await.0, 200);
    // A viewer (ShareType V) may not.
    let alex = org.jwt_token(ALEX).await;
    let (s, _) = org
        .post(&dana, &cdl, link(DANA_NOTE, "005Dm0000000005IAA", "V"))
        .await;
    assert_eq!(s, 201);
    let (s, body) = org.post(&alex, &cdl, link(DANA_NOTE, ACME, "V")).await;
    assert_error(s, &body, DENIED, "");
    // Maria may edit Titan, hence its note link, but raising it to collaborator shares the note.
    let maria = org.jwt_token(MARIA).await;
    let titan_link = data("/sobjects/ContentDocumentLink/06ADm0000000002MAA");
    let (s, body) = org
        .patch(&maria, &titan_link, json!({"ShareType": "C"}))
        .await;
    assert_error(s, &body, DENIED, "");
    let (s, body) = org
        .patch(&dana, &titan_link, json!({"ShareType": "C"}))
        .await;
    assert_eq!(s, 204, "{body}");
}

// ---- point 4: lookups on write ----

#[tokio::test]
async fn issue_17_point_4_lookups_must_point_at_readable_records() {
    let org = start().await;
    let k = org.kinetic().await;
    let task = data("/sobjects/Task");
    let mut answers = Vec::new();
    for what in [CASE_1004, ACME, TITAN, &missing_id("500")] {
        let (s, body) = org
            .post(&k, &task, json!({"Subject": "probe", "WhatId": what}))
            .await;
        assert_error(s, &body, DENIED, what);
        answers.push(body[0]["message"].as_str().map(|m| m.replace(what, "ID")));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let (s, body) = org
        .post(&k, &task, json!({"Subject": "own", "WhatId": CASE_1001}))
        .await;
    assert_eq!(s, 201, "{body}");
    let own = body["id"].as_str().expect("id").to_string();
    let (s, body) = org
        .send(
            "PATCH",
            &k,
            &data(&format!("/sobjects/Task/{own}")),
            Some(json!({"WhatId": CASE_1004})),
        )
        .await;
    assert_error(s, &body, DENIED, "re-pointing");
    // Sam and Dana's private deal.
    let sam = org.jwt_token(SAM).await;
    let (s, body) = org
        .post(
            &sam,
            &data("/sobjects/OpportunityContactRole"),
            json!({"OpportunityId": TITAN, "ContactId": "003Dm0000000001IAA", "Role": "Influencer"}),
        )
        .await;
    assert_error(s, &body, DENIED, "contact role");
    let (s, body) = org
        .post(&sam, &task, json!({"Subject": "x", "WhatId": TITAN}))
        .await;
    assert_error(s, &body, DENIED, "task");
    // His own deal works, and the admin still gets the plain answer for a missing id.
    let (s, body) = org
        .post(&sam, &task, json!({"Subject": "x", "WhatId": SAM_DEAL}))
        .await;
    assert_eq!(s, 201, "{body}");
    let ada = org.admin().await;
    let (s, body) = org
        .post(
            &ada,
            &task,
            json!({"Subject": "x", "WhatId": missing_id("006")}),
        )
        .await;
    assert_error(s, &body, (400, "INVALID_CROSS_REFERENCE_KEY"), "");
}

// ---- points 5–7, 9: token endpoints ----

/// Introspects `token` as the app `client_id` (with its `secret`, if any).
async fn introspect(
    org: &Org,
    token: &str,
    (client_id, secret): (&str, Option<&str>),
) -> (u16, Value) {
    let mut form = vec![("token", token), ("client_id", client_id)];
    if let Some(secret) = secret {
        form.push(("client_secret", secret));
    }
    org.post_form("/services/oauth2/introspect", &form).await
}

#[tokio::test]
async fn issue_17_point_5_an_app_introspects_only_its_own_tokens() {
    let org = start().await;
    let admin = org.admin().await;
    let dana = org.jwt_token(DANA).await;
    // The public CLI app cannot see the admin's `full` token, nor can another confidential app.
    let (s, body) = introspect(&org, &admin, ("sayso-cli", None)).await;
    assert_eq!((s, &body), (200, &json!({"active": false})));
    let (s, body) = introspect(&org, &dana, ("kinetic-ltd", Some("kinetic-demo-secret"))).await;
    assert_eq!((s, &body), (200, &json!({"active": false})));
    // The issuing app with its secret sees its token.
    let (s, body) = introspect(
        &org,
        &admin,
        ("sandbox-admin", Some("sandbox-admin-secret")),
    )
    .await;
    assert_eq!((s, body["active"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(body["scope"], "full");
    let (s, _) = introspect(&org, &admin, ("sandbox-admin", Some("no"))).await;
    assert_eq!(s, 401);
    // "Introspect all tokens" is an app setting, off by default.
    org.state.policy.update_config(|c| {
        if let Some(app) = c
            .connected_apps
            .iter_mut()
            .find(|a| a.client_id == "kinetic-ltd")
        {
            app.introspect_all = true;
        }
    });
    let (_, body) = introspect(&org, &dana, ("kinetic-ltd", Some("kinetic-demo-secret"))).await;
    assert_eq!(body["active"], true, "{body}");
}

#[tokio::test]
async fn issue_17_point_6_identity_of_another_user_needs_read_on_user() {
    let org = start().await;
    let k = org.kinetic().await;
    let dana = org.jwt_token(DANA).await;
    let id = |user: &str| format!("/id/{ORG_ID}/{user}");
    let (s, _, body) = org.get(&k, &id(DANA_ID)).await;
    assert_eq!(s, 404, "{body}");
    assert!(!body.to_string().contains("dana"), "{body}");
    let (s, _, body) = org.get(&k, &id(KINETIC_ID)).await;
    assert_eq!(
        (s, body["username"].as_str()),
        (200, Some(KINETIC)),
        "{body}"
    );
    let (s, _, body) = org.get(&dana, &id(SAM_ID)).await;
    assert_eq!((s, body["username"].as_str()), (200, Some(SAM)), "{body}");
}

#[tokio::test]
async fn issue_17_point_7_deactivation_revokes_at_once_and_for_good() {
    use sayso::sandbox::oauth::grant::{NewGrant, create_grant};
    let org = start().await;
    let admin = org.admin().await;
    let dana = org.jwt_token(DANA).await;
    let scopes = vec!["api".to_string(), "refresh_token".to_string()];
    let (_, refresh) = {
        let conn = org.state.lock_db();
        create_grant(
            &conn,
            NewGrant {
                app_name: "sayso CLI",
                client_id: "sayso-cli",
                user_id: DANA_ID,
                scopes: &scopes,
                flow: "authorization_code",
                with_refresh: true,
            },
            chrono::Utc::now().timestamp(),
        )
        .expect("grant")
    };
    let refresh = refresh.expect("a refresh token");
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("client_id", "sayso-cli"),
        ("refresh_token", refresh.as_str()),
    ];
    assert_eq!(org.token(&refresh_form).await.0, 200);
    let user = data(&format!("/sobjects/User/{DANA_ID}"));
    let limits = data("/limits");
    assert_eq!(org.get(&dana, &limits).await.0, 200);
    let (s, body) = org.patch(&admin, &user, json!({"IsActive": false})).await;
    assert_eq!(s, 204, "{body}");
    // No token-endpoint call in between: the session is gone at once.
    assert_eq!(org.get(&dana, &limits).await.0, 401);
    let (s, body) = org.patch(&admin, &user, json!({"IsActive": true})).await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(org.get(&dana, &limits).await.0, 401, "stays revoked");
    let (s, body) = org.token(&refresh_form).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // She can log in again.
    let again = org.jwt_token(DANA).await;
    assert_eq!(org.get(&again, &limits).await.0, 200);
}

#[tokio::test]
async fn issue_17_point_9_jwt_exp_nbf_and_scope_are_enforced() {
    let org = start().await;
    let now = chrono::Utc::now().timestamp();
    let grant = |claims: Value, scope: Option<&'static str>| {
        let org = &org;
        async move {
            let assertion = sign(claims);
            let mut form = vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ];
            if let Some(s) = scope {
                form.push(("scope", s));
            }
            org.token(&form).await
        }
    };
    let claims = |exp: i64, nbf: Option<i64>| {
        let mut c = json!({"iss": "sayso-cli", "sub": DANA, "aud": org.url, "exp": exp});
        if let Some(n) = nbf {
            c["nbf"] = json!(n);
        }
        c
    };
    let (s, body) = grant(claims(now + 365 * 24 * 3600, None), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (s, body) = grant(claims(now + 120, Some(now + 3600)), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (s, body) = grant(claims(now + 120, None), Some("full")).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (s, body) = grant(claims(now + 120, None), Some("api nonsense")).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (s, body) = grant(claims(now + 120, Some(now - 10)), Some("api")).await;
    assert_eq!((s, body["scope"].as_str()), (200, Some("api")), "{body}");
}

// ---- point 8: columns=true ----

#[tokio::test]
async fn issue_17_point_8_column_metadata_applies_object_and_field_security() {
    let org = start().await;
    let k = org.kinetic().await;
    let columns = |soql: &'static str| {
        let org = &org;
        let k = k.clone();
        async move {
            let r = org
                .http
                .get(format!("{}/services/data/{V}/query", org.url))
                .query(&[("q", soql), ("columns", "true")])
                .bearer_auth(k)
                .send()
                .await
                .expect("columns");
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, body) = columns("SELECT Id, Origin FROM Case").await;
    assert_error(s, &body, (400, "INVALID_FIELD"), "");
    let (s, body) = columns("SELECT Id, Name FROM Account").await;
    assert_error(s, &body, (400, "INVALID_TYPE"), "");
    let (s, body) = columns("SELECT FIELDS(ALL) FROM Case LIMIT 10").await;
    assert_eq!(s, 200, "{body}");
    let names = texts(&body["columnMetadata"], "columnName");
    assert!(
        names.contains(&"Subject") && !names.contains(&"Origin"),
        "{names:?}"
    );
}

// ---- point 10: fidelity ----

#[tokio::test]
async fn issue_17_point_10_polymorphic_type_filters_compound_fields_and_unicode_case() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    let ada = org.admin().await;
    let body = org
        .query_ok(
            &dana,
            "SELECT Id, What.Type FROM Task WHERE What.Type = 'Opportunity'",
        )
        .await;
    let recs = body["records"].as_array().expect("records");
    assert!(!recs.is_empty());
    assert!(
        recs.iter().all(|r| r["What"]["Type"] == "Opportunity"),
        "{body}"
    );
    org.query_ok(&dana, "SELECT Id FROM Task WHERE Who.Type = 'Contact'")
        .await;
    let body = org
        .query_ok(
            &dana,
            &format!("SELECT Id, BillingAddress FROM Account WHERE Id = '{ACME}'"),
        )
        .await;
    assert_eq!(
        body["records"][0]["BillingAddress"]["city"], "San Francisco",
        "{body}"
    );
    let (s, body) = org
        .post(
            &ada,
            &data("/sobjects/Account"),
            json!({"Name": "Ünïcödé Ströme"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let counts = [
        (
            "SELECT Id, Owner.Type FROM Case WHERE Owner.Type = 'User'",
            16,
        ),
        ("SELECT Id FROM Account WHERE Name = 'ünïcödé ströme'", 1),
        (
            "SELECT Id FROM Account WHERE Name IN ('ÜNÏCÖDÉ STRÖME', 'x')",
            1,
        ),
    ];
    for (soql, n) in counts {
        let (s, body) = org.query(&ada, soql).await;
        assert_eq!(
            (s, body["totalSize"].as_u64()),
            (200, Some(n)),
            "{soql}: {body}"
        );
    }
}

#[tokio::test]
async fn issue_17_point_10_invalid_soql_versions_routes_and_methods() {
    let org = start().await;
    let ada = org.admin().await;
    for soql in [
        "SELECT Id FROM Account /* all of them */",
        "SELECT Id FROM Account // all",
    ] {
        let (s, body) = org.query(&ada, soql).await;
        assert_error(s, &body, (400, "MALFORMED_QUERY"), soql);
    }
    let (s, body) = org
        .query(
            &ada,
            "SELECT Id FROM Account WHERE Website = 'http://acme.example.com'",
        )
        .await;
    assert_eq!(s, 200, "`//` inside a string is text: {body}");
    let (s, _, body) = org.get(&ada, "/services/data/v9.0/limits").await;
    assert_error(s, &body, (404, "NOT_FOUND"), "");
    let url = format!("/services/data/{V}/search?q=FIND+%7BTitan%7D+RETURNING+Opportunity(Id)");
    let (s, body) = composite_get(&org, &ada, &url).await;
    assert_eq!(s, 200, "{body}");
    let found = body["searchRecords"]
        .as_array()
        .is_some_and(|rs| rs.iter().any(|r| r["Id"] == TITAN));
    assert!(found, "{body}");
    let (s, body) = org
        .send(
            "PUT",
            &ada,
            &data(&format!("/sobjects/Account/{ACME}")),
            Some(json!({"Name": "x"})),
        )
        .await;
    assert_error(s, &body, (405, "METHOD_NOT_ALLOWED"), "");
    assert!(
        body[0]["message"].as_str().unwrap_or("").contains("'PUT'"),
        "{body}"
    );
}

// ---- the security matrix ----

/// What a user may do with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// No access to the object at all.
    NoObject,
    /// The object, but not this record.
    Hidden,
    /// Read, edit and delete.
    Full,
    /// Read and edit (the contractor's own cases: Status only, no delete).
    EditNoDelete,
}

impl Reach {
    fn reads(self) -> bool {
        matches!(self, Reach::Full | Reach::EditNoDelete)
    }
}

/// One record of the matrix: object, id, a word SOSL finds it by, a field each reader may edit.
struct Target {
    object: &'static str,
    id: &'static str,
    word: &'static str,
    edit: (&'static str, &'static str),
}

const TARGETS: [Target; 3] = [
    Target {
        object: "Opportunity",
        id: TITAN,
        word: "Titan",
        edit: ("NextStep", "Matrix step"),
    },
    Target {
        object: "Case",
        id: CASE_1004,
        word: "upgrade",
        edit: ("Status", "Working"),
    },
    Target {
        object: "Case",
        id: CASE_1001,
        word: "Instrumentation",
        edit: ("Status", "Working"),
    },
];

/// user → (reach of each target, may share Dana's note).
fn matrix() -> Vec<(&'static str, [Reach; 3], bool)> {
    use Reach::*;
    vec![
        (DANA, [Full, Hidden, Hidden], true),
        (SAM, [Hidden, Hidden, Hidden], false),
        (ALEX, [Hidden, Hidden, Hidden], false),
        (MARIA, [Full, Hidden, Hidden], false),
        (PRIYA, [Hidden, Full, Hidden], false),
        (ADA, [Full, Full, Full], true),
        (KINETIC, [NoObject, Hidden, EditNoDelete], false),
    ]
}

async fn token_of(org: &Org, user: &str) -> String {
    if user == KINETIC {
        org.kinetic().await
    } else {
        org.jwt_token(user).await
    }
}

/// The query, queryAll, SOSL and sObject GET answers for one user and target.
async fn check_reads(org: &Org, token: &str, user: &str, t: &Target, reach: Reach) {
    let who = format!("{user} × {} {}", t.object, t.id);
    let soql = format!("SELECT Id FROM {} WHERE Id = '{}'", t.object, t.id);
    for path in ["/query", "/queryAll"] {
        let (s, body) = org.get_q(token, &data(path), &soql).await;
        match reach {
            Reach::NoObject => {
                assert_error(s, &body, (400, "INVALID_TYPE"), &format!("{who} {path}"))
            }
            _ => assert_eq!(
                (s, body["totalSize"].as_u64()),
                (200, Some(u64::from(reach.reads()))),
                "{who} {path}: {body}"
            ),
        }
    }
    let sosl = format!("FIND {{{}}} RETURNING {}(Id)", t.word, t.object);
    let (s, body) = org.get_q(token, &data("/search"), &sosl).await;
    if reach == Reach::NoObject {
        assert_eq!(s, 400, "{who} SOSL: {body}");
    } else {
        let found = body["searchRecords"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["Id"] == t.id));
        assert_eq!((s, found), (200, reach.reads()), "{who} SOSL: {body}");
    }
    let row = data(&format!("/sobjects/{}/{}", t.object, t.id));
    let (s, _, body) = org.get(token, &row).await;
    assert_eq!(
        s,
        if reach.reads() { 200 } else { 404 },
        "{who} GET: {body}"
    );
    let (s, _, body) = org
        .get(
            token,
            &data(&format!(
                "/composite/sobjects/{}?ids={}&fields=Id",
                t.object, t.id
            )),
        )
        .await;
    if reach == Reach::NoObject {
        assert_eq!(s, 404, "{who} collections: {body}");
    } else {
        assert_eq!(
            (s, body[0].is_object()),
            (200, reach.reads()),
            "{who} collections: {body}"
        );
    }
    let (sub, body) = composite_get(org, token, &row).await;
    assert_eq!(
        sub,
        if reach.reads() { 200 } else { 404 },
        "{who} composite: {body}"
    );
}

/// Runs a Bulk job to its end; returns the final job info.
async fn finish_job(org: &Org, token: &str, kind: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (_, _, info) = org.get(token, &data(&format!("/jobs/{kind}/{id}"))).await;
        if matches!(
            info["state"].as_str(),
            Some("JobComplete" | "Failed" | "Aborted")
        ) {
            return info;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("job {id} did not finish");
}

/// Bulk query and Bulk ingest answers for one user and target.
async fn check_bulk(org: &Org, token: &str, user: &str, t: &Target, reach: Reach) {
    let who = format!("{user} × {} {}", t.object, t.id);
    let soql = format!("SELECT Id FROM {} WHERE Id = '{}'", t.object, t.id);
    let (s, job) = org
        .post(
            token,
            &data("/jobs/query"),
            json!({"operation": "query", "query": soql}),
        )
        .await;
    if reach == Reach::NoObject {
        assert_eq!(s, 400, "{who} bulk query: {job}");
    } else {
        assert_eq!(s, 200, "{who} bulk query: {job}");
        let id = job["id"].as_str().expect("job id");
        let info = finish_job(org, token, "query", id).await;
        assert_eq!(
            info["numberRecordsProcessed"].as_u64(),
            Some(u64::from(reach.reads())),
            "{who} bulk query: {info}"
        );
    }
    let (s, job) = org
        .post(
            token,
            &data("/jobs/ingest"),
            json!({"object": t.object, "operation": "update", "lineEnding": "LF"}),
        )
        .await;
    if reach == Reach::NoObject {
        assert!(s >= 400, "{who} bulk ingest: {job}");
        return;
    }
    assert!(s == 200 || s == 201, "{who} bulk ingest: {job}");
    let id = job["id"].as_str().expect("job id").to_string();
    let base = format!("{}{}", org.url, data(&format!("/jobs/ingest/{id}")));
    let (field, value) = t.edit;
    let r = org
        .http
        .put(format!("{base}/batches"))
        .bearer_auth(token)
        .header("Content-Type", "text/csv")
        .body(format!("Id,{field}\n{},{value}\n", t.id))
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success(), "{who}");
    let (s, _) = org
        .send(
            "PATCH",
            token,
            &data(&format!("/jobs/ingest/{id}")),
            Some(json!({"state": "UploadComplete"})),
        )
        .await;
    assert_eq!(s, 200, "{who}");
    let info = finish_job(org, token, "ingest", &id).await;
    assert_eq!(
        info["numberRecordsFailed"].as_u64(),
        Some(u64::from(!reach.reads())),
        "{who} bulk ingest: {info}"
    );
}

/// sObject PATCH, lookups on write, note links and finally DELETE for one user and target.
async fn check_writes(org: &Org, token: &str, user: &str, t: &Target, reach: Reach, shares: bool) {
    let who = format!("{user} × {} {}", t.object, t.id);
    let row = data(&format!("/sobjects/{}/{}", t.object, t.id));
    let (field, value) = t.edit;
    let (s, body) = org.patch(token, &row, json!({ field: value })).await;
    assert_eq!(
        s,
        if reach.reads() { 204 } else { 404 },
        "{who} PATCH: {body}"
    );
    let (s, body) = org
        .post(
            token,
            &data("/sobjects/Task"),
            json!({"Subject": "matrix", "WhatId": t.id}),
        )
        .await;
    if reach.reads() {
        assert_eq!(s, 201, "{who} task: {body}");
    } else {
        assert_error(s, &body, DENIED, &format!("{who} task"));
    }
    let (s, body) = org
        .post(
            token,
            &data("/sobjects/ContentDocumentLink"),
            json!({"ContentDocumentId": DANA_NOTE, "LinkedEntityId": t.id, "ShareType": "V"}),
        )
        .await;
    if shares && reach.reads() {
        assert_eq!(s, 201, "{who} note link: {body}");
    } else {
        assert_ne!(s, 201, "{who} note link: {body}");
        if user != KINETIC {
            assert_eq!(
                error_code(&body),
                "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
                "{who} note link: {body}"
            );
        }
    }
    let (s, body) = org.delete(token, &row).await;
    let expected = match reach {
        Reach::Full => 204,
        Reach::EditNoDelete => 400,
        Reach::NoObject | Reach::Hidden => 404,
    };
    assert_eq!(s, expected, "{who} DELETE: {body}");
}

#[tokio::test]
async fn security_matrix_every_user_and_the_contractor_on_every_path() {
    for (user, reaches, shares) in matrix() {
        // A fresh org per user: the writes (and deletes) of one row never affect another.
        let org = start().await;
        let token = token_of(&org, user).await;
        for (t, reach) in TARGETS.iter().zip(reaches) {
            check_reads(&org, &token, user, t, reach).await;
            check_bulk(&org, &token, user, t, reach).await;
            check_writes(&org, &token, user, t, reach, shares).await;
        }
    }
}

// ---- fuzzing ----

/// SOQL-shaped text: keywords, fields, operators, literals and brackets in any order.
fn soql_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("SELECT "),
        Just("FROM "),
        Just("WHERE "),
        Just("Id"),
        Just("Name"),
        Just("Account "),
        Just("Opportunity "),
        Just("Task "),
        Just("Case "),
        Just(" = "),
        Just(" != "),
        Just(" < "),
        Just(" LIKE "),
        Just(" IN "),
        Just(" NOT "),
        Just(" AND "),
        Just(" OR "),
        Just("("),
        Just(")"),
        Just(", "),
        Just("'x'"),
        Just("'%ü_'"),
        Just("5"),
        Just("-1.5e3"),
        Just("null"),
        Just("TODAY"),
        Just("LAST_N_DAYS:3"),
        Just("2026-01-01"),
        Just("2026-01-01T00:00:00Z"),
        Just("COUNT("),
        Just("SUM(Amount)"),
        Just("What.Type"),
        Just("Owner.Name"),
        Just("BillingAddress"),
        Just("GROUP BY "),
        Just("ROLLUP("),
        Just("CUBE("),
        Just(" HAVING "),
        Just(" ORDER BY "),
        Just(" DESC"),
        Just(" NULLS LAST"),
        Just(" LIMIT "),
        Just(" OFFSET "),
        Just("TYPEOF What WHEN Account THEN Name END"),
        Just("FIELDS(ALL)"),
        Just("(SELECT Id FROM Tasks)"),
        Just("(SELECT AccountId FROM Contact)"),
        Just(":x"),
        Just("toLabel(StageName)"),
        Just("USD100"),
        Just("\\'"),
        Just("/*"),
        Just("INCLUDES"),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Queries that are well-formed except for their size or depth.
fn adversarial_soql() -> impl Strategy<Value = String> {
    prop_oneof![
        (0usize..400).prop_map(|n| format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'{}",
            "(".repeat(n),
            ")".repeat(n)
        )),
        (0usize..400).prop_map(|n| format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'",
            "NOT ".repeat(n)
        )),
        (1usize..1500, prop::bool::ANY).prop_map(|(n, and)| {
            let word = if and { " AND " } else { " OR " };
            let terms: Vec<String> = (0..n).map(|i| format!("Name != 'v{i}'")).collect();
            format!("SELECT Id FROM Account WHERE {}", terms.join(word))
        }),
        prop::collection::vec(0usize..4, 0..110).prop_map(|wrappers| {
            let open = ["(", "NOT (", "Name = 'x' OR (", "Name != 'y' AND NOT ("];
            let head: String = wrappers.iter().map(|w| open[*w]).collect();
            let tail = ")".repeat(wrappers.len());
            format!("SELECT Id FROM Account WHERE {head}Name IN ('a', 'b', null){tail}")
        }),
        (1usize..6, 0usize..3).prop_map(|(n, kind)| {
            let fields = [
                "StageName",
                "Type",
                "LeadSource",
                "OwnerId",
                "CloseDate",
                "Name",
            ];
            let list = fields[..n].join(", ");
            let group = ["ROLLUP", "CUBE", ""][kind];
            format!("SELECT {list}, COUNT(Id) FROM Opportunity GROUP BY {group}({list})")
        }),
    ]
}

/// Runs `cases` inputs of `strategy` through `check` on one sandbox (bounded: seconds).
fn fuzz<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(&Org, &str, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (org, token) = rt.block_on(async {
        let org = start().await;
        let token = org.jwt_token(DANA).await;
        (org, token)
    });
    let _guard = rt.enter();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |input| check(&org, &token, input));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A 500 or a dropped connection fails the case; every answer stays Salesforce-shaped.
fn answer_is_sane(status: u16, body: &Value, input: &str) -> Result<(), TestCaseError> {
    let input: String = input.chars().take(300).collect();
    prop_assert!(status != 500, "500 for {input:?}: {body}");
    if status >= 400 {
        prop_assert!(
            body.is_array() || body.get("error").is_some(),
            "{status} body is not an error array for {input:?}: {body}"
        );
    }
    Ok(())
}

#[test]
fn fuzz_random_and_adversarial_soql_never_crashes_or_leaks() {
    let strategy = prop_oneof![
        "\\PC{0,120}".prop_map(|s| s),
        soql_soup(),
        adversarial_soql(),
    ];
    fuzz(300, strategy, |org, token, soql| {
        let handle = tokio::runtime::Handle::current();
        let (s, body) = handle.block_on(composite_query(org, token, &soql));
        answer_is_sane(s, &body, &soql)?;
        let (s, body) = handle.block_on(org.query(token, &soql));
        answer_is_sane(s, &body, &soql)?;
        let sosl = format!("FIND {{acme}} RETURNING Account(Id WHERE {soql})");
        let r = handle.block_on(
            org.http
                .get(format!("{}{}", org.url, data("/search")))
                .query(&[("q", sosl.as_str())])
                .bearer_auth(token)
                .send(),
        );
        let r = r.map_err(|e| TestCaseError::fail(format!("no answer for {sosl:?}: {e}")))?;
        let s = r.status().as_u16();
        let body = handle.block_on(r.json::<Value>()).unwrap_or(Value::Null);
        answer_is_sane(s, &body, &sosl)
    });
}

#[test]
fn fuzz_request_bodies_never_crash_or_leak() {
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::from),
        Just(json!(TITAN)),
        Just(json!(DANA_NOTE)),
        Just(json!(missing_id("001"))),
        Just(json!({"nested": [1, 2]})),
    ];
    let field = prop_oneof![
        Just("Name"),
        Just("WhatId"),
        Just("OwnerId"),
        Just("AccountId"),
        Just("Amount"),
        Just("CloseDate"),
        Just("StageName"),
        Just("LinkedEntityId"),
        Just("ContentDocumentId"),
        Just("IsActive"),
        Just("Bogus__c"),
        Just("attributes"),
        Just("Id"),
    ];
    let object = prop_oneof![
        Just("Account"),
        Just("Opportunity"),
        Just("Task"),
        Just("ContentDocumentLink"),
        Just("ContentNote"),
        Just("User"),
        Just("Nope"),
    ];
    let raw = prop_oneof![
        prop::collection::btree_map(field, value, 0..6)
            .prop_map(|m| serde_json::to_string(&m).unwrap_or_default()),
        "\\PC{0,80}".prop_map(|s| s),
    ];
    fuzz(
        300,
        (object, raw, 0usize..3),
        |org, token, (object, body, route)| {
            let handle = tokio::runtime::Handle::current();
            let (path, text) = match route {
                0 => (data(&format!("/sobjects/{object}")), body.clone()),
                1 => (
                    data("/composite/sobjects"),
                    format!("{{\"allOrNone\": false, \"records\": [{body}]}}"),
                ),
                _ => (
                    data("/composite"),
                    format!(
                        "{{\"compositeRequest\": [{{\"method\": \"POST\", \"referenceId\": \"a\", \"url\": \"/services/data/{V}/sobjects/{object}\", \"body\": {body}}}]}}"
                    ),
                ),
            };
            let r = handle.block_on(
                org.http
                    .post(format!("{}{path}", org.url))
                    .bearer_auth(token)
                    .header("Content-Type", "application/json")
                    .body(text.clone())
                    .send(),
            );
            let r = r.map_err(|e| TestCaseError::fail(format!("no answer for {text:?}: {e}")))?;
            let s = r.status().as_u16();
            let t = handle.block_on(r.text()).unwrap_or_default();
            let body = serde_json::from_str(&t).unwrap_or(Value::String(t));
            answer_is_sane(s, &body, &text)
        },
    );
}
