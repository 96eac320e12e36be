//! Simulated time.

use async_trait::async_trait;
use butler_core::backend::Clock;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a [`SimClock`] moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockMode {
    /// Time moves only when someone sleeps or calls [`SimClock::advance`]:
    /// `sleep(d)` returns at once and moves the clock to at least the
    /// sleeper's start + `d`. Tests run in no wall time and never flake.
    Virtual,
    /// Time is tokio's: `now` follows `tokio::time::Instant` and `sleep` is
    /// `tokio::time::sleep`. Under a paused tokio runtime
    /// (`#[tokio::test(start_paused = true)]`) this is a true discrete-event
    /// clock — time jumps to the next timer once every task waits — which
    /// keeps simulated time right when many tasks sleep at once. Under a
    /// normal runtime it is real time.
    Tokio,
    /// Time runs `factor` times faster than the wall clock (1.0 = real time),
    /// for demos.
    Scaled(f64),
}

/// A controllable [`Clock`].
#[derive(Debug)]
pub struct SimClock {
    mode: ClockMode,
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    now: DateTime<Utc>,
    wall_origin: Instant,
    tokio_origin: Option<tokio::time::Instant>,
}

impl SimClock {
    /// A virtual clock starting at `start`.
    pub fn virtual_at(start: DateTime<Utc>) -> Self {
        Self::new(ClockMode::Virtual, start)
    }

    /// A virtual clock starting at 2026-01-05 08:00 UTC.
    pub fn virtual_default() -> Self {
        Self::virtual_at(Self::default_start())
    }

    /// A [`ClockMode::Tokio`] clock starting at 2026-01-05 08:00 UTC.
    pub fn tokio_default() -> Self {
        Self::new(ClockMode::Tokio, Self::default_start())
    }

    fn default_start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// A clock in `mode` starting at `start`.
    pub fn new(mode: ClockMode, start: DateTime<Utc>) -> Self {
        SimClock {
            mode,
            state: Mutex::new(ClockState {
                now: start,
                wall_origin: Instant::now(),
                // tokio's clock needs a runtime; its origin is taken on first use.
                tokio_origin: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward by `d` (both modes).
    pub fn advance(&self, d: Duration) {
        let mut s = self.lock();
        s.now += to_chrono(d);
    }

    /// The mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }
}

pub(crate) fn to_chrono(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

#[async_trait]
impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        let mut s = self.lock();
        match self.mode {
            ClockMode::Virtual => s.now,
            ClockMode::Tokio => {
                let origin = *s.tokio_origin.get_or_insert_with(tokio::time::Instant::now);
                s.now + to_chrono(tokio::time::Instant::now().saturating_duration_since(origin))
            }
            ClockMode::Scaled(f) => {
                let wall = s.wall_origin.elapsed().as_secs_f64() * f;
                s.now + to_chrono(Duration::from_secs_f64(wall.max(0.0)))
            }
        }
    }

    async fn sleep(&self, d: Duration) {
        match self.mode {
            ClockMode::Virtual => {
                {
                    // Concurrent sleepers each wait from their own start, so
                    // the clock moves to the latest wake-up, not the sum.
                    let mut s = self.lock();
                    let wake = s.now + to_chrono(d);
                    if wake > s.now {
                        s.now = wake;
                    }
                }
                tokio::task::yield_now().await;
            }
            ClockMode::Tokio => {
                {
                    let mut s = self.lock();
                    s.tokio_origin.get_or_insert_with(tokio::time::Instant::now);
                }
                tokio::time::sleep(d).await
            }
            ClockMode::Scaled(f) => {
                let f = if f > 0.0 { f } else { 1.0 };
                tokio::time::sleep(d.div_f64(f)).await;
            }
        }
    }
}
