//! Shared set-up for the integration tests: a simulated platform, a store,
//! the request service on the simulator's clock, and an engine.
#![allow(dead_code)]

use butler::auth::{Actor, Role};
use butler::engine::{Engine, EngineConfig, HookAction, HookPoint, Hooks};
use butler::request::{Request, RequestId};
use butler::service::RequestService;
use butler::sim::SimPlatform;
use butler::store::Store;
use butler::{demo, vm_spec::VmSpec, Butler};
use std::sync::Arc;
use std::time::Duration;

pub fn ana() -> Actor {
    Actor::trusted("ana", [Role::Requester]).unwrap()
}
pub fn bea() -> Actor {
    Actor::trusted("bea", [Role::Approver]).unwrap()
}

/// Crashes (or repeats) at one hook point, once.
pub struct At {
    pub point: HookPoint,
    pub action: HookAction,
    pub fired: std::sync::atomic::AtomicBool,
}

impl At {
    /// Crashes once at `point`.
    pub fn crash(point: HookPoint) -> Arc<At> {
        Arc::new(At {
            point,
            action: HookAction::Crash,
            fired: Default::default(),
        })
    }
}

impl Hooks for At {
    fn at(&self, _: RequestId, point: HookPoint) -> HookAction {
        if point == self.point && !self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.action
        } else {
            HookAction::Continue
        }
    }
}

pub struct World {
    pub sim: SimPlatform,
    pub svc: Arc<RequestService>,
    /// The lease watch, whose pass also asks the deletions after a
    /// retirement's grace period.
    pub leases: Arc<butler::inventory::LeaseWatch>,
    /// The inventory's service (power, adoption).
    pub vms: Arc<butler::inventory::VmService>,
}

impl World {
    pub fn new(sim: SimPlatform, store: Arc<dyn Store>) -> World {
        let b = Butler::builder()
            .store(store)
            .simulator(sim.clone())
            .build()
            .unwrap();
        World {
            sim,
            svc: b.requests().clone(),
            leases: b.leases().clone(),
            vms: b.vms().clone(),
        }
    }

    /// The engine settings with a retirement grace period of 7 days.
    pub fn grace_config(id: &str) -> EngineConfig {
        EngineConfig {
            retirement_grace: Duration::from_secs(7 * 86_400),
            ..World::engine_config(id)
        }
    }

    /// A VM provisioned for ana, retired with a grace period of 7 days:
    /// kept powered off, and its record.
    pub async fn kept(&self, name: &str) -> butler::inventory::VmRecord {
        let r = self.decommission_approved(name).await;
        let e = self.engine(World::grace_config("retirer"));
        e.run_until_idle().await.unwrap();
        assert_eq!(
            self.get(r.id).await.state,
            butler::request::RequestState::Completed
        );
        let t = r.kind.target().unwrap();
        let rec = self.svc.store().get_vm(t.vm).await.unwrap();
        assert!(rec.kept_until.is_some(), "{name}: kept");
        rec
    }

    /// The restore, asked by ana, of a VM kept in its grace period.
    pub async fn restore_approved(&self, name: &str) -> Request {
        let rec = self.kept(name).await;
        self.svc.restore(&ana(), rec.id).await.unwrap()
    }

    /// The deletion Butler asks of a VM kept in its grace period once the
    /// period is over (the lease watch's pass).
    pub async fn deletion_after_grace_approved(&self, name: &str) -> Request {
        let rec = self.kept(name).await;
        self.sim
            .clock()
            .advance(Duration::from_secs(7 * 86_400 + 60));
        let pass = self.leases.sweep().await.unwrap();
        assert_eq!(pass.deletions, 1, "{pass:?}");
        let rec = self.svc.store().get_vm(rec.id).await.unwrap();
        self.get(rec.deletion.unwrap()).await
    }

    pub fn engine_config(id: &str) -> EngineConfig {
        let mut c = EngineConfig {
            engine_id: id.into(),
            max_in_flight: 64,
            ..EngineConfig::default()
        };
        c.task_poll = Duration::from_secs(5);
        c
    }

    pub fn engine(&self, config: EngineConfig) -> Arc<Engine> {
        let sim = Arc::new(self.sim.clone());
        Arc::new(Engine::new(
            self.svc.clone(),
            sim.clone(),
            sim.clone(),
            sim,
            config,
        ))
    }

    pub fn engine_with_hooks(&self, config: EngineConfig, hooks: Arc<dyn Hooks>) -> Arc<Engine> {
        let sim = Arc::new(self.sim.clone());
        Arc::new(
            Engine::new(self.svc.clone(), sim.clone(), sim.clone(), sim, config).with_hooks(hooks),
        )
    }

    pub async fn approved(&self, name: &str) -> Request {
        self.approved_spec(demo::spec(name)).await
    }

    pub async fn approved_spec(&self, spec: VmSpec) -> Request {
        let r = self.svc.create(&ana(), spec).await.unwrap();
        let r = self.svc.submit(&ana(), r.id, r.version).await.unwrap();
        self.svc.approve(&bea(), r.id, r.version).await.unwrap()
    }

    pub async fn get(&self, id: RequestId) -> Request {
        self.svc.store().get_request(id).await.unwrap()
    }

    /// A VM provisioned for ana (a plain engine runs its request) and
    /// its inventory record.
    pub async fn provisioned(&self, name: &str) -> butler::inventory::VmRecord {
        let r = self.approved(name).await;
        let e = self.engine(World::engine_config("provisioner"));
        e.run_until_idle().await.unwrap();
        assert_eq!(
            self.get(r.id).await.state,
            butler::request::RequestState::Completed
        );
        let name = r.platform_vm_name();
        let rec = self.svc.store().find_vm_named(&name).await.unwrap();
        rec.unwrap_or_else(|| panic!("{name}: no inventory record"))
    }

    /// A decommission of a VM provisioned for ana, asked by her and
    /// approved by bea.
    pub async fn decommission_approved(&self, name: &str) -> Request {
        let rec = self.provisioned(name).await;
        let r = self.svc.decommission(&ana(), rec.id).await.unwrap();
        self.svc.approve(&bea(), r.id, r.version).await.unwrap()
    }

    /// A lease extension by 30 days of a VM provisioned for ana with a
    /// lease of 60, asked by her and approved by bea.
    pub async fn extension_approved(&self, name: &str) -> Request {
        let spec = VmSpec {
            lease_days: Some(60),
            ..demo::spec(name)
        };
        let r = self.svc.create(&ana(), spec).await.unwrap();
        let r = self.svc.submit(&ana(), r.id, r.version).await.unwrap();
        let r = self.svc.approve(&bea(), r.id, r.version).await.unwrap();
        self.engine(World::engine_config("provisioner"))
            .run_until_idle()
            .await
            .unwrap();
        let made = self.get(r.id).await.platform_vm_name();
        let rec = self
            .svc
            .store()
            .find_vm_named(&made)
            .await
            .unwrap()
            .unwrap();
        let until = rec.lease_end.unwrap() + chrono::Days::new(30);
        let r = self.svc.extend_lease(&ana(), rec.id, until).await.unwrap();
        self.svc.approve(&bea(), r.id, r.version).await.unwrap()
    }

    /// A world on tokio's paused clock with `n` VMs provisioned for ana
    /// (named `<prefix><i>`), and their inventory records in order.
    pub async fn fleet(
        seed: u64,
        prefix: &str,
        n: usize,
    ) -> (World, Vec<butler::inventory::VmRecord>) {
        let sim = SimPlatform::demo_builder(seed)
            .clock(Arc::new(butler::sim::SimClock::tokio_default()))
            .build();
        let w = World::new(sim, Arc::new(butler::store::MemoryStore::new()));
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(w.approved(&format!("{prefix}{i}")).await.id);
        }
        let provisioner = w.engine(World::engine_config("provisioner"));
        assert_eq!(provisioner.run_until_idle().await.unwrap().completed, n);
        let mut records = Vec::new();
        for id in &ids {
            let name = w.get(*id).await.platform_vm_name();
            records.push(w.svc.store().find_vm_named(&name).await.unwrap().unwrap());
        }
        (w, records)
    }

    /// Runs every approved request through 30 % transient faults, 5 %
    /// timeouts and 5 % lost replies (30 attempts a step); all `n` complete
    /// and each is done exactly once.
    pub async fn storm(&self, asked: &[RequestId]) {
        self.sim.set_default_faults(butler::sim::FaultConfig {
            transient: 0.3,
            timeout: 0.05,
            lose_reply: 0.05,
            ..Default::default()
        });
        let mut cfg = World::engine_config("e1");
        cfg.retry.max_attempts = 30;
        let summary = self.engine(cfg).run_until_idle().await.unwrap();
        assert_eq!(summary.completed, asked.len(), "{summary:?}");
        for id in asked {
            self.assert_exactly_once(*id).await;
        }
    }

    /// The spec of a change of `rec` (made from the demo spec): RAM down
    /// to 2 GiB (which needs the VM off), a second socket (hot-added), disk
    /// 0 grown and a second disk.
    pub fn changed_spec(rec: &butler::inventory::VmRecord) -> VmSpec {
        let mut spec = demo::spec(&rec.display_name);
        spec.ram_gib = 2;
        spec.sockets = 2;
        spec.disks_gib = vec![60, 20];
        spec
    }

    /// A reconfigure of a VM provisioned for ana (`changed_spec`, downtime
    /// accepted), asked by her and approved by bea.
    pub async fn reconfigure_approved(&self, name: &str) -> Request {
        let rec = self.provisioned(name).await;
        let spec = World::changed_spec(&rec);
        let r = self
            .svc
            .reconfigure(&ana(), rec.id, spec, true)
            .await
            .unwrap();
        self.svc.approve(&bea(), r.id, r.version).await.unwrap()
    }

    /// What the request asked for, done exactly once: a new VM made,
    /// registered, billed and recorded once; a decommissioned VM deleted,
    /// deregistered and its billing stopped once, and recorded retired.
    pub async fn assert_exactly_once(&self, id: RequestId) {
        let r = self.get(id).await;
        use butler::request::RequestKind::{Decommission, DeleteAfterGrace};
        if let Decommission(t) | DeleteAfterGrace(t) = &r.kind {
            let name = &t.name;
            assert_eq!(self.sim.deletions(&t.platform_id), 1, "{name}: deletions");
            assert_eq!(self.sim.vms_named(name), 0, "{name}: still on the platform");
            assert_eq!(self.sim.billing_stops(name), 1, "{name}: billing stops");
            assert_eq!(
                self.sim.monitor_deregistrations(name),
                1,
                "{name}: deregistrations"
            );
            let rec = self.svc.store().get_vm(t.vm).await.unwrap();
            assert_eq!(
                rec.lifecycle,
                butler::inventory::Lifecycle::Retired,
                "{name}: inventory record"
            );
            return;
        }
        if let butler::request::RequestKind::Restore(t) = &r.kind {
            let name = &t.name;
            assert_eq!(self.sim.deletions(&t.platform_id), 0, "{name}: deletions");
            let vm = self.sim.vm(name).unwrap();
            assert_eq!(vm.power, butler::backend::PowerState::On, "{name}: on");
            // Registered once again after the one deregistration; billed
            // once more after the one stop.
            let reg = self.sim.monitor_registrations(name);
            let dereg = self.sim.monitor_deregistrations(name);
            assert_eq!((reg, dereg), (1, 1), "{name}: registrations");
            let billed = self.sim.billing_activations(name);
            let stops = self.sim.billing_stops(name);
            assert_eq!((billed, stops), (2, 1), "{name}: billing");
            let rec = self.svc.store().get_vm(t.vm).await.unwrap();
            assert_eq!(
                (rec.lifecycle, rec.kept_until, rec.restore),
                (butler::inventory::Lifecycle::Active, None, None),
                "{name}: inventory record"
            );
            let restored = rec
                .history
                .iter()
                .filter(|h| h.what.starts_with("restored by"))
                .count();
            assert_eq!(restored, 1, "{name}: recorded once");
            return;
        }
        if let butler::request::RequestKind::ExtendLease(e) = &r.kind {
            let rec = self.svc.store().get_vm(e.target.vm).await.unwrap();
            assert_eq!(rec.lease_end, Some(e.until), "{}: lease end", rec.name);
            let extended = rec
                .history
                .iter()
                .filter(|h| h.what.starts_with("lease extended"))
                .count();
            assert_eq!(extended, 1, "{}: recorded once", rec.name);
            return;
        }
        if let butler::request::RequestKind::Reconfigure(c) = &r.kind {
            let (name, t) = (&c.target.name, &c.target);
            assert_eq!(
                self.sim.reconfigurations(&t.platform_id),
                1,
                "{name}: changes"
            );
            let vm = self.sim.vm(name).unwrap();
            let s = &r.spec;
            assert_eq!(
                (vm.vcpus, vm.ram_gib, &vm.disks_gib, &vm.nics),
                (s.vcpus(), s.ram_gib, &s.disks_gib, &s.nics),
                "{name}: shape"
            );
            assert_eq!(
                vm.power,
                butler::backend::PowerState::On,
                "{name}: on again"
            );
            let changes = self.sim.billing_changes(name);
            assert_eq!(changes.len(), 1, "{name}: billing changes");
            assert_eq!(changes[0].request, id.0);
            let rec = self.svc.store().get_vm(t.vm).await.unwrap();
            assert_eq!(rec.last_change, Some(id), "{name}: inventory record");
            assert_eq!((rec.spec.vcpus, rec.spec.ram_gib), (s.vcpus(), s.ram_gib));
            return;
        }
        let name = r.platform_vm_name();
        assert_eq!(self.sim.vms_named(&name), 1, "{name}: VMs");
        assert_eq!(
            self.sim.monitor_registrations(&name),
            1,
            "{name}: monitoring registrations"
        );
        assert_eq!(
            self.sim.billing_activations(&name),
            1,
            "{name}: billing activations"
        );
        // One inventory record, for this request and the VM made.
        let rec = self.svc.store().find_vm_named(&name).await.unwrap();
        let rec = rec.unwrap_or_else(|| panic!("{name}: no inventory record"));
        assert_eq!(rec.request, Some(id), "{name}: inventory record");
        let vm = self.sim.vm(&name).unwrap();
        assert_eq!(rec.platform_id, vm.uuid, "{name}: inventory record's VM");
    }
}
