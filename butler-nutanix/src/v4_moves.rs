//! Moving a VM to another cluster on Prism Central v4: `POST
//! …/vms/{extId}/$actions/migrate` (`VmCrossClusterMigrateParams`: the
//! target cluster, cold or live) under the VM's `ETag`, and the same call
//! with `$dryrun=true`, Prism's own verdict before anything moves (guest
//! tools missing, delta disks, legacy protection, a VM that runs for a
//! cold move). A dry run's objections come back as the error messages of
//! its refusal (400, 409 or 422) or, from a Prism that answers a dry run
//! with a task, as that task's failure.

use crate::backend::NutanixBackend;
use crate::url_safe;
use crate::v4::{request_id, task_of, Mutation, VMS};
use butler_core::backend::{BackendError, ErrorKind, PowerState, TaskId, TaskState, VmMove};
use reqwest::Method;
use serde_json::{json, Value};

/// Dry runs of one batch sent at once.
const DRY_RUNS_AT_ONCE: usize = 8;

impl NutanixBackend {
    /// `Unsupported` for a move this Prism and configuration do not make
    /// (after learning which API Prism Central speaks).
    pub(crate) async fn offers_move(
        &self,
        to: &VmMove,
        op: &'static str,
    ) -> Result<(), BackendError> {
        use butler_core::backend::{Capability, ClusterBackend};
        self.uses_v4().await?;
        let caps = self.capabilities();
        let live = to.live.then_some(Capability::LiveMigration);
        match [Some(Capability::VmMigration), live]
            .into_iter()
            .flatten()
            .find(|c| !caps.has(*c))
        {
            Some(c) => Err(BackendError::unsupported(op, c)),
            None => Ok(()),
        }
    }

    /// The body of a move to `to`, naming the destination by its id (an
    /// unknown cluster is `Invalid`, and nothing is sent).
    async fn move_params(&self, to: &VmMove, op: &'static str) -> Result<Value, BackendError> {
        let cluster = self.v4_cluster_id(&to.destination).await?.ok_or_else(|| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("Prism Central has no cluster named {:?}", to.destination),
            )
        })?;
        Ok(json!({
            "$objectType": "vmm.v4.ahv.config.VmCrossClusterMigrateParams",
            "targetCluster": {"$objectType": "vmm.v4.ahv.config.ClusterReference", "extId": cluster},
            "isLiveMigration": to.live,
        }))
    }

    /// Starts the move of VM `uuid` under its `ETag`; a VM on the
    /// destination already is `Invalid` (nothing to move).
    pub(crate) async fn v4_migrate(&self, uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        let op = "migrate_vm";
        let params = self.move_params(to, op).await?;
        let path = format!("{VMS}/{}/$actions/migrate", url_safe::segment(uuid, op)?);
        let target = params["targetCluster"]["extId"].clone();
        self.v4_mutate(uuid, op, |vm| {
            (vm["cluster"]["extId"] != target)
                .then(|| Mutation::post(path.clone(), Some(params.clone())))
        })
        .await?
        .ok_or_else(|| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("VM {uuid} is on {:?} already", to.destination),
            )
        })
    }

    /// Prism's dry run of moving VM `uuid` as `to` says.
    pub(crate) async fn v4_check_migration(
        &self,
        uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        let op = "check_vm_migration";
        let params = self.move_params(to, op).await?;
        self.dry_run(uuid, &params, op).await
    }

    /// The dry runs of moving each VM named in `names`: one list of every
    /// VM for their ids, then one dry run per VM, [`DRY_RUNS_AT_ONCE`] at
    /// a time (Prism has no batched one). A VM that runs is not asked
    /// about a cold move: Prism would object to its power, which Butler
    /// judges itself; its other objections show when it moves.
    pub(crate) async fn v4_check_migrations(
        &self,
        names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        use futures::{StreamExt, TryStreamExt};
        let op = "check_vm_migrations";
        let params = self.move_params(to, op).await?;
        let places = self.v4_vm_places(op).await?;
        // By index: a closure over `&String` would not be general enough
        // for the `Send` future `async_trait` needs.
        futures::stream::iter(0..names.len())
            .map(|i| {
                let (params, name) = (&params, &names[i]);
                let place = places.get(name);
                async move {
                    match place {
                        None => Ok(vec![format!("Prism Central has no VM named {name:?}")]),
                        Some(p) if p.power == PowerState::On && !to.live => Ok(Vec::new()),
                        Some(p) => self.dry_run(&p.ext_id, params, op).await,
                    }
                }
            })
            .buffered(DRY_RUNS_AT_ONCE)
            .try_collect()
            .await
    }

    /// `$actions/migrate?$dryrun=true` for VM `uuid`: its objections.
    async fn dry_run(
        &self,
        uuid: &str,
        params: &Value,
        op: &'static str,
    ) -> Result<Vec<String>, BackendError> {
        let path = format!(
            "{VMS}/{}/$actions/migrate?$dryrun=true",
            url_safe::segment(uuid, op)?
        );
        // A fresh request id per dry run: Prism answers a repeated id with
        // the first answer, which would be a stale verdict. The standard
        // library's per-instance random hash keys make it unique.
        let nonce = {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(uuid)
        };
        let id = request_id(&[op, uuid, &params.to_string(), &nonce.to_string()]);
        let headers = [("NTNX-Request-Id", id)];
        match self
            .v4
            .call_v4(Method::POST, &path, Some(params), &headers, true)
            .await
        {
            Ok((answer, _)) => {
                let task = task_of(&answer, op)?;
                let status = self
                    .v4_wait_task(&task, std::time::Duration::from_secs(60))
                    .await?;
                match status.state {
                    TaskState::Succeeded => Ok(Vec::new()),
                    TaskState::Failed(why) => Ok(vec![why]),
                    TaskState::Aborted => Err(BackendError::new(
                        ErrorKind::Permanent,
                        op,
                        "Prism canceled the dry run",
                    )),
                    TaskState::Queued | TaskState::Running => Err(BackendError::new(
                        ErrorKind::Timeout,
                        op,
                        format!("the dry run was not done after 60 s (task {})", task.0),
                    )),
                }
            }
            Err(e) if matches!(e.status, Some(400 | 409 | 422)) => Ok(if e.messages.is_empty() {
                vec![e.message]
            } else {
                e.messages
            }),
            Err(e) => Err(e.into_backend(op)),
        }
    }
}
