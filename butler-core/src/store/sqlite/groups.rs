//! Migration groups: a header row (name, clusters, version, stamp) and one
//! row per VM, so an edit of a million-VM group writes the VMs it names.

use super::{backend, json, parse, version_error};
use crate::migration::{
    GroupError, GroupId, GroupVm, GroupVmsEdit, GroupVmsEdited, MigrationGroup,
};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// The group's VMs in the order added.
pub(super) fn read_members(c: &Connection, id: GroupId) -> Result<Vec<GroupVm>, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT name, selected FROM group_vms WHERE group_id = ?1 ORDER BY pos")
        .map_err(backend)?;
    let rows = stmt
        .query_map([id.0 as i64], |r| {
            Ok(GroupVm {
                name: r.get(0)?,
                selected: r.get(1)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// Appends `vms` after the group's last position. A name already there is
/// `Ok(Err(DuplicateVm))`, with the job's writes to be rolled back.
fn append(
    c: &Connection,
    id: GroupId,
    vms: impl IntoIterator<Item = (String, bool)>,
) -> Result<Result<(), GroupError>, StoreError> {
    let last: i64 = c
        .query_row(
            "SELECT COALESCE(MAX(pos), 0) FROM group_vms WHERE group_id = ?1",
            [id.0 as i64],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO group_vms (group_id, pos, name, selected) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(backend)?;
    for (i, (name, selected)) in vms.into_iter().enumerate() {
        match stmt.execute(params![id.0 as i64, last + 1 + i as i64, name, selected]) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Ok(Err(GroupError::DuplicateVm(name)));
            }
            Err(e) => return Err(backend(e)),
        }
    }
    Ok(Ok(()))
}

/// Replaces the group's VM list (a whole-group save).
pub(super) fn replace_members(
    c: &Connection,
    id: GroupId,
    vms: &[GroupVm],
) -> Result<(), StoreError> {
    c.execute("DELETE FROM group_vms WHERE group_id = ?1", [id.0 as i64])
        .map_err(backend)?;
    append(c, id, vms.iter().map(|v| (v.name.clone(), v.selected)))?
        .map_err(|e| StoreError::AlreadyExists(e.to_string()))
}

/// Writes the header row of a new group and its VMs.
pub(super) fn insert(c: &Connection, group: &MigrationGroup) -> Result<(), StoreError> {
    let name = &group.name;
    c.execute(
        "INSERT INTO migration_groups (id, name, version, body, name_key, vm_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            group.id.0 as i64,
            name,
            group.version as i64,
            json(&group.header())?,
            crate::migration::name_key(name),
            group.vms.len() as i64
        ],
    )
    .map_err(|e| super::unique_violation(e, &format!("migration group named {name:?} or id {}", group.id)))?;
    replace_members(c, group.id, &group.vms)
}

/// Rewrites the header row if the stored version is `expected_version`;
/// `vm_count` too when the VM list is rewritten with it.
pub(super) fn update_header(
    c: &Connection,
    group: &MigrationGroup,
    expected_version: u64,
    vm_count: Option<usize>,
) -> Result<(), StoreError> {
    let (id, name) = (group.id, &group.name);
    let n = c
        .execute(
            "UPDATE migration_groups SET name = ?1, version = ?2, body = ?3, name_key = ?4, vm_count = COALESCE(?5, vm_count)
             WHERE id = ?6 AND version = ?7",
            params![
                name,
                group.version as i64,
                json(&group.header())?,
                crate::migration::name_key(name),
                vm_count.map(|n| n as i64),
                id.0 as i64,
                expected_version as i64
            ],
        )
        .map_err(|e| super::unique_violation(e, &format!("migration group named {name:?}")))?;
    if n == 0 {
        return Err(version_error(
            c,
            "migration_groups",
            id.0,
            &format!("migration group {id}"),
            expected_version,
        ));
    }
    Ok(())
}

/// Applies a VM-list edit in place (see `Store::change_group_vms`); an
/// inner error leaves writes the caller must roll back.
pub(super) fn change(
    c: &Connection,
    id: GroupId,
    expected_version: u64,
    edit: &GroupVmsEdit,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Result<GroupVmsEdited, GroupError>, StoreError> {
    let row: Option<(i64, i64, String)> = c
        .query_row(
            "SELECT version, vm_count, body FROM migration_groups WHERE id = ?1",
            [id.0 as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(backend)?;
    let (version, count, body) =
        row.ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))?;
    crate::store::expect_version(
        || format!("migration group {id}"),
        expected_version,
        version as u64,
    )?;
    let mut count = count as usize;
    match edit {
        GroupVmsEdit::Add(vms) => {
            let total = count + vms.len();
            if total > crate::limits::MAX_GROUP_VMS {
                return Ok(Err(GroupError::TooManyVms(total)));
            }
            if let Err(e) = append(c, id, vms.iter().map(|v| (v.clone(), true)))? {
                return Ok(Err(e));
            }
            count = total;
        }
        GroupVmsEdit::Remove(vms) => {
            let mut stmt = c
                .prepare_cached("DELETE FROM group_vms WHERE group_id = ?1 AND name = ?2")
                .map_err(backend)?;
            for v in vms {
                if stmt.execute(params![id.0 as i64, v]).map_err(backend)? == 0 {
                    return Ok(Err(GroupError::UnknownVm(v.clone())));
                }
            }
            count -= vms.len();
        }
        GroupVmsEdit::Select { vms, selected } => {
            let mut stmt = c
                .prepare_cached(
                    "UPDATE group_vms SET selected = ?3 WHERE group_id = ?1 AND name = ?2",
                )
                .map_err(backend)?;
            for v in vms {
                if stmt
                    .execute(params![id.0 as i64, v, selected])
                    .map_err(backend)?
                    == 0
                {
                    return Ok(Err(GroupError::UnknownVm(v.clone())));
                }
            }
        }
    }
    let mut header: MigrationGroup = parse(&body)?;
    header.version = expected_version + 1;
    header.updated_by = by.to_string();
    header.updated_at = at;
    update_header(c, &header, expected_version, Some(count))?;
    Ok(Ok(GroupVmsEdited {
        id,
        version: header.version,
        vms: count,
    }))
}

/// Moves the VM lists of groups stored before VMs were rows (their
/// `vm_count` is unset) out of the header into rows.
pub(super) fn move_members_to_rows(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let old: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT body FROM migration_groups WHERE vm_count IS NULL")
            .map_err(backend)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for body in old {
        let g: MigrationGroup = parse(&body)?;
        replace_members(&tx, g.id, &g.vms)?;
        tx.execute(
            "UPDATE migration_groups SET body = ?1, vm_count = ?2 WHERE id = ?3",
            params![json(&g.header())?, g.vms.len() as i64, g.id.0 as i64],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}
