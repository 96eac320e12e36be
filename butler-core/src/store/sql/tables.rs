//! Every table of Butler's SQL stores, declared once. Each store's list of
//! schema versions (`SqliteStore`'s, `PostgresStore`'s) creates them from
//! here; what one dialect alone does is marked there.
//!
//! Bodies are JSON (`codec`); the other columns are what queries filter,
//! order or join on.

use super::ddl::{Change, Column, Default, Index, Table, Type};

const fn int(name: &'static str) -> Column {
    Column::new(name, Type::Int)
}

const fn text(name: &'static str) -> Column {
    Column::new(name, Type::Text)
}

/// Requests: the JSON body without history; owner, state and creation time
/// for lists.
pub const REQUESTS: Table = Table {
    name: "requests",
    columns: &[
        int("id"),
        text("owner"),
        text("state"),
        int("created_at"),
        int("version"),
        text("body"),
    ],
    primary_key: &["id"],
    clustered: false,
};

/// The indexes of [`REQUESTS`]: by state (the engine's work), by creation
/// time (lists) and by owner and creation time (a requester's list).
pub const REQUESTS_INDEXES: &[Change] = &[
    Change::Index(Index::on("requests_state", "requests", &["state", "id"])),
    Change::Index(Index::on(
        "requests_created",
        "requests",
        &["created_at DESC", "id DESC"],
    )),
    Change::Index(Index::on(
        "requests_owner_created",
        "requests",
        &["owner", "created_at DESC", "id DESC"],
    )),
];

/// A request's history, one row per entry, append-only. Not clustered:
/// SQLite appends each entry at the end of the table and keys it by
/// `(request_id, seq)` in a narrow index, so the entries of the requests in
/// flight land on one page instead of one page per request (against
/// clustered by request: 88 → 75 KB written per provisioned request;
/// provisioning 20,000 requests in 8.83 s instead of 10.1 s, README
/// "Benchmarks").
pub const HISTORY: Table = Table {
    name: "history",
    columns: &[
        int("request_id").references("requests(id)"),
        int("seq"),
        text("body"),
    ],
    primary_key: &["request_id", "seq"],
    clustered: false,
};

/// SQLite: rebuilds a history clustered by request (stores made before
/// schema version 16) as [`HISTORY`], entries in their order, with the
/// outbox's trigger, which goes with the old table.
pub const HISTORY_APPENDED: &[Change] = &[
    Change::Table(Table {
        name: "history_appended",
        ..HISTORY
    }),
    Change::Sql(
        "INSERT INTO history_appended (request_id, seq, body)
    SELECT request_id, seq, body FROM history ORDER BY request_id, seq;
DROP TABLE history;
ALTER TABLE history_appended RENAME TO history;",
    ),
    Change::Sql(HISTORY_OUTBOX_SQLITE),
];

/// Named counters: request, group and run numbers.
pub const SEQUENCES: Table = Table {
    name: "sequences",
    columns: &[text("name"), int("value")],
    primary_key: &["name"],
    clustered: true,
};

/// The engine's step log, in the order written.
pub const STEP_LOG: Table = Table {
    name: "step_log",
    columns: &[
        Column::new("id", Type::Serial),
        int("request_id").references("requests(id)"),
        text("body"),
    ],
    primary_key: &[],
    clustered: false,
};

/// The step log by request.
pub const STEP_LOG_INDEX: Change = Change::Index(Index::on(
    "step_log_request",
    "step_log",
    &["request_id", "id"],
));

/// Who works on a request, until when.
pub const LEASES: Table = Table {
    name: "leases",
    columns: &[int("request_id"), text("owner"), int("expires_at")],
    primary_key: &["request_id"],
    clustered: false,
};

/// Requests and what the engine keeps of them, as first created: the
/// requests with their indexes, history, the sequences (without rows), the
/// step log and leases.
pub const REQUEST_TABLES: &[Change] = &[
    Change::Table(REQUESTS),
    Change::Group(REQUESTS_INDEXES),
    Change::Table(HISTORY),
    Change::Table(SEQUENCES),
    Change::Table(STEP_LOG),
    STEP_LOG_INDEX,
    Change::Table(LEASES),
];

/// A lease's generation (its fencing token), kept across releases.
pub const LEASE_GENERATION: Change =
    Change::AddColumn("leases", int("generation").default(Default::Int(1)));

/// Migration groups (names unique as written; `name_key` makes them unique
/// regardless of case).
pub const MIGRATION_GROUPS: Table = Table {
    name: "migration_groups",
    columns: &[
        int("id"),
        text("name").unique(),
        int("version"),
        text("body"),
    ],
    primary_key: &["id"],
    clustered: false,
};

/// Finished and running migration reports.
pub const MIGRATION_REPORTS: Table = Table {
    name: "migration_reports",
    columns: &[int("id"), int("group_id"), text("body")],
    primary_key: &["id"],
    clustered: false,
};

/// A group's reports, newest first.
pub const MIGRATION_REPORTS_INDEX: Change = Change::Index(Index::on(
    "migration_reports_group",
    "migration_reports",
    &["group_id", "id DESC"],
));

/// Per-VM lines of running migrations, appended as they happen.
pub const MIGRATION_REPORT_LINES: Table = Table {
    name: "migration_report_lines",
    columns: &[Column::new("id", Type::Serial), int("run_id"), text("body")],
    primary_key: &[],
    clustered: false,
};

/// A run's lines, in order.
pub const MIGRATION_REPORT_LINES_INDEX: Change = Change::Index(Index::on(
    "migration_report_lines_run",
    "migration_report_lines",
    &["run_id", "id"],
));

/// A group's VMs as rows, in the order added (SQLite; PostgreSQL keeps
/// them in the group's body).
pub const GROUP_VMS: Table = Table {
    name: "group_vms",
    columns: &[
        int("group_id"),
        int("pos"),
        text("name"),
        Column::new("selected", Type::Bool),
    ],
    primary_key: &["group_id", "pos"],
    clustered: true,
};

/// A group's VM names are unique.
pub const GROUP_VMS_NAME_INDEX: Change = Change::Index(Index {
    name: "group_vms_name",
    table: "group_vms",
    columns: &["group_id", "name"],
    unique: true,
    filter: None,
});

/// Stored users.
pub const USERS: Table = Table {
    name: "users",
    columns: &[text("name"), int("version"), text("body")],
    primary_key: &["name"],
    clustered: true,
};

/// The users' audit trail, in order.
pub const USER_AUDIT: Table = Table {
    name: "user_audit",
    columns: &[Column::new("id", Type::Serial), text("body")],
    primary_key: &[],
    clustered: false,
};

/// The store's secret keys, by purpose.
pub const SECRETS: Table = Table {
    name: "secrets",
    columns: &[text("purpose"), Column::new("key", Type::Bytes)],
    primary_key: &["purpose"],
    clustered: true,
};

/// The approval rules' versions, each a JSON `RuleBook`.
pub const RULE_BOOKS: Table = Table {
    name: "rule_books",
    columns: &[int("version"), text("body")],
    primary_key: &["version"],
    clustered: true,
};

/// Quota holds, one per holder (`r:12`, `c:13`, `v:7`), each a JSON
/// `Hold`; a body of `''` holds nothing (a row made only to be locked).
pub const QUOTA_HOLDS: Table = Table {
    name: "quota_holds",
    columns: &[text("holder"), text("body")],
    primary_key: &["holder"],
    clustered: true,
};

/// What each quota scope (`division:D1`) holds, the sum of its holds, kept
/// by every hold's write; a JSON `Share` (`''`: nothing). The row
/// `~counted` marks the holds counted.
pub const QUOTA_USAGE: Table = Table {
    name: "quota_usage",
    columns: &[text("scope"), text("body")],
    primary_key: &["scope"],
    clustered: true,
};

/// Showback's closed months, each a JSON `ClosedMonth` (`month` is
/// `YYYY-MM`).
pub const SHOWBACK_MONTHS: Table = Table {
    name: "showback_months",
    columns: &[text("month"), text("body")],
    primary_key: &["month"],
    clustered: true,
};

/// A closed month's VM lines, each a JSON `VmShowback` of that month,
/// written with the month and never changed.
pub const SHOWBACK_LINES: Table = Table {
    name: "showback_lines",
    columns: &[text("month"), int("vm"), text("owner"), text("body")],
    primary_key: &["month", "vm"],
    clustered: true,
};

/// Closed months and their lines, an owner's lines found by index.
pub const SHOWBACK: &[Change] = &[
    Change::Table(SHOWBACK_MONTHS),
    Change::Table(SHOWBACK_LINES),
    Change::Index(Index::on(
        "showback_lines_owner",
        "showback_lines",
        &["month", "owner", "vm"],
    )),
];

/// Notifiers registered with the outbox, and who holds each.
pub const NOTIFIERS: Table = Table {
    name: "notifiers",
    columns: &[
        text("name"),
        text("owner").nullable(),
        int("expires_at").default(Default::Int(0)),
    ],
    primary_key: &["name"],
    clustered: true,
};

/// One delivery per history entry and notifier.
pub const DELIVERIES: Table = Table {
    name: "deliveries",
    columns: &[
        text("notifier"),
        int("request_id"),
        int("seq"),
        int("attempts").default(Default::Int(0)),
        int("next_at").default(Default::Int(0)),
        text("last_error").nullable(),
        Column::new("gave_up", Type::Bool).default(Default::Bool(false)),
    ],
    primary_key: &["notifier", "request_id", "seq"],
    clustered: true,
};

/// The notification outbox: its tables, its indexes, and the trigger that
/// queues, in the same transaction as every history row inserted, one
/// delivery per registered notifier.
pub const OUTBOX: &[Change] = &[
    Change::Table(NOTIFIERS),
    Change::Table(DELIVERIES),
    Change::Index(Index::on(
        "deliveries_due",
        "deliveries",
        &["notifier", "gave_up", "next_at", "request_id", "seq"],
    )),
    Change::Index(Index {
        name: "deliveries_failed",
        table: "deliveries",
        columns: &["attempts"],
        unique: false,
        filter: Some("attempts > 0"),
    }),
    Change::Each {
        sqlite: HISTORY_OUTBOX_SQLITE,
        postgres: "CREATE FUNCTION butler_history_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deliveries (notifier, request_id, seq)
    SELECT name, NEW.request_id, NEW.seq FROM notifiers;
    RETURN NULL;
END $$;
CREATE TRIGGER history_outbox AFTER INSERT ON history
    FOR EACH ROW EXECUTE FUNCTION butler_history_outbox();",
    },
];

/// SQLite's trigger that queues one delivery per registered notifier for
/// every history row inserted.
pub(crate) const HISTORY_OUTBOX_SQLITE: &str =
    "CREATE TRIGGER history_outbox AFTER INSERT ON history BEGIN
    INSERT INTO deliveries (notifier, request_id, seq)
    SELECT name, NEW.request_id, NEW.seq FROM notifiers;
END;";

/// Runs someone asked to stop (from any process sharing the store).
pub const RUN_CANCELS: Table = Table {
    name: "run_cancels",
    columns: &[int("run_id")],
    primary_key: &["run_id"],
    clustered: false,
};

/// The inventory: one row per VM record, its JSON body and what lists
/// filter on.
pub const VMS: Table = Table {
    name: "vms",
    columns: &[
        int("id"),
        text("name").unique(),
        text("owner"),
        text("cluster"),
        text("lifecycle"),
        text("cost_center"),
        Column::new("drifted", Type::Bool),
        int("version"),
        text("body"),
    ],
    primary_key: &["id"],
    clustered: false,
};

/// Leases in the inventory: each record's last day as an ISO date (NULL:
/// no lease), indexed for the lease watch's sweep.
pub const VM_LEASES: &[Change] = &[
    Change::AddColumn("vms", Column::new("lease_end", Type::Text).nullable()),
    Change::Index(Index {
        name: "vms_lease_end",
        table: "vms",
        columns: &["lease_end"],
        unique: false,
        filter: Some("lease_end IS NOT NULL"),
    }),
];

/// VMs with notices waiting in their outbox, indexed for the deliverer.
pub const VM_OUTBOX: &[Change] = &[
    Change::AddColumn(
        "vms",
        Column::new("notices_pending", Type::Bool).default(Default::Bool(false)),
    ),
    Change::Index(Index {
        name: "vms_notices_pending",
        table: "vms",
        columns: &["id"],
        unique: false,
        filter: Some("notices_pending"),
    }),
];

/// The inventory's table, its list indexes (by owner, cluster and
/// lifecycle, newest first) and its number sequence.
pub const INVENTORY: &[Change] = &[
    Change::Table(VMS),
    Change::Index(Index::on("vms_owner", "vms", &["owner", "id DESC"])),
    Change::Index(Index::on("vms_cluster", "vms", &["cluster", "id DESC"])),
    Change::Index(Index::on("vms_lifecycle", "vms", &["lifecycle", "id DESC"])),
    Change::Sql("INSERT INTO sequences VALUES ('vm', 0);"),
];
