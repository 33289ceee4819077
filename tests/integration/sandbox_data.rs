//! The sandbox's data API over real HTTP against an in-process sandbox (demo org, today pinned to
//! 2026-05-13): CRUD on every demo object, field errors, derived values, conditional requests,
//! the limits header, sObject Collections, /composite, /composite/batch, Bulk API 2.0 ingest and
//! persistence across restarts.

use sayso::sandbox::{Sandbox, SandboxOptions};

use crate::support::{ADA as ADMIN, DANA, Reply, serve_sandbox, urlencode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const V: &str = "/services/data/v63.0";

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 5, 13).expect("date")
}

struct Org {
    base: String,
    sandbox: Sandbox,
    http: reqwest::Client,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

async fn start_at(db: Option<PathBuf>, fresh: bool) -> Org {
    let options = SandboxOptions {
        db_path: db,
        fresh,
        today: Some(today()),
        ..Default::default()
    };
    let served = serve_sandbox(options, true).await;
    let token = served.sandbox.mint_token(ADMIN).expect("token");
    Org {
        base: served.base,
        sandbox: served.sandbox,
        http: reqwest::Client::new(),
        token,
        stop: Some(served.stop),
        server: Some(served.server),
    }
}

/// The values of `fields` in the record `r`, in that order.
fn picked(r: &Value, fields: &[&str]) -> Vec<Value> {
    fields.iter().map(|f| r[*f].clone()).collect()
}

async fn start() -> Org {
    start_at(None, true).await
}

impl Reply {
    #[track_caller]
    fn error_code(&self) -> String {
        self.json()[0]["errorCode"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.text))
            .to_string()
    }
}

impl Org {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call_as(&self.token, method, path, body, headers).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = if path.starts_with("/services") {
            format!("{}{path}", self.base)
        } else {
            format!("{}{V}{path}", self.base)
        };
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, url).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    async fn raw(&self, method: &str, path: &str, content_type: &str, body: String) -> Reply {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .http
            .request(m, format!("{}{V}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        Reply::read(resp).await
    }

    /// PATCHes `body` to the record at `path` and reads the record back.
    async fn updated(&self, path: &str, body: Value) -> Value {
        self.patch(path, body).await;
        self.get(path).await.json()
    }

    async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, &[]).await
    }

    /// GET the record `id` of `object` (`sobjects/{object}/{id}`).
    async fn record(&self, object: &str, id: &str) -> Reply {
        self.get(&format!("/sobjects/{object}/{id}")).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body), &[]).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(body), &[]).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None, &[]).await
    }

    async fn create(&self, object: &str, body: Value) -> String {
        let r = self.post(&format!("/sobjects/{object}"), body).await;
        assert_eq!(r.status, 201, "create {object}: {}", r.text);
        r.json()["id"].as_str().expect("id").to_string()
    }

    /// Creates a record of `object` and reads it back.
    async fn created(&self, object: &str, body: Value) -> Value {
        let id = self.create(object, body).await;
        self.record(object, &id).await.json()
    }

    async fn count(&self, soql: &str) -> u64 {
        let r = self
            .call("GET", &format!("/query?q={}", urlencode(soql)), None, &[])
            .await;
        assert_eq!(r.status, 200, "{soql}: {}", r.text);
        r.json()["totalSize"].as_u64().expect("totalSize")
    }

    async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_on_every_demo_object() {
    let org = start().await;
    let account = org
        .create(
            "Account",
            json!({"Name": "Crud Co", "Industry": "Technology"}),
        )
        .await;
    let contact = org
        .create(
            "Contact",
            json!({"LastName": "Lovelace", "FirstName": "Ada", "AccountId": account}),
        )
        .await;
    let opp = org.create("Opportunity", json!({"Name": "Crud deal", "StageName": "Prospecting", "CloseDate": "2026-06-30", "AccountId": account})).await;
    let note = org
        .create(
            "ContentNote",
            json!({"Title": "Crud note", "Content": "SGVsbG8gbm90ZQ=="}),
        )
        .await;
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        (
            "Account",
            json!({"Name": "Crud Two"}),
            "Phone",
            json!("555-0100"),
        ),
        (
            "Contact",
            json!({"LastName": "Hopper", "AccountId": account}),
            "Title",
            json!("Rear Admiral"),
        ),
        (
            "Lead",
            json!({"LastName": "Turing", "Company": "Bletchley"}),
            "Rating",
            json!("Hot"),
        ),
        (
            "Opportunity",
            json!({"Name": "Crud two", "StageName": "Qualification", "CloseDate": "2026-07-01"}),
            "Amount",
            json!(1234.5),
        ),
        (
            "Case",
            json!({"Subject": "Broken widget", "AccountId": account}),
            "Priority",
            json!("High"),
        ),
        (
            "Task",
            json!({"Subject": "Call back", "WhatId": opp, "WhoId": contact}),
            "Status",
            json!("In Progress"),
        ),
        (
            "Event",
            json!({"Subject": "Demo", "StartDateTime": "2026-05-20T17:00:00.000+0000", "DurationInMinutes": 30, "WhatId": opp}),
            "Location",
            json!("Zoom"),
        ),
        (
            "ContentNote",
            json!({"Title": "Another note", "Content": "plain text body"}),
            "Title",
            json!("Renamed note"),
        ),
        (
            "ContentDocumentLink",
            json!({"ContentDocumentId": note, "LinkedEntityId": opp, "ShareType": "V"}),
            "Visibility",
            json!("AllUsers"),
        ),
        (
            "OpportunityContactRole",
            json!({"OpportunityId": opp, "ContactId": contact, "Role": "Decision Maker"}),
            "IsPrimary",
            json!(true),
        ),
    ];
    for (object, body, field, value) in cases {
        let id = org.create(object, body).await;
        let prefix = org
            .get(&format!("/sobjects/{object}/describe"))
            .await
            .json()["keyPrefix"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(
            id.starts_with(&prefix) && id.len() == 18,
            "{object} id {id} has prefix {prefix}"
        );
        let r = org.record(object, &id).await;
        assert_eq!(r.status, 200, "{object} read: {}", r.text);
        assert_eq!(r.json()["Id"], json!(id));
        assert_eq!(r.json()["attributes"]["type"], json!(object));
        let r = org
            .patch(&format!("/sobjects/{object}/{id}"), json!({ field: value }))
            .await;
        assert_eq!(r.status, 204, "{object} update: {}", r.text);
        let r = org
            .get(&format!("/sobjects/{object}/{id}?fields={field}"))
            .await;
        assert_eq!(r.json()[field], value, "{object}.{field} after update");
        // 15-character ids work too.
        let r = org.get(&format!("/sobjects/{object}/{}", &id[..15])).await;
        assert_eq!(r.status, 200, "{object} by 15-char id");
        let r = org.delete(&format!("/sobjects/{object}/{id}")).await;
        assert_eq!(r.status, 204, "{object} delete: {}", r.text);
        let r = org.record(object, &id).await;
        assert_eq!(
            (r.status, r.error_code()),
            (404, "ENTITY_IS_DELETED".to_string()),
            "{object} after delete"
        );
        let r = org.delete(&format!("/sobjects/{object}/{id}")).await;
        assert_eq!(r.error_code(), "ENTITY_IS_DELETED");
    }
    // Demo users read and update (User is served but not created here).
    let r = org
        .patch(
            "/sobjects/User/005Dm0000000003IAA",
            json!({"Title": "Senior AE"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        org.get("/sobjects/User/005Dm0000000003IAA").await.json()["Title"],
        json!("Senior AE")
    );
    // Trailing slashes and other versions.
    let r = org
        .get("/services/data/v51.0/sobjects/Account/001Dm0000000001IAA/")
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.json()["attributes"]["url"]
            .as_str()
            .unwrap_or("")
            .starts_with("/services/data/v51.0/")
    );
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_errors_use_salesforce_codes() {
    let org = start().await;
    let opp = |extra: Value| {
        let mut b = json!({"Name": "E", "StageName": "Prospecting", "CloseDate": "2026-06-30"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            b[k] = v;
        }
        b
    };
    let r = org
        .post("/sobjects/Opportunity", json!({"Name": "E"}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!([{"message": "Required fields are missing: [StageName, CloseDate]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["StageName", "CloseDate"]}])
    );
    let r = org
        .post(
            "/sobjects/Opportunity",
            opp(json!({"Name": "x".repeat(121)})),
        )
        .await;
    assert_eq!(r.error_code(), "STRING_TOO_LONG");
    assert_eq!(r.json()[0]["fields"], json!(["Name"]));
    assert!(
        r.json()[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("max length=120")
    );
    // One bad field each: the error code Salesforce answers with.
    let bad_fields = [
        (
            json!({"ForecastCategoryName": "Bogus"}),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        (json!({"Amount": "lots"}), "JSON_PARSER_ERROR"),
        (json!({"CloseDate": "soon"}), "JSON_PARSER_ERROR"),
        (json!({"IsWon": true}), "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (json!({"Bogus__c": 1}), "INVALID_FIELD"),
        (
            json!({"AccountId": "003Dm0000000001IAA"}),
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (
            json!({"AccountId": "001Dm0000000999IAA"}),
            "INVALID_CROSS_REFERENCE_KEY",
        ),
        (json!({"AccountId": "not-an-id"}), "MALFORMED_ID"),
    ];
    for (fields, code) in bad_fields {
        let r = org.post("/sobjects/Opportunity", opp(fields.clone())).await;
        assert_eq!(r.error_code(), code, "{fields}");
        if code == "INVALID_FIELD_FOR_INSERT_UPDATE" {
            assert_eq!(r.json()[0]["fields"], json!(["IsWon"]));
        }
    }
    let r = org
        .raw(
            "POST",
            "/sobjects/Opportunity",
            "application/json",
            "{\"Name\": ".into(),
        )
        .await;
    assert_eq!(r.error_code(), "JSON_PARSER_ERROR");
    let bad_reads = [
        (
            "/sobjects/Opportunity/001Dm0000000001IAA",
            400,
            "MALFORMED_ID",
        ),
        ("/sobjects/Opportunity/006Dm0000000999IAA", 404, "NOT_FOUND"),
        ("/sobjects/Widget__c/describe", 404, "NOT_FOUND"),
    ];
    for (path, status, code) in bad_reads {
        let r = org.get(path).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (status, code),
            "{path}"
        );
    }
    let r = org
        .get("/sobjects/Opportunity/006Dm0000000001IAA?fields=Name,Nope")
        .await;
    assert_eq!(r.error_code(), "INVALID_FIELD");
    let r = org
        .patch(
            "/sobjects/Opportunity/006Dm0000000001IAA",
            json!({"StageName": null}),
        )
        .await;
    assert_eq!(r.error_code(), "REQUIRED_FIELD_MISSING");
    let r = org.patch("/sobjects/Opportunity", json!({})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (405, "METHOD_NOT_ALLOWED".to_string())
    );
    let r = org
        .call_as(
            "00DDm0000000001!bogus",
            "GET",
            "/sobjects/Account/001Dm0000000001IAA",
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_derives_values_on_write() {
    let org = start().await;
    let id = org.create("Opportunity", json!({"Name": "Won", "StageName": "Closed Won", "CloseDate": "2026-05-01", "Amount": 1000})).await;
    let r = org.record("Opportunity", &id).await.json();
    assert_eq!(
        (r["IsClosed"].clone(), r["IsWon"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(r["Probability"], json!(100.0));
    assert_eq!(r["ForecastCategoryName"], json!("Closed"));
    assert_eq!(r["ExpectedRevenue"], json!(1000.0));
    assert_eq!(r["CreatedById"], json!("005Dm0000000001IAA"));
    assert_eq!(r["OwnerId"], json!("005Dm0000000001IAA"));
    assert!(r["CreatedDate"].as_str().unwrap_or("").ends_with("+0000"));
    let created = r["LastModifiedDate"].clone();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A new stage resets Probability unless it is sent explicitly.
    let opp_path = format!("/sobjects/Opportunity/{id}");
    let stage = json!({"StageName": "Negotiation/Review", "Probability": 95});
    let r = org.updated(&opp_path, stage).await;
    assert_eq!(
        picked(&r, &["Probability", "IsClosed", "ForecastCategoryName"]),
        [json!(95.0), json!(false), json!("Pipeline")]
    );
    assert_eq!(r["ExpectedRevenue"], json!(950.0));
    assert_ne!(
        r["LastModifiedDate"], created,
        "LastModifiedDate moves on update"
    );
    let r = org
        .updated(&opp_path, json!({"StageName": "Closed Lost"}))
        .await;
    assert_eq!(
        picked(&r, &["Probability", "IsWon", "ForecastCategoryName"]),
        [json!(0.0), json!(false), json!("Omitted")]
    );
    // Names.
    let c = org
        .create(
            "Contact",
            json!({"FirstName": "Grace", "LastName": "Hopper"}),
        )
        .await;
    assert_eq!(
        org.record("Contact", &c).await.json()["Name"],
        json!("Grace Hopper")
    );
    org.patch(
        &format!("/sobjects/Contact/{c}"),
        json!({"LastName": "Murray"}),
    )
    .await;
    assert_eq!(
        org.record("Contact", &c).await.json()["Name"],
        json!("Grace Murray")
    );
    let lead = org
        .created("Lead", json!({"LastName": "Solo", "Company": "Falcon"}))
        .await;
    assert_eq!(
        (lead["Name"].clone(), lead["Status"].clone()),
        (json!("Solo"), json!("Open - Not Contacted"))
    );
    // Case numbers continue after the demo data.
    let c1 = org.create("Case", json!({"Subject": "One"})).await;
    let c2 = org.create("Case", json!({"Subject": "Two"})).await;
    let mut numbers = Vec::new();
    for id in [&c1, &c2] {
        let case = org.record("Case", id).await.json();
        numbers.push(case["CaseNumber"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(numbers, ["00001017", "00001018"]);
    let case = org
        .updated(&format!("/sobjects/Case/{c1}"), json!({"Status": "Closed"}))
        .await;
    assert_eq!(case["IsClosed"], json!(true));
    assert!(case["ClosedDate"].is_string());
    // Tasks close with their status.
    let task = org
        .created("Task", json!({"Subject": "Call", "Status": "Completed"}))
        .await;
    assert_eq!(
        (task["IsClosed"].clone(), task["Priority"].clone()),
        (json!(true), json!("Normal"))
    );
    // ContentNote: base64 in, preview derived, body served at the Content URL.
    let n = org
        .create(
            "ContentNote",
            json!({"Title": "Call notes", "Content": "SmFuZSBhcHByb3ZlZCB0aGUgYnVkZ2V0Lg=="}),
        )
        .await;
    let note = org.record("ContentNote", &n).await.json();
    assert_eq!(note["TextPreview"], json!("Jane approved the budget."));
    let url = note["Content"].as_str().unwrap_or("").to_string();
    assert_eq!(url, format!("{V}/sobjects/ContentNote/{n}/Content"));
    let body = org.get(&url).await;
    assert_eq!(
        (body.status, body.text.as_str()),
        (200, "Jane approved the budget.")
    );
    let demo = org
        .get(&format!(
            "{V}/sobjects/ContentNote/069Dm0000000001IAA/Content"
        ))
        .await;
    assert!(demo.text.starts_with("Jane said the budget is approved"));
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_requests_answer_412_and_304() {
    let org = start().await;
    let path = "/sobjects/Account/001Dm0000000001IAA";
    let r = org.get(path).await;
    let etag = r.header("etag");
    let last_modified = r.header("last-modified");
    assert!(etag.starts_with('"') && !last_modified.is_empty());
    let stale_date = "Tue, 10 Aug 2015 00:00:00 GMT";
    let phone = |n: &str| Some(json!({"Phone": n}));
    for condition in [
        ("If-Match", "\"stale\""),
        ("If-Unmodified-Since", stale_date),
    ] {
        let r = org.call("PATCH", path, phone("1"), &[condition]).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (412, "PRECONDITION_FAILED"),
            "{condition:?}"
        );
    }
    assert_eq!(
        org.get(path).await.json()["Phone"],
        json!("(555) 0100-1000"),
        "a refused PATCH changes nothing"
    );
    let r = org
        .call("PATCH", path, phone("2"), &[("If-Match", &etag)])
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The ETag changed, so the old one no longer matches.
    let r = org
        .call("PATCH", path, phone("3"), &[("If-Match", &etag)])
        .await;
    assert_eq!(r.status, 412);
    let current = org.get(path).await.header("etag");
    let describe = "/sobjects/Account/describe";
    let reads = [
        (path, ("If-None-Match", current.as_str()), 304),
        (
            describe,
            ("If-Modified-Since", "Sun, 22 Nov 2037 00:00:00 GMT"),
            304,
        ),
        (describe, ("If-Modified-Since", stale_date), 200),
    ];
    for (read, condition, status) in reads {
        let r = org.call("GET", read, None, &[condition]).await;
        assert_eq!(r.status, status, "{read} {condition:?}");
    }
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_data_call_counts_and_reports_usage() {
    let org = start().await;
    let first = org
        .record("Account", "001Dm0000000001IAA")
        .await
        .header("sforce-limit-info");
    let second = org.get("/limits").await;
    let used = |h: &str| -> (u64, u64) {
        let v = h.strip_prefix("api-usage=").expect("api-usage first");
        let (a, b) = v
            .split(';')
            .next()
            .unwrap_or(v)
            .split_once('/')
            .expect("N/M");
        (a.parse().expect("N"), b.trim().parse().expect("M"))
    };
    let (n1, max) = used(&first);
    let (n2, _) = used(&second.header("sforce-limit-info"));
    assert_eq!(max, 15000);
    assert_eq!(n2, n1 + 1);
    assert_eq!(
        second.json()["DailyApiRequests"],
        json!({"Max": 15000, "Remaining": 15000 - n2})
    );
    // The versions list is neither authenticated nor counted.
    let r = org
        .http
        .get(format!("{}/services/data", org.base))
        .send()
        .await
        .expect("versions");
    assert!(r.headers().get("sforce-limit-info").is_none());
    let versions: Value = r.json().await.expect("json");
    assert!(
        versions
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v["version"] == "63.0"))
    );
    // A failed call still counts; a batch counts each subrequest.
    let (n3, _) = used(
        &org.get("/sobjects/Account/001Dm0000000999IAA")
            .await
            .header("sforce-limit-info"),
    );
    assert_eq!(n3, n2 + 1);
    let batch = json!({"batchRequests": [
        {"method": "GET", "url": "v63.0/sobjects/Account/001Dm0000000001IAA"},
        {"method": "GET", "url": "v63.0/sobjects/Account/001Dm0000000002IAA"},
        {"method": "GET", "url": "v63.0/sobjects/Account/001Dm0000000003IAA"}]});
    let (n4, _) = used(
        &org.post("/composite/batch", batch)
            .await
            .header("sforce-limit-info"),
    );
    assert_eq!(n4, n3 + 3);
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_roll_back_with_all_or_none() {
    let org = start().await;
    let before = org.count("SELECT COUNT() FROM Account").await;
    let records = json!([
        {"attributes": {"type": "Account"}, "Name": "Coll A"},
        {"attributes": {"type": "Account"}},
        {"attributes": {"type": "Contact"}, "LastName": "Coll C"}]);
    let r = org
        .post(
            "/composite/sobjects",
            json!({"allOrNone": true, "records": records}),
        )
        .await;
    assert_eq!(r.status, 200);
    let res = r.json();
    assert_eq!(res[0]["success"], json!(false));
    assert_eq!(
        res[0]["errors"][0]["statusCode"],
        json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
    );
    assert_eq!(
        res[1]["errors"][0]["statusCode"],
        json!("REQUIRED_FIELD_MISSING")
    );
    assert_eq!(res[1]["errors"][0]["fields"], json!(["Name"]));
    assert_eq!(
        org.count("SELECT COUNT() FROM Account").await,
        before,
        "nothing committed"
    );
    assert_eq!(
        org.count("SELECT COUNT() FROM Contact WHERE LastName = 'Coll C'")
            .await,
        0
    );
    let r = org
        .post(
            "/composite/sobjects",
            json!({"allOrNone": false, "records": records}),
        )
        .await
        .json();
    assert_eq!(
        (
            r[0]["success"].clone(),
            r[1]["success"].clone(),
            r[2]["success"].clone()
        ),
        (json!(true), json!(false), json!(true))
    );
    let a = r[0]["id"].as_str().expect("id").to_string();
    let c = r[2]["id"].as_str().expect("id").to_string();
    assert_eq!(org.count("SELECT COUNT() FROM Account").await, before + 1);
    // Update: one bad id among good ones.
    let upd = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "id": a, "NumberOfEmployees": 27000},
        {"attributes": {"type": "Contact"}, "id": "001Dm0000000001IAA", "Title": "x"}]});
    let r = org.patch("/composite/sobjects", upd).await.json();
    assert_eq!(r[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(r[1]["errors"][0]["statusCode"], json!("MALFORMED_ID"));
    // Retrieve, then delete both.
    let r = org
        .get(&format!(
            "/composite/sobjects/Account?ids={a},001Dm0000000999IAA&fields=Id,NumberOfEmployees"
        ))
        .await
        .json();
    assert_eq!(r[0]["NumberOfEmployees"], json!(27000));
    assert_eq!(r[1], Value::Null);
    let r = org
        .delete(&format!("/composite/sobjects?ids={a},{c}&allOrNone=true"))
        .await
        .json();
    assert_eq!(
        (r[0]["success"].clone(), r[1]["success"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        org.record("Contact", &c).await.error_code(),
        "ENTITY_IS_DELETED"
    );
    // Upsert by an idLookup field.
    let up = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Contact"}, "Email": "sarah.chen@acme.example.com", "Title": "COO"},
        {"attributes": {"type": "Contact"}, "Email": "new.person@example.com", "LastName": "Person"}]});
    let r = org
        .patch("/composite/sobjects/Contact/Email", up)
        .await
        .json();
    assert_eq!(
        (r[0]["created"].clone(), r[1]["created"].clone()),
        (json!(false), json!(true)),
        "{r}"
    );
    assert_eq!(
        org.get("/sobjects/Contact/003Dm0000000001IAA").await.json()["Title"],
        json!("COO")
    );
    // More than 200 records is refused.
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("N{i}")}))
        .collect();
    let r = org
        .post("/composite/sobjects", json!({"records": many}))
        .await;
    assert_eq!(r.status, 400);
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_resolves_references_and_rolls_back() {
    let org = start().await;
    let req = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Account"), "referenceId": "refAccount", "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": format!("{V}/sobjects/Contact"), "referenceId": "refContact",
         "body": {"LastName": "Ref", "AccountId": "@{refAccount.id}"}},
        {"method": "GET", "url": format!("{V}/query?q=SELECT+Id,LastName+FROM+Contact+WHERE+AccountId='@{{refAccount.id}}'"), "referenceId": "refQuery"},
        {"method": "PATCH", "url": format!("{V}/sobjects/Contact/@{{refQuery.records[0].Id}}"), "referenceId": "refUpdate", "body": {"Title": "Found"}},
        {"method": "GET", "url": format!("{V}/sobjects/Contact/@{{refContact.id}}?fields=Title,AccountId"), "referenceId": "refRead"}]});
    let r = org.post("/composite", req).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let out = r.json()["compositeResponse"].clone();
    assert_eq!(out[0]["httpStatusCode"], json!(201));
    assert!(
        out[0]["httpHeaders"]["Location"]
            .as_str()
            .unwrap_or("")
            .contains("/sobjects/Account/")
    );
    let account = out[0]["body"]["id"].as_str().expect("id").to_string();
    assert_eq!(out[2]["body"]["totalSize"], json!(1));
    assert_eq!(out[3]["httpStatusCode"], json!(204));
    assert_eq!(out[4]["body"]["Title"], json!("Found"));
    assert_eq!(out[4]["body"]["AccountId"], json!(account));
    assert_eq!(out[4]["referenceId"], json!("refRead"));
    // allOrNone: the second subrequest fails, so the first is rolled back.
    let req = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Account"), "referenceId": "a", "body": {"Name": "Rolled Back Co"}},
        {"method": "POST", "url": format!("{V}/sobjects/Contact"), "referenceId": "c", "body": {"AccountId": "@{a.id}"}}]});
    let out = org.post("/composite", req).await.json()["compositeResponse"].clone();
    assert_eq!(out[0]["body"][0]["errorCode"], json!("PROCESSING_HALTED"));
    assert_eq!(
        out[1]["body"][0]["errorCode"],
        json!("REQUIRED_FIELD_MISSING")
    );
    assert_eq!(
        org.count("SELECT COUNT() FROM Account WHERE Name = 'Rolled Back Co'")
            .await,
        0
    );
    // Without allOrNone only dependents of a failure are skipped.
    let req = json!({"compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Contact"), "referenceId": "bad", "body": {"FirstName": "NoLast"}},
        {"method": "PATCH", "url": format!("{V}/sobjects/Contact/@{{bad.id}}"), "referenceId": "dependent", "body": {"Title": "x"}},
        {"method": "POST", "url": format!("{V}/sobjects/Account"), "referenceId": "fine", "body": {"Name": "Kept Co"}}]});
    let out = org.post("/composite", req).await.json()["compositeResponse"].clone();
    assert_eq!(out[1]["body"][0]["errorCode"], json!("PROCESSING_HALTED"));
    assert_eq!(out[2]["httpStatusCode"], json!(201));
    assert_eq!(
        org.count("SELECT COUNT() FROM Account WHERE Name = 'Kept Co'")
            .await,
        1
    );
    // Batch: independent subrequests, haltOnError.
    let req = json!({"haltOnError": true, "batchRequests": [
        {"method": "PATCH", "url": "v63.0/sobjects/Account/001Dm0000000001IAA", "richInput": {"Name": "Acme Corporation"}},
        {"method": "GET", "url": "v63.0/sobjects/Account/001Dm0000000999IAA"},
        {"method": "GET", "url": "v63.0/sobjects/Account/001Dm0000000001IAA?fields=Name"}]});
    let r = org.post("/composite/batch", req).await.json();
    assert_eq!(r["hasErrors"], json!(true));
    assert_eq!(r["results"][0], json!({"statusCode": 204, "result": null}));
    assert_eq!(r["results"][1]["statusCode"], json!(404));
    assert_eq!(r["results"][2]["statusCode"], json!(412));
    assert_eq!(
        org.get("/sobjects/Account/001Dm0000000001IAA").await.json()["Name"],
        json!("Acme Corporation")
    );
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_subrequests_honour_their_conditional_headers() {
    let org = start().await;
    let titan = "006Dm0000000001IAA";
    // A guard older than the record's last change: the PATCH answers 412 and, with allOrNone,
    // the note created before it is rolled back.
    let req = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Account"), "referenceId": "a", "body": {"Name": "Guarded Co"}},
        {"method": "PATCH", "url": format!("{V}/sobjects/Opportunity/{titan}"), "referenceId": "u",
         "httpHeaders": {"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
         "body": {"StageName": "Closed Won"}}]});
    let out = org.post("/composite", req).await.json()["compositeResponse"].clone();
    assert_eq!(out[1]["httpStatusCode"], json!(412), "{out}");
    assert_eq!(
        org.count("SELECT COUNT() FROM Account WHERE Name = 'Guarded Co'")
            .await,
        0
    );
    assert_eq!(
        org.get(&format!("/sobjects/Opportunity/{titan}?fields=StageName"))
            .await
            .json()["StageName"],
        json!("Prospecting")
    );
    // A guard from the future passes.
    let req = json!({"allOrNone": true, "compositeRequest": [
        {"method": "PATCH", "url": format!("{V}/sobjects/Opportunity/{titan}"), "referenceId": "u",
         "httpHeaders": {"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
         "body": {"StageName": "Closed Won"}}]});
    let out = org.post("/composite", req).await.json()["compositeResponse"].clone();
    assert_eq!(out[0]["httpStatusCode"], json!(204), "{out}");
    org.shutdown().await;
}

async fn run_bulk(org: &Org, job: Value, csv: String) -> Value {
    let r = org.post("/jobs/ingest", job).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], json!("Open"));
    let id = r.json()["id"].as_str().expect("job id").to_string();
    assert!(id.starts_with("750"));
    let r = org
        .raw(
            "PUT",
            &format!("/jobs/ingest/{id}/batches"),
            "text/csv",
            csv,
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (201, ""));
    let r = org
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(r.json()["state"], json!("UploadComplete"));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = org.get(&format!("/jobs/ingest/{id}")).await.json();
        match info["state"].as_str() {
            Some("JobComplete") => return info,
            Some("Failed" | "Aborted") => panic!("job ended badly: {info}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "bulk job did not finish: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn results(org: &Org, id: &str, which: &str) -> Reply {
    let r = org.get(&format!("/jobs/ingest/{id}/{which}/")).await;
    assert_eq!(r.status, 200, "{which}: {}", r.text);
    assert!(r.header("content-type").starts_with("text/csv"));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_ingest_insert_upsert_update_delete() {
    let org = start().await;
    let mut csv = String::from("Name,StageName,CloseDate,Amount\n");
    for i in 0..2000 {
        csv.push_str(&format!(
            "Bulk {i},Prospecting,2026-09-{:02},{}\n",
            i % 28 + 1,
            i * 10
        ));
    }
    csv.push_str("Bad row,Prospecting,not-a-date,5\n");
    let info = run_bulk(&org, json!({"object": "Opportunity", "operation": "insert", "lineEnding": "LF", "columnDelimiter": "COMMA"}), csv).await;
    assert_eq!(
        (
            info["numberRecordsProcessed"].clone(),
            info["numberRecordsFailed"].clone()
        ),
        (json!(2001), json!(1))
    );
    assert_eq!(info["apiVersion"], json!(63.0));
    let id = info["id"].as_str().expect("id").to_string();
    let ok = results(&org, &id, "successfulResults").await.text;
    let lines: Vec<&str> = ok.lines().collect();
    assert_eq!(
        lines[0],
        "\"sf__Id\",\"sf__Created\",Name,StageName,CloseDate,Amount"
    );
    assert_eq!(lines.len(), 2001);
    assert!(
        lines[1].starts_with("\"006Sy") && lines[1].contains("\"true\",\"Bulk 0\""),
        "{}",
        lines[1]
    );
    let failed = results(&org, &id, "failedResults").await.text;
    let lines: Vec<&str> = failed.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("\"\",\"INVALID_TYPE_ON_FIELD_IN_RECORD:Close Date: value not of required type: not-a-date:CloseDate --\""), "{}", lines[1]);
    assert_eq!(
        org.count("SELECT COUNT() FROM Opportunity WHERE Name LIKE 'Bulk %'")
            .await,
        2000
    );
    let first_id = ok
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .unwrap_or("")
        .trim_matches('"')
        .to_string();
    // Upsert by Email on Contact, pipe-delimited.
    let csv = "Email|LastName|Title\nsarah.chen@acme.example.com|Chen|Chief Ops\nbrand.new@example.com|New|Intern\n".to_string();
    let info = run_bulk(&org, json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Email", "columnDelimiter": "PIPE"}), csv).await;
    let up = results(&org, info["id"].as_str().expect("id"), "successfulResults")
        .await
        .text;
    assert!(
        up.contains("\"false\"|\"sarah.chen@acme.example.com\"")
            && up.contains("\"true\"|\"brand.new@example.com\""),
        "{up}"
    );
    assert_eq!(
        org.get("/sobjects/Contact/003Dm0000000001IAA").await.json()["Title"],
        json!("Chief Ops")
    );
    // Update and delete by Id.
    let info = run_bulk(
        &org,
        json!({"object": "Opportunity", "operation": "update"}),
        format!("Id,StageName\n{first_id},Closed Won\n006Dm0000000999IAA,Closed Won\n"),
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], json!(1));
    let failed = results(&org, info["id"].as_str().expect("id"), "failedResults")
        .await
        .text;
    assert!(failed.contains("NOT_FOUND"), "{failed}");
    assert_eq!(
        org.record("Opportunity", &first_id).await.json()["IsWon"],
        json!(true)
    );
    let info = run_bulk(
        &org,
        json!({"object": "Opportunity", "operation": "delete"}),
        format!("Id\n{first_id}\n"),
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], json!(0));
    assert_eq!(
        org.record("Opportunity", &first_id).await.error_code(),
        "ENTITY_IS_DELETED"
    );
    // Aborting an open job leaves every row unprocessed; the job list shows it; delete removes it.
    let r = org
        .post(
            "/jobs/ingest",
            json!({"object": "Account", "operation": "insert"}),
        )
        .await
        .json();
    let aborted = r["id"].as_str().expect("id").to_string();
    org.raw(
        "PUT",
        &format!("/jobs/ingest/{aborted}/batches"),
        "text/csv",
        "Name\nA1\nA2\n".into(),
    )
    .await;
    assert_eq!(
        org.patch(
            &format!("/jobs/ingest/{aborted}"),
            json!({"state": "Aborted"})
        )
        .await
        .json()["state"],
        json!("Aborted")
    );
    let un = org
        .get(&format!("/jobs/ingest/{aborted}/unprocessedRecords"))
        .await
        .text;
    assert_eq!(un, "Name\nA1\nA2\n");
    let list = org.get("/jobs/ingest").await.json();
    assert!(
        list["records"]
            .as_array()
            .is_some_and(|a| a.iter().any(|j| j["id"] == json!(aborted)))
    );
    assert_eq!(
        org.delete(&format!("/jobs/ingest/{aborted}")).await.status,
        204
    );
    assert_eq!(
        org.get(&format!("/jobs/ingest/{aborted}")).await.status,
        404
    );
    let r = org
        .post(
            "/jobs/ingest",
            json!({"object": "Nope", "operation": "insert"}),
        )
        .await;
    assert_eq!(r.status, 400);
    org.shutdown().await;
}

/// Inserts `n` Opportunities straight into the store (test setup for the big bulk update).
fn seed_opportunities(sandbox: &Sandbox, n: u64) -> Vec<String> {
    let conn = sandbox.state().lock_db();
    let mut ids = Vec::with_capacity(n as usize);
    conn.execute_batch("BEGIN").expect("begin");
    {
        let mut stmt = conn
            .prepare(
                "INSERT INTO \"Opportunity\" (\"Id\", \"Name\", \"StageName\", \"CloseDate\", \"Amount\", \"OwnerId\", \"IsDeleted\", \"IsClosed\", \"IsWon\", \"IsPrivate\")
                 VALUES (?1, ?2, 'Prospecting', '2026-08-01', 100.0, '005Dm0000000001IAA', 0, 0, 0, 0)",
            )
            .expect("prepare");
        for i in 0..n {
            let id = sayso::id::RecordId::from_parts("006", "Zz", i + 1).to_string();
            stmt.execute(rusqlite::params![id, format!("Seeded {i}")])
                .expect("insert");
            ids.push(id);
        }
    }
    conn.execute_batch("COMMIT").expect("commit");
    ids
}

async fn bulk_update_of(n: u64) {
    let org = start().await;
    let ids = seed_opportunities(&org.sandbox, n);
    let mut csv = String::with_capacity(ids.len() * 48);
    csv.push_str("Id,StageName,Amount\n");
    for (i, id) in ids.iter().enumerate() {
        csv.push_str(&format!("{id},Negotiation/Review,{}\n", i * 2));
    }
    csv.push_str("006Dm0000000999IAA,Closed Won,1\n");
    csv.push_str(&format!("{},Closed Won,lots\n", ids[0]));
    let info = run_bulk(
        &org,
        json!({"object": "Opportunity", "operation": "update"}),
        csv,
    )
    .await;
    assert_eq!(info["numberRecordsProcessed"], json!(n + 2));
    assert_eq!(info["numberRecordsFailed"], json!(2));
    let id = info["id"].as_str().expect("id").to_string();
    let ok = results(&org, &id, "successfulResults").await.text;
    assert_eq!(ok.lines().count() as u64, n + 1);
    assert!(
        ok.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&format!("\"{}\",\"false\",", ids[0])))
    );
    let failed = results(&org, &id, "failedResults").await.text;
    assert_eq!(failed.lines().count(), 3);
    assert!(failed.contains("INVALID_TYPE_ON_FIELD_IN_RECORD"));
    let last = &ids[ids.len() - 1];
    let r = org
        .get(&format!("/sobjects/Opportunity/{last}"))
        .await
        .json();
    assert_eq!(
        (
            r["StageName"].clone(),
            r["Probability"].clone(),
            r["Amount"].clone()
        ),
        (
            json!("Negotiation/Review"),
            json!(90.0),
            json!(((n - 1) * 2) as f64)
        )
    );
    assert_eq!(org.count("SELECT COUNT() FROM Opportunity WHERE StageName = 'Negotiation/Review' AND Name LIKE 'Seeded%'").await, n);
    // The sandbox keeps the planner's statistics (at open and after each Bulk load): an id lookup
    // under a non-admin's sharing filter (`OwnerId IN (…)`) is driven by the id, not by the
    // owner's index (without statistics SQLite took that one and scanned all the owner's rows).
    let plan: Vec<String> = {
        let conn = org.sandbox.state().lock_db();
        let some: Vec<String> = ids.iter().take(200).map(|i| format!("'{i}'")).collect();
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT t.\"Id\" FROM \"Opportunity\" t WHERE t.\"OwnerId\" IN ('005Dm0000000001IAA') AND t.\"Id\" IN ({}) ORDER BY t.\"Id\" LIMIT 2000",
            some.join(",")
        );
        let mut st = conn.prepare(&sql).expect("plan");
        st.query_map([], |r| r.get::<_, String>(3))
            .expect("plan rows")
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        plan.iter()
            .any(|d| d.contains("sqlite_autoindex_Opportunity_1")),
        "{plan:?}"
    );
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_update_of_2000_rows() {
    bulk_update_of(2000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    debug_assertions,
    ignore = "50,000-row bulk update runs in release (`cargo test --release`)"
)]
async fn bulk_update_of_50000_rows() {
    bulk_update_of(50_000).await;
}

fn db_in(dir: &Path) -> PathBuf {
    dir.join("sandbox.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_restart_and_fresh_reloads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let org = start_at(Some(db_in(dir.path())), true).await;
    let id = org
        .create("Account", json!({"Name": "Persistent Co"}))
        .await;
    org.patch(
        "/sobjects/Opportunity/006Dm0000000001IAA",
        json!({"StageName": "Closed Won"}),
    )
    .await;
    org.shutdown().await;
    let org = start_at(Some(db_in(dir.path())), false).await;
    assert_eq!(
        org.record("Account", &id).await.json()["Name"],
        json!("Persistent Co")
    );
    assert_eq!(
        org.get("/sobjects/Opportunity/006Dm0000000001IAA")
            .await
            .json()["IsWon"],
        json!(true)
    );
    let next = org
        .create("Account", json!({"Name": "After Restart"}))
        .await;
    assert_ne!(next, id, "new ids continue after a restart");
    org.shutdown().await;
    let org = start_at(Some(db_in(dir.path())), true).await;
    assert_eq!(org.record("Account", &id).await.status, 404);
    assert_eq!(
        org.get("/sobjects/Opportunity/006Dm0000000001IAA")
            .await
            .json()["StageName"],
        json!("Prospecting")
    );
    org.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_is_rewritten_and_per_user() {
    let org = start().await;
    let r = org
        .get("/services/data/v60.0/sobjects/Opportunity/describe/")
        .await;
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(
        d["urls"]["sobject"],
        json!("/services/data/v60.0/sobjects/Opportunity")
    );
    assert!(
        !r.text.contains("vxx.0") && !r.text.contains("salesforce.com"),
        "URLs rewritten"
    );
    assert!(
        d["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "Budget_Approved__c")),
        "overlay fields served"
    );
    assert!(
        d["childRelationships"]
            .as_array()
            .is_some_and(|c| c.iter().all(|r| r["childSObject"] != "OpportunityHistory"))
    );
    let g = org.get("/sobjects").await.json();
    let names: Vec<&str> = g["sobjects"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"Opportunity") && names.contains(&"ContentNote"));
    let basic = org.get("/sobjects/Account").await.json();
    assert_eq!(basic["objectDescribe"]["keyPrefix"], json!("001"));
    assert!(basic["recentItems"].is_array());
    // Per user: the contractor's describe of Case hides fields it may not read and marks
    // read-only ones as not updateable.
    let kinetic = org
        .sandbox
        .mint_token("kinetic.integration@demo.sayso.dev")
        .expect("token");
    let r = org
        .call_as(&kinetic, "GET", "/sobjects/Case/describe", None, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fields = r.json()["fields"].clone();
    let field = |n: &str| {
        fields
            .as_array()
            .and_then(|a| a.iter().find(|f| f["name"] == n).cloned())
    };
    assert!(field("Subject").is_some_and(|f| f["updateable"] == json!(false)));
    assert!(field("Status").is_some_and(|f| f["updateable"] == json!(true)));
    assert!(field("SuppliedEmail").is_none(), "hidden fields vanish");
    let dana = org.sandbox.mint_token(DANA).expect("token");
    let r = org.call_as(&dana, "GET", "/", None, &[]).await;
    assert!(
        r.json()["sobjects"]
            .as_str()
            .is_some_and(|s| s.ends_with("/services/data/v63.0/sobjects"))
    );
    org.shutdown().await;
}
