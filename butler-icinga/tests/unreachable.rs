//! An Icinga that cannot be reached: the error is retryable and keeps the
//! HTTP client's error as its source.

use butler_core::backend::Monitor;
use butler_icinga::{IcingaConfig, IcingaMonitor};
use std::error::Error as _;

#[tokio::test]
async fn an_unreachable_icinga_keeps_the_transport_error_as_the_cause() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let text = format!("url = \"https://127.0.0.1:{port}\"\nusername = \"butler\"\n");
    let config = IcingaConfig::from_toml(&text, |_| Some("pw".into())).unwrap();
    let monitor = IcingaMonitor::new(config).unwrap();
    let e = monitor.find("web01-r1").await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.message.contains("cannot reach Icinga"), "{e}");
    let cause = e.source();
    assert!(
        cause.is_some_and(|c| c.downcast_ref::<reqwest::Error>().is_some()),
        "{e:?}"
    );
}
