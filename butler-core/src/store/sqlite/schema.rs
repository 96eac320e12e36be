//! SQLite's schema versions, applied in order on open; `PRAGMA
//! user_version` records the last version applied. The tables are declared
//! once in [`crate::store::sql::tables`].

use crate::store::sql::ddl::{Change, Column, Dialect, Type, Version};
use crate::store::sql::tables as t;
use crate::store::sql::Schema;

/// The schema of a SQLite store.
pub(super) const SCHEMA: Schema = Schema {
    dialect: Dialect::Sqlite,
    versions: VERSIONS,
};

const VERSIONS: &[Version] = &[
    // 1: requests, their history, the id sequence, the step log and leases.
    &[
        Change::Group(t::REQUEST_TABLES),
        Change::Sql("INSERT INTO sequences VALUES ('request', 0);"),
    ],
    // 2: migration groups (names unique, enforced here) and run reports.
    &[
        Change::Table(t::MIGRATION_GROUPS),
        Change::Table(t::MIGRATION_REPORTS),
        t::MIGRATION_REPORTS_INDEX,
        Change::Sql("INSERT INTO sequences VALUES ('group', 0), ('run', 0);"),
    ],
    // 3: stored users, their audit trail, and the store's secret keys.
    &[
        Change::Table(t::USERS),
        Change::Table(t::USER_AUDIT),
        Change::Table(t::SECRETS),
    ],
    // 4: per-VM lines of running migrations, appended as they happen.
    &[
        Change::Table(t::MIGRATION_REPORT_LINES),
        t::MIGRATION_REPORT_LINES_INDEX,
    ],
    // 5: group names unique regardless of case (the key is filled by
    // `SqliteStore::open` for older rows, then made unique).
    &[Change::AddColumn(
        "migration_groups",
        Column::new("name_key", Type::Text).nullable(),
    )],
    // 6: lease generations (fencing tokens), kept across releases.
    &[t::LEASE_GENERATION],
    // 7: a group's VMs as rows, in the order added (an edit writes the VMs
    // it names); `SqliteStore::open` moves older groups' lists here and
    // sets their `vm_count`.
    &[
        Change::Table(t::GROUP_VMS),
        t::GROUP_VMS_NAME_INDEX,
        Change::AddColumn(
            "migration_groups",
            Column::new("vm_count", Type::Int).nullable(),
        ),
    ],
    // 8: the notification outbox.
    &[Change::Group(t::OUTBOX)],
    // 9: runs someone asked to stop (from any process sharing the store).
    &[Change::Table(t::RUN_CANCELS)],
    // 10: the inventory.
    &[Change::Group(t::INVENTORY)],
    // 11: leases (no record had one before).
    &[Change::Group(t::VM_LEASES)],
    // 12: the VMs' own outboxes (no record had a notice before).
    &[Change::Group(t::VM_OUTBOX)],
    // 13: the approval rules' versions.
    &[Change::Table(t::RULE_BOOKS)],
    // 14: quota holds and the usage they add up to.
    &[Change::Table(t::QUOTA_HOLDS), Change::Table(t::QUOTA_USAGE)],
    // 15: showback's closed months and their lines.
    &[Change::Group(t::SHOWBACK)],
    // 16: the history appended in order instead of clustered by request
    // (stores made at version 1 to 15 have it clustered).
    &[Change::Group(t::HISTORY_APPENDED)],
];
