//! Backoff and bounded retries: the one policy and the one jitter scheme
//! every retry in Butler uses.

use crate::backend::{BackendError, Clock};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

/// Bounded retries with exponential backoff and jitter, and a deadline per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts per step before the request ends in `Error`.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub base_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
    /// Time allowed for one step, all attempts and waits included.
    pub step_deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            step_deadline: Duration::from_secs(30 * 60),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based): exponential,
    /// capped, with "equal jitter" (between half and all of it). The jitter
    /// is a hash of `salt` and the attempt, so runs repeat exactly while
    /// different requests still spread out.
    pub fn delay(&self, attempt: u32, salt: u64) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1).min(31))
                .unwrap_or(u32::MAX),
        );
        let full = exp.min(self.max_delay);
        let frac = (splitmix(salt ^ u64::from(attempt)) >> 11) as f64 / (1u64 << 53) as f64;
        full.div_f64(2.0) + full.div_f64(2.0).mul_f64(frac)
    }
}

/// Calls `f` until it succeeds, fails with an error that is not retryable,
/// or `policy` runs out (attempts or `step_deadline`), sleeping the
/// policy's backoff on `clock` between attempts. An error returned because
/// the policy ran out says so ([`ErrorClass::RetriesExhausted`](crate::backend::ErrorClass),
/// with the attempts made), so no caller above retries it again. For idempotent calls only:
/// the operation must be safe to repeat. `salt` spreads the jitter of
/// different callers and keeps one caller's delays the same across runs.
pub async fn retry<T, F, Fut>(
    clock: &dyn Clock,
    policy: &RetryPolicy,
    salt: u64,
    operation: &str,
    mut f: F,
) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BackendError>>,
{
    let deadline = crate::backend::after(clock.now(), policy.step_deadline);
    let mut attempt = 1u32;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() => {
                let delay = policy.delay(attempt, salt);
                let wake = crate::backend::after(clock.now(), delay);
                if attempt >= policy.max_attempts || wake >= deadline {
                    tracing::warn!(operation, attempts = attempt, error = ?e, "retries exhausted");
                    return Err(e.exhausted_after(attempt));
                }
                tracing::debug!(operation, attempt, ?delay, error = ?e, "retrying after");
                clock.sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A stable salt for `key` (FNV-1a), so jitter depends on what is retried,
/// not on when.
pub fn salt(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered_within_half() {
        let p = RetryPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            ..Default::default()
        };
        for salt in 0..50u64 {
            for attempt in 1..12 {
                let full = Duration::from_secs(1u64 << (attempt - 1)).min(Duration::from_secs(10));
                let d = p.delay(attempt, salt);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        assert_ne!(p.delay(3, 1), p.delay(3, 2), "different salts spread out");
        assert_eq!(p.delay(3, 1), p.delay(3, 1), "deterministic");
    }

    /// Sleeps move it at once: the test waits on nothing real.
    struct Jumping(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

    #[async_trait::async_trait]
    impl Clock for Jumping {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            *self.0.lock().unwrap()
        }
        async fn sleep(&self, d: Duration) {
            let mut t = self.0.lock().unwrap();
            *t = crate::backend::after(*t, d);
        }
    }

    #[tokio::test]
    async fn a_policy_that_runs_out_says_so_and_stops_retries_above_it() {
        use crate::backend::{BackendError, ErrorClass, ErrorKind};
        let clock = Jumping(std::sync::Mutex::new(chrono::Utc::now()));
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            ..Default::default()
        };
        let mut calls = 0;
        let e = retry(&clock, &policy, 1, "find_vm", || {
            calls += 1;
            async {
                Err::<(), _>(BackendError::new(
                    ErrorKind::Transient,
                    "find_vm",
                    "HTTP 503",
                ))
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 3);
        assert_eq!((e.class(), e.attempts), (ErrorClass::RetriesExhausted, 3));
        assert!(!e.is_retryable(), "no caller above retries it again");
        assert!(
            e.to_string().contains("retries exhausted after 3 attempts"),
            "{e}"
        );
        // A refusal is returned at once, as it was: permanent, one attempt.
        let mut calls = 0;
        let e = retry(&clock, &policy, 1, "create_vm", || {
            calls += 1;
            async {
                Err::<(), _>(BackendError::new(
                    ErrorKind::Invalid,
                    "create_vm",
                    "bad spec",
                ))
            }
        })
        .await
        .unwrap_err();
        assert_eq!(
            (calls, e.class(), e.attempts),
            (1, ErrorClass::Permanent, 1)
        );
    }

    #[test]
    fn a_backend_error_keeps_its_cause() {
        use crate::backend::{error_chain, BackendError, ErrorKind};
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = BackendError::new(ErrorKind::Transient, "register", "cannot reach Icinga")
            .with_source(io);
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("connection refused")
        );
        assert!(
            error_chain(&e).ends_with("cannot reach Icinga: connection refused"),
            "{}",
            error_chain(&e)
        );
        // Wrapped in the library's error, the cause is still reachable.
        let outer = crate::ButlerError::from(e);
        assert!(
            error_chain(&outer).contains("connection refused"),
            "{}",
            error_chain(&outer)
        );
    }
}
