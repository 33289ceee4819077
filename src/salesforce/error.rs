//! Errors of the REST client: Salesforce's error bodies as typed [`ApiError`]s, plus the outcomes
//! callers branch on (conflict, limit exceeded, session ended).

use serde::Deserialize;

/// One error of a Salesforce REST error body `[{"message", "errorCode", "fields"}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// `errorCode` (or `statusCode` inside collections), e.g. `INVALID_FIELD`.
    pub code: String,
    /// `message`.
    pub message: String,
    /// `fields`, possibly empty.
    pub fields: Vec<String>,
    /// Further errors of the same body, when it held several.
    pub more: Vec<ApiError>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message.trim())?;
        if !self.fields.is_empty() {
            write!(f, " (fields: {})", self.fields.join(", "))?;
        }
        write!(f, " [HTTP {}]", self.status)
    }
}

impl std::error::Error for ApiError {}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    message: String,
    #[serde(default, alias = "statusCode")]
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawOAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl ApiError {
    /// Parses an error body of any shape Salesforce sends: an array of errors, one error object,
    /// an OAuth error, or plain text (kept, shortened, as the message).
    pub fn from_body(status: u16, body: &[u8]) -> ApiError {
        if let Ok(list) = serde_json::from_slice::<Vec<RawError>>(body) {
            let mut errors: Vec<ApiError> = list
                .into_iter()
                .map(|e| ApiError {
                    status,
                    code: e.error_code.unwrap_or_else(|| format!("HTTP_{status}")),
                    message: e.message,
                    fields: e.fields.unwrap_or_default(),
                    more: Vec::new(),
                })
                .collect();
            if !errors.is_empty() {
                let mut first = errors.remove(0);
                first.more = errors;
                return first;
            }
        }
        if let Ok(e) = serde_json::from_slice::<RawError>(body)
            && e.error_code.is_some()
        {
            return ApiError {
                status,
                code: e.error_code.unwrap_or_default(),
                message: e.message,
                fields: e.fields.unwrap_or_default(),
                more: Vec::new(),
            };
        }
        if let Ok(e) = serde_json::from_slice::<RawOAuthError>(body) {
            return ApiError {
                status,
                code: e.error,
                message: e.error_description.unwrap_or_default(),
                fields: Vec::new(),
                more: Vec::new(),
            };
        }
        let text = String::from_utf8_lossy(body);
        let text: String = text.trim().chars().take(300).collect();
        ApiError {
            status,
            code: format!("HTTP_{status}"),
            message: text,
            fields: Vec::new(),
            more: Vec::new(),
        }
    }

    /// Whether any error of the body has this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code == code || self.more.iter().any(|e| e.code == code)
    }
}

/// Which limit stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The local budget of `[budget] daily_calls` in `config.toml`; nothing was sent.
    Budget,
    /// The org answered `REQUEST_LIMIT_EXCEEDED`.
    Org,
}

/// A call refused for API limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// Ours or the org's.
    pub scope: LimitScope,
    /// Calls used (today for the budget, the org's `api-usage` numerator otherwise), when known.
    pub used: Option<u64>,
    /// The limit, when known.
    pub max: Option<u64>,
    /// The profile.
    pub profile: String,
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nums = match (self.used, self.max) {
            (Some(u), Some(m)) => format!(" ({u} of {m})"),
            _ => String::new(),
        };
        match self.scope {
            LimitScope::Budget => write!(
                f,
                "the daily API budget of profile `{}` is used up{nums}; nothing was sent \
                 (raise [budget] daily_calls in config.toml or wait until tomorrow)",
                self.profile
            ),
            LimitScope::Org => write!(
                f,
                "the org's daily API limit is exhausted{nums}: REQUEST_LIMIT_EXCEEDED"
            ),
        }
    }
}

/// Errors of the REST client. None carries a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Salesforce refused the request.
    #[error(transparent)]
    Api(ApiError),
    /// `412 Precondition Failed`: the record changed since it was read (If-Unmodified-Since).
    #[error("the record changed since it was read: {0}")]
    Conflict(ApiError),
    /// The API budget or the org's limit stops the call.
    #[error("{0}")]
    LimitExceeded(LimitExceeded),
    /// The session cannot be renewed: log in again.
    #[error("the session of profile `{profile}` has ended ({reason}); run `sayso login` again")]
    SessionEnded {
        /// The profile.
        profile: String,
        /// Why.
        reason: String,
    },
    /// `300 Multiple Choices`: an external id matched several rows.
    #[error("several records match: {}", .0.join(", "))]
    MultipleChoices(Vec<String>),
    /// The server could not be reached or the connection broke.
    #[error("cannot reach `{url}`")]
    Transport {
        /// Scheme, host and path (no query).
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not the JSON expected.
    #[error("unexpected answer from `{url}` (HTTP {status}): {message}")]
    Decode {
        /// Scheme, host and path.
        url: String,
        /// HTTP status.
        status: u16,
        /// The parser's message.
        message: String,
    },
    /// A Bulk API job ended in `Failed` or `Aborted`, or took too long.
    #[error("bulk job `{id}` {state}: {message}")]
    BulkJob {
        /// Job id.
        id: String,
        /// Its last state.
        state: String,
        /// The job's `errorMessage` or why we stopped waiting.
        message: String,
    },
    /// The usage ledger could not be written.
    #[error("cannot write the usage ledger `{path}`")]
    Ledger {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Login, token store or renewal failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::Error),
    /// Settings could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A caller passed something unusable (an invalid path or header).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The Salesforce error, when the org refused the request.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::Conflict(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the record changed underneath (`conflict` in run results).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }

    /// Whether an API limit stopped the call (`limit_exceeded` in run results).
    pub fn is_limit_exceeded(&self) -> bool {
        matches!(self, Error::LimitExceeded(_))
    }

    /// Whether the user must log in again.
    pub fn is_session_ended(&self) -> bool {
        matches!(
            self,
            Error::SessionEnded { .. }
                | Error::Auth(crate::auth::Error::NotLoggedIn { .. })
                | Error::Auth(crate::auth::Error::NoCredentials { .. })
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_array_bodies_with_fields() {
        let e = ApiError::from_body(
            400,
            br#"[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]},
                 {"message":"x","errorCode":"UNABLE_TO_LOCK_ROW"}]"#,
        );
        assert_eq!(e.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e.fields, vec!["Name"]);
        assert!(e.has_code("UNABLE_TO_LOCK_ROW"));
        assert_eq!(e.status, 400);
        assert!(e.to_string().contains("REQUIRED_FIELD_MISSING"));
    }

    #[test]
    fn parses_collection_status_code_and_plain_text() {
        let e = ApiError::from_body(
            400,
            br#"[{"statusCode":"MALFORMED_ID","message":"bad","fields":["Id"]}]"#,
        );
        assert_eq!(e.code, "MALFORMED_ID");
        let e = ApiError::from_body(403, b"Bad_OAuth_Token");
        assert_eq!(e.code, "HTTP_403");
        assert_eq!(e.message, "Bad_OAuth_Token");
        let e = ApiError::from_body(
            400,
            br#"{"error":"invalid_grant","error_description":"expired"}"#,
        );
        assert_eq!(e.code, "invalid_grant");
    }

    #[test]
    fn limit_messages_say_what_to_do() {
        let l = LimitExceeded {
            scope: LimitScope::Budget,
            used: Some(10),
            max: Some(10),
            profile: "default".into(),
        };
        let s = l.to_string();
        assert!(s.contains("10 of 10") && s.contains("daily_calls"), "{s}");
    }
}
