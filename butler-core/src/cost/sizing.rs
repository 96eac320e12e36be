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

    /// Each priced item and its quantity, in the estimate's fixed order:
    /// the one list both [`items`](Self::items) and
    /// [`monthly`](Self::monthly) walk.
    fn visit<E>(&self, mut f: impl FnMut(Item<'_>, Decimal) -> Result<(), E>) -> Result<(), E> {
        let storage = Decimal::from(self.storage_gib);
        f(Item::Vcpu, self.vcpus.into())?;
        f(Item::RamGib, self.ram_gib.into())?;
        if let Some(t) = &self.disk_type {
            f(Item::DiskGib(t), storage)?;
            if self.backup_local {
                f(Item::BackupLocalGib, storage)?;
            }
            if self.backup_remote {
                f(Item::BackupRemoteGib, storage)?;
            }
        }
        if self.cdrom {
            f(Item::Cdrom, Decimal::ONE)?;
        }
        f(Item::Nic, self.nics.into())?;
        if self.image {
            f(Item::Image, Decimal::ONE)?;
        }
        Ok(())
    }

    /// Each priced item and its quantity, in the estimate's fixed order.
    pub fn items(&self) -> Vec<(CostItem, Decimal)> {
        let mut wanted = Vec::with_capacity(8);
        let _ = self.visit(|item, quantity| -> Result<(), ()> {
            wanted.push((item.cost_item(), quantity));
            Ok(())
        });
        wanted
    }

    /// The 30-day month's total on `card`, margin included, powered on or
    /// off ([`RateCard::powered_off`]): the estimate's total when on.
    /// Walks the items without building their list (showback prices a
    /// million of these).
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
        self.visit(|item, quantity| {
            let found = off
                .and_then(|r| item.rate(r))
                .or_else(|| own.and_then(|r| item.rate(r)))
                .or_else(|| item.rate(&card.default));
            let amount = match found {
                Some(r) => r
                    .monthly()
                    .and_then(|m| m.checked_mul(quantity))
                    .ok_or_else(|| overflow(format!("{} line", item.cost_item())))?,
                None if card.unpriced == UnpricedPolicy::Zero => Decimal::ZERO,
                None => {
                    return Err(CostError::MissingRate {
                        card: card.version.clone(),
                        item: item.cost_item(),
                        cost_center: self.cost_center.clone(),
                    })
                }
            };
            subtotal = subtotal
                .checked_add(amount)
                .ok_or_else(|| overflow("subtotal".into()))?;
            Ok(())
        })?;
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

/// A priced item, borrowed (a [`CostItem`] without its allocation).
#[derive(Debug, Clone, Copy)]
pub(super) enum Item<'a> {
    Vcpu,
    RamGib,
    DiskGib(&'a str),
    BackupLocalGib,
    BackupRemoteGib,
    Cdrom,
    Nic,
    Image,
}

impl<'a> Item<'a> {
    /// The item a [`CostItem`] names.
    pub(super) fn of(item: &'a CostItem) -> Item<'a> {
        match item {
            CostItem::Vcpu => Item::Vcpu,
            CostItem::RamGib => Item::RamGib,
            CostItem::DiskGib(t) => Item::DiskGib(t),
            CostItem::BackupLocalGib => Item::BackupLocalGib,
            CostItem::BackupRemoteGib => Item::BackupRemoteGib,
            CostItem::Cdrom => Item::Cdrom,
            CostItem::Nic => Item::Nic,
            CostItem::Image => Item::Image,
        }
    }

    fn cost_item(self) -> CostItem {
        match self {
            Item::Vcpu => CostItem::Vcpu,
            Item::RamGib => CostItem::RamGib,
            Item::DiskGib(t) => CostItem::DiskGib(t.to_string()),
            Item::BackupLocalGib => CostItem::BackupLocalGib,
            Item::BackupRemoteGib => CostItem::BackupRemoteGib,
            Item::Cdrom => CostItem::Cdrom,
            Item::Nic => CostItem::Nic,
            Item::Image => CostItem::Image,
        }
    }

    /// Its rate in `rates`, if priced there.
    pub(super) fn rate(self, rates: &Rates) -> Option<&Rate> {
        match self {
            Item::Vcpu => rates.vcpu.as_ref(),
            Item::RamGib => rates.ram_gib.as_ref(),
            Item::DiskGib(t) => rates.disk_gib.get(t),
            Item::BackupLocalGib => rates.backup_local_gib.as_ref(),
            Item::BackupRemoteGib => rates.backup_remote_gib.as_ref(),
            Item::Cdrom => rates.cdrom.as_ref(),
            Item::Nic => rates.nic.as_ref(),
            Item::Image => rates.image.as_ref(),
        }
    }
}
