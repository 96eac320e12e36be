//! vCenter tasks: read (`info.state`, `info.progress`, `info.error`,
//! `info.entity`) and waited for on the adapter's clock.

use crate::error::VsphereError;
use crate::soap::MoRef;
use crate::VsphereBackend;
use butler_core::backend::{ErrorKind, TaskId, TaskState, TaskStatus};
use std::time::Duration;

impl VsphereBackend {
    /// The task's state as Butler reads it.
    pub(crate) async fn task_status(&self, id: &TaskId) -> Result<TaskStatus, VsphereError> {
        let task = MoRef::new("Task", &id.0);
        let o = self
            .soap
            .object(
                &task,
                &["info.state", "info.progress", "info.error", "info.entity"],
            )
            .await?;
        let failure = || {
            let e = o.prop("info.error");
            let message = e
                .map(|e| e.text_at(&["localizedMessage"]))
                .unwrap_or_default();
            let fault = e
                .and_then(|e| e.child("fault"))
                .and_then(|f| f.xsi_type.clone())
                .unwrap_or_default();
            match (fault.is_empty(), message.is_empty()) {
                (false, false) => format!("{fault}: {message}"),
                (false, true) => fault,
                (true, false) => message.to_string(),
                (true, true) => "the task failed without a message".into(),
            }
        };
        let state = match o.text("info.state") {
            "success" => TaskState::Succeeded,
            "error" => TaskState::Failed(failure()),
            "queued" => TaskState::Queued,
            _ => TaskState::Running,
        };
        let percent = match state {
            TaskState::Succeeded => 100,
            _ => u8::try_from(o.number("info.progress").unwrap_or(0).clamp(0, 100)).unwrap_or(0),
        };
        Ok(TaskStatus {
            state,
            percent,
            entity_uuid: o.reference("info.entity").map(|e| e.value),
        })
    }

    /// Reads the task until it ends (50 ms, doubling, at most 2 s between
    /// reads) or `max_wait` passes; a failed task is an error naming
    /// `what`.
    pub(crate) async fn finish(
        &self,
        task: &MoRef,
        what: &str,
        max_wait: Duration,
    ) -> Result<TaskStatus, VsphereError> {
        let clock = self.soap.clock();
        let until = butler_core::backend::after(clock.now(), max_wait);
        let mut pause = Duration::from_millis(50);
        let id = TaskId(task.value.clone());
        loop {
            let status = self.task_status(&id).await?;
            match &status.state {
                TaskState::Succeeded => return Ok(status),
                TaskState::Failed(why) => {
                    let kind = why
                        .split(':')
                        .next()
                        .map(crate::error::kind_of_fault)
                        .filter(|k| *k != ErrorKind::Permanent)
                        .unwrap_or(ErrorKind::Permanent);
                    return Err(VsphereError::new(kind, format!("{what} failed: {why}")));
                }
                TaskState::Aborted => {
                    return Err(VsphereError::new(
                        ErrorKind::Permanent,
                        format!("{what} was canceled"),
                    ))
                }
                TaskState::Queued | TaskState::Running => {}
            }
            if clock.now() >= until {
                return Err(VsphereError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{what} not done after {} s (task {})",
                        max_wait.as_secs(),
                        task.value
                    ),
                ));
            }
            clock.sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Calls a `…_Task` method and waits for its task.
    pub(crate) async fn run_task(
        &self,
        method: &str,
        this: &MoRef,
        args: &str,
        what: &str,
    ) -> Result<(MoRef, TaskStatus), VsphereError> {
        let answer = self.soap.call(method, this, args, false).await?;
        let task = answer
            .child("returnval")
            .and_then(MoRef::of)
            .ok_or_else(|| {
                VsphereError::new(ErrorKind::Permanent, format!("{method} answered no task"))
            })?;
        let status = self.finish(&task, what, self.task_wait()).await?;
        Ok((task, status))
    }

    /// How long one vCenter task may take (a clone of a large template
    /// is minutes).
    pub(crate) fn task_wait(&self) -> Duration {
        Duration::from_secs(1800)
    }
}
