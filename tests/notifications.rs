//! Notifications through the store's outbox, on the simulator's virtual
//! clock and an SQLite file: events wait while a notifier is down, survive
//! a restart, arrive once each, are given up when refused or too old, are
//! shown to Admins meanwhile, and processes sharing a store deliver each
//! event once.

mod common;

use butler::auth::{Actor, Role};
use butler::notify::{Event, Notifier, NotifyConfig, NotifyError};
use butler::request::{RequestId, RequestState};
use butler::sim::SimPlatform;
use butler::{Butler, ButlerError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A notifier that is up or down (or refuses), and remembers what it got.
struct Recorder {
    name: &'static str,
    up: AtomicBool,
    refuse: AtomicBool,
    attempts: AtomicU64,
    got: Mutex<Vec<(RequestId, RequestState)>>,
}

impl Recorder {
    fn new(name: &'static str, up: bool) -> Arc<Recorder> {
        Arc::new(Recorder {
            name,
            up: AtomicBool::new(up),
            refuse: AtomicBool::new(false),
            attempts: AtomicU64::new(0),
            got: Mutex::new(Vec::new()),
        })
    }

    fn got(&self) -> Vec<(RequestId, RequestState)> {
        self.got.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    async fn notify(&self, e: &Event) -> Result<(), NotifyError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.refuse.load(Ordering::SeqCst) {
            return Err(NotifyError::permanent("refused"));
        }
        if !self.up.load(Ordering::SeqCst) {
            return Err(NotifyError::retry("connection refused"));
        }
        self.got.lock().unwrap().push((e.request, e.to));
        Ok(())
    }
}

fn process() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn admin() -> Actor {
    Actor::trusted("ada", [Role::Admin]).unwrap()
}

fn butler(sim: &SimPlatform, path: &std::path::Path, n: Arc<Recorder>) -> Butler {
    Butler::builder()
        .simulator(sim.clone())
        .sqlite(path)
        .notifier(n)
        .build()
        .unwrap()
}

/// Creates and submits `n` requests: `2 n` events.
async fn submit(b: &Butler, n: usize, tag: &str) -> Vec<RequestId> {
    let ana = common::ana();
    let mut ids = Vec::new();
    for i in 0..n {
        let svc = b.requests();
        let r = svc
            .create(&ana, butler::demo::spec(&format!("{tag}{i:03}")))
            .await
            .unwrap();
        svc.submit(&ana, r.id, r.version).await.unwrap();
        ids.push(r.id);
    }
    ids
}

/// Lets `d` of virtual time pass, a minute at a time.
async fn pass(b: &Butler, d: Duration) {
    let mut left = d;
    while !left.is_zero() {
        let step = left.min(Duration::from_secs(60));
        b.clock().sleep(step).await;
        left -= step;
    }
}

/// Waits (virtual time passing) until `done` holds; at most `limit`.
async fn until(b: &Butler, limit: Duration, mut done: impl FnMut() -> bool) {
    let mut waited = Duration::ZERO;
    while !done() {
        assert!(waited < limit, "not done after {limit:?} of virtual time");
        b.clock().sleep(Duration::from_secs(1)).await;
        waited += Duration::from_secs(1);
    }
}

fn each_once(got: &[(RequestId, RequestState)], ids: &[RequestId]) {
    let mut count: BTreeMap<(RequestId, RequestState), usize> = BTreeMap::new();
    for k in got {
        *count.entry(*k).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    for id in ids {
        for state in [RequestState::Created, RequestState::Requested] {
            assert!(
                count.contains_key(&(*id, state)),
                "{id} {state:?} never delivered"
            );
        }
    }
    assert_eq!(got.len(), ids.len() * 2);
}

#[test]
fn events_wait_while_the_notifier_is_down_survive_a_restart_and_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let sim = SimPlatform::demo(71);
    let down = Recorder::new("rec", false);
    let first = process();
    let mut ids = first.block_on(async {
        let b = butler(&sim, &path, down.clone());
        let ids = submit(&b, 100, "ob").await;
        pass(&b, Duration::from_secs(600)).await;
        assert!(down.got().is_empty());
        assert!(
            down.attempts.load(Ordering::SeqCst) > 200,
            "every event was tried, some again: {}",
            down.attempts.load(Ordering::SeqCst)
        );
        // Admins see what waits, and why; nobody else may look.
        let failed = b
            .requests()
            .failed_deliveries(&admin(), 1000)
            .await
            .unwrap();
        assert_eq!(failed.len(), 200);
        assert!(failed.iter().all(|d| !d.gave_up
            && d.attempts >= 2
            && d.notifier == "rec"
            && d.last_error.as_deref() == Some("connection refused")));
        assert!(matches!(
            b.requests().failed_deliveries(&common::bea(), 10).await,
            Err(ButlerError::Denied(_))
        ));
        ids
    });
    drop(first); // the process dies with everything undelivered

    let up = Recorder::new("rec", false);
    let second = process();
    second.block_on(async {
        let b = butler(&sim, &path, up.clone());
        ids.extend(submit(&b, 50, "oc").await);
        pass(&b, Duration::from_secs(60)).await;
        up.up.store(true, Ordering::SeqCst);
        until(&b, Duration::from_secs(3 * 3600), || up.got().len() >= 300).await;
        // Nothing is left to send, so nothing can arrive twice later.
        pass(&b, Duration::from_secs(3600)).await;
        each_once(&up.got(), &ids);
        let failed = b
            .requests()
            .failed_deliveries(&admin(), 1000)
            .await
            .unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        let due = b
            .store()
            .due_deliveries("rec", b.clock().now(), 10)
            .await
            .unwrap();
        assert!(due.is_empty(), "{due:?}");
    });
}

#[test]
fn refused_and_too_old_deliveries_are_given_up_and_shown_to_admins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("give-up.sqlite");
    let sim = SimPlatform::demo(72);
    let refusing = Recorder::new("refusing", true);
    refusing.refuse.store(true, Ordering::SeqCst);
    let down = Recorder::new("down", false);
    let config = NotifyConfig {
        retry: butler::resilience::RetryPolicy {
            step_deadline: Duration::from_secs(3600),
            ..NotifyConfig::default().retry
        },
        ..NotifyConfig::default()
    };
    process().block_on(async {
        let b = Butler::builder()
            .simulator(sim.clone())
            .sqlite(&path)
            .notifier(refusing.clone())
            .notifier(down.clone())
            .notify_config(config)
            .build()
            .unwrap();
        let ids = submit(&b, 5, "gu").await;
        let given_up = |name: &'static str| {
            let requests = b.requests().clone();
            async move {
                requests
                    .failed_deliveries(&admin(), 1000)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|d| d.notifier == name && d.gave_up)
                    .collect::<Vec<_>>()
            }
        };
        pass(&b, Duration::from_secs(60)).await;
        let refused = given_up("refusing").await;
        assert_eq!(refused.len(), 10, "refused: given up at once");
        assert!(refused.iter().all(|d| d.attempts == 1));
        assert_eq!(refusing.attempts.load(Ordering::SeqCst), 10, "never again");
        assert!(given_up("down").await.is_empty(), "still retrying");
        pass(&b, Duration::from_secs(2 * 3600)).await;
        let old = given_up("down").await;
        assert_eq!(old.len(), 10, "an hour of retries, then given up");
        assert!(old.iter().all(|d| d.attempts > 3
            && d.last_error
                .as_deref()
                .is_some_and(|e| e.contains("given up after"))));
        let attempts = down.attempts.load(Ordering::SeqCst);
        down.up.store(true, Ordering::SeqCst);
        pass(&b, Duration::from_secs(3600)).await;
        assert_eq!(
            down.attempts.load(Ordering::SeqCst),
            attempts,
            "never again"
        );
        assert!(ids.iter().all(|id| old.iter().any(|d| d.request == *id)));
    });
}

#[test]
fn two_processes_sharing_a_store_deliver_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let sim = SimPlatform::demo(73);
    let (one, two) = (Recorder::new("rec", true), Recorder::new("rec", true));
    process().block_on(async {
        let a = butler(&sim, &path, one.clone());
        let b = butler(&sim, &path, two.clone());
        let mut ids = submit(&a, 40, "sa").await;
        ids.extend(submit(&b, 40, "sb").await);
        let total = || one.got().len() + two.got().len();
        until(&a, Duration::from_secs(3600), || total() >= 160).await;
        pass(&a, Duration::from_secs(600)).await;
        let mut all = one.got();
        all.extend(two.got());
        each_once(&all, &ids);
    });
}

#[test]
fn two_notifiers_with_one_name_are_refused() {
    let err = Butler::builder()
        .notifier(Recorder::new("same", true))
        .notifier(Recorder::new("same", true))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("\"same\""), "{err}");
}

#[test]
fn writes_wait_for_a_registration_the_store_refused_once_so_no_event_is_missed() {
    let sim = SimPlatform::demo(74);
    let rec = Recorder::new("rec", true);
    process().block_on(async {
        let store = Arc::new(butler::testing::FaultyStore::new(Arc::new(
            butler::store::SqliteStore::open_in_memory().unwrap(),
        )));
        store.fail_call("register_notifier", 1);
        let b = Butler::builder()
            .simulator(sim.clone())
            .store(store.clone())
            .notifier(rec.clone())
            .build()
            .unwrap();
        let ids = submit(&b, 3, "rg").await;
        until(&b, Duration::from_secs(600), || rec.got().len() >= 6).await;
        assert_eq!(store.failures(), 1, "the registration failed once");
        each_once(&rec.got(), &ids);
    });
}

#[test]
fn notify_settings_that_cannot_work_are_refused_by_name() {
    let build = |config: NotifyConfig| {
        Butler::builder()
            .notifier(Recorder::new("rec", true))
            .notify_config(config)
            .build()
            .unwrap_err()
            .to_string()
    };
    let none = build(NotifyConfig {
        parallel: 0,
        ..NotifyConfig::default()
    });
    assert!(none.contains("parallel"), "{none}");
    let short = build(NotifyConfig {
        lease: Duration::from_secs(30),
        ..NotifyConfig::default()
    });
    assert!(short.contains("lease"), "{short}");
}
