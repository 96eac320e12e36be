//! For tests against VMware's vCenter simulator (feature `testing`).

use crate::VsphereConfig;

/// One test at a time makes VMs on the simulator: vcsim 0.24's
/// `Rename_Task` panics (the connection is cut) while another VM is being
/// made in the same folder, its `FindByName` meeting a VM without a name
/// yet. A real vCenter has no such race; the tests of one binary take this
/// lock for as long as they make VMs.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static MAKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    MAKING.lock().await
}

/// A running vcsim, as `scripts/services/vcsim.sh` describes it in
/// `BUTLER_TEST_VCSIM_{URL,USER,PASSWORD,CA}`.
#[derive(Clone)]
pub struct LiveVcsim {
    /// `https://127.0.0.1:<port>/sdk`.
    pub url: String,
    /// The user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// The CA that signed vcsim's certificate (PEM file).
    pub ca: String,
}

impl std::fmt::Debug for LiveVcsim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveVcsim")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl LiveVcsim {
    /// The running simulator; `None` (with a loud note on stderr) when
    /// none is configured outside CI. Under `CI=true` a missing simulator
    /// panics: CI must run these tests.
    pub fn from_env() -> Option<LiveVcsim> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (
            var("BUTLER_TEST_VCSIM_URL"),
            var("BUTLER_TEST_VCSIM_USER"),
            var("BUTLER_TEST_VCSIM_PASSWORD"),
            var("BUTLER_TEST_VCSIM_CA"),
        ) {
            (Some(url), Some(user), Some(password), Some(ca)) => Some(LiveVcsim {
                url,
                user,
                password,
                ca,
            }),
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true but no vcsim is running: BUTLER_TEST_VCSIM_* unset (scripts/test.sh starts it)")
            }
            _ => {
                eprintln!("\n*** SKIPPED: no vcsim (BUTLER_TEST_VCSIM_* unset); run scripts/test.sh ***\n");
                None
            }
        }
    }

    /// The configuration file text for this simulator, `tables` (TOML
    /// tables: a deployment's other sections) after its own (the password
    /// comes from [`LiveVcsim::env`]). Its project `prod-project` may use
    /// both of vcsim's clusters and its two port groups.
    pub fn toml(&self, tables: &str) -> String {
        format!(
            "ca_bundle = \"{}\"\n\n[vcenter]\nurl = \"{}\"\nusername = \"{}\"\n\n\
             [projects.prod-project]\nclusters = [\"DC0_C0\", \"DC0_C1\"]\nport_groups = [\"DC0_DVPG0\", \"VM Network\"]\n\n{tables}",
            self.ca, self.url, self.user
        )
    }

    /// The environment the configuration reads its password from.
    pub fn env(&self) -> impl Fn(&str) -> Option<String> + Copy + '_ {
        move |k| (k == crate::config::PASSWORD_VAR).then(|| self.password.clone())
    }

    /// The configuration for this simulator.
    pub fn config(&self) -> VsphereConfig {
        VsphereConfig::from_toml(&self.toml(""), self.env())
            .unwrap_or_else(|e| panic!("the vcsim configuration: {e}"))
    }
}
