//! Fault injection for tests of the agent's robustness, set by `sayso sandbox serve` flags: added
//! latency, a rate of 503s, `UNABLE_TO_LOCK_ROW` on writes, dropped connections — plus the
//! policy overrides that travel with them (access-token lifetime, daily API allocation, refresh
//! token rotation).
//!
//! Faults apply to the data API (`/services/data/…`) only, never to OAuth or the browser pages, so
//! a client can always log in. They are injected before authentication, so an injected failure
//! does not count against the API allocation. Owns [`FaultOptions`] and the [`inject`] middleware.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngExt;

use crate::sandbox::error::SfError;
use crate::sandbox::state::AppState;

/// Faults and overrides for a running sandbox. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOptions {
    /// Added to every data API call before it is answered.
    pub latency_ms: u64,
    /// Share of data API calls (0.0–1.0) answered `503 SERVER_UNAVAILABLE`.
    pub fail_rate: f64,
    /// Share of data API writes (POST/PATCH/PUT/DELETE) answered `400 UNABLE_TO_LOCK_ROW`.
    pub lock_rate: f64,
    /// Share of data API calls whose connection is dropped without a response.
    pub drop_rate: f64,
    /// Access-token lifetime in minutes, overriding every app's policy (to force expiry mid-run).
    pub token_minutes: Option<u64>,
    /// Daily API allocation, overriding `security.json` (to force `REQUEST_LIMIT_EXCEEDED`).
    pub api_limit: Option<u64>,
    /// Turns on refresh token rotation for every connected app, whatever its own setting.
    pub rotate_refresh_tokens: bool,
}

impl FaultOptions {
    /// Whether any request-level fault is active.
    pub fn any(&self) -> bool {
        self.latency_ms > 0 || self.fail_rate > 0.0 || self.lock_rate > 0.0 || self.drop_rate > 0.0
    }
}

/// Whether a random draw falls under `rate` (0 never, 1 always).
fn hit(rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    rand::rng().random_range(0.0..1.0) < rate
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}

/// A response whose body fails at once: the server closes the connection without completing the
/// message, which clients see as a dropped connection.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection dropped",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// Middleware around the whole router: injects the configured faults into data API calls.
pub async fn inject(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let f = &state.faults;
    if !f.any() || !req.uri().path().starts_with("/services/data/") {
        return next.run(req).await;
    }
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    if hit(f.drop_rate) {
        return dropped();
    }
    if hit(f.fail_rate) {
        return SfError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server is temporarily unavailable. Please try again later.",
        )
        .into_response();
    }
    if is_write(req.method()) && hit(f.lock_rate) {
        return SfError::with_fields(
            StatusCode::BAD_REQUEST,
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
            vec![],
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_at_the_edges_are_certain() {
        assert!(!hit(0.0));
        assert!(hit(1.0));
        assert!(!FaultOptions::default().any());
        assert!(
            FaultOptions {
                lock_rate: 0.5,
                ..Default::default()
            }
            .any()
        );
        assert!(
            !FaultOptions {
                token_minutes: Some(1),
                ..Default::default()
            }
            .any(),
            "overrides are not faults"
        );
    }
}
