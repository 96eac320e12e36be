//! The e-mail notifier against a real SMTP server over TCP with STARTTLS
//! (aiosmtpd, started by scripts/test.sh); the messages are read back as
//! the files the server stored.

use butler_core::auth::{Actor, Role};
use butler_core::backend::SystemClock;
use butler_core::notify::{Event, Notifier};
use butler_core::request::RequestState;
use butler_core::service::RequestService;
use butler_core::store::{MemoryStore, Store};
use butler_core::users::UserService;
use butler_mail::testing::LiveSmtp;
use butler_mail::{MailConfig, MailNotifier};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn config(smtp: &LiveSmtp, tls_name: &str) -> MailConfig {
    let text = format!(
        "host = \"{}\"\nport = {}\ntls_name = \"{tls_name}\"\nca_file = \"{}\"\nfrom = \"Butler <butler@example.org>\"\ndomain = \"example.org\"\naddresses = {{ beto = \"beto.b@approvals.example.org\" }}\nsupport = [\"support@example.org\"]\ntimeout_secs = 5\nattempts = 2\n",
        smtp.host, smtp.port, smtp.ca
    );
    let v: toml::Value = toml::from_str(&text).expect("toml");
    MailConfig::from_value(v, |_| None).expect("config")
}

/// The message with quoted-printable undone (soft breaks joined, `=XX`
/// decoded), as a mail reader shows it.
fn unquoted(msg: &str) -> String {
    let joined = msg.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header(msg: &str, name: &str) -> String {
    // Unfolds the header (continuation lines start with white space).
    let mut out = String::new();
    let mut inside = false;
    for line in msg.lines() {
        if line.is_empty() {
            break;
        }
        if inside && line.starts_with([' ', '\t']) {
            out.push_str(line.trim_start());
            continue;
        }
        inside = line
            .split_once(':')
            .is_some_and(|(k, _)| k.eq_ignore_ascii_case(name));
        if inside {
            out.push_str(line.split_once(':').map(|x| x.1.trim()).unwrap_or(""));
        }
    }
    out
}

/// The messages holding `needle`, once at least one has arrived (or
/// after 60 s: a slow machine waits longer, a fast one no more).
async fn arrived(smtp: &LiveSmtp, needle: &str) -> Vec<String> {
    for _ in 0..600 {
        let found = smtp.messages_containing(needle);
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn a_submission_mails_the_requester_and_every_approver_with_the_summary() {
    let Some(smtp) = LiveSmtp::from_env() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let users = UserService::new(store.clone());
    let root = users
        .bootstrap_admin("root", "root's long password")
        .await
        .expect("admin");
    for (n, r) in [
        ("ana", Role::Requester),
        ("bea", Role::Approver),
        ("beto", Role::Approver),
    ] {
        users
            .add(&root, n, [r], &format!("{n}'s long password"))
            .await
            .expect("user");
    }
    let service = RequestService::new(
        store.clone(),
        butler_core::demo::catalog(),
        butler_core::demo::rate_book(),
    );
    let ana = Actor::trusted("ana", [Role::Requester]).expect("actor");
    // A unique VM name finds this test's message among others.
    let name = format!("mail{}", std::process::id() % 100_000);
    let mut spec = butler_core::demo::spec(&name);
    spec.special_requirement = "<b>bold</b> & more".into();
    let r = service.create(&ana, spec).await.expect("created");
    let r = service
        .submit(&ana, r.id, r.version)
        .await
        .expect("submitted");
    let n = MailNotifier::new(
        config(&smtp, "127.0.0.1"),
        store.clone(),
        Arc::new(SystemClock),
    )
    .expect("notifier");
    let stats = n.stats();
    let last = r.history.last().expect("history");
    n.notify(&Event {
        request: r.id,
        from: last.from,
        to: last.to,
        actor: last.actor.clone(),
        at: last.at,
        requester: r.owner.clone(),
        approver: None,
        notify_support: false,
        summary: format!("request {} submitted by ana", r.id),
    })
    .await
    .expect("delivered");
    assert_eq!(
        stats.sent.load(Ordering::Relaxed),
        1,
        "failed: {}",
        stats.failed.load(Ordering::Relaxed)
    );

    let found = arrived(&smtp, &name).await;
    assert_eq!(found.len(), 1, "one message per event");
    let m = &unquoted(&found[0]);
    let to = header(m, "To");
    for a in [
        "ana@example.org",
        "bea@example.org",
        "beto.b@approvals.example.org",
    ] {
        assert!(to.contains(a), "{a} not in To: {to}");
    }
    assert!(!to.contains("root@"), "admins are not approvers: {to}");
    assert!(
        !to.contains("support@"),
        "support hears only of the end: {to}"
    );
    assert!(
        header(m, "Subject").contains("is requested"),
        "{}",
        header(m, "Subject")
    );
    assert!(header(m, "Content-Type").starts_with("multipart/alternative"));
    assert!(m.contains("text/plain") && m.contains("text/html"));
    assert!(m.contains("Monthly estimate") && m.contains("UF"));
    assert!(
        m.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"),
        "user text is escaped in HTML"
    );
    assert!(!m.contains("<b>bold</b> & more</td>"));
}

#[tokio::test]
async fn a_server_with_the_wrong_certificate_name_gets_nothing() {
    let Some(smtp) = LiveSmtp::from_env() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let service = RequestService::new(
        store.clone(),
        butler_core::demo::catalog(),
        butler_core::demo::rate_book(),
    );
    let ana = Actor::trusted("ana", [Role::Requester]).expect("actor");
    let name = format!("tls{}", std::process::id() % 100_000);
    let r = service
        .create(&ana, butler_core::demo::spec(&name))
        .await
        .expect("created");
    let n = MailNotifier::new(
        config(&smtp, "mail.elsewhere.example"),
        store,
        Arc::new(SystemClock),
    )
    .expect("notifier")
    .with_backoff(Duration::from_millis(10));
    let stats = n.stats();
    let sent = n
        .notify(&Event {
            request: r.id,
            from: None,
            to: RequestState::Completed,
            actor: "butler".into(),
            at: r.created_at,
            requester: "ana".into(),
            approver: Some("bea".into()),
            notify_support: true,
            summary: "provisioned".into(),
        })
        .await;
    assert!(sent.is_err(), "an unverified server is a failed delivery");
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        smtp.messages_containing(&name).is_empty(),
        "nothing went over an unverified connection"
    );
}

#[tokio::test]
async fn a_lease_notice_mails_the_vms_owner_alone() {
    let Some(smtp) = LiveSmtp::from_env() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let n = MailNotifier::new(config(&smtp, "127.0.0.1"), store, Arc::new(SystemClock))
        .expect("notifier");
    let name = format!("lease{}", std::process::id() % 100_000);
    let ends = chrono::NaiveDate::from_ymd_opt(2027, 3, 31).expect("date");
    n.notify_vm(&butler_core::notify::VmNotice {
        vm: butler_core::inventory::VmId(42),
        name: format!("{name}-r7"),
        display_name: name.clone(),
        owner: "beto".into(),
        kind: butler_core::notify::VmNoticeKind::LeaseEnding {
            ends,
            days_left: 7,
            retired_then: true,
        },
        at: chrono::Utc::now(),
    })
    .await
    .expect("delivered");
    let found = arrived(&smtp, &format!("{name}-r7")).await;
    assert_eq!(found.len(), 1, "one message per notice");
    let m = &unquoted(&found[0]);
    assert_eq!(header(m, "To"), "beto.b@approvals.example.org");
    let subject = header(m, "Subject");
    assert!(subject.contains("ends on 2027-03-31"), "{subject}");
    assert!(
        m.contains("in 7 day(s)") && m.contains("retired"),
        "the notice says when and what happens"
    );
}

#[tokio::test]
async fn a_power_change_mails_the_owner_unless_the_owner_made_it() {
    let Some(smtp) = LiveSmtp::from_env() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let n = MailNotifier::new(config(&smtp, "127.0.0.1"), store, Arc::new(SystemClock))
        .expect("notifier");
    let stats = n.stats();
    let name = format!("power{}", std::process::id() % 100_000);
    let notice = |by: &str| butler_core::notify::VmNotice {
        vm: butler_core::inventory::VmId(7),
        name: format!("{name}-r3"),
        display_name: name.clone(),
        owner: "beto".into(),
        kind: butler_core::notify::VmNoticeKind::Power {
            change: butler_core::backend::PowerChange::GuestShutdown,
            outcome: "power guest_shutdown: done".into(),
            by: by.into(),
        },
        at: chrono::Utc::now(),
    };
    n.notify_vm(&notice("beto")).await.expect("nothing to send");
    assert_eq!(
        stats.sent.load(Ordering::Relaxed),
        0,
        "the owner's own change"
    );
    n.notify_vm(&notice("olga")).await.expect("delivered");
    assert_eq!(stats.sent.load(Ordering::Relaxed), 1);
    let found = arrived(&smtp, &format!("{name}-r3")).await;
    assert_eq!(found.len(), 1);
    let m = &unquoted(&found[0]);
    assert_eq!(header(m, "To"), "beto.b@approvals.example.org");
    assert!(
        header(m, "Subject").contains("by olga"),
        "{}",
        header(m, "Subject")
    );
    // A migration that powers the VM off tells its owner, naming where it goes.
    let moved = butler_core::notify::VmNotice {
        name: format!("{name}-r4"),
        kind: butler_core::notify::VmNoticeKind::MigrationPower {
            run: 5,
            from: "c1-madrid".into(),
            to: "c2-santiago".into(),
            on: false,
            by: "olga".into(),
        },
        ..notice("olga")
    };
    n.notify_vm(&moved).await.expect("delivered");
    let found = arrived(&smtp, &format!("{name}-r4")).await;
    assert_eq!(found.len(), 1);
    let m = &unquoted(&found[0]);
    assert_eq!(header(m, "To"), "beto.b@approvals.example.org");
    assert!(
        header(m, "Subject").contains("powered off to migrate it to c2-santiago"),
        "{}",
        header(m, "Subject")
    );
    assert!(m.contains("migration run m5"), "{m}");
}
