//! What a reconfigure may change of a VM's spec (SPEC §12): its CPU,
//! RAM, disks (grown or added) and NICs; never what names or places it.

use super::validate::Problems;
use super::{SpecError, SpecErrorCode, VmSpec};

/// What a reconfigure of a VM built as `before` may not do in `after`:
/// change a field that names or places it (name, division, unit,
/// environment, cluster, disk type, image, backups, CD-ROM), shrink or
/// remove a disk, or change nothing at all. CPU, RAM, added or grown disks
/// and NICs may change. Every problem is reported, as [`validate`](super::validate()) does.
///
/// ```
/// use butler_core::vm_spec::{change_problems, SpecErrorCode};
/// let before = butler_core::demo::spec("web01");
/// let mut after = before.clone();
/// after.ram_gib += 4;
/// assert!(change_problems(&before, &after).is_empty());
/// after.cluster = "elsewhere".into();
/// after.disks_gib[0] -= 1;
/// let codes: Vec<_> = change_problems(&before, &after).iter().map(|e| e.code).collect();
/// assert_eq!(codes, [SpecErrorCode::FixedOnReconfigure, SpecErrorCode::DiskShrinks]);
/// ```
pub fn change_problems(before: &VmSpec, after: &VmSpec) -> Vec<SpecError> {
    let mut p = Problems(Vec::new());
    let fixed = |field: &str, same: bool, p: &mut Problems| {
        if !same {
            p.add(
                field,
                SpecErrorCode::FixedOnReconfigure,
                format!("{field} cannot change on an existing VM"),
                &[("field", field.to_string())],
            );
        }
    };
    fixed("name", before.name == after.name, &mut p);
    fixed("division", before.division == after.division, &mut p);
    fixed("unit", before.unit == after.unit, &mut p);
    fixed(
        "environment",
        before.environment == after.environment,
        &mut p,
    );
    fixed("cluster", before.cluster == after.cluster, &mut p);
    fixed("disk_type", before.disk_type == after.disk_type, &mut p);
    fixed("image", before.image == after.image, &mut p);
    fixed(
        "backup_local",
        before.backup_local == after.backup_local,
        &mut p,
    );
    fixed(
        "backup_remote",
        before.backup_remote == after.backup_remote,
        &mut p,
    );
    fixed("cdrom", before.cdrom == after.cdrom, &mut p);
    for (i, was) in before.disks_gib.iter().enumerate() {
        match after.disks_gib.get(i) {
            Some(now) if now < was => p.add(
                format!("disks_gib[{i}]"),
                SpecErrorCode::DiskShrinks,
                format!("disk {i} cannot shrink ({was} → {now} GiB)"),
                &[
                    ("case", "shrinks".into()),
                    ("disk", i.to_string()),
                    ("was", was.to_string()),
                    ("now", now.to_string()),
                ],
            ),
            None => p.add(
                format!("disks_gib[{i}]"),
                SpecErrorCode::DiskShrinks,
                format!("disk {i} ({was} GiB) cannot be removed"),
                &[
                    ("case", "removed".into()),
                    ("disk", i.to_string()),
                    ("was", was.to_string()),
                ],
            ),
            _ => {}
        }
    }
    let shape = |s: &VmSpec| {
        (
            s.cores_per_socket,
            s.sockets,
            s.ram_gib,
            s.disks_gib.clone(),
            s.nics.clone(),
        )
    };
    if p.0.is_empty() && shape(before) == shape(after) {
        p.add(
            "spec",
            SpecErrorCode::NothingChanged,
            "the change leaves CPU, RAM, disks and NICs as they are".to_string(),
            &[],
        );
    }
    p.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn before() -> VmSpec {
        let mut s = crate::demo::spec("web01");
        s.disks_gib = vec![50, 20];
        s
    }

    proptest! {
        /// CPU, RAM, grown or added disks and NICs never trouble a change;
        /// a change with none of them is "nothing changed", alone.
        #[test]
        fn what_may_change_passes(
            cores in 1u32..8, sockets in 1u32..4, ram in 1u32..64,
            grow in proptest::collection::vec(0u32..100, 2),
            added in proptest::collection::vec(1u32..500, 0..3),
            nics in proptest::collection::vec("[a-z]{1,6}", 1..4),
        ) {
            let b = before();
            let mut a = b.clone();
            (a.cores_per_socket, a.sockets, a.ram_gib, a.nics) = (cores, sockets, ram, nics);
            a.disks_gib = b.disks_gib.iter().zip(&grow).map(|(d, g)| d + g).collect();
            a.disks_gib.extend(added);
            let codes: Vec<_> = change_problems(&b, &a).iter().map(|e| e.code).collect();
            let same = (a.cores_per_socket, a.sockets, a.ram_gib, &a.disks_gib, &a.nics)
                == (b.cores_per_socket, b.sockets, b.ram_gib, &b.disks_gib, &b.nics);
            if same {
                prop_assert_eq!(codes, vec![SpecErrorCode::NothingChanged]);
            } else {
                prop_assert!(codes.is_empty(), "{:?}", codes);
            }
        }

        /// A shrunk or removed disk, and each fixed field changed, is named,
        /// whatever else changes.
        #[test]
        fn what_may_not_change_is_named(
            field in 0usize..10, shrink in 1u32..20, drop_last in any::<bool>(), ram in 1u32..64,
        ) {
            let b = before();
            let mut a = b.clone();
            a.ram_gib = ram;
            match field {
                0 => a.name.push('x'),
                1 => a.division.push('x'),
                2 => a.unit.push('x'),
                3 => a.environment.push('x'),
                4 => a.cluster.push('x'),
                5 => a.disk_type.push('x'),
                6 => a.image = Some("other".into()),
                7 => a.backup_local = !a.backup_local,
                8 => a.backup_remote = !a.backup_remote,
                _ => a.cdrom = !a.cdrom,
            }
            if drop_last { a.disks_gib.pop(); } else { a.disks_gib[0] -= shrink; }
            let problems = change_problems(&b, &a);
            let fixed = problems.iter().filter(|e| e.code == SpecErrorCode::FixedOnReconfigure).count();
            let shrunk: Vec<&str> = problems.iter()
                .filter(|e| e.code == SpecErrorCode::DiskShrinks)
                .map(|e| e.field.as_str())
                .collect();
            prop_assert_eq!(fixed, 1);
            prop_assert_eq!(shrunk, vec![if drop_last { "disks_gib[1]" } else { "disks_gib[0]" }]);
        }
    }
}
