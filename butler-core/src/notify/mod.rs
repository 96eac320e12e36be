//! Notifications: every request change becomes an [`Event`], kept in the
//! store's outbox in the same write as the change; a [`NotifyHub`] delivers
//! each to every [`Notifier`] on tasks of its own, each notifier with its
//! own retry schedule, so delivery never blocks nor fails the workflow and
//! nothing is lost to a restart or an outage.

mod hub;

pub(crate) use hub::within;
pub use hub::{NotifyConfig, NotifyHub};

use crate::request::{RequestId, RequestState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

pub use crate::inventory::{VmNotice, VmNoticeKind};

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    message: String,
    retryable: bool,
}

impl NotifyError {
    /// A failure that may pass (a server down, a timeout): the hub tries
    /// again on its schedule.
    pub fn retry(message: impl Into<String>) -> Self {
        NotifyError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that will not pass (refused for good): the hub gives up at
    /// once and shows the delivery to Admins.
    pub fn permanent(message: impl Into<String>) -> Self {
        NotifyError {
            message: message.into(),
            retryable: false,
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// Receives events. Implementations deliver (e-mail, webhook, chat) and say
/// whether it worked; the [`NotifyHub`] keeps undelivered events in the
/// store and retries them. A delivery can never fail the workflow.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The notifier's stable name: the store keeps its pending deliveries
    /// under it across restarts, and processes sharing a store deliver
    /// each event once per name. Two notifiers of one kind need two names.
    fn name(&self) -> &str;

    /// Delivers one event (once: the hub does the retrying). An event with
    /// nobody to tell is delivered (`Ok`).
    async fn notify(&self, event: &Event) -> Result<(), NotifyError>;

    /// Delivers a notice about an inventory VM to its owner (once: the
    /// VM's outbox keeps it for this notifier until it is delivered, or
    /// refused for good). The default delivers nothing: a notifier that
    /// does not write to people (a webhook of request events) leaves it.
    async fn notify_vm(&self, notice: &VmNotice) -> Result<(), NotifyError> {
        let _ = notice;
        Ok(())
    }
}

/// Logs every event with `tracing` at info level.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggingNotifier;

#[async_trait]
impl Notifier for LoggingNotifier {
    fn name(&self) -> &str {
        "log"
    }

    async fn notify(&self, e: &Event) -> Result<(), NotifyError> {
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
        Ok(())
    }

    async fn notify_vm(&self, n: &VmNotice) -> Result<(), NotifyError> {
        tracing::info!(vm = %n.vm, owner = %n.owner, "{}", n.summary());
        Ok(())
    }
}

/// The event announcing `entry`, one of `r`'s history entries (its state
/// after the entry is `entry.to`). Stores build the outbox's events with it.
pub fn event_for(r: &crate::request::Request, entry: &crate::request::HistoryEntry) -> Event {
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
        notify_support: matches!(entry.to, RequestState::Completed | RequestState::Error),
        summary,
    }
}
