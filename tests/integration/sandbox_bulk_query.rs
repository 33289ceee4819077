//! Bulk API 2.0 query jobs over real HTTP against an in-process sandbox: create → poll → CSV
//! pages whose locators reassemble exactly the REST query's rows, a snapshot that later writes do
//! not change, queryAll vs query after a delete, sharing and field-level security of the creator,
//! error shapes of bad and unsupported SOQL, abort and delete, CSV options, and API-call counting.

use sayso::sandbox::bulk::query as bulk_query;
use sayso::sandbox::{Sandbox, SandboxOptions};

use crate::support::{ADA as ADMIN, DANA, KINETIC, MARIA, Reply, serve_sandbox};
use serde_json::{Value, json};
use std::time::Duration;

const JOBS: &str = "/services/data/v63.0/jobs/query";

struct Org {
    base: String,
    sandbox: Sandbox,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the sandbox. With `worker`, `serve` runs the Bulk workers; without, only the router is
/// served and the test runs jobs itself with [`bulk_query::process_job`] (to abort them first).
async fn start(worker: bool) -> Org {
    let options = SandboxOptions {
        db_path: None,
        fresh: true,
        today: Some(chrono::NaiveDate::from_ymd_opt(2026, 5, 13).expect("date")),
        ..Default::default()
    };
    let served = serve_sandbox(options, worker).await;
    Org {
        base: served.base,
        sandbox: served.sandbox,
        client: reqwest::Client::new(),
        _stop: served.stop,
    }
}

impl Reply {
    #[track_caller]
    fn error(&self, status: u16, code: &str) -> String {
        let body = self.json();
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(body[0]["errorCode"], json!(code), "{}", self.text);
        body[0]["message"].as_str().unwrap_or("").to_string()
    }
}

impl Org {
    async fn send(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.sandbox.mint_token(user).expect("token"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    async fn patch(&self, user: &str, path: &str, body: Value) -> Reply {
        let method = reqwest::Method::PATCH;
        self.send(user, method, path, Some(body)).await
    }

    async fn delete(&self, user: &str, path: &str) -> Reply {
        self.send(user, reqwest::Method::DELETE, path, None).await
    }

    /// Asks for job `id` to be aborted.
    async fn abort(&self, user: &str, id: &str) -> Reply {
        let state = json!({"state": "Aborted"});
        self.patch(user, &format!("{JOBS}/{id}"), state).await
    }

    async fn delete_job(&self, user: &str, id: &str) -> Reply {
        self.delete(user, &format!("{JOBS}/{id}")).await
    }

    async fn create(&self, user: &str, body: Value) -> Reply {
        self.send(user, reqwest::Method::POST, JOBS, Some(body))
            .await
    }

    async fn job_id(&self, user: &str, operation: &str, soql: &str) -> String {
        let r = self
            .create(user, json!({"operation": operation, "query": soql}))
            .await;
        assert_eq!(r.status, 200, "{soql}: {}", r.text);
        r.json()["id"].as_str().expect("job id").to_string()
    }

    async fn info(&self, user: &str, id: &str) -> Reply {
        self.send(user, reqwest::Method::GET, &format!("{JOBS}/{id}"), None)
            .await
    }

    /// Polls job info until the job is terminal.
    async fn wait(&self, user: &str, id: &str) -> Value {
        for _ in 0..400 {
            let info = self.info(user, id).await.json();
            if ["JobComplete", "Failed", "Aborted"].contains(&info["state"].as_str().unwrap_or(""))
            {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("job {id} did not finish");
    }

    async fn results(&self, user: &str, id: &str, query: &str) -> Reply {
        self.send(
            user,
            reqwest::Method::GET,
            &format!("{JOBS}/{id}/results{query}"),
            None,
        )
        .await
    }

    /// Every page of a job's results, following `Sforce-Locator`: (header, rows, page sizes).
    async fn all_pages(
        &self,
        user: &str,
        id: &str,
        max: usize,
    ) -> (Vec<String>, Vec<Vec<String>>, Vec<usize>) {
        let mut locator = String::new();
        let mut rows = Vec::new();
        let mut sizes = Vec::new();
        let mut header;
        loop {
            let q = if locator.is_empty() {
                format!("?maxRecords={max}")
            } else {
                format!("?maxRecords={max}&locator={locator}")
            };
            let page = self.results(user, id, &q).await;
            assert_eq!(page.status, 200, "{}", page.text);
            assert_eq!(page.header("content-type"), "text/csv");
            let (h, r) = parse_csv(&page.text);
            assert_eq!(
                page.header("sforce-numberofrecords"),
                r.len().to_string(),
                "Sforce-NumberOfRecords"
            );
            header = h;
            sizes.push(r.len());
            rows.extend(r);
            locator = page.header("sforce-locator");
            assert!(!locator.is_empty(), "Sforce-Locator is always sent");
            if locator == "null" {
                break;
            }
        }
        (header, rows, sizes)
    }

    /// Every record of a REST query (all pages).
    async fn rest_rows(&self, user: &str, path: &str, soql: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut r = self
            .client
            .get(format!("{}{path}", self.base))
            .query(&[("q", soql)])
            .bearer_auth(self.sandbox.mint_token(user).expect("token"))
            .send()
            .await
            .expect("query")
            .json::<Value>()
            .await
            .expect("json");
        loop {
            out.extend(r["records"].as_array().cloned().expect("records"));
            let Some(next) = r["nextRecordsUrl"].as_str().map(str::to_string) else {
                return out;
            };
            r = self
                .send(user, reqwest::Method::GET, &next, None)
                .await
                .json();
        }
    }
}

fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = rdr
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A REST record as the Bulk CSV cells of `columns` (dotted paths for parents).
fn as_cells(record: &Value, columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            let mut v = record;
            for part in c.split('.') {
                v = &v[part];
            }
            match v {
                Value::Null => String::new(),
                Value::String(s) => match s.strip_suffix("+0000") {
                    Some(utc) if s.len() == 28 => format!("{utc}Z"),
                    _ => s.clone(),
                },
                other => other.to_string(),
            }
        })
        .collect()
}

const OPP_COLUMNS: &[&str] = &[
    "Id",
    "Name",
    "Amount",
    "IsClosed",
    "CloseDate",
    "CreatedDate",
    "Account.Name",
    "StageName",
];
const OPP_SOQL: &str = "SELECT Id, Name, Amount, IsClosed, CloseDate, CreatedDate, Account.Name, StageName FROM Opportunity ORDER BY Name";

#[tokio::test]
async fn pages_reassemble_the_rest_rows_from_a_snapshot() {
    let org = start(true).await;
    let created = org
        .create(ADMIN, json!({"operation": "query", "query": OPP_SOQL}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(
        !created.header("sforce-limit-info").is_empty(),
        "API calls are counted"
    );
    let job = created.json();
    let id = job["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("750") && id.len() == 18, "{id}");
    for (k, v) in [
        ("operation", json!("query")),
        ("object", json!("Opportunity")),
        ("state", json!("UploadComplete")),
        ("concurrencyMode", json!("Parallel")),
        ("contentType", json!("CSV")),
        ("apiVersion", json!(63.0)),
        ("lineEnding", json!("LF")),
        ("columnDelimiter", json!("COMMA")),
    ] {
        assert_eq!(job[k], v, "{k} in {job}");
    }
    for k in ["createdById", "createdDate", "systemModstamp"] {
        assert!(job[k].is_string(), "{k} in {job}");
    }
    let info = org.wait(ADMIN, &id).await;
    assert_eq!(info["state"], json!("JobComplete"), "{info}");
    assert_eq!(info["jobType"], json!("V2Query"));
    assert_eq!(info["retries"], json!(0));
    assert!(info["totalProcessingTime"].is_i64(), "{info}");

    let rest = org
        .rest_rows(ADMIN, "/services/data/v63.0/query", OPP_SOQL)
        .await;
    assert!(rest.len() > 20, "enough rows to page: {}", rest.len());
    assert_eq!(info["numberRecordsProcessed"], json!(rest.len()));
    let expected: Vec<Vec<String>> = rest.iter().map(|r| as_cells(r, OPP_COLUMNS)).collect();
    let (header, rows, sizes) = org.all_pages(ADMIN, &id, 7).await;
    assert_eq!(header, OPP_COLUMNS);
    assert_eq!(rows, expected);
    assert!(sizes.iter().rev().skip(1).all(|n| *n == 7), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), rest.len());

    // A locator is stable: the same page twice, byte for byte.
    let first = org.results(ADMIN, &id, "?maxRecords=7").await;
    let loc = first.header("sforce-locator");
    let a = org
        .results(ADMIN, &id, &format!("?maxRecords=7&locator={loc}"))
        .await;
    let b = org
        .results(ADMIN, &id, &format!("?maxRecords=7&locator={loc}"))
        .await;
    assert_eq!((a.status, &a.text), (200, &b.text));
    assert!(!a.header("sforce-limit-info").is_empty());
    // No maxRecords: one page holds everything here.
    let whole = org.results(ADMIN, &id, "").await;
    assert_eq!(whole.header("sforce-locator"), "null");
    assert_eq!(parse_csv(&whole.text).1, expected);
    // Raw form: every cell quoted.
    assert!(
        whole
            .text
            .starts_with("\"Id\",\"Name\",\"Amount\",\"IsClosed\""),
        "{}",
        &whole.text[..80]
    );

    // Later writes do not change a finished job's results.
    let victim = rows[0][0].clone();
    let patched = org
        .patch(
            ADMIN,
            &format!("/services/data/v63.0/sobjects/Opportunity/{victim}"),
            json!({"Name": "Renamed after the snapshot"}),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.text);
    let again = org.results(ADMIN, &id, "").await;
    assert_eq!(again.text, whole.text);

    // Bad locator / maxRecords.
    org.results(ADMIN, &id, "?locator=%21%21%21")
        .await
        .error(400, "INVALID_QUERY_LOCATOR");
    org.results(ADMIN, &id, "?maxRecords=0")
        .await
        .error(400, "INVALIDJOB");
}

#[tokio::test]
async fn query_all_sees_deleted_rows_and_query_does_not() {
    let org = start(true).await;
    let soql = "SELECT Id, LastName, IsDeleted FROM Lead WHERE LastName = 'Gekko'";
    let rest = org
        .rest_rows(ADMIN, "/services/data/v63.0/query", soql)
        .await;
    let gekko = rest[0]["Id"].as_str().expect("Gekko").to_string();
    let deleted = org
        .delete(
            ADMIN,
            &format!("/services/data/v63.0/sobjects/Lead/{gekko}"),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    let q = org.job_id(ADMIN, "query", soql).await;
    let all = org.job_id(ADMIN, "queryAll", soql).await;
    assert_eq!(
        org.wait(ADMIN, &q).await["numberRecordsProcessed"],
        json!(0)
    );
    assert_eq!(org.wait(ADMIN, &all).await["operation"], json!("queryAll"));
    let (header, rows, _) = org.all_pages(ADMIN, &q, 100).await;
    assert_eq!(header, ["Id", "LastName", "IsDeleted"]);
    assert!(rows.is_empty(), "{rows:?}");
    let (_, rows, _) = org.all_pages(ADMIN, &all, 100).await;
    assert_eq!(
        rows,
        vec![vec![gekko, "Gekko".to_string(), "true".to_string()]]
    );
    let rest_all = org
        .rest_rows(ADMIN, "/services/data/v63.0/queryAll", soql)
        .await;
    assert_eq!(rest_all.len(), 1);
}

#[tokio::test]
async fn the_job_runs_as_its_creator() {
    let org = start(true).await;
    // Sharing: Dana gets exactly her REST rows, fewer than the administrator's.
    let soql = "SELECT Id, Name, Account.Name FROM Opportunity";
    let id = org.job_id(DANA, "query", soql).await;
    assert_eq!(org.wait(DANA, &id).await["state"], json!("JobComplete"));
    let (_, rows, _) = org.all_pages(DANA, &id, 1000).await;
    let rest = org
        .rest_rows(DANA, "/services/data/v63.0/query", soql)
        .await;
    let expected: Vec<Vec<String>> = rest
        .iter()
        .map(|r| as_cells(r, &["Id", "Name", "Account.Name"]))
        .collect();
    assert_eq!(rows, expected);
    let admin = org
        .rest_rows(ADMIN, "/services/data/v63.0/query", soql)
        .await;
    assert!(
        rows.len() < admin.len(),
        "{} vs {}",
        rows.len(),
        admin.len()
    );
    // Another user cannot see (or read) Dana's job.
    org.info(MARIA, &id).await.error(404, "NOT_FOUND");
    org.results(MARIA, &id, "").await.error(404, "NOT_FOUND");
    let listed = org
        .send(DANA, reqwest::Method::GET, JOBS, None)
        .await
        .json();
    assert_eq!(listed["done"], json!(true));
    assert_eq!(listed["nextRecordsUrl"], Value::Null);
    assert!(
        listed["records"]
            .as_array()
            .expect("records")
            .iter()
            .any(|j| j["id"] == json!(id))
    );
    let maria_list = org
        .send(MARIA, reqwest::Method::GET, JOBS, None)
        .await
        .json();
    assert_eq!(maria_list["records"], json!([]));

    // Field-level security: a hidden field does not exist, as in REST.
    let hidden = org
        .create(
            KINETIC,
            json!({"operation": "query", "query": "SELECT Id, Subject, Origin FROM Case"}),
        )
        .await;
    let message = hidden.error(400, "INVALID_FIELD");
    assert!(
        message.contains("No such column 'Origin' on entity 'Case'"),
        "{message}"
    );
    let visible = org
        .job_id(KINETIC, "query", "SELECT Id, Subject FROM Case")
        .await;
    assert_eq!(
        org.wait(KINETIC, &visible).await["state"],
        json!("JobComplete")
    );
}

#[tokio::test]
async fn bad_and_unsupported_soql_is_refused_at_create() {
    let org = start(true).await;
    let q = |soql: &str| json!({"operation": "query", "query": soql});
    let message = org
        .create(ADMIN, q("SELECT Id FROM Account WHERE"))
        .await
        .error(400, "MALFORMED_QUERY");
    assert!(message.contains("ERROR at Row:1"), "{message}");
    org.create(ADMIN, q("SELECT Id FROM Nope__c"))
        .await
        .error(400, "INVALID_TYPE");
    org.create(ADMIN, q("SELECT Id, Nope__c FROM Account"))
        .await
        .error(400, "INVALID_FIELD");
    for soql in [
        "SELECT COUNT() FROM Account",
        "SELECT StageName, SUM(Amount) FROM Opportunity GROUP BY StageName",
    ] {
        let m = org
            .create(ADMIN, q(soql))
            .await
            .error(400, "FEATURENOTENABLED");
        assert!(m.contains("Aggregate Relationships not supported"), "{m}");
    }
    org.create(
        ADMIN,
        q("SELECT Id, (SELECT Id FROM Contacts) FROM Account"),
    )
    .await
    .error(400, "FEATURENOTENABLED");
    for soql in [
        "SELECT Id FROM Account OFFSET 5",
        "SELECT FIELDS(STANDARD) FROM Account LIMIT 10",
        "SELECT TYPEOF What WHEN Account THEN Name END FROM Task",
    ] {
        org.create(ADMIN, q(soql)).await.error(400, "INVALIDJOB");
    }
    org.create(
        ADMIN,
        json!({"operation": "upsert", "query": "SELECT Id FROM Account"}),
    )
    .await
    .error(400, "INVALIDJOB");
    org.create(ADMIN, json!({"operation": "query"}))
        .await
        .error(400, "INVALIDJOB");
    org.create(
        ADMIN,
        json!({"operation": "query", "query": "SELECT Id FROM Account", "lineEnding": "CR"}),
    )
    .await
    .error(400, "INVALIDJOB");
    let listed = org
        .send(ADMIN, reqwest::Method::GET, JOBS, None)
        .await
        .json();
    assert_eq!(listed["records"], json!([]), "refused jobs are not created");
}

#[tokio::test]
async fn abort_and_delete() {
    let org = start(false).await;
    let state = org.sandbox.state().clone();
    // Not run yet (no worker here): results wait, abort stops it.
    let id = org.job_id(ADMIN, "query", "SELECT Id FROM Account").await;
    let m = org
        .results(ADMIN, &id, "")
        .await
        .error(412, "JOB_NOT_COMPLETE");
    assert!(m.ends_with("Current status: UPLOAD_COMPLETE"), "{m}");
    org.delete_job(ADMIN, &id)
        .await
        .error(400, "INVALIDJOBSTATE");
    let aborted = org.abort(ADMIN, &id).await;
    assert_eq!(aborted.status, 200, "{}", aborted.text);
    assert_eq!(aborted.json()["state"], json!("Aborted"));
    let job = id.clone();
    let st = state.clone();
    tokio::task::spawn_blocking(move || bulk_query::process_job(&st, &job))
        .await
        .expect("runs");
    assert_eq!(org.info(ADMIN, &id).await.json()["state"], json!("Aborted"));
    org.results(ADMIN, &id, "")
        .await
        .error(412, "JOB_NOT_COMPLETE");
    org.abort(ADMIN, &id).await.error(409, "INVALIDJOBSTATE");
    let gone = org.delete_job(ADMIN, &id).await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    org.info(ADMIN, &id).await.error(404, "NOT_FOUND");

    // A completed job is deleted with its results.
    let id = org.job_id(ADMIN, "query", "SELECT Id FROM Account").await;
    let job = id.clone();
    let st = state.clone();
    tokio::task::spawn_blocking(move || bulk_query::process_job(&st, &job))
        .await
        .expect("runs");
    let done = org.info(ADMIN, &id).await.json();
    assert_eq!(done["state"], json!("JobComplete"), "{done}");
    assert_eq!(org.results(ADMIN, &id, "").await.status, 200);
    let gone = org.delete_job(ADMIN, &id).await;
    assert_eq!(gone.status, 204);
    org.results(ADMIN, &id, "").await.error(404, "NOT_FOUND");
    let rows: i64 = state
        .lock_db()
        .query_row("SELECT COUNT(*) FROM sayso_bulk_query_row", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(rows, 0, "the snapshot went with the job");
}

#[tokio::test]
async fn csv_options_are_honoured() {
    let org = start(true).await;
    let r = org
        .create(
            ADMIN,
            json!({"operation": "query", "query": "SELECT Id, Name FROM Account ORDER BY Name LIMIT 3",
                   "columnDelimiter": "PIPE", "lineEnding": "CRLF", "contentType": "CSV"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json()["id"].as_str().expect("id").to_string();
    assert_eq!(
        org.wait(ADMIN, &id).await["numberRecordsProcessed"],
        json!(3)
    );
    let page = org.results(ADMIN, &id, "").await;
    let lines: Vec<&str> = page.text.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 4, "{:?}", page.text);
    assert_eq!(lines[0], "\"Id\"|\"Name\"\r\n");
    assert!(
        lines
            .iter()
            .all(|l| l.ends_with("\r\n") && l.contains("\"|\""))
    );
}
