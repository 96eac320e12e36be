//! The [`ClusterBackend`] conformance suite. Any backend — the simulator,
//! the Nutanix adapter over its fake server, a future vSphere adapter —
//! calls [`run_all`] with a [`Fixture`] describing its environment.

use crate::backend::{
    BackendError, Capability, Clock, ClusterBackend, ErrorKind, PowerState, ProtectRequest,
    Schedule, TaskId, TaskState, VmCreate, VmInfo, VmState,
};
use std::sync::Arc;
use std::time::Duration;

/// What the suite needs to know about the backend's environment.
#[derive(Clone)]
pub struct Fixture {
    /// Clock used to wait between polls.
    pub clock: Arc<dyn Clock>,
    /// A cluster to create VMs on.
    pub source: String,
    /// Another cluster, a remote site of `source`.
    pub destination: String,
    /// A project allowed on both clusters.
    pub project: String,
    /// A subnet of that project.
    pub subnet: String,
    /// A category to tag VMs with.
    pub category: String,
    /// An image, if the platform has one.
    pub image: Option<(String, u32)>,
    /// Prefix for the names the suite creates (must be unused).
    pub prefix: String,
    /// How long to wait for a task or a migration.
    pub max_wait: Duration,
    /// Poll interval.
    pub poll: Duration,
}

impl Fixture {
    /// The fixture of a platform shaped like `crate::demo::catalog()`
    /// (clusters `c1-madrid` → `c2-santiago`, `prod-project`, `vlan-10`,
    /// image `rhel9` of 40 GiB), as the simulator's demo platform and the
    /// fake Prism serving it are.
    pub fn demo_platform(clock: Arc<dyn Clock>, prefix: &str) -> Fixture {
        Fixture {
            clock,
            source: "c1-madrid".into(),
            destination: "c2-santiago".into(),
            project: "prod-project".into(),
            subnet: "vlan-10".into(),
            category: "Environment:Production".into(),
            image: Some(("rhel9".into(), 40)),
            prefix: prefix.into(),
            max_wait: Duration::from_secs(3600),
            poll: Duration::from_secs(5),
        }
    }
}

fn ok<T>(r: Result<T, BackendError>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Runs every check below, in order (later checks use earlier ones' VMs),
/// skipping, and saying so, those the platform declares it cannot do; a
/// feature it lacks must answer `Unsupported`, never an empty value.
/// Returns the capabilities whose checks were skipped.
pub async fn run_all(b: &dyn ClusterBackend, fx: &Fixture) -> Vec<Capability> {
    let caps = b.capabilities();
    let mut skipped = Vec::new();
    let mut skip = |c: Capability, what: &str| {
        eprintln!("conformance: SKIPPED {what}: the platform declares no {c}");
        if !skipped.contains(&c) {
            skipped.push(c);
        }
    };
    inventory(b, fx).await;
    let vm = create_and_follow_task(b, fx).await;
    if caps.has(Capability::IdempotentCreate) {
        idempotent_create(b, fx).await;
    } else {
        skip(Capability::IdempotentCreate, "idempotent create");
    }
    if caps.has(Capability::Power) {
        power(b, &vm).await;
    } else {
        skip(Capability::Power, "power");
    }
    if caps.has(Capability::Protection) {
        protect(b, fx, &vm).await;
    } else {
        skip(Capability::Protection, "protect");
    }
    if caps.has(Capability::Protection) && caps.has(Capability::Migration) {
        migrate(b, fx, &vm).await;
    } else {
        skip(Capability::Migration, "migrate");
    }
    if caps.has(Capability::Reconfigure) {
        reconfigure(b, fx).await;
    } else {
        skip(Capability::Reconfigure, "reconfigure");
    }
    if caps.has(Capability::VmMigration) {
        vm_migration(b, fx).await;
    } else {
        skip(Capability::VmMigration, "move a VM");
    }
    // Live moves of whatever the platform moves: VMs, protection groups.
    let live = caps.has(Capability::LiveMigration) && caps.has(Capability::Power);
    let groups = caps.has(Capability::Protection) && caps.has(Capability::Migration);
    if live && caps.has(Capability::VmMigration) {
        live_migration(b, fx).await;
    }
    if live && groups {
        live_group_migration(b, fx).await;
    }
    if !live || !(groups || caps.has(Capability::VmMigration)) {
        skip(Capability::LiveMigration, "move a running VM");
    }
    if caps.has(Capability::Delete) {
        retire(b, fx).await;
    } else {
        skip(Capability::Delete, "retire");
    }
    error_classification(b, fx).await;
    lacking_features_answer_unsupported(b, fx).await;
    skipped
}

/// Every feature the platform declares it lacks answers `Unsupported`
/// (not retryable), never an empty list that reads like "none".
pub async fn lacking_features_answer_unsupported(b: &dyn ClusterBackend, fx: &Fixture) {
    let caps = b.capabilities();
    let unsupported = |r: Result<(), BackendError>, c: Capability| {
        let e = r.err();
        assert!(
            matches!(e, Some(ref e) if e.kind == ErrorKind::Unsupported && !e.is_retryable()),
            "{c} is declared absent, yet: {e:?}"
        );
    };
    for c in Capability::ALL.into_iter().filter(|c| !caps.has(*c)) {
        let answer = match c {
            Capability::Protection => {
                unsupported(b.remote_sites(&fx.source).await.map(drop), c);
                b.list_protection_groups(&fx.source).await.map(drop)
            }
            Capability::Migration => {
                b.migrate_protection_group(&fx.source, "any", &fx.destination)
                    .await
            }
            Capability::ProjectRemap => b.set_vm_project("any", &fx.project).await,
            Capability::StorageContainers => b.list_storage_containers().await.map(drop),
            Capability::Categories => b.category_values("Environment").await.map(drop),
            Capability::Power => {
                b.set_power("any", crate::backend::PowerChange::HardOff)
                    .await
            }
            Capability::Delete => b.delete_vm("any").await.map(drop),
            Capability::VmMigration => {
                let to = crate::backend::VmMove::cold(&fx.destination);
                unsupported(b.check_vm_migration("any", &to).await.map(drop), c);
                let any = ["any".to_string()];
                unsupported(b.check_vm_migrations(&any, &to).await.map(drop), c);
                b.migrate_vm("any", &to).await.map(drop)
            }
            Capability::LiveMigration => {
                let to = crate::backend::VmMove::live(&fx.destination);
                if caps.has(Capability::Migration) {
                    unsupported(
                        b.move_protection_group(&fx.source, "any", &to)
                            .await
                            .map(drop),
                        c,
                    );
                }
                b.migrate_vm("any", &to).await.map(drop)
            }
            Capability::Reconfigure => {
                let to = crate::backend::VmReconfig {
                    cores_per_socket: 1,
                    sockets: 1,
                    ram_gib: 1,
                    disks_gib: vec![1],
                    nics: vec![],
                };
                b.reconfigure_vm("any", &to).await
            }
            // Without long-polling, `wait_task` still answers (it asks once).
            _ => continue,
        };
        unsupported(answer, c);
    }
}

/// Lists hold the fixture's clusters, project, subnet and image; cluster
/// names are unique.
pub async fn inventory(b: &dyn ClusterBackend, fx: &Fixture) {
    let clusters = ok(b.list_clusters().await, "list_clusters");
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    assert!(
        names.contains(&fx.source.as_str()) && names.contains(&fx.destination.as_str()),
        "clusters: {names:?}"
    );
    let mut dedup = names.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "cluster names repeat: {names:?}");
    let projects = ok(b.list_projects().await, "list_projects");
    let p = projects
        .iter()
        .find(|p| p.name == fx.project)
        .unwrap_or_else(|| panic!("no project {}", fx.project));
    assert!(
        p.subnets.contains(&fx.subnet),
        "project {} lacks subnet {}",
        fx.project,
        fx.subnet
    );
    assert!(
        p.clusters.contains(&fx.source),
        "project {} lacks cluster {}",
        fx.project,
        fx.source
    );
    let subnets = ok(b.list_subnets().await, "list_subnets");
    assert!(subnets.iter().any(|s| s.name == fx.subnet));
    if let Some((image, size)) = &fx.image {
        let images = ok(b.list_images().await, "list_images");
        let i = images
            .iter()
            .find(|i| &i.name == image)
            .unwrap_or_else(|| panic!("no image {image}"));
        assert_eq!(i.size_gib, *size);
    }
}

async fn wait_task(b: &dyn ClusterBackend, fx: &Fixture, task: &TaskId) -> TaskState {
    let mut waited = Duration::ZERO;
    let mut last_percent = 0;
    loop {
        let st = ok(b.task(task).await, "task");
        assert!(
            st.percent >= last_percent,
            "task progress went back: {} < {last_percent}",
            st.percent
        );
        last_percent = st.percent;
        if st.state.is_terminal() {
            return st.state;
        }
        assert!(
            waited < fx.max_wait,
            "task {task:?} not done after {waited:?}"
        );
        fx.clock.sleep(fx.poll).await;
        waited += fx.poll;
    }
}

/// Creates a powered-off VM, follows its task to success, and finds it by
/// name and in its cluster's list with the requested shape.
pub async fn create_and_follow_task(b: &dyn ClusterBackend, fx: &Fixture) -> VmInfo {
    create_named(b, fx, &format!("{}-conf-1", fx.prefix)).await
}

/// A create sent twice with one request id (a retry after a lost reply)
/// answers the same task and makes one VM; another id makes another.
pub async fn idempotent_create(b: &dyn ClusterBackend, fx: &Fixture) {
    let name = format!("{}-conf-key", fx.prefix);
    let mut req = VmCreate::new(&name, &fx.source)
        .project(&fx.project)
        .category(&fx.category)
        .cpu(1, 1)
        .ram_gib(1)
        .disks_gib(vec![10])
        .nics(vec![fx.subnet.clone()])
        .request_id("5f0c2a8e-7d41-4b6a-9e3f-2c8d1a7b6e40");
    let first = ok(b.create_vm(&req).await, "create_vm");
    let again = ok(b.create_vm(&req).await, "create_vm again");
    assert_eq!(first, again, "a repeated request id answers the first task");
    assert_eq!(wait_task(b, fx, &first).await, TaskState::Succeeded);
    let named = |vms: &[VmInfo]| vms.iter().filter(|v| v.name == name).count();
    let listed = ok(b.list_vms(&fx.source).await, "list_vms");
    assert_eq!(named(&listed), 1, "one VM for one request id");
    req.request_id = Some("9a1b3c5d-2e4f-4a6b-8c7d-0e1f2a3b4c5d".into());
    let other = ok(b.create_vm(&req).await, "create_vm with another id");
    assert_ne!(other, first);
    assert_eq!(wait_task(b, fx, &other).await, TaskState::Succeeded);
    let listed = ok(b.list_vms(&fx.source).await, "list_vms");
    assert_eq!(named(&listed), 2, "another request id is another create");
}

async fn create_named(b: &dyn ClusterBackend, fx: &Fixture, name: &str) -> VmInfo {
    let name = name.to_string();
    assert_eq!(
        ok(b.find_vm(&name).await, "find_vm"),
        None,
        "{name} exists before the suite"
    );
    let disk0 = fx.image.as_ref().map_or(20, |(_, s)| *s + 1);
    let req = VmCreate {
        name: name.clone(),
        cluster: fx.source.clone(),
        project: fx.project.clone(),
        category: fx.category.clone(),
        cores_per_socket: 2,
        sockets: 1,
        ram_gib: 2,
        disks_gib: vec![disk0, 10],
        image: fx.image.as_ref().map(|(i, _)| i.clone()),
        nics: vec![fx.subnet.clone()],
        storage_container: None,
        cdrom: true,
        uefi: true,
        power_on: false,
        request_id: None,
    };
    let task = ok(b.create_vm(&req).await, "create_vm");
    assert_eq!(wait_task(b, fx, &task).await, TaskState::Succeeded);
    let vm = ok(b.find_vm(&name).await, "find_vm")
        .unwrap_or_else(|| panic!("{name} not found after its task"));
    assert_eq!(vm.state, VmState::Ready);
    assert_eq!(
        (vm.cluster.as_str(), vm.vcpus, vm.ram_gib),
        (fx.source.as_str(), 2, 2)
    );
    assert_eq!(vm.disks_gib, vec![disk0, 10]);
    assert_eq!(vm.project.as_deref(), Some(fx.project.as_str()));
    assert_eq!(vm.power, PowerState::Off);
    let listed = ok(b.list_vms(&fx.source).await, "list_vms");
    assert!(listed.iter().any(|v| v.uuid == vm.uuid));
    vm
}

fn schedules(fx: &Fixture) -> Vec<Schedule> {
    vec![
        Schedule::local(60, 24),
        Schedule::remote(fx.destination.clone(), 60, 24),
    ]
}

fn group_name(fx: &Fixture) -> String {
    format!("PD-{}-conf-1", fx.prefix)
}

/// Power: off hard, on, off by the guest, on again, a guest restart, off;
/// each change shows in the VM's power state as the platform reports it.
pub async fn power(b: &dyn ClusterBackend, vm: &VmInfo) {
    use crate::backend::{PowerChange, PowerState};
    let state = |what: &'static str| async move {
        ok(b.find_vm(&vm.name).await, what)
            .unwrap_or_else(|| panic!("{} vanished", vm.name))
            .power
    };
    for (change, then) in [
        (PowerChange::HardOff, PowerState::Off),
        (PowerChange::On, PowerState::On),
        (PowerChange::GuestShutdown, PowerState::Off),
        (PowerChange::On, PowerState::On),
        (PowerChange::GuestRestart, PowerState::On),
        // Left off, as it was made.
        (PowerChange::HardOff, PowerState::Off),
    ] {
        ok(b.set_power(&vm.uuid, change).await, "set_power");
        assert_eq!(state("find_vm").await, then, "after {change}");
    }
}

/// Protects the VM with local and remote schedules, twice: the second call
/// changes nothing and answers the same group, which lists the VM (with
/// the request's schedules and remote site, unless the platform protects
/// by policy and answers the policy's group).
pub async fn protect(b: &dyn ClusterBackend, fx: &Fixture, vm: &VmInfo) {
    let sites = ok(b.remote_sites(&fx.source).await, "remote_sites");
    assert!(
        sites
            .iter()
            .any(|s| s.cluster.as_deref() == Some(fx.destination.as_str())),
        "{} lists no remote site pointing at {}: {sites:?}",
        fx.source,
        fx.destination
    );
    let req = ProtectRequest {
        group: group_name(fx),
        vm_name: vm.name.clone(),
        schedules: schedules(fx),
    };
    let group = ok(b.protect_vm(&fx.source, &req).await, "protect_vm");
    let again = ok(b.protect_vm(&fx.source, &req).await, "protect_vm again");
    assert_eq!(again, group, "the same group both times");
    let groups = ok(
        b.list_protection_groups(&fx.source).await,
        "list_protection_groups",
    );
    let g = groups
        .iter()
        .find(|g| g.name == group)
        .unwrap_or_else(|| panic!("no group {group}"));
    assert!(g.active);
    assert!(
        g.vms.contains(&Arc::<str>::from(vm.name.as_str())),
        "{:?}",
        g.vms
    );
    // In the request's group, with its schedules; a platform that
    // protects by policy answers the policy's group, whose schedules and
    // replication are the policy's.
    if group == req.group {
        assert_eq!(g.vms, vec![Arc::<str>::from(vm.name.as_str())]);
        assert_eq!(g.schedules.len(), 2, "{:?}", g.schedules);
        assert!(g.remote_sites.contains(&fx.destination));
    }
}

/// Changes a third VM while it is off: more CPU and RAM, disk 0 grown, a
/// disk and a NIC added; the platform then reports exactly that. Running
/// (where the platform powers VMs), taking RAM away is refused and
/// changes nothing; adding more is done hot.
pub async fn reconfigure(b: &dyn ClusterBackend, fx: &Fixture) {
    use crate::backend::{PowerChange, VmReconfig};
    let vm = create_named(b, fx, &format!("{}-conf-3", fx.prefix)).await;
    let mut disks = vm.disks_gib.clone();
    disks[0] += 10;
    disks.push(30);
    let to = VmReconfig {
        cores_per_socket: 2,
        sockets: 2,
        ram_gib: 8,
        disks_gib: disks,
        nics: vec![fx.subnet.clone(), fx.subnet.clone()],
    };
    ok(b.reconfigure_vm(&vm.uuid, &to).await, "reconfigure_vm");
    let now =
        ok(b.find_vm(&vm.name).await, "find_vm").unwrap_or_else(|| panic!("{} vanished", vm.name));
    assert!(
        to.is_done_on(&now),
        "asked {to:?}, the platform shows {now:?}"
    );
    if b.capabilities().has(Capability::Power) {
        ok(b.set_power(&vm.uuid, PowerChange::On).await, "set_power");
        let less = VmReconfig {
            ram_gib: 4,
            ..to.clone()
        };
        let refused = b.reconfigure_vm(&vm.uuid, &less).await;
        assert!(
            matches!(&refused, Err(e) if !e.is_retryable()),
            "less RAM while running: {refused:?}"
        );
        let more = VmReconfig {
            ram_gib: 12,
            ..to.clone()
        };
        ok(
            b.reconfigure_vm(&vm.uuid, &more).await,
            "hot reconfigure_vm",
        );
        let now = ok(b.find_vm(&vm.name).await, "find_vm")
            .unwrap_or_else(|| panic!("{} vanished", vm.name));
        assert_eq!(now.ram_gib, 12, "more RAM, hot");
        ok(
            b.set_power(&vm.uuid, PowerChange::HardOff).await,
            "set_power",
        );
    }
}

/// Moves a fourth VM to the destination cluster. The platform's dry run
/// first: off, a cold move would go; on, it says why not (where the
/// platform powers VMs) and a cold move is refused, not retryable, and
/// moves nothing. Off, the move's task succeeds and the VM shows on the
/// destination, still off; asked to an unknown cluster, the dry run is an
/// `Invalid` error.
pub async fn vm_migration(b: &dyn ClusterBackend, fx: &Fixture) {
    use crate::backend::{PowerChange, VmMove};
    let vm = create_named(b, fx, &format!("{}-conf-4", fx.prefix)).await;
    let cold = VmMove::cold(&fx.destination);
    let reasons = ok(
        b.check_vm_migration(&vm.uuid, &cold).await,
        "check_vm_migration",
    );
    assert!(reasons.is_empty(), "an off VM moves cold: {reasons:?}");
    if b.capabilities().has(Capability::Power) {
        ok(b.set_power(&vm.uuid, PowerChange::On).await, "set_power");
        let reasons = ok(
            b.check_vm_migration(&vm.uuid, &cold).await,
            "check_vm_migration",
        );
        assert!(!reasons.is_empty(), "a running VM cannot move cold");
        // The batched dry run leaves power to the caller, and names a VM
        // the platform does not know.
        let unknown = format!("{}-no-such-vm", fx.prefix);
        let names = [vm.name.clone(), unknown.clone()];
        let verdicts = ok(
            b.check_vm_migrations(&names, &cold).await,
            "check_vm_migrations",
        );
        assert_eq!(verdicts.len(), 2, "{verdicts:?}");
        assert!(
            verdicts[0].is_empty(),
            "power is the caller's: {verdicts:?}"
        );
        assert!(
            verdicts[1].iter().any(|r| r.contains(&unknown)),
            "an unknown VM is named: {verdicts:?}"
        );
        let refused = b.migrate_vm(&vm.uuid, &cold).await;
        assert!(
            matches!(&refused, Err(e) if !e.is_retryable()),
            "a cold move of a running VM: {refused:?}"
        );
        let here = ok(b.find_vm(&vm.name).await, "find_vm")
            .unwrap_or_else(|| panic!("{} vanished", vm.name));
        assert_eq!(here.cluster, fx.source, "nothing moved");
        ok(
            b.set_power(&vm.uuid, PowerChange::HardOff).await,
            "set_power",
        );
    }
    let task = ok(b.migrate_vm(&vm.uuid, &cold).await, "migrate_vm");
    assert_eq!(wait_task(b, fx, &task).await, TaskState::Succeeded);
    let there =
        ok(b.find_vm(&vm.name).await, "find_vm").unwrap_or_else(|| panic!("{} vanished", vm.name));
    assert_eq!(
        (there.cluster.as_str(), there.power),
        (fx.destination.as_str(), PowerState::Off)
    );
    let nowhere = VmMove::cold(format!("{}-no-such-cluster", fx.prefix));
    let e = b.check_vm_migration(&vm.uuid, &nowhere).await.err();
    assert!(
        matches!(e, Some(ref e) if e.kind == ErrorKind::Invalid),
        "{e:?}"
    );
}

/// Moves a fifth VM while it runs: the dry run of a live move has no
/// objection to its power, the move's task succeeds, and the VM shows on
/// the destination, still running.
pub async fn live_migration(b: &dyn ClusterBackend, fx: &Fixture) {
    use crate::backend::{PowerChange, VmMove};
    let vm = create_named(b, fx, &format!("{}-conf-5", fx.prefix)).await;
    ok(b.set_power(&vm.uuid, PowerChange::On).await, "set_power");
    let live = VmMove::live(&fx.destination);
    let reasons = ok(
        b.check_vm_migration(&vm.uuid, &live).await,
        "check_vm_migration",
    );
    assert!(reasons.is_empty(), "a running VM moves live: {reasons:?}");
    let task = ok(b.migrate_vm(&vm.uuid, &live).await, "migrate_vm");
    assert_eq!(wait_task(b, fx, &task).await, TaskState::Succeeded);
    let there =
        ok(b.find_vm(&vm.name).await, "find_vm").unwrap_or_else(|| panic!("{} vanished", vm.name));
    assert_eq!(
        (there.cluster.as_str(), there.power),
        (fx.destination.as_str(), PowerState::On)
    );
    ok(
        b.set_power(&vm.uuid, PowerChange::HardOff).await,
        "set_power",
    );
}

/// Retires a second VM: out of its protection group (where the platform
/// has them; a second removal answers `NotFound`), then deleted through a
/// task; gone from look-ups and lists, and a second delete answers
/// `NotFound`, never a second deletion.
pub async fn retire(b: &dyn ClusterBackend, fx: &Fixture) {
    let vm = create_named(b, fx, &format!("{}-conf-2", fx.prefix)).await;
    if b.capabilities().has(Capability::Protection) {
        let req = ProtectRequest {
            group: format!("PD-{}", vm.name),
            vm_name: vm.name.clone(),
            schedules: vec![Schedule::local(60, 24)],
        };
        let group = ok(b.protect_vm(&fx.source, &req).await, "protect_vm");
        let holding = ok(
            b.protection_groups_of(&fx.source, &vm.name).await,
            "protection_groups_of",
        );
        assert_eq!(holding, vec![group.clone()]);
        ok(
            b.unprotect_vm(&fx.source, &group, &vm.name).await,
            "unprotect_vm",
        );
        let holding = ok(
            b.protection_groups_of(&fx.source, &vm.name).await,
            "protection_groups_of",
        );
        assert!(holding.is_empty(), "still held by {holding:?}");
        let groups = ok(
            b.list_protection_groups(&fx.source).await,
            "list_protection_groups",
        );
        assert!(
            groups.iter().all(|g| g.vms.iter().all(|v| **v != *vm.name)),
            "{} still protected: {groups:?}",
            vm.name
        );
        let again = b.unprotect_vm(&fx.source, &group, &vm.name).await;
        assert!(
            matches!(&again, Err(e) if e.kind == ErrorKind::NotFound),
            "a second unprotect: {again:?}"
        );
    }
    let task = ok(b.delete_vm(&vm.uuid).await, "delete_vm");
    assert_eq!(wait_task(b, fx, &task).await, TaskState::Succeeded);
    assert_eq!(ok(b.find_vm(&vm.name).await, "find_vm"), None);
    let listed = ok(b.list_vms(&fx.source).await, "list_vms");
    assert!(
        listed.iter().all(|v| v.uuid != vm.uuid),
        "deleted VM listed"
    );
    let again = b.delete_vm(&vm.uuid).await;
    assert!(
        matches!(&again, Err(e) if e.kind == ErrorKind::NotFound),
        "a second delete: {again:?}"
    );
}

/// Moves a sixth VM, protected and running, with its protection group
/// while it runs: the platform's task (where it names one) succeeds, and
/// the VM shows on the destination, still running.
pub async fn live_group_migration(b: &dyn ClusterBackend, fx: &Fixture) {
    use crate::backend::{PowerChange, VmMove};
    let vm = create_named(b, fx, &format!("{}-conf-6", fx.prefix)).await;
    let req = ProtectRequest {
        group: format!("PD-{}", vm.name),
        vm_name: vm.name.clone(),
        schedules: schedules(fx),
    };
    let group = ok(b.protect_vm(&fx.source, &req).await, "protect_vm");
    ok(b.set_power(&vm.uuid, PowerChange::On).await, "set_power");
    let live = VmMove::live(&fx.destination);
    let task = ok(
        b.move_protection_group(&fx.source, &group, &live).await,
        "move_protection_group",
    );
    if let Some(task) = task {
        assert_eq!(wait_task(b, fx, &task).await, TaskState::Succeeded);
    }
    let mut waited = Duration::ZERO;
    loop {
        let there = ok(b.find_vm(&vm.name).await, "find_vm")
            .unwrap_or_else(|| panic!("{} vanished", vm.name));
        if there.cluster == fx.destination {
            assert_eq!(there.power, PowerState::On, "moved live, still running");
            break;
        }
        assert!(
            waited < fx.max_wait,
            "{} not moved after {waited:?}",
            vm.name
        );
        fx.clock.sleep(fx.poll).await;
        waited += fx.poll;
    }
    ok(
        b.set_power(&vm.uuid, PowerChange::HardOff).await,
        "set_power",
    );
}

/// Migrates the VM's group (the request's, or the platform's own where it
/// protects by policy) and waits until it is active on the destination
/// with the VM there, powered off, and inactive on the source; the
/// platform's task for the move, where it names one, succeeds.
pub async fn migrate(b: &dyn ClusterBackend, fx: &Fixture, vm: &VmInfo) {
    let groups = ok(
        b.protection_groups_of(&fx.source, &vm.name).await,
        "protection_groups_of",
    );
    let group = groups.first().cloned().unwrap_or_else(|| group_name(fx));
    let to = crate::backend::VmMove::cold(&fx.destination);
    let task = ok(
        b.move_protection_group(&fx.source, &group, &to).await,
        "move_protection_group",
    );
    if let Some(task) = task {
        assert_eq!(wait_task(b, fx, &task).await, TaskState::Succeeded);
    }
    let mut waited = Duration::ZERO;
    loop {
        let dst = ok(
            b.list_protection_groups(&fx.destination).await,
            "list_protection_groups",
        );
        if dst
            .iter()
            .any(|g| g.name == group && g.active && g.vms.iter().any(|m| **m == *vm.name))
        {
            break;
        }
        assert!(
            waited < fx.max_wait,
            "group {group} not active on {} after {waited:?}",
            fx.destination
        );
        fx.clock.sleep(fx.poll).await;
        waited += fx.poll;
    }
    let moved = ok(b.list_vms(&fx.destination).await, "list_vms");
    let v = moved
        .iter()
        .find(|v| v.uuid == vm.uuid)
        .unwrap_or_else(|| panic!("{} not on {}", vm.name, fx.destination));
    assert_eq!(v.power, PowerState::Off);
    let src = ok(
        b.list_protection_groups(&fx.source).await,
        "list_protection_groups",
    );
    // A group by policy stays where other VMs carry its category: the VM
    // has left it there.
    assert!(
        src.iter()
            .all(|g| g.name != group || !g.active || g.vms.iter().all(|m| **m != *vm.name)),
        "group still active on the source, with the VM"
    );
}

/// Unknown things give typed, non-retryable errors (or `None` for a lookup);
/// an unknown protection group only where the platform migrates them.
pub async fn error_classification(b: &dyn ClusterBackend, fx: &Fixture) {
    assert_eq!(
        ok(
            b.find_vm(&format!("{}-no-such-vm", fx.prefix)).await,
            "find_vm"
        ),
        None
    );
    let e = b
        .task(&TaskId("00000000-0000-0000-0000-000000000000".into()))
        .await
        .err();
    assert!(
        matches!(e, Some(ref e) if e.kind == ErrorKind::NotFound && !e.is_retryable()),
        "{e:?}"
    );
    if b.capabilities().has(Capability::Migration) {
        let e = b
            .migrate_protection_group(
                &fx.source,
                &format!("{}-no-such-pd", fx.prefix),
                &fx.destination,
            )
            .await
            .err();
        assert!(
            matches!(e, Some(ref e) if e.kind == ErrorKind::NotFound),
            "{e:?}"
        );
    }
    let bad = VmCreate {
        name: format!("{}-conf-bad", fx.prefix),
        cluster: format!("{}-no-such-cluster", fx.prefix),
        project: fx.project.clone(),
        category: fx.category.clone(),
        cores_per_socket: 1,
        sockets: 1,
        ram_gib: 1,
        disks_gib: vec![10],
        image: None,
        nics: vec![fx.subnet.clone()],
        storage_container: None,
        cdrom: false,
        uefi: true,
        power_on: false,
        request_id: None,
    };
    let e = b.create_vm(&bad).await.err();
    assert!(matches!(e, Some(ref e) if !e.is_retryable()), "{e:?}");
}
