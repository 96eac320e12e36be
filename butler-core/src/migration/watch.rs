//! Following a migration run from the store, whichever instance runs it:
//! the lines its runner stores as VMs finish, then the end. The runner's
//! own [`EventStream`](super::EventStream) has every step; this has what
//! any process sharing the store can see.

use super::report::{MigrationReport, RunId, VmReport};
use crate::backend::Clock;
use crate::error::ButlerError;
use crate::store::Store;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// What a [`RunWatch`] saw since its last answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunProgress {
    /// VMs finished (migrated, failed or skipped) since the last answer,
    /// with how many of the planned ones are done.
    Lines {
        /// The new lines, in the order the store has them.
        lines: Vec<VmReport>,
        /// Finished VMs so far.
        done: usize,
        /// VMs the run planned to move.
        planned: usize,
    },
    /// The run is over: its stored report (every line, the counts).
    Ended(Box<MigrationReport>),
}

/// How often, in real time, a watch on a virtual clock re-reads the store
/// while nothing in its process moves that clock.
pub const IDLE_REREAD: Duration = Duration::from_millis(50);

/// Follows one run through the store; see
/// [`MigrationService::watch`](super::MigrationService::watch).
pub struct RunWatch {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    run: RunId,
    poll: Duration,
    seen: HashSet<String>,
    ended: bool,
}

impl std::fmt::Debug for RunWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWatch")
            .field("run", &self.run)
            .field("seen", &self.seen.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl RunWatch {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        run: RunId,
        poll: Duration,
    ) -> Self {
        RunWatch {
            store,
            clock,
            run,
            poll: poll.max(Duration::from_millis(10)),
            seen: HashSet::new(),
            ended: false,
        }
    }

    /// Waits before the next read of the store: `poll` on the clock. On a
    /// virtual clock, a wait that alone made time pass would let a watcher
    /// of a run in another process (or of one nobody moves any more) spin,
    /// jumping time ahead at every read; so it waits as idle work does,
    /// until the clock passes `poll` or [`IDLE_REREAD`] of real time.
    async fn pause(&self) {
        if self.clock.is_virtual() {
            tokio::select! {
                () = self.clock.sleep_idle(self.poll) => {}
                () = tokio::time::sleep(IDLE_REREAD) => {}
            }
        } else {
            self.clock.sleep(self.poll).await;
        }
    }

    /// The run followed.
    pub fn run(&self) -> RunId {
        self.run
    }

    /// Waits (polling the store every `poll` on the clock) until a VM
    /// finishes or the run ends; `None` after the end was answered. Each
    /// VM is answered once, whatever order the store keeps lines in.
    pub async fn next(&mut self) -> Result<Option<RunProgress>, ButlerError> {
        if self.ended {
            return Ok(None);
        }
        loop {
            let report = self.store.get_report(self.run).await?;
            let lines: Vec<VmReport> = report
                .vms
                .iter()
                .filter(|l| !self.seen.contains(&l.vm))
                .cloned()
                .collect();
            if !lines.is_empty() {
                self.seen.extend(lines.iter().map(|l| l.vm.clone()));
                return Ok(Some(RunProgress::Lines {
                    lines,
                    done: self.seen.len(),
                    planned: report.planned.len(),
                }));
            }
            if report.ended.is_some() {
                self.ended = true;
                return Ok(Some(RunProgress::Ended(Box::new(report))));
            }
            self.pause().await;
        }
    }
}
