//! A real deployment from one TOML file: the platform (Nutanix, or VMware
//! vSphere with feature `vsphere`), monitoring and billing, each in its own
//! section (feature `nutanix`).
//!
//! ```toml
//! [prism_central]                  # and [clusters.<name>]: see butler_nutanix::config
//! url = "https://pc.example.com:9440"
//! username = "butler"              # password: BUTLER_NUTANIX_PC_PASSWORD
//!
//! # or, instead of [prism_central], a vCenter (feature `vsphere`):
//! # [vcenter]                      # and [projects.<name>]: see butler_vsphere::config
//! # url = "https://vcenter.example.com/sdk"
//! # username = "butler@vsphere.local"   # password: BUTLER_VSPHERE_PASSWORD
//!
//! [monitoring]
//! enabled = true                   # false: the step is "skipped by configuration"
//! [monitoring.icinga]              # butler_icinga::IcingaConfig
//! url = "https://icinga.example.com:5665"
//! username = "butler"              # password: BUTLER_ICINGA_PASSWORD
//! ca_cert = "/etc/butler/icinga-ca.crt"
//!
//! [billing]
//! enabled = true
//! [billing.nutanix_category]       # the cost center as a category on the VM
//! key = "CostCenter"
//! [billing.webhook]                # butler_webhook::WebhookConfig
//! url = "https://chargeback.example.com/butler"   # secret: BUTLER_BILLING_WEBHOOK_SECRET
//!
//! [[approval.rule]]                # butler_core::rules: checked against the catalog at build
//! name = "small test VMs"
//! when = { environments = ["DEV"], vcpus = { max = 4 } }
//! outcome = "approve"
//!
//! [[approval.quota]]               # butler_core::quota: versioned with the rules
//! unit = "IT"
//! vms = 100
//! ```
//!
//! A step is either done by its adapter or switched off (`enabled = false`,
//! recorded in history as "skipped by configuration"); a deployment with
//! neither (a Nutanix file alone, for migrations) gets no provisioning
//! engine, so provisioning is refused rather than half done. With both
//! billing adapters, both must be active for the step to count as done
//! ([`EveryBilling`]).

use crate::backend::ClusterBackend;
use crate::backend::{Billing, EveryBilling, Monitor};
use crate::builder::ButlerBuilder;
use crate::engine::EngineConfig;
use crate::inventory::InventoryConfig;
use butler_icinga::{IcingaConfig, IcingaMonitor};
use butler_nutanix::{CategoryBilling, NutanixBackend, NutanixConfig};
use butler_webhook::{WebhookBilling, WebhookConfig};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// Why a deployment file was refused: the section and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deployment config [{section}]: {reason}")]
pub struct DeploymentError {
    /// The section, e.g. `monitoring.icinga`.
    pub section: String,
    /// What is wrong.
    pub reason: String,
}

fn err(section: &str, reason: impl ToString) -> DeploymentError {
    DeploymentError {
        section: section.to_string(),
        reason: reason.to_string(),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MonitoringSection {
    enabled: Option<bool>,
    icinga: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BillingSection {
    enabled: Option<bool>,
    nutanix_category: Option<CategorySection>,
    webhook: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategorySection {
    key: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InventorySection {
    reconcile_every_minutes: Option<u64>,
    shutdown_wait_seconds: Option<u64>,
    lease_notice_days: Option<Vec<u32>>,
    retire_at_lease_end: Option<bool>,
    retirement_grace_days: Option<u32>,
}

impl InventorySection {
    /// The inventory settings, each within its bounds.
    fn config(&self) -> Result<InventoryConfig, DeploymentError> {
        let mut c = InventoryConfig::default();
        if let Some(m) = self.reconcile_every_minutes {
            if !(1..=7 * 24 * 60).contains(&m) {
                return Err(err(
                    "inventory.reconcile_every_minutes",
                    "must be 1 to 10080 (a week)",
                ));
            }
            c.reconcile_every = std::time::Duration::from_secs(m * 60);
        }
        if let Some(s) = self.shutdown_wait_seconds {
            if !(10..=3600).contains(&s) {
                return Err(err("inventory.shutdown_wait_seconds", "must be 10 to 3600"));
            }
            c.shutdown_wait = std::time::Duration::from_secs(s);
        }
        if let Some(days) = &self.lease_notice_days {
            c.leases.notice_days = days.clone();
            c.leases
                .check()
                .map_err(|m| err("inventory.lease_notice_days", m))?;
        }
        if let Some(r) = self.retire_at_lease_end {
            c.leases.retire_at_end = r;
        }
        Ok(c)
    }

    /// How long a retired VM is kept powered off before it is deleted, if
    /// the file says.
    fn retirement_grace(&self) -> Result<Option<std::time::Duration>, DeploymentError> {
        match self.retirement_grace_days {
            None => Ok(None),
            Some(d) if d <= 365 => Ok(Some(std::time::Duration::from_secs(u64::from(d) * 86_400))),
            Some(_) => Err(err("inventory.retirement_grace_days", "must be 0 to 365")),
        }
    }
}

#[derive(Deserialize)]
struct Sections {
    #[serde(default)]
    monitoring: MonitoringSection,
    #[serde(default)]
    billing: BillingSection,
    #[serde(default)]
    inventory: InventorySection,
    approval: Option<toml::Value>,
}

/// The parts of a deployment, ready to go into a [`ButlerBuilder`].
pub struct Deployment {
    /// The platform's adapter: Nutanix for a file with `[prism_central]`,
    /// vSphere for one with `[vcenter]`.
    pub platform: Arc<dyn ClusterBackend>,
    /// Monitoring, `None` when switched off or not configured.
    pub monitor: Option<Arc<dyn Monitor>>,
    /// Billing, `None` when switched off or not configured.
    pub billing: Option<Arc<dyn Billing>>,
    /// `[monitoring] enabled` (default true).
    pub monitoring_enabled: bool,
    /// `[billing] enabled` (default true).
    pub billing_enabled: bool,
    /// `[inventory]`: `reconcile_every_minutes` (1 to 10080, default 15),
    /// `shutdown_wait_seconds` (10 to 3600, default 300),
    /// `lease_notice_days` (days before a lease ends at which its owner
    /// hears, each 1 to 365, default `[14, 7, 1]`) and
    /// `retire_at_lease_end` (default false: the owner hears the lease
    /// ended and the VM runs on).
    pub inventory: InventoryConfig,
    /// `[inventory] retirement_grace_days` (0 to 365): how long a retired
    /// VM is kept powered off, restorable, before it is deleted
    /// ([`EngineConfig::retirement_grace`]); unset, the engine settings
    /// given to [`apply`](Self::apply) keep theirs (default 0).
    pub retirement_grace: Option<std::time::Duration>,
    /// `[[approval.rule]]`: the approval rules in force at start
    /// ([`crate::rules`]); `None`: every request needs one approver.
    pub rules: Option<crate::rules::Rules>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("monitoring", &self.monitor.is_some())
            .field("billing", &self.billing.is_some())
            .finish_non_exhaustive()
    }
}

/// The platform's adapter, and the Nutanix one when it is Prism (for the
/// billing that writes Prism categories).
type Platform = (Arc<dyn ClusterBackend>, Option<Arc<NutanixBackend>>);

/// The platform a deployment file names: a vCenter when it has a
/// `[vcenter]` table, else Prism.
fn platform(
    text: &str,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<Platform, DeploymentError> {
    let tables: toml::Table = toml::from_str(text).map_err(|e| err("file", e))?;
    if tables.contains_key("vcenter") {
        if tables.contains_key("prism_central") {
            return Err(err(
                "vcenter",
                "a deployment names one platform: [vcenter] or [prism_central], not both",
            ));
        }
        return vcenter(text, env).map(|p| (p, None));
    }
    let nutanix = NutanixConfig::from_toml(text, env).map_err(|e| err("prism_central", e))?;
    let backend = Arc::new(NutanixBackend::new(&nutanix).map_err(|e| err("prism_central", e))?);
    Ok((backend.clone(), Some(backend)))
}

#[cfg(feature = "vsphere")]
fn vcenter(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ClusterBackend>, DeploymentError> {
    let config =
        butler_vsphere::VsphereConfig::from_toml(text, env).map_err(|e| err("vcenter", e))?;
    Ok(Arc::new(
        butler_vsphere::VsphereBackend::new(&config).map_err(|e| err("vcenter", e))?,
    ))
}

#[cfg(not(feature = "vsphere"))]
fn vcenter(
    _text: &str,
    _env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ClusterBackend>, DeploymentError> {
    Err(err(
        "vcenter",
        "this build has no vSphere adapter (build butler with feature \"vsphere\")",
    ))
}

impl Deployment {
    /// Reads a deployment file; secrets come from the process environment.
    pub fn from_path(path: &Path) -> Result<Deployment, DeploymentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err("file", format!("{}: {e}", path.display())))?;
        Deployment::from_toml(&text, |k| std::env::var(k).ok())
    }

    /// Parses a deployment, secrets from `env`.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String> + Copy,
    ) -> Result<Deployment, DeploymentError> {
        let (platform, nutanix) = platform(text, env)?;
        let sections: Sections =
            toml::from_str(text).map_err(|e| err("monitoring/billing/inventory", e))?;
        let inventory = sections.inventory.config()?;
        let retirement_grace = sections.inventory.retirement_grace()?;
        let rules = match sections.approval {
            None => None,
            Some(v) => Some(
                crate::rules::Rules::deserialize(v).map_err(|e| err("approval", e.message()))?,
            ),
        };

        let monitor: Option<Arc<dyn Monitor>> =
            match (sections.monitoring.enabled, sections.monitoring.icinga) {
                (Some(false), _) => None,
                (_, Some(icinga)) => {
                    let c = IcingaConfig::from_value(icinga, env)
                        .map_err(|e| err("monitoring.icinga", e))?;
                    Some(Arc::new(
                        IcingaMonitor::new(c).map_err(|e| err("monitoring.icinga", e))?,
                    ))
                }
                (_, None) => None,
            };

        let b = sections.billing;
        let billing: Option<Arc<dyn Billing>> = if b.enabled == Some(false) {
            None
        } else {
            let mut systems: Vec<Arc<dyn Billing>> = Vec::new();
            if let Some(c) = b.nutanix_category {
                let Some(nutanix) = nutanix.clone() else {
                    return Err(err(
                        "billing.nutanix_category",
                        "Prism categories need a Nutanix platform ([prism_central]); use [billing.webhook] with a vCenter",
                    ));
                };
                let key = c
                    .key
                    .unwrap_or_else(|| butler_nutanix::billing::DEFAULT_KEY.to_string());
                if key.is_empty() || key.len() > 64 {
                    return Err(err("billing.nutanix_category", "key must be 1 to 64 bytes"));
                }
                systems.push(Arc::new(CategoryBilling::new(nutanix, key)));
            }
            if let Some(w) = b.webhook {
                let c = WebhookConfig::from_value(w, env).map_err(|e| err("billing.webhook", e))?;
                systems.push(Arc::new(
                    WebhookBilling::new(c).map_err(|e| err("billing.webhook", e))?,
                ));
            }
            match systems.len() {
                0 | 1 => systems.pop(),
                _ => Some(Arc::new(EveryBilling::new(systems))),
            }
        };
        Ok(Deployment {
            platform,
            monitor,
            billing,
            monitoring_enabled: sections.monitoring.enabled != Some(false),
            billing_enabled: b.enabled != Some(false),
            inventory,
            retirement_grace,
            rules,
        })
    }

    /// Puts the parts into `builder`, switching off in `engine` the steps
    /// the file switched off.
    pub fn apply(self, builder: ButlerBuilder, mut engine: EngineConfig) -> ButlerBuilder {
        engine.monitoring = self.monitoring_enabled;
        engine.billing = self.billing_enabled;
        if let Some(grace) = self.retirement_grace {
            engine.retirement_grace = grace;
        }
        let mut b = builder
            .platform(self.platform)
            .engine_config(engine)
            .inventory_config(self.inventory);
        if let Some(m) = self.monitor {
            b = b.monitor(m);
        }
        if let Some(x) = self.billing {
            b = b.billing(x);
        }
        if let Some(r) = self.rules {
            b = b.rules(r);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[prism_central]\nurl = \"https://pc:9440\"\nusername = \"b\"\n";

    fn env(k: &str) -> Option<String> {
        Some(match k {
            "BUTLER_BILLING_WEBHOOK_SECRET" => "0123456789abcdef0123456789abcdef".into(),
            _ => "pw".into(),
        })
    }

    #[test]
    fn every_section_wires_its_adapter_and_missing_ones_are_refused() {
        let full = format!(
            "{BASE}[monitoring.icinga]\nurl = \"https://icinga:5665\"\nusername = \"b\"\n\
             [billing.nutanix_category]\n[billing.webhook]\nurl = \"https://bill/hook\"\n"
        );
        let d = Deployment::from_toml(&full, env).unwrap();
        assert!(d.monitor.is_some() && d.billing.is_some());

        let off = format!("{BASE}[monitoring]\nenabled = false\n[billing]\nenabled = false\n");
        let d = Deployment::from_toml(&off, env).unwrap();
        assert!(d.monitor.is_none() && d.billing.is_none());

        let bare = Deployment::from_toml(BASE, env).unwrap();
        assert!(
            bare.monitor.is_none() && bare.monitoring_enabled,
            "no adapter, not off"
        );
        let e = Deployment::from_toml(
            &format!(
                "{BASE}[monitoring]\nenabled = false\n[billing.webhook]\nurl = \"http://x/h\"\n"
            ),
            env,
        )
        .unwrap_err();
        assert_eq!(e.section, "billing.webhook");
        assert!(e.reason.contains("https"), "{e}");
        let e = Deployment::from_toml(
            &format!("{BASE}[monitoring]\nenabled = false\nnonsense = 1\n"),
            env,
        )
        .unwrap_err();
        assert!(e.reason.contains("nonsense"), "{e}");
    }

    #[test]
    fn the_inventory_section_sets_its_intervals_within_bounds() {
        let d = Deployment::from_toml(BASE, env).unwrap();
        assert_eq!(d.inventory, InventoryConfig::default());
        assert_eq!(d.retirement_grace, None, "unset: the engine's own stands");
        let d = Deployment::from_toml(
            &format!(
                "{BASE}[inventory]\nreconcile_every_minutes = 60\nshutdown_wait_seconds = 30\n\
                 lease_notice_days = [30, 3]\nretire_at_lease_end = true\nretirement_grace_days = 14\n"
            ),
            env,
        )
        .unwrap();
        assert_eq!(
            d.retirement_grace,
            Some(std::time::Duration::from_secs(14 * 86_400))
        );
        assert_eq!(d.inventory.reconcile_every.as_secs(), 3600);
        assert_eq!(d.inventory.shutdown_wait.as_secs(), 30);
        assert_eq!(d.inventory.leases.notice_days, [30, 3]);
        assert!(d.inventory.leases.retire_at_end);
        for (bad, key) in [
            ("lease_notice_days = [7, 0]", "inventory.lease_notice_days"),
            ("lease_notice_days = [400]", "inventory.lease_notice_days"),
            (
                "reconcile_every_minutes = 0",
                "inventory.reconcile_every_minutes",
            ),
            (
                "shutdown_wait_seconds = 5",
                "inventory.shutdown_wait_seconds",
            ),
            (
                "retirement_grace_days = 400",
                "inventory.retirement_grace_days",
            ),
        ] {
            let e = Deployment::from_toml(&format!("{BASE}[inventory]\n{bad}\n"), env).unwrap_err();
            assert_eq!(e.section, key, "{e}");
        }
        let e = Deployment::from_toml(&format!("{BASE}[inventory]\nevery = 1\n"), env).unwrap_err();
        assert!(e.reason.contains("every"), "{e}");
    }

    #[test]
    fn approval_rules_come_from_the_file_and_a_bad_one_names_the_section() {
        let file = format!(
            "{BASE}[[approval.rule]]\nname = \"dev\"\nwhen = {{ environments = [\"DEV\"] }}\noutcome = \"approve\"\n\n[[approval.quota]]\nunit = \"IT\"\nvms = 100\n"
        );
        let d = Deployment::from_toml(&file, env).unwrap();
        let rules = d.rules.expect("rules");
        assert_eq!(rules.rules.len(), 1);
        assert_eq!(rules.quotas[0].limits.vms, Some(100));
        assert_eq!(rules.rules[0].name, "dev");
        assert!(Deployment::from_toml(BASE, env).unwrap().rules.is_none());
        let bad = format!("{BASE}[[approval.rule]]\nname = \"x\"\noutcome = \"maybe\"\n");
        let e = Deployment::from_toml(&bad, env).unwrap_err();
        assert_eq!(e.section, "approval", "{e}");
        assert!(e.reason.contains("one of approve, require, refuse"), "{e}");
    }
}
