//! The migration API a host calls: groups (Operators change; Viewers,
//! Operators and Admins read), fact refresh, validation, migration, reports.
//! Who may do what is [`crate::auth::policy`].

use super::facts::{FactsSnapshot, GroupIndex};
use super::facts_cache::{FactsCache, FactsStatus};
use super::group::{GroupId, GroupVmsEdit, GroupVmsEdited, MigrationGroup};
use super::inventory::{Inventory, MoveVerdicts};
use super::plan::{plan, plan_after_move};
use super::report::{MigrationReport, RunId, VmOutcome, VmReport};
use super::run::{EventStream, MigrationConfig, MigrationEvent, Runner};
use super::token::ValidationToken;
use super::validate::{validate, FindingCode, ValidationReport};
use crate::auth::{Actor, Operation, Policy};
use crate::backend::{Clock, ClusterBackend};
use crate::error::ButlerError;
use crate::said::{Said, SaidCode};
use crate::store::{SecretKey, Store};

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Groups, facts, validation, migration and reports.
pub struct MigrationService {
    store: Arc<dyn Store>,
    backend: Arc<dyn ClusterBackend>,
    clock: Arc<dyn Clock>,
    config: MigrationConfig,
    facts: FactsCache,
    policy: Policy,
    token_key: tokio::sync::OnceCell<SecretKey>,
    /// Decoded groups by id, kept while their stored version is unchanged:
    /// validating a million-VM group reads one version, not the group.
    decoded: Mutex<std::collections::HashMap<GroupId, Arc<MigrationGroup>>>,
    /// Each group's VM positions by name, for its current version: a
    /// refresh of an unchanged group does not index it again.
    indexes: Mutex<std::collections::HashMap<GroupId, Arc<GroupIndex>>>,
    /// Wakes the deliverer of the VMs' notices when a run writes one
    /// (`None`: nobody delivers them, so runs write none).
    notices: Option<Arc<tokio::sync::Notify>>,
}

/// What the Operator starting a migration confirms
/// ([`MigrationService::migrate_with`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmations {
    /// The run may power off the running VMs it moves (the group asks for
    /// it, [`MigrationGroup::power_off`]); their owners are told.
    pub power_off: bool,
}

/// The store's key for validation tokens.
const TOKEN_KEY: &str = "validation-token";

impl std::fmt::Debug for MigrationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MigrationService {
    /// A service over `store` and `backend`.
    pub fn new(
        store: Arc<dyn Store>,
        backend: Arc<dyn ClusterBackend>,
        clock: Arc<dyn Clock>,
        config: MigrationConfig,
    ) -> Self {
        store.report_waits_to(clock.clone());
        let backend = Arc::new(crate::resilience::Guarded::cluster(
            backend,
            clock.clone(),
            config.call_deadline,
        ));
        MigrationService {
            store,
            backend,
            clock,
            config,
            facts: FactsCache::default(),
            policy: Policy::standard(),
            token_key: tokio::sync::OnceCell::new(),
            decoded: Mutex::new(std::collections::HashMap::new()),
            indexes: Mutex::new(std::collections::HashMap::new()),
            notices: None,
        }
    }

    /// Has runs that power VMs off and on write a notice to each VM's
    /// owner into the VM's outbox and wake `wake` (the deliverer,
    /// [`crate::inventory::VmNotices`]). The `butler` crate's builder does
    /// it when it is given notifiers.
    pub fn with_vm_notices(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.notices = Some(wake);
        self
    }

    /// The group as stored now: the decoded copy when its version is
    /// unchanged, else read (and kept).
    async fn current_group(&self, id: GroupId) -> Result<Arc<MigrationGroup>, ButlerError> {
        let version = self.store.group_version(id).await?;
        let lock = || self.decoded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = lock().get(&id).filter(|g| g.version == version) {
            return Ok(g.clone());
        }
        let g = Arc::new(self.store.get_group(id).await?);
        lock().insert(id, g.clone());
        Ok(g)
    }

    fn allow(&self, actor: &Actor, op: Operation) -> Result<(), ButlerError> {
        Ok(self.policy.check(actor, op)?)
    }

    /// Whether `actor` may do `op` here, by the same policy every method
    /// of this service applies. For callers that hold a
    /// [`MigrationHandle`] on someone else's behalf (a service cancelling a
    /// run for a user): ask before acting.
    pub fn authorize(&self, actor: &Actor, op: Operation) -> Result<(), ButlerError> {
        self.allow(actor, op)
    }

    async fn token_key(&self) -> Result<&SecretKey, ButlerError> {
        Ok(self
            .token_key
            .get_or_try_init(|| self.store.secret_key(TOKEN_KEY))
            .await?)
    }

    /// Signs a validation of `group` on `facts`.
    async fn issue(
        &self,
        group: &MigrationGroup,
        facts: &FactsSnapshot,
        mut report: ValidationReport,
    ) -> Result<ValidationReport, ButlerError> {
        let key = self.token_key().await?;
        report.token = Some(ValidationToken::sign(
            key,
            group.id,
            group.version,
            facts.content_hash(),
            report.errors,
            report.only.clone(),
            report.already_moved.clone(),
        ));
        Ok(report)
    }

    /// Reads a token that travelled as text ([`ValidationToken::encode`]),
    /// checking its signature: a forged or altered one is refused here.
    pub async fn parse_token(&self, text: &str) -> Result<ValidationToken, ButlerError> {
        let key = self.token_key().await?;
        ValidationToken::decode(key, text)
            .map_err(|e| ButlerError::ValidationRequired(e.to_string()))
    }

    /// The configuration.
    pub fn config(&self) -> &MigrationConfig {
        &self.config
    }

    // ---- groups ----

    /// Groups whose name contains `name_part` (case-insensitive).
    pub async fn find_groups(
        &self,
        actor: &Actor,
        name_part: &str,
    ) -> Result<Vec<MigrationGroup>, ButlerError> {
        self.allow(actor, Operation::ReadGroups)?;
        Ok(self.store.find_groups(name_part).await?)
    }

    /// The platform's VMs on `cluster` whose name contains `contains`
    /// (any case), by name, at most `limit`: what a person picks from when
    /// adding VMs to a group (the same permission as editing groups).
    pub async fn platform_vms(
        &self,
        actor: &Actor,
        cluster: &str,
        contains: &str,
        limit: usize,
    ) -> Result<Vec<crate::backend::VmInfo>, ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        crate::limits::check("limit", limit, crate::limits::MAX_PAGE_SIZE, "rows")?;
        let needle = contains.trim().to_lowercase();
        let mut vms: Vec<_> = self
            .backend
            .list_vms(cluster)
            .await?
            .into_iter()
            .filter(|v| v.name.to_lowercase().contains(&needle))
            .collect();
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        vms.truncate(limit);
        Ok(vms)
    }

    /// One group.
    pub async fn group(&self, actor: &Actor, id: GroupId) -> Result<MigrationGroup, ButlerError> {
        self.allow(actor, Operation::ReadGroups)?;
        Ok(self.store.get_group(id).await?)
    }

    /// Creates an empty group; the store refuses a taken name.
    pub async fn create_group(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<MigrationGroup, ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        let id = self.store.next_group_id().await?;
        let g = MigrationGroup::new(id, name, actor.name(), self.clock.now())?;
        self.store.insert_group(&g).await?;
        Ok(g)
    }

    /// Copies a group (clusters and VMs) under `name`, or under the
    /// suggested name (`<name> (return)`) when `None`.
    pub async fn clone_group(
        &self,
        actor: &Actor,
        id: GroupId,
        name: Option<&str>,
    ) -> Result<MigrationGroup, ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        let from = self.store.get_group(id).await?;
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| from.suggested_clone_name());
        let new_id = self.store.next_group_id().await?;
        let g = from.clone_as(new_id, &name, actor.name(), self.clock.now())?;
        self.store.insert_group(&g).await?;
        Ok(g)
    }

    /// Applies `edit` to version `version` of the group and stores it.
    /// Applies a change of name or clusters: the stored VM list is kept as
    /// it is (not rewritten).
    async fn edit(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        edit: impl FnOnce(&mut MigrationGroup) -> Result<(), ButlerError>,
    ) -> Result<MigrationGroup, ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        let current = self.current_group(id).await?;
        if current.version != version {
            return Err(ButlerError::Conflict(crate::store::StoreError::Conflict {
                what: format!("migration group {id}"),
                expected: version,
                found: current.version,
            }));
        }
        let mut g = current.header();
        edit(&mut g)?;
        g.version += 1;
        g.updated_by = actor.name().to_string();
        g.updated_at = self.clock.now();
        self.store.update_group_header(&g, version).await?;
        g.vms = current.vms.clone();
        Ok(g)
    }

    /// Applies a VM-list edit in the store, in place.
    async fn change_vms(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        edit: GroupVmsEdit,
    ) -> Result<GroupVmsEdited, ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        edit.check()?;
        let done = self
            .store
            .change_group_vms(id, version, &edit, actor.name(), self.clock.now())
            .await??;
        Ok(done)
    }

    /// Refuses VMs the platform does not have: a few are looked up by
    /// name, more through one listing per cluster.
    async fn check_on_platform(&self, vms: &[String]) -> Result<(), ButlerError> {
        const LOOKUPS: usize = 32;
        let missing: Vec<&String> = if vms.len() <= LOOKUPS {
            let mut missing = Vec::new();
            for vm in vms {
                if self.backend.find_vm(vm).await?.is_none() {
                    missing.push(vm);
                }
            }
            missing
        } else {
            // Strike off the names found; a million-VM listing needs no
            // set of its own.
            let mut wanted: std::collections::HashSet<&str> =
                vms.iter().map(String::as_str).collect();
            for cluster in self.backend.list_clusters().await? {
                for name in self.backend.list_vm_names(&cluster.name).await? {
                    wanted.remove(name.as_str());
                }
            }
            vms.iter().filter(|v| wanted.contains(v.as_str())).collect()
        };
        match missing.as_slice() {
            [] => Ok(()),
            [one] => Err(ButlerError::Refused(Said::new(
                SaidCode::VmNotOnPlatform,
                [("vm", one.to_string()), ("quoted", format!("{one:?}"))],
            ))),
            [first, rest @ ..] => Err(ButlerError::Refused(Said::new(
                SaidCode::VmsNotOnPlatform,
                [
                    ("vm", first.to_string()),
                    ("quoted", format!("{first:?}")),
                    ("more", rest.len().to_string()),
                ],
            ))),
        }
    }

    /// Renames.
    pub async fn rename(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        name: &str,
    ) -> Result<MigrationGroup, ButlerError> {
        self.edit(actor, id, version, |g| Ok(g.rename(name)?)).await
    }

    /// Asks Butler to power the group's selected VMs that run off before
    /// migrating them and on again at the destination once verified
    /// (`true`), or not (`false`: a running VM is a validation error).
    /// The VMs' owners are told; the Operator starting the run confirms
    /// ([`migrate_with`](Self::migrate_with)).
    pub async fn set_power_off(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        power_off: bool,
    ) -> Result<MigrationGroup, ButlerError> {
        self.edit(actor, id, version, |g| {
            g.set_power_off(power_off);
            Ok(())
        })
        .await
    }

    /// Asks for the group's selected VMs that run to move while they run
    /// (`true`: vMotion, live migration, where the platform offers
    /// [`Capability::LiveMigration`]; validation says when it does not),
    /// or cold (`false`).
    ///
    /// [`Capability::LiveMigration`]: crate::backend::Capability::LiveMigration
    pub async fn set_live(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        live: bool,
    ) -> Result<MigrationGroup, ButlerError> {
        self.edit(actor, id, version, |g| {
            g.set_live(live);
            Ok(())
        })
        .await
    }

    /// Swaps source and destination.
    pub async fn switch(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
    ) -> Result<MigrationGroup, ButlerError> {
        self.edit(actor, id, version, |g| {
            g.switch();
            Ok(())
        })
        .await
    }

    async fn check_cluster(&self, cluster: &str) -> Result<(), ButlerError> {
        let clusters = self.backend.list_clusters().await?;
        if clusters.iter().any(|c| c.name == cluster) {
            Ok(())
        } else {
            Err(ButlerError::Refused(Said::new(
                SaidCode::ClusterNotOnPlatform,
                [
                    ("cluster", cluster.to_string()),
                    ("quoted", format!("{cluster:?}")),
                ],
            )))
        }
    }

    /// Sets the source cluster (never equal to the destination).
    pub async fn set_source(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        cluster: &str,
    ) -> Result<MigrationGroup, ButlerError> {
        self.set_cluster(actor, id, version, cluster, MigrationGroup::set_source)
            .await
    }

    /// Sets the destination cluster (never equal to the source).
    pub async fn set_destination(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        cluster: &str,
    ) -> Result<MigrationGroup, ButlerError> {
        self.set_cluster(actor, id, version, cluster, MigrationGroup::set_destination)
            .await
    }

    async fn set_cluster(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        cluster: &str,
        set: fn(&mut MigrationGroup, &str) -> Result<(), super::GroupError>,
    ) -> Result<MigrationGroup, ButlerError> {
        // Authorise before asking the platform anything.
        self.allow(actor, Operation::EditGroups)?;
        self.check_cluster(cluster).await?;
        self.edit(actor, id, version, |g| Ok(set(g, cluster)?))
            .await
    }

    /// Adds any VM of the platform (selected); returns the group's new
    /// version and size (one row written, however large the group: read
    /// the group with [`group`](Self::group) when it is wanted).
    pub async fn add_vm(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        vm: &str,
    ) -> Result<GroupVmsEdited, ButlerError> {
        self.add_vms(actor, id, version, &[vm.to_string()]).await
    }

    /// Adds VMs of the platform (selected), after the others: all of them,
    /// or none when one is refused (not on the platform, already in the
    /// group, named twice, invalid). The store writes the VMs added, not
    /// the group, so this costs the same on a group of ten or a million.
    pub async fn add_vms(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        vms: &[String],
    ) -> Result<GroupVmsEdited, ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        let edit = GroupVmsEdit::Add(vms.to_vec());
        edit.check()?;
        self.check_on_platform(vms).await?;
        self.change_vms(actor, id, version, edit).await
    }

    /// Removes a VM; returns the group's new version and size (one row
    /// written, however large the group: read the group with
    /// [`group`](Self::group) when it is wanted).
    pub async fn remove_vm(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        vm: &str,
    ) -> Result<GroupVmsEdited, ButlerError> {
        self.remove_vms(actor, id, version, &[vm.to_string()]).await
    }

    /// Removes VMs: all of them, or none when one is not in the group.
    pub async fn remove_vms(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        vms: &[String],
    ) -> Result<GroupVmsEdited, ButlerError> {
        self.change_vms(actor, id, version, GroupVmsEdit::Remove(vms.to_vec()))
            .await
    }

    /// Selects or deselects a VM; returns the group's new version and size
    /// (one row written, however large the group).
    pub async fn select(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        vm: &str,
        selected: bool,
    ) -> Result<GroupVmsEdited, ButlerError> {
        self.select_vms(actor, id, version, &[vm.to_string()], selected)
            .await
    }

    /// Selects or deselects VMs: all of them, or none when one is not in
    /// the group.
    pub async fn select_vms(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
        vms: &[String],
        selected: bool,
    ) -> Result<GroupVmsEdited, ButlerError> {
        let edit = GroupVmsEdit::Select {
            vms: vms.to_vec(),
            selected,
        };
        self.change_vms(actor, id, version, edit).await
    }

    /// Saves a group edited by the caller as a whole (name, clusters, VMs,
    /// selection), if `group.version` is still the stored one.
    ///
    /// Checked like the single edits: a valid name, clusters that are on
    /// the platform and differ, valid and unique VM names.
    pub async fn save(
        &self,
        actor: &Actor,
        group: &MigrationGroup,
    ) -> Result<MigrationGroup, ButlerError> {
        // Authorise before asking the platform anything.
        self.allow(actor, Operation::EditGroups)?;
        for c in [&group.source, &group.destination].into_iter().flatten() {
            self.check_cluster(c).await?;
        }
        if group.vms.len() > crate::limits::MAX_GROUP_VMS {
            return Err(super::GroupError::TooManyVms(group.vms.len()).into());
        }
        for v in &group.vms {
            super::check_vm_name(&v.name)?;
        }
        // One pass with a set: groups may hold a million VMs.
        let mut seen = std::collections::HashSet::with_capacity(group.vms.len());
        if let Some(dup) = group.vms.iter().find(|v| !seen.insert(v.name.as_str())) {
            return Err(super::GroupError::DuplicateVm(dup.name.clone()).into());
        }
        let stored = self.store.group_version(group.id).await?;
        if stored != group.version {
            return Err(ButlerError::Conflict(crate::store::StoreError::Conflict {
                what: format!("migration group {}", group.id),
                expected: group.version,
                found: stored,
            }));
        }
        let mut g = MigrationGroup::new(group.id, &group.name, actor.name(), self.clock.now())?;
        if let Some(s) = &group.source {
            g.set_source(s)?;
        }
        if let Some(d) = &group.destination {
            g.set_destination(d)?;
        }
        g.vms = group.vms.clone();
        g.power_off = group.power_off;
        g.version = group.version + 1;
        self.store.update_group(&g, group.version).await?;
        Ok(g)
    }

    /// Deletes a group and its VM list.
    pub async fn delete_group(
        &self,
        actor: &Actor,
        id: GroupId,
        version: u64,
    ) -> Result<(), ButlerError> {
        self.allow(actor, Operation::EditGroups)?;
        self.store.delete_group(id, version).await?;
        self.facts.remove(id);
        self.indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        Ok(())
    }

    // ---- facts ----

    /// Reads the platform (batched) and rebuilds the group's facts. On
    /// failure the last good facts stay and the error is kept with them.
    #[tracing::instrument(name = "refresh", skip(self, actor), fields(group = %id, actor = %actor.name()))]
    pub async fn refresh(
        &self,
        actor: &Actor,
        id: GroupId,
    ) -> Result<Arc<FactsSnapshot>, ButlerError> {
        self.allow(actor, Operation::RefreshFacts)?;
        let group = self.current_group(id).await?;
        let kept = self
            .indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .filter(|x| x.fits(&group))
            .cloned();
        // A new version of a large group is indexed on a blocking thread
        // while the platform is read; a small one at once (no wait that a
        // discrete-event clock could take for idleness).
        const INDEX_APART: usize = 100_000;
        let indexing = match kept {
            Some(index) => Ok(index),
            None if group.vms.len() < INDEX_APART => Ok(Arc::new(GroupIndex::new(&group))),
            None => {
                let g = group.clone();
                Err(tokio::task::spawn_blocking(move || {
                    Arc::new(GroupIndex::new(&g))
                }))
            }
        };
        let inv = self.read_platform(&group).await;
        let index = match indexing {
            Ok(index) => Some(index),
            Err(task) => crate::backend::outside(self.clock.clone(), task).await.ok(),
        };
        match inv {
            Ok((inv, moves)) => {
                if let Some(index) = &index {
                    self.indexes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, index.clone());
                }
                Ok(self.facts.install(&group, index.as_deref(), &inv, moves))
            }
            Err(e) => {
                self.facts.failed(id, self.clock.now(), &e.to_string());
                Err(e.into())
            }
        }
    }

    /// The platform's inventory, and its dry run of `group`'s moves where
    /// it moves VMs one by one (one batched call more).
    async fn read_platform(
        &self,
        group: &MigrationGroup,
    ) -> Result<(Inventory, Option<MoveVerdicts>), crate::backend::BackendError> {
        let inv = Inventory::fetch(self.backend.as_ref(), self.clock.as_ref()).await?;
        let moves = MoveVerdicts::fetch(self.backend.as_ref(), group, &inv).await?;
        Ok((inv, moves))
    }

    /// Refreshes every group from one inventory read (and, where the
    /// platform moves VMs one by one, one dry run per group); on failure
    /// a group keeps its last good facts. Returns how many groups were
    /// refreshed; the first failure is the error, after every group was tried.
    pub async fn refresh_all(&self) -> Result<usize, ButlerError> {
        let groups = self.store.find_groups("").await?;
        let inv = match Inventory::fetch(self.backend.as_ref(), self.clock.as_ref()).await {
            Ok(inv) => inv,
            Err(e) => {
                self.facts.all_failed(self.clock.now(), &e.to_string());
                return Err(e.into());
            }
        };
        let mut first_error = None;
        for g in &groups {
            match MoveVerdicts::fetch(self.backend.as_ref(), g, &inv).await {
                Ok(moves) => {
                    self.facts.install(g, None, &inv, moves);
                }
                Err(e) => {
                    self.facts.failed(g.id, self.clock.now(), &e.to_string());
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(groups.len()),
            Some(e) => Err(e.into()),
        }
    }

    /// The facts held for a group, their age and the last refresh error.
    pub fn facts(&self, actor: &Actor, id: GroupId) -> Result<FactsStatus, ButlerError> {
        self.allow(actor, Operation::ReadGroups)?;
        self.facts.status(id, self.clock.now()).ok_or_else(|| {
            ButlerError::NotFound(format!("facts of migration group {id}: refresh first"))
        })
    }

    /// Refreshes every group every `interval` on the current runtime.
    pub fn start_refresher(self: &Arc<Self>, interval: Duration) -> RefresherHandle {
        let (stop, mut rx) = watch::channel(false);
        let me = self.clone();
        let join = tokio::spawn(async move {
            loop {
                if let Err(e) = me.refresh_all().await {
                    tracing::warn!(
                        error = ?e,
                        "migration facts refresh failed; keeping the last good facts"
                    );
                }
                tokio::select! {
                    _ = rx.changed() => break,
                    _ = me.clock.sleep_idle(interval) => {}
                }
            }
        });
        RefresherHandle { stop, join }
    }

    // ---- validation ----

    fn current_facts(&self, group: &MigrationGroup) -> Result<Arc<FactsSnapshot>, ButlerError> {
        self.facts.current(group).ok_or_else(|| {
            ButlerError::ValidationRequired(format!(
                "no facts for group {:?}: refresh first",
                group.name
            ))
        })
    }

    /// A migration needs a platform that moves protection groups between
    /// sites, or one that moves VMs one by one (and not protection groups).
    fn can_migrate(&self) -> Result<(), ButlerError> {
        use crate::backend::{BackendError, Capability};
        let caps = self.backend.capabilities();
        if caps.has(Capability::VmMigration) && !caps.has(Capability::Migration) {
            return Ok(());
        }
        match [Capability::Protection, Capability::Migration]
            .into_iter()
            .find(|c| !caps.has(*c))
        {
            Some(c) => Err(BackendError::unsupported("migrate", c).into()),
            None => Ok(()),
        }
    }

    /// Validates the group as it stands against its current facts.
    pub async fn validate(
        &self,
        actor: &Actor,
        id: GroupId,
    ) -> Result<(Arc<MigrationGroup>, Arc<FactsSnapshot>, ValidationReport), ButlerError> {
        self.allow(actor, Operation::ValidateGroups)?;
        self.can_migrate()?;
        let group = self.current_group(id).await?;
        let facts = self.current_facts(&group)?;
        let report = validate(&group, &facts, self.clock.now(), None);
        let report = self.issue(&group, &facts, report).await?;
        Ok((group, facts, report))
    }

    /// Validates only the VMs that failed in run `run` (to retry them):
    /// failed, still running at its deadline, or moved with post-move steps
    /// pending. Those the facts show on the destination are not validated
    /// again; they are listed in `already_moved`, and the retry redoes only
    /// their post-move steps (project remap, schedules), which are
    /// idempotent.
    pub async fn validate_failed(
        &self,
        actor: &Actor,
        run: RunId,
    ) -> Result<(Arc<MigrationGroup>, Arc<FactsSnapshot>, ValidationReport), ButlerError> {
        self.allow(actor, Operation::ValidateGroups)?;
        self.can_migrate()?;
        let report = self.store.get_report(run).await?;
        let failed = report.failed_vms();
        if failed.is_empty() {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::RunNoFailed,
                [("run", run.to_string())],
            )));
        }
        let group = self.current_group(report.group).await?;
        let facts = self.current_facts(&group)?;
        let on_destination = |name: &str| {
            let i = facts.names.iter().position(|n| n == name)?;
            let c = facts.vms.get(i)?.cluster;
            facts.clusters.get(usize::from(c)).map(String::as_str)
        };
        let (mut moved, still): (Vec<String>, Vec<String>) = failed
            .into_iter()
            .partition(|vm| on_destination(vm) == Some(report.destination.as_str()));
        moved.sort_unstable();
        let mut v = validate(&group, &facts, self.clock.now(), Some(&still));
        if still.is_empty() {
            // Post-move steps only: nothing to move is no error here.
            let before = v.findings.len();
            v.findings.retain(|f| f.code != FindingCode::NoSelectedVm);
            v.errors -= (before - v.findings.len()) as u32;
        }
        v.already_moved = moved;
        let v = self.issue(&group, &facts, v).await?;
        Ok((group, facts, v))
    }

    // ---- migration ----

    /// Starts migrating the group (or the token's subset) if `token` is a
    /// validation this deployment signed, of the group as it stands, on
    /// facts with the same content as now, with no error. Anything else is
    /// refused and nothing moves. A run that would power VMs off is
    /// refused with [`ButlerError::ConfirmationRequired`]: start it with
    /// [`migrate_with`](Self::migrate_with).
    pub async fn migrate(
        &self,
        actor: &Actor,
        token: &ValidationToken,
    ) -> Result<MigrationHandle, ButlerError> {
        self.migrate_with(actor, token, Confirmations::default())
            .await
    }

    /// [`migrate`](Self::migrate), with what the Operator confirms: when
    /// the group has Butler power its VMs off
    /// ([`MigrationGroup::power_off`]) and some of the VMs to move run,
    /// the run powers each off (its owner told) before its protection
    /// domain migrates and on again once verified on the destination (or
    /// where it is, when its domain did not move), and only if
    /// `confirmed.power_off`; otherwise it is refused with
    /// [`ButlerError::ConfirmationRequired`] naming how many, and nothing
    /// moves. A retry of failed VMs also powers on again those an earlier
    /// run of the group powered off and did not.
    pub async fn migrate_with(
        &self,
        actor: &Actor,
        token: &ValidationToken,
        confirmed: Confirmations,
    ) -> Result<MigrationHandle, ButlerError> {
        self.allow(actor, Operation::Migrate)?;
        self.can_migrate()?;
        token
            .verify(self.token_key().await?)
            .map_err(|e| ButlerError::ValidationRequired(e.to_string()))?;
        let group = self.current_group(token.group()).await?;
        if token.group_version() != group.version {
            return Err(ButlerError::ValidationRequired(format!(
                "group {:?} changed since it was validated (version {} → {}); validate again",
                group.name,
                token.group_version(),
                group.version
            )));
        }
        let facts = self.current_facts(&group)?;
        if facts.content_hash() != *token.facts_hash() {
            return Err(ButlerError::ValidationRequired(
                "the platform's facts changed since the validation; validate again".into(),
            ));
        }
        if token.errors() > 0 {
            return Err(ButlerError::ValidationRequired(format!(
                "the validation found {} error(s)",
                token.errors()
            )));
        }
        let (Some(source), Some(destination)) = (group.source.clone(), group.destination.clone())
        else {
            return Err(ButlerError::ValidationRequired(
                "the group needs a source and a destination".into(),
            ));
        };
        // One unit per protection group: one migrate call moves all its VMs;
        // a retry's VMs on the destination already get their post-move steps.
        let mut units = plan(&group, &facts, token.only());
        units.extend(plan_after_move(&group, &facts, token.after_move()));
        let total = units.iter().map(|u| u.vms.len()).sum();
        let power_cycle = self.power_cycle(&group, &facts, &units, token).await?;
        let running = power_cycle.len();
        if running > 0 && !confirmed.power_off {
            return Err(ButlerError::ConfirmationRequired(format!(
                "group {:?} has Butler power its VMs off: the run powers off {running} VM(s) that may run (their owners are told) and on again at {destination:?}; confirm the power-off to start it",
                group.name
            )));
        }
        let run = self.store.next_run_id().await?;
        let started = self.clock.now();
        let mut report = MigrationReport {
            id: run,
            group: group.id,
            group_name: group.name.clone(),
            source: source.clone(),
            destination: destination.clone(),
            started_by: actor.name().to_string(),
            started,
            ended: None,
            cancelled: false,
            interrupted: false,
            planned: units.iter().flat_map(|u| u.vms.iter().cloned()).collect(),
            power_cycle: power_cycle.iter().cloned().collect(),
            vms: Vec::new(),
        };
        self.store.save_report(&report).await?;
        let (events, first) = broadcast::channel(4096);
        let template = first.resubscribe();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let cancel_tx = Arc::new(cancel_tx);
        let runner = Arc::new(Runner {
            id: run,
            backend: self.backend.clone(),
            clock: self.clock.clone(),
            config: self.config.clone(),
            source,
            destination,
            events,
            cancel: cancel_rx.clone(),
            cancel_tx: cancel_tx.clone(),
            total,
            done: AtomicUsize::new(0),
            lines: Mutex::new(Vec::new()),
            store: self.store.clone(),
            unsaved: Mutex::new(Vec::new()),
            power_cycle: power_cycle.into_iter().collect(),
            power_notes: Mutex::new(std::collections::HashMap::new()),
            started_by: actor.name().to_string(),
            notices: self.notices.clone(),
            vm_moves: facts.vm_moves,
            live: facts.live_moves && group.live,
        });
        let deadline = crate::backend::after(started, self.config.deadline);
        let store = self.store.clone();
        let clock = self.clock.clone();
        let join = tokio::spawn(async move {
            let lines = runner.run(units, deadline).await;
            report.vms = lines;
            report.ended = Some(clock.now());
            report.cancelled = *cancel_rx.borrow();
            if let Err(e) = store.save_report(&report).await {
                tracing::error!(run = %report.id, error = ?e, "could not store the migration report");
            }
            // The inventory follows the VMs Butler moved (a reconcile
            // would otherwise flag them as moved outside Butler).
            if let Err(e) =
                crate::inventory::record_migration(store.as_ref(), &report, clock.now()).await
            {
                tracing::error!(run = %report.id, error = ?e, "could not move the inventory records of the migrated VMs");
            }
            report
        });
        Ok(MigrationHandle {
            run,
            template,
            first: Mutex::new(Some(EventStream::from_receiver(first))),
            cancel: cancel_tx,
            join,
        })
    }

    /// The VMs a run of `units` powers off and on again: when the group
    /// asks for it, those to move that the facts show running; and, for a
    /// retry, those an earlier run of the group powered off and did not
    /// finish (it may have stopped before powering them on).
    async fn power_cycle(
        &self,
        group: &MigrationGroup,
        facts: &FactsSnapshot,
        units: &[super::plan::Unit],
        token: &ValidationToken,
    ) -> Result<std::collections::BTreeSet<String>, ButlerError> {
        let mut cycle = std::collections::BTreeSet::new();
        let to_move: std::collections::HashSet<&str> = units
            .iter()
            .filter(|u| !u.after_move)
            .flat_map(|u| u.vms.iter().map(String::as_str))
            .collect();
        // A live run moves running VMs as they are.
        let live = group.live && facts.live_moves;
        if group.power_off && !live && !to_move.is_empty() {
            for (vm, f) in group.vms.iter().zip(&facts.vms) {
                if f.powered_on && to_move.contains(vm.name.as_str()) {
                    cycle.insert(vm.name.clone());
                }
            }
        }
        if token.only().is_some() || !token.after_move().is_empty() {
            let planned: std::collections::HashSet<&str> = units
                .iter()
                .flat_map(|u| u.vms.iter().map(String::as_str))
                .collect();
            for earlier in self.store.list_reports(group.id).await? {
                let migrated: std::collections::HashSet<&str> = earlier
                    .vms
                    .iter()
                    .filter(|l| l.outcome == VmOutcome::Migrated)
                    .map(|l| l.vm.as_str())
                    .collect();
                cycle.extend(
                    earlier
                        .power_cycle
                        .iter()
                        .filter(|v| planned.contains(v.as_str()) && !migrated.contains(v.as_str()))
                        .cloned(),
                );
            }
        }
        Ok(cycle)
    }

    /// Asks run `run` to stop, wherever it runs: the process running it
    /// (this one or another sharing the store) reads the request before it
    /// starts each protection group, starts nothing new, and reports what
    /// it did not move as skipped. Needs the right to migrate; a run that has ended is
    /// refused.
    pub async fn cancel(&self, actor: &Actor, run: RunId) -> Result<(), ButlerError> {
        self.allow(actor, Operation::Migrate)?;
        let report = self.store.get_report(run).await?;
        if report.ended.is_some() {
            return Err(ButlerError::Refused(Said::new(
                SaidCode::RunEnded,
                [("run", run.to_string())],
            )));
        }
        self.store.request_cancel(run).await?;
        tracing::info!(run = %run, actor = %actor.name(), "migration cancel requested");
        Ok(())
    }

    /// Closes the reports of runs that a crash (or a stopped process) left
    /// unfinished: each says `interrupted`, ends now, and holds every VM line
    /// that was saved as it happened. Every planned VM without a line is
    /// then looked up on the platform (one batched read): on the
    /// destination it is [`PostMovePending`](VmOutcome::PostMovePending)
    /// (whether its project remap and schedules were done is unknown),
    /// anywhere else `Failed` as interrupted, so a
    /// [`validate_failed`](Self::validate_failed) of the run moves exactly
    /// the VMs that did not move and finishes the others. If the platform cannot be read,
    /// the report is closed with the lines it has (logged). Call it when
    /// this process starts and no other process is migrating with the same
    /// store.
    pub async fn recover_interrupted(
        &self,
        actor: &Actor,
    ) -> Result<Vec<MigrationReport>, ButlerError> {
        self.allow(actor, Operation::Migrate)?;
        let now = self.clock.now();
        let mut closed = Vec::new();
        let unfinished = self.store.unfinished_reports().await?;
        let unaccounted = unfinished.iter().any(|r| {
            let have: std::collections::HashSet<&str> =
                r.vms.iter().map(|l| l.vm.as_str()).collect();
            r.planned.iter().any(|v| !have.contains(v.as_str()))
        });
        let where_now: Option<std::collections::HashMap<Arc<str>, Arc<str>>> = if unaccounted {
            match Inventory::fetch(self.backend.as_ref(), self.clock.as_ref()).await {
                Ok(inv) => Some(inv.vms.into_iter().map(|v| (v.name, v.cluster)).collect()),
                Err(e) => {
                    tracing::warn!(error = ?e, "cannot read the platform: interrupted runs are closed with the lines they have");
                    None
                }
            }
        } else {
            None
        };
        for mut r in unfinished {
            r.ended = Some(now);
            r.interrupted = true;
            if let Some(clusters) = &where_now {
                account_for_planned(&mut r, clusters);
            }
            self.store.save_report(&r).await?;
            tracing::warn!(run = %r.id, lines = r.vms.len(), "migration run was interrupted; its report is closed with what is known");
            closed.push(r);
        }
        Ok(closed)
    }

    /// Follows run `run` through the store, whichever instance (this
    /// process, another server, a script) runs it: each
    /// [`RunWatch::next`](super::RunWatch::next) answers the VMs finished since, then the end.
    /// The store is read every `poll` on the service's clock. Refused, like
    /// [`report`](Self::report), to those who may not read migrations, and
    /// for a run that does not exist.
    ///
    /// ```no_run
    /// # async fn f(svc: &butler_core::migration::MigrationService, ops: &butler_core::auth::Actor) -> Result<(), butler_core::ButlerError> {
    /// use butler_core::migration::{RunId, RunProgress};
    /// let mut watch = svc.watch(ops, RunId(7), std::time::Duration::from_secs(2)).await?;
    /// while let Some(p) = watch.next().await? {
    ///     match p {
    ///         RunProgress::Lines { done, planned, .. } => println!("{done}/{planned}"),
    ///         RunProgress::Ended(report) => println!("{report}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(
        &self,
        actor: &Actor,
        run: RunId,
        poll: Duration,
    ) -> Result<super::RunWatch, ButlerError> {
        self.allow(actor, Operation::ReadGroups)?;
        // A run that does not exist is refused now, not at the first poll.
        self.store.get_report(run).await?;
        Ok(super::RunWatch::new(
            self.store.clone(),
            self.clock.clone(),
            run,
            poll,
        ))
    }

    /// A stored report.
    pub async fn report(&self, actor: &Actor, run: RunId) -> Result<MigrationReport, ButlerError> {
        self.allow(actor, Operation::ReadGroups)?;
        Ok(self.store.get_report(run).await?)
    }

    /// A group's reports, newest first.
    pub async fn reports(
        &self,
        actor: &Actor,
        group: GroupId,
    ) -> Result<Vec<MigrationReport>, ButlerError> {
        self.allow(actor, Operation::ReadGroups)?;
        Ok(self.store.list_reports(group).await?)
    }
}

/// A running migration.
#[derive(Debug)]
pub struct MigrationHandle {
    run: RunId,
    // A receiver (not a sender), so streams end when the run ends.
    template: broadcast::Receiver<MigrationEvent>,
    first: Mutex<Option<EventStream>>,
    cancel: Arc<watch::Sender<bool>>,
    join: tokio::task::JoinHandle<MigrationReport>,
}

impl MigrationHandle {
    /// The run's id (its report's id).
    pub fn run(&self) -> RunId {
        self.run
    }

    /// A progress stream. The first call gets every event from the start;
    /// later calls see events from then on.
    pub fn events(&self) -> EventStream {
        if let Some(first) = self.first.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return first;
        }
        EventStream::from_receiver(self.template.resubscribe())
    }

    /// Stops starting new work; VMs not yet moved are reported skipped.
    pub fn cancel(&self) {
        let _ = self.cancel.send(true);
    }

    /// Waits for the end and returns the (stored) report.
    pub async fn wait(self) -> Result<MigrationReport, ButlerError> {
        self.join
            .await
            .map_err(|e| ButlerError::Invalid(format!("the migration task failed: {e}")))
    }
}

/// A running refresher.
#[derive(Debug)]
pub struct RefresherHandle {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl RefresherHandle {
    /// Stops it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

/// Adds a line for every planned VM of an interrupted run that has none,
/// from where the platform has it now.
fn account_for_planned(
    r: &mut MigrationReport,
    clusters: &std::collections::HashMap<Arc<str>, Arc<str>>,
) {
    let have: std::collections::HashSet<String> = r.vms.iter().map(|l| l.vm.clone()).collect();
    let missing: Vec<String> = r
        .planned
        .iter()
        .filter(|v| !have.contains(*v))
        .cloned()
        .collect();
    for vm in missing {
        let on = clusters.get(vm.as_str()).map(|c| &**c);
        let (outcome, note) = if on == Some(r.destination.as_str()) {
            (
                VmOutcome::PostMovePending {
                    reason: "the run was interrupted before its project and schedules were checked"
                        .into(),
                },
                Said::just(SaidCode::FoundWhenClosed),
            )
        } else {
            (
                VmOutcome::Failed {
                    reason: format!(
                        "the run was interrupted before this VM moved (now on {})",
                        on.unwrap_or("no cluster")
                    ),
                },
                Said::just(SaidCode::AccountedWhenClosed),
            )
        };
        r.vms.push(VmReport {
            vm,
            protection_group: None,
            outcome,
            attempts: Vec::new(),
            notes: vec![note.to_string()],
            said: vec![note],
        });
    }
}
