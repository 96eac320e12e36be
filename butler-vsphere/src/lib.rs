//! Butler's VMware vSphere adapter: vCenter's vim25 SOAP API over reqwest.
//!
//! vim25 over SOAP, because vCenter has spoken it since 2.5 and VMware's
//! own simulator (govmomi's vcsim, which the tests run) serves it; the VI
//! JSON API needs vCenter 8.0 U1 and a vcsim newer than Debian's. The
//! `vim_rs` crate targets that JSON API, with SOAP experimental, so the
//! envelopes here are written by hand and read with quick-xml.
//!
//! What Butler's terms are on vSphere:
//!
//! | Butler | vSphere |
//! |---|---|
//! | cluster | `ClusterComputeResource` |
//! | VM id | the VM's managed object id (`vm-42`) |
//! | image | a template (a VM with `config.template`) |
//! | subnet | a port group (`Network`, `DistributedVirtualPortgroup`, uplinks left out) on the cluster |
//! | storage container | a datastore of the cluster |
//! | project | the `Project` custom attribute; projects are named in the configuration |
//! | category `key:value` | the custom attribute `key` with `value` |
//! | task | a vCenter `Task` (`task-17`) |
//!
//! vSphere has no protection domains: the adapter declares no
//! `Protection` and no `Migration` capability, and those features answer
//! `Unsupported`. A VM moves between clusters on its own
//! (`VmMigration`: `RelocateVM_Task`, cold or vMotion).

#![warn(missing_docs)]

mod backend;
mod changes;
pub mod config;
mod error;
mod inventory;
mod moves;
mod props;
mod soap;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod xml;

pub use backend::{VsphereBackend, PROJECT_FIELD};
pub use changes::PARTIAL;

pub use config::{ConfigError, VsphereConfig};
pub use error::VsphereError;
pub use props::Object;
pub use soap::{MoRef, ServiceContent, Soap};
pub use xml::Node;
