//! The schema, applied in order on open; `PRAGMA user_version` records
//! the last version applied.

/// Schema versions, applied in order; `PRAGMA user_version` records the last.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: requests, their history, the id sequence, the step log and leases.
    "CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX requests_state ON requests(state, id);
     CREATE INDEX requests_created ON requests(created_at DESC, id DESC);
     CREATE INDEX requests_owner_created ON requests(owner, created_at DESC, id DESC);
     CREATE TABLE history (
        request_id INTEGER NOT NULL REFERENCES requests(id),
        seq INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (request_id, seq)
     ) WITHOUT ROWID;
     CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
     INSERT INTO sequences VALUES ('request', 0);
     CREATE TABLE step_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id INTEGER NOT NULL REFERENCES requests(id),
        body TEXT NOT NULL
     );
     CREATE INDEX step_log_request ON step_log(request_id, id);
     CREATE TABLE leases (
        request_id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL
     );",
    // 2: migration groups (names unique, enforced here) and run reports.
    "CREATE TABLE migration_groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE TABLE migration_reports (
        id INTEGER PRIMARY KEY,
        group_id INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX migration_reports_group ON migration_reports(group_id, id DESC);
     INSERT INTO sequences VALUES ('group', 0), ('run', 0);",
    // 3: stored users, their audit trail, and the store's secret keys.
    "CREATE TABLE users (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE user_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL
     );
     CREATE TABLE secrets (
        purpose TEXT PRIMARY KEY,
        key BLOB NOT NULL
     ) WITHOUT ROWID;",
    // 4: per-VM lines of running migrations, appended as they happen.
    "CREATE TABLE migration_report_lines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE INDEX migration_report_lines_run ON migration_report_lines(run_id, id);",
    // 5: group names unique regardless of case (the key is filled by
    // `SqliteStore::open` for older rows, then made unique).
    "ALTER TABLE migration_groups ADD COLUMN name_key TEXT;",
    // 6: lease generations (fencing tokens), kept across releases.
    "ALTER TABLE leases ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;",
    // 7: a group's VMs as rows, in the order added (an edit writes the VMs
    // it names); `SqliteStore::open` moves older groups' lists here and
    // sets their `vm_count`.
    "CREATE TABLE group_vms (
        group_id INTEGER NOT NULL,
        pos INTEGER NOT NULL,
        name TEXT NOT NULL,
        selected INTEGER NOT NULL,
        PRIMARY KEY (group_id, pos)
     ) WITHOUT ROWID;
     CREATE UNIQUE INDEX group_vms_name ON group_vms(group_id, name);
     ALTER TABLE migration_groups ADD COLUMN vm_count INTEGER;",
    // 8: the notification outbox. Every history row inserted queues, in the
    // same transaction (a trigger), one delivery per registered notifier.
    "CREATE TABLE notifiers (
        name TEXT PRIMARY KEY,
        owner TEXT,
        expires_at INTEGER NOT NULL DEFAULT 0
     ) WITHOUT ROWID;
     CREATE TABLE deliveries (
        notifier TEXT NOT NULL,
        request_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        gave_up INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (notifier, request_id, seq)
     ) WITHOUT ROWID;
     CREATE INDEX deliveries_due ON deliveries(notifier, gave_up, next_at, request_id, seq);
     CREATE INDEX deliveries_failed ON deliveries(attempts) WHERE attempts > 0;
     CREATE TRIGGER history_outbox AFTER INSERT ON history BEGIN
        INSERT INTO deliveries (notifier, request_id, seq)
        SELECT name, NEW.request_id, NEW.seq FROM notifiers;
     END;",
    // 9: runs someone asked to stop (from any process sharing the store).
    "CREATE TABLE run_cancels (run_id INTEGER PRIMARY KEY);",
];
