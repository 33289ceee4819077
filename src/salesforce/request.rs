//! [`Request`], [`Body`] and [`Response`]: a REST call described so that the send loop can repeat
//! it (the body is cheap to clone) and its successful answer.

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::error::Error;
use super::retry::Idempotency;

/// A request body.
#[derive(Debug, Clone)]
pub struct Body {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The bytes (cheap to clone, so a retry resends the same body).
    pub bytes: Bytes,
}

impl Body {
    /// A JSON body.
    pub fn json(value: &serde_json::Value) -> Body {
        Body {
            content_type: "application/json",
            bytes: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    /// A CSV body (Bulk API).
    pub fn csv(text: impl Into<Bytes>) -> Body {
        Body {
            content_type: "text/csv",
            bytes: text.into(),
        }
    }
}

/// One REST request, described so that it can be sent again.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// A path relative to `/services/data/<version>/` (`sobjects/Account`), or absolute from the
    /// host when it starts with `/` (`nextRecordsUrl`, `/services/data`).
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Body.
    pub body: Option<Body>,
    /// Extra headers (conditional requests).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether the request may be repeated after a failure.
    pub idempotency: Idempotency,
}

impl Request {
    /// A request with no body; GET, HEAD and DELETE are [`Idempotency::Repeatable`], others
    /// [`Idempotency::Once`] until the caller says otherwise.
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        let idempotency = if matches!(method, Method::GET | Method::HEAD | Method::DELETE) {
            Idempotency::Repeatable
        } else {
            Idempotency::Once
        };
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            idempotency,
        }
    }

    /// A GET.
    pub fn get(path: impl Into<String>) -> Request {
        Request::new(Method::GET, path)
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Request {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> Request {
        self.body = Some(Body::json(value));
        self
    }

    /// Sets a body.
    pub fn body(mut self, body: Body) -> Request {
        self.body = Some(body);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.headers.push((name, value));
        self
    }

    /// Sets whether the request may be repeated.
    pub fn idempotency(mut self, idempotency: Idempotency) -> Request {
        self.idempotency = idempotency;
        self
    }
}

/// A successful (2xx or 304) answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes (decompressed).
    pub body: Bytes,
    /// The URL (without query), for messages.
    pub url: String,
}

impl Response {
    /// Parses the body as JSON.
    ///
    /// # Errors
    /// [`Error::Decode`].
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            url: self.url.clone(),
            status: self.status,
            message: e.to_string(),
        })
    }

    /// The body as JSON, `Value::Null` when empty (204).
    ///
    /// # Errors
    /// [`Error::Decode`].
    pub fn json_or_null(&self) -> Result<serde_json::Value, Error> {
        if self.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        self.json()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_idempotency_defaults_by_method() {
        assert_eq!(Request::get("x").idempotency, Idempotency::Repeatable);
        assert_eq!(
            Request::new(Method::POST, "x").idempotency,
            Idempotency::Once
        );
        assert_eq!(
            Request::new(Method::PATCH, "x")
                .idempotency(Idempotency::Repeatable)
                .idempotency,
            Idempotency::Repeatable
        );
    }
}
