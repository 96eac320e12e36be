//! Notifications: every request state change becomes an [`Event`]; a
//! [`NotifyHub`] hands events to [`Notifier`]s on its own task, so delivery
//! never blocks or fails the workflow.

use crate::request::{RequestId, RequestState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A request changed state (or content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The request.
    pub request: RequestId,
    /// State before (`None` on creation).
    pub from: Option<RequestState>,
    /// State after.
    pub to: RequestState,
    /// Who acted.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The requester (a recipient).
    pub requester: String,
    /// The approver, if any (a recipient).
    pub approver: Option<String>,
    /// Whether the support list should hear of it (provisioned or failed).
    pub notify_support: bool,
    /// A line for people (action and note).
    pub summary: String,
}

/// Receives events. Implementations deliver (e-mail, webhook, chat); errors
/// they meet are theirs to log — they cannot fail the workflow.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one event.
    async fn notify(&self, event: &Event);
}

/// Logs every event with `tracing` at info level.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggingNotifier;

#[async_trait]
impl Notifier for LoggingNotifier {
    async fn notify(&self, e: &Event) {
        tracing::info!(
            request = %e.request,
            from = e.from.map(|s| s.as_str()).unwrap_or("new"),
            to = %e.to,
            actor = %e.actor,
            requester = %e.requester,
            approver = e.approver.as_deref().unwrap_or("-"),
            support = e.notify_support,
            "{}", e.summary
        );
    }
}

/// Fans events out to notifiers on a background task. `emit` never waits:
/// when the queue is full the event is dropped with a warning; a notifier
/// slower than the per-event timeout is abandoned for that event.
#[derive(Debug, Clone)]
pub struct NotifyHub {
    tx: mpsc::Sender<Event>,
}

impl NotifyHub {
    /// Starts the hub on the current tokio runtime.
    pub fn start(
        notifiers: Vec<Arc<dyn Notifier>>,
        capacity: usize,
        timeout: Duration,
    ) -> NotifyHub {
        let (tx, mut rx) = mpsc::channel::<Event>(capacity.max(1));
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                for n in &notifiers {
                    if tokio::time::timeout(timeout, n.notify(&e)).await.is_err() {
                        tracing::warn!(request = %e.request, "a notifier timed out; event skipped for it");
                    }
                }
            }
        });
        NotifyHub { tx }
    }

    /// Queues an event without waiting.
    pub fn emit(&self, event: Event) {
        if let Err(e) = self.tx.try_send(event) {
            tracing::warn!(error = ?e, "notification dropped");
        }
    }
}

/// The event announcing `entry`, just appended to `r`.
pub(crate) fn event_for(
    r: &crate::request::Request,
    entry: &crate::request::HistoryEntry,
) -> Event {
    use crate::request::RequestState;
    let mut summary = format!("request {} {} by {}", r.id, entry.action, entry.actor);
    if let Some(n) = &entry.note {
        summary.push_str(": ");
        summary.push_str(n);
    }
    Event {
        request: r.id,
        from: entry.from,
        to: entry.to,
        actor: entry.actor.clone(),
        at: entry.at,
        requester: r.owner.clone(),
        approver: r.approver.clone(),
        notify_support: matches!(r.state, RequestState::Completed | RequestState::Error),
        summary,
    }
}
