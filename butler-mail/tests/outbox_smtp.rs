//! The outbox against a real SMTP server (aiosmtpd, started by
//! scripts/test.sh): the server is down while 1,000 events are written,
//! the process restarts in the middle, then the server comes up and every
//! mail arrives once (read back as the files the server stored).

use butler_core::auth::{Actor, Role};
use butler_core::backend::{Clock, SystemClock};
use butler_core::notify::{NotifyConfig, NotifyHub};
use butler_core::resilience::RetryPolicy;
use butler_core::service::RequestService;
use butler_core::store::{SqliteStore, Store};
use butler_mail::testing::LiveSmtp;
use butler_mail::{MailConfig, MailNotifier};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Requests per process; each makes two events (created, requested).
const REQUESTS: usize = 250;

fn mail_config(smtp: &LiveSmtp, port: u16, prefix: &str) -> MailConfig {
    let text = format!(
        "host = \"{}\"\nport = {port}\ntls_name = \"127.0.0.1\"\nca_file = \"{}\"\nfrom = \"Butler <butler@example.org>\"\ndomain = \"example.org\"\ntimeout_secs = 10\nattempts = 1\nsubject_prefix = \"{prefix}\"\n",
        smtp.host, smtp.ca
    );
    let v: toml::Value = toml::from_str(&text).expect("toml");
    MailConfig::from_value(v, |_| None).expect("config")
}

fn notify_config() -> NotifyConfig {
    NotifyConfig {
        parallel: 16,
        attempt_deadline: Duration::from_secs(20),
        retry: RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            step_deadline: Duration::from_secs(3600),
        },
        poll: Duration::from_millis(100),
        lease: Duration::from_secs(60),
    }
}

/// One process: the service on the store file, delivering to `port`.
fn start(
    path: &std::path::Path,
    smtp: &LiveSmtp,
    port: u16,
    prefix: &str,
) -> (Arc<RequestService>, NotifyHub, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mail = MailNotifier::new(
        mail_config(smtp, port, prefix),
        store.clone(),
        clock.clone(),
    )
    .expect("notifier");
    let hub = NotifyHub::start(
        store.clone(),
        clock.clone(),
        vec![Arc::new(mail)],
        notify_config(),
    );
    let service = RequestService::with_clock(
        store.clone(),
        butler_core::demo::catalog(),
        butler_core::demo::rate_book(),
        clock,
    )
    .with_notifications(hub.clone());
    (Arc::new(service), hub, store)
}

async fn submit(service: &RequestService, tag: &str) {
    let ana = Actor::trusted("ana", [Role::Requester]).expect("actor");
    for i in 0..REQUESTS {
        let r = service
            .create(&ana, butler_core::demo::spec(&format!("{tag}{i:03}")))
            .await
            .expect("created");
        service
            .submit(&ana, r.id, r.version)
            .await
            .expect("submitted");
    }
}

/// Waits for `done`, checking every 50 ms, for at most `limit`.
async fn until<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut done: impl FnMut() -> F,
) {
    let end = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < end,
            "not done after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn failed(store: &Arc<dyn Store>) -> usize {
    store
        .failed_deliveries(100_000)
        .await
        .map_or(0, |f| f.len())
}

/// Forwards every connection on `listener` to the real server.
async fn forward(listener: tokio::net::TcpListener, to: String) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        let to = to.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn smtp_down_for_1000_events_and_a_restart_then_up_every_mail_arrives_once() {
    let Some(smtp) = LiveSmtp::from_env() else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("outbox.sqlite");
    let prefix = format!(
        "[ob{}-{}]",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    );
    // A loopback port nobody listens on: the server is down.
    let port = std::net::TcpListener::bind((smtp.host.as_str(), 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();

    let first = runtime();
    first.block_on(async {
        let (service, hub, store) = start(&path, &smtp, port, &prefix);
        submit(&service, "oba").await;
        // Every event tried and refused at least once, then a restart.
        until(Duration::from_secs(120), || async {
            failed(&store).await >= 2 * REQUESTS
        })
        .await;
        hub.shutdown().await;
    });
    drop(first);

    let second = runtime();
    second.block_on(async {
        let (service, hub, store) = start(&path, &smtp, port, &prefix);
        submit(&service, "obb").await;
        until(Duration::from_secs(120), || async {
            failed(&store).await >= 4 * REQUESTS
        })
        .await;
        assert!(
            smtp.messages_containing(&prefix).is_empty(),
            "the server was down"
        );
        // The server comes up on the port the notifier uses.
        let listener = tokio::net::TcpListener::bind((smtp.host.as_str(), port))
            .await
            .expect("the port is still free");
        let forwarder = tokio::spawn(forward(listener, format!("{}:{}", smtp.host, smtp.port)));
        let far = chrono::Utc::now() + chrono::Duration::days(365);
        until(Duration::from_secs(300), || async {
            let due = store
                .due_deliveries("mail", far, 1)
                .await
                .map_or(1, |d| d.len());
            due == 0 && failed(&store).await == 0
        })
        .await;
        hub.shutdown().await;
        forwarder.abort();
        // Nothing is left to send: what the server holds now is final.
        let messages = smtp.messages_containing(&prefix);
        let mut subjects: BTreeMap<String, usize> = BTreeMap::new();
        for m in &messages {
            let subject = m
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_string();
            *subjects.entry(subject).or_default() += 1;
        }
        let twice: Vec<_> = subjects.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "sent more than once: {twice:?}");
        assert_eq!(messages.len(), 4 * REQUESTS, "every event's mail, once");
        drop(service);
    });
}
