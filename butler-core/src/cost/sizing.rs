//! What a price depends on, apart from the card: the quantities of each
//! priced resource and the cost center whose rates apply.

use super::card::{Rate, RateCard, Rates, UnpricedPolicy};
use super::estimate::CostItem;
use super::CostError;
use crate::vm_spec::ValidSpec;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The quantities a card prices, for one VM as it stands.
///
/// An estimate prices a request's spec ([`Sizing::of`]); showback prices a
/// VM's sizing day by day, so the two agree by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sizing {
    /// The cost center whose rates apply before the card's default.
    pub cost_center: String,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM GiB.
    pub ram_gib: u32,
    /// Disk type of every disk; `None` (a VM adopted from the platform,
    /// whose disks Butler did not choose): storage is not priced.
    pub disk_type: Option<String>,
    /// Storage GiB, all disks.
    pub storage_gib: u64,
    /// Local snapshot copies of the storage.
    pub backup_local: bool,
    /// Remote replication of the storage.
    pub backup_remote: bool,
    /// A CD-ROM drive.
    pub cdrom: bool,
    /// NICs.
    pub nics: u32,
    /// Cloned from a boot image.
    pub image: bool,
}

impl Sizing {
    /// The sizing of a request's spec.
    pub fn of(spec: &ValidSpec) -> Sizing {
        let s = spec.spec();
        Sizing {
            cost_center: spec.derived().cost_center.clone(),
            vcpus: s.vcpus(),
            ram_gib: s.ram_gib,
            disk_type: Some(s.disk_type.clone()),
            storage_gib: s.storage_gib(),
            backup_local: s.backup_local,
            backup_remote: s.backup_remote,
            cdrom: s.cdrom,
            nics: u32::try_from(s.nics.len()).unwrap_or(u32::MAX),
            image: s.image.is_some(),
        }
    }

    /// Each priced item and its quantity, in the estimate's fixed order.
    pub fn items(&self) -> Vec<(CostItem, Decimal)> {
        let storage = Decimal::from(self.storage_gib);
        let mut wanted = vec![
            (CostItem::Vcpu, Decimal::from(self.vcpus)),
            (CostItem::RamGib, Decimal::from(self.ram_gib)),
        ];
        if let Some(t) = &self.disk_type {
            wanted.push((CostItem::DiskGib(t.clone()), storage));
            if self.backup_local {
                wanted.push((CostItem::BackupLocalGib, storage));
            }
            if self.backup_remote {
                wanted.push((CostItem::BackupRemoteGib, storage));
            }
        }
        if self.cdrom {
            wanted.push((CostItem::Cdrom, Decimal::ONE));
        }
        wanted.push((CostItem::Nic, Decimal::from(self.nics)));
        if self.image {
            wanted.push((CostItem::Image, Decimal::ONE));
        }
        wanted
    }

    /// The 30-day month's total on `card`, margin included, powered on or
    /// off ([`RateCard::powered_off`]): the estimate's total when on.
    /// Prices the items [`items`](Self::items) lists without building the
    /// list (showback prices a million of these).
    pub fn monthly(&self, card: &RateCard, powered_on: bool) -> Result<Decimal, CostError> {
        let overflow = |what: String| CostError::Overflow {
            card: card.version.clone(),
            what,
        };
        let own = card.cost_centers.get(&self.cost_center);
        let off = if powered_on {
            None
        } else {
            card.powered_off.as_ref()
        };
        let mut subtotal = Decimal::ZERO;
        let mut add = |rate: &dyn Fn(&Rates) -> Option<&Rate>,
                       quantity: Decimal,
                       item: &dyn Fn() -> CostItem|
         -> Result<(), CostError> {
            let found = off
                .and_then(rate)
                .or_else(|| own.and_then(rate))
                .or_else(|| rate(&card.default));
            let amount = match found {
                Some(r) => r
                    .monthly()
                    .and_then(|m| m.checked_mul(quantity))
                    .ok_or_else(|| overflow(format!("{} line", item())))?,
                None if card.unpriced == UnpricedPolicy::Zero => Decimal::ZERO,
                None => {
                    return Err(CostError::MissingRate {
                        card: card.version.clone(),
                        item: item(),
                        cost_center: self.cost_center.clone(),
                    })
                }
            };
            subtotal = subtotal
                .checked_add(amount)
                .ok_or_else(|| overflow("subtotal".into()))?;
            Ok(())
        };
        let storage = Decimal::from(self.storage_gib);
        add(&|r| r.vcpu.as_ref(), self.vcpus.into(), &|| CostItem::Vcpu)?;
        add(&|r| r.ram_gib.as_ref(), self.ram_gib.into(), &|| {
            CostItem::RamGib
        })?;
        if let Some(t) = &self.disk_type {
            add(&|r| r.disk_gib.get(t), storage, &|| {
                CostItem::DiskGib(t.clone())
            })?;
            if self.backup_local {
                add(&|r| r.backup_local_gib.as_ref(), storage, &|| {
                    CostItem::BackupLocalGib
                })?;
            }
            if self.backup_remote {
                add(&|r| r.backup_remote_gib.as_ref(), storage, &|| {
                    CostItem::BackupRemoteGib
                })?;
            }
        }
        if self.cdrom {
            add(&|r| r.cdrom.as_ref(), Decimal::ONE, &|| CostItem::Cdrom)?;
        }
        add(&|r| r.nic.as_ref(), self.nics.into(), &|| CostItem::Nic)?;
        if self.image {
            add(&|r| r.image.as_ref(), Decimal::ONE, &|| CostItem::Image)?;
        }
        let margin = match card.margin {
            Some(m) => subtotal
                .checked_mul(m)
                .ok_or_else(|| overflow("margin".into()))?,
            None => Decimal::ZERO,
        };
        subtotal
            .checked_add(margin)
            .ok_or_else(|| overflow("total".into()))
    }
}
