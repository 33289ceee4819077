//! The adapter between the session's [`Client`] (token, renewal on 401, retries, usage ledger) and
//! the per-command [`Org`](super::org::Org) handle's narrow [`Transport`]: Salesforce error answers
//! come back as responses so callers can branch on 304/412 and read per-request error bodies.
//!
//! Owns nothing but the mapping; never touches tokens itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};

use super::client::{Body as ClientBody, Client, Request};
use super::error::Error;
use super::org::{Body, HttpRequest, HttpResponse, OrgError, SendFuture, Transport};
use super::retry::Idempotency;

/// A [`Transport`] over the logged-in session.
pub struct ClientTransport {
    client: Client,
    unreachable: Arc<AtomicU64>,
}

/// For this long after a request found no connection, requests fail at once (a command's
/// further lookups don't each wait for their retries).
const FAST_FAIL_MS: u64 = 2000;

/// Milliseconds since the Unix epoch (the clock of [`ClientTransport::unreachable_flag`]).
pub fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

impl ClientTransport {
    /// Wraps a session.
    pub fn new(client: Client) -> ClientTransport {
        ClientTransport {
            client,
            unreachable: Arc::default(),
        }
    }

    /// When a request last found no connection ([`OrgError::Unreachable`]), in [`now_ms`]
    /// milliseconds (0: never), even when the caller turned that error into something else.
    /// For [`FAST_FAIL_MS`] after it, requests fail at once with the same error.
    pub fn unreachable_flag(&self) -> Arc<AtomicU64> {
        self.unreachable.clone()
    }
}

fn error_response(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: Vec::new(),
        body: serde_json::to_vec(&serde_json::json!([{"errorCode": code, "message": message}]))
            .unwrap_or_default(),
    }
}

/// Whether a data API request may be sent again after a transient failure (503,
/// `UNABLE_TO_LOCK_ROW`, a dropped connection): reads, deletes (a record already gone is
/// reported as such), and PATCHes of absolute values — one
/// record (`sobjects/X/id`) or sObject Collections updates (`composite/sobjects`). Creates
/// (POST), composite requests and Bulk job calls are never repeated blindly.
fn idempotency_of(method: &str, path: &str) -> Idempotency {
    let absolute_update =
        method == "PATCH" && (path.contains("/sobjects/") || path.ends_with("/composite/sobjects"));
    if matches!(method, "GET" | "HEAD" | "DELETE") || absolute_update {
        Idempotency::Repeatable
    } else {
        Idempotency::Once
    }
}

/// Whether a transport error means no connection (refused, DNS, timeout) rather than a
/// connection that broke after the request may have arrived.
fn is_unreachable(e: &Error) -> bool {
    match e {
        Error::Transport { source, .. } => source.is_connect() || source.is_timeout(),
        _ => false,
    }
}

impl Transport for ClientTransport {
    fn send(&self, req: HttpRequest) -> SendFuture<'_> {
        Box::pin(async move {
            // No connection a moment ago: don't wait for retries again.
            let last = self.unreachable.load(Ordering::Relaxed);
            if last != 0 && now_ms().saturating_sub(last) < FAST_FAIL_MS {
                return Err(OrgError::Unreachable("no connection".into()));
            }
            let method = Method::from_bytes(req.method.as_bytes())
                .map_err(|e| OrgError::Transport(e.to_string()))?;
            let mut r = Request::new(method, req.path.clone());
            for (k, v) in &req.query {
                r = r.query(k, v.clone());
            }
            for (k, v) in &req.headers {
                if k.eq_ignore_ascii_case("content-type") {
                    continue;
                }
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    r = r.header(name, value);
                }
            }
            r = match req.body {
                Body::Empty => r,
                Body::Json(v) => r.json(&v),
                Body::Csv(text) => r.body(ClientBody::csv(text)),
            };
            r = r.idempotency(idempotency_of(req.method, &req.path));
            match self.client.send(&r).await {
                Ok(resp) => Ok(HttpResponse {
                    status: resp.status,
                    headers: resp
                        .headers
                        .iter()
                        .filter_map(|(k, v)| {
                            v.to_str()
                                .ok()
                                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
                        })
                        .collect(),
                    body: resp.body.to_vec(),
                }),
                Err(Error::Conflict(api)) => Ok(error_response(412, &api.code, &api.message)),
                Err(Error::Api(api)) => Ok(error_response(api.status, &api.code, &api.message)),
                Err(Error::LimitExceeded(l)) => Err(OrgError::LimitExceeded(l.to_string())),
                Err(e @ Error::Transport { .. }) if is_unreachable(&e) => {
                    self.unreachable.store(now_ms(), Ordering::Relaxed);
                    Err(OrgError::Unreachable(e.to_string()))
                }
                Err(e) => Err(OrgError::Transport(e.to_string())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_updates_are_repeatable_and_creates_are_not() {
        let p = "/services/data/v63.0/composite/sobjects";
        assert_eq!(idempotency_of("PATCH", p), Idempotency::Repeatable);
        assert_eq!(idempotency_of("POST", p), Idempotency::Once);
        let one = "/services/data/v63.0/sobjects/Account/001A";
        assert_eq!(idempotency_of("PATCH", one), Idempotency::Repeatable);
        assert_eq!(
            idempotency_of("POST", "/services/data/v63.0/sobjects/Account"),
            Idempotency::Once
        );
        assert_eq!(
            idempotency_of("GET", "/services/data/v63.0/query"),
            Idempotency::Repeatable
        );
        assert_eq!(
            idempotency_of("POST", "/services/data/v63.0/jobs/ingest"),
            Idempotency::Once
        );
    }
}
