//! The adapter on Prism Central v4 (creates with `NTNX-Request-Id`, power
//! and deletes under `If-Match`, v4 tasks), chosen by its probe, against
//! the fake Prism; the shapes are checked by Nutanix's own SDKs in
//! `butler-py/tests/test_nutanix_v4_sdk.py`.

use butler_core::backend::{ClusterBackend, ErrorKind, PowerChange, PowerState, TaskState};
use butler_core::testing::backend::{run_all, Fixture};
use butler_nutanix::fake::{FakePrism, Quirks};
use butler_nutanix::{CentralApi, NutanixBackend};
use butler_sim::{FaultConfig, FaultKind, Op, ScriptedFault, SimPlatform};
use std::time::Duration;

async fn setup(seed: u64) -> (SimPlatform, FakePrism, NutanixBackend) {
    let sim = SimPlatform::demo(seed);
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    let backend = NutanixBackend::new(&fake.config().await).unwrap();
    (sim, fake, backend)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v4_the_adapter_passes_the_conformance_suite_with_idempotent_creates() {
    for (prefix, quirks) in [("v4", Quirks::default()), ("v4real", Quirks::realistic())] {
        let (sim, fake, backend) = setup(61).await;
        fake.set_quirks(quirks);
        assert!(backend.uses_v4().await.unwrap(), "the probe finds v4");
        let fx = Fixture::demo_platform(sim.clock(), prefix);
        let skipped = run_all(&backend, &fx).await;
        assert!(skipped.is_empty(), "{prefix}: {skipped:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_prism_central_without_v4_stays_on_v3() {
    let (sim, fake, backend) = setup(62).await;
    fake.set_quirks(Quirks {
        no_v4: true,
        ..Quirks::default()
    });
    assert!(!backend.uses_v4().await.unwrap());
    let caps = backend.capabilities();
    assert!(!caps.has(butler_core::backend::Capability::IdempotentCreate));
    let task = backend.create_vm(&sim.sample_vm("old-pc")).await.unwrap();
    assert!(!task.0.contains(':'), "a v3 task: {task:?}");
    assert!(fake.last_vm_create().is_some() && fake.last_v4_create().is_none());
    // Configured for v4 against such a Prism: the error says so.
    let mut config = fake.config().await;
    config.central_api = CentralApi::V4;
    let forced = NutanixBackend::new(&config).unwrap();
    let err = forced
        .create_vm(
            &sim.sample_vm("old-pc-2")
                .request_id("6a0c2a8e-7d41-4b6a-9e3f-2c8d1a7b6e41"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

/// A create whose reply is lost is sent again by the client with the same
/// `NTNX-Request-Id`: Prism answers the first create's task, one VM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_v4_create_reply_is_retried_with_its_request_id_and_makes_one_vm() {
    let (sim, _fake, backend) = setup(63).await;
    sim.script_fault(ScriptedFault::nth_call(
        Op::CreateVm,
        1,
        None,
        FaultKind::LoseReply,
    ));
    let vm = sim
        .sample_vm("lost-v4")
        .request_id("7b1d3b9f-8e52-4c7b-8f4a-3d9e2b8c7f51");
    let task = backend.create_vm(&vm).await.unwrap();
    assert_eq!(sim.calls(Op::CreateVm), 2, "the client sent it again");
    assert_eq!(sim.vms_named("lost-v4"), 1, "and Prism knew the request");
    // The engine's own retry (same key) gets the same task.
    assert_eq!(backend.create_vm(&vm).await.unwrap(), task);
    sim.clock().advance(Duration::from_secs(600));
    let st = backend.task(&task).await.unwrap();
    assert_eq!(st.state, TaskState::Succeeded);
    let made = sim.vm("lost-v4").unwrap();
    assert_eq!(
        st.entity_uuid.as_deref(),
        Some(made.uuid.as_str()),
        "the VM by its rel"
    );
    // Without a key a create is never repeated blindly.
    sim.set_faults(Op::CreateVm, FaultConfig::lose_reply(1.0));
    let calls = sim.calls(Op::CreateVm);
    let err = backend
        .create_vm(&sim.sample_vm("lost-v4-nokey"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(sim.calls(Op::CreateVm) - calls, 1);
}

/// Power and deletes carry the VM's `ETag`; a stale one (the VM changed
/// between the read and the write) is read again and sent again; a VM in
/// the state asked gets no action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_and_deletes_go_under_the_vms_etag_and_a_stale_one_is_read_again() {
    let (sim, fake, backend) = setup(64).await;
    fake.set_quirks(Quirks::realistic());
    let task = backend
        .create_vm(
            &sim.sample_vm("etag-1")
                .request_id("8c2e4c0a-9f63-4d8c-9a5b-4e0f3c9d8a62"),
        )
        .await
        .unwrap();
    sim.clock().advance(Duration::from_secs(600));
    for _ in 0..5 {
        if backend.task(&task).await.unwrap().state.is_terminal() {
            break;
        }
    }
    let uuid = sim.vm("etag-1").unwrap().uuid;
    backend.set_power(&uuid, PowerChange::On).await.unwrap();
    assert_eq!(sim.vm("etag-1").unwrap().power, PowerState::On);
    // On already: one read, no action.
    let before = fake.requests();
    backend.set_power(&uuid, PowerChange::On).await.unwrap();
    assert_eq!(fake.requests() - before, 1);
    // The VM changes between the adapter's read and its action: 412, then
    // a fresh read and the action under the new tag.
    fake.change_vm_after_next_read(&uuid);
    backend
        .set_power(&uuid, PowerChange::GuestShutdown)
        .await
        .unwrap();
    assert_eq!(sim.vm("etag-1").unwrap().power, PowerState::Off);
    assert_eq!(fake.stale_etags(), 1, "one 412, then success");
    let task = backend.delete_vm(&uuid).await.unwrap();
    sim.clock().advance(Duration::from_secs(600));
    let mut st = backend.task(&task).await.unwrap();
    for _ in 0..5 {
        if st.state.is_terminal() {
            break;
        }
        st = backend.task(&task).await.unwrap();
    }
    assert_eq!(st.state, TaskState::Succeeded);
    assert_eq!(sim.vms_named("etag-1"), 0);
}

/// The raw v4 body as it crossed the wire: bytes, not MiB; the cluster,
/// project, subnet, image and category by their ids; the boot type's
/// `$objectType`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v4_create_body_is_the_documented_shape() {
    let (sim, fake, backend) = setup(65).await;
    let vm = sim
        .sample_vm("shape-1")
        .disks_gib(vec![41, 10])
        .image(Some("rhel9".into()))
        .request_id("9d3f5d1b-0a74-4e9d-8b6c-5f1a4d0e9b73");
    backend.create_vm(&vm).await.unwrap();
    let body = fake.last_v4_create().expect("a v4 create");
    assert_eq!(body["memorySizeBytes"], 4u64 << 30);
    assert_eq!(
        (
            body["numSockets"].as_u64(),
            body["numCoresPerSocket"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        body["disks"][0]["backingInfo"]["diskSizeBytes"],
        41u64 << 30
    );
    assert_eq!(
        body["disks"][0]["backingInfo"]["dataSource"]["reference"]["$objectType"],
        "vmm.v4.ahv.config.ImageReference"
    );
    assert_eq!(
        body["bootConfig"]["$objectType"],
        "vmm.v4.ahv.config.UefiBoot"
    );
    let clusters = sim.list_clusters().await.unwrap();
    let c1 = clusters.iter().find(|c| c.name == "c1-madrid").unwrap();
    assert_eq!(body["cluster"]["extId"], c1.uuid.as_str());
    assert!(body["project"]["extId"]
        .as_str()
        .is_some_and(|p| !p.is_empty()));
    assert!(body["categories"][0]["extId"]
        .as_str()
        .is_some_and(|c| c.len() == 36));
    let made = sim.vm("shape-1").unwrap();
    assert_eq!(made.project.as_deref(), Some("prod-project"));
    assert_eq!(made.categories, vec!["Environment:Production".to_string()]);
    // A category Prism does not have is named, and nothing is created.
    let err = backend
        .create_vm(
            &sim.sample_vm("shape-2")
                .category("Environment:Nowhere 'x'")
                .request_id("0e4a6e2c-1b85-4fae-9c7d-6a2b5e1f0c84"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("Environment:Nowhere 'x'"), "{err}");
    assert_eq!(sim.vms_named("shape-2"), 0);
}
