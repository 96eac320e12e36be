//! Against a real Icinga2 daemon started by `scripts/services/icinga2.sh`
//! (`scripts/test.sh` does it): objects are read back over the raw API, not
//! through the adapter's decoder. Without the daemon these tests say so and
//! pass outside CI; under CI (`CI=true`) they fail.

use butler_core::backend::{ErrorKind, Monitor};
use butler_icinga::{IcingaConfig, IcingaMonitor, PASSWORD_VAR};
use serde_json::Value;

use butler_icinga::testing::LiveIcinga as Live;

fn live() -> Option<Live> {
    Live::from_env()
}

fn monitor(l: &Live, password: &str, ca: Option<&str>) -> IcingaMonitor {
    let mut text = format!("url = {:?}\nusername = {:?}\n", l.url, l.user);
    if let Some(ca) = ca {
        text.push_str(&format!("ca_cert = {ca:?}\n"));
    }
    let pw = password.to_string();
    let config =
        IcingaConfig::from_toml(&text, |k| (k == PASSWORD_VAR).then(|| pw.clone())).unwrap();
    IcingaMonitor::new(config).unwrap()
}

async fn raw_host(l: &Live, name: &str) -> Option<Value> {
    l.host(name).await
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{n}")
}

#[tokio::test]
async fn a_vm_is_registered_read_back_updated_and_removed() {
    let Some(l) = live() else { return };
    let m = monitor(&l, &l.password, Some(&l.ca));
    let name = unique("web01-r7");
    let mut reg = butler_core::testing::registration(&name);
    assert_eq!(m.find(&name).await.unwrap(), None);

    m.register(&reg).await.unwrap();
    let host = raw_host(&l, &name).await.expect("created");
    assert_eq!(host["address"], "10.0.0.5");
    assert_eq!(host["display_name"], "web01");
    assert_eq!(host["check_command"], "hostalive");
    assert_eq!(host["vars"]["cost_center"], "CC-1001");
    assert_eq!(host["vars"]["butler_request"], 1);
    assert_eq!(host["vars"]["butler_requester"], "ana");
    assert_eq!(m.find(&name).await.unwrap().as_ref(), Some(&reg));

    // Identical again (a retry after a lost reply): success, one object.
    m.register(&reg).await.unwrap();
    // Different: updated in place.
    reg.address = "10.0.0.9".into();
    m.register(&reg).await.unwrap();
    assert_eq!(raw_host(&l, &name).await.unwrap()["address"], "10.0.0.9");

    m.deregister(&name).await.unwrap();
    assert_eq!(raw_host(&l, &name).await, None);
    m.deregister(&name).await.unwrap();
}

#[tokio::test]
async fn racing_registrations_leave_one_object() {
    let Some(l) = live() else { return };
    let m = std::sync::Arc::new(monitor(&l, &l.password, Some(&l.ca)));
    let name = unique("race-r1");
    let reg = butler_core::testing::registration(&name);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (m, reg) = (m.clone(), reg.clone());
            tokio::spawn(async move { m.register(&reg).await })
        })
        .collect();
    // A create that loses the race while the winner is still in flight
    // gets Icinga's "re-defined" 500: a retryable error (the engine's
    // retry then finds the object), never a wrong success or a second
    // object.
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert!(e.is_retryable(), "{e}");
        }
    }
    m.register(&reg).await.unwrap();
    assert_eq!(raw_host(&l, &name).await.unwrap()["address"], "10.0.0.5");
    m.deregister(&name).await.unwrap();
}

#[tokio::test]
async fn wrong_password_and_untrusted_certificates_are_clear_errors_without_secrets() {
    let Some(l) = live() else { return };
    let wrong = "not-the-password-123";
    let e = monitor(&l, wrong, Some(&l.ca))
        .find("any")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert!(!e.to_string().contains(wrong));

    // Icinga's CA is its own: without it the certificate is not trusted.
    let e = monitor(&l, &l.password, None)
        .find("any")
        .await
        .unwrap_err();
    assert!(e.message.to_lowercase().contains("certificate"), "{e}");
    assert!(!e.to_string().contains(&l.password));
}
