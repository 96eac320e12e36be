use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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

    /// Opens a wait on something other than this clock (see [`outside`],
    /// which is how callers use it). A discrete-event clock holds time
    /// still while any is open; real clocks ignore it.
    fn outside_wait(&self) -> OutsideWait {
        OutsideWait::none()
    }

    /// Whether time passes only when the tasks waiting on this clock let it
    /// (a discrete-event clock), rather than with the wall clock. On such a
    /// clock waits on anything else must be reported (see [`outside`]), and
    /// call deadlines also run in real time
    /// ([`crate::resilience::deadline`]).
    fn is_virtual(&self) -> bool {
        false
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

/// An open wait on something other than a [`Clock`]: a store's thread, the
/// blocking pool, a socket. While one is open a discrete-event clock holds
/// time still, because the task waiting will make progress without time
/// passing. Dropping it closes the wait. Real clocks hand out an empty one.
#[must_use = "the wait is open only while the guard lives"]
pub struct OutsideWait(Option<Box<dyn std::any::Any + Send + Sync>>);

impl OutsideWait {
    /// A guard that holds nothing (what real clocks hand out).
    pub fn none() -> Self {
        OutsideWait(None)
    }

    /// A guard that runs `close` when dropped (for [`Clock`] implementations).
    pub fn closing_with(close: impl Send + Sync + 'static + FnOnce()) -> Self {
        struct OnDrop<F: FnOnce()>(Option<F>);
        impl<F: FnOnce()> Drop for OnDrop<F> {
            fn drop(&mut self) {
                if let Some(f) = self.0.take() {
                    f()
                }
            }
        }
        OutsideWait(Some(Box::new(OnDrop(Some(close)))))
    }
}

impl std::fmt::Debug for OutsideWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OutsideWait")
            .field(&self.0.is_some())
            .finish()
    }
}

thread_local! {
    /// Set when a sleep parks on a clock during the current poll.
    static PARKED_ON_CLOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tells [`outside`] that the future being polled on this thread parked on
/// a clock. A [`Clock`] whose time is driven by its sleepers calls it each
/// time one of its sleeps returns `Pending`.
pub fn note_parked_on_clock() {
    PARKED_ON_CLOCK.with(|p| p.set(true));
}

pin_project_lite::pin_project! {
    /// See [`outside`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Outside<F> {
        #[pin]
        inner: F,
        clock: Arc<dyn Clock>,
        open: Option<OutsideWait>,
    }
}

/// Runs `fut`, telling `clock` that whenever `fut` is pending on something
/// other than the clock itself (a store's thread, a socket, the blocking
/// pool), work is in flight: a discrete-event clock then holds time still.
/// While `fut` waits on the clock (a simulated latency, a poll interval), it
/// counts as waiting on the clock and time may pass.
///
/// The rule for hosts and adapters on a virtual clock: every wait that ends
/// without time passing must go through this wrapper (every guarded backend
/// call, the SQLite store, the user service's hashing and the migration
/// service's index build do), and no such wait may depend on the same clock
/// moving (a server in the same process whose handler sleeps on that clock
/// would answer only after the call's real-time deadline).
pub fn outside<F: Future>(clock: Arc<dyn Clock>, fut: F) -> Outside<F> {
    Outside {
        inner: fut,
        clock,
        open: None,
    }
}

impl<F: Future> Future for Outside<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // Open while polled too: the work done in this poll (a connect, a
        // send) is activity the clock must not run past.
        if this.open.is_none() {
            *this.open = Some(this.clock.outside_wait());
        }
        let before = PARKED_ON_CLOCK.with(|p| p.replace(false));
        let out = this.inner.poll(cx);
        let parked = PARKED_ON_CLOCK.with(|p| p.replace(before || p.get()));
        if out.is_ready() || parked {
            // Done, or waiting on the clock: time may pass again.
            *this.open = None;
        }
        out
    }
}
