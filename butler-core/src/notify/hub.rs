//! Delivering the store's outbox: one task per notifier takes its due
//! deliveries, attempts them a few at a time, and records each outcome in
//! the store (delivered, retry at a later time, or given up).

use super::{Event, Notifier, NotifyError};
use crate::backend::{after, BackendError, Clock, ErrorKind};
use crate::resilience::{salt, RetryPolicy};
use crate::store::{Delivery, DeliveryOutcome, DeliveryResult, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How the hub delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Deliveries attempted at once per notifier.
    pub parallel: usize,
    /// Time allowed for one attempt.
    pub attempt_deadline: Duration,
    /// Waits between attempts (doubling from `base_delay` up to
    /// `max_delay`, with jitter); a delivery is given up once
    /// `step_deadline` has passed since its event.
    pub retry: RetryPolicy,
    /// How often the outbox is looked at when nothing wakes the hub (events
    /// written by other processes, retries falling due).
    pub poll: Duration,
    /// How long one process keeps the right to deliver a notifier's events
    /// (renewed before every round of attempts).
    pub lease: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            parallel: 8,
            attempt_deadline: Duration::from_secs(30),
            retry: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(30 * 60),
                step_deadline: Duration::from_secs(24 * 3600),
            },
            poll: Duration::from_secs(5),
            lease: Duration::from_secs(120),
        }
    }
}

impl NotifyConfig {
    /// Checks the settings make sense together.
    pub fn check(&self) -> Result<(), String> {
        if self.parallel == 0 {
            return Err("notify parallel must be at least 1".into());
        }
        if self.lease <= self.attempt_deadline.saturating_mul(2) {
            return Err(
                "notify lease must be longer than twice the attempt deadline, or a slow round could outlive it"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Delivers the outbox to notifiers on background tasks (one per notifier).
/// Cheap to clone; the tasks stop when [`shutdown`](Self::shutdown) is
/// called or the runtime ends.
#[derive(Debug, Clone)]
pub struct NotifyHub {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Moves when this process writes a change (an event to deliver).
    written: watch::Sender<u64>,
    /// True once every notifier is registered with the store.
    ready: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl NotifyHub {
    /// Registers `notifiers` with `store` and starts delivering, on the
    /// current tokio runtime. Changes written through services holding this
    /// hub wait until the registration is done, so none is missed.
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        notifiers: Vec<Arc<dyn Notifier>>,
        config: NotifyConfig,
    ) -> NotifyHub {
        let (written, _) = watch::channel(0u64);
        let (ready_tx, ready) = watch::channel(notifiers.is_empty());
        let (stop, _) = watch::channel(false);
        let owner = format!(
            "notify-{}-{:08x}",
            std::process::id(),
            crate::engine::random_u32()
        );
        let registered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ready_tx = Arc::new(ready_tx);
        let total = notifiers.len();
        let mut tasks = Vec::new();
        for notifier in notifiers {
            let worker = Worker {
                store: store.clone(),
                clock: clock.clone(),
                notifier,
                config: config.clone(),
                owner: owner.clone(),
            };
            let mut written = written.subscribe();
            let mut stop = stop.subscribe();
            let (registered, ready_tx) = (registered.clone(), ready_tx.clone());
            tasks.push(tokio::spawn(async move {
                if !worker.register(&mut stop).await {
                    return;
                }
                if registered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == total {
                    let _ = ready_tx.send(true);
                }
                worker.run(&mut written, &mut stop).await;
                worker.release().await;
            }));
        }
        NotifyHub {
            inner: Arc::new(Shared {
                written,
                ready,
                stop,
                tasks: std::sync::Mutex::new(tasks),
            }),
        }
    }

    /// Waits until every notifier is registered with the store (at once
    /// after the first time).
    pub(crate) async fn ready(&self) {
        let mut ready = self.inner.ready.clone();
        let _ = ready.wait_for(|r| *r).await;
    }

    /// Tells the delivery tasks a change was written.
    pub(crate) fn written(&self) {
        self.inner.written.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stops delivering and gives the delivery right back (another process
    /// sharing the store takes over at once); deliveries not done stay in
    /// the store for the next start.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}

struct Worker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    notifier: Arc<dyn Notifier>,
    config: NotifyConfig,
    owner: String,
}

impl Worker {
    fn name(&self) -> &str {
        self.notifier.name()
    }

    /// Registers the notifier, retrying while the store fails. False when
    /// stopped first.
    async fn register(&self, stop: &mut watch::Receiver<bool>) -> bool {
        let mut n = 0;
        loop {
            match self.store.register_notifier(self.name()).await {
                Ok(()) => return true,
                Err(e) => {
                    n += 1;
                    tracing::warn!(notifier = self.name(), error = ?e, "cannot register the notifier with the store; retrying");
                }
            }
            // Writes wait for the registration: retry it soon (0.1 s
            // doubling to 5 s), not on the deliveries' slow schedule.
            let wait = Duration::from_millis(100)
                .saturating_mul(1 << n.min(6))
                .min(Duration::from_secs(5));
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return false,
                _ = self.clock.sleep(wait) => {}
            }
        }
    }

    /// Gives the delivery right back on shutdown, so another process takes
    /// over at once rather than when the lease runs out.
    async fn release(&self) {
        let now = self.clock.now();
        if let Err(e) = self
            .store
            .claim_notifier(self.name(), &self.owner, now, now)
            .await
        {
            tracing::warn!(notifier = self.name(), error = ?e, "cannot release the notifier; it is free once its lease runs out");
        }
    }

    async fn run(&self, written: &mut watch::Receiver<u64>, stop: &mut watch::Receiver<bool>) {
        loop {
            written.borrow_and_update();
            let busy = match self.round().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(notifier = self.name(), error = ?e, "cannot read or record notifications; trying again later");
                    false
                }
            };
            if *stop.borrow() {
                return;
            }
            if busy {
                continue;
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = written.changed() => {}
                _ = self.clock.sleep_idle(self.config.poll) => {}
            }
        }
    }

    /// One round: claim the notifier, attempt up to `parallel` due
    /// deliveries at once, record how they went. Returns how many.
    async fn round(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.clock.now();
        // A read first: an idle poll writes nothing (the claim is a write).
        if self
            .store
            .due_deliveries(self.name(), now, 1)
            .await?
            .is_empty()
        {
            return Ok(0);
        }
        let until = after(now, self.config.lease);
        if !self
            .store
            .claim_notifier(self.name(), &self.owner, now, until)
            .await?
        {
            return Ok(0); // another process delivers this notifier's events
        }
        let due = self
            .store
            .due_deliveries(self.name(), now, self.config.parallel)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let attempts = due.iter().map(|d| self.attempt(d));
        let outcomes: Vec<DeliveryOutcome> = futures::future::join_all(attempts).await;
        self.store.record_deliveries(self.name(), &outcomes).await?;
        Ok(outcomes.len())
    }

    async fn attempt(&self, d: &Delivery) -> DeliveryOutcome {
        let result = match self.deliver(&d.event).await {
            Ok(()) => DeliveryResult::Delivered,
            Err(e) => self.after_failure(d, e),
        };
        DeliveryOutcome {
            request: d.request,
            seq: d.seq,
            result,
        }
    }

    /// One attempt under the attempt deadline; on a virtual clock the
    /// attempt counts as an outside wait (time does not jump while it runs).
    async fn deliver(&self, event: &Event) -> Result<(), NotifyError> {
        within(
            &self.clock,
            self.config.attempt_deadline,
            self.notifier.notify(event),
        )
        .await
    }

    fn after_failure(&self, d: &Delivery, e: NotifyError) -> DeliveryResult {
        let attempts = d.attempts.saturating_add(1);
        let now = self.clock.now();
        let next_at = after(
            now,
            self.config
                .retry
                .delay(attempts, salt(&format!("{}#{}", d.request, d.seq))),
        );
        let too_late = next_at >= after(d.event.at, self.config.retry.step_deadline)
            || attempts >= self.config.retry.max_attempts;
        tracing::warn!(notifier = self.name(), request = %d.request, attempts, error = %e, "notification not delivered");
        if !e.is_retryable() || too_late {
            let why = if e.is_retryable() {
                format!("{e} (given up after {attempts} attempt(s))")
            } else {
                e.to_string()
            };
            DeliveryResult::GaveUp {
                attempts,
                error: why,
            }
        } else {
            DeliveryResult::Retry {
                attempts,
                next_at,
                error: e.to_string(),
            }
        }
    }
}

/// One delivery attempt `call` under `limit` of `clock`: past it, a
/// retryable failure; on a virtual clock the attempt counts as an outside
/// wait (time does not jump while it runs).
pub(crate) async fn within(
    clock: &Arc<dyn Clock>,
    limit: Duration,
    call: impl std::future::Future<Output = Result<(), NotifyError>>,
) -> Result<(), NotifyError> {
    let call = async {
        call.await
            .map_err(|e| BackendError::new(kind_of(&e), "notify", e.to_string()))
    };
    crate::resilience::deadline(clock, limit, "notify", call)
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Permanent => NotifyError::permanent(e.message),
            _ => NotifyError::retry(e.message),
        })
}

fn kind_of(e: &NotifyError) -> ErrorKind {
    if e.is_retryable() {
        ErrorKind::Transient
    } else {
        ErrorKind::Permanent
    }
}
