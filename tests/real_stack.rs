//! Provisioning end to end on a real stack, wired from one deployment file
//! (`butler::deployment`): the fake Prism (HTTP, the simulator behind it)
//! with cost-center categories, a real Icinga2 daemon (started by
//! `scripts/services/icinga2.sh`; without it these tests say so and pass
//! outside CI, and fail under `CI=true`) and a signed-webhook receiver on
//! loopback that verifies every delivery.

mod common;

use butler::auth::{Actor, Role};
use butler::backend::SystemClock;
use butler::deployment::Deployment;
use butler::engine::EngineConfig;
use butler::nutanix::fake::{FakePrism, PASSWORD};
use butler::request::RequestState;
use butler::sim::SimPlatform;
use butler::store::MemoryStore;
use butler::webhook::receiver::Receiver;
use butler::Butler;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "a-shared-secret-of-at-least-32-bytes";

use butler::icinga::testing::LiveIcinga as Icinga;

fn icinga() -> Option<Icinga> {
    Icinga::from_env()
}

/// The host object over the raw API (not the adapter's decoder).
async fn host(ic: &Icinga, name: &str) -> Option<Value> {
    ic.host(name).await
}

struct Stack {
    sim: SimPlatform,
    receiver: Receiver,
    butler: Butler,
    parts: Parts,
    engine_config: EngineConfig,
}

/// The deployment's adapters, for engines built by hand (crash hooks).
struct Parts {
    platform: Arc<dyn butler::backend::ClusterBackend>,
    monitor: Arc<dyn butler::backend::Monitor>,
    billing: Arc<dyn butler::backend::Billing>,
}

async fn stack(ic: &Icinga, seed: u64) -> Stack {
    stack_with(ic, seed, Duration::ZERO).await
}

/// The stack, retired VMs kept powered off for `grace` before deletion.
async fn stack_with(ic: &Icinga, seed: u64, grace: Duration) -> Stack {
    // Tasks settle at once: Butler runs on the system clock against HTTP.
    let sim = SimPlatform::realtime_demo_builder(seed).build();
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    // A Prism with every behaviour of a real one on (remote sites named
    // unlike clusters, slow tasks, pending VMs without status, capped
    // pages, per-cluster subnets, ...).
    fake.set_quirks(butler::nutanix::fake::Quirks::realistic());
    let receiver = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let text = format!(
        "{}\n[monitoring.icinga]\nurl = {:?}\nusername = {:?}\nca_cert = {:?}\n\
         [billing.nutanix_category]\nkey = \"CostCenter\"\n\
         [billing.webhook]\nurl = {:?}\nallow_plain_http = true\ntimeout_secs = 1\n",
        fake.config_toml().await,
        ic.url,
        ic.user,
        ic.ca,
        receiver.url()
    );
    let icinga_password = ic.password.clone();
    let env = |k: &str| -> Option<String> {
        match k {
            "BUTLER_ICINGA_PASSWORD" => Some(icinga_password.clone()),
            "BUTLER_BILLING_WEBHOOK_SECRET" => Some(SECRET.to_string()),
            _ => Some(PASSWORD.to_string()),
        }
    };
    let deployment = Deployment::from_toml(&text, env).unwrap();
    let mut engine = EngineConfig::default();
    engine.retry.base_delay = Duration::from_millis(20);
    engine.retry.max_delay = Duration::from_millis(200);
    engine.task_poll = Duration::from_millis(20);
    engine.call_deadline = Duration::from_secs(10);
    engine.retirement_grace = grace;
    let builder = Butler::builder()
        .store(Arc::new(MemoryStore::new()))
        .clock(Arc::new(SystemClock))
        .catalog(butler::demo::catalog())
        .rate_book(butler::demo::rate_book());
    let parts = Parts {
        platform: deployment.platform.clone(),
        monitor: deployment.monitor.clone().unwrap(),
        billing: deployment.billing.clone().unwrap(),
    };
    let butler = deployment.apply(builder, engine.clone()).build().unwrap();
    Stack {
        sim,
        receiver,
        butler,
        parts,
        engine_config: engine,
    }
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
        % 1_000_000_000;
    format!("{prefix}{n}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_request_is_provisioned_on_prism_icinga_and_billing() {
    let Some(ic) = icinga() else { return };
    let s = stack(&ic, 61).await;
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let svc = s.butler.requests();
    let name = unique("web");
    let r = svc.create(&ana, butler::demo::spec(&name)).await.unwrap();
    let r = svc.submit(&ana, r.id, r.version).await.unwrap();
    let r = svc.approve(&bea, r.id, r.version).await.unwrap();
    // One reply lost: the engine retries, the receiver keeps one activation.
    s.receiver.lose_next_replies(1, Duration::from_millis(2500));
    let engine = s.butler.engine().expect("configured deployment provisions");
    let summary = engine.run_until_idle().await.unwrap();
    let r = svc.get(&bea, r.id).await.unwrap();
    assert_eq!(
        r.state,
        RequestState::Completed,
        "{:?} {summary:?}",
        r.failure
    );
    let vm_name = r.platform_vm_name();

    // Prism: the VM with its cost-center category.
    let vm = s.sim.vm(&vm_name).expect("VM on the platform");
    let cc = &r.spec.derived().cost_center;
    assert!(
        vm.categories.contains(&format!("CostCenter:{cc}")),
        "{:?}",
        vm.categories
    );

    // Icinga: the host object, with the VM's address.
    let h = host(&ic, &vm_name).await.expect("host object in Icinga");
    assert_eq!(
        h["address"].as_str(),
        vm.ip_addresses.first().map(String::as_str)
    );
    assert_eq!(h["display_name"], name.as_str());
    assert_eq!(h["vars"]["cost_center"], cc.as_str());
    assert_eq!(h["vars"]["butler_request"], r.id.0);

    // Billing: exactly one effective, verified activation, however many tries.
    let acts = s.receiver.activations();
    assert_eq!(acts.len(), 1);
    let body = &acts[&format!("butler-billing-{vm_name}")];
    assert_eq!(body["monthly_total"], r.estimate.total.to_string());
    assert!(s.receiver.deliveries() >= 2, "the lost reply was retried");
    assert_eq!(s.receiver.refused(), 0);

    // History says what each step did.
    let details: Vec<String> = r.history.iter().filter_map(|h| h.note.clone()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("registered with address")),
        "{details:?}"
    );

    // Running again changes nothing anywhere.
    engine.run_until_idle().await.unwrap();
    assert_eq!(s.receiver.activations().len(), 1);
    assert_eq!(s.sim.vms_named(&vm_name), 1);
}

fn ana() -> Actor {
    Actor::trusted("ana", [Role::Requester]).unwrap()
}

fn bea() -> Actor {
    Actor::trusted("bea", [Role::Approver]).unwrap()
}

/// A VM requested by ana, approved by bea and provisioned on the stack
/// (a name made from `prefix`): its inventory record.
async fn provisioned(s: &Stack, prefix: &str) -> butler::inventory::VmRecord {
    let svc = s.butler.requests();
    let r = svc
        .create(&ana(), butler::demo::spec(&unique(prefix)))
        .await
        .unwrap();
    let r = svc.submit(&ana(), r.id, r.version).await.unwrap();
    svc.approve(&bea(), r.id, r.version).await.unwrap();
    let engine = s.butler.engine().expect("configured deployment provisions");
    let run = engine.run_until_idle().await.unwrap();
    assert_eq!(run.completed, 1);
    let vm_name = svc.get(&bea(), r.id).await.unwrap().platform_vm_name();
    s.butler
        .store()
        .find_vm_named(&vm_name)
        .await
        .unwrap()
        .expect("in the inventory")
}

/// Retirement on the real stack: the decommission flow powers the VM off
/// and deletes it through Prism, takes it out of its protection domain,
/// deletes its host object from the real Icinga (read back over the raw
/// API) and sends one signed `billing.stop` however many tries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decommission_deletes_deregisters_and_stops_billing_on_the_real_stack() {
    let Some(ic) = icinga() else { return };
    let s = stack(&ic, 62).await;
    let (ana, bea) = (ana(), bea());
    let svc = s.butler.requests();
    let engine = s.butler.engine().expect("configured deployment provisions");
    let rec = provisioned(&s, "old").await;
    let vm_name = rec.name.clone();
    let vm = s.sim.vm(&vm_name).expect("VM on the platform");
    assert!(host(&ic, &vm_name).await.is_some(), "registered first");

    let d = svc.decommission(&ana, rec.id).await.unwrap();
    svc.approve(&bea, d.id, d.version).await.unwrap();
    s.receiver.lose_next_replies(1, Duration::from_millis(2500));
    engine.run_until_idle().await.unwrap();
    let d = svc.get(&bea, d.id).await.unwrap();
    assert_eq!(d.state, RequestState::Completed, "{:?}", d.failure);

    assert_eq!(s.sim.deletions(&vm.uuid), 1, "deleted once through Prism");
    assert!(s.sim.vm(&vm_name).is_none());
    let pd = s
        .sim
        .protection_group(&vm.cluster, &format!("PD-{vm_name}"));
    assert!(pd.is_none_or(|g| g.vms.iter().all(|v| **v != *vm_name)));
    assert!(host(&ic, &vm_name).await.is_none(), "host object deleted");
    let stops = s.receiver.activations();
    let stop = &stops[&format!("butler-billing-stop-{vm_name}")];
    assert_eq!(stop["event"], "billing.stop");
    assert_eq!(stop["vm"]["uuid"], vm.uuid.as_str());
    assert_eq!(s.receiver.refused(), 0);
    let retired = s.butler.vms().get(&ana, rec.id).await.unwrap();
    assert_eq!(retired.lifecycle, butler::inventory::Lifecycle::Retired);
}

/// A retirement kept for its grace period, then undone, on the real stack:
/// the VM stays on Prism powered off while its Icinga host is deleted and
/// its billing stopped; the restore powers it on through Prism, registers
/// it in the real Icinga again (read back over the raw API) and sends a
/// second life's signed activation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_vm_is_kept_then_restored_on_the_real_stack() {
    let Some(ic) = icinga() else { return };
    let s = stack_with(&ic, 63, Duration::from_secs(7 * 86_400)).await;
    let (ana, bea) = (ana(), bea());
    let svc = s.butler.requests();
    let engine = s.butler.engine().expect("configured deployment provisions");
    let rec = provisioned(&s, "keep").await;
    let vm_name = rec.name.clone();
    let d = svc.decommission(&ana, rec.id).await.unwrap();
    svc.approve(&bea, d.id, d.version).await.unwrap();
    engine.run_until_idle().await.unwrap();
    let d = svc.get(&bea, d.id).await.unwrap();
    assert_eq!(d.state, RequestState::Completed, "{:?}", d.failure);
    let kept = s.sim.vm(&vm_name).expect("kept on Prism");
    assert_eq!(kept.power, butler::backend::PowerState::Off);
    assert_eq!(s.sim.deletions(&kept.uuid), 0);
    assert!(host(&ic, &vm_name).await.is_none(), "host object deleted");
    assert!(s
        .receiver
        .activations()
        .contains_key(&format!("butler-billing-stop-{vm_name}")));

    let back = svc.restore(&ana, rec.id).await.unwrap();
    engine.run_until_idle().await.unwrap();
    let back = svc.get(&bea, back.id).await.unwrap();
    assert_eq!(back.state, RequestState::Completed, "{:?}", back.failure);
    let on = s.sim.vm(&vm_name).expect("still on Prism");
    assert_eq!(on.power, butler::backend::PowerState::On);
    assert!(
        host(&ic, &vm_name).await.is_some(),
        "registered again in Icinga"
    );
    let billed = s.receiver.activations();
    let again = &billed[&format!("butler-billing-{vm_name}-life1")];
    assert_eq!(
        (again["event"].as_str(), again["restores"].as_u64()),
        (Some("billing.activate"), Some(1))
    );
    assert_eq!(s.receiver.refused(), 0);
    let rec = s.butler.vms().get(&ana, rec.id).await.unwrap();
    assert_eq!(rec.lifecycle, butler::inventory::Lifecycle::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_or_after_any_step_makes_nothing_twice_on_the_real_stack() {
    use butler::engine::{Engine, HookPoint};
    use butler::request::ProvisioningStep;
    let Some(ic) = icinga() else { return };
    let s = stack(&ic, 64).await;
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let svc = s.butler.requests();
    let engine = |hooks: Option<Arc<common::At>>| {
        let e = Engine::new(
            svc.clone(),
            s.parts.platform.clone(),
            s.parts.monitor.clone(),
            s.parts.billing.clone(),
            s.engine_config.clone(),
        );
        Arc::new(match hooks {
            Some(h) => e.with_hooks(h),
            None => e,
        })
    };
    let mut done = Vec::new();
    for step in ProvisioningStep::PROVISIONING {
        for point in [HookPoint::Before(step), HookPoint::After(step)] {
            let name = unique("crash");
            let r = svc.create(&ana, butler::demo::spec(&name)).await.unwrap();
            let r = svc.submit(&ana, r.id, r.version).await.unwrap();
            let r = svc.approve(&bea, r.id, r.version).await.unwrap();
            let err = engine(Some(common::At::crash(point)))
                .run_until_idle()
                .await
                .unwrap_err();
            assert!(err.to_string().contains("crashed"), "{err}");
            // The dead process's lease runs out (here: taken and dropped as
            // a day later, instead of waiting lease_ttl); the restarted
            // process (same engine id, a new epoch) resumes from the store.
            let later = chrono::Utc::now() + chrono::Duration::days(1);
            let store = s.butler.store();
            let expired = store.acquire_lease(r.id, "lease-ran-out", later, later);
            assert!(expired.await.unwrap().is_some(), "{point:?}");
            store.release_lease(r.id, "lease-ran-out").await.unwrap();
            engine(None).run_until_idle().await.unwrap();
            let r = svc.get(&bea, r.id).await.unwrap();
            assert_eq!(
                r.state,
                RequestState::Completed,
                "{point:?}: {:?}",
                r.failure
            );
            done.push(r);
        }
    }
    let acts = s.receiver.activations();
    for r in &done {
        let vm_name = r.platform_vm_name();
        assert_eq!(s.sim.vms_named(&vm_name), 1, "one VM for {vm_name}");
        let vm = s.sim.vm(&vm_name).unwrap();
        let cc = format!("CostCenter:{}", r.spec.derived().cost_center);
        assert_eq!(vm.categories.iter().filter(|c| **c == cc).count(), 1);
        let h = host(&ic, &vm_name).await.expect("one host object");
        assert_eq!(
            h["address"].as_str(),
            vm.ip_addresses.first().map(String::as_str)
        );
        assert!(acts.contains_key(&format!("butler-billing-{vm_name}")));
    }
    assert_eq!(
        acts.len(),
        done.len(),
        "one effective activation per request"
    );
    assert_eq!(s.receiver.refused(), 0);
}

#[tokio::test]
async fn nutanix_tls_failures_name_their_cause_and_ca_bundle_is_trusted() {
    use butler::backend::ClusterBackend;
    use butler::nutanix::{NutanixBackend, NutanixConfig};
    // Icinga's API is a real TLS server whose CA no system trusts: the
    // adapter pointed at it must say why it cannot connect.
    let Some(ic) = icinga() else { return };
    let text = |ca: Option<&str>| {
        let ca = ca.map_or(String::new(), |c| format!("ca_bundle = {c:?}\n"));
        format!(
            "max_retries = 0\n{ca}[prism_central]\nurl = {:?}\nusername = \"b\"\n",
            ic.url
        )
    };
    let pw = |_: &str| Some("not-a-real-password".to_string());
    let untrusted =
        NutanixBackend::new(&NutanixConfig::from_toml(&text(None), pw).unwrap()).unwrap();
    let e = untrusted.list_clusters().await.unwrap_err();
    assert!(
        e.message.to_lowercase().contains("certificate"),
        "the cause is named: {e}"
    );
    assert!(!e.to_string().contains("not-a-real-password"));
    // With Icinga's CA as the bundle the TLS handshake succeeds: what fails
    // now is Prism's API itself (not Prism at all), not the certificate.
    let trusted =
        NutanixBackend::new(&NutanixConfig::from_toml(&text(Some(&ic.ca)), pw).unwrap()).unwrap();
    let e = trusted.list_clusters().await.unwrap_err();
    assert!(!e.message.to_lowercase().contains("certificate"), "{e}");
}
