//! Building a simulated platform: clusters, subnets, projects, images, remote sites, seed, clock, timings.

use super::*;

/// Builds a [`SimPlatform`].
#[derive(Debug)]
pub struct SimBuilder {
    seed: u64,
    clock: Option<Arc<SimClock>>,
    timings: Timings,
    clusters: Vec<String>,
    projects: Vec<(String, Vec<String>, Vec<String>)>,
    subnets: Vec<(String, u32, Option<String>)>,
    images: Vec<(String, u32)>,
    remote_pairs: Vec<(String, String)>,
    containers: Vec<(String, String)>,
    categories: Vec<(String, String)>,
}

impl SimBuilder {
    /// Seeds every random choice (ids, faults, task outcomes).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Uses `clock` (default: a virtual clock).
    pub fn clock(mut self, clock: Arc<SimClock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Operation durations.
    pub fn timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }
    /// Adds a cluster.
    pub fn cluster(mut self, name: &str) -> Self {
        self.clusters.push(name.to_string());
        self
    }
    /// Adds a subnet with its VLAN id.
    pub fn subnet(mut self, name: &str, vlan_id: u32) -> Self {
        self.subnets.push((name.to_string(), vlan_id, None));
        self
    }
    /// Adds a subnet that exists on `cluster` only (a VLAN subnet of real
    /// Prism Central belongs to one cluster).
    pub fn subnet_on(mut self, cluster: &str, name: &str, vlan_id: u32) -> Self {
        self.subnets
            .push((name.to_string(), vlan_id, Some(cluster.to_string())));
        self
    }
    /// Adds a project allowed on `clusters` with `subnets`.
    pub fn project(mut self, name: &str, clusters: &[&str], subnets: &[&str]) -> Self {
        self.projects.push((
            name.to_string(),
            clusters.iter().map(|s| s.to_string()).collect(),
            subnets.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }
    /// Adds an image of `size_gib`.
    pub fn image(mut self, name: &str, size_gib: u32) -> Self {
        self.images.push((name.to_string(), size_gib));
        self
    }
    /// Makes `a` and `b` remote sites of each other (named like the clusters).
    pub fn remote_sites(mut self, a: &str, b: &str) -> Self {
        self.remote_pairs.push((a.to_string(), b.to_string()));
        self
    }
    /// Adds a storage container `name` on `cluster`.
    pub fn storage_container(mut self, cluster: &str, name: &str) -> Self {
        self.containers
            .push((cluster.to_string(), name.to_string()));
        self
    }
    /// Adds the category `key` with `value`.
    pub fn category(mut self, key: &str, value: &str) -> Self {
        self.categories.push((key.to_string(), value.to_string()));
        self
    }
    /// Builds the platform.
    pub fn build(self) -> SimPlatform {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let fault_rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_fa17);
        use rand::Rng;
        let world_seed: u64 = rng.gen();
        let mut w = World::new(ChaCha8Rng::seed_from_u64(world_seed), self.timings);
        for c in &self.clusters {
            let uuid = w.uuid();
            w.clusters.insert(
                c.clone(),
                ClusterInfo {
                    name: c.clone(),
                    uuid,
                },
            );
        }
        for (s, vlan, cluster) in &self.subnets {
            let uuid = w.uuid();
            w.subnets.insert(
                s.clone(),
                SubnetInfo {
                    name: s.clone(),
                    uuid,
                    vlan_id: *vlan,
                    cluster: cluster.clone(),
                },
            );
        }
        for (p, clusters, subnets) in &self.projects {
            let uuid = w.uuid();
            w.projects.insert(
                p.clone(),
                ProjectInfo {
                    name: p.clone(),
                    uuid,
                    clusters: clusters.clone(),
                    subnets: subnets.clone(),
                },
            );
        }
        for (i, size) in &self.images {
            let uuid = w.uuid();
            w.images.insert(
                i.clone(),
                ImageInfo {
                    name: i.clone(),
                    uuid,
                    size_gib: *size,
                },
            );
        }
        for (cluster, name) in &self.containers {
            let uuid = w.uuid();
            w.containers.push(StorageContainerInfo {
                name: name.clone(),
                uuid,
                cluster: cluster.clone(),
            });
        }
        for (key, value) in &self.categories {
            w.categories
                .entry(key.clone())
                .or_default()
                .insert(value.clone());
        }
        let mut remote: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (a, b) in &self.remote_pairs {
            remote.entry(a.clone()).or_default().push(b.clone());
            remote.entry(b.clone()).or_default().push(a.clone());
        }
        SimPlatform {
            inner: Arc::new(Inner {
                clock: self
                    .clock
                    .unwrap_or_else(|| Arc::new(SimClock::virtual_default())),
                capabilities: Mutex::new(Capabilities::all()),
                world: Mutex::new(w),
                faults: Mutex::new((FaultPlan::default(), fault_rng)),
                calls: Mutex::new(BTreeMap::new()),
            }),
        }
        .with_remote_sites(remote)
    }
}

impl SimPlatform {
    /// A builder with seed 0 and a virtual clock.
    pub fn builder() -> SimBuilder {
        SimBuilder {
            seed: 0,
            clock: None,
            timings: Timings::default(),
            clusters: Vec::new(),
            projects: Vec::new(),
            subnets: Vec::new(),
            images: Vec::new(),
            remote_pairs: Vec::new(),
            containers: Vec::new(),
            categories: Vec::new(),
        }
    }

    /// The platform matching `butler_core::demo::catalog()`: clusters
    /// `c1-madrid` and `c2-santiago` (remote sites of each other), projects
    /// `prod-project` (`vlan-10`, `vlan-11`) and `dev-project` (`vlan-30`) on
    /// both, images `rhel9` (40 GiB) and `win2022` (64 GiB), storage
    /// containers `ctr-ssd` and `ctr-hdd` on both, and the categories
    /// `Environment:Production` and `Environment:Development`.
    pub fn demo(seed: u64) -> SimPlatform {
        Self::demo_builder(seed).build()
    }

    /// The demo platform for use behind real I/O (the fake Prism, a real
    /// store, engines on the system clock): its virtual clock starts at the
    /// wall-clock now and its tasks take no time, so nothing waits on
    /// virtual time that nobody advances.
    pub fn realtime_demo_builder(seed: u64) -> SimBuilder {
        Self::demo_builder(seed)
            .clock(std::sync::Arc::new(crate::SimClock::virtual_at(
                chrono::Utc::now(),
            )))
            .timings(crate::Timings {
                queue: std::time::Duration::ZERO,
                create_vm: std::time::Duration::ZERO,
                migrate_base: std::time::Duration::ZERO,
                migrate_per_gib: std::time::Duration::ZERO,
                ..crate::Timings::default()
            })
    }

    /// The builder behind [`SimPlatform::demo`], to change timings or the clock.
    pub fn demo_builder(seed: u64) -> SimBuilder {
        Self::builder()
            .seed(seed)
            .cluster("c1-madrid")
            .cluster("c2-santiago")
            .remote_sites("c1-madrid", "c2-santiago")
            .subnet("vlan-10", 10)
            .subnet("vlan-11", 11)
            .subnet("vlan-30", 30)
            .project(
                "prod-project",
                &["c1-madrid", "c2-santiago"],
                &["vlan-10", "vlan-11"],
            )
            .project("dev-project", &["c1-madrid", "c2-santiago"], &["vlan-30"])
            .image("rhel9", 40)
            .image("win2022", 64)
            .storage_container("c1-madrid", "ctr-ssd")
            .storage_container("c1-madrid", "ctr-hdd")
            .storage_container("c2-santiago", "ctr-ssd")
            .storage_container("c2-santiago", "ctr-hdd")
            .category("Environment", "Production")
            .category("Environment", "Development")
    }
}
