//! PostgreSQL's schema versions, applied in order; `butler_schema.version`
//! records the last version applied. The tables are declared once, for
//! SQLite and PostgreSQL alike, in `butler_core::store::sql::tables`.

use butler_core::store::sql::ddl::{Change, Column, Dialect, Type, Version};
use butler_core::store::sql::tables as t;
use butler_core::store::sql::Schema;

/// The schema of a PostgreSQL store.
pub(crate) const SCHEMA: Schema = Schema {
    dialect: Dialect::Postgres,
    versions: VERSIONS,
};

const VERSIONS: &[Version] = &[
    // 1: everything SQLite's versions 1 to 5 built.
    &[
        Change::Group(t::REQUEST_TABLES),
        Change::Sql("INSERT INTO sequences VALUES ('request', 0), ('group', 0), ('run', 0);"),
        Change::Table(t::MIGRATION_GROUPS),
        Change::AddColumn(
            "migration_groups",
            Column::new("name_key", Type::Text).unique(),
        ),
        Change::Table(t::MIGRATION_REPORTS),
        t::MIGRATION_REPORTS_INDEX,
        Change::Table(t::MIGRATION_REPORT_LINES),
        t::MIGRATION_REPORT_LINES_INDEX,
        Change::Table(t::USERS),
        Change::Table(t::USER_AUDIT),
        Change::Table(t::SECRETS),
    ],
    // 2: lease generations (fencing tokens), kept across releases.
    &[t::LEASE_GENERATION],
    // 3: cheaper engine writes. A step's update changes no indexed column,
    // so with room on the page it is a HOT update (no index writes); the
    // step log is keyed by request, its one index; history and log lines are
    // written only by statements that match their request row (requests
    // are never deleted), so the foreign keys' per-row checks go.
    &[Change::Only(
        Dialect::Postgres,
        "ALTER TABLE requests SET (fillfactor = 70);
     ALTER TABLE history DROP CONSTRAINT history_request_id_fkey;
     ALTER TABLE step_log DROP CONSTRAINT step_log_request_id_fkey;
     ALTER TABLE step_log DROP CONSTRAINT step_log_pkey;
     DROP INDEX step_log_request;
     ALTER TABLE step_log ADD PRIMARY KEY (request_id, id);",
    )],
    // 4: the notification outbox.
    &[Change::Group(t::OUTBOX)],
    // 5: runs someone asked to stop (from any process sharing the store).
    &[Change::Table(t::RUN_CANCELS)],
    // 6: the inventory.
    &[Change::Group(t::INVENTORY)],
    // 7: leases (no record had one before).
    &[Change::Group(t::VM_LEASES)],
    // 8: the VMs' own outboxes (no record had a notice before).
    &[Change::Group(t::VM_OUTBOX)],
    // 9: the approval rules' versions.
    &[Change::Table(t::RULE_BOOKS)],
    // 10: quota holds and the usage they add up to.
    &[Change::Table(t::QUOTA_HOLDS), Change::Table(t::QUOTA_USAGE)],
    // 11: showback's closed months and their lines.
    &[Change::Group(t::SHOWBACK)],
];
