//! When a failed request may be sent again: a property of the request ([`Idempotency`]) and of the
//! failure ([`Failure`]), with exponential backoff and full jitter between attempts.
//!
//! A create is never repeated blindly: if the connection broke after it was sent, the record may
//! exist, and a second POST would make a duplicate. Only a failure to connect (nothing was sent)
//! is retried for every request.

use std::time::Duration;

use rand::RngExt;

/// Whether sending a request twice has the same effect as sending it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, PATCH of absolute values, upsert by external id, close of a bulk job: safe to repeat.
    Repeatable,
    /// Creates and anything else that must not run twice.
    Once,
}

/// A transient failure seen while sending a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be opened: the request was not sent.
    Connect,
    /// The connection broke (reset, closed) after the request may have been sent.
    ConnectionReset,
    /// No answer in time; the request may have been processed.
    Timeout,
    /// HTTP 502/503/504.
    Unavailable,
    /// `UNABLE_TO_LOCK_ROW`: the row was locked by another transaction; nothing was written.
    LockRow,
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first.
    pub max_attempts: u32,
    /// Delay ceiling before the second attempt; doubled for each further attempt.
    pub base_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Whether attempt number `attempt` (1-based, the one that just failed) may be followed by another.
    pub fn should_retry(&self, failure: Failure, idempotency: Idempotency, attempt: u32) -> bool {
        if attempt >= self.max_attempts {
            return false;
        }
        match failure {
            Failure::Connect => true,
            // The server says it did not write anything, but a create may still have side
            // effects in triggers before the lock; keep the rule simple: only repeatables.
            Failure::LockRow
            | Failure::Unavailable
            | Failure::ConnectionReset
            | Failure::Timeout => idempotency == Idempotency::Repeatable,
        }
    }

    /// The ceiling of the delay after attempt `attempt` (1-based): `base * 2^(attempt-1)`, capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A delay drawn uniformly from `[ceiling/2, ceiling]` ("equal jitter"), so concurrent clients
    /// spread out but never hammer immediately.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let ms = ceiling.as_millis() as u64;
        if ms == 0 {
            return Duration::ZERO;
        }
        let half = ms / 2;
        Duration::from_millis(half + rand::rng().random_range(0..=ms - half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_are_never_retried_after_they_may_have_been_sent() {
        let p = RetryPolicy::default();
        for f in [
            Failure::ConnectionReset,
            Failure::Timeout,
            Failure::Unavailable,
            Failure::LockRow,
        ] {
            assert!(!p.should_retry(f, Idempotency::Once, 1), "{f:?}");
            assert!(p.should_retry(f, Idempotency::Repeatable, 1), "{f:?}");
        }
        assert!(p.should_retry(Failure::Connect, Idempotency::Once, 1));
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(Failure::Unavailable, Idempotency::Repeatable, 3));
        assert!(!p.should_retry(Failure::Unavailable, Idempotency::Repeatable, 4));
        assert!(!RetryPolicy::none().should_retry(Failure::Connect, Idempotency::Repeatable, 1));
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(400));
        assert_eq!(p.ceiling(9), Duration::from_millis(1000));
        for attempt in 1..8 {
            for _ in 0..50 {
                let d = p.delay(attempt);
                assert!(
                    d <= p.ceiling(attempt) && d >= p.ceiling(attempt) / 2,
                    "{d:?}"
                );
            }
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.delay(3)).collect();
        assert!(spread.len() > 1, "jitter must vary the delay");
    }
}
