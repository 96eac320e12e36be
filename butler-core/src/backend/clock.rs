use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Time, injectable so tests and the simulator control it.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d` of this clock's time.
    async fn sleep(&self, d: Duration);

    /// Waits `d` as a periodic background loop does (a refresher, an idle
    /// engine): on a virtual clock such a wait never makes time pass by
    /// itself, so an otherwise idle simulation does not spin; it ends when
    /// other work moves time past it. Real clocks just sleep.
    async fn sleep_idle(&self, d: Duration) {
        self.sleep(d).await
    }
}

/// Wall-clock time and tokio sleeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// `t + d`, saturating at the end of representable time: a configured
/// duration of "forever" (`Duration::MAX`) must never panic on addition.
///
/// ```
/// use butler_core::backend::after;
/// let t = chrono::Utc::now();
/// assert!(after(t, std::time::Duration::MAX) > t);
/// ```
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
