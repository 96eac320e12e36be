//! The adapter against VMware's own vCenter simulator (govmomi's vcsim,
//! started by `scripts/services/vcsim.sh`).

use butler_core::backend::{Capability, SystemClock};
use butler_core::testing::backend::{run_all, Fixture};
use butler_vsphere::testing::{exclusive as LOCK, LiveVcsim};
use butler_vsphere::VsphereBackend;
use std::sync::Arc;
use std::time::Duration;

/// Names unused on this simulator (it lives as long as the test run).
fn prefix(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{what}{nanos:x}")
}

fn fixture(prefix: &str) -> Fixture {
    Fixture {
        clock: Arc::new(SystemClock),
        source: "DC0_C0".into(),
        destination: "DC0_C1".into(),
        project: "prod-project".into(),
        subnet: "DC0_DVPG0".into(),
        category: "Environment:Production".into(),
        image: Some(("tmpl-DC0_C0-linux".into(), 20)),
        prefix: prefix.into(),
        max_wait: Duration::from_secs(120),
        poll: Duration::from_millis(50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_passes_the_conformance_suite_against_vcsim() {
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let b = VsphereBackend::new(&vc.config()).unwrap();
    let skipped = run_all(&b, &fixture(&prefix("vs"))).await;
    assert_eq!(
        skipped,
        vec![
            Capability::IdempotentCreate,
            Capability::Protection,
            Capability::Migration
        ],
        "only what vSphere lacks is skipped"
    );
    b.logout().await.unwrap();
}

/// A session vCenter ended (an administrator's `TerminateSession`, an idle
/// timeout) is renewed once, by itself: the call that met
/// `NotAuthenticated` logs in again and goes through, and a list whose
/// container view went with the session is read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_vcenter_ended_is_renewed_by_one_login() {
    use butler_core::backend::ClusterBackend;
    use butler_vsphere::Soap;
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let b = VsphereBackend::new(&vc.config()).unwrap();
    let before = b.list_clusters().await.unwrap();
    assert_eq!(b.logins(), 1);
    // Another client ends the adapter's session (only it: the other
    // tests' sessions run on).
    let admin = Soap::new(&vc.config(), Arc::new(SystemClock)).unwrap();
    let sm = admin.service().await.unwrap().session_manager.clone();
    let key = b.session_key().expect("logged in");
    let others = format!("<sessionId>{key}</sessionId>");
    admin
        .call("TerminateSession", &sm, &others, false)
        .await
        .unwrap();
    assert_eq!(b.list_clusters().await.unwrap(), before);
    assert_eq!(b.logins(), 2, "one login more");
    admin.logout().await.unwrap();
}

/// Credentials vCenter refuses are an `Unauthorized` error naming the fix,
/// and nothing more is sent (a locked account is not hammered); the
/// password never shows in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_stop_the_adapter_and_never_show() {
    use butler_core::backend::{ClusterBackend, ErrorKind};
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let wrong = LiveVcsim {
        password: "not-the-password-4711".into(),
        ..vc.clone()
    };
    let b = VsphereBackend::new(&wrong.config()).unwrap();
    let e = b.list_clusters().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert!(!e.is_retryable());
    let sent = b.requests();
    let again = b.list_clusters().await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::Unauthorized);
    assert_eq!(b.requests(), sent, "nothing sent after the refusal");
    for text in [format!("{e}"), format!("{e:?}"), format!("{b:?}")] {
        assert!(!text.contains("4711"), "the password shows: {text}");
    }
}

/// A create cut short (the clone made, the process gone) resumes from the
/// provisional VM: one VM in the end, under its name, in the shape asked;
/// the engine's look-up by name never saw the unfinished one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_short_resumes_from_its_provisional_vm() {
    use butler_core::backend::{ClusterBackend, VmCreate};
    use butler_vsphere::{MoRef, Soap, PARTIAL};
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let b = VsphereBackend::new(&vc.config()).unwrap();
    let name = prefix("cut");
    let partial = format!("{name}{PARTIAL}");
    // What the first attempt left: the template's clone, provisionally named.
    let soap = Soap::new(&vc.config(), Arc::new(SystemClock)).unwrap();
    let root = soap.service().await.unwrap().root_folder.clone();
    let template = soap
        .objects(&root, "VirtualMachine", &["name", "parent"], 100, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.text("name") == "tmpl-DC0_C0-linux")
        .expect("the template");
    let folder = template.reference("parent").expect("its folder");
    let cluster = soap
        .objects(
            &root,
            "ClusterComputeResource",
            &["name", "resourcePool", "datastore"],
            100,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.text("name") == "DC0_C0")
        .unwrap();
    let pool = cluster.reference("resourcePool").unwrap();
    let datastore = cluster.references("datastore").remove(0);
    let args = format!(
        "{}<name>{partial}</name><spec><location>{}{}</location><template>false</template><powerOn>false</powerOn></spec>",
        folder.xml("folder"),
        datastore.xml("datastore"),
        pool.xml("pool")
    );
    let answer = soap
        .call("CloneVM_Task", &template.moref(), &args, false)
        .await
        .unwrap();
    let task = answer.child("returnval").and_then(MoRef::of).unwrap();
    // Waited for by its state, up to two minutes of wall time (vcsim
    // clones at once; a loaded machine only takes longer).
    let mut made = false;
    for _ in 0..1200 {
        let state = soap.object(&task, &["info.state"]).await.unwrap();
        made = state.text("info.state") == "success";
        if made || state.text("info.state") == "error" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let count =
        |vms: &[butler_core::backend::VmInfo], n: &str| vms.iter().filter(|v| v.name == n).count();
    assert!(made, "the provisional clone exists");
    assert_eq!(b.find_vm(&name).await.unwrap(), None, "not under its name");
    let before = b.list_vms("DC0_C0").await.unwrap().len();

    let vm = VmCreate::new(&name, "DC0_C0")
        .project("prod-project")
        .category("Environment:Production")
        .cpu(1, 2)
        .ram_gib(2)
        .disks_gib(vec![21])
        .image(Some("tmpl-DC0_C0-linux".into()))
        .nics(vec!["DC0_DVPG0".into()]);
    b.create_vm(&vm).await.unwrap();
    let vms = b.list_vms("DC0_C0").await.unwrap();
    assert_eq!(
        vms.len(),
        before,
        "no second VM: the provisional one became it"
    );
    assert_eq!((count(&vms, &name), count(&vms, &partial)), (1, 0));
    let got = b.find_vm(&name).await.unwrap().unwrap();
    assert_eq!(
        (got.vcpus, got.ram_gib, got.disks_gib.clone()),
        (2, 2, vec![21])
    );
    assert_eq!(got.project.as_deref(), Some("prod-project"));
    soap.logout().await.unwrap();
}

/// A task vCenter fails is read as failed, with vCenter's fault type and
/// message, and changes nothing: here the delete of a VM that runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_vcenter_fails_is_read_as_failed_with_its_fault() {
    use butler_core::backend::{ClusterBackend, TaskState, VmCreate};
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let b = VsphereBackend::new(&vc.config()).unwrap();
    let name = prefix("fail");
    let vm = VmCreate::new(&name, "DC0_C0")
        .project("prod-project")
        .cpu(1, 1)
        .ram_gib(1)
        .disks_gib(vec![10])
        .nics(vec!["DC0_DVPG0".into()])
        .power_on(true);
    b.create_vm(&vm).await.unwrap();
    let made = b.find_vm(&name).await.unwrap().expect("made");
    let task = b.delete_vm(&made.uuid).await.unwrap();
    let mut state = TaskState::Running;
    for _ in 0..1200 {
        state = b.task(&task).await.unwrap().state;
        if state.is_terminal() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match state {
        TaskState::Failed(why) => assert!(why.contains("InvalidPowerState"), "{why}"),
        other => panic!("a running VM's delete: {other:?}"),
    }
    assert!(b.find_vm(&name).await.unwrap().is_some(), "nothing deleted");
}

/// Bad input to a create is an `Invalid` error naming what is wrong, and
/// nothing is made: a name the adapter keeps for itself, a port group the
/// cluster lacks, a template that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_with_bad_input_names_it_and_makes_nothing() {
    use butler_core::backend::{ClusterBackend, ErrorKind, VmCreate};
    use butler_vsphere::PARTIAL;
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let b = VsphereBackend::new(&vc.config()).unwrap();
    let name = prefix("bad");
    let good = VmCreate::new(&name, "DC0_C0")
        .project("prod-project")
        .cpu(1, 1)
        .ram_gib(1)
        .disks_gib(vec![10])
        .nics(vec!["DC0_DVPG0".into()]);
    let before = b.list_vms("DC0_C0").await.unwrap().len();
    for (vm, named) in [
        (
            {
                let mut v = good.clone();
                v.name = format!("{name}{PARTIAL}");
                v
            },
            PARTIAL.to_string(),
        ),
        (
            good.clone().nics(vec!["no-such-port-group".into()]),
            "no-such-port-group".to_string(),
        ),
        (
            good.clone().image(Some("no-such-template".into())),
            "no-such-template".to_string(),
        ),
    ] {
        let e = b.create_vm(&vm).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
        assert!(e.message.contains(&named), "{e}");
    }
    assert_eq!(
        b.list_vms("DC0_C0").await.unwrap().len(),
        before,
        "nothing made"
    );
}
