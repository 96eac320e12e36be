//! Graceful shutdown: the server stops taking calls, running migrations are
//! asked to stop, the engine finishes its step, and `serve` returns.

use butler_server::{setup, HttpSettings, Server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_returns_after_the_shutdown_signal_and_calls_stop() {
    let butler = setup::demo_builder(butler::Butler::builder())
        .build()
        .expect("demo");
    setup::demo_users(&butler).await.expect("users");
    let server = Server::new(butler, HttpSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("served");
    assert_eq!(health.status(), 200);
    stop.send(()).expect("signal");
    let done = tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .expect("serve returned within 30 s")
        .expect("task");
    assert!(done.is_ok(), "{done:?}");
    // Nothing listens any more.
    let after = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "still answering after shutdown");
}
