//! What every route shares on the wire: the served API versions ([`parse_version`]) and JSON
//! and plain-text responses with Salesforce's content types ([`json_response`], [`text_response`]).
//!
//! Owns these few helpers only; imports nothing from the sandbox.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// `Content-Type` of every JSON response.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// The newest API version served (`GET /services/data` lists 31.0 up to this).
pub const LATEST_VERSION: u32 = 64;

/// The oldest API version served; older ones are retired in Salesforce too.
pub const OLDEST_VERSION: u32 = 31;

/// Parses a version path segment `v63.0` into `63.0`; only the served versions
/// ([`OLDEST_VERSION`]`.0` to [`LATEST_VERSION`]`.0`) parse, so `v9.0` is not found, as in Salesforce.
pub fn parse_version(segment: &str) -> Option<&str> {
    let v = segment.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    let major_ok = !major.is_empty()
        && major.len() <= 3
        && major.bytes().all(|b| b.is_ascii_digit())
        && major
            .parse::<u32>()
            .is_ok_and(|m| (OLDEST_VERSION..=LATEST_VERSION).contains(&m));
    (major_ok && minor == "0").then_some(v)
}

/// A plain-text response (`text/plain;charset=UTF-8`).
pub fn text_response(status: axum::http::StatusCode, text: impl Into<String>) -> Response {
    let mut resp = (status, text.into()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    resp
}

/// A JSON response with Salesforce's content type.
pub fn json_response(status: axum::http::StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    resp
}
