//! The adapter against VMware's own vCenter simulator (govmomi's vcsim,
//! started by `scripts/services/vcsim.sh`).

use butler_core::backend::{Capability, SystemClock};
use butler_core::testing::backend::{run_all, Fixture};
use butler_vsphere::testing::LiveVcsim;
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
