//! Delivery over SMTP.

use crate::config::{MailConfig, TlsMode};
use crate::render::{render, render_notice, Rendered};
use async_trait::async_trait;
use butler_core::auth::Role;
use butler_core::backend::Clock;
use butler_core::notify::{Event, Notifier, NotifyError, VmNotice, VmNoticeKind};
use butler_core::request::RequestState;
use butler_core::store::Store;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Messages so far.
#[derive(Debug, Default)]
pub struct MailStats {
    /// Accepted by the server.
    pub sent: AtomicU64,
    /// Given up (after every attempt, or refused for good).
    pub failed: AtomicU64,
    /// Events with nobody to write to.
    pub no_recipient: AtomicU64,
}

/// Sends one message per event. The request is read from the store when
/// the event is delivered, so the summary shows it as it is then.
pub struct MailNotifier {
    config: MailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    backoff: Duration,
    stats: Arc<MailStats>,
}

impl std::fmt::Debug for MailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailNotifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MailNotifier {
    /// A notifier for `config`, reading requests and users from `store`.
    pub fn new(
        config: MailConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<MailNotifier, crate::ConfigError> {
        let invalid = |m: String| crate::ConfigError::Invalid(m);
        let mut tls = TlsParameters::builder(config.tls_name.clone());
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| invalid(format!("ca_file {}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| invalid(format!("ca_file {}: {e}", path.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| invalid(format!("TLS: {e}")))?;
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            .port(config.port)
            .timeout(Some(config.timeout))
            .tls(match config.tls {
                TlsMode::StartTls => Tls::Required(tls),
                TlsMode::Implicit => Tls::Wrapper(tls),
            });
        if let (Some(u), Some(p)) = (&config.username, &config.password) {
            b = b.credentials(Credentials::new(u.clone(), p.expose_secret().to_string()));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| invalid(format!("from: {e}")))?;
        Ok(MailNotifier {
            transport: b.build(),
            from,
            config,
            store,
            clock,
            backoff: Duration::from_secs(2),
            stats: Arc::new(MailStats::default()),
        })
    }

    /// Changes the first retry's wait (it doubles on each retry).
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The counters (shared).
    pub fn stats(&self) -> Arc<MailStats> {
        self.stats.clone()
    }

    /// The user names an event concerns: the requester; every Approver
    /// when the request waits for one, else its approver.
    async fn people(&self, e: &Event) -> BTreeSet<String> {
        let mut out = BTreeSet::from([e.requester.clone()]);
        if e.to == RequestState::Requested {
            match self.store.list_users().await {
                Ok(users) => out.extend(
                    users
                        .into_iter()
                        .filter(|u| !u.disabled && u.roles.contains(Role::Approver))
                        .map(|u| u.name),
                ),
                Err(err) => {
                    tracing::warn!(error = ?err, "cannot list approvers for a notification")
                }
            }
        } else if let Some(a) = &e.approver {
            out.insert(a.clone());
        }
        out
    }

    /// The message for `e`; `Ok(None)` when nobody is to be written to.
    async fn message(&self, e: &Event) -> Result<Option<Message>, NotifyError> {
        let request = self.store.get_request(e.request).await.map_err(|err| {
            NotifyError::retry(format!("cannot read request {}: {err}", e.request))
        })?;
        let mut to: BTreeSet<String> = BTreeSet::new();
        for user in self.people(e).await {
            match self.config.address_of(&user) {
                Some(a) => {
                    to.insert(a);
                }
                None => tracing::info!(user = ?user, "no e-mail address for user; not written to"),
            }
        }
        if e.notify_support {
            to.extend(self.config.support.iter().cloned());
        }
        self.build(&to, render(&request, e))
    }

    /// The message of `r` to the addresses `to`; `Ok(None)` when none is
    /// usable.
    fn build(&self, to: &BTreeSet<String>, r: Rendered) -> Result<Option<Message>, NotifyError> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(format!("{} {}", self.config.subject_prefix, r.subject));
        let mut any = false;
        for a in to {
            match a.parse::<Mailbox>() {
                Ok(m) => {
                    b = b.to(m);
                    any = true;
                }
                Err(err) => tracing::warn!(address = ?a, error = ?err, "unusable e-mail address"),
            }
        }
        if !any {
            self.stats.no_recipient.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        match b.multipart(MultiPart::alternative_plain_html(r.text, r.html)) {
            Ok(m) => Ok(Some(m)),
            Err(err) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                Err(NotifyError::permanent(format!(
                    "cannot build the message: {err}"
                )))
            }
        }
    }
}

#[async_trait]
impl Notifier for MailNotifier {
    fn name(&self) -> &str {
        "mail"
    }

    /// Sends the event's message, trying up to `attempts` times a few
    /// seconds apart (the hub retries for longer).
    async fn notify(&self, e: &Event) -> Result<(), NotifyError> {
        let Some(msg) = self.message(e).await? else {
            return Ok(());
        };
        self.send(msg, &format!("request {}", e.request)).await
    }

    /// Writes to the VM's owner (nobody when the owner has no address, nor
    /// about a power change the owner made).
    async fn notify_vm(&self, n: &VmNotice) -> Result<(), NotifyError> {
        if matches!(&n.kind, VmNoticeKind::Power { by, .. } if *by == n.owner) {
            return Ok(());
        }
        let Some(address) = self.config.address_of(&n.owner) else {
            tracing::info!(user = ?n.owner, vm = %n.vm, "no e-mail address for the VM's owner; not written to");
            self.stats.no_recipient.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let Some(msg) = self.build(&BTreeSet::from([address]), render_notice(n))? else {
            return Ok(());
        };
        self.send(msg, &format!("VM {}", n.vm)).await
    }
}

impl MailNotifier {
    /// Sends `msg` (about `what`), trying up to `attempts` times a few
    /// seconds apart.
    async fn send(&self, msg: Message, what: &str) -> Result<(), NotifyError> {
        let mut wait = self.backoff;
        let mut n = 1;
        loop {
            match self.transport.send(msg.clone()).await {
                Ok(_) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(err) if !err.is_permanent() && n < self.config.attempts => {
                    tracing::debug!(about = what, attempt = n, error = ?err.to_string(), "mail not sent; retrying");
                    self.clock.sleep(wait).await;
                    wait = wait.saturating_mul(2);
                    n += 1;
                }
                Err(err) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    let why = format!("mail not sent: {err}");
                    return Err(if err.is_permanent() {
                        NotifyError::permanent(why)
                    } else {
                        NotifyError::retry(why)
                    });
                }
            }
        }
    }
}
