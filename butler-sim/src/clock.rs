//! Simulated time.
//!
//! [`ClockMode::Virtual`] is a discrete-event clock: a sleep parks until
//! time reaches its deadline, and time jumps to the earliest deadline only
//! when every task waiting on the clock has stopped making progress (or
//! when a test calls [`SimClock::advance`]). Concurrent sleeps overlap: 100
//! tasks sleeping 60 s move the clock 60 s, not 6,000 s. Background waits
//! ([`Clock::sleep_idle`]: refreshers, an idle engine) never drive time on
//! their own, so an idle simulation stands still instead of spinning.
//!
//! Waits on anything else count as work in flight: while a task waits on
//! the SQLite store's thread, the blocking pool or a socket through
//! [`butler_core::backend::outside`] (every guarded backend call, the SQLite
//! store, the user service and the migration service do), time stands
//! still. The rule a
//! host follows: a wait that ends without time passing goes through
//! `outside`, and no such wait may depend on this clock moving.
//!
//! The clock sees only tasks that wait on it or report an outside wait: a
//! task spawned but not yet run, or one the operating system has descheduled
//! before its first sleep, cannot hold time back. A caller that needs
//! several sleeps to start at the same instant takes a [`SimClock::hold`]
//! while it starts them. While time is held or outside work is open the
//! driver parks on a notification; it never spins.

use async_trait::async_trait;
use butler_core::backend::{Clock, OutsideWait};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// How a [`SimClock`] moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockMode {
    /// Discrete-event virtual time (see the module docs). Tests and demos
    /// run in no wall time, and sleeps that overlap take the time of the
    /// longest, as they would for real.
    Virtual,
    /// Time is tokio's: `now` follows `tokio::time::Instant` and `sleep` is
    /// `tokio::time::sleep`. Under a paused tokio runtime
    /// (`#[tokio::test(start_paused = true)]`) this is tokio's own
    /// discrete-event clock; under a normal runtime it is real time. A
    /// paused runtime jumps its clock whenever every task waits on
    /// something else, a store's thread included: pair it only with the
    /// memory store, and use [`ClockMode::Virtual`] on a normal runtime
    /// for anything that waits on SQLite, PostgreSQL or a socket.
    Tokio,
    /// Time runs `factor` times faster than the wall clock (1.0 = real time),
    /// for demos.
    Scaled(f64),
}

/// A controllable [`Clock`].
#[derive(Debug)]
pub struct SimClock {
    mode: ClockMode,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<ClockState>,
    /// Wakes a parked driver when a hold or the last outside wait ends.
    unheld: tokio::sync::Notify,
}

#[derive(Debug)]
struct ClockState {
    now: DateTime<Utc>,
    wall_origin: Instant,
    tokio_origin: Option<tokio::time::Instant>,
    /// Parked sleepers by (deadline, ticket).
    sleepers: BTreeMap<(DateTime<Utc>, u64), Sleeper>,
    next_ticket: u64,
    /// Parked sleepers that drive time (not background waits).
    foreground: usize,
    /// Bumped whenever a sleeper parks or wakes: the driver advances only
    /// after it stops changing.
    activity: u64,
    driver_running: bool,
    /// Live [`ClockHold`]s: while any exists, time moves only by `advance`.
    holds: usize,
    /// Open [`OutsideWait`]s: tasks waiting on something that needs no time.
    outside: usize,
    /// Times the driver checked for quiet (diagnostics: a held clock must
    /// not count up).
    driver_checks: u64,
}

#[derive(Debug)]
struct Sleeper {
    waker: Option<Waker>,
    background: bool,
}

/// Yields per quiescence check: enough for every ready task to run and park.
const QUIET_YIELDS: usize = 32;

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
            shared: Arc::new(Shared {
                state: Mutex::new(ClockState {
                    now: start,
                    wall_origin: Instant::now(),
                    // tokio's clock needs a runtime; its origin is taken on first use.
                    tokio_origin: None,
                    sleepers: BTreeMap::new(),
                    next_ticket: 0,
                    foreground: 0,
                    activity: 0,
                    driver_running: false,
                    holds: 0,
                    outside: 0,
                    driver_checks: 0,
                }),
                unheld: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Moves the clock forward by `d` and wakes every sleeper due by then.
    pub fn advance(&self, d: Duration) {
        let due = {
            let mut s = self.shared.lock();
            s.now = butler_core::backend::after(s.now, d);
            s.take_due()
        };
        due.into_iter().for_each(Waker::wake);
    }

    /// Stops virtual time from moving on its own until the returned guard
    /// is dropped ([`SimClock::advance`] still moves it). Take it while
    /// starting tasks whose sleeps must all begin at the current instant;
    /// without it, time can move between two of them.
    pub fn hold(&self) -> ClockHold {
        self.shared.lock().holds += 1;
        ClockHold {
            shared: self.shared.clone(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// Sleepers parked on a virtual clock (for tests and diagnostics).
    pub fn parked(&self) -> usize {
        self.shared.lock().sleepers.len()
    }

    /// Outside waits open now (for tests and diagnostics).
    pub fn outside_waits(&self) -> usize {
        self.shared.lock().outside
    }

    /// How many times the driver has checked whether the tasks are quiet
    /// (for tests and diagnostics: it does not count up while time is held).
    pub fn driver_checks(&self) -> u64 {
        self.shared.lock().driver_checks
    }

    async fn park(&self, d: Duration, background: bool) {
        if d.is_zero() {
            tokio::task::yield_now().await;
            return;
        }
        let (deadline, ticket) = {
            let mut s = self.shared.lock();
            let ticket = s.next_ticket;
            s.next_ticket += 1;
            (butler_core::backend::after(s.now, d), ticket)
        };
        let key = (deadline, ticket);
        let _unpark = Unpark {
            shared: &self.shared,
            key,
        };
        std::future::poll_fn(|cx| {
            let mut s = self.shared.lock();
            if s.now >= deadline {
                s.remove(key);
                return Poll::Ready(());
            }
            match s.sleepers.get_mut(&key) {
                Some(sl) => sl.waker = Some(cx.waker().clone()),
                None => {
                    s.sleepers.insert(
                        key,
                        Sleeper {
                            waker: Some(cx.waker().clone()),
                            background,
                        },
                    );
                    if !background {
                        s.foreground += 1;
                    }
                    s.activity += 1;
                    if !s.driver_running && s.foreground > 0 {
                        match tokio::runtime::Handle::try_current() {
                            Ok(rt) => {
                                s.driver_running = true;
                                rt.spawn(drive(self.shared.clone()));
                            }
                            // No runtime to drive time: move it at once.
                            Err(_) => {
                                s.now = s.now.max(deadline);
                                s.remove(key);
                                return Poll::Ready(());
                            }
                        }
                    }
                }
            }
            butler_core::backend::note_parked_on_clock();
            Poll::Pending
        })
        .await
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends one hold or outside wait (`count` picks which) and wakes the
    /// driver when nothing keeps time still any more.
    fn release(&self, count: fn(&mut ClockState) -> &mut usize) {
        let free = {
            let mut s = self.lock();
            let n = count(&mut s);
            *n = n.saturating_sub(1);
            s.activity += 1;
            s.holds == 0 && s.outside == 0
        };
        if free {
            self.unheld.notify_one();
        }
    }
}

impl ClockState {
    fn remove(&mut self, key: (DateTime<Utc>, u64)) {
        if let Some(sl) = self.sleepers.remove(&key) {
            if !sl.background {
                self.foreground -= 1;
            }
            self.activity += 1;
        }
    }

    /// Removes the sleepers due at `now` and returns their wakers.
    fn take_due(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        while let Some((&key, _)) = self.sleepers.first_key_value() {
            if key.0 > self.now {
                break;
            }
            if let Some(sl) = self.sleepers.remove(&key) {
                if !sl.background {
                    self.foreground -= 1;
                }
                wakers.extend(sl.waker);
            }
            self.activity += 1;
        }
        wakers
    }
}

/// Keeps a virtual clock still while it lives (see [`SimClock::hold`]).
#[derive(Debug)]
#[must_use = "time is held only while the guard lives"]
pub struct ClockHold {
    shared: Arc<Shared>,
}

impl Drop for ClockHold {
    fn drop(&mut self) {
        self.shared.release(|s| &mut s.holds);
    }
}

/// Removes a sleeper whose future is dropped before it is due (a `select!`
/// that took another branch), so it never holds time back or drives it.
struct Unpark<'a> {
    shared: &'a Shared,
    key: (DateTime<Utc>, u64),
}

impl Drop for Unpark<'_> {
    fn drop(&mut self) {
        self.shared.lock().remove(self.key);
    }
}

/// Clears `driver_running` if the driver's task is dropped mid-loop. The
/// quiet exits clear the flag themselves under the lock that saw no
/// foreground sleeper (and disarm this), so a sleeper that parks right
/// after always starts a new driver and never waits on one that is leaving.
struct DriverRunning<'a> {
    shared: &'a Shared,
    armed: bool,
}

impl Drop for DriverRunning<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().driver_running = false;
        }
    }
}

/// Advances time to the earliest deadline whenever the tasks waiting on the
/// clock have stopped making progress, no outside wait is open and no
/// spawned task waits for its first run, while at least one foreground
/// sleeper waits; stops when none does. Parks while time is held.
async fn drive(shared: Arc<Shared>) {
    let metrics = tokio::runtime::Handle::try_current().map(|rt| rt.metrics());
    // A runtime that shuts down (a test's "process" that dies) drops this
    // task mid-loop; the next sleeper, on another runtime, must then start
    // a driver of its own instead of waiting for this one for ever.
    let mut running = DriverRunning {
        shared: &shared,
        armed: true,
    };
    loop {
        // Held or waiting on the outside: park until that ends.
        loop {
            let unheld = shared.unheld.notified();
            {
                let mut s = shared.lock();
                if s.foreground == 0 {
                    s.driver_running = false;
                    running.armed = false;
                    return;
                }
                if s.holds == 0 && s.outside == 0 {
                    break;
                }
            }
            unheld.await;
        }
        let before = {
            let mut s = shared.lock();
            s.driver_checks += 1;
            s.activity
        };
        for _ in 0..QUIET_YIELDS {
            tokio::task::yield_now().await;
        }
        // Tasks spawned from outside the runtime wait in its global queue;
        // they may be about to sleep from the current instant.
        let queued = metrics.as_ref().map_or(0, |m| m.global_queue_depth());
        let due = {
            let mut s = shared.lock();
            if s.foreground == 0 {
                s.driver_running = false;
                running.armed = false;
                return;
            }
            if s.activity != before || s.holds > 0 || s.outside > 0 || queued > 0 {
                continue;
            }
            match s.sleepers.first_key_value() {
                Some((&(deadline, _), _)) => {
                    s.now = s.now.max(deadline);
                    s.take_due()
                }
                None => Vec::new(),
            }
        };
        due.into_iter().for_each(Waker::wake);
    }
}

pub(crate) fn to_chrono(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

#[async_trait]
impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        let mut s = self.shared.lock();
        match self.mode {
            ClockMode::Virtual => s.now,
            ClockMode::Tokio => {
                let origin = *s.tokio_origin.get_or_insert_with(tokio::time::Instant::now);
                butler_core::backend::after(
                    s.now,
                    tokio::time::Instant::now().saturating_duration_since(origin),
                )
            }
            ClockMode::Scaled(f) => {
                let wall = s.wall_origin.elapsed().as_secs_f64() * f;
                butler_core::backend::after(
                    s.now,
                    Duration::try_from_secs_f64(wall.max(0.0)).unwrap_or(Duration::MAX),
                )
            }
        }
    }

    async fn sleep(&self, d: Duration) {
        match self.mode {
            ClockMode::Virtual => self.park(d, false).await,
            ClockMode::Tokio => {
                self.shared
                    .lock()
                    .tokio_origin
                    .get_or_insert_with(tokio::time::Instant::now);
                tokio::time::sleep(d).await
            }
            ClockMode::Scaled(f) => {
                let f = if f > 0.0 { f } else { 1.0 };
                tokio::time::sleep(d.div_f64(f)).await;
            }
        }
    }

    async fn sleep_idle(&self, d: Duration) {
        match self.mode {
            ClockMode::Virtual => self.park(d, true).await,
            _ => self.sleep(d).await,
        }
    }

    fn outside_wait(&self) -> OutsideWait {
        if self.mode != ClockMode::Virtual {
            return OutsideWait::none();
        }
        {
            let mut s = self.shared.lock();
            s.outside += 1;
            s.activity += 1;
        }
        let shared = self.shared.clone();
        OutsideWait::closing_with(move || shared.release(|s| &mut s.outside))
    }

    fn is_virtual(&self) -> bool {
        self.mode == ClockMode::Virtual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_sleeps_overlap_instead_of_adding_up() {
        let clock = Arc::new(SimClock::virtual_default());
        let start = clock.now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let c = clock.clone();
            set.spawn(async move { c.sleep(Duration::from_secs(60)).await });
        }
        while set.join_next().await.is_some() {}
        assert_eq!(clock.now() - start, ChronoDuration::seconds(60));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_sleeps_wake_in_deadline_order_on_a_threaded_runtime() {
        let clock = Arc::new(SimClock::virtual_default());
        let start = clock.now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut set = tokio::task::JoinSet::new();
        // The test thread can be descheduled between two spawns while the
        // workers run the first sleepers: the hold makes all four start now.
        let hold = clock.hold();
        for secs in [30u64, 10, 20, 10] {
            let (c, o) = (clock.clone(), order.clone());
            set.spawn(async move {
                c.sleep(Duration::from_secs(secs)).await;
                let at = (c.now() - start).num_seconds();
                o.lock().unwrap().push((secs, at));
            });
        }
        while clock.parked() < 4 {
            tokio::task::yield_now().await;
        }
        assert_eq!(clock.now(), start, "held: time stood still");
        drop(hold);
        while set.join_next().await.is_some() {}
        let mut got = order.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, vec![(10, 10), (10, 10), (20, 20), (30, 30)]);
        assert_eq!(clock.now() - start, ChronoDuration::seconds(30));
    }

    #[tokio::test]
    async fn background_waits_do_not_move_an_idle_clock() {
        let clock = Arc::new(SimClock::virtual_default());
        let start = clock.now();
        let c = clock.clone();
        let refresher = tokio::spawn(async move {
            let mut n = 0u32;
            loop {
                c.sleep_idle(Duration::from_secs(300)).await;
                n += 1;
                if n == 3 {
                    return n;
                }
            }
        });
        for _ in 0..1000 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            clock.now(),
            start,
            "nothing but a background wait: time stands still"
        );
        // Foreground work moves time, and the background loop follows it.
        clock.sleep(Duration::from_secs(900)).await;
        assert_eq!(refresher.await.unwrap(), 3);
        assert_eq!(clock.now() - start, ChronoDuration::seconds(900));
    }

    #[tokio::test]
    async fn a_dropped_sleep_neither_holds_nor_drives_time() {
        let clock = Arc::new(SimClock::virtual_default());
        let start = clock.now();
        tokio::select! {
            _ = clock.sleep(Duration::from_secs(3600)) => panic!("the shorter one wins"),
            _ = clock.sleep(Duration::from_secs(5)) => {}
        }
        assert_eq!(clock.parked(), 0);
        assert_eq!(clock.now() - start, ChronoDuration::seconds(5));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now() - start, ChronoDuration::seconds(6));
    }

    #[tokio::test]
    async fn a_held_clock_parks_its_driver_instead_of_spinning() {
        let clock = Arc::new(SimClock::virtual_default());
        let start = clock.now();
        let hold = clock.hold();
        let c = clock.clone();
        let sleeper = tokio::spawn(async move { c.sleep(Duration::from_secs(60)).await });
        while clock.parked() < 1 {
            tokio::task::yield_now().await;
        }
        // On this one-thread runtime a spinning driver would run between
        // every two of these yields.
        let checks = clock.driver_checks();
        for _ in 0..10_000 {
            tokio::task::yield_now().await;
        }
        assert!(
            clock.driver_checks() <= checks + 1,
            "the driver checked {} times while held",
            clock.driver_checks() - checks
        );
        assert_eq!(clock.now(), start, "held: time stood still");
        drop(hold);
        sleeper.await.unwrap();
        assert_eq!(clock.now() - start, ChronoDuration::seconds(60));
    }

    #[tokio::test]
    async fn an_outside_wait_holds_time_and_a_clock_wait_inside_it_does_not() {
        use butler_core::backend::outside;
        let clock = Arc::new(SimClock::virtual_default());
        let dynclock: Arc<dyn Clock> = clock.clone();
        let start = clock.now();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // A task waiting on something that needs no time (a store thread's
        // answer), beside a heartbeat that sleeps on the clock.
        let waiting = tokio::spawn(outside(dynclock.clone(), rx));
        let c = clock.clone();
        let heartbeat = tokio::spawn(async move {
            for _ in 0..10 {
                c.sleep(Duration::from_secs(300)).await;
            }
        });
        while clock.outside_waits() < 1 || clock.parked() < 1 {
            tokio::task::yield_now().await;
        }
        for _ in 0..1_000 {
            tokio::task::yield_now().await;
        }
        assert_eq!(clock.now(), start, "nothing passes while the answer is due");
        tx.send(()).unwrap();
        waiting.await.unwrap().unwrap();
        heartbeat.await.unwrap();
        assert_eq!(clock.outside_waits(), 0);
        assert_eq!(clock.now() - start, ChronoDuration::seconds(3000));
        // A wait on the clock inside an outside wrapper lets time pass.
        outside(dynclock, clock.sleep(Duration::from_secs(7))).await;
        assert_eq!(clock.now() - start, ChronoDuration::seconds(3007));
    }

    #[test]
    fn a_runtime_that_dies_mid_drive_leaves_time_to_the_next_one() {
        let clock = Arc::new(SimClock::virtual_default());
        let start = clock.now();
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let hold = clock.hold();
        first.block_on(async {
            let c = clock.clone();
            tokio::spawn(async move { c.sleep(Duration::from_secs(3600)).await });
            while clock.parked() < 1 {
                tokio::task::yield_now().await;
            }
        });
        // The process dies with its driver parked on the hold.
        drop(first);
        drop(hold);
        assert_eq!(clock.parked(), 0, "the dead sleeper is gone");
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        second.block_on(async {
            // Real time bounds only a hang: without a new driver this
            // sleep would never end.
            tokio::time::timeout(
                Duration::from_secs(60),
                clock.sleep(Duration::from_secs(60)),
            )
            .await
            .expect("a new driver moves time");
        });
        assert_eq!(clock.now() - start, ChronoDuration::seconds(60));
    }
}
