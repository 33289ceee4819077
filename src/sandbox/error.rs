//! Salesforce-shaped REST errors: [`SfError`] renders `[{"message","errorCode","fields"}]` with the
//! right HTTP status, and [`SfError::to_collection_errors`] renders the `statusCode` form used inside
//! sObject Collections results.
//!
//! Owns the error wire format only; handlers everywhere in the sandbox build these. Internal failures
//! (SQLite, I/O) become `500 UNKNOWN_EXCEPTION` without leaking details beyond the message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One element of a Salesforce REST error array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorItem {
    /// Human-readable text, as Salesforce words it.
    pub message: String,
    /// The Salesforce error code, e.g. `REQUIRED_FIELD_MISSING`.
    pub error_code: String,
    /// The fields concerned; `None` leaves the key out (as Salesforce does for non-DML errors).
    pub fields: Option<Vec<String>>,
}

/// A REST error: an HTTP status plus the Salesforce error array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {}", .errors.first().map(|e| e.message.as_str()).unwrap_or(""))]
pub struct SfError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// The error items (almost always exactly one).
    pub errors: Vec<ErrorItem>,
}

/// Result alias for sandbox operations.
pub type SfResult<T> = Result<T, SfError>;

impl SfError {
    /// An error with one item and no `fields` key.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> SfError {
        SfError {
            status,
            errors: vec![ErrorItem {
                message: message.into(),
                error_code: code.to_string(),
                fields: None,
            }],
        }
    }

    /// An error with one item carrying a `fields` array.
    pub fn with_fields(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        fields: Vec<String>,
    ) -> SfError {
        SfError {
            status,
            errors: vec![ErrorItem {
                message: message.into(),
                error_code: code.to_string(),
                fields: Some(fields),
            }],
        }
    }

    /// A 400 DML error with `fields`.
    pub fn dml(code: &str, message: impl Into<String>, fields: Vec<String>) -> SfError {
        SfError::with_fields(StatusCode::BAD_REQUEST, code, message, fields)
    }

    /// `404 NOT_FOUND` "The requested resource does not exist".
    pub fn not_found() -> SfError {
        SfError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    /// `401 INVALID_SESSION_ID`.
    pub fn invalid_session() -> SfError {
        SfError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// `404 ENTITY_IS_DELETED` (row resources).
    pub fn entity_deleted() -> SfError {
        SfError::with_fields(
            StatusCode::NOT_FOUND,
            "ENTITY_IS_DELETED",
            "entity is deleted",
            vec![],
        )
    }

    /// `400 MALFORMED_ID` for an id that does not fit `object`.
    pub fn malformed_id(label: &str, id: &str) -> SfError {
        SfError::with_fields(
            StatusCode::BAD_REQUEST,
            "MALFORMED_ID",
            format!("{label} ID: id value of incorrect type: {id}"),
            vec!["Id".to_string()],
        )
    }

    /// `404 NOT_FOUND` for an unknown sObject type in a URL.
    pub fn unknown_object(name: &str) -> SfError {
        SfError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "The requested resource does not exist: sObject type '{name}' is not supported."
            ),
        )
    }

    /// `400 INVALID_TYPE` for an unknown sObject type in a body.
    pub fn invalid_type(name: &str) -> SfError {
        SfError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            format!(
                "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    }

    /// `400 JSON_PARSER_ERROR`.
    pub fn json_parser(message: impl Into<String>) -> SfError {
        SfError::new(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", message)
    }

    /// `405 METHOD_NOT_ALLOWED`.
    pub fn method_not_allowed(method: &str, allowed: &str) -> SfError {
        SfError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
        )
    }

    /// `412 PRECONDITION_FAILED` for `If-Match` / `If-Unmodified-Since`.
    pub fn precondition_failed(message: impl Into<String>) -> SfError {
        SfError::new(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
            message,
        )
    }

    /// `403 INSUFFICIENT_ACCESS_OR_READONLY` style refusal for a whole object.
    pub fn insufficient_access(message: impl Into<String>) -> SfError {
        SfError::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_ACCESS_OR_READONLY",
            message,
        )
    }

    /// `500 UNKNOWN_EXCEPTION` for a failure inside the sandbox (a bug or an I/O problem). As in
    /// Salesforce the body carries only an error id; `message` (which may hold SQL or a panic
    /// text) goes to the server log under that id and never to the caller.
    pub fn internal(message: impl std::fmt::Display) -> SfError {
        let n = uuid::Uuid::new_v4().as_u128();
        let error_id = format!(
            "{}-{} ({})",
            n % 10_000_000_000,
            (n >> 40) % 100_000,
            -(((n >> 64) % 1_000_000_000) as i64)
        );
        tracing::error!(error_id = %error_id, "sandbox internal error: {message}");
        SfError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            format!(
                "An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}"
            ),
        )
    }

    /// `400 QUERY_TOO_COMPLICATED`, Salesforce's answer to a query past its internal limits.
    pub fn query_too_complicated() -> SfError {
        SfError::new(
            StatusCode::BAD_REQUEST,
            "QUERY_TOO_COMPLICATED",
            "Query is either selecting too many fields or the filter conditions are very complicated.",
        )
    }

    /// The first error code (for tests and result CSVs).
    pub fn code(&self) -> &str {
        self.errors
            .first()
            .map(|e| e.error_code.as_str())
            .unwrap_or("UNKNOWN_EXCEPTION")
    }

    /// The first message.
    pub fn message(&self) -> &str {
        self.errors
            .first()
            .map(|e| e.message.as_str())
            .unwrap_or("")
    }

    /// The REST body: `[{"message","errorCode","fields"?}]`.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.errors
                .iter()
                .map(|e| {
                    let mut o = json!({"message": e.message, "errorCode": e.error_code});
                    if let Some(f) = &e.fields {
                        o["fields"] = json!(f);
                    }
                    o
                })
                .collect(),
        )
    }

    /// The per-record error array used by sObject Collections: `[{"statusCode","message","fields"}]`.
    pub fn to_collection_errors(&self) -> Value {
        Value::Array(
            self.errors
                .iter()
                .map(|e| json!({"statusCode": e.error_code, "message": e.message, "fields": e.fields.clone().unwrap_or_default()}))
                .collect(),
        )
    }

    /// The Bulk API 2.0 `sf__Error` cell: `CODE:message:field1,field2 --`.
    pub fn to_bulk_error(&self) -> String {
        let e = match self.errors.first() {
            Some(e) => e,
            None => return "UNKNOWN_EXCEPTION:unknown:--".to_string(),
        };
        let fields = e.fields.clone().unwrap_or_default().join(",");
        if fields.is_empty() {
            format!("{}:{}:--", e.error_code, e.message)
        } else {
            format!("{}:{}:{} --", e.error_code, e.message, fields)
        }
    }
}

/// SQLite messages that mean "this statement is past one of SQLite's size limits" (variables,
/// expression depth, joined tables, result columns, compound selects, statement length).
const SQLITE_LIMIT_MESSAGES: &[&str] = &[
    "too many",
    "too large",
    "too big",
    "too complex",
    "at most",
    "string or blob too big",
    "stack overflow",
];

impl From<rusqlite::Error> for SfError {
    /// A statement past SQLite's limits is Salesforce's `QUERY_TOO_COMPLICATED`; anything else is
    /// an internal error, logged and never shown.
    fn from(e: rusqlite::Error) -> SfError {
        let limit = match &e {
            rusqlite::Error::SqliteFailure(code, msg) => {
                code.code == rusqlite::ErrorCode::TooBig
                    || msg.as_deref().is_some_and(|m| {
                        let m = m.to_ascii_lowercase();
                        SQLITE_LIMIT_MESSAGES.iter().any(|p| m.contains(p))
                    })
            }
            _ => false,
        };
        if limit {
            tracing::warn!("query past a SQLite limit: {e}");
            return SfError::query_too_complicated();
        }
        SfError::internal(e)
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        let body = self.to_json().to_string();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::sandbox::wire::JSON_CONTENT_TYPE),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a record missing the required `field`.
    fn missing(field: &str) -> SfError {
        SfError::dml(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{field}]"),
            vec![field.into()],
        )
    }

    #[test]
    fn rest_body_has_fields_only_when_given() {
        let e = missing("Name");
        assert_eq!(
            e.to_json(),
            json!([{"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"]}])
        );
        assert_eq!(SfError::not_found().to_json()[0].get("fields"), None);
    }

    #[test]
    fn collection_and_bulk_forms() {
        let e = missing("LastName");
        assert_eq!(
            e.to_collection_errors()[0]["statusCode"],
            "REQUIRED_FIELD_MISSING"
        );
        assert_eq!(
            e.to_bulk_error(),
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
        );
        assert_eq!(SfError::dml("X", "m", vec![]).to_bulk_error(), "X:m:--");
    }

    #[test]
    fn internal_errors_and_sqlite_failures_show_no_internals() {
        let e = SfError::internal("no such table: sayso_secret (SELECT t0.x FROM …)");
        assert_eq!((e.status.as_u16(), e.code()), (500, "UNKNOWN_EXCEPTION"));
        assert!(e.message().starts_with("An unexpected error occurred"));
        assert!(!e.message().contains("sayso_secret") && !e.message().contains("SELECT"));
        let conn = rusqlite::Connection::open_in_memory().expect("memory db");
        let deep = format!("SELECT {}", vec!["1"; 1500].join(" OR "));
        let e: SfError = conn.prepare(&deep).map(|_| ()).unwrap_err().into();
        assert_eq!(
            (e.status.as_u16(), e.code()),
            (400, "QUERY_TOO_COMPLICATED")
        );
        let e: SfError = conn
            .prepare("SELECT nope FROM nowhere")
            .map(|_| ())
            .unwrap_err()
            .into();
        assert_eq!(e.code(), "UNKNOWN_EXCEPTION");
        assert!(!e.message().contains("nowhere"), "{}", e.message());
    }
}
