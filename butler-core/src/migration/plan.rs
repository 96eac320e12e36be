//! What a migration will move: the selected VMs (or a retry's subset),
//! grouped by protection group, since one migrate call moves a whole group;
//! or, on a platform that moves VMs one by one, each VM on its own.

use super::facts::FactsSnapshot;
use super::group::MigrationGroup;
use std::collections::{BTreeMap, HashSet};

/// One protection group and the selected VMs it moves (`group: None`: VMs
/// in no protection group, which cannot move; or, where the platform moves
/// VMs one by one, one VM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    pub group: Option<String>,
    pub vms: Vec<String>,
    /// The VMs are on the destination already: only their post-move steps
    /// are to do.
    pub after_move: bool,
}

/// The units of a migration of `group` on `facts` (aligned with it),
/// optionally restricted to the VMs in `only`.
pub(crate) fn plan(
    group: &MigrationGroup,
    facts: &FactsSnapshot,
    only: Option<&[String]>,
) -> Vec<Unit> {
    units(group, facts, only, false)
}

/// The units of a retry's VMs on the destination already (`names`), whose
/// post-move steps are redone.
pub(crate) fn plan_after_move(
    group: &MigrationGroup,
    facts: &FactsSnapshot,
    names: &[String],
) -> Vec<Unit> {
    if names.is_empty() {
        return Vec::new();
    }
    units(group, facts, Some(names), true)
}

fn units(
    group: &MigrationGroup,
    facts: &FactsSnapshot,
    only: Option<&[String]>,
    after_move: bool,
) -> Vec<Unit> {
    let only: Option<HashSet<&str>> = only.map(|o| o.iter().map(String::as_str).collect());
    let mut units: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    let mut alone = Vec::new();
    for (i, vm) in group.vms.iter().enumerate() {
        if !vm.selected || only.as_ref().is_some_and(|o| !o.contains(vm.name.as_str())) {
            continue;
        }
        if facts.vm_moves {
            alone.push(Unit {
                group: None,
                vms: vec![vm.name.clone()],
                after_move,
            });
            continue;
        }
        let pg = facts
            .vms
            .get(i)
            .and_then(|f| facts.groups.get(f.group as usize))
            .map(|g| g.name.clone());
        units.entry(pg).or_default().push(vm.name.clone());
    }
    if facts.vm_moves {
        return alone;
    }
    units
        .into_iter()
        .map(|(group, vms)| Unit {
            group,
            vms,
            after_move,
        })
        .collect()
}
