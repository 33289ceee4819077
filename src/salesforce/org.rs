//! The narrow REST surface the agent's resolver and executor use: queries (all pages), describe
//! with `If-Modified-Since`, row PATCH/POST/DELETE with conditional headers, `/composite`, sObject
//! Collections and Bulk API 2.0 ingest — each call counted for `api_calls`.
//!
//! Owns request shapes and call counting only. The HTTP session itself (token, refresh, retries) is
//! behind [`Transport`], implemented over [`Client`] by [`ClientTransport`]
//! ([`Org::over`]). Never builds SOQL text:
//! callers pass text rendered by the escaping query builder.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use super::client::Client;
use super::transport::ClientTransport;

/// One HTTP request to the org, relative to the instance URL.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PATCH`, `PUT`, `DELETE`.
    pub method: &'static str,
    /// Path starting with `/services/...`.
    pub path: String,
    /// Query-string pairs (encoded by the transport).
    pub query: Vec<(String, String)>,
    /// Extra headers (conditional requests, content type).
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Body,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Value),
    /// CSV text (Bulk API 2.0 upload).
    Csv(String),
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (lower-cased names).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name (compared without case, as HTTP does).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A boxed future returned by [`Transport::send`].
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, OrgError>> + Send + 'a>>;

/// Sends authenticated HTTP requests to one org as one user.
pub trait Transport: Send + Sync {
    /// Sends one request; the implementation adds authentication.
    fn send(&self, req: HttpRequest) -> SendFuture<'_>;
}

/// Errors talking to the org.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// Network or session failure before a response arrived.
    #[error("could not reach the org: {0}")]
    Transport(String),
    /// The org answered with an error body.
    #[error("{code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Salesforce `errorCode`.
        code: String,
        /// Salesforce message.
        message: String,
    },
    /// The org's (or the local) API budget is spent.
    #[error("API limit exceeded: {0}")]
    LimitExceeded(String),
    /// No connection: refused, no DNS answer, or timed out; not an HTTP error answer. A command
    /// that met it before writing anything may be queued (`sayso run --queue`).
    #[error("could not reach the org: {0}")]
    Unreachable(String),
}

impl OrgError {
    /// The Salesforce error code, when the org returned one.
    pub fn code(&self) -> Option<&str> {
        match self {
            OrgError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Builds the error for a non-success response.
    pub fn from_response(resp: &HttpResponse) -> OrgError {
        let body = resp.json();
        let first = body
            .as_array()
            .and_then(|a| a.first())
            .cloned()
            .unwrap_or(body);
        let code = first
            .get("errorCode")
            .or_else(|| first.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("HTTP_ERROR")
            .to_string();
        let message = first
            .get("message")
            .or_else(|| first.get("error_description"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", resp.status));
        if code == "REQUEST_LIMIT_EXCEEDED" {
            return OrgError::LimitExceeded(message);
        }
        OrgError::Api {
            status: resp.status,
            code,
            message,
        }
    }
}

/// The org as seen by one user, with a call counter.
pub struct Org {
    transport: Box<dyn Transport>,
    version: String,
    calls: AtomicU32,
}

/// The `id` of a create's or a job's answer (empty when it has none).
pub(super) fn id_of(answer: &Value) -> String {
    answer
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Org {
    /// Wraps a transport; `version` like `v63.0`.
    pub fn new(transport: Box<dyn Transport>, version: &str) -> Org {
        Org {
            transport,
            version: version.to_string(),
            calls: AtomicU32::new(0),
        }
    }

    /// The org over a logged-in session, at the session's API version.
    pub fn over(client: Client) -> Org {
        let version = client.api_version().to_string();
        Org::new(Box::new(ClientTransport::new(client)), &version)
    }

    /// REST calls made so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The API version, e.g. `v63.0`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `/services/data/vNN.N` + `rest`.
    pub fn data_path(&self, rest: &str) -> String {
        format!("/services/data/{}{}", self.version, rest)
    }

    /// Sends a request and counts it.
    ///
    /// # Errors
    /// [`OrgError::Transport`] when no response arrived.
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, OrgError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.transport.send(req).await
    }

    /// Sends a request; an HTTP error status becomes the org's error.
    ///
    /// # Errors
    /// The transport's error, or the org's error answer.
    pub async fn send_ok(&self, req: HttpRequest) -> Result<HttpResponse, OrgError> {
        let resp = self.send(req).await?;
        if resp.status >= 400 {
            return Err(OrgError::from_response(&resp));
        }
        Ok(resp)
    }

    /// A request with no query and no headers.
    pub fn req(method: &'static str, path: String, body: Body) -> HttpRequest {
        HttpRequest {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body,
        }
    }

    /// Runs a rendered SOQL query and follows `nextRecordsUrl` to the end.
    ///
    /// # Errors
    /// The org's error (e.g. `INVALID_FIELD`).
    pub async fn query_all(&self, soql: &str) -> Result<Vec<Value>, OrgError> {
        let (mut rows, mut next, _) = self.query_page(soql).await?;
        while let Some(url) = next {
            let (more, after) = self.query_more(&url).await?;
            rows.extend(more);
            next = after;
        }
        Ok(rows)
    }

    /// Reads the page at a `nextRecordsUrl`: its rows and the next page's URL.
    ///
    /// # Errors
    /// The org's error (e.g. `INVALID_QUERY_LOCATOR` for an expired cursor).
    pub async fn query_more(&self, url: &str) -> Result<(Vec<Value>, Option<String>), OrgError> {
        let page = self
            .send_ok(Self::req("GET", url.to_string(), Body::Empty))
            .await?
            .json();
        Ok((records_of(&page), next_url(&page)))
    }

    /// Runs a rendered SOQL query and returns the first page, the next-page path and `totalSize`.
    ///
    /// # Errors
    /// The org's error.
    pub async fn query_page(
        &self,
        soql: &str,
    ) -> Result<(Vec<Value>, Option<String>, u64), OrgError> {
        let mut req = Self::req("GET", self.data_path("/query"), Body::Empty);
        req.query.push(("q".into(), soql.into()));
        let resp = self.send_ok(req).await?;
        let page = resp.json();
        let total = page.get("totalSize").and_then(Value::as_u64).unwrap_or(0);
        Ok((records_of(&page), next_url(&page), total))
    }

    /// Runs a SOSL search (text built by [`crate::soql::builder::sosl_find`]) and returns its records.
    ///
    /// # Errors
    /// The org's error (e.g. `MALFORMED_SEARCH`, an object the user can't see).
    pub async fn search(&self, sosl: &str) -> Result<Vec<Value>, OrgError> {
        let mut req = Self::req("GET", self.data_path("/search"), Body::Empty);
        req.query.push(("q".into(), sosl.into()));
        let resp = self.send_ok(req).await?;
        let body = resp.json();
        Ok(body
            .get("searchRecords")
            .and_then(Value::as_array)
            .cloned()
            .or_else(|| body.as_array().cloned())
            .unwrap_or_default())
    }

    /// Fetches a describe, conditionally. `Ok(None)` means 304 Not Modified.
    ///
    /// # Errors
    /// The org's error (`NOT_FOUND` for an object the user can't see).
    pub async fn describe(
        &self,
        object: &str,
        if_modified_since: Option<&str>,
    ) -> Result<Option<(Value, Option<String>)>, OrgError> {
        let mut req = Self::req(
            "GET",
            self.data_path(&format!("/sobjects/{object}/describe")),
            Body::Empty,
        );
        if let Some(since) = if_modified_since {
            req.headers.push(("If-Modified-Since".into(), since.into()));
        }
        let resp = self.send(req).await?;
        if resp.status == 304 {
            return Ok(None);
        }
        if resp.status >= 400 {
            return Err(OrgError::from_response(&resp));
        }
        let last_modified = resp.header("last-modified").map(str::to_string);
        Ok(Some((resp.json(), last_modified)))
    }

    /// PATCHes one row. `Ok(false)` means 412: the row changed since `if_unmodified_since`.
    ///
    /// # Errors
    /// The org's error.
    pub async fn update(
        &self,
        object: &str,
        id: &str,
        fields: Value,
        if_unmodified_since: Option<&str>,
    ) -> Result<bool, OrgError> {
        let mut req = Self::req(
            "PATCH",
            self.data_path(&format!("/sobjects/{object}/{id}")),
            Body::Json(fields),
        );
        if let Some(since) = if_unmodified_since {
            req.headers
                .push(("If-Unmodified-Since".into(), since.into()));
        }
        let resp = self.send(req).await?;
        if resp.status == 412 {
            return Ok(false);
        }
        if resp.status >= 400 {
            return Err(OrgError::from_response(&resp));
        }
        Ok(true)
    }

    /// POSTs `body` to `path` under the data base and answers the JSON the org returned (any
    /// status under 400).
    ///
    /// # Errors
    /// The org's error.
    pub(super) async fn post(&self, path: &str, body: Value) -> Result<Value, OrgError> {
        let resp = self
            .send_ok(Self::req("POST", self.data_path(path), Body::Json(body)))
            .await?;
        Ok(resp.json())
    }

    /// Creates one row and returns its id.
    ///
    /// # Errors
    /// The org's error.
    pub async fn create(&self, object: &str, fields: Value) -> Result<String, OrgError> {
        let answer = self.post(&format!("/sobjects/{object}"), fields).await?;
        Ok(id_of(&answer))
    }

    /// Deletes one row; a row already gone counts as deleted.
    ///
    /// # Errors
    /// The org's error.
    pub async fn delete(&self, object: &str, id: &str) -> Result<(), OrgError> {
        let resp = self
            .send(Self::req(
                "DELETE",
                self.data_path(&format!("/sobjects/{object}/{id}")),
                Body::Empty,
            ))
            .await?;
        if resp.status >= 400 && resp.status != 404 {
            return Err(OrgError::from_response(&resp));
        }
        Ok(())
    }

    /// Sends a `/composite` request (allOrNone) and returns the sub-responses.
    ///
    /// # Errors
    /// The org's error for the request as a whole.
    pub async fn composite(
        &self,
        subrequests: Vec<Value>,
        all_or_none: bool,
    ) -> Result<Vec<Value>, OrgError> {
        let body = serde_json::json!({"allOrNone": all_or_none, "collateSubrequests": false, "compositeRequest": subrequests});
        let answer = self.post("/composite", body).await?;
        Ok(answer
            .get("compositeResponse")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// sObject Collections: `PATCH` (update) or `POST` (create) of up to 200 records; per-record results.
    ///
    /// # Errors
    /// The org's error for the request as a whole.
    pub async fn collection(
        &self,
        method: &'static str,
        records: Vec<Value>,
        all_or_none: bool,
    ) -> Result<Vec<Value>, OrgError> {
        let body = serde_json::json!({"allOrNone": all_or_none, "records": records});
        let resp = self
            .send_ok(Self::req(
                method,
                self.data_path("/composite/sobjects"),
                Body::Json(body),
            ))
            .await?;
        Ok(resp.json().as_array().cloned().unwrap_or_default())
    }

    /// sObject Collections delete of up to 200 ids.
    ///
    /// # Errors
    /// The org's error for the request as a whole.
    pub async fn collection_delete(&self, ids: &[String]) -> Result<Vec<Value>, OrgError> {
        let mut req = Self::req("DELETE", self.data_path("/composite/sobjects"), Body::Empty);
        req.query.push(("ids".into(), ids.join(",")));
        req.query.push(("allOrNone".into(), "false".into()));
        let resp = self.send_ok(req).await?;
        Ok(resp.json().as_array().cloned().unwrap_or_default())
    }
}

fn records_of(page: &Value) -> Vec<Value> {
    page.get("records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn next_url(page: &Value) -> Option<String> {
    if page.get("done").and_then(Value::as_bool).unwrap_or(true) {
        return None;
    }
    page.get("nextRecordsUrl")
        .and_then(Value::as_str)
        .map(str::to_string)
}
