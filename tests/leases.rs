//! Leases (SPEC §12) on the simulator and its virtual clock: the lease a
//! request asks becomes the VM's lease end; the lease watch tells the
//! owner 14, 7 and 1 days before, each notice once per notifier whatever
//! the number of passes, again after a failure; at the end it tells the
//! owner, or, where the deployment says so, asks and approves the VM's
//! decommission once, which the engine carries out. Notices, of leases and
//! of power changes, wait in the VM's own outbox until every notifier has
//! them.

mod common;

use async_trait::async_trait;
use butler::inventory::{
    InventoryConfig, LeaseConfig, LeaseSweep, Lifecycle, NoticePass, VmRecord,
};
use butler::notify::{Event, Notifier, NotifyError, VmNotice, VmNoticeKind};
use butler::request::{ActionKind, RequestKind, RequestState};
use butler::sim::SimPlatform;
use butler::{Butler, ButlerBuilder};
use common::{ana, bea};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Keeps every VM notice; fails while told to.
#[derive(Default)]
struct Recorder {
    notices: Mutex<Vec<VmNotice>>,
    failing: AtomicBool,
}

#[async_trait]
impl Notifier for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn notify(&self, _: &Event) -> Result<(), NotifyError> {
        Ok(())
    }
    async fn notify_vm(&self, n: &VmNotice) -> Result<(), NotifyError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(NotifyError::retry("the mail server is down"));
        }
        self.notices.lock().unwrap().push(n.clone());
        Ok(())
    }
}

impl Recorder {
    fn days_left(&self) -> Vec<Option<u32>> {
        self.notices
            .lock()
            .unwrap()
            .iter()
            .map(|n| match n.kind {
                VmNoticeKind::LeaseEnding { days_left, .. } => Some(days_left),
                _ => None,
            })
            .collect()
    }
}

struct Leased {
    butler: Butler,
    sim: SimPlatform,
    recorder: Arc<Recorder>,
}

impl Leased {
    fn new(retire_at_end: bool) -> Leased {
        Leased::with(retire_at_end, |b| b)
    }

    /// As `new`, the builder finished by `more` (more notifiers, say).
    fn with(retire_at_end: bool, more: impl FnOnce(ButlerBuilder) -> ButlerBuilder) -> Leased {
        let sim = SimPlatform::demo(7);
        let recorder = Arc::new(Recorder::default());
        let builder = Butler::builder()
            .simulator(sim.clone())
            .notifier(recorder.clone())
            .inventory_config(InventoryConfig {
                leases: LeaseConfig {
                    retire_at_end,
                    // One record a page: every pass pages through.
                    page: 1,
                    ..LeaseConfig::default()
                },
                ..InventoryConfig::default()
            });
        let butler = more(builder).build().unwrap();
        Leased {
            butler,
            sim,
            recorder,
        }
    }

    /// A VM for ana leased for `days`, provisioned, and its record.
    async fn vm(&self, name: &str, days: u32) -> VmRecord {
        let svc = self.butler.requests();
        let spec = butler::vm_spec::VmSpec {
            lease_days: Some(days),
            ..butler::demo::spec(name)
        };
        let r = svc.create(&ana(), spec).await.unwrap();
        let r = svc.submit(&ana(), r.id, r.version).await.unwrap();
        let r = svc.approve(&bea(), r.id, r.version).await.unwrap();
        self.run().await;
        let done = svc.store().get_request(r.id).await.unwrap();
        assert_eq!(done.state, RequestState::Completed);
        self.record(&done.platform_vm_name()).await
    }

    async fn run(&self) {
        self.butler
            .engine()
            .unwrap()
            .run_until_idle()
            .await
            .unwrap();
    }

    async fn record(&self, name: &str) -> VmRecord {
        self.butler
            .store()
            .find_vm_named(name)
            .await
            .unwrap()
            .unwrap()
    }

    fn today(&self) -> chrono::NaiveDate {
        self.butler.clock().now().date_naive()
    }

    fn pass_days(&self, n: u32) {
        self.sim.clock().advance(DAY * n);
    }

    /// A lease watch pass, then a delivery of the VMs' outboxes.
    async fn pass(&self) -> (LeaseSweep, NoticePass) {
        let swept = self.butler.leases().sweep().await.unwrap();
        let delivered = self.butler.vm_notices().deliver().await.unwrap();
        (swept, delivered)
    }
}

#[tokio::test]
async fn the_lease_asked_becomes_the_vms_lease_end_and_a_capped_environment_fills_it_in() {
    let l = Leased::new(false);
    let rec = l.vm("leased", 30).await;
    let end = l.today().checked_add_days(chrono::Days::new(30)).unwrap();
    assert_eq!(rec.lease_end, Some(end));

    // No lease asked where the environment has no cap: no lease at all.
    let svc = l.butler.requests();
    let r = svc
        .create(&ana(), butler::demo::spec("free"))
        .await
        .unwrap();
    assert_eq!(r.spec.lease_days, None);
    // Zero days, or more than Butler's ten years: refused, naming the field.
    for days in [0, butler::limits::MAX_LEASE_DAYS + 1] {
        let spec = butler::vm_spec::VmSpec {
            lease_days: Some(days),
            ..butler::demo::spec("bad-lease")
        };
        let e = svc.create(&ana(), spec).await.unwrap_err();
        let butler::ButlerError::Validation(p) = e else {
            panic!("{e}")
        };
        assert_eq!(p.0[0].field, "lease_days");
        assert_eq!(p.codes(), [butler::vm_spec::SpecErrorCode::LeaseOutOfRange]);
    }
}

#[tokio::test]
async fn the_owner_hears_14_7_and_1_days_before_each_notice_once_and_again_after_a_failure() {
    let l = Leased::new(false);
    let rec = l.vm("noticed", 20).await;

    // 20 days left: outside the window; nothing read, nothing written.
    let (s, d) = l.pass().await;
    assert_eq!((s.looked_at, s.notices, d.delivered), (0, 0, 0));
    l.pass_days(6); // 14 left
    let (s, d) = l.pass().await;
    assert_eq!((s.notices, d.delivered), (1, 1));
    // Passes in between write and send nothing more.
    for _ in 0..3 {
        l.pass_days(1);
        let (s, d) = l.pass().await;
        assert_eq!((s.notices, d.delivered), (0, 0));
    }
    // 7 left, but the mail server is down: the notice waits in the VM's
    // outbox, and goes the next day.
    l.pass_days(4);
    l.recorder.failing.store(true, Ordering::SeqCst);
    let (s, d) = l.pass().await;
    assert_eq!((s.notices, d.delivered, d.failed), (1, 0, 1));
    assert_eq!(l.record(&rec.name).await.outbox.len(), 1, "kept");
    l.recorder.failing.store(false, Ordering::SeqCst);
    l.pass_days(1);
    let (s, d) = l.pass().await;
    assert_eq!((s.notices, d.delivered), (0, 1));
    assert!(
        l.record(&rec.name).await.outbox.is_empty(),
        "delivered, dropped"
    );
    // A pass that comes late writes only what is due now: 1 day left.
    l.pass_days(5);
    assert_eq!(l.pass().await.1.delivered, 1);
    assert_eq!(l.recorder.days_left(), [Some(14), Some(7), Some(1)]);

    // The end: the owner hears it ended (once), and the VM runs on.
    l.pass_days(1);
    assert_eq!(l.pass().await.1.delivered, 1);
    l.pass_days(3);
    assert_eq!(l.pass().await.1.delivered, 0);
    let last = l.recorder.notices.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.kind,
        VmNoticeKind::LeaseEnded {
            ended: rec.lease_end.unwrap()
        }
    );
    assert_eq!(last.owner, "ana");
    let now = l.record(&rec.name).await;
    assert_eq!(now.lifecycle, Lifecycle::Active);
    assert_eq!(now.lease_noticed, Some(0));
    let noticed = now
        .history
        .iter()
        .filter(|h| h.what.starts_with("lease notice"))
        .count();
    assert_eq!(noticed, 4, "each notice in the VM's history");
    assert_eq!(l.sim.deletions(&rec.platform_id), 0);
}

#[tokio::test]
async fn where_the_deployment_says_so_the_lease_end_retires_the_vm_once() {
    let l = Leased::new(true);
    let rec = l.vm("expiring", 3).await;
    let other = l.vm("unleased-neighbour", 300).await;
    let watch = l.butler.leases();
    assert_eq!(l.pass().await.1.delivered, 1);
    assert!(matches!(
        l.recorder.notices.lock().unwrap()[0].kind,
        VmNoticeKind::LeaseEnding {
            retired_then: true,
            ..
        }
    ));
    l.pass_days(3);
    let s = watch.sweep().await.unwrap();
    assert_eq!(s.retirements, 1);
    // A second pass before the engine runs asks nothing more.
    assert_eq!(watch.sweep().await.unwrap().retirements, 0);
    let marked = l.record(&rec.name).await;
    let id = marked
        .lease_retirement
        .expect("the request is on the record");
    let r = l.butler.store().get_request(id).await.unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(r.owner, "ana", "the owner sees it among her requests");
    assert!(matches!(&r.kind, RequestKind::Decommission(t) if t.vm == rec.id));
    let actions: Vec<ActionKind> = r.history.iter().map(|h| h.action).collect();
    assert_eq!(
        actions,
        [ActionKind::Create, ActionKind::Submit, ActionKind::Approve]
    );
    assert!(r
        .history
        .iter()
        .all(|h| h.actor == butler::auth::ENGINE_NAME));

    l.run().await;
    let done = l.butler.store().get_request(id).await.unwrap();
    assert_eq!(done.state, RequestState::Completed);
    assert_eq!(l.record(&rec.name).await.lifecycle, Lifecycle::Retired);
    assert_eq!(l.sim.deletions(&rec.platform_id), 1);
    assert_eq!(l.sim.billing_stops(&rec.name), 1);
    // The neighbour, leased for longer, is untouched.
    assert_eq!(l.record(&other.name).await.lifecycle, Lifecycle::Active);
    assert_eq!(l.sim.deletions(&other.platform_id), 0);
    assert_eq!(watch.sweep().await.unwrap().retirements, 0);
}

#[tokio::test]
async fn a_retirement_numbered_on_the_record_but_never_stored_is_stored_by_the_next_pass() {
    let l = Leased::new(true);
    let rec = l.vm("half-done", 2).await;
    l.pass_days(2);
    // A crash between the two writes: the number is on the record, no
    // request holds it.
    let store = l.butler.store();
    let id = store.next_request_id().await.unwrap();
    let mut r = store.get_vm(rec.id).await.unwrap();
    let version = r.version;
    r.version += 1;
    r.lease_retirement = Some(id);
    store.update_vm(&r, version).await.unwrap();
    assert!(store.get_request(id).await.is_err());

    let s = l.butler.leases().sweep().await.unwrap();
    assert_eq!(s.retirements, 1);
    let stored = store.get_request(id).await.unwrap();
    assert!(matches!(stored.kind, RequestKind::Decommission(_)));
    l.run().await;
    assert_eq!(l.sim.deletions(&rec.platform_id), 1);
}

#[tokio::test]
async fn an_approved_extension_moves_the_lease_end_and_its_notices_start_afresh() {
    let l = Leased::new(true);
    let rec = l.vm("extended", 10).await;
    assert_eq!(l.pass().await.1.delivered, 1, "10 days left");
    let svc = l.butler.requests();
    let end = rec.lease_end.unwrap();
    let later = end + chrono::Days::new(60);

    // Not later than now, or past Butler's ten years: refused, naming why.
    for bad in [
        end,
        l.today() + chrono::Days::new(u64::from(butler::limits::MAX_LEASE_DAYS) + 1),
    ] {
        let e = svc.extend_lease(&ana(), rec.id, bad).await.unwrap_err();
        let butler::ButlerError::Validation(p) = e else {
            panic!("{e}")
        };
        assert_eq!(p.0[0].field, "until");
    }
    // Another requester learns nothing of the VM.
    let zoe = butler::auth::Actor::trusted("zoe", [butler::auth::Role::Requester]).unwrap();
    assert!(matches!(
        svc.extend_lease(&zoe, rec.id, later).await,
        Err(butler::ButlerError::NotFound(_))
    ));

    let r = svc.extend_lease(&ana(), rec.id, later).await.unwrap();
    assert_eq!(r.state, RequestState::Requested);
    assert_eq!(r.flow().name(), "extend_lease");
    assert!(
        r.history[0]
            .note
            .as_deref()
            .unwrap()
            .contains(&later.to_string()),
        "{:?}",
        r.history[0].note
    );
    // Nothing to edit; four eyes: ana cannot approve it.
    assert!(svc
        .review(&bea(), r.id, r.version, butler::demo::spec("x"))
        .await
        .is_err());
    assert!(svc.approve(&ana(), r.id, r.version).await.is_err());
    svc.approve(&bea(), r.id, r.version).await.unwrap();
    l.run().await;
    let now = l.record(&rec.name).await;
    assert_eq!(now.lease_end, Some(later));
    assert_eq!(now.lease_noticed, None, "notices start afresh");

    // The old end passes: nothing retired, nothing sent; the new window
    // brings the 14-day notice again.
    l.pass_days(11);
    let (s, d) = l.pass().await;
    assert_eq!((s.retirements, s.notices, d.delivered), (0, 0, 0));
    l.pass_days(45); // 14 days before the new end
    assert_eq!(l.pass().await.1.delivered, 1);
    assert_eq!(l.recorder.days_left(), [Some(10), Some(14)]);
    assert_eq!(l.sim.deletions(&rec.platform_id), 0);
}

#[tokio::test]
async fn a_power_change_is_a_notice_in_the_vms_outbox_delivered_once_to_each_notifier() {
    use butler::backend::PowerChange;
    use butler::inventory::PowerRequest;
    let l = Leased::new(false);
    let rec = l.vm("powered", 300).await;
    let vms = l.butler.vms();
    let olga = butler::auth::Actor::trusted("olga", [butler::auth::Role::Operator]).unwrap();
    let off = PowerRequest {
        change: PowerChange::HardOff,
        force_after_deadline: false,
    };
    vms.power(&olga, rec.id, off).await.unwrap();
    // Written with the change, before anyone delivers it.
    let waiting = l.record(&rec.name).await.outbox;
    assert_eq!(waiting.len(), 1);
    assert!(matches!(
        &waiting[0].notice.kind,
        VmNoticeKind::Power { change: PowerChange::HardOff, by, .. } if by == "olga"
    ));
    // Nothing changed, nothing to tell.
    vms.power(&olga, rec.id, off).await.unwrap();
    assert_eq!(l.record(&rec.name).await.outbox.len(), 1);

    let d = l.butler.vm_notices().deliver().await.unwrap();
    assert_eq!((d.delivered, d.failed), (1, 0));
    assert_eq!(l.butler.vm_notices().deliver().await.unwrap().delivered, 0);
    let got = l.recorder.notices.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].owner.as_str(), got[0].vm), ("ana", rec.id));
    assert!(
        got[0].summary().contains("asked by olga"),
        "{}",
        got[0].summary()
    );
    assert!(l.record(&rec.name).await.outbox.is_empty());
}

#[tokio::test]
async fn an_extension_waiting_for_approval_holds_off_the_retirement_until_decided() {
    let l = Leased::new(true);
    let kept = l.vm("kept", 5).await;
    let refused = l.vm("refused", 5).await;
    let svc = l.butler.requests();
    let later = |rec: &VmRecord| rec.lease_end.unwrap() + chrono::Days::new(30);
    let asked = svc
        .extend_lease(&ana(), kept.id, later(&kept))
        .await
        .unwrap();
    let other = svc
        .extend_lease(&ana(), refused.id, later(&refused))
        .await
        .unwrap();
    assert_eq!(l.record(&kept.name).await.lease_extension, Some(asked.id));

    // The end comes while both wait: neither is retired.
    l.pass_days(5);
    assert_eq!(l.pass().await.0.retirements, 0);
    // One is rejected: its VM is retired at the next pass; the other is
    // approved and carried out: its VM keeps running to the new end.
    svc.reject(&bea(), other.id, other.version, "no budget")
        .await
        .unwrap();
    svc.approve(&bea(), asked.id, asked.version).await.unwrap();
    l.run().await;
    let now = l.record(&kept.name).await;
    assert_eq!(
        (now.lease_end, now.lease_extension),
        (Some(later(&kept)), None)
    );
    assert_eq!(l.pass().await.0.retirements, 1);
    l.run().await;
    assert_eq!(l.record(&refused.name).await.lifecycle, Lifecycle::Retired);
    assert_eq!(l.record(&kept.name).await.lifecycle, Lifecycle::Active);
    assert_eq!(l.sim.deletions(&kept.platform_id), 0);
}

/// Never answers.
struct Stuck;

#[async_trait]
impl Notifier for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    async fn notify(&self, _: &Event) -> Result<(), NotifyError> {
        Ok(())
    }
    async fn notify_vm(&self, _: &VmNotice) -> Result<(), NotifyError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_notifier_that_never_answers_is_cut_off_at_the_deadline_and_tried_again_alone() {
    use butler::backend::PowerChange;
    use butler::inventory::PowerRequest;
    let l = Leased::with(false, |b| {
        b.notifier(Arc::new(Stuck))
            .notify_config(butler::notify::NotifyConfig {
                attempt_deadline: Duration::from_millis(500),
                ..Default::default()
            })
    });
    let rec = l.vm("stuck-owner", 300).await;
    let olga = butler::auth::Actor::trusted("olga", [butler::auth::Role::Operator]).unwrap();
    let off = PowerRequest {
        change: PowerChange::HardOff,
        force_after_deadline: false,
    };
    l.butler.vms().power(&olga, rec.id, off).await.unwrap();
    let d = l.butler.vm_notices().deliver().await.unwrap();
    assert_eq!(
        (d.delivered, d.failed),
        (1, 1),
        "the pass ends despite the stuck one"
    );
    let waiting = l.record(&rec.name).await.outbox;
    assert_eq!(waiting.len(), 1, "kept for the stuck notifier");
    assert!(waiting[0].done.contains("recorder") && !waiting[0].done.contains("stuck"));
    // The next pass tries the stuck one alone; the recorder is not written twice.
    let d = l.butler.vm_notices().deliver().await.unwrap();
    assert_eq!((d.delivered, d.failed), (0, 1));
    assert_eq!(l.recorder.notices.lock().unwrap().len(), 1);
}

/// A migration whose group has Butler power its VMs off tells the owner
/// of each inventory VM it powers off, and again once it runs on the
/// destination; both changes are in the VM's history.
#[tokio::test]
async fn a_migration_that_powers_a_vm_off_tells_its_owner_and_again_once_it_runs_there() {
    use butler::migration::Confirmations;
    let l = Leased::new(false);
    let rec = l.vm("moving", 300).await;
    assert_eq!(rec.power, butler::backend::PowerState::On);
    let olga = butler::auth::Actor::trusted("olga", [butler::auth::Role::Operator]).unwrap();
    let m = l.butler.migrations();
    let g = m.create_group(&olga, "move-on").await.unwrap();
    let g = m
        .set_source(&olga, g.id, g.version, "c1-madrid")
        .await
        .unwrap();
    let g = m
        .set_destination(&olga, g.id, g.version, "c2-santiago")
        .await
        .unwrap();
    let g = m.add_vm(&olga, g.id, g.version, &rec.name).await.unwrap();
    m.set_power_off(&olga, g.id, g.version, true).await.unwrap();
    m.refresh(&olga, g.id).await.unwrap();
    let (_, _, v) = m.validate(&olga, g.id).await.unwrap();
    assert!(v.can_migrate(), "{:?}", v.findings);
    let confirm = Confirmations { power_off: true };
    let report = m
        .migrate_with(&olga, v.token().unwrap(), confirm)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(report.counts(), (1, 0, 0), "{report}");
    let after = l.record(&rec.name).await;
    assert_eq!(
        (after.cluster.as_str(), after.power),
        ("c2-santiago", butler::backend::PowerState::On)
    );
    let said: Vec<&str> = after.history.iter().map(|h| h.what.as_str()).collect();
    let run = report.id;
    for line in [
        format!("powered off by migration run {run}"),
        format!("powered on again on c2-santiago by migration run {run}"),
    ] {
        assert!(said.iter().any(|s| *s == line), "{line} in {said:?}");
    }
    let d = l.butler.vm_notices().deliver().await.unwrap();
    assert_eq!((d.delivered, d.failed), (2, 0));
    let got = l.recorder.notices.lock().unwrap().clone();
    let ons: Vec<bool> = got
        .iter()
        .map(|n| match &n.kind {
            VmNoticeKind::MigrationPower { on, by, to, .. } => {
                assert_eq!((by.as_str(), to.as_str()), ("olga", "c2-santiago"));
                *on
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ons, [false, true]);
    assert!(got.iter().all(|n| n.owner == "ana"));
    assert!(
        got[0].summary().contains("powered off to migrate it"),
        "{}",
        got[0].summary()
    );
}

#[tokio::test]
async fn a_change_open_at_the_lease_end_goes_first_and_no_change_starts_beside_the_retirement() {
    let l = Leased::new(true);
    let busy = l.vm("busy", 5).await;
    let plain = l.vm("plain", 5).await;
    let svc = l.butler.requests();
    let mut bigger = svc
        .store()
        .get_request(busy.request.unwrap())
        .await
        .unwrap()
        .spec
        .spec()
        .clone();
    bigger.ram_gib += 4;
    let change = svc
        .reconfigure(&ana(), busy.id, bigger, false)
        .await
        .unwrap();
    l.pass_days(5);
    // Only the VM with no open change is retired at this pass.
    assert_eq!(l.pass().await.0.retirements, 1);
    let retiring = l.record(&plain.name).await.lease_retirement.expect("asked");
    // Beside Butler's retirement, no person's change starts.
    match svc.decommission(&ana(), plain.id).await {
        Err(butler::ButlerError::Refused(s)) => {
            let m = s.to_string();
            assert!(m.contains(&format!("request {retiring}")), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // Once the reconfigure is decided, the next pass retires the other.
    svc.reject(&bea(), change.id, change.version, "not now")
        .await
        .unwrap();
    assert_eq!(l.pass().await.0.retirements, 1);
    l.run().await;
    assert_eq!(l.record(&busy.name).await.lifecycle, Lifecycle::Retired);
}
